"""Which Python the app asks for (value + origin), and which exact version the build will install.

Reading (`read_requested`) looks at the app's files in precedence order and stops at the first that
names a version. Resolution (`resolve`) applies the supported range and the runtime manifest's
patches. `warnings` lists what the log should say about the choice, `report_fields` what the build
report records. The supported range and end-of-life facts live in ``data/python-versions.json``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pybuildpack.errors import BuildError, quoted

Version = tuple[int, int, int]
Major = tuple[int, int]

ORIGINS = (".python-version", "runtime.txt", "Pipfile.lock", "pyproject.toml", "cached", "default")
ALLOW_EOL_VAR = "PYBUILDPACK_ALLOW_EOL_PYTHON"

PYTHON_VERSION_FILE = ".python-version"
RUNTIME_TXT = "runtime.txt"
PIPFILE_LOCK = "Pipfile.lock"
PYPROJECT = "pyproject.toml"

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

_NUMBER = r"(0|[1-9][0-9]*)"
_VERSION_RE = re.compile(rf"{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?")
_RUNTIME_RE = re.compile(rf"python-{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?")
_CACHED_RE = re.compile(rf"python-{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?")
_VERSION_FILES_RE = re.compile(r"python.?version", re.IGNORECASE)
_BLANKS = " \t\r\n\v\f"
_DATA_FILE = Path(__file__).parent / "data" / "python-versions.json"


# --------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Policy:
    """The supported range and end-of-life knowledge from the data file."""

    oldest: Major
    newest: Major
    eol_dates: dict[str, str]
    deprecated: dict[str, dict[str, str]]

    @property
    def supported(self) -> list[Major]:
        """Supported majors, newest first."""
        return [(self.newest[0], minor) for minor in range(self.newest[1], self.oldest[1] - 1, -1)]

    def is_eol(self, major: Major) -> bool:
        return major < self.oldest

    def is_unknown(self, major: Major) -> bool:
        return major > self.newest


def _major_of(text: str) -> Major:
    first, second = text.split(".")
    return int(first), int(second)


@cache
def policy() -> Policy:
    raw: dict[str, Any] = json.loads(_DATA_FILE.read_text(encoding="utf-8"))
    oldest, newest = _major_of(raw["oldest_supported"]), _major_of(raw["newest_supported"])
    if oldest[0] != newest[0] or oldest > newest:
        raise ValueError(f"{_DATA_FILE}: the supported range must lie within one major series")
    return Policy(oldest, newest, dict(raw["end_of_life"]["dates"]), dict(raw["deprecated"]))


def _dotted(parts: Sequence[int]) -> str:
    return ".".join(str(part) for part in parts)


def _latest_by_major(available: Sequence[Version]) -> dict[Major, Version]:
    latest: dict[Major, Version] = {}
    for version in available:
        key = (version[0], version[1])
        if key not in latest or version > latest[key]:
            latest[key] = version
    return latest


def recommended_major(available: Sequence[Version]) -> Major:
    """The newest supported major the mirror has, else the newest supported one."""
    latest = _latest_by_major(available)
    for major in policy().supported:
        if major in latest:
            return major
    return policy().newest


# --------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class RequestedPython:
    """A version request and where it came from."""

    major: int
    minor: int
    patch: int | None
    origin: str
    text: str

    @property
    def major_text(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def version_text(self) -> str:
        """The request as a version: `3.13` or `3.13.1` (for pyproject.toml, not the specifier)."""
        return self.major_text if self.patch is None else f"{self.major_text}.{self.patch}"

    @property
    def specified(self) -> bool:
        """True when the app named a version (not cached, not default)."""
        return self.origin not in {"cached", "default"}


@dataclass(frozen=True)
class ResolvedPython:
    requested: RequestedPython
    version: Version
    eol: bool

    @property
    def full(self) -> str:
        return _dotted(self.version)

    @property
    def major_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def _request(match: re.Match[str], origin: str, text: str) -> RequestedPython:
    patch = None if match.group(3) is None else int(match.group(3))
    return RequestedPython(int(match.group(1)), int(match.group(2)), patch, origin, text)


def _content_lines(text: str) -> list[str]:
    """Lines with surrounding blanks trimmed, without empty and comment lines."""
    lines = (line.strip(_BLANKS) for line in text.split("\n"))
    return [line for line in lines if line and not line.startswith("#")]


# --------------------------------------------------------------------------------------------------
# Reading


def read_requested(
    app_dir: Path, *, manager: str, cached_version_file: Path, available: Sequence[Version]
) -> RequestedPython:
    """The requested version, from the highest-precedence source that names one. Raises BuildError."""
    _check_misspelled(app_dir)
    default_text = _dotted(recommended_major(available))
    runtime_txt = app_dir / RUNTIME_TXT
    if _present(runtime_txt):
        return _read_runtime_txt(runtime_txt, default_text)
    version_file = app_dir / PYTHON_VERSION_FILE
    if _present(version_file):
        return _read_python_version_file(version_file, default_text)
    found = None
    if manager == "pipenv" and _present(app_dir / PIPFILE_LOCK):
        found = _read_pipfile_lock(app_dir / PIPFILE_LOCK)
    if found is None and _present(app_dir / PYPROJECT):
        found = _read_pyproject(app_dir / PYPROJECT, available)
    if found is None:
        found = read_cached(cached_version_file)
    if found is None:
        major = recommended_major(available)
        found = RequestedPython(major[0], major[1], None, "default", _dotted(major))
    return found


def _present(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _read_file_bytes(path: Path, reason: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BuildError(
            f"Could not read {path.name}.",
            f"Reading {path.name} at the root of your app failed: {exc.strerror or exc}.",
            f"Make sure {path.name} is a regular, readable file (not a directory or a broken symlink).",
            failure_reason=reason,
        ) from exc


def _check_misspelled(app_dir: Path) -> None:
    try:
        names = {entry.name for entry in app_dir.iterdir()}
    except OSError:
        return
    for name in MISSPELLINGS:
        if name in names:
            raise BuildError(
                f"Found a file named {quoted(name)}, which looks like a misspelled "
                f"{quoted(PYTHON_VERSION_FILE)}.",
                "pybuildpack only reads the Python version from a file named exactly "
                f"{quoted(PYTHON_VERSION_FILE)}: a leading dot, a hyphen, all lower case, no extension "
                "and no spaces. A misspelled file would be ignored silently, so it stops the build.",
                f"Rename {quoted(name)} to {quoted(PYTHON_VERSION_FILE)} (if you already have a correct "
                "one, delete the misspelled file), for example:\n"
                f"    git mv {_shell_quote(name)} {PYTHON_VERSION_FILE}\n"
                "then commit the change.",
                failure_reason="python-version-file::misspelled",
                failure_detail=name,
            )


def _shell_quote(name: str) -> str:
    return "'" + name.replace("'", "'\\''") + "'"


def version_files(app_dir: Path) -> str | None:
    """Root files that look like version files (comma list), when neither runtime.txt nor
    .python-version exists; None otherwise (then the report leaves the field out)."""
    if _present(app_dir / RUNTIME_TXT) or _present(app_dir / PYTHON_VERSION_FILE):
        return None
    try:
        names = sorted(entry.name for entry in app_dir.iterdir() if entry.is_file())
    except OSError:
        return None
    return ",".join(name for name in names if _VERSION_FILES_RE.search(name))


# .python-version ----------------------------------------------------------------------------------


_VERSION_FILE_RULES = (
    "The file must contain the major version on a line of its own, for example:\n"
    "    {example}\n"
    "A patch version such as {example}.999 is also accepted but not recommended. Don't add quotes, "
    "a 'python-' prefix or wildcards, and put comments on their own line starting with '#'."
)


def _read_python_version_file(path: Path, default_text: str) -> RequestedPython:
    data = _read_file_bytes(path, "python-version-file::invalid-version")
    text = _decode_version_file(data)
    lines = _content_lines(text)
    rules = _VERSION_FILE_RULES.format(example=default_text)
    for line in lines:
        if not _VERSION_RE.fullmatch(line):
            raise BuildError(
                f"Invalid Python version in {PYTHON_VERSION_FILE}: {quoted(line)}.",
                f"The version line in {PYTHON_VERSION_FILE} is not a version pybuildpack understands "
                "(invisible characters are shown as \\uXXXX escapes or the NUL symbol).",
                f"{rules}\nFix {PYTHON_VERSION_FILE} and commit it.",
                failure_reason="python-version-file::invalid-version",
            )
    if not lines:
        raise BuildError(
            f"No Python version found in {PYTHON_VERSION_FILE}.",
            f"{PYTHON_VERSION_FILE} exists but has no version in it: it is empty or contains only "
            "blank lines and comments (lines starting with '#').",
            f"Add the major version to {PYTHON_VERSION_FILE} and commit it. {rules}",
            failure_reason="python-version-file::no-version",
        )
    if len(lines) > 1:
        listing = "\n".join(f"    {quoted(line)}" for line in lines)
        raise BuildError(
            f"{PYTHON_VERSION_FILE} contains more than one Python version.",
            f"Found these versions in {PYTHON_VERSION_FILE}:\n{listing}\nOnly one version may be given.",
            f"Keep only the version you want, for example {default_text}, and commit the file. Lines "
            "starting with '#' are comments.",
            failure_reason="python-version-file::multiple-versions",
            failure_detail=",".join(lines),
        )
    match = _VERSION_RE.fullmatch(lines[0])
    assert match is not None
    return _request(match, PYTHON_VERSION_FILE, lines[0])


def _decode_version_file(data: bytes) -> str:
    problem = _encoding_problem(data)
    if problem is None:
        return data.decode("utf-8")
    raise BuildError(
        f"Could not read {PYTHON_VERSION_FILE}: {problem}.",
        f"{PYTHON_VERSION_FILE} must be plain UTF-8 text without a byte order mark (BOM). This often "
        "happens when the file is written by a Windows editor or by shell redirection on Windows "
        "(PowerShell's '>' writes UTF-16), or converted by a .gitattributes 'working-tree-encoding' rule.",
        f"Save {PYTHON_VERSION_FILE} as UTF-8 without BOM (in most editors: 'UTF-8', not 'UTF-8 with BOM' "
        f"or 'UTF-16'), or recreate it, for example with:\n    printf '3.14\\n' > {PYTHON_VERSION_FILE}\n"
        "then commit it.",
        failure_reason="python-version-file::invalid-encoding",
        failure_detail=problem,
    )


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


def _read_runtime_txt(path: Path, default_text: str) -> RequestedPython:
    data = _read_file_bytes(path, "runtime-txt::invalid-version")
    try:
        lines = _content_lines(data.decode("utf-8"))
    except UnicodeDecodeError:
        lines = []
    match = _RUNTIME_RE.fullmatch(lines[0]) if len(lines) == 1 else None
    if match is None:
        raise BuildError(
            f"The Python version in {RUNTIME_TXT} is not in a valid format.",
            f"{RUNTIME_TXT} must be UTF-8 text with a single line like 'python-{default_text}' (blank lines "
            "and lines starting with '#' are ignored). Its contents are not shown here, in case the file "
            f"holds something else by mistake. Note that {RUNTIME_TXT} is deprecated.",
            f"Delete {RUNTIME_TXT} and create a file named {PYTHON_VERSION_FILE} at the root of your app "
            f"containing just the major version:\n    {default_text}\nthen commit both changes.",
            failure_reason="runtime-txt::invalid-version",
        )
    return _request(match, RUNTIME_TXT, lines[0][len("python-") :])


# Pipfile.lock -------------------------------------------------------------------------------------


def _read_pipfile_lock(path: Path) -> RequestedPython | None:
    data = _read_file_bytes(path, "pipfile-lock::invalid-json")
    try:
        lock = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildError(
            f"Could not parse {PIPFILE_LOCK}.",
            f"{PIPFILE_LOCK} is not valid JSON: {exc}.",
            f"Regenerate it by running 'pipenv lock' in your app's directory, then commit {PIPFILE_LOCK}.",
            failure_reason="pipfile-lock::invalid-json",
            failure_detail=str(exc)[:200],
        ) from exc
    requires = _dig(lock, "_meta", "requires")
    if not isinstance(requires, dict):
        return None
    for key in ("python_full_version", "python_version"):
        value = requires.get(key)
        if value is not None:
            return _pipfile_value(key, value)
    return None


def _dig(value: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _pipfile_value(key: str, value: object) -> RequestedPython:
    text = value if isinstance(value, str) else json.dumps(value)
    match = _VERSION_RE.fullmatch(text) if isinstance(value, str) else None
    if match is None:
        raise BuildError(
            f"Invalid Python version in {PIPFILE_LOCK}: {quoted(text)} ({key}).",
            f"The {key} value under [requires] must be a version like '3.14' or '3.14.1'; "
            "version ranges, wildcards such as '3.12.*' and operators such as '^' or '>=' are not "
            "supported there.",
            "Fix the version under [requires] in your Pipfile, for example:\n"
            '    python_version = "3.14"\n'
            f"then run 'pipenv lock' and commit Pipfile and {PIPFILE_LOCK}.",
            failure_reason="pipfile-lock::invalid-version",
            failure_detail=text[:200],
        )
    return _request(match, PIPFILE_LOCK, text)


# pyproject.toml (D5) ------------------------------------------------------------------------------


def _read_pyproject(path: Path, available: Sequence[Version]) -> RequestedPython | None:
    data = _read_file_bytes(path, "pyproject-toml::invalid-toml")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(
            f"Could not parse {PYPROJECT}.",
            f"pybuildpack reads [project].requires-python from {PYPROJECT}, but the file is not valid "
            f"TOML (UTF-8): {exc}.",
            f"Fix the syntax of {PYPROJECT} (any TOML checker shows the line), then commit it.",
            failure_reason="pyproject-toml::invalid-toml",
            failure_detail=str(exc)[:200],
        ) from exc
    value = _dig(document, "project", "requires-python")
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        if not isinstance(value, str):
            raise ValueError("it must be a string")
        clauses = parse_specifier(value)
    except ValueError as exc:
        raise _bad_specifier(text, str(exc)) from exc
    return _choose(clauses, text, available)


def _bad_specifier(text: str, reason: str) -> BuildError:
    return BuildError(
        f"Invalid requires-python in {PYPROJECT}: {quoted(text)}.",
        f"[project].requires-python must be a version specifier (PEP 440); this one is not: {reason}.",
        f"Fix requires-python in {PYPROJECT}, for example:\n"
        '    requires-python = ">=3.12"\n'
        "(operators: ==, !=, <, <=, >, >=, ~= and wildcards like '==3.12.*', separated by commas), "
        "then commit it.",
        failure_reason="pyproject-toml::invalid-requires-python",
        failure_detail=text[:200],
    )


def _choose(clauses: list[Clause], text: str, available: Sequence[Version]) -> RequestedPython:
    pinned = _pinned(clauses)
    if pinned is not None:
        if satisfies(clauses, pinned):
            return RequestedPython(pinned[0], pinned[1], pinned[2], PYPROJECT, text)
        raise _no_match(text, available)
    latest = _latest_by_major(available)
    for major in policy().supported:
        if major in latest and satisfies(clauses, latest[major]):
            return RequestedPython(major[0], major[1], None, PYPROJECT, text)
    # Nothing supported matches: an end-of-life major that does gets the end-of-life error later.
    for major in _eol_candidates(latest):
        if satisfies(clauses, latest.get(major, (*major, 0))):
            return RequestedPython(major[0], major[1], None, PYPROJECT, text)
    raise _no_match(text, available)


def _eol_candidates(latest: dict[Major, Version]) -> list[Major]:
    known = {_major_of(major) for major in policy().eol_dates}
    known.update(major for major in latest if policy().is_eol(major))
    return sorted(known, reverse=True)


def _no_match(text: str, available: Sequence[Version]) -> BuildError:
    latest = _latest_by_major(available)
    offered = [major for major in policy().supported if major in latest]
    names = ", ".join(_dotted(major) for major in offered) or "none"
    example = _dotted(recommended_major(available))
    return BuildError(
        f"No supported Python version satisfies requires-python {quoted(text)} in {PYPROJECT}.",
        f"pybuildpack picks the newest supported Python whose latest available release satisfies "
        f"[project].requires-python. Supported versions available for this build: {names}.",
        f'Change requires-python in {PYPROJECT} (for example ">={example}"), or create a '
        f"{PYTHON_VERSION_FILE} file containing {example}, then commit the change.",
        failure_reason="pyproject-toml::no-matching-version",
        failure_detail=text[:200],
    )


# PEP 440 specifiers (release versions only) -------------------------------------------------------


@dataclass(frozen=True)
class Clause:
    operator: str
    release: tuple[int, ...]
    wildcard: bool
    raw: str


_CLAUSE_RE = re.compile(r"(~=|===|==|!=|<=|>=|<|>)\s*(\S+)")
_RELEASE_RE = re.compile(r"[vV]?([0-9]+(?:\.[0-9]+)*)(\.\*)?")


def parse_specifier(text: str) -> list[Clause]:
    """Parse a comma-separated PEP 440 specifier whose versions are plain releases. Raises ValueError."""
    if not text.strip():
        raise ValueError("it is empty")
    return [_parse_clause(part.strip()) for part in text.split(",")]


def _parse_clause(part: str) -> Clause:
    match = _CLAUSE_RE.fullmatch(part)
    if match is None:
        raise ValueError(f"{quoted(part)} does not start with one of ==, !=, <, <=, >, >=, ~=, ===")
    operator, version = match.groups()
    if operator == "===":
        return Clause(operator, (), False, version)
    release = _RELEASE_RE.fullmatch(version)
    if release is None:
        raise ValueError(f"{quoted(version)} is not a release version like 3.12 or 3.12.1")
    wildcard = release.group(2) is not None
    if wildcard and operator not in {"==", "!="}:
        raise ValueError(f"wildcards are only allowed with == and !=, not in {quoted(part)}")
    numbers = tuple(int(number) for number in release.group(1).split("."))
    if operator == "~=" and len(numbers) < 2:
        raise ValueError(f"~= needs at least two version components, as in '~=3.12', not {quoted(part)}")
    return Clause(operator, numbers, wildcard, version)


def _pad(numbers: Sequence[int], length: int) -> tuple[int, ...]:
    return tuple(numbers) + (0,) * (length - len(numbers))


def _compare(left: Sequence[int], right: Sequence[int]) -> int:
    length = max(len(left), len(right))
    a, b = _pad(left, length), _pad(right, length)
    return (a > b) - (a < b)


_COMPARISONS: dict[str, Callable[[int], bool]] = {
    "==": lambda c: c == 0,
    "!=": lambda c: c != 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def clause_matches(clause: Clause, version: Version) -> bool:
    if clause.operator == "===":
        return clause.raw.lower() == _dotted(version)
    if clause.wildcard:
        prefix = clause.release
        hit = _pad(version, len(prefix))[: len(prefix)] == prefix
        return hit if clause.operator == "==" else not hit
    if clause.operator == "~=":
        prefix = clause.release[:-1]
        return _compare(version, clause.release) >= 0 and _pad(version, len(prefix))[: len(prefix)] == prefix
    return _COMPARISONS[clause.operator](_compare(version, clause.release))


def satisfies(clauses: Sequence[Clause], version: Version) -> bool:
    return all(clause_matches(clause, version) for clause in clauses)


def _pinned(clauses: Sequence[Clause]) -> Version | None:
    """The version an exact `==X.Y.Z` (or `===X.Y.Z`) clause pins, if any."""
    for clause in clauses:
        if clause.operator == "===":
            release = _VERSION_RE.fullmatch(clause.raw)
            if release is not None:
                numbers = tuple(int(part) for part in release.groups() if part is not None)
                return (numbers[0], numbers[1], numbers[2] if len(numbers) > 2 else 0)
        elif clause.operator == "==" and not clause.wildcard and len(clause.release) <= 3:
            padded = _pad(clause.release, 3)
            return (padded[0], padded[1], padded[2])
    return None


# Sticky cache -------------------------------------------------------------------------------------


def read_cached(cached_version_file: Path) -> RequestedPython | None:
    """The major of the last build's version (`python-X.Y.Z`); anything unreadable is ignored."""
    try:
        text = cached_version_file.read_text(encoding="utf-8").strip(_BLANKS)
    except (OSError, UnicodeDecodeError):
        return None
    match = _CACHED_RE.fullmatch(text)
    if match is None:
        return None
    major, minor = int(match.group(1)), int(match.group(2))
    return RequestedPython(major, minor, None, "cached", f"{major}.{minor}")


