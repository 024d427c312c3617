"""Every package manager, in the order messages list them. Adding a manager is adding a module with a
``SPEC`` and a line here."""

from __future__ import annotations

from pybuildpack.package_managers import pip, pipenv, poetry, uv
from pybuildpack.package_managers.spec import ManagerSpec

SPECS: tuple[ManagerSpec, ...] = (pipenv.SPEC, pip.SPEC, poetry.SPEC, uv.SPEC)
BY_NAME: dict[str, ManagerSpec] = {spec.name: spec for spec in SPECS}


def spec(name: str) -> ManagerSpec:
    found = BY_NAME.get(name)
    if found is None:
        raise ValueError(f"unknown package manager {name!r}")
    return found
