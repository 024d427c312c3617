"""Reading the app's own files, which are untrusted data.

An app file is read only when it is a regular file inside the app, or a symbolic link that resolves to
one. Anything else (a FIFO, a device, a socket, a directory, a link leading outside the app, a link
loop) is a BuildError that names the path and what it is, never its content, and nothing is opened
that could block: the type is checked before opening, and the file is opened non-blocking and
re-checked through its descriptor. Reads stop at a size limit chosen per kind of file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pybuildpack.errors import BuildError, quoted

KIB = 1024
MIB = 1024 * KIB

VERSION_FILE_LIMIT = 4 * KIB  # .python-version, runtime.txt: one short line and comments
TEXT_FILE_LIMIT = 1 * MIB  # Procfile, nltk.txt
MANIFEST_LIMIT = 10 * MIB  # pyproject.toml, requirements files
LOCK_FILE_LIMIT = 50 * MIB  # Pipfile.lock

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def present(path: Path) -> bool:
    """True when something (even a broken link) exists at `path`."""
    return os.path.lexists(path)


def read_app_file(app_dir: Path, path: Path, *, limit: int, failure_reason: str) -> bytes:
    """The bytes of the app file at `path`, at most `limit` of them. Raises BuildError."""
    name = display_name(app_dir, path)
    real = inside_app(app_dir, path, name, failure_reason)
    try:
        _check_kind(real.stat().st_mode, name, failure_reason)
        descriptor = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise _unreadable(name, exc.strerror or str(exc), failure_reason) from exc
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        _check_kind(info.st_mode, name, failure_reason)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise _unreadable(name, exc.strerror or str(exc), failure_reason) from exc
    if len(data) > limit:
        raise _too_large(name, max(info.st_size, len(data)), limit, failure_reason)
    return data


def display_name(app_dir: Path, path: Path) -> str:
    """The path as the user knows it: relative to the app when it is under it."""
    try:
        return str(path.relative_to(app_dir))
    except ValueError:
        return str(path)


def inside_app(app_dir: Path, path: Path, name: str, failure_reason: str) -> Path:
    """The fully resolved path, which must lie inside the (resolved) app directory. Raises BuildError."""
    try:
        root = app_dir.resolve()
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # link loops: RuntimeError before Python 3.13
        raise _unreadable(
            name, "it is a symbolic link that loops or cannot be followed", failure_reason
        ) from exc
    if real != root and root not in real.parents:
        raise BuildError(
            f"{quoted(name)} leads outside the app.",
            f"{quoted(name)} is a symbolic link (or lies under one) that resolves to {quoted(str(real))}, "
            "outside the app's directory. pybuildpack only reads files that are part of the app.",
            f"Replace {quoted(name)} with a regular file committed to the app, then commit the change.",
            failure_reason=failure_reason,
            failure_detail=name,
        )
    return real


def _check_kind(mode: int, name: str, failure_reason: str) -> None:
    if stat.S_ISREG(mode):
        return
    what = next((label for test, label in _KINDS if test(mode)), "not a regular file")
    raise BuildError(
        f"{quoted(name)} is {what}, not a regular file.",
        f"pybuildpack reads {quoted(name)} as part of the build, and only reads regular files "
        "(or symbolic links to regular files inside the app).",
        f"Replace {quoted(name)} with a regular file committed to the app, then commit the change.",
        failure_reason=failure_reason,
        failure_detail=name,
    )


def _unreadable(name: str, why: str, failure_reason: str) -> BuildError:
    return BuildError(
        f"Could not read {quoted(name)}.",
        f"Reading {quoted(name)} in your app failed: {why}.",
        f"Make sure {quoted(name)} is a regular, readable file (not a directory or a broken symlink).",
        failure_reason=failure_reason,
        failure_detail=name,
    )


def _too_large(name: str, size: int, limit: int, failure_reason: str) -> BuildError:
    return BuildError(
        f"{quoted(name)} is too large ({size:,} bytes or more).",
        f"pybuildpack reads at most {limit:,} bytes from {quoted(name)}; a file of this kind is much smaller "
        "than that. It may hold something else by mistake.",
        f"Check the content of {quoted(name)}, keep only what belongs there, then commit it.",
        failure_reason=failure_reason,
        failure_detail=name,
    )


def parse_problem(exc: BaseException) -> str:
    """What went wrong parsing an app file, in words, bounded (a parser's message may quote the file).
    Covers what hostile files cause besides syntax errors: nesting beyond the recursion limit, numbers
    beyond Python's int-string limit, exhausted memory."""
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    if isinstance(exc, MemoryError):
        return "it is too large to parse"
    if isinstance(exc, UnicodeDecodeError):
        return f"it is not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
    text = str(exc)
    if "integer string conversion" in text:
        return "it holds a number with more than 4,300 digits"
    return text if len(text) <= 200 else f"{text[:200]}... ({len(text) - 200:,} more characters not shown)"
