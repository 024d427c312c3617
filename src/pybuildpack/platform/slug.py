"""Slugs: a release as a reproducible tar.gz, and back.

Export is byte-identical for the same release: entries sorted, every mtime fixed, owners 0/root,
permissions kept, `.git` left out, and a gzip header without name or time. Entries are under `app/`.
Only files, directories and symlinks go into a slug: sockets (a running gunicorn's control socket),
FIFOs and device files are left out, and the caller is told which.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pybuildpack.errors import BuildError
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import AppState

FIXED_MTIME = 315532800  # 1980-01-01, what reproducible-build tools use for "no time"
ROOT = "app"
LEVEL = 6


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...
    def flush(self) -> object: ...


def export_slug(app_dir: Path, output: Writable) -> list[Skipped]:
    """Write the slug of ``app_dir`` to ``output``; returns what was left out (not a file, dir or link)."""
    skipped: list[Skipped] = []
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=output, mtime=0, compresslevel=LEVEL) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        _add(tar, app_dir, ROOT)
        for path in walk(app_dir, skipped):
            _add(tar, path, f"{ROOT}/{path.relative_to(app_dir).as_posix()}")
    return skipped


@dataclass(frozen=True)
class Skipped:
    path: Path
    kind: str  # socket, FIFO, character device, block device

    def describe(self, root: Path) -> str:
        return f"{self.path.relative_to(root).as_posix()} ({self.kind})"


def _special_kind(path: Path) -> str | None:
    """None for what a slug holds (a file, dir or symlink), else what the entry is."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return "unreadable"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
        return None
    for test, kind in (
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return kind
    return "special file"


def walk(root: Path, skipped: list[Skipped] | None = None) -> list[Path]:
    """Every path under ``root`` in slug order (sorted by name bytes, depth first), without `.git` and
    without entries a slug cannot hold (added to ``skipped`` when given)."""
    found: list[Path] = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name.encode("utf-8", "surrogateescape")):
        if entry.name == ".git":
            continue
        kind = _special_kind(entry)
        if kind is not None:
            if skipped is not None:
                skipped.append(Skipped(entry, kind))
            continue
        found.append(entry)
        if entry.is_dir() and not entry.is_symlink():
            found.extend(walk(entry, skipped))
    return found


def tar_info(tar: tarfile.TarFile, path: Path, name: str) -> tarfile.TarInfo:
    """The entry of ``path``, with nothing that varies between machines or builds (a second hard link
    to a file already in ``tar`` is a link entry)."""
    info = tar.gettarinfo(str(path), arcname=name)
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode &= 0o7777
    return info


def _add(tar: tarfile.TarFile, path: Path, name: str) -> None:
    info = tar_info(tar, path, name)
    if info.isfile():
        with path.open("rb") as handle:
            tar.addfile(info, handle)
    else:
        tar.addfile(info)


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def import_slug(slug: Path, dest: Path) -> None:
    """Extract a slug's `app/` into ``dest`` (which must not exist), refusing unsafe members."""
    staging = dest.with_name(f".{dest.name}.extracting")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tarfile.open(slug, mode="r:*") as tar:
            members = tar.getmembers()
            if not members or any(m.name != ROOT and not m.name.startswith(f"{ROOT}/") for m in members):
                raise PlatformError(
                    f"{slug} is not a pybuildpack slug.",
                    f"Every entry of a slug is under {ROOT}/ (as `pybuildpack slug export` writes them).",
                    "Export the slug again with pybuildpack slug export APP -o FILE.",
                )
            tar.extractall(staging, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise PlatformError(
            f"The slug {slug} cannot be read.", f"{exc}", "Give a file written by pybuildpack slug export."
        ) from exc
    except BuildError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / ROOT).rename(dest)
    shutil.rmtree(staging, ignore_errors=True)


def write_atomically(target: Path, app_dir: Path) -> list[Skipped]:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        skipped = export_slug(app_dir, handle)
    tmp.replace(target)
    return skipped


def slug_bytes(app_dir: Path) -> bytes:
    buffer = io.BytesIO()
    export_slug(app_dir, buffer)
    return buffer.getvalue()


def current_or_error(state: AppState) -> Path:
    app_dir = state.current_app_dir()
    if app_dir is None or not app_dir.is_dir():
        raise PlatformError(
            f"The app {state.name} has no current release to export.",
            fix=f"Build it first: pybuildpack build APP_DIR --app {state.name}",
        )
    return app_dir
