"""End to end: build the Flask example, serve it with a real gunicorn, move it, rebuild it; and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from support import REPO, SRC
from support.buildpack import CompileResult, free_port, http_get, moved_app, serve_web, serving
from support.mirror import RuntimeMirror

EXAMPLE = REPO / "examples" / "flask-app"
Compile = Callable[..., CompileResult]


def expect_hello(port: int, version: str) -> None:
    response = http_get(f"http://127.0.0.1:{port}/", attempts=80)
    assert response.status == 200
    assert response.text == f"Hello from pybuildpack! Python {version}\n"


@pytest.fixture
def example_version(runtime_mirror: RuntimeMirror) -> str:
    if not runtime_mirror.has("3.12"):
        pytest.skip("the test runtime mirror has no Python 3.12, which the example asks for")
    return runtime_mirror.latest("3.12")


def test_compile_serve_relocate_and_rebuild(
    compile_app: Compile, tmp_path: Path, example_version: str
) -> None:
    first = compile_app(EXAMPLE).check()
    assert "Collecting flask==3.1.3" in first.stdout
    # The slug runs where it is extracted, not where it was built (no /app symlink, D7).
    app_dir = moved_app(first, tmp_path)
    port = free_port()
    with serve_web(app_dir, port):
        expect_hello(port, example_version)

    second = first.recompile().check()
    assert f"Using cached install of Python {example_version}" in second.stdout
    assert "Collecting" not in second.stdout  # D10: unchanged inputs, no installer run
    assert "Saving cache" in second.stdout
    report = second.report()
    assert (report["python_version"], report["cache_status"]) == (example_version, "reused")


def cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pybuildpack", *args],
        env={**env, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_cli_build_then_run(build_env: dict[str, str], tmp_path: Path, example_version: str) -> None:
    out = tmp_path / "flask-app"
    built = cli(
        "build", str(EXAMPLE), "--output", str(out), "--cache-dir", str(tmp_path / "cache"), env=build_env
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "-----> Python app detected" in built.stdout
    assert "Procfile declares types -> web" in built.stdout
    assert (out / ".heroku" / "python" / "bin" / "gunicorn").is_file()

    port = free_port()
    env = {**build_env, "PYTHONPATH": str(SRC), "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 1"}
    with serving(
        [sys.executable, "-m", "pybuildpack", "run", str(out), "web", "--port", str(port)],
        cwd=tmp_path,
        env=env,
    ):
        expect_hello(port, example_version)

    one_off = cli(
        "run",
        str(out),
        "--",
        "python",
        "-c",
        "import flask, os; print(flask.__version__, os.environ['PORT'])",
        env=build_env,
    )
    assert one_off.returncode == 0, one_off.stderr
    assert one_off.stdout.strip() == "3.1.3 5000"


def test_cli_packs_a_local_python_when_no_manifest_is_configured(
    build_env: dict[str, str], tmp_path: Path, example_version: str
) -> None:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions" / example_version
    if not (root / "bin" / "python3").exists():
        pytest.skip(f"no CPython {example_version} prefix at {root}")
    env = {key: value for key, value in build_env.items() if key != "PYBUILDPACK_RUNTIME_MANIFEST"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    out = tmp_path / "flask-app"
    built = cli("build", str(EXAMPLE), "--output", str(out), "--python-prefix", str(root), env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    assert f"Python {example_version} from --python-prefix ({root})" in built.stdout
    assert (tmp_path / "xdg-cache" / "pybuildpack" / "runtimes" / "manifest.json").is_file()
    assert f"Installing Python {example_version}" in built.stdout


def test_cli_without_any_runtime_source_says_how_to_provide_one(
    build_env: dict[str, str], tmp_path: Path
) -> None:
    env = {key: value for key, value in build_env.items() if key != "PYBUILDPACK_RUNTIME_MANIFEST"}
    env.update(
        PYENV_ROOT=str(tmp_path / "no-pyenv"), HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "c")
    )
    env["UV_PYTHON_INSTALL_DIR"] = str(tmp_path / "no-uv")
    built = cli("build", str(EXAMPLE), "--output", str(tmp_path / "out"), env=env, timeout=120)
    if "Runtime source" in built.stdout or built.returncode == 0:
        pytest.skip("the default runtime mirror is reachable from this machine")
    assert built.returncode == 1
    assert "PYBUILDPACK_RUNTIME_MANIFEST" in built.stderr and "--python-prefix" in built.stderr
    assert not (tmp_path / "out").exists()
