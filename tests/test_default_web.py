"""The default web process (issue 12): an app without a Procfile, built for real, declared through
bin/release's default_process_types (local platform) and launch.toml (CNB) when the app opts in with
PYBUILDPACK_DEFAULT_WEB=1, served over HTTP on 127.0.0.1; the warning and the Procfile line without the
opt-in; the list, and nothing declared, when several modules could be served."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pybuildpack.steps import default_web
from support import REPO
from support.buildpack import CompileResult, free_port, http_get, run_script
from support.index import PackageIndex
from support.lifecycle import Lifecycle
from support.mirror import RuntimeMirror
from support.platform import cli, ok, platform_env
from test_uv import LOCKED_INDEX

Compile = Callable[..., CompileResult]
OPT_IN = "PYBUILDPACK_DEFAULT_WEB=1"
LOOPBACK = (
    'export GUNICORN_CMD_ARGS="--bind 127.0.0.1:${PORT} --workers 1"\n'  # tests stay on loopback
    "export UVICORN_HOST=127.0.0.1\n"
)
WSGI_APP = (
    "def {name}(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [b'hello\\n']\n"
)


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, package_index: PackageIndex, runtime_mirror: RuntimeMirror
) -> dict[str, str]:
    return platform_env(tmp_path_factory.mktemp("default-web"), package_index, runtime_mirror)


def example_without_procfile(name: str, dest: Path, index: PackageIndex) -> Path:
    shutil.copytree(REPO / "examples" / name, dest)
    (dest / "Procfile").unlink()
    (dest / ".profile").write_text(LOOPBACK)
    for lock in dest.glob("uv.lock"):
        lock.write_text(lock.read_text().replace(LOCKED_INDEX, index.url.removesuffix("simple/")))
    return dest


def served_text(env: dict[str, str], app: str) -> str:
    """`pybuildpack run APP web` on a free port; the body of GET /, which must answer 200."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybuildpack", "run", app, "web", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        response = http_get(f"http://127.0.0.1:{port}/", attempts=120)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    assert response.status == 200, response.text
    return response.text


def process_types(env: dict[str, str], app: str) -> dict[str, str]:
    record = Path(env["PYBUILDPACK_STATE_DIR"]) / "apps" / app / "current" / "release.json"
    types: dict[str, str] = json.loads(record.read_text())["process_types"]
    return types


CASES = {
    "flask-app": ("Found WSGI `app` in app.py", "gunicorn app:app", "Hello from pybuildpack! Python 3.12"),
    "django-app": (
        "Found WSGI `application` in mysite/wsgi.py",
        "gunicorn mysite.wsgi:application",
        "Hello from Django on pybuildpack!",
    ),
    "fastapi-uv": (
        "Found ASGI `app` in main.py",
        'uvicorn main:app --host "${UVICORN_HOST:-0.0.0.0}" --port "$PORT"',
        "Hello from pybuildpack! FastAPI on Python 3.12",
    ),
}


@pytest.mark.parametrize("example", list(CASES))
def test_an_opted_in_app_without_procfile_gets_a_default_web_process_and_serves(
    env: dict[str, str], package_index: PackageIndex, tmp_path: Path, example: str
) -> None:
    found, command, answer = CASES[example]
    source = example_without_procfile(example, tmp_path / example, package_index)
    built = ok(cli("build", str(source), "--app", example, "--env", OPT_IN, env=env))
    assert "Looking for a default web process (the app has no Procfile)" in built.stdout
    assert found in built.stdout
    assert f"Declaring the default web process (PYBUILDPACK_DEFAULT_WEB is set):\n       web: {command}" in (
        built.stdout
    )
    assert "No web process is declared" not in built.stderr
    assert "Procfile declares types -> web" in built.stdout
    assert process_types(env, example) == {"web": command}
    assert served_text(env, example).startswith(answer)