# --------------------------------------------------------------------------------------------------
# Step line


def step_text(requested: RequestedPython) -> str:
    if requested.origin == "default":
        return f"No Python version specified, using the buildpack default Python {requested.major_text}"
    if requested.origin == "cached":
        return (
            "No Python version specified, using the same major version as the last build: "
            f"Python {requested.major_text}"
        )
    if requested.origin == PYPROJECT:
        return (
            f"Using Python {requested.version_text} specified in {PYPROJECT} "
            f"(requires-python {quoted(requested.text)})"
        )
    return f"Using Python {requested.text} specified in {requested.origin}"


# --------------------------------------------------------------------------------------------------
# Resolution


def resolve(
    requested: RequestedPython, available: Sequence[Version], *, allow_eol: bool, mirror: str
) -> ResolvedPython:
    """The exact version to install. Raises BuildError for end-of-life, unknown or unavailable versions."""
    major = (requested.major, requested.minor)
    if policy().is_unknown(major):
        raise _unknown_major_error(requested, available)
    eol = policy().is_eol(major)
    if eol and not allow_eol:
        raise _eol_error(requested, available)
    latest = _latest_by_major(available)
    if requested.patch is not None:
        version = (requested.major, requested.minor, requested.patch)
        if version not in set(available):
            raise _not_available_error(requested, available, mirror)
        return ResolvedPython(requested, version, eol)
    if major not in latest:
        raise _not_available_error(requested, available, mirror)
    return ResolvedPython(requested, latest[major], eol)


