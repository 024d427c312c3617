"""`pybuildpack destroy APP --confirm APP`: stop an app and remove everything the platform keeps of it."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import time
from typing import Any

from pybuildpack import pids
from pybuildpack.cli.common import add_app_argument, add_state_option
from pybuildpack.errors import BuildError, quoted
from pybuildpack.output import Console
from pybuildpack.platform import supervisor
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import AppState, known_app, locked

STOP_TIMEOUT = 60.0


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "destroy",
        help="stop an app and remove it for good",
        description="Stop the processes of a running `pybuildpack start APP`, then remove everything the "
        "platform keeps for APP: config vars, releases, build cache, log and its default git remote "
        "(repo.git). There is no undo, so the app's name must be given again with --confirm.",
    )
    add_app_argument(parser)
    parser.add_argument("--confirm", metavar="APP", help="the app's name again, to confirm")
    add_state_option(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        state = known_app(args.app, args.state_dir)
        _check_confirmed(state, args.confirm)
        _stop(state, console)
        with locked(state, console):  # not while a build or a git push of the app runs
            shutil.rmtree(state.root)
    except BuildError as error:
        console.error(error)
        return 1
    console.step(f"Destroyed {state.name}: removed {state.root}")
    return 0


def _check_confirmed(state: AppState, confirm: str | None) -> None:
    if confirm == state.name:
        return
    given = f"--confirm {quoted(confirm)} does not match." if confirm is not None else "It was not confirmed."
    raise PlatformError(
        f"Not destroying {state.name}: {given}",
        f"destroy stops the app and removes its config vars, releases, build cache and log under "
        f"{state.root}; there is no undo.",
        f"If you mean it: pybuildpack destroy {state.name} --confirm {state.name}",
    )


def _stop(state: AppState, console: Console) -> None:
    info = supervisor.running(state)
    if info is None:
        return
    pid = int(info["pid"])
    console.step(f"Stopping `pybuildpack start {state.name}` (pid {pid})")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT
    while pids.alive(pid):
        if time.monotonic() > deadline:
            raise PlatformError(
                f"`pybuildpack start {state.name}` (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s.",
                "Its processes must be stopped before the app is removed.",
                f"Stop it (kill -9 {pid}), then run destroy again.",
            )
        time.sleep(0.2)
