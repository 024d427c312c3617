"""`pybuildpack releases APP`: the app's releases, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from pybuildpack.cli.common import add_app_argument, add_state_option, table_lines
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import releases
from pybuildpack.platform.state import known_app


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "releases",
        help="list an app's releases",
        description="List APP's releases, newest first; '*' marks the current one. A rollback is recorded "
        "as a new release (SOURCE: rollback to vN).",
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
    rows = releases.table(state)
    if not rows:
        print(f"{state.name} has no releases yet.")
        return 0
    for line in table_lines([releases.HEADER, *rows]):
        print(line)
    return 0
