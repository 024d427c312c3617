"""Helpers shared by the test suite: a local package index, a runtime mirror packed from the
interpreters on this machine, and a way to run the classic buildpack API against them.

- ``support.index``: wheelhouse download (cached, locked) + PEP 503 index served on 127.0.0.1.
- ``support.mirror``: ``pybuildpack runtime pack`` of the local CPython installs into one mirror.
- ``support.buildpack``: ``make_build_env()``, ``compile_app()``, ``free_port()``, ``http_get()``.
- ``support.cachedir``: the cross-session test cache and its file locks.
- ``support.pypy``: Debian's pypy3 packed once (experimental PyPy runtime) and a manifest offering it.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
SRC = REPO / "src"
FIXTURE_APPS = TESTS / "fixtures" / "apps"