def _how_to_change(requested: RequestedPython, example: str) -> str:
    origin = requested.origin
    if origin == PYTHON_VERSION_FILE:
        return f"Change the version in {PYTHON_VERSION_FILE} to {example}, then commit the change."
    if origin == RUNTIME_TXT:
        return (
            f"Change the version in {RUNTIME_TXT}, or better, since {RUNTIME_TXT} is deprecated: delete it "
            f"and create a {PYTHON_VERSION_FILE} file containing {example}, then commit the change."
        )
    if origin == PIPFILE_LOCK:
        return (
            "Change the version under [requires] in your Pipfile, for example:\n"
            f'    python_version = "{example}"\n'
            f"then run 'pipenv lock' and commit Pipfile and {PIPFILE_LOCK}."
        )
    if origin == PYPROJECT:
        return (
            f'Change requires-python in {PYPROJECT} (for example to ">={example}"), or create a '
            f"{PYTHON_VERSION_FILE} file containing {example}, then commit the change."
        )
    return _create_version_file(example)


def _create_version_file(example: str) -> str:
    return (
        f"Create a file named {PYTHON_VERSION_FILE} at the root of your app (the name starts with a dot "
        f"and has no extension) containing just the major version:\n    {example}\nthen commit it."
    )


def _origin_phrase(requested: RequestedPython) -> str:
    if requested.origin == "cached":
        return (
            "Your app does not specify a Python version, so the build reuses the major version of its "
            f"previous build ({requested.major_text}), remembered in the build cache."
        )
    if requested.origin == "default":
        return f"Python {requested.major_text} is the buildpack's default."
    return f"It is requested in {requested.origin}."


