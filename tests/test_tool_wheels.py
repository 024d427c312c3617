"""Issue 11: the package managers installed without running pip. The engine fetches only the pinned uv
wheel (verified by sha256, unzipped); uv installs pip, Poetry and Pipenv from hash-pinned lock files.
Each tool installed that way must be the same as the same version installed by pip (the operator's
PYBUILDPACK_TOOLS_WITH_PIP=1 fallback): same files in its RECORD, same `--version`, and a real install
of the app's dependencies with it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from support.buildpack import CompileResult
from support.index import PackageIndex, serve_index
from support.mirror import RuntimeMirror
from test_uv import needs, site_python

Compile = Callable[..., CompileResult]
UV_WHEEL = "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
UV_SHA256 = "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19"


def records(site: Path, project: str) -> set[str]:
    """The paths a distribution's RECORD lists, without bytecode and installer bookkeeping (uv
    compiles after installing and lists no .pyc; INSTALLER names the installer)."""
    (info,) = site.glob(f"{project}-*.dist-info")
    found = set()
    for line in (info / "RECORD").read_text().splitlines():
        path = line.rsplit(",", 2)[0]
        if path and "__pycache__" not in path and not path.endswith(("INSTALLER", "REQUESTED")):
            # pip --target lists console scripts from its temporary prefix (../../bin/x), uv as bin/x
            found.add("bin/" + path.rsplit("/", 1)[-1] if path.rsplit("/", 2)[-2:-1] == ["bin"] else path)
    return found


def bytecode(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.pyc")}


def where(result: CompileResult, tool: str) -> tuple[Path, list[str]]:
    """The tool's site-packages and the command that prints its version."""
    python_home = result.build_dir / ".heroku" / "python"
    if tool == "pip":
        return next(python_home.glob("lib/python3.*/site-packages")), [
            str(python_home / "bin" / "python"), "-m", "pip", "--version"
        ]  # fmt: skip
    if tool == "poetry":
        venv = result.cache_dir / ".heroku" / "python-poetry" / "venv"
        return next(venv.glob("lib/python3.*/site-packages")), [str(venv / "bin" / "poetry"), "--version"]
    return python_home / "pipenv" / "lib", [str(python_home / "pipenv" / "bin" / "pipenv"), "--version"]


def version_of(cmd: list[str], home: Path) -> str:
    ran = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.replace(str(home), "HOME")


@pytest.mark.parametrize("tool", ["pip", "poetry", "pipenv"])
def test_tool_installed_by_uv_matches_pip(
    compile_app: Compile,
    build_env: dict[str, str],
    tool: str,
    tmp_path: Path,
    runtime_mirror: RuntimeMirror,
) -> None:
    needs(runtime_mirror, "3.13")
    app = f"{tool}_basic"
    locked = compile_app(app, workdir=tmp_path / "locked").check()
    opt_out = {**build_env, "PYBUILDPACK_TOOLS_WITH_PIP": "1"}  # an operator setting: not a config var
    with_pip = compile_app(app, workdir=tmp_path / "pip", env=opt_out).check()
    assert "Installing uv 0.13.9 from its pinned wheel" in locked.stdout
    assert "from its pinned wheel" not in with_pip.stdout
    assert "uv" not in with_pip.report().get("uv_version", "")
    site_locked, cmd_locked = where(locked, tool)
    site_pip, cmd_pip = where(with_pip, tool)
    projects = {"pip": ["pip"], "poetry": ["poetry", "poetry_core", "poetry_plugin_pypi_mirror"]}
    for project in projects.get(tool, ["pipenv", "virtualenv"]):
        assert records(site_locked, project) == records(site_pip, project), project
    assert version_of(cmd_locked, locked.build_dir) == version_of(cmd_pip, with_pip.build_dir)
    # Both compiled the same modules (checked-hash bytecode is part of what pip leaves).
    assert bytecode(site_locked) == bytecode(site_pip)
    # A real install with it: the app's dependency, importable in both.
    for result in (locked, with_pip):
        assert site_python(result, "import typing_extensions").returncode == 0


