"""What each package manager declares about itself, as data: the file that selects it, the
environment the installed app needs at runtime and later buildpacks need during the build, and
whether pip is added for one-off commands. The faces render these; nothing outside
``package_managers/`` branches on a manager's name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pybuildpack.layout import Layout
from pybuildpack.python_version.model import PythonRules

Action = Literal["set", "prepend", "default"]

NO_RULES = PythonRules()
NOTHING_TO_INSTALL = "nothing"  # the "manager file" of an app with no project and no manager file (D1)


@dataclass(frozen=True)
class EnvVar:
    """One variable of a runtime or build environment.

    ``value`` is literal text, or with ``under`` (the name of a Layout path: ``python_home``,
    ``uv_tool``, ``poetry_tool``) a path relative to that location ("" for the location itself).
    ``prepend`` joins with ``:`` in front of any existing value; ``default`` keeps a value already set.
    """

    name: str
    value: str = ""
    action: Action = "set"
    under: str | None = None


def no_vars(_where: Layout) -> tuple[EnvVar, ...]:
    return ()


@dataclass(frozen=True)
class ManagerSpec:
    name: str  # the report's package_manager value
    display: str  # the name used in messages
    file: str  # the file at the app's root that selects it
    runtime_env: tuple[EnvVar, ...]  # what the installed app needs at runtime
    build_env: Callable[[Layout], tuple[EnvVar, ...]]  # what later buildpacks need during the build
    pip_at_runtime: bool  # pip is installed into the environment for one-off commands
    suggest_uv: bool = True  # the end of the build suggests uv (not to apps that use it already)
    python: PythonRules = NO_RULES  # how it changes the choice of the Python version
    # Layout locations only this manager uses (tool dirs and caches); a CNB build drops the layers of
    # the others, so an app that changed its manager stops carrying the old manager's tools.
    own_locations: tuple[str, ...] = ()