def _eol_error(requested: RequestedPython, available: Sequence[Version]) -> BuildError:
    rules = policy()
    recommended = _dotted(recommended_major(available))
    when = rules.eol_dates.get(requested.major_text)
    since = f" (upstream end of life: {when})" if when else ""
    fix = _how_to_change(requested, recommended)
    if requested.origin == "cached":
        fix = "Specify an explicit, supported version. " + _create_version_file(recommended)
    return BuildError(
        f"Python {requested.version_text} is end-of-life and not supported.",
        f"{_origin_phrase(requested)} Python {requested.major_text} no longer receives security "
        f"fixes{since}. pybuildpack supports Python {_dotted(rules.oldest)} to {_dotted(rules.newest)}; "
        f"upgrade to at least {_dotted(rules.oldest)}, we recommend {recommended}.",
        f"{fix}\n\nIf you must build an end-of-life version anyway, at your own risk, set the config var "
        f"{ALLOW_EOL_VAR}=1 (the runtime mirror must also provide that version).",
        failure_reason="python-version::eol",
        failure_detail=requested.major_text,
    )


def _unknown_major_error(requested: RequestedPython, available: Sequence[Version]) -> BuildError:
    rules = policy()
    recommended = _dotted(recommended_major(available))
    known = f"This buildpack knows Python {_dotted(rules.oldest)} to {_dotted(rules.newest)}."
    if requested.origin == "cached":
        explanation = (
            f"{_origin_phrase(requested)} {known} The previous build probably used a newer version of "
            "the buildpack than this one."
        )
        fix = "Use a newer version of the buildpack, or specify a version explicitly. "
        fix += _create_version_file(recommended)
    else:
        explanation = (
            f"{_origin_phrase(requested)} {known} Check that Python {requested.major_text} has been "
            "released and is supported; if it is newer, you need a newer version of the buildpack."
        )
        fix = "Otherwise, use a supported version. " + _how_to_change(requested, recommended)
    return BuildError(
        f"Python {requested.version_text} is not a recognised Python version.",
        explanation,
        fix,
        failure_reason="python-version::unknown-major",
        failure_detail=requested.version_text,
    )