def tampered_index(root: Path, content: bytes | None) -> Path:
    """An index whose simple page of uv lists UV_WHEEL with other bytes (or does not list it)."""
    page = root / "simple" / "uv"
    page.mkdir(parents=True)
    links = ""
    if content is not None:
        (root / "files").mkdir()
        (root / "files" / UV_WHEEL).write_bytes(content)
        links = f'<a href="../../files/{UV_WHEEL}">{UV_WHEEL}</a>'
    (page / "index.html").write_text(f"<html><body>{links}</body></html>\n")
    return root


@pytest.mark.parametrize("content", [b"not the uv wheel", None], ids=["hash-mismatch", "missing"])
def test_bad_or_missing_uv_wheel_is_an_error_naming_file_and_hashes(
    compile_app: Compile, build_env: dict[str, str], content: bytes | None, tmp_path: Path,
    runtime_mirror: RuntimeMirror,
) -> None:  # fmt: skip
    needs(runtime_mirror, "3.13")
    with serve_index(tampered_index(tmp_path / "index", content)) as index:
        result = compile_app("pip_basic", env={**build_env, "PIP_INDEX_URL": index.url})
    assert result.returncode == 1, result.describe()
    err = result.stderr
    assert "Could not install uv 0.13.9" in err and UV_WHEEL in err and UV_SHA256 in err
    if content is not None:
        assert hashlib.sha256(content).hexdigest() in err
        assert result.report()["failure_detail"] == "hash-mismatch"
    else:
        assert "does not list" in err
    assert result.report()["failure_reason"] == "install-package-manager::uv"
    assert not (result.cache_dir / ".heroku" / "python-uv" / "uv").exists()  # nothing half-written


def test_uv_wheel_is_fetched_while_python_installs(
    compile_app: Compile, build_env: dict[str, str], runtime_mirror: RuntimeMirror
) -> None:
    """The runtime and the uv wheel install side by side; the log reads as before, in order."""
    needs(runtime_mirror, "3.13")
    result = compile_app("pip_basic", env=build_env)
    assert result.returncode == 0, result.describe()
    out = result.stdout
    steps = [
        "-----> Installing Python",
        "-----> Installing pip",
        "-----> Installing uv 0.13.9 from its pinned",
    ]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions), out
    assert "Downloaded and unpacked while Python was being installed." in out
    assert (result.cache_dir / ".heroku" / "python-uv" / "uv").is_file()


def test_a_runtime_failure_is_reported_even_while_uv_is_fetched(
    compile_app: Compile, build_env: dict[str, str], runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    """Both pieces fail (the runtime does not match its checksum, the uv wheel is missing): the build
    reports the runtime's failure, as before, and the fetch has ended with the build."""
    version = needs(runtime_mirror, "3.13")
    document = json.loads(runtime_mirror.manifest.read_text())
    for entry in document["runtimes"]:
        entry["url"] = (runtime_mirror.dir / entry["url"]).as_uri()
        if entry["version"] == version:
            entry["sha256"] = "0" * 64
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(document))
    with serve_index(tampered_index(tmp_path / "index", None)) as index:
        env = {**build_env, "PIP_INDEX_URL": index.url, "PYBUILDPACK_RUNTIME_MANIFEST": str(manifest)}
        result = compile_app("pip_basic", env=env)
    assert result.returncode == 1, result.describe()
    assert "sha256 mismatch" in result.stderr
    assert "Could not install uv" not in result.stderr
    assert result.report()["failure_reason"] == "install-python"
    assert not (result.build_dir / ".heroku" / "python").exists()


def test_lock_files_pin_what_the_test_index_serves(package_index: PackageIndex) -> None:
    """Every pin in the shipped lock files has a served wheel whose sha256 the lock lists."""
    locks = Path(__file__).resolve().parents[1] / "src" / "pybuildpack" / "data" / "locks"
    served = {hashlib.sha256(w.read_bytes()).hexdigest() for w in package_index.wheelhouse.glob("*.whl")}
    files = sorted(locks.glob("*/*.txt"))
    assert len(files) >= 12
    for lock in files:
        text = lock.read_text()
        entries = [e for e in text.replace("\\\n", " ").splitlines() if "==" in e]
        assert entries, lock
        for entry in entries:
            hashes = {h.split(":", 1)[1] for h in entry.split() if h.startswith("--hash=")}
            assert hashes & served, f"{lock.name}: {entry.split()[0]}"
