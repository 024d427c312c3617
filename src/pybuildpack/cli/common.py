"""Options and helpers shared by the local platform's commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from pybuildpack.platform.state import STATE_VAR


def add_state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where the local platform keeps its apps (default: ${STATE_VAR}, else the user's data dir, "
        "~/.local/share/pybuildpack)",
    )


def add_app_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", help="the app's name on the local platform")