def _not_available_error(requested: RequestedPython, available: Sequence[Version], mirror: str) -> BuildError:
    major = (requested.major, requested.minor)
    patches = sorted({version for version in available if version[:2] == major}, reverse=True)
    listing = ", ".join(_dotted(version) for version in patches)
    has = (
        f"has these Python {requested.major_text} versions: {listing}"
        if patches
        else (f"has no Python {requested.major_text} versions")
    )
    if patches:
        fix = (
            "Check that the version has been released. Request only the major version so that the newest "
            f"available patch is used. {_how_to_change(requested, requested.major_text)}"
        )
    else:
        offered = _dotted(recommended_major(available))
        fix = f"Use a version the mirror provides. {_how_to_change(requested, offered)}"
    return BuildError(
        f"Python {requested.version_text} is not available on the runtime mirror.",
        f"{_origin_phrase(requested)} The runtime mirror {mirror} {has}.",
        fix,
        failure_reason="python-version::unknown-patch",
        failure_detail=requested.version_text,
    )


# --------------------------------------------------------------------------------------------------
# Warnings


def warnings(
    resolved: ResolvedPython, available: Sequence[Version], *, manager: str
) -> list[tuple[str, str]]:
    """(headline, body) pairs to show after the version step, in order. Raises BuildError for uv apps
    that give no version or use runtime.txt."""
    found: list[tuple[str, str]] = []
    origin_warning = _origin_warning(resolved, manager)
    if origin_warning is not None:
        found.append(origin_warning)
    if resolved.eol:
        found.append(_eol_warning(resolved, available))
    deprecation = policy().deprecated.get(resolved.major_text)
    if deprecation is not None:
        found.append(_deprecated_warning(resolved, available, deprecation))
    outdated = _outdated_warning(resolved, available)
    if outdated is not None:
        found.append(outdated)
    return found


