"""A requirements file and the files it includes with ``-r``/``-c``: the inputs of a pip or uv install.

Includes are untrusted paths: each file is read through `appfile` (a regular file inside the app, size
limited), each resolved file is visited once however many paths lead to it, and an include that leads
outside the app is an error.
"""

from __future__ import annotations

import re
from pathlib import Path

from pybuildpack import appfile

_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S+)")
_FAILURE_REASON = "requirements::invalid-include"


def requirement_files(first: Path, app_dir: Path | None = None) -> list[Path]:
    """`first` and every file it includes, recursively, in visiting order (paths are relative to the
    including file, as pip reads them). Missing files are listed too: the installer reports them.
    `app_dir` defaults to the directory of `first`. Raises BuildError."""
    root = first.parent if app_dir is None else app_dir
    found: list[Path] = []
    visited: set[Path] = set()
    pending = [first]
    while pending:
        path = pending.pop(0)
        real = appfile.inside_app(root, path, appfile.display_name(root, path), _FAILURE_REASON)
        if real in visited:
            continue
        visited.add(real)
        found.append(path)
        if path.exists():
            pending.extend(_includes(root, path))
    return found


def _includes(root: Path, path: Path) -> list[Path]:
    data = appfile.read_app_file(root, path, limit=appfile.MANIFEST_LIMIT, failure_reason=_FAILURE_REASON)
    included = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        match = _INCLUDE.match(line)
        if match and "://" not in match.group(1):
            included.append(path.parent / match.group(1))
    return included
