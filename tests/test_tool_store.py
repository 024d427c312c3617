"""Issue 11 item 2: a host-wide tool store (PYBUILDPACK_TOOL_STORE), so that the second app built on a
machine installs none of the tools the first one installed. The local platform sets it; here the
operator setting is given to bin/compile directly."""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from support.buildpack import CompileResult
from support.mirror import RuntimeMirror
from test_tool_wheels import version_of, where
from test_uv import needs, site_python

Compile = Callable[..., CompileResult]


def contents(root: Path) -> dict[str, str]:
    """Every file and link under root, with a digest of what it holds (links: their target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(root))] = "-> " + str(path.readlink())
        elif path.is_file():
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_second_app_takes_poetry_from_the_store_after_the_first_app_is_gone(
    compile_app: Compile, build_env: dict[str, str], tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    needs(runtime_mirror, "3.13")
    store = tmp_path / "store"
    env = {**build_env, "PYBUILDPACK_TOOL_STORE": str(store)}
    first = compile_app("poetry_basic", workdir=tmp_path / "first", env=env).check()
    assert "Installing Poetry" in first.stdout
    (entry,) = store.glob("poetry-*")
    assert entry.name.endswith("-py3.13-manylinux_x86_64"), entry.name
    before = contents(store)
    # The app that published the entry is gone: the entry must not depend on its paths.
    shutil.rmtree(tmp_path / "first")

    second = compile_app("poetry_basic", workdir=tmp_path / "second", env=env).check()
    assert "from the tool store" in second.stdout
    assert "Installing Poetry" not in second.stdout
    assert "Installing uv" not in second.stdout
    # runtime pip comes through uv (taken from the store), not through a pip process
    assert "for one-off commands at runtime, using uv" in second.stdout
    assert site_python(second, "import typing_extensions").returncode == 0
    _, poetry = where(second, "poetry")
    assert version_of(poetry, second.build_dir).startswith("Poetry (version ")
    # The build's copy is hard-linked to the store, and nothing the build did changed the store.
    copy = second.cache_dir / ".heroku" / "python-poetry"
    script, cfg = Path("venv/bin/poetry"), Path("venv/pyvenv.cfg")
    assert (copy / script).stat().st_ino == (entry / script).stat().st_ino
    assert (copy / cfg).stat().st_ino != (entry / cfg).stat().st_ino  # repointed: replaced, not rewritten
    assert contents(store) == before


def test_concurrent_builds_install_a_tool_once(
    compile_app: Compile, build_env: dict[str, str], tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    needs(runtime_mirror, "3.13")
    env = {**build_env, "PYBUILDPACK_TOOL_STORE": str(tmp_path / "store")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(compile_app, "pipenv_basic", workdir=tmp_path / name, env=env) for name in "ab"]
        results = [run.result().check() for run in runs]
    logs = [result.stdout for result in results]
    assert sum("Installing Pipenv" in log for log in logs) == 1, logs
    assert sum(bool(re.search(r"Using Pipenv \S+ from the tool store", log)) for log in logs) == 1, logs
    for result in results:
        assert site_python(result, "import typing_extensions").returncode == 0
