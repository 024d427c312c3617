"""Property tests of every parser of app files (issue 10.6), with a fixed seed and a bounded number of
examples per parser so that the suite stays quick. bench/fuzz_parsers.py runs the same properties
longer. The properties: no exception other than BuildError, a bounded error block, and nothing read
from outside the app (tests/support/fuzz.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version as PackagingVersion

from pybuildpack import python_version as pv
from support import fuzz

EXAMPLES = 150  # per parser
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
VERSION_FILES = st.sampled_from([".python-version", "runtime.txt"])
LINKS = st.one_of(st.none(), st.sampled_from(fuzz.LINK_TARGETS))


@FUZZ
@given(VERSION_FILES, fuzz.version_file_bytes, LINKS)
def test_version_files(name: str, data: bytes, link: str | None) -> None:
    fuzz.check_version_file(name, data, link)


@FUZZ
@given(fuzz.pipfile_lock_bytes)
def test_pipfile_lock(data: bytes) -> None:
    fuzz.check_pipfile_lock(data)


@FUZZ
@given(fuzz.pyproject_bytes, LINKS)
def test_pyproject_toml(data: bytes, link: str | None) -> None:
    fuzz.check_pyproject(data, link)


@FUZZ
@given(fuzz.requirements_trees)
def test_requirements_includes(tree: tuple[dict[str, bytes], dict[str, str]]) -> None:
    fuzz.check_requirements(*tree)


@FUZZ
@given(fuzz.procfile_bytes)
def test_procfile(data: bytes) -> None:
    fuzz.check_procfile(data)


@FUZZ
@given(fuzz.manifest_bytes)
def test_runtime_manifest(data: bytes) -> None:
    fuzz.check_manifest(data)


@FUZZ
@given(fuzz.env_dirs)
def test_env_dir_values(values: dict[str, bytes]) -> None:
    fuzz.check_env_dir(values)


# Differential test of the PEP 440 subset against `packaging` ---------------------------------------

versions = st.tuples(st.integers(0, 4), st.integers(0, 20), st.integers(0, 20))


@settings(max_examples=400, derandomize=True, deadline=None, database=None)
@given(fuzz.specifiers, st.lists(versions, min_size=1, max_size=8))
def test_specifier_subset_agrees_with_packaging(text: str, candidates: list[pv.Version]) -> None:
    try:
        clauses = pv.parse_specifier(text)
    except ValueError:
        return  # outside the subset: nothing to compare (a subset may refuse more)
    try:
        reference = SpecifierSet(text)
    except InvalidSpecifier:
        pytest.fail(f"the subset accepts {text!r}, which is not a valid PEP 440 specifier")
    for version in candidates:
        ours = pv.satisfies(clauses, version)
        theirs = reference.contains(PackagingVersion(".".join(map(str, version))), prereleases=True)
        assert ours == theirs, f"{text!r} on {version}: ours {ours}, packaging {theirs}"


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(fuzz.specifiers)
def test_specifier_subset_refuses_only_what_it_does_not_cover(text: str) -> None:
    """Whatever packaging accepts with plain release versions, the subset accepts too."""
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return
    if "rc" in text:
        return  # pre-releases are outside the subset by design
    pv.parse_specifier(text)
