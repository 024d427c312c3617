"""The app's ``Procfile``: one ``<type>: <command>`` line per process type."""

from __future__ import annotations

import re
from pathlib import Path

from pybuildpack import appfile
from pybuildpack.errors import BuildError, quoted

MAX_TYPES = 200  # far more than any app declares; a bound on what logs and reports list
_LINE = re.compile(r"(?P<type>[A-Za-z0-9_-]+)[ \t]*:[ \t]*(?P<command>\S.*)")
_EXAMPLE = "web: gunicorn myapp.wsgi"


def read_procfile(app_dir: Path) -> dict[str, str]:
    """Process types in file order, ``{type: command}``; ``{}`` when there is no Procfile.

    Blank lines and lines starting with ``#`` are ignored; trailing whitespace (and CR) is trimmed.
    Any other line that is not ``<type>: <command>`` (type made of letters, digits, ``_`` and ``-``)
    is an error naming the line, as is a type defined twice.
    """
    path = app_dir / "Procfile"
    if not path.exists():
        return {}
    text = _read(app_dir, path)
    processes: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise _malformed(number, raw)
        kind = match["type"]
        if kind in processes:
            raise _duplicate(kind, first_seen[kind], number)
        if len(processes) == MAX_TYPES:
            raise _too_many(number)
        processes[kind] = match["command"]
        first_seen[kind] = number
    return processes


def _read(app_dir: Path, path: Path) -> str:
    data = appfile.read_app_file(
        app_dir, path, limit=appfile.TEXT_FILE_LIMIT, failure_reason="procfile::unreadable"
    )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BuildError(
            headline="'Procfile' isn't valid UTF-8.",
            explanation=f"Byte {exc.start} of 'Procfile' can't be decoded as UTF-8.",
            fix="Save 'Procfile' as UTF-8 text.",
            failure_reason="procfile::invalid-encoding",
        ) from exc


def _malformed(number: int, raw: str) -> BuildError:
    return BuildError(
        headline=f"Line {number} of 'Procfile' is not a valid process definition.",
        explanation=(
            f"Line {number} of 'Procfile' is:\n"
            f"{quoted(raw)}\n"
            "\n"
            "Each line must be a process type (letters, digits, '_' and '-'), a colon and the command."
        ),
        fix=(
            f"Write the line in that form, for example:\n{_EXAMPLE}\n"
            "or start it with '#' to make it a comment."
        ),
        failure_reason="procfile::invalid-line",
        failure_detail=str(number),
    )


def _too_many(number: int) -> BuildError:
    return BuildError(
        headline=f"'Procfile' declares more than {MAX_TYPES} process types.",
        explanation=f"Line {number} of 'Procfile' declares process type number {MAX_TYPES + 1}.",
        fix=f"Keep at most {MAX_TYPES} process types in 'Procfile'.",
        failure_reason="procfile::too-many-types",
        failure_detail=str(number),
    )


def _duplicate(kind: str, first: int, number: int) -> BuildError:
    return BuildError(
        headline=f"The process type {quoted(kind)} is defined twice in 'Procfile'.",
        explanation=f"Lines {first} and {number} of 'Procfile' both define {quoted(kind)}.",
        fix="Keep one definition per process type.",
        failure_reason="procfile::duplicate-type",
        failure_detail=kind,
    )
