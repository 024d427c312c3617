"""What the app directory contains: detection and package-manager selection.

Detection is deliberately wider than what a build accepts (misspelled requirements files, a bare
``venv/``): an app that is "almost" Python passes detect so that compile can explain precisely what
is missing, instead of the platform saying only "no buildpack matched".
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pybuildpack import appfile
from pybuildpack.errors import BuildError, cut_list, visible
from pybuildpack.package_managers.registry import SPECS
from pybuildpack.package_managers.spec import NOTHING_TO_INSTALL

DETECT_FILES: tuple[str, ...] = (
    ".python-version",
    "__init__.py",
    "app.py",
    "main.py",
    "manage.py",
    "pdm.lock",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "pyproject.toml",
    "requirements.txt",
    "runtime.txt",
    "server.py",
    "setup.cfg",
    "setup.py",
    "uv.lock",
    # common misspellings of requirements.txt: detected so compile can point at the mistake
    "requeriments.txt",
    "requirement.txt",
    "requirements",
    "requirements.text",
    "Requirements.txt",
    "requirements.txt.txt",
    "requirments.txt",
    # directories
    "__pycache__",
    ".venv",
    "venv",
)

# Manager files in the fixed order used by every message: (file, manager id, display name).
MANAGER_FILES: tuple[tuple[str, str, str], ...] = tuple((s.file, s.name, s.display) for s in SPECS)


_ACCEPTED = "('requirements.txt',\n'Pipfile.lock', 'poetry.lock' or 'uv.lock')"


def is_python_app(app_dir: Path) -> bool:
    """True when any detect file or directory exists at the root (exact, case-sensitive names)."""
    try:
        present = {entry.name for entry in app_dir.iterdir()}
    except OSError:
        return False
    return any(name in present and (app_dir / name).exists() for name in DETECT_FILES)


def root_listing(app_dir: Path) -> list[str]:
    """The root directory's entries, sorted, dotfiles included, directories suffixed ``/``."""
    try:
        entries = sorted(app_dir.iterdir(), key=lambda entry: entry.name)
    except OSError:
        return []
    return [f"{entry.name}/" if entry.is_dir() else entry.name for entry in entries]


def _listing_text(app_dir: Path) -> str:
    listing = root_listing(app_dir)
    if not listing:
        return "(the directory is empty)"
    return "\n".join(cut_list(visible(entry) for entry in listing))


def _checklist() -> str:
    return (
        "If your app has one of these files already, check that it is:\n"
        "1. in the top level directory (not in a subdirectory),\n"
        "2. named with exactly this spelling and case (e.g. 'requirements.txt', not 'Requirements.txt'),\n"
        "3. not listed in '.gitignore' or '.slugignore',\n"
        "4. committed to your Git repository (check with 'git status').\n"
        "\n"
        "An app without any dependencies still needs one: an empty 'requirements.txt' is enough."
    )


def not_detected_error(app_dir: Path) -> BuildError:
    """The detect failure: nothing at the root looks like a Python project."""
    return BuildError(
        headline="No Python project files were found.",
        explanation=(
            f"A Python app must have a package manager file {_ACCEPTED}\n"
            "in the root directory of its source code.\n"
            "\n"
            "The root directory of your app currently contains:\n"
            "\n"
            f"{_listing_text(app_dir)}"
        ),
        fix=_checklist(),
        failure_reason="detect::no-python-project-files",
    )


def manager_files(app_dir: Path) -> list[str]:
    """Which manager files exist (regular files, symlinks followed), in the fixed order."""
    return [name for name, _, _ in MANAGER_FILES if (app_dir / name).is_file()]


def select_manager(app_dir: Path) -> tuple[str, str]:
    """The package manager and the file that selected it; a BuildError when there isn't exactly one.

    Returns ``("pipenv", "Pipfile.lock")``, ``("pip", "requirements.txt")``, ``("poetry", "poetry.lock")``,
    ``("uv", "uv.lock")``, or, with no manager file (team decision D1), ``("pip", "pyproject.toml")`` /
    ``("pip", "setup.py")`` meaning "pip-install the project itself", or ``("pip", NOTHING_TO_INSTALL)``
    when the only such files define no project (an empty ``setup.py``, a ``pyproject.toml`` holding only
    tool settings): the build then installs nothing and says so.
    """
    if (app_dir / "Pipfile").is_file() and not (app_dir / "Pipfile.lock").is_file():
        raise _pipenv_missing_lockfile()
    found = manager_files(app_dir)
    if len(found) > 1:
        raise _multiple_found(found)
    if found:
        name = found[0]
        return next(manager for file, manager, _ in MANAGER_FILES if file == name), name
    return _project_install(app_dir)


