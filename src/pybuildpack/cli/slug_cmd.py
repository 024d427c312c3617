"""`pybuildpack slug export|import`: a release as a reproducible tar.gz, and a tar.gz as a release."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from pybuildpack import procfile
from pybuildpack.cli.common import add_state_option
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import releases, slug, slugsize, supervisor
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import app_state, known_app, locked
from pybuildpack.sizes import human_size


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "slug",
        help="export a release as a tar.gz, or import one as a release",
        description="Slugs are reproducible: sorted entries, fixed times and owners, no .git; exporting "
        "the same release twice gives the same bytes.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    exporter = actions.add_parser("export", help="write the current (or a given) release as a tar.gz")
    exporter.add_argument("app", metavar="APP")
    exporter.add_argument(
        "-o", "--output", type=Path, help="file to write (default: APP-vN.tar.gz; - is stdout)"
    )
    exporter.add_argument(
        "--release", type=int, metavar="N", help="release number (default: the current one)"
    )
    importer = actions.add_parser("import", help="make a slug file a new release of an app, and current")
    importer.add_argument("file", type=Path, metavar="FILE")
    importer.add_argument("--app", required=True, help="the app to add the release to (created if new)")
    for action in (exporter, importer):
        add_state_option(action)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        return _export(args, console) if args.action == "export" else _import(args, console)
    except BuildError as error:
        console.error(error)
        return 1


def _export(args: argparse.Namespace, console: Console) -> int:
    state = known_app(args.app, args.state_dir)
    if args.release is not None:
        app_dir = state.release_dir(args.release) / "app"
        if not app_dir.is_dir():
            raise PlatformError(
                f"{state.name} has no release v{args.release} to export.",
                fix=f"See its releases: pybuildpack releases {state.name}",
            )
        number = args.release
    else:
        app_dir = slug.current_or_error(state)
        number = state.current_number() or 0
    if args.output is not None and str(args.output) == "-":
        skipped = slug.export_slug(app_dir, sys.stdout.buffer)
        _say_skipped(Console(out=sys.stderr), app_dir, skipped)
        return 0
    target = (args.output or Path(f"{state.name}-v{number}.tar.gz")).absolute()
    skipped = slug.write_atomically(target, app_dir)
    size = target.stat().st_size
    with contextlib.suppress(OSError, BuildError):  # the export is done; the recorded size is a nicety
        slugsize.record_exact(state, number, size)
    console.step(f"Exported {state.name} v{number} to {target} ({human_size(size)})")
    console.info(f"sha256 {slug.digest(target)}")
    _say_skipped(console, app_dir, skipped)
    return 0


def _say_skipped(console: Console, app_dir: Path, skipped: list[slug.Skipped]) -> None:
    if skipped:
        shown = [entry.describe(app_dir) for entry in skipped[:10]]
        more = [f"... and {len(skipped) - 10} more"] if len(skipped) > 10 else []
        console.info(
            "Left out what a slug cannot hold (only files, directories and symlinks):\n  "
            + "\n  ".join([*shown, *more])
        )


def _import(args: argparse.Namespace, console: Console) -> int:
    source = args.file.absolute()
    if not source.is_file():
        raise PlatformError(f"The slug file {source} does not exist.", fix="Give the path of a .tar.gz slug.")
    state = app_state(args.app, args.state_dir)
    state.ensure()
    with locked(state, console):
        staged = releases.stage(state)
        slug.import_slug(source, staged.app_dir)
        processes = procfile.read_procfile(staged.app_dir)
        record = releases.new_record(
            state,
            source={"kind": "slug", "revision": slug.digest(source), "changes": [], "file": str(source)},
            process_types=processes,
            status="succeeded",
        )
        staged.record(record)
        number = staged.number
        state.set_current(number)
    supervisor.notify_restart(state, console)
    console.step(
        f"Imported {source.name} as {state.name} v{number} (types: {', '.join(processes) or 'none'})"
    )
    return 0
