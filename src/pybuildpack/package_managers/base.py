"""The protocol every package manager follows. Adding a manager means adding one module."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pybuildpack.context import BuildContext
from pybuildpack.errors import BuildError
from pybuildpack.python_version import ResolvedPython

# Known failure signatures in installer output, and what to tell the user about them.
HINTS: tuple[tuple[str, str, str], ...] = (
    (
        "Could not find gdal-config",
        "gdal",
        "A package needs the GDAL C library, which this build environment does not provide.\n"
        "Add a buildpack that installs GDAL (a geo buildpack) before this one.",
    ),
    (
        "sqlite3.h: No such file or directory",
        "sqlite3-headers",
        "A package tried to compile against the SQLite headers, which the Python runtime no longer ships.\n"
        "Use the standard library's sqlite3 module, or pysqlite3 0.6.0 or newer.",
    ),
    (
        "Please use pip<24.1 if you need to use this version",
        "legacy-metadata",
        "A dependency has metadata that current pip versions reject (for example Celery older than 5.2.1).\n"
        "Upgrade that dependency to a newer release.",
    ),
)


class PackageManager(Protocol):
    """One package manager. The pipeline calls these in this order: build_env_additions (after
    selection), install_tool, install_dependencies. The build cache (cache.py) uses name,
    tool_version, input_files and syncs_exactly to decide whether a cached environment is reused,
    updated in place, or discarded."""

    name: str  # "pip" | "pipenv" | "poetry" | "uv": the report's package_manager value

    @property
    def tool_version(self) -> str:
        """The pinned version of the manager itself (printed, recorded, part of the cache key)."""

    @property
    def syncs_exactly(self) -> bool:
        """True if install_dependencies, started from an older environment, leaves exactly the set a
        clean install would give (removing what is no longer required). Otherwise a change of the
        inputs discards the cached environment."""

    def input_files(self, build_dir: Path) -> list[Path]:
        """Every file whose content decides what gets installed (lockfiles, requirements files and
        the files they include, pyproject.toml, setup.py...). Their digests are the cache key."""

    def build_env_additions(self) -> dict[str, str]:
        """Variables the manager adds to the build environment (seen by later steps and hooks)."""

    def install_tool(self, ctx: BuildContext, python: ResolvedPython) -> None:
        """Install the manager itself (pinned), printing a step; reuse it when already present."""

    def install_dependencies(self, ctx: BuildContext, python: ResolvedPython) -> None:
        """Install the app's dependencies into BUILD_DIR/.heroku/python, printing a step."""


def dependency_failure(ctx: BuildContext, manager: str, output: str) -> BuildError:
    """Print a hint block when the log matches a known problem, then return the install error."""
    detail = None
    for marker, slug, hint in HINTS:
        if marker in output:
            ctx.console.block("Note", "A known problem was found in the output above.", hint)
            detail = slug
            break
    return BuildError(
        f"Could not install the dependencies with {manager}.",
        f"{manager} exited with an error; its output above says why.",
        "Fix the problem it reports (often a typo in a requirement, a version that does not exist, or a "
        "package that needs system libraries), commit, and build again.",
        failure_reason=f"install-dependencies::{manager}",
        failure_detail=detail,
    )