def release_yaml(build_dir: Path, env: dict[str, str]) -> str:
    proc = run_script("release", build_dir, build_dir, build_dir, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_without_the_opt_in_it_warns_and_shows_the_procfile_line(
    compile_app: Compile, tmp_path: Path, build_env: dict[str, str]
) -> None:
    app = tmp_path / "one"
    app.mkdir()
    (app / "requirements.txt").write_text("gunicorn==27.0.1\n")
    (app / "app.py").write_text(WSGI_APP.format(name="app"))
    result = compile_app(app).check()
    assert "Found WSGI `app` in app.py" in result.stdout
    assert "It can be served with: gunicorn app:app" in result.stdout
    warning = result.stderr.replace(" !     ", "")
    assert "No web process is declared: the app has no Procfile." in warning
    assert "line:\nweb: gunicorn app:app\nor set the config var PYBUILDPACK_DEFAULT_WEB=1" in warning
    assert not (result.build_dir / ".heroku" / "pybuildpack-default-web").exists()
    assert release_yaml(result.build_dir, build_env).strip() == "--- {}"
    assert result.report()["default_web"] == "found"


def test_several_candidates_are_listed_and_none_is_declared(
    compile_app: Compile, tmp_path: Path, build_env: dict[str, str]
) -> None:
    app = tmp_path / "two"
    app.mkdir()
    (app / "requirements.txt").write_text("gunicorn==27.0.1\n")
    (app / "app.py").write_text(WSGI_APP.format(name="app"))
    (app / "wsgi.py").write_text("import app\n\napplication = app.app\n")
    (app / "Procfile").write_text("worker: python -c 'print(1)'\n")
    result = compile_app(app, config={"PYBUILDPACK_DEFAULT_WEB": "1"}).check()
    assert "Looking for a default web process (the Procfile declares no 'web' process)" in result.stdout
    warning = result.stderr.replace(" !     ", "")
    assert "No web process is declared: the app can be served in 2 ways, and none is guessed." in warning
    assert "gunicorn app:app  (app.py: WSGI `app`)\n" in warning
    assert "gunicorn wsgi:application  (wsgi.py: WSGI `application`)\n" in warning
    assert "Declaring" not in result.stdout
    assert release_yaml(result.build_dir, build_env).strip() == "--- {}"
    assert result.report()["default_web"] == "ambiguous"


def test_a_lone_candidate_without_its_server_says_what_to_add(compile_app: Compile, tmp_path: Path) -> None:
    app = tmp_path / "noserver"
    app.mkdir()
    (app / "requirements.txt").write_text("")
    (app / "main.py").write_text(WSGI_APP.format(name="application"))
    result = compile_app(app, config={"PYBUILDPACK_DEFAULT_WEB": "1"}).check()
    assert "Found WSGI `application` in main.py (gunicorn is not installed)" in result.stdout
    warning = result.stderr.replace(" !     ", "")
    assert "Add gunicorn to the app's dependencies, or declare the process in a Procfile" in warning
    assert result.report()["default_web"] == "none"


def test_cnb_declares_the_default_web_process_in_launch_toml(
    tmp_path: Path, build_env: dict[str, str], runtime_mirror: RuntimeMirror
) -> None:
    app = tmp_path / "cnbweb"
    app.mkdir()
    (app / "requirements.txt").write_text("gunicorn==27.0.1\n")
    (app / "server.py").write_text(WSGI_APP.format(name="app"))
    platform = Lifecycle(tmp_path / "cnb", env=dict(build_env), config={"PYBUILDPACK_DEFAULT_WEB": "1"})
    platform.use_app(app)
    detected, plan = platform.detect()
    assert plan is not None, detected.describe()
    phase = platform.build(plan)
    assert phase.returncode == 0, phase.describe()
    assert "Process types: web (default)" in phase.stdout
    assert platform.process()["command"] == ["sh", "-c", "exec gunicorn server:app"]
    port = free_port()
    base = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PORT": str(port),
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 1",
    }
    with platform.launch(None, base):
        response = http_get(f"http://127.0.0.1:{port}/", attempts=80)
    assert (response.status, response.text) == (200, "hello\n")


# --- what counts as a candidate: the app's files read, never imported (no build needed) -------------------


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def described(app: Path) -> list[str]:
    return [candidate.describe() for candidate in default_web.find_candidates(app)]


def test_django_below_the_root_with_a_settings_package(tmp_path: Path) -> None:
    app = write(
        tmp_path,
        {
            "src/manage.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.prod')\n",
            "src/config/settings/prod.py": "",
            "src/config/wsgi.py": "application = get_wsgi_application()\n",
            "src/config/asgi.py": "application = get_asgi_application()\n",
        },
    )
    assert described(app) == [
        "gunicorn --chdir src config.wsgi:application  (src/config/wsgi.py: WSGI `application`)",
        'uvicorn config.asgi:application --app-dir src --host "${UVICORN_HOST:-0.0.0.0}" --port "$PORT"'
        "  (src/config/asgi.py: ASGI `application`)",
    ]


def test_what_a_top_level_module_must_hold(tmp_path: Path) -> None:
    app = write(
        tmp_path,
        {
            "app.py": "if app == 1:\n    pass\n    app = 2\n",  # a comparison and an indented assignment
            "main.py": "import fastapi\n\napp: fastapi.FastAPI = fastapi.FastAPI(title='x')\n",
            "server.py": "async def application(scope, receive, send):\n    pass\n",
            "asgi.py": "# application = nothing\n",
        },
    )
    assert [c.split("  ")[1] for c in described(app)] == [
        "(main.py: ASGI `app`)",
        "(server.py: WSGI `application`)",  # no FastAPI/Starlette call: read as WSGI, as the source says
    ]


def test_files_that_are_not_regular_or_lead_outside_are_skipped(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    os.mkfifo(app / "app.py")  # reading it would block the build
    outside = write(tmp_path / "outside", {"main.py": "app = make()\n"})
    (app / "main.py").symlink_to(outside / "main.py")
    write(app, {"wsgi.py": "application = make()\n"})
    assert described(app) == ["gunicorn wsgi:application  (wsgi.py: WSGI `application`)"]
