"""The failure reasons table (failures.py) and the code: each reason given is listed, each listed one
is given somewhere."""

from __future__ import annotations

import re

from pybuildpack import failures
from support import SRC

SLUG = re.compile(
    r'"([a-z][a-z0-9-]*(?:::[a-z0-9{}_-]+)+|install-python|nltk-downloader|collectstatic-[a-z-]+)"'
)


def source_slugs() -> set[str]:
    found: set[str] = set()
    for path in (SRC / "pybuildpack").rglob("*.py"):
        if path.name != "failures.py":
            found |= set(SLUG.findall(path.read_text(encoding="utf-8")))
    return {re.sub(r"::\{[a-z_]+\}$", "::*", slug) for slug in found}


def test_every_reason_the_code_gives_is_listed() -> None:
    assert {slug for slug in source_slugs() if not failures.is_known(slug)} == set()


def test_every_listed_reason_is_given_by_the_code() -> None:
    assert set(failures.REASONS) - source_slugs() == set()


def test_families() -> None:
    assert failures.is_known("hooks::pre_compile")
    assert failures.is_known("install-dependencies::poetry")
    assert not failures.is_known("hooks::")
    assert not failures.is_known("no-such::reason")
