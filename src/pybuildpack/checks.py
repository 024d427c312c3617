"""Checks that stop a build early: stack, duplicate run, leftovers of Python in the app's source."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pybuildpack.errors import BuildError, quoted, visible

KNOWN_STACKS: frozenset[str] = frozenset(
    {"heroku-22", "heroku-24", "heroku-26", "scalingo-22", "scalingo-24", "scalingo-26"}
)
EOL_STACKS: frozenset[str] = frozenset(
    {
        "cedar",
        "cedar-10",
        "cedar-14",
        "heroku-16",
        "heroku-18",
        "heroku-20",
        "scalingo-14",
        "scalingo-18",
        "scalingo-20",
    }
)
CURRENT_STACKS = "heroku-22, heroku-24, heroku-26, scalingo-22, scalingo-24, scalingo-26"

_STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LISTING_LIMIT = 200


def os_release_stack(os_release: Path = Path("/etc/os-release")) -> str | None:
    """``<ID>-<VERSION_ID>`` from an os-release file (``ID`` alone for rolling releases), or None."""
    try:
        text = os_release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            fields[key] = value.strip().strip("\"'")
    ident = fields.get("ID", "")
    version = fields.get("VERSION_ID", "")
    stack = f"{ident}-{version}" if ident and version else ident
    return stack if stack and _STACK_NAME.fullmatch(stack) else None


def resolve_stack(environ: Mapping[str, str], os_release: Path = Path("/etc/os-release")) -> str:
    """The stack this build targets (D9), or a BuildError.

    ``STACK`` wins when set: a current stack (or the name this host's os-release gives) is accepted,
    an end-of-life one is refused, anything else is unknown. Without ``STACK`` the host's os-release
    names the stack, e.g. ``debian-12``.
    """
    host = os_release_stack(os_release)
    stack = environ.get("STACK", "")
    if not stack:
        if host is None:
            raise _stack_missing(os_release)
        return host
    if stack in KNOWN_STACKS or stack == host:
        return stack
    if stack in EOL_STACKS or stack.startswith("cedar"):
        raise _stack_eol(stack)
    raise _stack_unknown(stack)


def _stack_eol(stack: str) -> BuildError:
    return BuildError(
        headline=f"The stack {quoted(stack)} is no longer supported.",
        explanation=(
            f"This build targets the stack {quoted(stack)} (from the STACK environment variable), which\n"
            "has reached its end of life. This buildpack doesn't build for it."
        ),
        fix=f"Upgrade the app to a current stack ({CURRENT_STACKS}), then build again.",
        failure_reason="checks::stack::eol",
        failure_detail=stack,
    )


def _stack_unknown(stack: str) -> BuildError:
    return BuildError(
        headline=f"The stack {quoted(stack)} is not recognised.",
        explanation=(
            f"The STACK environment variable is {quoted(stack)}, which is not a stack this version of\n"
            f"the buildpack knows. Supported stacks: {CURRENT_STACKS}, or (with STACK unset) the\n"
            "operating system named by /etc/os-release."
        ),
        fix=(
            "If this is a new stack, use a current release of the buildpack. Otherwise set STACK to\n"
            "one of the supported stacks, or unset it."
        ),
        failure_reason="checks::stack::unknown",
        failure_detail=stack,
    )


def _stack_missing(os_release: Path) -> BuildError:
    return BuildError(
        headline="The STACK environment variable is not set.",
        explanation=(
            f"The buildpack needs to know which stack it builds for. STACK is unset and {os_release}\n"
            "doesn't name the operating system (its ID and VERSION_ID fields)."
        ),
        fix=f"Set STACK to the stack of the build and run images, e.g. 'STACK=heroku-24' ({CURRENT_STACKS}).",
        failure_reason="checks::stack::unknown",
    )


def check_duplicate_run(build_dir: Path, environ: Mapping[str, str]) -> None:
    """Refuse a second run of this buildpack in the same build (an earlier run's export set PYTHONHOME)."""
    if (build_dir / ".heroku/python/bin/python").is_file() and "PYTHONHOME" in environ:
        raise BuildError(
            headline="The Python buildpack has already run in this build.",
            explanation=(
                "'.heroku/python/bin/python' exists and PYTHONHOME is set: an earlier run of this\n"
                "buildpack installed Python in this build. Running it twice would break that install."
            ),
            fix=(
                "Remove the duplicate Python buildpack entries from the app's list of buildpacks\n"
                "(for example with 'heroku buildpacks'), so that it appears once."
            ),
            failure_reason="checks::duplicate-python-buildpack",
        )


def check_no_python_dir(build_dir: Path) -> None:
    """Refuse an app source (or an earlier hook/buildpack) that already has ``.heroku/python``."""
    target = build_dir / ".heroku/python"
    if not os.path.lexists(target):
        return
    raise BuildError(
        headline="The app's source already contains a '.heroku/python/' directory.",
        explanation=(
            "The buildpack installs Python into '.heroku/python/' and needs that path to be free,\n"
            "but it already exists:\n"
            "\n"
            f"{_listing(build_dir, '.heroku/python')}"
        ),
        fix=(
            "Delete '.heroku/python/' from your Git repository and commit. If it isn't in your\n"
            "repository, check whether a 'bin/pre_compile' hook or an earlier buildpack creates it."
        ),
        failure_reason="checks::existing-python-dir",
    )


def check_no_venv(build_dir: Path) -> None:
    """Refuse a virtual environment committed to the app's source (``.venv/`` first, then ``venv/``)."""
    for name in (".venv", "venv"):
        if (build_dir / name / "pyvenv.cfg").exists():
            raise _venv_error(build_dir, name)


def _venv_error(build_dir: Path, name: str) -> BuildError:
    return BuildError(
        headline=f"The app's source contains a virtual environment in '{name}/'.",
        explanation=(
            f"'{name}/pyvenv.cfg' exists, so '{name}/' is a Python virtual environment. Virtual\n"
            "environments only work on the machine that made them, so they must not be committed:\n"
            "the buildpack installs the dependencies itself. The directory contains:\n"
            "\n"
            f"{_listing(build_dir, name)}"
        ),
        fix=(
            "Remove it from your Git repository (the files stay on your disk), ignore it, and commit:\n"
            f"  git rm --cached -r {name}/\n"
            f"  echo '{name}/' >> .gitignore\n"
            f"  git add .gitignore && git commit -m 'Remove {name}/ from the repository'"
        ),
        failure_reason="checks::existing-venv-dir",
        failure_detail=name,
    )


def _listing(build_dir: Path, relative: str) -> str:
    """``relative/`` then its entries to depth 2, as paths relative to build_dir, sorted."""
    root = build_dir / relative
    if not root.is_dir() or root.is_symlink():
        return relative
    entries: list[str] = []
    for current, dirs, files in os.walk(root):
        depth = len(Path(current).relative_to(root).parts)
        for name in (*dirs, *files):
            entries.append(visible(f"{relative}/{Path(current, name).relative_to(root).as_posix()}"))
        if depth >= 1:
            dirs.clear()
    entries.sort()
    lines = [f"{relative}/", *entries[:_LISTING_LIMIT]]
    if len(entries) > _LISTING_LIMIT:
        lines.append(f"... and {len(entries) - _LISTING_LIMIT} more")
    return "\n".join(lines)
