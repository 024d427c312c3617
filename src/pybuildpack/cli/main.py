"""`pybuildpack`: the local platform CLI. main only parses and dispatches; one module per command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pybuildpack import __version__
from pybuildpack.cli import (
    apps_cmd,
    build_cmd,
    config_cmd,
    destroy_cmd,
    git_remote_cmd,
    logs_cmd,
    ps_cmd,
    releases_cmd,
    restart_cmd,
    rollback_cmd,
    run_cmd,
    runtime_cmd,
    slug_cmd,
    start_cmd,
)

COMMANDS = (
    build_cmd,
    run_cmd,
    start_cmd,
    apps_cmd,
    ps_cmd,
    logs_cmd,
    restart_cmd,
    config_cmd,
    releases_cmd,
    rollback_cmd,
    destroy_cmd,
    slug_cmd,
    git_remote_cmd,
    runtime_cmd,
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="pybuildpack",
        description="Build and run Python apps the way a Heroku-style platform does, on one machine.",
    )
    top.add_argument("--version", action="version", version=f"pybuildpack {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    one_off: list[str] = []
    if "--" in raw:
        raw, one_off = raw[: raw.index("--")], raw[raw.index("--") + 1 :]
    args = parser().parse_args(raw)
    args.one_off = one_off
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        print("pybuildpack: interrupted", file=sys.stderr)
        return 130
    return code
