"""`pybuildpack releases APP`: the app's releases, newest first.

The compressed size of a release not estimated yet is estimated here, once, and kept in its record
(platform/slugsize.py): the build itself does not wait for it."""

from __future__ import annotations

import argparse
import sys
import tarfile
from typing import Any

from pybuildpack.cli.common import add_app_argument, add_state_option, table_lines
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import releases, slugsize
from pybuildpack.platform.state import AppState, known_app
from pybuildpack.sizes import human_size


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "releases",
        help="list an app's releases",
        description="List APP's releases, newest first; '*' marks the current one. A rollback is recorded "
        "as a new release (SOURCE: rollback to vN). COMPRESSED is the size of the slug as a tar.gz: "
        "exact once `slug export` wrote it, else an estimate made on the first listing after the build.",
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
    _estimate_sizes(state)
    rows = releases.table(state)
    if not rows:
        print(f"{state.name} has no releases yet.")
        return 0
    for line in table_lines([releases.HEADER, *rows]):
        print(line)
    return 0


def _estimate_sizes(state: AppState) -> None:
    console = Console(out=sys.stderr)

    def said(number: int, estimate: slugsize.Estimate, seconds: float) -> None:
        console.info(
            f"v{number}: about {human_size(estimate.size)} compressed, estimated in {seconds:.1f} s "
            f"(compressing the {estimate.compressed_now} new or changed of {estimate.files} files)"
        )

    try:
        slugsize.estimate_missing(state, said)
    except (OSError, ValueError, tarfile.TarError, BuildError) as exc:  # the listing matters more
        console.info(f"The compressed size could not be estimated: {exc}")
