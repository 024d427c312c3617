"""Pipenv apps (SCENARIOS §4, ci_pipenv): real builds against the local index and the runtime mirror.

The fixture Pipfiles name their source as `${PIP_INDEX_URL}` (Pipenv expands it), so the locks work
with whatever index the build is configured with.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

from support import FIXTURE_APPS
from support.buildpack import BOOT, CompileResult, free_port, http_get, serve_web
from support.mirror import RuntimeMirror
from test_uv import needs, site_python

Compile = Callable[..., CompileResult]

# pipenv_editable's console scripts (two editable local packages and the editable project itself).
EDITABLE_ENTRY_POINTS = {
    "local_package_pyproject_toml": "Hello from pyproject.toml!",
    "local_package_setup_py": "Hello from setup.py!",
    "pipenv-editable": "Hello from pipenv-editable!",
}


def run_in_app(app_dir: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run a shell command in a built app as a one-off dyno would: profile scripts first, no build env."""
    return subprocess.run(
        ["sh", "-c", BOOT, "sh", command],
        cwd=app_dir,
        env={"HOME": str(app_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def moved_away(result: CompileResult, tmp_path: Path, name: str = "moved") -> Path:
    """Move the build dir somewhere else, as a slug is unpacked in another directory."""
    target = tmp_path / name / "app"
    target.parent.mkdir()
    shutil.move(result.build_dir, target)
    return target


def pipfile_hash(pipfile: Path) -> str:
    """The `_meta.hash` Pipenv records in Pipfile.lock for this Pipfile (`--deploy` compares the two):
    SHA-256 of the sources, requires and both package tables as compact, key-sorted JSON."""
    data = tomllib.loads(pipfile.read_text())
    content = {
        "_meta": {"sources": data["source"], "requires": data.get("requires", {})},
        "default": data.get("packages", {}),
        "develop": data.get("dev-packages", {}),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def with_python(name: str, workdir: Path, old: str, new: str) -> Path:
    """A copy of a fixture whose Pipfile and Pipfile.lock ask for Python `new` instead of `old`, re-locked
    (only the Pipfile hash changes), so a static fixture can name a patch release the mirror has."""
    app = workdir / "apps" / name
    shutil.copytree(FIXTURE_APPS / name, app)
    pipfile = app / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace(f'"{old}"', f'"{new}"'))
    lock = json.loads((app / "Pipfile.lock").read_text())
    requires = lock["_meta"]["requires"]
    lock["_meta"]["requires"] = {key: new if value == old else value for key, value in requires.items()}
    lock["_meta"]["hash"]["sha256"] = pipfile_hash(pipfile)
    (app / "Pipfile.lock").write_text(json.dumps(lock, indent=4) + "\n")
    return app


def assert_entry_points_run(app_dir: Path, entry_points: dict[str, str] = EDITABLE_ENTRY_POINTS) -> None:
    """Each console script prints its greeting, run from the app as a one-off command would."""
    for script, greeting in entry_points.items():
        ran = run_in_app(app_dir, script)
        assert (ran.returncode, ran.stdout) == (0, f"{greeting}\n"), f"{script} in {app_dir}: {ran.stderr}"


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
    ran = run_in_app(moved_away(result, tmp_path), "pipenv --version")
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
    """Pipfile asks for 3.12, .python-version for 3.13: Pipenv refuses (deploy mode) and the build says
    which two versions disagree and where each comes from; it never falls back to another Python."""
    version = needs(runtime_mirror, "3.13")
    result = compile_app("pipenv_mismatched_python_version")
    assert result.returncode == 1, result.describe()
    assert "Using Python 3.13 specified in .python-version" in result.stdout
    assert f"Installing Python {version}" in result.stdout
    assert "Aborting deploy" in result.stdout
    assert f"The Pipfile requires Python 3.12, but the build uses Python {version}." in result.stderr
    assert "chosen from .python-version" in result.stderr
    assert "change python_version in the Pipfile to '3.13'" in result.stderr
    report = result.report()
    assert (report["failure_reason"], report["failure_detail"]) == (
        "install-dependencies::pipenv",
        "python-version-mismatch",
    )
    assert not (result.build_dir / ".heroku" / "python" / "lib" / "python3.12").exists()


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
    assert "Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set." in result.stdout
    assert site_python(result, "import pytest, typing_extensions").returncode == 0
    again = result.recompile(script="test-compile").check()
    assert "Using cached install of Python" in again.stdout
    assert "Using cached Pipenv 2026.10.3" in again.stdout
    assert site_python(again, "import pytest, typing_extensions").returncode == 0


def test_pipenv_editable(compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror) -> None:
    """Editable local packages and the project itself (`file = "."`): installed from the build dir, they
    keep working from the built app, after it moves, and after a rebuild from the cache (D5: the version
    comes from requires-python, the lock's `requires` is empty)."""
    version = needs(runtime_mirror, "3.13")
    result = compile_app("pipenv_editable").check()
    out = result.stdout
    assert "specified in pyproject.toml" in out
    assert f"Installing Python {version}" in out
    assert "Installing dependencies using 'pipenv install --deploy'" in out
    assert result.report()["python_version_origin"] == "pyproject.toml"
    assert_entry_points_run(result.build_dir)
    gunicorn = run_in_app(result.build_dir, "gunicorn --version")
    assert gunicorn.returncode == 0 and "27.0.1" in gunicorn.stdout, gunicorn.stderr
    code = "import pipenv_editable, local_package_setup_py as s; print(pipenv_editable.__file__, s.__file__)"
    check = site_python(result, code)
    assert check.returncode == 0, check.stderr
    local = result.build_dir / "packages" / "local_package_setup_py"
    assert check.stdout.split() == [
        str(result.build_dir / "pipenv_editable" / "__init__.py"),
        str(local / "local_package_setup_py" / "__init__.py"),
    ]
    again = result.recompile().check()
    assert_entry_points_run(again.build_dir)
    assert_entry_points_run(moved_away(again, tmp_path))


def test_pipenv_gunicorn_app_serves(
    compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """A Pipenv web app, moved out of its build dir, booted like a dyno from its Procfile."""
    version = needs(runtime_mirror, "3.12")
    result = compile_app("pipenv_gunicorn").check()
    assert "Using Python 3.12 specified in Pipfile.lock" in result.stdout
    app_dir = moved_away(result, tmp_path)
    port = free_port()
    with serve_web(app_dir, port) as server:
        response = http_get(f"http://127.0.0.1:{port}/", attempts=80)
        assert server.poll() is None
    assert response.status == 200
    assert response.text == f"Hello from pipenv! Python {version}\n"
    ran = run_in_app(app_dir, "pipenv --version && command -v gunicorn")
    assert ran.returncode == 0, ran.stderr
    gunicorn = app_dir / ".heroku" / "python" / "bin" / "gunicorn"
    assert ran.stdout.splitlines() == ["pipenv, version 2026.10.3", str(gunicorn)]


def test_pipenv_fixture_hashes_match_their_pipfiles() -> None:
    """The locks of the fixtures that install are Pipenv's own (`--deploy` accepts them): pipfile_hash
    agrees with each, so with_python re-locks the way Pipenv would."""
    locks = FIXTURE_APPS.glob("*/Pipfile.lock")
    installing = [lock for lock in locks if "${PIP_INDEX_URL}" in lock.read_text()]
    assert len(installing) >= 8
    for lock in sorted(installing):
        if lock.parent.name == "pipenv_lockfile_out_of_sync":
            continue
        recorded = json.loads(lock.read_text())["_meta"]["hash"]["sha256"]
        assert pipfile_hash(lock.parent / "Pipfile") == recorded, lock


def test_pipenv_python_full_version(
    compile_app: Compile, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """`python_full_version` beats `python_version` (3.12) in Pipfile.lock; Pipenv itself runs on 3.10."""
    version = needs(runtime_mirror, "3.10")
    app = with_python("pipenv_python_full_version", tmp_path, "3.10.0", version)
    result = compile_app(app).check()
    out = result.stdout
    assert f"Using Python {version} specified in Pipfile.lock" in out
    assert "Support for Python 3.10 is deprecated" in out + result.stderr
    assert f"Installing Python {version}" in out
    assert "Installing Pipenv 2026.10.3" in out
    assert "Installing dependencies using 'pipenv install --deploy'" in out
    code = (
        "import importlib.metadata as m, platform as p;"
        "print(p.python_version(), m.version('typing-extensions'))"
    )
    check = site_python(result, code)
    assert (check.returncode, check.stdout) == (0, f"{version} 4.15.0\n"), check.stderr
    assert result.report()["python_version_origin"] == "Pipfile.lock"


def test_pipenv_python_version_and_python_version_file(
    compile_app: Compile, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.13")
    result = compile_app("pipenv_python_version_and_python_version_file").check()
    assert "Using Python 3.13 specified in .python-version" in result.stdout
    assert f"Installing Python {version}" in result.stdout
    assert "Installing Pipenv 2026.10.3" in result.stdout
    assert result.report()["python_version_origin"] == ".python-version"
    assert site_python(result, "import typing_extensions").returncode == 0
