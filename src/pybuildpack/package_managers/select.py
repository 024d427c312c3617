"""From the manager chosen by the app's files to the module that implements it."""

from __future__ import annotations

from pybuildpack.errors import BuildError, quoted
from pybuildpack.package_managers.base import PackageManager
from pybuildpack.package_managers.pip import Pip
from pybuildpack.package_managers.pipenv import Pipenv
from pybuildpack.package_managers.poetry import Poetry
from pybuildpack.package_managers.uv import Uv, UvPipInstaller
from pybuildpack.python_version import ResolvedPython

INSTALLERS = ("pip", "uv")


def manager_for(
    name: str, manager_file: str, python: ResolvedPython, *, install_test: bool, installer: str | None = None
) -> PackageManager:
    """The manager for the selected name, set up for the resolved Python (tool pins depend on it).

    `installer` is the PYBUILDPACK_INSTALLER setting (e.g. "uv" to install requirements.txt with uv)."""
    chosen = (installer or "pip").strip().lower()
    if chosen not in INSTALLERS:
        raise BuildError(
            f"PYBUILDPACK_INSTALLER is set to an unknown installer: {quoted(chosen)}.",
            f"It chooses what installs requirements.txt; the choices are {', '.join(INSTALLERS)}.",
            "Set PYBUILDPACK_INSTALLER=uv, or unset it to use pip (the default).",
            failure_reason="checks::invalid-installer",
        )
    if name == "pip":
        if chosen == "uv" and manager_file == "requirements.txt":
            return UvPipInstaller(python, install_test=install_test)
        return Pip(manager_file, python, install_test=install_test)
    if name == "uv":
        return Uv(python, install_test=install_test)
    if name == "poetry":
        return Poetry(python, install_test=install_test)
    if name == "pipenv":
        return Pipenv(python, install_test=install_test)
    raise AssertionError(f"unknown package manager {name!r}")
