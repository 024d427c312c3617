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
    if python.pypy is not None and (name != "pip" or chosen == "uv"):
        raise _pypy_unsupported(name if name != "pip" else "uv", manager_file, python)
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


_PYPY_EXPORT = {
    "uv": "uv export --format requirements-txt --no-hashes > requirements.txt",
    "poetry": "poetry export --without-hashes -o requirements.txt",
    "pipenv": "pipenv requirements > requirements.txt",
}


def _pypy_unsupported(name: str, manager_file: str, python: ResolvedPython) -> BuildError:
    requested = python.requested
    if name == "uv" and manager_file == "requirements.txt":
        where = "the config var PYBUILDPACK_INSTALLER=uv"
        fix = "Unset PYBUILDPACK_INSTALLER (pip installs requirements.txt),"
    else:
        where = f"{quoted(manager_file)}, which selects {name}"
        fix = (
            f"Install with pip instead: write requirements.txt (for example `{_PYPY_EXPORT[name]}`), "
            f"remove {manager_file} from the app,"
        )
    return BuildError(
        f"PyPy builds support only pip, and this app uses {name}.",
        f"The app requests PyPy ({quoted(requested.text)} in {requested.origin}), and {where}. PyPy support "
        f"is experimental: pybuildpack installs dependencies on PyPy with pip only, because the {name} "
        "setup it uses (hash-pinned tool locks, CPython wheels) is not made for PyPy.",
        f"{fix} or build on CPython: write the major version (for example 3.13) in .python-version "
        "in place of the PyPy request. Then commit the change.",
        failure_reason="package-manager::pypy-unsupported",
        failure_detail=f"{name}:{python.ident}",
    )
