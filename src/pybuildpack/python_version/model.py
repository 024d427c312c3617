"""The values: a requested version with its origin, and the exact version the build installs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

Version = tuple[int, int, int]
Major = tuple[int, int]

PYTHON_VERSION_FILE = ".python-version"
RUNTIME_TXT = "runtime.txt"
PIPFILE_LOCK = "Pipfile.lock"
PYPROJECT = "pyproject.toml"


class Origin(StrEnum):
    """Where a requested version came from, in precedence order (the value is the file name shown
    in messages and recorded in the build report)."""

    PYTHON_VERSION_FILE = PYTHON_VERSION_FILE
    RUNTIME_TXT = RUNTIME_TXT
    PIPFILE_LOCK = PIPFILE_LOCK
    PYPROJECT = PYPROJECT
    CACHED = "cached"
    DEFAULT = "default"


ORIGINS = tuple(origin.value for origin in Origin)

_MAX_DIGITS = 9  # a version number longer than this is not a version (and int() is bounded)
_NUMBER = rf"(0|[1-9][0-9]{{0,{_MAX_DIGITS - 1}}})"
VERSION_RE = re.compile(rf"{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?")
PREFIXED_RE = re.compile(rf"python-{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?")


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
        return self.origin not in {Origin.CACHED, Origin.DEFAULT}


@dataclass(frozen=True)
class ResolvedPython:
    requested: RequestedPython
    version: Version
    eol: bool

    @property
    def full(self) -> str:
        return dotted(self.version)

    @property
    def major_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def dotted(parts: Sequence[int]) -> str:
    return ".".join(str(part) for part in parts)


def request_from(match: re.Match[str], origin: str, text: str) -> RequestedPython:
    """A request from a VERSION_RE or PREFIXED_RE match."""
    patch = None if match.group(3) is None else int(match.group(3))
    return RequestedPython(int(match.group(1)), int(match.group(2)), patch, origin, text)


def latest_by_major(available: Sequence[Version]) -> dict[Major, Version]:
    latest: dict[Major, Version] = {}
    for version in available:
        key = (version[0], version[1])
        if key not in latest or version > latest[key]:
            latest[key] = version
    return latest


@dataclass(frozen=True)
class PythonRules:
    """What an app's package manager changes about choosing its Python (each manager's SPEC says)."""

    version_in_lockfile: str | None = None  # a lockfile that may name the version (Pipenv: Pipfile.lock)
    explicit_version: bool = False  # a version must be given, and not in runtime.txt (uv reads neither)
