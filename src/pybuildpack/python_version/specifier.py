"""The PEP 440 specifier subset that requires-python needs: release versions only (no pre-releases,
post-releases, local versions or epochs), the operators ==, !=, <, <=, >, >=, ~=, === and wildcards."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pybuildpack.errors import quoted
from pybuildpack.python_version.model import VERSION_RE, Version, dotted


@dataclass(frozen=True)
class Clause:
    operator: str
    release: tuple[int, ...]
    wildcard: bool
    raw: str


_CLAUSE_RE = re.compile(r"(~=|===|==|!=|<=|>=|<|>)\s*(\S+)")
_RELEASE_RE = re.compile(r"[vV]?([0-9]+(?:\.[0-9]+)*)(\.\*)?")
_MAX_DIGITS = 100  # far beyond any real version, far below Python's int-string limit


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
    numbers = tuple(_number(number) for number in release.group(1).split("."))
    if operator == "~=" and len(numbers) < 2:
        raise ValueError(f"~= needs at least two version components, as in '~=3.12', not {quoted(part)}")
    return Clause(operator, numbers, wildcard, version)


def _number(digits: str) -> int:
    if len(digits) > _MAX_DIGITS:
        raise ValueError(f"a version component has {len(digits):,} digits")
    return int(digits)


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
        return clause.raw.lower() == dotted(version)
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


def pinned(clauses: Sequence[Clause]) -> Version | None:
    """The version an exact `==X.Y.Z` (or `===X.Y.Z`) clause pins, if any."""
    for clause in clauses:
        if clause.operator == "===":
            release = VERSION_RE.fullmatch(clause.raw)
            if release is not None:
                numbers = tuple(int(part) for part in release.groups() if part is not None)
                return (numbers[0], numbers[1], numbers[2] if len(numbers) > 2 else 0)
        elif clause.operator == "==" and not clause.wildcard and len(clause.release) <= 3:
            padded = _pad(clause.release, 3)
            return (padded[0], padded[1], padded[2])
    return None
