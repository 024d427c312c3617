"""Options and helpers shared by the local platform's commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
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


def table_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows (the first one a header) as lines with each column padded to its widest cell."""
    if not rows:
        return []
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