def _origin_warning(resolved: ResolvedPython, manager: str) -> tuple[str, str] | None:
    requested = resolved.requested
    major = requested.major_text
    if requested.origin in {"cached", "default"}:
        if manager == "uv":
            raise BuildError(
                "No Python version specified: uv apps must specify one.",
                f"Your app has no {PYTHON_VERSION_FILE} file and no [project].requires-python in "
                f"{PYPROJECT}. pybuildpack needs it to choose the Python that uv uses.",
                f"Run this command at the root of your app, then commit the {PYTHON_VERSION_FILE} file it "
                f"creates:\n    uv python pin {major}",
                failure_reason="python-version-file::not-found",
            )
        return _no_version_warning(requested)
    if requested.origin == RUNTIME_TXT:
        return _runtime_txt_deprecated(requested, manager)
    if requested.origin == PYPROJECT:
        return (
            f"Python version chosen from requires-python in {PYPROJECT}.",
            f"This build uses Python {resolved.major_text}, the newest available version that satisfies "
            f"requires-python {quoted(requested.text)}. To choose the version exactly, create a "
            f"{PYTHON_VERSION_FILE} file containing {resolved.major_text} and commit it.",
        )
    return None


def _no_version_warning(requested: RequestedPython) -> tuple[str, str]:
    major = requested.major_text
    how = (
        "the same major version as the previous build"
        if requested.origin == "cached"
        else "the buildpack's default version"
    )
    return (
        "No Python version was specified.",
        f"Your app does not say which Python version it needs, so this build uses {how}, Python {major}. "
        "The default changes over time, which can break your app unexpectedly.\n\n"
        f"{_create_version_file(major)}\n"
        f"Give only the major version ({major}), not a patch version, so that every build gets the latest "
        "patch with its security fixes.\n\n"
        f"If your app already has a {PYTHON_VERSION_FILE} file, check that it is at the top level of the "
        "app, that its name is exactly right (lower case, leading dot, no extension), that it is not "
        "listed in .gitignore or .slugignore, and that it is committed.\n\n"
        "A future version of pybuildpack will refuse to build apps that do not specify a version.",
    )


