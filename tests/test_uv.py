"""uv apps (SCENARIOS §6, ci_uv): real builds against the local index and the runtime mirror.

uv records the index URL in uv.lock and treats a lock made against another index as out of date
(`--locked`). The fixture locks were generated with uv against the local test index served at
LOCKED_INDEX; `app_for_index` copies a fixture and points its lock at this session's index (same
wheels, same hashes, another port), as a user re-locking against their mirror would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from support import FIXTURE_APPS, REPO
from support.buildpack import CompileResult, free_port, http_get, moved_app, serve_web
from support.index import PackageIndex
from support.mirror import RuntimeMirror

Compile = Callable[..., CompileResult]
LOCKED_INDEX = "http://127.0.0.1:18001/"


def app_for_index(name: str, index: PackageIndex, workdir: Path) -> Path:
    """A copy of the fixture whose lockfiles name this session's index instead of LOCKED_INDEX."""
    target = workdir / "apps" / name
    shutil.copytree(FIXTURE_APPS / name, target, symlinks=True)
    root = index.url.removesuffix("simple/")
    for lock in target.rglob("*.lock"):
        lock.write_text(lock.read_text().replace(LOCKED_INDEX, root))
    return target


def site_python(result: CompileResult, code: str) -> subprocess.CompletedProcess[str]:
    """Run code with the built app's Python, as the app would (its own dir, no build env)."""
    python = result.build_dir / ".heroku" / "python" / "bin" / "python"
    return subprocess.run(
        [str(python), "-c", code],
        cwd=result.build_dir,
        env={"PATH": "/usr/bin:/bin", "HOME": str(result.build_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def needs(mirror: RuntimeMirror, major: str) -> str:
    if not mirror.has(major):
        pytest.skip(f"the runtime mirror has no Python {major}")
    return mirror.latest(major)


def test_uv_basic(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.13")
    result = compile_app(app_for_index("uv_basic", package_index, tmp_path)).check()
    out = result.stdout
    assert "Installing uv 0.13.9" in out
    assert "Installing dependencies using 'uv sync --locked --no-default-groups'" in out
    assert "+ typing-extensions==4.15.0" in out
    assert "pytest" not in out
    assert out.index("Installing Python") < out.index("Installing uv") < out.index("Installing dependencies")
    check = site_python(
        result, "import typing_extensions, sys; print(typing_extensions.__file__, sys.version)"
    )
    assert check.returncode == 0, check.stderr
    assert "/.heroku/python/lib/python3.13/site-packages/typing_extensions.py" in check.stdout
    assert version in check.stdout
    assert site_python(result, "import pytest").returncode != 0
    # uv lives in the cache, not in the slug.
    assert (result.cache_dir / ".heroku" / "python-uv" / "uv").is_file()
    assert not list(result.build_dir.rglob("uv"))
    report = result.report()
    assert report["package_manager"] == "uv"
    assert report["uv_version"] == "0.13.9"
    assert "Note:" not in result.stderr  # the uv recommendation is for the other managers
    # pip stays available at runtime for one-off commands; uv itself does not
    # uv installs it (issue 11: not a second pip process), with checked-hash bytecode
    assert "Installing pip 26.3 for one-off commands at runtime, using uv" in out
    assert "+ pip==26.3" in out
    assert site_python(result, "import pip; print(pip.__version__)").stdout.strip() == "26.3"
    pyc = site_python(
        result,
        "import importlib.util as u, pip._internal.main as m; "
        "d = open(u.cache_from_source(m.__file__), 'rb').read(16); print(int.from_bytes(d[4:8], 'little'))",
    )
    assert pyc.stdout.strip() == "3", pyc.stderr  # flags: hash-based (1) and checked (2)
    ran = subprocess.run(
        [str(result.build_dir / ".heroku/python/bin/python"), "-m", "pip", "--version"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.stdout.startswith("pip 26.3 "), ran.stderr
    # A rebuild with the same cache reuses uv.
    again = result.recompile(app_for_index("uv_basic", package_index, tmp_path / "again"))
    again.check()
    assert "Using cached uv 0.13.9" in again.stdout
    assert "-----> Restoring cache" in again.stdout
    assert "Skipping the dependency install" in again.stdout  # D10: uv.lock unchanged
    assert again.report()["cache_status"] == "reused"


def test_switching_from_pip_to_uv_discards_the_environment(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    needs(runtime_mirror, "3.13")
    pip_app = tmp_path / "pip-app"
    pip_app.mkdir()
    (pip_app / ".python-version").write_text("3.13\n")
    (pip_app / "requirements.txt").write_text("six==1.17.0\n")
    first = compile_app(pip_app).check()
    second = first.recompile(app_for_index("uv_basic", package_index, tmp_path)).check()
    assert "-----> Discarding cache since:" in second.stdout
    assert "       - The package manager changed from pip to uv\n" in second.stdout
    assert site_python(second, "import six").returncode != 0
    assert site_python(second, "import typing_extensions").returncode == 0


def test_uv_lockfile_out_of_sync(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app(app_for_index("uv_lockfile_out_of_sync", package_index, tmp_path))
    assert result.returncode == 1, result.describe()
    assert "needs to be updated, but `--locked` was provided" in result.stdout
    assert "uv.lock is out of date" in result.stderr + result.stdout
    assert "Run `uv lock`" in result.stderr + result.stdout
    assert result.report()["failure_reason"] == "install-dependencies::uv"


def test_uv_mismatched_python_version(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.13")
    result = compile_app(app_for_index("uv_mismatched_python_version", package_index, tmp_path))
    assert result.returncode == 1, result.describe()
    assert f"Python {version}, which is incompatible with the project's Python requirement" in result.stdout
    assert "==3.12.*" in result.stdout
    assert "Could not install the dependencies with uv" in result.stderr + result.stdout
    assert result.report()["failure_reason"] == "install-dependencies::uv"


def test_uv_oldest_python(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.10")
    result = compile_app(app_for_index("uv_oldest_python", package_index, tmp_path)).check()
    assert f"Installing Python {version}" in result.stdout
    assert "+ typing-extensions==4.15.0" in result.stdout
    assert site_python(result, "import typing_extensions").returncode == 0


def test_uv_no_python_version_file_uses_requires_python(
    compile_app: Compile, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.12")
    result = compile_app("uv_no_python_version_file").check()
    assert "pyproject.toml" in result.stdout
    assert f"Installing Python {version}" in result.stdout
    assert result.report()["python_version_origin"] == "pyproject.toml"


def test_uv_editable_and_path_dependencies(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app(app_for_index("uv_editable", package_index, tmp_path)).check()
    code = (
        "import local_package_pyproject_toml as a, local_package_setup_py as b, uv_editable as c;"
        "a.hello(); b.hello(); c.main()"
    )
    check = site_python(result, code)
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines() == [
        "Hello from pyproject.toml!",
        "Hello from setup.py!",
        "Hello from uv-editable!",
    ]


def test_uv_editable_after_relocation(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """Moved elsewhere (the slug runs where it is extracted): the editables still resolve."""
    needs(runtime_mirror, "3.13")
    result = compile_app(app_for_index("uv_editable", package_index, tmp_path)).check()
    code = "import local_package_pyproject_toml, local_package_setup_py, uv_editable; uv_editable.main()"
    moved = tmp_path / "moved" / "app"
    moved.parent.mkdir()
    shutil.move(result.build_dir, moved)
    result.build_dir = moved
    check = site_python(result, code)
    assert check.returncode == 0, check.stderr
    assert "Hello from uv-editable!" in check.stdout


def test_ci_uv_installs_dev_group(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    needs(runtime_mirror, "3.13")
    result = compile_app(app_for_index("ci_uv", package_index, tmp_path), script="test-compile").check()
    assert "Installing dependencies using 'uv sync --locked'" in result.stdout
    assert "+ pytest==9.2.0" in result.stdout
    assert site_python(result, "import pytest, typing_extensions").returncode == 0


def test_uv_index_credentials_never_printed(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """The config var PIP_INDEX_URL is the single source: with a user and password in it (the local
    index ignores them), uv installs from it and the password never appears in the log."""
    needs(runtime_mirror, "3.13")
    secret_url = package_index.url.replace("http://", "http://builder:s3cr3t-t0ken@")
    app = app_for_index("uv_basic", package_index, tmp_path)
    result = compile_app(app, config={"PIP_INDEX_URL": secret_url})
    assert "s3cr3t-t0ken" not in result.stdout + result.stderr
    result.check()


def test_fastapi_example_locked_with_uv_serves(
    compile_app: Compile, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.12")
    source = tmp_path / "apps" / "fastapi-uv"
    shutil.copytree(REPO / "examples" / "fastapi-uv", source)
    lock = source / "uv.lock"
    lock.write_text(lock.read_text().replace(LOCKED_INDEX, package_index.url.removesuffix("simple/")))
    result = compile_app(source).check()
    assert "+ fastapi==0.162.5" in result.stdout
    app_dir = moved_app(result, tmp_path)
    port = free_port()
    with serve_web(app_dir, port):
        response = http_get(f"http://127.0.0.1:{port}/", attempts=80)
    assert response.status == 200
    assert response.text == f"Hello from pybuildpack! FastAPI on Python {version}\n"