def _project_install(app_dir: Path) -> tuple[str, str]:
    """D1: no manager file, but an installable project (pyproject.toml tables or setup.py), or only
    files that define no project (then there is nothing to install)."""
    pyproject = app_dir / "pyproject.toml"
    setup_py = app_dir / "setup.py"
    if pyproject.is_file() and _pyproject_installable(pyproject):
        return "pip", "pyproject.toml"
    if setup_py.is_file() and not _is_empty_python(setup_py):
        return "pip", "setup.py"
    if pyproject.is_file() or setup_py.is_file():
        return "pip", NOTHING_TO_INSTALL
    raise _none_found(app_dir)


def _is_empty_python(path: Path) -> bool:
    """No statement at all: only blank lines and comments."""
    data = appfile.read_app_file(
        path.parent, path, limit=appfile.MANIFEST_LIMIT, failure_reason="package-manager::invalid-setup-py"
    )
    lines = (line.strip() for line in data.decode("utf-8", errors="replace").splitlines())
    return all(not line or line.startswith("#") for line in lines)


def _pyproject_installable(pyproject: Path) -> bool:
    raw = appfile.read_app_file(
        pyproject.parent,
        pyproject,
        limit=appfile.MANIFEST_LIMIT,
        failure_reason="package-manager::invalid-pyproject-toml",
    )
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _pyproject_invalid(pyproject, f"it is not valid UTF-8 ({exc.reason})") from exc
    except (ValueError, RecursionError, MemoryError) as exc:  # TOMLDecodeError, hostile files
        raise _pyproject_invalid(pyproject, appfile.parse_problem(exc)) from exc
    return isinstance(data.get("project"), dict) or isinstance(data.get("build-system"), dict)


def _pyproject_invalid(pyproject: Path, message: str) -> BuildError:
    return BuildError(
        headline="Unable to read 'pyproject.toml'.",
        explanation=(
            "There is no package manager file, so the buildpack tried to install the project "
            f"described by 'pyproject.toml', but that file isn't valid TOML:\n\n{visible(message)}"
        ),
        fix=(
            "Fix the syntax of 'pyproject.toml' (you can check it locally with\n"
            "'python -c \"import tomllib; tomllib.load(open(\\'pyproject.toml\\', \\'rb\\'))\"'),\n"
            "or add a package manager file such as 'requirements.txt'."
        ),
        failure_reason="package-manager::invalid-pyproject-toml",
        failure_detail=pyproject.name,
    )


def _pipenv_missing_lockfile() -> BuildError:
    return BuildError(
        headline="No 'Pipfile.lock' found.",
        explanation=(
            "Your app has a 'Pipfile' but no 'Pipfile.lock'. Pipenv builds need the lockfile, so that\n"
            "every build installs exactly the same package versions."
        ),
        fix=(
            "Generate the lockfile with 'pipenv lock', make sure 'Pipfile.lock' isn't listed in\n"
            "'.gitignore' or '.slugignore', and commit it.\n"
            "Alternatively, switch to another package manager and delete the 'Pipfile'."
        ),
        failure_reason="package-manager::pipenv-missing-lockfile",
    )


def _multiple_found(found: list[str]) -> BuildError:
    labels = {file: f"{file} ({display})" for file, _, display in MANAGER_FILES}
    ids = {file: manager for file, manager, _ in MANAGER_FILES}
    listing = "\n".join(f"- {labels[name]}" for name in found)
    return BuildError(
        headline="Multiple Python package manager files were found.",
        explanation=(
            "Exactly one package manager file must be at the root of your app's source code.\n"
            f"Your app has:\n\n{listing}\n\n"
            "The buildpack can't tell which of these is the one you use."
        ),
        fix=(
            "Delete the files of the package managers you don't use, then commit.\n"
            "\n"
            "If you use a third-party uv or Poetry buildpack that generates a 'requirements.txt'\n"
            "before this buildpack runs, remove it and let this buildpack install from\n"
            "'uv.lock' or 'poetry.lock' directly."
        ),
        failure_reason="package-manager::multiple-found",
        failure_detail=",".join(ids[name] for name in found),
    )


def _none_found(app_dir: Path) -> BuildError:
    return BuildError(
        headline="No Python package manager files were found.",
        explanation=(
            f"A Python app must have a package manager file {_ACCEPTED}\n"
            "in the root directory of its source code, or a project that pip can install:\n"
            "a 'setup.py', or a 'pyproject.toml' with a [project] or [build-system] table.\n"
            "\n"
            "The root directory of your app currently contains:\n"
            "\n"
            f"{_listing_text(app_dir)}"
        ),
        fix=_checklist(),
        failure_reason="package-manager::none-found",
    )
