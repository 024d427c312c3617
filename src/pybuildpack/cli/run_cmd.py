"""`pybuildpack run DIR [PROCESS] [-- ARGS]`: run a process of a built app as a platform's dyno would.

HOME is the app dir, `.profile.d/*.sh` and then `.profile` are sourced, PORT is set, and the
Procfile command replaces this process (exec), so signals reach it directly.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from pybuildpack import procfile, run
from pybuildpack.errors import BuildError, quoted
from pybuildpack.output import Console

# Sources the profile scripts in a platform's order, then runs the command given as "$@" through sh -c.
_BOOT = (
    'for f in "$HOME"/.profile.d/*.sh; do [ -f "$f" ] && . "$f"; done; '
    '[ -f "$HOME/.profile" ] && . "$HOME/.profile"; '
    'exec sh -c "$1"'
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run a process of a built app",
        description="Run PROCESS (default: web) from the app's Procfile, or the command after --.",
    )
    parser.add_argument(
        "app_dir", type=Path, metavar="DIR", help="a built app (the --output of pybuildpack build)"
    )
    parser.add_argument("process", nargs="?", default="web", metavar="PROCESS")
    parser.add_argument(
        "--port", type=int, default=None, help="PORT for the process (default: $PORT or 5000)"
    )
    parser.epilog = (
        "Everything after -- is run as a one-off command instead of PROCESS, in the same environment."
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        app_dir, command = _resolve(args)
    except BuildError as error:
        Console().error(error)
        return 1
    env = dict(os.environ, HOME=str(app_dir))
    env["PORT"] = str(args.port if args.port is not None else os.environ.get("PORT", "5000"))
    run.replace_process(["sh", "-c", _BOOT, "pybuildpack-run", command], env=env, cwd=app_dir)
    return 0  # not reached


def _resolve(args: argparse.Namespace) -> tuple[Path, str]:
    app_dir = args.app_dir.resolve()
    if not (app_dir / ".heroku" / "python").is_dir():
        raise BuildError(
            f"{app_dir} is not a built app.",
            "It has no .heroku/python directory, so it was not built by pybuildpack.",
            "Build it first: pybuildpack build APP_DIR --output DIR, then run DIR.",
        )
    if args.one_off:
        return app_dir, shlex.join(args.one_off)
    processes = procfile.read_procfile(app_dir)
    if args.process not in processes:
        declared = ", ".join(processes) or "none"
        raise BuildError(
            f"The process type {quoted(args.process)} is not declared in {app_dir / 'Procfile'}.",
            f"Declared process types: {declared}.",
            f"Add a line such as `{args.process}: <command>` to the Procfile, or run a declared type.",
        )
    return app_dir, processes[args.process]
