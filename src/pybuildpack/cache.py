"""What a build remembers for the next one.

The sticky Python version and the stack stay where the classic buildpack keeps them (CONTRACT D11),
so an app moving from it keeps its major version. Runtime archives are kept by sha256 (runtime/fetch.py)
and pip's download and wheel cache lives in `.heroku/pip-cache`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pybuildpack.python_version import ResolvedPython


def version_file(cache_dir: Path) -> Path:
    return cache_dir / ".heroku" / "python-version"


def stack_file(cache_dir: Path) -> Path:
    return cache_dir / ".heroku" / "python-stack"


def cached_stack(cache_dir: Path) -> str | None:
    try:
        return stack_file(cache_dir).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def save_build_state(cache_dir: Path, *, stack: str, python: ResolvedPython) -> None:
    """Written only after a successful build, each file atomically."""
    _write(version_file(cache_dir), f"python-{python.full}\n")
    _write(stack_file(cache_dir), f"{stack}\n")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