def _runtime_txt_deprecated(requested: RequestedPython, manager: str) -> tuple[str, str]:
    major = requested.major_text
    if manager == "uv":
        raise BuildError(
            f"{RUNTIME_TXT} is not supported for uv apps.",
            f"Your app requests Python {requested.text} in {RUNTIME_TXT}, which uv does not read, so uv "
            f"and the build could disagree about the Python version. uv uses {PYTHON_VERSION_FILE}.",
            f"Delete {RUNTIME_TXT}, then run this command at the root of your app and commit the "
            f"{PYTHON_VERSION_FILE} file it writes:\n    uv python pin {major}",
            failure_reason="runtime-txt::not-supported",
        )
    return (
        f"The {RUNTIME_TXT} file is deprecated.",
        f"Your app requests Python {requested.text} in {RUNTIME_TXT}. Specify it in a "
        f"{PYTHON_VERSION_FILE} file instead; {RUNTIME_TXT} support will be removed.\n\n"
        f"Delete {RUNTIME_TXT} and create {PYTHON_VERSION_FILE} at the root of your app containing just "
        f"the major version, then commit both changes, for example:\n"
        f"    git rm {RUNTIME_TXT}\n"
        f"    echo '{major}' > {PYTHON_VERSION_FILE}\n"
        f"    git add {PYTHON_VERSION_FILE}",
    )


