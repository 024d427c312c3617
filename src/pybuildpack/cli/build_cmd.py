"""`pybuildpack build APP_DIR`: build an app the way a platform does, and make it a release.

The source is copied to a fresh build dir (a git work tree: the files at HEAD plus uncommitted
changes), `.slugignore` is applied, the buildpacks run through the classic API (as processes, exactly
as a platform runs them), the result becomes release N of the app, the Procfile `release:` process
runs in it, and then it becomes current. `--output` also copies the release to a directory.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from pybuildpack.cli.common import add_state_option
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import builder, supervisor
from pybuildpack.platform.config import parse_pairs
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.source import Source, copy_source
from pybuildpack.platform.state import app_state, default_app_name


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "build",
        help="build an app into a new release",
        description="Build APP_DIR as a platform does (copy, .slugignore, buildpacks, release process) "
        "and make the result the app's current release.",
    )
    parser.add_argument("app_dir", type=Path, metavar="APP_DIR")
    parser.add_argument("--app", help="the app's name (default: APP_DIR's basename)")
    parser.add_argument(
        "--buildpack",
        action="append",
        default=[],
        metavar="PATH_OR_GIT_URL",
        help="a classic buildpack to run, in order: a directory, or a git URL (or a bare repository's path) "
        "optionally ending in #branch-or-tag, cloned for the build (repeatable; default: the app's "
        ".buildpacks file, else this buildpack, which is also named 'pybuildpack')",
    )
    parser.add_argument("--output", type=Path, help="also copy the new release to this directory")
    parser.add_argument("--cache-dir", type=Path, help="build cache to use (default: the app's own)")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="start this build from an empty cache: PYBUILDPACK_CLEAR_CACHE=1 is set for the buildpacks, "
        "so this buildpack discards its cached environment and installs Python and the dependencies again",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config var for this build, over the app's stored ones (repeatable; not stored)",
    )
    parser.add_argument(
        "--python-prefix",
        action="append",
        type=Path,
        default=[],
        metavar="PREFIX",
        help="an installed CPython to pack and use when no runtime manifest is configured (repeatable)",
    )
    add_state_option(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        return _build(args, console)
    except BuildError as error:
        console.error(error)
    except builder.BuildFailed as failed:
        console.block("Error", f"Build failed: {failed.summary}")
    return 1


def _build(args: argparse.Namespace, console: Console) -> int:
    app_dir = args.app_dir.resolve()
    if not app_dir.is_dir():
        raise PlatformError(
            f"The app directory {app_dir} does not exist.", fix="Give the path of your app's source."
        )
    state = app_state(args.app or default_app_name(app_dir), args.state_dir)
    options = builder.BuildOptions(
        buildpacks=args.buildpack,
        env=parse_pairs(args.env, "--env"),
        cache_dir=args.cache_dir,
        output=args.output,
        python_prefixes=args.python_prefix,
        clear_cache=args.no_cache,
        on_released=lambda: supervisor.notify_restart(state, console),
    )

    def fill(build_dir: Path) -> Source:
        return copy_source(app_dir, build_dir, console)

    started = time.monotonic()
    built = builder.build(state, fill, options, console)
    console.step(f"Released v{built.number} (build {time.monotonic() - started:.1f} s)")
    target = args.output if args.output is not None else state.name
    hint = run_hint(str(target), state.name, built.record.get("process_types") or {})
    if hint:
        console.info(hint)
    return 0


def run_hint(target: str, name: str, processes: dict[str, str]) -> str:
    """How to run what was built, naming a process type it declares (none: no hint)."""
    kinds = [kind for kind in processes if kind != "release"]
    if not kinds:
        return ""
    one = f"pybuildpack run {target}" if "web" in kinds else f"pybuildpack run {target} {kinds[0]}"
    return f"Run it with: {one}   (all processes: pybuildpack start {name})"
