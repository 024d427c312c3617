"""`pybuildpack build APP_DIR`: build an app the way a platform does, and leave a runnable app behind.

The source is copied to a fresh build dir, this buildpack's detect/compile/release run through the
classic API (as processes, exactly as a platform runs them), and the result is moved to the output
dir. Building in one place and running in another is the point: slugs are relocatable.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pybuildpack import procfile, run
from pybuildpack.cli.runtime_source import MANIFEST_VAR, choose_manifest
from pybuildpack.env import user_dir
from pybuildpack.errors import BuildError
from pybuildpack.output import Console

BUILDPACK_DIR = Path(__file__).resolve().parents[3]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "build",
        help="build an app with this buildpack into a runnable directory",
        description="Copy APP_DIR to a fresh build dir, run the classic buildpack API on it, and leave "
        "the built app in --output.",
    )
    parser.add_argument("app_dir", type=Path, metavar="APP_DIR")
    parser.add_argument(
        "--output", type=Path, help="where the built app goes (default: under the user's data dir)"
    )
    parser.add_argument("--cache-dir", type=Path, help="build cache to use (default: one per app name)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config var for the build (repeatable)",
    )
    parser.add_argument(
        "--python-prefix",
        action="append",
        type=Path,
        default=[],
        metavar="PREFIX",
        help="an installed CPython to pack and use when no runtime manifest is configured (repeatable)",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console()
    try:
        return _build(args, console)
    except BuildError as error:
        console.error(error)
        return 1


def _build(args: argparse.Namespace, console: Console) -> int:
    started = time.monotonic()
    app_dir = args.app_dir.resolve()
    if not app_dir.is_dir():
        raise BuildError(
            f"The app directory {app_dir} does not exist.", fix="Give the path of your app's source."
        )
    name = app_dir.name
    config = _config_vars(args.env)
    cache_dir = (args.cache_dir or user_dir("cache") / "apps" / name / "cache").resolve()
    output = (args.output or user_dir("data") / "apps" / name / "app").resolve()
    work = Path(tempfile.mkdtemp(prefix="pybuildpack-"))
    try:
        build_dir, env_dir = work / "build", work / "env"
        _copy_source(app_dir, build_dir)
        _write_env_dir(env_dir, config)
        env = dict(os.environ, PYBUILDPACK_EXPORT_DIR=str(work))
        manifest = choose_manifest(build_dir, cache_dir, config, args.python_prefix, console)
        if manifest is not None:
            env[MANIFEST_VAR] = manifest
        if not _run_buildpack(build_dir, cache_dir, env_dir, env, console):
            return 1
        _install(build_dir, output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    types = procfile.read_procfile(output)
    console.step("Discovering process types")
    console.info(f"Procfile declares types -> {', '.join(types) or '(none)'}")
    console.step(f"Built {name} into {output} in {time.monotonic() - started:.1f} s")
    console.info(f"Run it with: pybuildpack run {output}")
    return 0


def _run_buildpack(
    build_dir: Path, cache_dir: Path, env_dir: Path, env: dict[str, str], console: Console
) -> bool:
    bin_dir = BUILDPACK_DIR / "bin"
    if run.capture([bin_dir / "detect", build_dir], env=env).returncode != 0:
        run.passthrough([bin_dir / "detect", build_dir], env=env)
        console.block("Error", "App not compatible with the Python buildpack.")
        return False
    console.step("Python app detected")
    if run.passthrough([bin_dir / "compile", build_dir, cache_dir, env_dir], env=env) != 0:
        console.block(
            "Error", "Build failed: the Python buildpack could not compile the app.", "See the log above."
        )
        return False
    return run.capture([bin_dir / "release", build_dir], env=env).ok


def _config_vars(pairs: list[str]) -> dict[str, str]:
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BuildError(
                f"The --env value {pair!r} is not of the form KEY=VALUE.", fix="Write it as --env NAME=value."
            )
        config[key] = value
    return config


def _copy_source(app_dir: Path, build_dir: Path) -> None:
    shutil.copytree(app_dir, build_dir, symlinks=True, ignore=shutil.ignore_patterns(".git"))


def _write_env_dir(env_dir: Path, config: dict[str, str]) -> None:
    env_dir.mkdir(mode=0o700)
    for key, value in config.items():
        path = env_dir / key
        path.write_text(value, encoding="utf-8")
        path.chmod(0o600)


def _install(build_dir: Path, output: Path) -> None:
    """Replace the output dir with the new build, never leaving a half-copied app there."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.with_name(f".{output.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.move(str(build_dir), staging)
    if output.exists():
        old = output.with_name(f".{output.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        output.rename(old)
        staging.rename(output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(output)
