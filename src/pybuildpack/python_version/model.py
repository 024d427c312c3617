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
_TRIPLE = rf"{_NUMBER}\.{_NUMBER}\.{_NUMBER}"
# PyPy (experimental): runtime.txt `pypy-7.3.11` or `pypy3.9-7.3.11`; .python-version `pypy3.9` or
# `pypy3.9-7.3.11` (the forms pyenv and uv write). The language version is major.minor only.
PYPY_RELEASE_RE = re.compile(rf"pypy-(?P<pypy>{_TRIPLE})")
PYPY_LANGUAGE_RE = re.compile(rf"pypy(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})(?:-(?P<pypy>{_TRIPLE}))?")

CPYTHON = "cpython"
PYPY = "pypy"
IMPLEMENTATION_NAMES = {CPYTHON: "CPython", PYPY: "PyPy"}


@dataclass(frozen=True)
class RequestedPython:
    """A version request and where it came from."""

    major: int
    minor: int
    patch: int | None
    origin: str
    text: str
    implementation: str = CPYTHON
    pypy: Version | None = None  # the PyPy release asked for (pypy3.9-7.3.11), if any

    @property
    def major_text(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def is_pypy(self) -> bool:
        return self.implementation == PYPY

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
    version: Version  # the language version (for PyPy: the Python version it implements)
    eol: bool
    implementation: str = CPYTHON
    pypy: Version | None = None  # the PyPy release, for PyPy

    @property
    def full(self) -> str:
        return dotted(self.version)

    @property
    def ident(self) -> str:
        """What names this runtime in the sticky version, the cache key and the report:
        `3.12.1`, or `pypy3.9-7.3.11` (the form runtime.txt and .python-version accept)."""
        if self.pypy is None:
            return self.full
        return f"pypy{self.major_text}-{dotted(self.pypy)}"

    @property
    def display(self) -> str:
        """For the log: `Python 3.12.1`, or `PyPy 7.3.11 (Python 3.9.16)`."""
        if self.pypy is None:
            return f"Python {self.full}"
        return f"PyPy {dotted(self.pypy)} (Python {self.full})"

    @property
    def sticky_text(self) -> str:
        return f"python-{self.full}" if self.pypy is None else self.ident

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
