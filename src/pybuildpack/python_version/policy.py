"""The support policy: the supported range, end-of-life and deprecation facts, the default version.

The facts live in ``data/python-versions.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pybuildpack.python_version.model import Major, ResolvedPython, Version, latest_by_major

ALLOW_EOL_VAR = "PYBUILDPACK_ALLOW_EOL_PYTHON"

_DATA_FILE = Path(__file__).parent.parent / "data" / "python-versions.json"


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


def major_of(text: str) -> Major:
    first, second = text.split(".")
    return int(first), int(second)


@cache
def policy() -> Policy:
    raw: dict[str, Any] = json.loads(_DATA_FILE.read_text(encoding="utf-8"))
    oldest, newest = major_of(raw["oldest_supported"]), major_of(raw["newest_supported"])
    if oldest[0] != newest[0] or oldest > newest:
        raise ValueError(f"{_DATA_FILE}: the supported range must lie within one major series")
    return Policy(oldest, newest, dict(raw["end_of_life"]["dates"]), dict(raw["deprecated"]))


def recommended_major(available: Sequence[Version]) -> Major:
    """The newest supported major the mirror has, else the newest supported one."""
    latest = latest_by_major(available)
    for major in policy().supported:
        if major in latest:
            return major
    return policy().newest


def eol_candidates(latest: dict[Major, Version]) -> list[Major]:
    """End-of-life majors the policy or the mirror knows, newest first."""
    known = {major_of(major) for major in policy().eol_dates}
    known.update(major for major in latest if policy().is_eol(major))
    return sorted(known, reverse=True)


def is_outdated(resolved: ResolvedPython, available: Sequence[Version]) -> bool:
    """A pinned patch older than the newest the mirror has for that major."""
    if resolved.requested.patch is None:
        return False
    latest = latest_by_major(available).get((resolved.version[0], resolved.version[1]))
    return latest is not None and latest > resolved.version
