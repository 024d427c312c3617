"""`pybuildpack ps APP`: the processes a running `pybuildpack start` of the app supervises."""

from __future__ import annotations

import argparse
from typing import Any

from pybuildpack import pids
from pybuildpack.cli.common import add_app_argument, add_state_option, table_lines
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import supervisor
from pybuildpack.platform.state import known_app

HEADER = ("PROCESS", "PID", "STATE", "SINCE", "PORT", "RELEASE", "COMMAND")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "ps",
        help="list the running processes of an app",
        description="List the processes of a running `pybuildpack start APP`: type, pid, state (up, or "
        "crashed and waiting to be restarted), since when, PORT, release and command.",
    )
    add_app_argument(parser)
    add_state_option(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        state = known_app(args.app, args.state_dir)
    except BuildError as error:
        Console().error(error)
        return 1
    info = supervisor.running(state)
    if info is None:
        print(f"{state.name} is not running. Start it with: pybuildpack start {state.name}")
        return 0
    print(f"pybuildpack start {state.name}: pid {info['pid']}, web on {info.get('host')}:{info.get('port')}")
    rows = [_row(process) for process in info.get("processes") or [] if isinstance(process, dict)]
    for line in table_lines([HEADER, *rows]):
        print(line)
    return 0


def _row(process: dict[str, Any]) -> tuple[str, ...]:
    state = str(process.get("state", "?"))
    if state == "crashed" and process.get("restarts_in") is not None:
        state = f"crashed (restart in {process['restarts_in']} s)"
    elif state == "up" and not pids.alive(int(process.get("pid") or 0)):
        state = "exited"
    return (
        str(process.get("name", "?")),
        str(process.get("pid", "?")),
        state,
        str(process.get("since", "")),
        str(process.get("port", "")),
        str(process.get("release", "")),
        str(process.get("command", "")),
    )
