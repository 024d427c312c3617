"""The embedded runtime source of the local CLI: CPython prefixes already on this machine.

pyenv builds (``$PYENV_ROOT/versions/*``, default ``~/.pyenv``), uv-managed Pythons
(``$UV_PYTHON_INSTALL_DIR`` or ``~/.local/share/uv/python/cpython-*``) and prefixes given with
``--python-prefix`` are packed on demand into the user's mirror (``~/.cache/pybuildpack/runtimes``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pybuildpack import filelock
from pybuildpack.runtime.manifest import RuntimeEntry, Version, format_version, load_manifest
from pybuildpack.runtime.pack import MANIFEST_NAME, pack_runtime
from pybuildpack.runtime.platform import HostPlatform, host_platform

_PATCHLEVEL = re.compile(rb'#define\s+PY_VERSION\s+"(\d+)\.(\d+)\.(\d+)"')


@dataclass(frozen=True)
class LocalInterpreter:
    prefix: Path
    version: Version
    source: str  # "pyenv", "uv" or "--python-prefix"


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """pybuildpack's directory in the user's cache dir (XDG_CACHE_HOME, else ~/.cache)."""
    env = os.environ if environ is None else environ
    cache = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(cache) / "pybuildpack"


def user_mirror_dir(environ: Mapping[str, str] | None = None) -> Path:
    return user_cache_dir(environ) / "runtimes"


def prefix_version(prefix: Path) -> Version | None:
    """The X.Y.Z of a CPython prefix, read from its patchlevel.h (no interpreter started).

    Pre-releases (``3.14.0rc1``) and non-CPython trees give None.
    """
    for header in sorted(prefix.glob("include/python*/patchlevel.h")):
        try:
            match = _PATCHLEVEL.search(header.read_bytes())
        except OSError:
            continue
        if match is not None:
            return (int(match[1]), int(match[2]), int(match[3]))
    return None


def _is_prefix(path: Path) -> bool:
    bin_dir = path / "bin"
    return any((bin_dir / name).exists() for name in ("python3", "python", "python2"))


def _candidates(root: Path, pattern: str) -> list[Path]:
    try:
        return sorted(p for p in root.glob(pattern) if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _interpreters(prefixes: Sequence[Path], source: str) -> list[LocalInterpreter]:
    found = []
    for prefix in prefixes:
        version = prefix_version(prefix) if _is_prefix(prefix) else None
        if version is not None:
            found.append(LocalInterpreter(prefix=prefix, version=version, source=source))
    return found


def discover_local_interpreters(
    extra_prefixes: Sequence[Path] = (), *, environ: Mapping[str, str] | None = None
) -> list[LocalInterpreter]:
    """Given prefixes first, then pyenv, then uv; one interpreter per version (the first found wins)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    pyenv_root = Path(env.get("PYENV_ROOT") or home / ".pyenv")
    uv_root = Path(env.get("UV_PYTHON_INSTALL_DIR") or home / ".local" / "share" / "uv" / "python")
    found = [
        *_interpreters([p.absolute() for p in extra_prefixes], "--python-prefix"),
        *_interpreters(_candidates(pyenv_root / "versions", "*"), "pyenv"),
        *_interpreters(_candidates(uv_root, "cpython-*"), "uv"),
    ]
    chosen: dict[Version, LocalInterpreter] = {}
    for interp in found:
        chosen.setdefault(interp.version, interp)
    return sorted(chosen.values(), key=lambda interp: interp.version)


def _already_packed(interp: LocalInterpreter, mirror_dir: Path, host: HostPlatform) -> RuntimeEntry | None:
    manifest_path = mirror_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        return None
    manifest = load_manifest(str(manifest_path), relative_to=mirror_dir)
    for entry in manifest.entries:
        if (
            entry.implementation == "cpython"
            and entry.version == format_version(interp.version)
            and entry.platform == host.distro_tag
            and _archive_present(entry)
        ):
            return entry
    return None


def _archive_present(entry: RuntimeEntry) -> bool:
    if not entry.url.startswith("file:"):
        return True
    from pybuildpack.runtime._net import file_url_path

    return file_url_path(entry.url).is_file()


def ensure_packed(
    interp: LocalInterpreter,
    mirror_dir: Path,
    *,
    host: HostPlatform | None = None,
    tool_path: str | None = None,
) -> RuntimeEntry:
    """The mirror entry for this interpreter, packing it first unless it is already there
    (with the patchelf found on ``tool_path``, default PATH)."""
    host = host or host_platform()
    mirror_dir.mkdir(parents=True, exist_ok=True)
    with filelock.exclusive(mirror_dir / ".pack.lock", what=f"the runtime mirror {mirror_dir}"):
        entry = _already_packed(interp, mirror_dir, host)
        if entry is None:
            entry = pack_runtime(interp.prefix, mirror_dir, host=host, tool_path=tool_path)
    return entry
