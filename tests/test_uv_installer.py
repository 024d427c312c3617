"""PYBUILDPACK_INSTALLER=uv: requirements.txt apps installed with `uv pip install` into the same runtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support import REPO
from support.buildpack import CompileResult, free_port, http_get, moved_app, serve_web
from support.mirror import RuntimeMirror
from test_uv import needs, site_python

Compile = Callable[..., CompileResult]
FLASK = REPO / "examples" / "flask-app"


def test_flask_example_with_the_uv_installer_serves(
    compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.12")
    started = time.monotonic()
    result = compile_app(FLASK, config={"PYBUILDPACK_INSTALLER": "uv"}).check()
    uv_seconds = time.monotonic() - started
    out = result.stdout
    assert "Installing uv 0.13.9" in out
    assert "Using cached uv" not in out  # installed once, reported once
    assert "Installing dependencies using 'uv pip install -r requirements.txt'" in out
    assert "+ flask==3.1.3" in out
    assert "Collecting" not in out  # pip did not install the requirements
    report = result.report()
    assert report["package_manager"] == "pip"
    assert report["uv_version"] == "0.13.9"
    # pip stays available for one-off commands.
    assert site_python(result, "import pip").returncode == 0
    app_dir = moved_app(result, tmp_path)
    port = free_port()
    with serve_web(app_dir, port):
        response = http_get(f"http://127.0.0.1:{port}/", attempts=80)
    assert response.status == 200
    assert response.text == f"Hello from pybuildpack! Python {version}\n"
    print(f"cold build of the Flask example with the uv installer: {uv_seconds:.1f} s")


def test_default_installer_stays_pip(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    needs(runtime_mirror, "3.12")
    started = time.monotonic()
    result = compile_app(FLASK).check()
    print(f"cold build of the Flask example with pip: {time.monotonic() - started:.1f} s")
    assert "Installing dependencies using 'pip install -r requirements.txt'" in result.stdout
    assert "uv" not in result.report().get("uv_version", "")


def test_unknown_installer_is_refused(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    needs(runtime_mirror, "3.12")
    result = compile_app(FLASK, config={"PYBUILDPACK_INSTALLER": "conda"})
    assert result.returncode == 1, result.describe()
    assert "PYBUILDPACK_INSTALLER" in result.stderr and "'conda'" in result.stderr


@pytest.mark.parametrize("installer", ["uv"])
def test_uv_installer_ci_adds_requirements_test(
    compile_app: Compile, installer: str, runtime_mirror: RuntimeMirror
) -> None:
    needs(runtime_mirror, "3.12")
    result = compile_app("pip_basic", config={"PYBUILDPACK_INSTALLER": installer}, script="test-compile")
    result.check()
    assert "uv pip install -r requirements.txt" in result.stdout


def test_uv_installer_updates_in_place_and_prunes(
    compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """Issue 11: an added requirement is installed into the restored environment (not a discarded
    cache and a cold reinstall), and a removed one is uninstalled, as with pip."""
    needs(runtime_mirror, "3.12")
    app = tmp_path / "app"
    app.mkdir()
    (app / ".python-version").write_text("3.12\n")
    (app / "requirements.txt").write_text("typing-extensions==4.15.0\n")
    config = {"PYBUILDPACK_INSTALLER": "uv"}
    first = compile_app(app, config=config).check()
    (app / "requirements.txt").write_text("typing-extensions==4.15.0\nsix==1.17.0\n")
    added = first.recompile(app, config=config).check()
    assert "updating the environment in place" in added.stdout
    assert added.report()["cache_status"] == "partial"
    assert "Installing Python" not in added.stdout
    assert "+ six==1.17.0" in added.stdout
    assert site_python(added, "import six, typing_extensions").returncode == 0
    (app / "requirements.txt").write_text("six==1.17.0\n")
    removed = added.recompile(app, config=config).check()
    assert removed.report()["cache_status"] == "partial"
    assert "Removing packages no longer required: typing-extensions" in removed.stdout
    assert site_python(removed, "import typing_extensions").returncode != 0
    assert site_python(removed, "import six, pip, setuptools").returncode == 0
