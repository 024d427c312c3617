"""`pybuildpack releases APP`: the app's releases, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from pybuildpack.cli.common import add_app_argument, add_state_option
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform.builder import human_size
from pybuildpack.platform.state import known_app


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "releases",
        help="list an app's releases",
        description="List APP's releases, newest first; '*' marks the current one.",
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
    current = state.current_number()
    numbers = state.numbers()
    if not numbers:
        print(f"{state.name} has no releases yet.")
        return 0
    for number in reversed(numbers):
        record = state.read_release(number)
        source = record.get("source") or {}
        revision = (source.get("revision") or "")[:10] or source.get("kind", "")
        if source.get("changes"):
            revision += "+changes"
        marker = "*" if number == current else " "
        total = (record.get("durations") or {}).get("total")
        seconds = f"{total:.1f} s" if isinstance(total, (int, float)) else "-"
        size = human_size(int(record.get("slug_size") or 0))
        names = ",".join(bp.get("name", "?") for bp in record.get("buildpacks", []))
        print(
            f"{marker} v{number:<4} {record.get('status', '?'):<9} {record.get('created_at', '')}  "
            f"{revision:<18} {size:>9}  {seconds:>7}  {names}"
        )
    return 0