def _eol_warning(resolved: ResolvedPython, available: Sequence[Version]) -> tuple[str, str]:
    recommended = _dotted(recommended_major(available))
    return (
        f"Python {resolved.major_text} is end-of-life and unsupported.",
        f"This build installs Python {resolved.full} because the config var {ALLOW_EOL_VAR}=1 is set. "
        "It gets no security fixes, current packaging tools may not work with it, and pybuildpack does "
        f"not support it. Upgrade as soon as possible; we recommend Python {recommended}. "
        f"{_how_to_change(resolved.requested, recommended)}",
    )


def _deprecated_warning(
    resolved: ResolvedPython, available: Sequence[Version], deprecation: dict[str, str]
) -> tuple[str, str]:
    recommended = _dotted(recommended_major(available))
    return (
        f"Support for Python {resolved.major_text} is deprecated.",
        f"Python {resolved.major_text} reaches its upstream end of life in {deprecation['upstream_eol']}, "
        "after which it gets no security fixes, and pybuildpack will stop building it on "
        f"{deprecation['support_removed']}. {_origin_phrase(resolved.requested)}\n\n"
        f"Upgrade to a newer version (we recommend Python {recommended}). "
        f"{_how_to_change(resolved.requested, recommended)}",
    )


def _outdated_warning(resolved: ResolvedPython, available: Sequence[Version]) -> tuple[str, str] | None:
    if not is_outdated(resolved, available):
        return None
    requested = resolved.requested
    latest = _dotted(_latest_by_major(available)[(resolved.version[0], resolved.version[1])])
    major = resolved.major_text
    if requested.origin == PYPROJECT:
        advice = f"change requires-python in {PYPROJECT} to '=={major}.*'"
    elif requested.origin == PIPFILE_LOCK:
        advice = f"set python_version = \"{major}\" in your Pipfile and run 'pipenv lock'"
    else:
        advice = f"write just {major} in {requested.origin}"
    return (
        f"A newer patch release of Python {major} is available.",
        f"Your app requests Python {resolved.full} in {requested.origin}, but Python {latest} is "
        f"available, with bug and security fixes. Update the version in {requested.origin} to "
        f"{latest}, or better, request only the major version so that each build gets the newest patch: "
        f"{advice}.",
    )


def is_outdated(resolved: ResolvedPython, available: Sequence[Version]) -> bool:
    """A pinned patch older than the newest the mirror has for that major."""
    if resolved.requested.patch is None:
        return False
    latest = _latest_by_major(available).get((resolved.version[0], resolved.version[1]))
    return latest is not None and latest > resolved.version


# --------------------------------------------------------------------------------------------------
# Build report


def report_fields(resolved: ResolvedPython, available: Sequence[Version], app_dir: Path) -> dict[str, object]:
    requested = resolved.requested
    fields: dict[str, object] = {
        "python_version": resolved.full,
        "python_version_major": resolved.major_text,
        "python_version_requested": requested.version_text,
        "python_version_origin": requested.origin,
        "python_version_pinned": requested.patch is not None,
        "python_version_outdated": is_outdated(resolved, available),
    }
    files = version_files(app_dir)
    if files is not None:
        fields["python_version_files"] = files
    return fields
