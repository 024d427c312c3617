"""The per-app log that `pybuildpack start` writes and `pybuildpack logs` reads.

One line per event, as a platform's log drain shows them:

    2026-11-29T16:40:00.123Z app[web.1]: 127.0.0.1 - - "GET / HTTP/1.1" 200 14
    2026-11-29T16:40:02.456Z pybuildpack[system]: web.1 exited with status 1; restarting in 1 s

``app[TYPE.N]`` lines are a process's output, ``pybuildpack[system]`` lines are the platform's own
(starts, deploys, swaps, crashes). The file is ``<app>/logs/app.log``; when it passes ``limit`` bytes it
is renamed to ``app.log.1`` (replacing the previous one) and a new one is started, so an app keeps at
most about twice the limit.
"""

from __future__ import annotations

import datetime
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

LIMIT = 10 * 1024 * 1024
NAME = "app.log"
SYSTEM = "system"


def line_for(name: str, text: str, when: datetime.datetime | None = None) -> str:
    moment = when or datetime.datetime.now(datetime.UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    source = f"pybuildpack[{name}]" if name == SYSTEM else f"app[{name}]"
    return f"{stamp} {source}: {text}\n"


class AppLog:
    """Appends lines from many threads; rotates at ``limit`` bytes."""

    def __init__(self, directory: Path, limit: int = LIMIT) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / NAME
        self.limit = limit
        self._lock = threading.Lock()
        self._handle = self.path.open("a", encoding="utf-8", errors="replace")

    def write(self, name: str, text: str) -> None:
        with self._lock:
            if self._handle.closed:
                return
            self._handle.write(line_for(name, text))
            self._handle.flush()
            if self._handle.tell() >= self.limit:
                self._rotate()

    def _rotate(self) -> None:
        self._handle.close()
        self.path.replace(self.path.with_name(f"{NAME}.1"))
        self._handle = self.path.open("a", encoding="utf-8", errors="replace")

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def matches(line: str, process: str | None) -> bool:
    """Is ``line`` from process type ``process`` (any, when None)?"""
    return process is None or f" app[{process}." in line or f" app[{process}]" in line


def last_lines(directory: Path, count: int, process: str | None = None) -> list[str]:
    """The last ``count`` lines (of ``process`` when given), the rotated file's first."""
    kept: deque[str] = deque(maxlen=max(count, 0))
    for path in (directory / f"{NAME}.1", directory / NAME):
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                kept.extend(line for line in handle if matches(line, process))
        except FileNotFoundError:
            continue
    return list(kept)


def follow(
    directory: Path, process: str | None, keep_going: Callable[[], bool], poll: float = 0.2
) -> Iterator[str]:
    """New lines appended to the log from now on, across rotations, while ``keep_going()``.

    Like `tail -F`: a reader that falls more than one rotation behind (the log rotated twice between
    two polls) misses the file in between; at the default limit that is megabytes within one poll.
    """
    path = directory / NAME
    handle = _open(path, at_end=True)
    try:
        while keep_going():
            line = handle.readline() if handle is not None else b""
            if line.endswith(b"\n"):
                text = line.decode("utf-8", "replace")
                if matches(text, process):
                    yield text
                continue
            if handle is not None and line:  # a partial line: read it again once it is complete
                handle.seek(-len(line), os.SEEK_CUR)
            if handle is None or _identity(path) != _identity_of(handle):
                # rotated (or created since): finish the old file, then read the new one from its start
                if handle is not None:
                    yield from _rest(handle, process)
                    handle.close()
                handle = _open(path, at_end=False)
                if handle is None:
                    time.sleep(poll)
                continue
            time.sleep(poll)
    finally:
        if handle is not None:
            handle.close()


def _rest(handle: BinaryIO, process: str | None) -> Iterator[str]:
    for raw in handle:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\n") and matches(text, process):
            yield text


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino


def _identity_of(handle: BinaryIO) -> tuple[int, int]:
    info = os.fstat(handle.fileno())
    return info.st_dev, info.st_ino


def _open(path: Path, *, at_end: bool) -> BinaryIO | None:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    if at_end:
        handle.seek(0, os.SEEK_END)
    return handle
