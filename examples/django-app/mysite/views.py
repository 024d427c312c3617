from django.http import HttpRequest, HttpResponse


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from Django on pybuildpack!\n", content_type="text/plain")
