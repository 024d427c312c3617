"""A host-wide store of installed build tools, shared by every app a machine builds (issue 11).

When the operator setting ``PYBUILDPACK_TOOL_STORE`` names a directory (the local platform sets it to
``~/.cache/pybuildpack/tools``), a tool a build needs (uv, Poetry with its plugin, Pipenv) is looked up
there before it is installed, by a key of tool, version, Python minor and platform. A build that has to
install it anyway publishes its install to the store, so the next app with the same tools installs none
of them.

- An entry is published whole, by renaming a finished copy into place, and never changed afterwards;
  readers need no lock.
- One build at a time installs a given key: the others wait on that key's lock and then take the entry.
- A build gets its own copy of the entry (hard links where the filesystem allows, else copies), so the
  app's cache stays self-contained. Files in a copy are only ever replaced, never written in place
  (tools.write_marker, Poetry's repointing), so a copy never changes the store.
- Console scripts are made relocatable before publishing: an entry works from any app's cache dir.

The store is never pruned by the build: delete the directory to reclaim its space.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from pybuildpack import filelock, settings
from pybuildpack.links import link_or_copy
from pybuildpack.output import Console
from pybuildpack.package_managers import uv_wheel
from pybuildpack.relocate import relocatable_shebangs

SETTING = "PYBUILDPACK_TOOL_STORE"
_LOCK_TIMEOUT = 900.0


def root(config: Mapping[str, str], environ: Mapping[str, str]) -> Path | None:
    """The store's directory, or None when the operator has not set one (each app installs its own)."""
    value = settings.value(SETTING, config, environ)
    return Path(value) if value else None


def key(tool: str, version: str, python_minor: str | None = None) -> str:
    """tool-version[-pyX.Y]-platform: what an install depends on. uv is one binary, so it has no Python."""
    platform = uv_wheel.platform_key() or f"other_{os.uname().machine}"
    parts = [tool, version, *([f"py{python_minor}"] if python_minor else []), platform]
    return "-".join(parts)


def provide(
    store: Path | None, entry: tuple[str, Path], install: Callable[[], None], *, console: Console, label: str
) -> bool:
    """Fill ``home`` (entry = (key, home)) with the tool: from the store if it has the key (True), else by
    ``install()``, then publishing the result (False). Without a store, just ``install()``."""
    entry_key, home = entry
    if store is None:
        install()
        return False
    stored = store / entry_key

    def waiting() -> None:
        console.info(f"Waiting for another build that is installing {label} into the tool store")

    with filelock.exclusive(store / f".{entry_key}.lock", what=f"{label} in {store}", timeout=_LOCK_TIMEOUT,
                            on_wait=waiting):  # fmt: skip
        if stored.is_dir():
            _replace_with_copy(stored, home)
            return True
        install()
        _publish(home, stored)
    return False


def _replace_with_copy(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source``, made beside it and renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _link_tree(source, staging)
        staging.chmod(0o755)  # mkdtemp made it private
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _publish(home: Path, entry: Path) -> None:
    """Copy a finished install into the store under its key, with relocatable console scripts (made so
    in ``home`` first: they then work from the app's cache and from any copy)."""
    for bin_dir in home.glob("*/bin"):
        if not bin_dir.is_symlink() and bin_dir.is_dir():
            relocatable_shebangs(bin_dir)
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        _link_tree(home, staging)
        staging.chmod(0o755)  # readable by whoever may read the store
        staging.rename(entry)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _link_tree(source: Path, target: Path) -> None:
    """Copy ``source`` into the existing dir ``target``: files hard-linked where possible, symlinks kept."""
    shutil.copytree(source, target, symlinks=True, copy_function=link_or_copy, dirs_exist_ok=True)
