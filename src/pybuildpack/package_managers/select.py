"""From the manager chosen by the app's files to the module that implements it."""

from __future__ import annotations

from pybuildpack.errors import BuildError
from pybuildpack.package_managers.base import PackageManager
from pybuildpack.package_managers.pip import Pip

_NAMES = {"pipenv": ("Pipenv", "Pipfile.lock"), "poetry": ("Poetry", "poetry.lock"), "uv": ("uv", "uv.lock")}


def manager_for(name: str, manager_file: str) -> PackageManager:
    if name == "pip":
        return Pip(manager_file)
    title, lockfile = _NAMES[name]
    raise BuildError(
        f"This app is locked with {title} ({lockfile}), which pybuildpack cannot install yet.",
        "Only pip is supported so far; Pipenv, Poetry and uv support is being added.",
        f"Until then, export the locked dependencies to a requirements.txt (and remove {lockfile}), "
        "or build with a buildpack that supports it.",
        failure_reason=f"install-package-manager::{name}",
        failure_detail=name,
    )
