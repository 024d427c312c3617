"""Session fixtures: a local package index and a runtime mirror made from this machine's interpreters.

- ``package_index``: wheels from ``tests/index-requirements.txt`` served as a PEP 503 index on
  127.0.0.1 (``.url``, ``.wheelhouse``). Downloaded once into the test cache, then reused.
- ``runtime_mirror``: the pyenv CPython installs packed with ``pybuildpack runtime pack`` into one
  mirror (``.manifest``, ``.versions``, ``.latest("3.12")``, ``.has("3.9")``). Skips without them.
- ``build_env``: the environment a platform gives ``bin/compile``, wired to both.
- ``compile_app``: ``compile_app("app_name", config={...})`` runs ``bin/compile`` on a copy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
for _path in (TESTS.parent / "src", TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from support import buildpack  # noqa: E402
from support.cachedir import cache_root  # noqa: E402
from support.index import PackageIndex, prepare_index, serve_index  # noqa: E402
from support.mirror import (  # noqa: E402
    RuntimeMirror,
    find_interpreters,
    prepare_mirror,
    pyenv_root,
    wanted_majors,
)


@pytest.fixture(scope="session")
def package_index() -> Iterator[PackageIndex]:
    problem = ""
    try:
        root = prepare_index()
    except Exception as exc:
        problem = f"could not prepare the local package index: {exc}"
    if problem:
        pytest.fail(problem, pytrace=False)
    with serve_index(root) as index:
        yield index


def _mirror_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test cache, or with PYBUILDPACK_TEST_RUNTIME_CACHE=0 a dir shared by this run's workers."""
    if os.environ.get("PYBUILDPACK_TEST_RUNTIME_CACHE", "1") == "0":
        shared = tmp_path_factory.getbasetemp().parent / "pybuildpack-runtimes"
        shared.mkdir(parents=True, exist_ok=True)
        return shared
    return cache_root()


@pytest.fixture(scope="session")
def runtime_mirror(tmp_path_factory: pytest.TempPathFactory) -> RuntimeMirror:
    root = pyenv_root()
    interpreters = find_interpreters(root, wanted_majors())
    if not interpreters:
        pytest.skip(
            f"no CPython found under {root / 'versions'}; install some with pyenv (or set PYENV_ROOT) "
            "to run the tests that need a runtime"
        )
    try:
        return prepare_mirror(_mirror_cache(tmp_path_factory), interpreters)
    except Exception as exc:
        problem = f"could not pack the test runtime mirror: {exc}"
    pytest.fail(problem, pytrace=False)


@pytest.fixture
def build_env(tmp_path: Path, package_index: PackageIndex, runtime_mirror: RuntimeMirror) -> dict[str, str]:
    return buildpack.make_build_env(
        tmp_path / "home", index_url=package_index.url, manifest=runtime_mirror.manifest
    )


@pytest.fixture
def compile_app(tmp_path: Path, build_env: dict[str, str]) -> Callable[..., buildpack.CompileResult]:
    def run(app: str | Path, **kwargs: Any) -> buildpack.CompileResult:
        kwargs.setdefault("env", build_env)
        kwargs.setdefault("workdir", tmp_path)
        return buildpack.compile_app(app, **kwargs)

    return run
