"""Poetry apps (SCENARIOS §5, ci_poetry): real builds against the local index and the runtime mirror.

poetry.lock records no index URL for packages from the default index; the configured PIP_INDEX_URL
replaces it through the pinned mirror plugin, so fixture locks work with any session's index.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support.buildpack import CompileResult, free_port, http_get, moved_app, serve_web
from support.mirror import RuntimeMirror
from test_pipenv import assert_entry_points_run, moved_away
from test_uv import needs, site_python

Compile = Callable[..., CompileResult]
EDITABLE_ENTRY_POINTS = {
    "local_package_pyproject_toml": "Hello from pyproject.toml!",
    "local_package_setup_py": "Hello from setup.py!",
    "poetry-editable": "Hello from poetry-editable!",
}


def test_poetry_basic(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app("poetry_basic").check()
    out = result.stdout
    assert "Installing Poetry 2.5.1" in out
    assert "Installing dependencies using 'poetry sync --only main'" in out
    assert "- Installing typing-extensions (4.15.0)" in out
    assert "pytest" not in out
    assert "Skipping virtualenv creation" not in out
    assert site_python(result, "import typing_extensions").returncode == 0
    assert site_python(result, "import pytest").returncode != 0
    assert site_python(result, "import poetry").returncode != 0  # Poetry is not in the slug
    assert site_python(result, "import pip").returncode == 0  # pip stays, for one-off commands
    assert (result.cache_dir / ".heroku" / "python-poetry" / "bin" / "poetry").exists()
    assert "python-poetry" not in (result.build_dir / ".profile.d" / "python.sh").read_text()
    report = result.report()
    assert (report["package_manager"], report["poetry_version"]) == ("poetry", "2.5.1")
    again = result.recompile().check()
    assert "Using cached Poetry 2.5.1" in again.stdout


def test_poetry_lockfile_out_of_sync(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app("poetry_lockfile_out_of_sync")
    assert result.returncode == 1, result.describe()
    assert "poetry lock" in result.stdout
    assert "poetry.lock is out of date" in result.stderr
    assert result.report()["failure_reason"] == "install-dependencies::poetry"


def test_poetry_mismatched_python_version(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    version = needs(runtime_mirror, "3.13")
    result = compile_app("poetry_mismatched_python_version")
    assert result.returncode == 1, result.describe()
    assert version in result.stdout and "3.12.*" in result.stdout
    assert result.report()["failure_reason"] == "install-dependencies::poetry"


def test_poetry_oldest_python(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    version = needs(runtime_mirror, "3.10")
    result = compile_app("poetry_oldest_python").check()
    assert f"Installing Python {version}" in result.stdout
    assert "Support for Python 3.10 is deprecated" in result.stdout + result.stderr
    # Poetry itself runs on 3.10 (its virtualenv needs typing-extensions>=4.16 there), while the app
    # gets the 4.15.0 its lock pins; the app's `brotli/` dir does not disturb Poetry's bootstrap.
    assert "Installing Poetry 2.5.1" in result.stdout
    assert "- Installing typing-extensions (4.15.0)" in result.stdout
    check = site_python(result, "import importlib.metadata as m; print(m.version('typing-extensions'))")
    assert (check.returncode, check.stdout) == (0, "4.15.0\n"), check.stderr


def test_poetry_editable_and_path_dependencies(
    compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """Path dependencies (develop = true) and the project itself: importable and their console scripts
    run from the built app, after a rebuild from the cache (new build dir) and after the app moves."""
    needs(runtime_mirror, "3.13")
    result = compile_app("poetry_editable").check()
    assert "Installing the current project: poetry-editable (0.0.1)" in result.stdout
    code = (
        "import local_package_pyproject_toml as a, local_package_setup_py as b, poetry_editable as c;"
        "a.hello(); b.hello(); c.main(); print(c.__file__)"
    )
    check = site_python(result, code)
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines() == [
        "Hello from pyproject.toml!",
        "Hello from setup.py!",
        "Hello from poetry-editable!",
        str(result.build_dir / "poetry_editable" / "__init__.py"),
    ]
    assert_entry_points_run(result.build_dir, EDITABLE_ENTRY_POINTS)
    again = result.recompile().check()  # the environment comes from the cache, built in another dir
    assert_entry_points_run(again.build_dir, EDITABLE_ENTRY_POINTS)
    assert_entry_points_run(moved_away(again, tmp_path), EDITABLE_ENTRY_POINTS)


def test_ci_poetry_installs_dev_group(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app("ci_poetry", script="test-compile").check()
    assert "Installing dependencies using 'poetry sync'" in result.stdout
    assert "Package operations: 6 installs, 0 updates, 0 removals" in result.stdout
    assert "Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set." in result.stdout
    assert site_python(result, "import pytest, typing_extensions").returncode == 0
    again = result.recompile(script="test-compile").check()
    assert "Using cached Poetry 2.5.1" in again.stdout
    assert site_python(again, "import pytest, typing_extensions").returncode == 0


def test_poetry_flask_app_serves(compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror) -> None:
    version = needs(runtime_mirror, "3.12")
    result = compile_app("poetry_flask").check()
    app_dir = moved_app(result, tmp_path)
    port = free_port()
    with serve_web(app_dir, port):
        response = http_get(f"http://127.0.0.1:{port}/", attempts=80)
    assert response.status == 200
    assert response.text == f"Hello from pybuildpack! Python {version}\n"
