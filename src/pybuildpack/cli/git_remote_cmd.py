"""`pybuildpack git-remote init APP [PATH] [--branch main]`: deploy an app with `git push`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pybuildpack.cli.common import add_state_option
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform.githook import init_remote
from pybuildpack.platform.state import app_state, state_root


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "git-remote",
        help="create a git repository that deploys the app on push",
        description="Create a bare git repository whose pre-receive hook builds each push to the deploy "
        "branch and makes it the current release (rejecting the push if the build fails).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="create (or update the hook of) the repository")
    init.add_argument("app", metavar="APP")
    init.add_argument(
        "path", nargs="?", type=Path, metavar="PATH", help="where (default: in the app's state)"
    )
    init.add_argument("--branch", default="main", help="the deploy branch (default: main)")
    add_state_option(init)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        state = app_state(args.app, args.state_dir)
        repo = init_remote(state, args.path, args.branch, state_root(args.state_dir))
    except BuildError as error:
        console.error(error)
        return 1
    console.step(f"git push deploys of {state.name} ready: {repo}")
    console.info(f"git remote add local {repo}")
    console.info(f"git push local {args.branch}")
    return 0
