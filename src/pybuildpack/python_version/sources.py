"""The readers: each source an app can name its Python version in, read as untrusted data.

`read_requested` looks at the sources in precedence order (runtime.txt, .python-version, Pipfile.lock
for Pipenv apps, pyproject.toml's requires-python, the version of the last build, the default) and
stops at the first that names a version.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from pybuildpack import appfile
from pybuildpack.python_version import messages
from pybuildpack.python_version.model import (
    PIPFILE_LOCK,
    PREFIXED_RE,
    PYPROJECT,
    PYPY,
    PYPY_LANGUAGE_RE,
    PYPY_RELEASE_RE,
    PYTHON_VERSION_FILE,
    RUNTIME_TXT,
    VERSION_RE,
    Major,
    Origin,
    PythonRules,
    RequestedPython,
    Version,
    dotted,
    latest_by_major,
    request_from,
)
from pybuildpack.python_version.policy import eol_candidates, policy, recommended_major
from pybuildpack.python_version.specifier import Clause, parse_specifier, pinned, satisfies

# Names people give the version file by mistake. Any of them is an error, even next to a correct file.
MISSPELLINGS = (
    " .python-version",
    ". python-version",
    ".python_version",
    ".python_version.txt",
    ".python-version ",
    ",python-version",
    ".python-version.",
    ".python-version.py",
    ".python-version.rtf",
    ".python-version.txt",
    ".python-version.TXT",
    ".Python-version",
    ".python.version",
    ".pythonversion",
    "'.python-version'",
    "python_version",
    "python_version.txt",
    "python-version",
    "python-version.",
    "python-version.txt",
)

_VERSION_FILES_RE = re.compile(r"python.?version", re.IGNORECASE)
_BLANKS = " \t\r\n\v\f"
_PARSE_ERRORS = (ValueError, RecursionError, MemoryError)  # decode errors and int-string limit included


def read_requested(
    app_dir: Path,
    *,
    manager: PythonRules,
    cached_version_file: Path,
    available: Sequence[Version],
    pypy: Mapping[Version, Version] | None = None,
) -> RequestedPython:
    """The requested version, from the highest-precedence source that names one. Raises BuildError.

    `pypy` maps each PyPy release the mirror offers to the Python version it implements (it gives
    `pypy-7.3.11` in runtime.txt its language version)."""
    _check_misspelled(app_dir)
    default_text = dotted(recommended_major(available))
    if appfile.present(app_dir / RUNTIME_TXT):
        return _read_runtime_txt(app_dir, default_text, pypy or {})
    if appfile.present(app_dir / PYTHON_VERSION_FILE):
        return _read_python_version_file(app_dir, default_text)
    found = None
    if manager.version_in_lockfile == PIPFILE_LOCK and appfile.present(app_dir / PIPFILE_LOCK):
        found = _read_pipfile_lock(app_dir)
    if found is None and appfile.present(app_dir / PYPROJECT):
        found = _read_pyproject(app_dir, available)
    if found is None:
        found = read_cached(cached_version_file)
    if found is None:
        major = recommended_major(available)
        found = RequestedPython(major[0], major[1], None, Origin.DEFAULT, dotted(major))
    return found


def _check_misspelled(app_dir: Path) -> None:
    try:
        names = {entry.name for entry in app_dir.iterdir()}
    except OSError:
        return
    for name in MISSPELLINGS:
        if name in names:
            raise messages.misspelled(name)


def version_files(app_dir: Path) -> str | None:
    """Root files that look like version files (comma list), when neither runtime.txt nor
    .python-version exists; None otherwise (then the report leaves the field out)."""
    if appfile.present(app_dir / RUNTIME_TXT) or appfile.present(app_dir / PYTHON_VERSION_FILE):
        return None
    try:
        names = sorted(entry.name for entry in app_dir.iterdir() if entry.is_file())
    except OSError:
        return None
    return ",".join(name for name in names if _VERSION_FILES_RE.search(name))


def _content_lines(text: str) -> list[str]:
    """Lines with surrounding blanks trimmed, without empty and comment lines."""
    lines = (line.strip(_BLANKS) for line in text.split("\n"))
    return [line for line in lines if line and not line.startswith("#")]


# .python-version ----------------------------------------------------------------------------------


def _read_python_version_file(app_dir: Path, default_text: str) -> RequestedPython:
    data = appfile.read_app_file(
        app_dir,
        app_dir / PYTHON_VERSION_FILE,
        limit=appfile.VERSION_FILE_LIMIT,
        failure_reason="python-version-file::invalid-version",
    )
    lines = _content_lines(_decode_version_file(data))
    for line in lines:
        if not VERSION_RE.fullmatch(line) and not PYPY_LANGUAGE_RE.fullmatch(line):
            raise messages.invalid_version_line(line, default_text)
    if not lines:
        raise messages.no_version(default_text)
    if len(lines) > 1:
        raise messages.multiple_versions(lines, default_text)
    pypy = PYPY_LANGUAGE_RE.fullmatch(lines[0])
    if pypy is not None:
        return _pypy_request(pypy, Origin.PYTHON_VERSION_FILE, lines[0])
    match = VERSION_RE.fullmatch(lines[0])
    assert match is not None
    return request_from(match, Origin.PYTHON_VERSION_FILE, lines[0])


def _triple(text: str) -> Version:
    first, second, third = text.split(".")
    return int(first), int(second), int(third)


def _pypy_request(match: re.Match[str], origin: str, text: str) -> RequestedPython:
    """`pypy3.9` or `pypy3.9-7.3.11` (the PyPy release is optional)."""
    release = None if match["pypy"] is None else _triple(match["pypy"])
    return RequestedPython(int(match["major"]), int(match["minor"]), None, origin, text, PYPY, release)


def _pypy_release_request(text: str, offered: Mapping[Version, Version]) -> RequestedPython:
    """`pypy-7.3.11`: the language version is the one that release implements on the mirror."""
    release = _triple(text[len("pypy-") :])
    language = offered.get(release)
    if language is None:
        raise messages.pypy_release_not_available(text, release, offered)
    return RequestedPython(language[0], language[1], None, Origin.RUNTIME_TXT, text, PYPY, release)


def _decode_version_file(data: bytes) -> str:
    problem = _encoding_problem(data)
    if problem is None:
        return data.decode("utf-8")
    raise messages.version_file_encoding(problem)


def _encoding_problem(data: bytes) -> str | None:
    crlf = ", with CRLF line endings" if b"\r\n" in data else ""
    if data.startswith(b"\xef\xbb\xbf"):
        return f"it is saved as UTF-8 with BOM{crlf}"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "it is saved as UTF-16 (with a byte order mark)"
    if _looks_like_utf16(data):
        return "it is saved as UTF-16 (every other byte is NUL)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"it is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
    return None


def _looks_like_utf16(data: bytes) -> bool:
    if len(data) < 2 or len(data) % 2:
        return False
    even, odd = data[0::2], data[1::2]
    return (set(odd) == {0} and 0 not in even) or (set(even) == {0} and 0 not in odd)


# runtime.txt --------------------------------------------------------------------------------------


def _read_runtime_txt(app_dir: Path, default_text: str, pypy: Mapping[Version, Version]) -> RequestedPython:
    data = appfile.read_app_file(
        app_dir,
        app_dir / RUNTIME_TXT,
        limit=appfile.VERSION_FILE_LIMIT,
        failure_reason="runtime-txt::invalid-version",
    )
    try:
        lines = _content_lines(data.decode("utf-8"))
    except UnicodeDecodeError:
        lines = []
    if len(lines) == 1 and PYPY_RELEASE_RE.fullmatch(lines[0]):
        return _pypy_release_request(lines[0], pypy)
    language = PYPY_LANGUAGE_RE.fullmatch(lines[0]) if len(lines) == 1 else None
    if language is not None and language["pypy"] is not None:
        return _pypy_request(language, Origin.RUNTIME_TXT, lines[0])
    match = PREFIXED_RE.fullmatch(lines[0]) if len(lines) == 1 else None
    if match is None:
        raise messages.runtime_txt_invalid(default_text)
    return request_from(match, Origin.RUNTIME_TXT, lines[0][len("python-") :])


# Pipfile.lock -------------------------------------------------------------------------------------


def _read_pipfile_lock(app_dir: Path) -> RequestedPython | None:
    data = appfile.read_app_file(
        app_dir,
        app_dir / PIPFILE_LOCK,
        limit=appfile.LOCK_FILE_LIMIT,
        failure_reason="pipfile-lock::invalid-json",
    )
    try:
        lock = json.loads(data.decode("utf-8"))
    except _PARSE_ERRORS as exc:
        raise messages.pipfile_lock_invalid(appfile.parse_problem(exc)) from None
    requires = dig(lock, "_meta", "requires")
    if not isinstance(requires, dict):
        return None
    for key in ("python_full_version", "python_version"):
        value = requires.get(key)
        if value is not None:
            return _pipfile_value(key, value)
    return None


def dig(value: object, *keys: str) -> object:
    """The value under nested keys of parsed JSON or TOML, None when any level is missing."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _pipfile_value(key: str, value: object) -> RequestedPython:
    text = messages.value_text(value)
    match = VERSION_RE.fullmatch(text) if isinstance(value, str) else None
    if match is None:
        raise messages.pipfile_lock_version(key, text)
    return request_from(match, Origin.PIPFILE_LOCK, text)


