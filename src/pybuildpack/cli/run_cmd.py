"""`pybuildpack run APP [PROCESS] [-- ARGS]`: run a process of a built app as a platform's dyno would.

APP is an app name (its current release) or a built app's directory. HOME is the app dir, the app's
`.env` is loaded (config vars win), PORT is set, `.profile.d/*.sh` and then `.profile` are sourced, and
the Procfile command replaces this process (exec), so signals reach it directly.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from pybuildpack import run
from pybuildpack.cli.common import add_state_option
from pybuildpack.errors import BuildError, cut_list, quoted
from pybuildpack.output import Console
from pybuildpack.platform import runner
from pybuildpack.platform.errors import PlatformError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run one process of an app (or a one-off command after --)",
        description="Run PROCESS (default: web) from the Procfile of APP's current release, or the "
        "command after --, in the app's runtime environment.",
    )
    parser.add_argument("app", metavar="APP", help="an app name, or the directory of a built app")
    parser.add_argument("process", nargs="?", default="web", metavar="PROCESS")
    parser.add_argument(
        "--port", type=int, default=None, help="PORT for the process (default: $PORT or 5000)"
    )
    add_state_option(parser)
    parser.epilog = (
        "Everything after -- is run as a one-off command instead of PROCESS, in the same environment, "
        "e.g. pybuildpack run myapp -- python manage.py migrate"
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        app_dir, config, _state = runner.resolve_app(args.app, args.state_dir)
        command = _command(app_dir, args)
        port = runner.port_setting(args.port)
    except BuildError as error:
        Console().error(error)
        return 1
    dyno = "run.1" if args.one_off else f"{args.process}.1"
    env = runner.process_env(app_dir, config, port=port, dyno=dyno)
    run.replace_process(runner.boot_command(command), env=env, cwd=app_dir)
    return 0  # not reached


def _command(app_dir: Path, args: argparse.Namespace) -> str:
    if args.one_off:
        return shlex.join(args.one_off)
    processes = runner.process_types(app_dir)
    if args.process not in processes:
        declared = ", ".join(cut_list(processes)) or "none"
        raise PlatformError(
            f"The process type {quoted(args.process)} is not declared in {app_dir / 'Procfile'}.",
            f"Declared process types: {declared}.",
            f"Add a line such as `{args.process}: <command>` to the Procfile, or run a declared type.",
        )
    return processes[args.process]
