"""An exclusive lock per app, so two builds (or two git pushes) of one app run one after the other."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pybuildpack.output import Console


@contextmanager
def locked(path: Path, console: Console, what: str) -> Iterator[None]:
    """Hold an flock on ``path``; if another process holds it, say so and wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.step(f"Waiting for another build of {what} to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