# pyproject.toml (D5) ------------------------------------------------------------------------------


def _read_pyproject(app_dir: Path, available: Sequence[Version]) -> RequestedPython | None:
    data = appfile.read_app_file(
        app_dir,
        app_dir / PYPROJECT,
        limit=appfile.MANIFEST_LIMIT,
        failure_reason="pyproject-toml::invalid-toml",
    )
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except _PARSE_ERRORS as exc:
        raise messages.pyproject_invalid(appfile.parse_problem(exc)) from None
    value = dig(document, "project", "requires-python")
    if value is None:
        return None
    text = messages.value_text(value)
    try:
        if not isinstance(value, str):
            raise ValueError("it must be a string")
        clauses = parse_specifier(value)
    except ValueError as exc:
        raise messages.bad_specifier(text, str(exc)) from exc
    return _choose(clauses, text, available)


def _choose(clauses: list[Clause], text: str, available: Sequence[Version]) -> RequestedPython:
    exact = pinned(clauses)
    if exact is not None:
        if satisfies(clauses, exact):
            return RequestedPython(exact[0], exact[1], exact[2], Origin.PYPROJECT, text)
        raise messages.no_match(text, available)
    latest = latest_by_major(available)
    for major in policy().supported:
        if major in latest and satisfies(clauses, latest[major]):
            return RequestedPython(major[0], major[1], None, Origin.PYPROJECT, text)
    # Nothing supported matches: an end-of-life major that does gets the end-of-life error later.
    for major in eol_candidates(latest):
        if satisfies(clauses, latest.get(major, _first_patch(major))):
            return RequestedPython(major[0], major[1], None, Origin.PYPROJECT, text)
    raise messages.no_match(text, available)


def _first_patch(major: Major) -> Version:
    return (major[0], major[1], 0)


# Sticky cache -------------------------------------------------------------------------------------


def read_cached(cached_version_file: Path) -> RequestedPython | None:
    """The major of the last build's version (`python-X.Y.Z`, or `pypy3.N-X.Y.Z` after a PyPy build:
    then the same PyPy language version); anything unreadable is ignored."""
    if not cached_version_file.is_file():  # never open a FIFO or a device left in the cache dir
        return None
    try:
        text = cached_version_file.read_text(encoding="utf-8").strip(_BLANKS)
    except (OSError, UnicodeDecodeError):
        return None
    pypy = PYPY_LANGUAGE_RE.fullmatch(text)
    if pypy is not None and pypy["pypy"] is not None:
        major, minor = int(pypy["major"]), int(pypy["minor"])
        return RequestedPython(major, minor, None, Origin.CACHED, f"pypy{major}.{minor}", PYPY)
    match = PREFIXED_RE.fullmatch(text)
    if match is None:
        return None
    major, minor = int(match.group(1)), int(match.group(2))
    return RequestedPython(major, minor, None, Origin.CACHED, f"{major}.{minor}")
