"""`pybuildpack rollback APP [N]`: make an earlier release current again."""

from __future__ import annotations

import argparse
from typing import Any

from pybuildpack.cli.common import add_app_argument, add_state_option
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import releases, supervisor
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import AppState, known_app, locked


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "rollback",
        help="make an earlier release current",
        description="Record a new release that copies release N (default: the succeeded release before "
        "the current one) and make it current, as Heroku does. A running `pybuildpack start` of the app "
        "is restarted on it.",
    )
    add_app_argument(parser)
    parser.add_argument("number", nargs="?", metavar="N", help="release number, e.g. 3 or v3")
    add_state_option(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        state = known_app(args.app, args.state_dir)
        number = _target(state, args.number)
    except BuildError as error:
        console.error(error)
        return 1
    if number == state.current_number():
        console.step(f"v{number} is already the current release of {state.name}")
        return 0
    with locked(state, console):
        new = releases.copy_as_new(state, number)
        state.set_current(new)
    console.step(f"Rolled back {state.name} to v{number}, as the new release v{new}")
    supervisor.notify_restart(state, console)
    return 0


def _target(state: AppState, given: str | None) -> int:
    current = state.current_number()
    if given is None:
        earlier = [n for n in state.numbers() if current is None or n < current]
        candidates = [n for n in earlier if releases.usable(state, n)]
        if not candidates:
            raise PlatformError(
                f"{state.name} has no earlier release to roll back to.",
                fix=f"See its releases with: pybuildpack releases {state.name}",
            )
        return candidates[-1]
    text = given.removeprefix("v")
    if not text.isdigit() or int(text) not in state.numbers() or not releases.usable(state, int(text)):
        raise PlatformError(
            f"{state.name} has no usable release {given}.",
            "Only releases that succeeded (and were not removed) can become current.",
            f"See its releases with: pybuildpack releases {state.name}",
        )
    return int(text)
