"""The test cache shared across sessions and pytest-xdist workers, and its file locks.

An entry is a directory built once under an exclusive ``fcntl`` lock: it is built in a temporary
sibling and renamed into place with a ``.complete`` marker, so a crashed or interrupted build never
leaves a half-made entry that a later session would trust.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

MARKER = ".complete"


def cache_root() -> Path:
    """``$PYBUILDPACK_TEST_CACHE``, else ``~/.cache/pybuildpack-tests``."""
    configured = os.environ.get("PYBUILDPACK_TEST_CACHE", "").strip()
    root = Path(configured).expanduser() if configured else Path.home() / ".cache" / "pybuildpack-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


def digest(parts: Iterable[bytes | str], length: int = 16) -> str:
    """A short stable hash of several parts (each part is length-prefixed, so boundaries count)."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return hasher.hexdigest()[:length]


@contextlib.contextmanager
def locked(lock_file: Path, timeout: float = 1800) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (created if missing); give up after ``timeout`` s."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with lock_file.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"waited {timeout:.0f} s for the lock {lock_file}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_complete(entry: Path) -> bool:
    return (entry / MARKER).is_file()


def build_once(entry: Path, build: Callable[[Path], None]) -> Path:
    """Return ``entry``, building it first with ``build(tmp_dir)`` unless a complete copy exists.

    Safe to call from several processes at once: one builds, the others wait and reuse.
    """
    if is_complete(entry):
        return entry
    with locked(entry.parent / f".{entry.name}.lock"):
        if is_complete(entry):
            return entry
        staging = entry.parent / f".{entry.name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            build(staging)
            (staging / MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
            shutil.rmtree(entry, ignore_errors=True)
            staging.rename(entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return entry


def prune(root: Path, prefix: str, keep: Path, newest: int = 2) -> None:
    """Delete old complete entries named ``prefix*`` except ``keep`` and the ``newest`` others."""
    others = [p for p in root.glob(f"{prefix}*") if p.is_dir() and p != keep and is_complete(p)]
    others.sort(key=lambda p: (p / MARKER).stat().st_mtime, reverse=True)
    for old in others[newest:]:
        shutil.rmtree(old, ignore_errors=True)
    day_ago = time.time() - 86400
    for lock in root.glob(f".{prefix}*.lock"):
        entry = root / lock.name[1 : -len(".lock")]
        if not entry.exists() and lock.stat().st_mtime < day_ago:
            lock.unlink(missing_ok=True)
