"""`pybuildpack apps`: every app on this machine, its current release, whether it runs, its last build."""

from __future__ import annotations

import argparse
from typing import Any

from pybuildpack.cli.common import add_state_option, table_lines
from pybuildpack.platform import supervisor
from pybuildpack.platform.state import AppState, app_state, state_root

HEADER = ("APP", "RELEASE", "STATE", "LAST BUILD")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "apps",
        help="list the apps on this machine",
        description="List every app the local platform keeps: its current release, whether `pybuildpack "
        "start` runs it (and on which port), and how its last build went.",
    )
    add_state_option(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    root = state_root(args.state_dir) / "apps"
    names = sorted(entry.name for entry in root.iterdir() if entry.is_dir()) if root.is_dir() else []
    if not names:
        print(f"No apps yet (the local platform keeps them under {root}).")
        print("Create one with: pybuildpack build APP_DIR")
        return 0
    rows = [_row(app_state(name, args.state_dir)) for name in names]
    for line in table_lines([HEADER, *rows]):
        print(line)
    return 0


def _row(state: AppState) -> tuple[str, str, str, str]:
    current = state.current_number()
    info = supervisor.running(state)
    running = "stopped"
    if info is not None:
        running = f"running on {info.get('host', '127.0.0.1')}:{info.get('port', '?')} (pid {info['pid']})"
    numbers = state.numbers()
    last = "never built"
    if numbers:
        record = state.read_release(numbers[-1])
        last = f"v{numbers[-1]} {record.get('status', '?')} {record.get('created_at', '')}".rstrip()
    return state.name, f"v{current}" if current else "-", running, last
