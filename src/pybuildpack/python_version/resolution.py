"""Resolution: the exact version a request resolves to on a mirror, the report fields, and `decide`,
the one entry point that reads, resolves and says what the build log and report need."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pybuildpack.python_version import messages
from pybuildpack.python_version.model import (
    PYPY,
    PythonRules,
    RequestedPython,
    ResolvedPython,
    Version,
    latest_by_major,
)
from pybuildpack.python_version.policy import is_outdated, policy
from pybuildpack.python_version.sources import read_requested, version_files


def resolve(
    requested: RequestedPython,
    available: Sequence[Version],
    *,
    allow_eol: bool,
    mirror: str,
    pypy: Mapping[Version, Version] | None = None,
) -> ResolvedPython:
    """The exact version to install. Raises BuildError for end-of-life, unknown or unavailable versions.

    `pypy` maps the PyPy releases the mirror offers to the Python version each implements."""
    major = (requested.major, requested.minor)
    if policy().is_unknown(major):
        raise messages.unknown_major_error(requested, available)
    eol = policy().is_eol(major)
    if eol and not allow_eol:
        raise messages.eol_error(requested, available)
    if requested.is_pypy:
        return _resolve_pypy(requested, pypy or {}, eol=eol, mirror=mirror)
    latest = latest_by_major(available)
    if requested.patch is not None:
        version = (requested.major, requested.minor, requested.patch)
        if version not in set(available):
            raise messages.not_available_error(requested, available, mirror)
        return ResolvedPython(requested, version, eol)
    if major not in latest:
        raise messages.not_available_error(requested, available, mirror)
    return ResolvedPython(requested, latest[major], eol)


def _resolve_pypy(
    requested: RequestedPython, offers: Mapping[Version, Version], *, eol: bool, mirror: str
) -> ResolvedPython:
    """The newest PyPy release implementing the requested language version (or the one asked for)."""
    major = (requested.major, requested.minor)
    matching = [release for release, language in offers.items() if language[:2] == major]
    if requested.pypy is not None:
        matching = [release for release in matching if release == requested.pypy]
    if not matching:
        raise messages.pypy_not_available(requested, offers, mirror)
    release = max(matching)
    return ResolvedPython(requested, offers[release], eol, PYPY, release)


def report_fields(resolved: ResolvedPython, available: Sequence[Version], app_dir: Path) -> dict[str, object]:
    requested = resolved.requested
    fields: dict[str, object] = {
        "python_implementation": resolved.implementation,
        "python_version": resolved.full,
        "python_version_major": resolved.major_text,
        "python_version_requested": requested.version_text,
        "python_version_origin": str(requested.origin),
        "python_version_pinned": requested.patch is not None,
        "python_version_outdated": is_outdated(resolved, available),
    }
    if resolved.pypy is not None:
        fields["pypy_version"] = resolved.ident
    files = version_files(app_dir)
    if files is not None:
        fields["python_version_files"] = files
    return fields


@dataclass(frozen=True)
class PythonChoice:
    """The decision and what the log says about it."""

    resolved: ResolvedPython
    warnings: list[tuple[str, str]]


def _ignore(_: object) -> None:
    return None


def decide(
    app_dir: Path,
    *,
    manager: PythonRules,
    cached_version_file: Path,
    available: Sequence[Version],
    allow_eol: bool,
    mirror: str,
    on_step: Callable[[str], None] = _ignore,
    on_report: Callable[[dict[str, object]], None] = _ignore,
    pypy: Mapping[Version, Version] | None = None,
) -> PythonChoice:
    """Read the requested version, resolve it against `available`, and gather the warnings.

    `on_step` gets the step line as soon as the request is known (before resolution can fail), and
    `on_report` the report fields once the version is resolved (before a warning can fail the build).
    Raises BuildError."""
    requested = read_requested(
        app_dir, manager=manager, cached_version_file=cached_version_file, available=available, pypy=pypy
    )
    on_step(messages.step_text(requested))
    resolved = resolve(requested, available, allow_eol=allow_eol, mirror=mirror, pypy=pypy)
    on_report(report_fields(resolved, available, app_dir))
    return PythonChoice(resolved, messages.warnings(resolved, available, manager=manager))
