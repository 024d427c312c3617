"""`pybuildpack logs APP [--tail] [-n N] [--process TYPE]`: the app's log, as `heroku logs` shows it."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from pybuildpack.cli.common import add_app_argument, add_state_option
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import applog
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import known_app


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "logs",
        help="show (or follow) an app's log",
        description="Print the last lines of APP's log: what `pybuildpack start` ran and printed, and the "
        "platform's own lines (starts, deploys, swaps, crashes). The log is rotated at a size limit "
        "(pybuildpack start --log-limit).",
    )
    add_app_argument(parser)
    parser.add_argument("-t", "--tail", action="store_true", help="keep printing new lines (Ctrl-C stops)")
    parser.add_argument(
        "-n", "--num", type=int, default=100, metavar="N", help="how many lines to print first (default: 100)"
    )
    parser.add_argument("-p", "--process", metavar="TYPE", help="only the lines of this process type")
    add_state_option(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        state = known_app(args.app, args.state_dir)
        if args.num < 0:
            raise PlatformError(f"-n {args.num} is not a number of lines.", fix="Give -n 0 or more.")
    except BuildError as error:
        Console().error(error)
        return 1
    for line in applog.last_lines(state.log_dir, args.num, args.process):
        sys.stdout.write(line)
    sys.stdout.flush()
    if not args.tail:
        return 0
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop.set)
    for line in applog.follow(state.log_dir, args.process, keep_going=lambda: not stop.stopped):
        sys.stdout.write(line)
        sys.stdout.flush()
    return 0


class _Stop:
    stopped = False

    def set(self, _signum: int, _frame: object) -> None:
        self.stopped = True
