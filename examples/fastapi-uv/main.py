"""A minimal FastAPI app: GET / answers with the Python version it runs on."""

import platform

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
def hello() -> str:
    return f"Hello from pybuildpack! FastAPI on Python {platform.python_version()}\n"
