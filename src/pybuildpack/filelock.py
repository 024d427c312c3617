"""Exclusive file locks: the one implementation used by the build cache, the local platform's apps
and `runtime pack`.

A lock is an ``flock`` on a file that is created if missing and never removed (removing it would let
two processes lock two different files of one name). The kernel releases it when the holder exits,
however it exits, so a killed build never leaves a stale lock behind. A waiter gives up after
``timeout`` seconds with an error naming the lock file and what holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pybuildpack.errors import BuildError

DEFAULT_TIMEOUT = 900.0
_POLL = 0.2


class LockTimeout(BuildError):
    """Another process held the lock for longer than the waiter would wait."""


def timeout_error(path: Path, what: str, timeout: float) -> LockTimeout:
    return LockTimeout(
        f"Another process has held the lock of {what} for more than {timeout:.0f} s.",
        f"Only one process at a time may use {what}; the lock file is {path}.",
        "Wait for the other process to finish (or stop it), then run this again.",
        failure_reason="lock::timeout",
    )


@contextmanager
def exclusive(
    path: Path,
    *,
    what: str,
    timeout: float = DEFAULT_TIMEOUT,
    on_wait: Callable[[], None] | None = None,
    on_timeout: Callable[[float], BuildError] | None = None,
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the with-block.

    If another process holds it, call ``on_wait`` once (to say so), then wait up to ``timeout`` seconds
    and raise ``on_timeout(timeout)`` (default: a LockTimeout naming ``what`` and ``path``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            if on_wait is not None:
                on_wait()
            _wait(fd, timeout, lambda: (on_timeout or _default(path, what))(timeout))
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _default(path: Path, what: str) -> Callable[[float], BuildError]:
    return lambda timeout: timeout_error(path, what, timeout)


def _wait(fd: int, timeout: float, error: Callable[[], BuildError]) -> None:
    deadline = time.monotonic() + timeout
    while not _try_lock(fd):
        if time.monotonic() >= deadline:
            raise error()
        time.sleep(_POLL)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
