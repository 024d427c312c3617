"""Where a build keeps everything: one object per face, and the only module that joins paths under
BUILD_DIR/.heroku, CACHE_DIR or the CNB layers dir.

The engine never builds such a path itself: it asks the layout. The classic layout is the classic
buildpack's tree (the runtime and the app's environment in ``BUILD_DIR/.heroku/python``, everything kept
between builds in CACHE_DIR). The CNB layout maps the same roles to layers (``<layers>/<name>``):

| role                                   | classic                              | CNB layer (types)          |
|----------------------------------------|--------------------------------------|----------------------------|
| runtime + the app's environment        | BUILD_DIR/.heroku/python             | python (build launch cache)|
| verified runtime archives              | CACHE_DIR/runtimes                   | runtimes (cache)           |
| sticky version, stack, report, lock    | CACHE_DIR/.heroku, build-data, ...   | state (cache)              |
| uv binary / Poetry's venv              | CACHE_DIR/.heroku/python-uv, -poetry | uv, poetry (build cache)   |
| Pipenv (kept at runtime)               | <python home>/pipenv                 | inside python              |
| pip / uv / Poetry / Pipenv caches      | CACHE_DIR/.heroku/*-cache            | pip-cache ... (cache)      |
| the cached environment (classic only)  | CACHE_DIR/pybuildpack/env            | (the python layer itself)  |
| the last collectstatic output          | CACHE_DIR/pybuildpack/collectstatic  | state/collectstatic        |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CLASSIC = "classic"
CNB = "cnb"

# CNB layer names and their types (launch, build, cache). The python layer's env files, exec.d and
# SBOM are written by the CNB face; the others are plain directories the engine fills.
CNB_LAYERS: dict[str, tuple[bool, bool, bool]] = {
    "python": (True, True, True),
    "runtimes": (False, False, True),
    "state": (False, False, True),
    "uv": (False, True, True),
    "poetry": (False, True, True),
    "pip-cache": (False, False, True),
    "uv-cache": (False, False, True),
    "poetry-cache": (False, False, True),
    "pipenv-cache": (False, False, True),
}

# The Layout location each tool layer holds. Those not owned by one manager (ManagerSpec.own_locations)
# are shared: uv installs every tool where it can, and pip is the fallback for any of them.
CNB_LAYER_LOCATIONS: dict[str, str] = {
    "uv": "uv_tool",
    "poetry": "poetry_tool",
    "pip-cache": "pip_cache",
    "uv-cache": "uv_cache",
    "poetry-cache": "poetry_cache",
    "pipenv-cache": "pipenv_cache",
}


@dataclass(frozen=True)
class Layout:
    """Every location one build uses."""

    face: str
    app_dir: Path
    cache_root: Path  # what hooks see as CACHE_DIR, and the working dir of tool installs
    python_home: Path  # the runtime, with the app's dependencies installed into it
    runtime_archives: Path
    sticky_version: Path
    sticky_stack: Path
    build_data: Path
    lock: Path
    env_cache: Path  # classic: the saved environment; CNB: unused (the python layer is the cache)
    uv_tool: Path
    poetry_tool: Path
    pip_cache: Path
    uv_cache: Path
    poetry_cache: Path
    pipenv_cache: Path
    pip_report: Path
    collectstatic_cache: Path  # the last collectstatic output and what it was made from (issue 11)
    profile_d: Path | None  # classic only: the runtime environment as shell scripts
    default_web: Path | None  # classic only: the default web command bin/release declares

    @property
    def python(self) -> Path:
        return self.python_home / "bin" / "python"

    @property
    def pipenv_tool(self) -> Path:
        return self.python_home / "pipenv"

    @property
    def nltk_data(self) -> Path:
        return self.python_home / "nltk_data"

    @property
    def pip_src(self) -> Path:
        return self.python_home / "src"


def classic(build_dir: Path, cache_dir: Path) -> Layout:
    heroku = cache_dir / ".heroku"
    return Layout(
        face=CLASSIC,
        app_dir=build_dir,
        cache_root=cache_dir,
        python_home=classic_python_home(build_dir),
        runtime_archives=cache_dir / "runtimes",
        sticky_version=classic_sticky_version(cache_dir),
        sticky_stack=heroku / "python-stack",
        build_data=classic_build_data(cache_dir),
        lock=cache_dir / "pybuildpack" / "lock",
        env_cache=cache_dir / "pybuildpack",
        uv_tool=heroku / "python-uv",
        poetry_tool=heroku / "python-poetry",
        pip_cache=heroku / "pip-cache",
        uv_cache=heroku / "uv-cache",
        poetry_cache=heroku / "poetry-cache",
        pipenv_cache=heroku / "pipenv-cache",
        pip_report=heroku / "pip-report.json",
        collectstatic_cache=cache_dir / "pybuildpack" / "collectstatic",
        profile_d=build_dir / ".profile.d",
        default_web=classic_default_web(build_dir),
    )


def classic_python_home(build_dir: Path) -> Path:
    return build_dir / ".heroku" / "python"


def classic_default_web(build_dir: Path) -> Path:
    """The default web command the build found and the app opted into, for bin/release (which is only
    given BUILD_DIR); absent when there is none."""
    return build_dir / ".heroku" / "pybuildpack-default-web"


def classic_sticky_version(cache_dir: Path) -> Path:
    """python-X.Y.Z of the last successful build (where the classic buildpack keeps it)."""
    return cache_dir / ".heroku" / "python-version"


def classic_build_data(cache_dir: Path) -> Path:
    """The build report behind bin/report."""
    return cache_dir / "build-data" / "python.json"


def cnb(app_dir: Path, layers_dir: Path) -> Layout:
    state = layers_dir / "state"
    return Layout(
        face=CNB,
        app_dir=app_dir,
        cache_root=state,
        python_home=layers_dir / "python",
        runtime_archives=layers_dir / "runtimes",
        sticky_version=state / "python-version",
        sticky_stack=state / "python-stack",
        build_data=state / "build-data" / "python.json",
        lock=state / "lock",
        env_cache=state / "unused-env-cache",
        uv_tool=layers_dir / "uv",
        poetry_tool=layers_dir / "poetry",
        pip_cache=layers_dir / "pip-cache",
        uv_cache=layers_dir / "uv-cache",
        poetry_cache=layers_dir / "poetry-cache",
        pipenv_cache=layers_dir / "pipenv-cache",
        pip_report=state / "pip-report.json",
        collectstatic_cache=state / "collectstatic",
        profile_d=None,
        default_web=None,
    )


def stdlib_dirs(python_home: Path) -> list[Path]:
    """The standard library directories of an installed Python: ``lib/pythonX.Y`` (CPython) or
    ``lib/pypyX.Y`` (PyPy)."""
    found = [*python_home.glob("lib/python[0-9]*"), *python_home.glob("lib/pypy[0-9]*")]
    return sorted(path for path in found if path.is_dir() and not path.is_symlink())


def site_packages_dirs(python_home: Path) -> list[Path]:
    """Where packages are installed in an installed Python (one per stdlib directory)."""
    return [lib / "site-packages" for lib in stdlib_dirs(python_home) if (lib / "site-packages").is_dir()]
