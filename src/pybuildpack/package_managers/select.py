"""From the manager chosen by the app's files to the module that implements it."""

from __future__ import annotations

from pathlib import Path

from pybuildpack.context import BuildContext
from pybuildpack.errors import BuildError
from pybuildpack.package_managers.base import PackageManager
from pybuildpack.package_managers.pip import Pip
from pybuildpack.python_version import ResolvedPython

_NOT_YET = {
    "pipenv": ("Pipenv", "Pipfile.lock"),
    "poetry": ("Poetry", "poetry.lock"),
    "uv": ("uv", "uv.lock"),
}


def manager_for(
    name: str, manager_file: str, python: ResolvedPython, *, install_test: bool, installer: str | None = None
) -> PackageManager:
    """The manager for the selected name, set up for the resolved Python (tool pins depend on it).

    `installer` is the PYBUILDPACK_INSTALLER setting (e.g. "uv" to install requirements.txt with uv)."""
    if name == "pip":
        return Pip(manager_file, python, install_test=install_test)
    return NotYetSupported(name)


class NotYetSupported:
    """A manager pybuildpack recognises (so version rules apply) but cannot install yet.

    The build reads and checks the Python version first, exactly as it will once the manager is
    supported, and fails at the manager's install step with a clear way forward.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.tool_version = "unsupported"
        self.syncs_exactly = False

    def input_files(self, build_dir: Path) -> list[Path]:
        return [build_dir / _NOT_YET[self.name][1]]

    def build_env_additions(self) -> dict[str, str]:
        return {}

    def install_tool(self, ctx: BuildContext, python: ResolvedPython) -> None:
        title, lockfile = _NOT_YET[self.name]
        raise BuildError(
            f"This app is locked with {title} ({lockfile}), which pybuildpack cannot install yet.",
            "Only pip is supported so far; Pipenv, Poetry and uv support is being added.",
            f"Until then, export the locked dependencies to a requirements.txt (and remove {lockfile}), "
            "or build with a buildpack that supports it.",
            failure_reason=f"install-package-manager::{self.name}",
            failure_detail=self.name,
        )

    def install_dependencies(self, ctx: BuildContext, python: ResolvedPython) -> None:
        raise AssertionError("install_tool always fails first")
