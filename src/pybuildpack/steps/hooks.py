"""The app's own build hooks: ``bin/pre_compile`` and ``bin/post_compile``."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from pybuildpack import appfile, run
from pybuildpack.errors import BuildError
from pybuildpack.output import Console

HOOKS = ("pre_compile", "post_compile")


def run_hook(name: str, build_dir: Path, env: Mapping[str, str], console: Console) -> bool:
    """Run ``bin/<name>`` from BUILD_DIR if it is a file; return whether it ran.

    The script need not be executable (apps often commit it as 644): it is made so first. A script
    without a ``#!`` line is run by bash (as the classic buildpack's bash would), else by ``/bin/sh``.
    Its output is shown indented; a non-zero exit is a BuildError with ``hooks::<name>``. A script that
    is a symbolic link leading outside the app is refused (the engine never runs or changes host files).
    """
    if name not in HOOKS:
        raise ValueError(f"unknown hook {name!r}")
    script = build_dir / "bin" / name
    if not script.is_file():
        return False
    real = appfile.inside_app(build_dir, script, f"bin/{name}", f"hooks::{name}")
    console.step(f"Running bin/{name} hook")
    _make_executable(real, name)
    result = run.stream(_command(script, env), env=env, console=console, cwd=build_dir)
    if not result.ok:
        raise BuildError(
            headline=f"The 'bin/{name}' hook failed.",
            explanation=(
                f"The app's 'bin/{name}' script exited with status {result.returncode} (non-zero),\n"
                "so the build stopped. Its output is shown above."
            ),
            fix=f"Fix the script so that it succeeds, or remove 'bin/{name}' if the app doesn't need it.",
            failure_reason=f"hooks::{name}",
        )
    return True


def _make_executable(script: Path, name: str) -> None:
    try:
        mode = script.stat().st_mode
        if mode & 0o111 != 0o111:
            script.chmod(stat.S_IMODE(mode) | 0o111)
    except OSError as exc:
        raise BuildError(
            headline=f"Unable to make 'bin/{name}' executable.",
            explanation=f"Changing the mode of 'bin/{name}' failed: {exc.strerror or exc}.",
            fix=f"Commit 'bin/{name}' as executable: 'git update-index --chmod=+x bin/{name}'.",
            failure_reason=f"hooks::{name}",
        ) from exc


def _command(script: Path, env: Mapping[str, str]) -> list[str | Path]:
    try:
        with script.open("rb") as handle:
            has_shebang = handle.read(2) == b"#!"
    except OSError:
        has_shebang = True  # let the exec report the problem
    if has_shebang:
        return [script]
    shell = shutil.which("bash", path=env.get("PATH")) or "/bin/sh"
    return [shell, script]
