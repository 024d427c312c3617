"""Installing a verified runtime archive: safe extraction into a temp dir, then one rename.

Absolute member names, ``..`` components, device files and links that point outside the tree are
refused (our own checks, then tarfile's ``data`` filter as a second line). Two layouts: ``python-dir``
(one top-level ``python/`` directory, python-build-standalone) and ``prefix`` (the tree at the root).
"""

from __future__ import annotations

import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path

from pybuildpack.errors import BuildError
from pybuildpack.runtime.manifest import FAILURE, RuntimeEntry


class UnsafeArchive(Exception):
    """A member would write outside the extraction dir."""


def install_runtime(archive: Path, entry: RuntimeEntry, target: Path) -> None:
    if target.exists() or target.is_symlink():
        raise BuildError(
            f"Cannot install Python {entry.version}: {target} already exists.",
            "A runtime is only installed into an empty location.",
            f"Remove {target} and build again.",
            FAILURE,
            "target exists",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-extract-", dir=target.parent))
    try:
        _extract(archive, entry, staging)
        tree = _layout_root(staging, entry, archive)
        _check_interpreter(tree, entry, archive)
        tree.chmod(0o755)
        tree.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(archive: Path, entry: RuntimeEntry, dest: Path) -> None:
    if archive.name.endswith((".zst", ".zstd")):
        raise _archive_error(
            entry,
            archive,
            "zstd-compressed archives (.tar.zst) cannot be read: Python's standard library has no zstd.",
            "Use a .tar.gz or .tar.xz archive for this runtime in the manifest.",
        )
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member)
            if _HAS_FILTERS:
                tar.extractall(dest, members=members, filter="data")
            else:  # Python < 3.11.4 (Debian 12 ships 3.11.2): our own member checks stand alone
                tar.extractall(dest, members=members)
    except _UNSAFE_ERRORS as exc:
        raise _archive_error(entry, archive, f"It contains an unsafe entry: {exc}.", _UNSAFE_FIX) from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise _archive_error(
            entry, archive, f"It could not be extracted: {exc}.", "Check the archive in the runtime mirror."
        ) from exc


_HAS_FILTERS = hasattr(tarfile, "data_filter")
_UNSAFE_ERRORS: tuple[type[Exception], ...] = (
    (UnsafeArchive, tarfile.FilterError) if _HAS_FILTERS else (UnsafeArchive,)
)
_UNSAFE_FIX = "Nothing was installed. Rebuild the archive (e.g. with `pybuildpack runtime pack`)."


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if name.startswith("/") or posixpath.isabs(name):
        raise UnsafeArchive(f"absolute path {name!r}")
    parts = [part for part in name.split("/") if part not in {"", "."}]
    if ".." in parts:
        raise UnsafeArchive(f"path with '..' {name!r}")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchive(f"special file {name!r}")
    if member.issym() or member.islnk():
        _check_link(member, parts)


def _check_link(member: tarfile.TarInfo, parts: list[str]) -> None:
    target = member.linkname
    if not target or posixpath.isabs(target):
        raise UnsafeArchive(f"link {member.name!r} to absolute path {target!r}")
    if member.issym():
        joined = posixpath.normpath(posixpath.join(*parts[:-1], target)) if parts[:-1] else target
        joined = posixpath.normpath(joined)
    else:
        joined = posixpath.normpath(target)
    if joined == ".." or joined.startswith("../"):
        raise UnsafeArchive(f"link {member.name!r} pointing outside the archive ({target!r})")


def _layout_root(staging: Path, entry: RuntimeEntry, archive: Path) -> Path:
    if entry.layout == "prefix":
        return staging
    top = sorted(p.name for p in staging.iterdir())
    if top != ["python"] or not (staging / "python").is_dir() or (staging / "python").is_symlink():
        raise _archive_error(
            entry,
            archive,
            f"The manifest says layout 'python-dir' (one top-level 'python/' directory), but the archive's "
            f"top level holds: {', '.join(top) or 'nothing'}.",
            "Set the entry's layout to 'prefix' if the tree is at the archive root.",
        )
    return staging / "python"


def _check_interpreter(tree: Path, entry: RuntimeEntry, archive: Path) -> None:
    major = entry.version.split(".", 1)[0]
    name = f"python{major}"
    interpreter = tree / "bin" / name
    if not interpreter.exists():
        raise _archive_error(
            entry,
            archive,
            f"After extraction there is no bin/{name} (layout '{entry.layout}').",
            "Check the entry's layout in the manifest, or rebuild the archive.",
        )
    python = tree / "bin" / "python"
    if not python.exists() and not python.is_symlink():
        python.symlink_to(name)


def _archive_error(entry: RuntimeEntry, archive: Path, explanation: str, fix: str) -> BuildError:
    return BuildError(
        f"Cannot install Python {entry.version} from {archive.name} ({entry.url}).",
        explanation,
        fix,
        FAILURE,
        "bad archive",
    )
