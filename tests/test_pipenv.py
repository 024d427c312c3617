"""Pipenv apps (SCENARIOS §4, ci_pipenv): real builds against the local index and the runtime mirror.

The fixture Pipfiles name their source as `${PIP_INDEX_URL}` (Pipenv expands it), so the locks work
with whatever index the build is configured with.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from support.buildpack import CompileResult
from support.mirror import RuntimeMirror
from test_uv import needs, site_python

Compile = Callable[..., CompileResult]


def test_pipenv_basic(compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app("pipenv_basic").check()
    out = result.stdout
    assert "Using Python 3.13 specified in Pipfile.lock" in out
    assert "Installing Pipenv 2026.10.3" in out
    assert "Installing dependencies using 'pipenv install --deploy'" in out
    # The app's packages come from site-packages, never from Pipenv's own copies.
    code = (
        "import certifi, packaging, typing_extensions as t;"
        "print(certifi.__file__, packaging.__file__, t.__file__)"
    )
    check = site_python(result, code)
    assert check.returncode == 0, check.stderr
    paths = check.stdout.split()
    assert len(paths) == 3 and all("/site-packages/" in path for path in paths), paths
    report = result.report()
    assert (report["package_manager"], report["pipenv_version"]) == ("pipenv", "2026.10.3")
    assert report["python_version_origin"] == "Pipfile.lock"
    # Pipenv is in the slug and works wherever the app is moved (runtime PATH has pipenv/bin).
    moved = tmp_path / "moved" / "app"
    moved.parent.mkdir()
    shutil.move(result.build_dir, moved)
    boot = 'for f in .profile.d/*.sh; do . "./$f"; done; pipenv --version'
    ran = subprocess.run(
        ["sh", "-c", boot],
        cwd=moved,
        env={"HOME": str(moved), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "2026.10.3" in ran.stdout


def test_pipenv_lockfile_out_of_sync(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app("pipenv_lockfile_out_of_sync")
    assert result.returncode == 1, result.describe()
    assert "Aborting deploy" in result.stdout
    assert "Pipfile.lock is out of date" in result.stderr
    assert "Run `pipenv lock`" in result.stderr
    assert result.report()["failure_reason"] == "install-dependencies::pipenv"


def test_pipenv_mismatched_python_version(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    """Pipfile asks for 3.12, .python-version for 3.13: the build uses 3.13, never another Python."""
    version = needs(runtime_mirror, "3.13")
    result = compile_app("pipenv_mismatched_python_version")
    assert "Using Python 3.13 specified in .python-version" in result.stdout
    assert f"Installing Python {version}" in result.stdout
    if result.returncode == 0:  # Pipenv only warns in system mode: the install stays on 3.13
        check = site_python(result, "import sys, typing_extensions; print(sys.version)")
        assert check.returncode == 0 and check.stdout.startswith(version)
    else:
        assert result.report()["failure_reason"] == "install-dependencies::pipenv"


def test_pipenv_python_version_unspecified(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    result = compile_app("pipenv_python_version_unspecified").check()
    assert site_python(result, "import typing_extensions").returncode == 0


def test_pipenv_no_lockfile(compile_app: Compile) -> None:
    result = compile_app("pipenv_no_lockfile")
    assert result.returncode == 1, result.describe()
    assert "pipenv lock" in result.stderr
    assert result.report()["failure_reason"] == "package-manager::pipenv-missing-lockfile"


def test_pipenv_lockfile_invalid_json(compile_app: Compile) -> None:
    result = compile_app("pipenv_lockfile_invalid_json")
    assert result.returncode == 1, result.describe()
    assert "Pipfile.lock" in result.stderr
    assert result.report()["failure_reason"] == "pipfile-lock::invalid-json"


def test_ci_pipenv_installs_dev_packages(compile_app: Compile, runtime_mirror: RuntimeMirror) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app("ci_pipenv", script="test-compile").check()
    assert "Installing dependencies using 'pipenv install --deploy --dev'" in result.stdout
    assert site_python(result, "import pytest, typing_extensions").returncode == 0
