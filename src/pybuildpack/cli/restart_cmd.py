"""`pybuildpack restart APP [PROCESS]`: restart the processes of a running `pybuildpack start`."""

from __future__ import annotations

import argparse
from typing import Any

from pybuildpack.cli.common import add_app_argument, add_state_option
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import supervisor
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import known_app


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "restart",
        help="restart the running processes of an app",
        description="Restart the processes of a running `pybuildpack start APP` on its current release: "
        "web without downtime (the new one serves before the old one stops), the others stopped and "
        "started. Give PROCESS to restart only that type.",
    )
    add_app_argument(parser)
    parser.add_argument("process", nargs="?", metavar="PROCESS", help="a process type, e.g. web or worker")
    add_state_option(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        state = known_app(args.app, args.state_dir)
        outcome = supervisor.notify_restart(state, console, args.process)
        if outcome is None:
            raise PlatformError(
                f"{state.name} is not running, so there is nothing to restart.",
                fix=f"Start it with: pybuildpack start {state.name}",
            )
    except BuildError as error:
        console.error(error)
        return 1
    return 0 if outcome else 1
