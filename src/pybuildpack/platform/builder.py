"""One build of an app on the local platform, from source to a current release.

Under the app's lock: fill a fresh build dir with the source, apply `.slugignore`, run the buildpacks,
record release N, run the Procfile `release:` process in it, and only then make it current. Any
failure leaves the previous release current and untouched.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybuildpack import procfile, run
from pybuildpack.output import Console
from pybuildpack.package_managers import tool_store
from pybuildpack.platform import buildpacks, releases, runner, runtime_source
from pybuildpack.platform import config as config_store
from pybuildpack.platform.source import Source, apply_slugignore, plain_git_env
from pybuildpack.platform.state import AppState, locked
from pybuildpack.runtime.local import user_cache_dir
from pybuildpack.sizes import human_size

SourceFiller = Callable[[Path], Source]
CLEAR_CACHE_VAR = "PYBUILDPACK_CLEAR_CACHE"


class BuildFailed(Exception):
    """The build or the release phase failed; ``summary`` is the last line to show."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


@dataclass
class BuildOptions:
    buildpacks: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cache_dir: Path | None = None
    output: Path | None = None
    python_prefixes: list[Path] = field(default_factory=list)
    clear_cache: bool = False
    # run under the app's lock once the release is current (restarting `pybuildpack start`)
    on_released: Callable[[], object] | None = None


@dataclass
class Built:
    number: int
    app_dir: Path
    record: dict[str, Any]
    seconds: float


@contextmanager
def timed(durations: dict[str, float], key: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        durations[key] = round(time.monotonic() - started, 3)


def build(state: AppState, fill: SourceFiller, options: BuildOptions, console: Console) -> Built:
    """Build and release; raises BuildFailed (already explained in the log) or BuildError."""
    started = time.monotonic()
    state.ensure()
    with locked(state, console):
        releases.clean_leftovers(state)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=state.tmp_dir))
        try:
            return _build_in(_Run(state, options, console, started, work), fill)
        finally:
            shutil.rmtree(work, ignore_errors=True)


@dataclass
class _Run:
    state: AppState
    options: BuildOptions
    console: Console
    started: float
    work: Path


def _build_in(ctx: _Run, fill: SourceFiller) -> Built:
    state, options, console, work = ctx.state, ctx.options, ctx.console, ctx.work
    durations: dict[str, float] = {}
    build_dir, env_dir = work / "build", work / "env"
    console.step(f"Preparing the source of {state.name}")
    with timed(durations, "source"):
        source = fill(build_dir)
        apply_slugignore(build_dir, console)
    console.info(f"done in {durations['source']:.1f} s")
    config = {**config_store.load(state), **options.env}
    config_store.write_env_dir(env_dir, config)
    if config:
        console.info(f"Config vars: {', '.join(sorted(config))} (values not shown)")
    specs, origin = buildpacks.requested(options.buildpacks, build_dir)
    console.step(f"Fetching buildpacks ({origin})")
    with timed(durations, "buildpacks"):
        packs = [buildpacks.fetch(spec, index, work, console) for index, spec in enumerate(specs)]
    cache_dir = (options.cache_dir or state.cache_dir).absolute()
    cache_dir.mkdir(parents=True, exist_ok=True)
    base_env = _build_env(source)
    if options.clear_cache:
        base_env[CLEAR_CACHE_VAR] = "1"
        console.info(f"--no-cache: the build starts from an empty cache ({CLEAR_CACHE_VAR}=1)")
    if any(bp.own for bp in packs):
        manifest = runtime_source.choose_manifest(
            build_dir, cache_dir, config, options.python_prefixes, console
        )
        if manifest is not None:
            base_env[runtime_source.MANIFEST_VAR] = manifest
    try:
        outcome = buildpacks.run_all(packs, (build_dir, cache_dir, env_dir), base_env, console, durations)
    except buildpacks.CompileFailed as failed:
        raise BuildFailed(f"failed to compile {failed.label} app.") from None
    processes = {**outcome.default_process_types, **procfile.read_procfile(build_dir)}
    console.step("Discovering process types")
    console.info(f"Procfile declares types -> {', '.join(processes) or '(none)'}")
    _warn_if_nothing_to_run(build_dir, processes, console)
    record = releases.new_record(
        state,
        source={"kind": source.kind, "revision": source.revision, "changes": source.changes},
        buildpacks=buildpacks.records(packs),
        process_types=processes,
        config_vars=sorted(config),
        durations=durations,
    )
    return _release(ctx, build_dir, record, config)


def _warn_if_nothing_to_run(build_dir: Path, processes: dict[str, str], console: Console) -> None:
    if any(kind != "release" for kind in processes):
        return
    found = (
        "has a Procfile that declares no process" if (build_dir / "Procfile").exists() else "has no Procfile"
    )
    console.warning(
        "No process type is declared: there is nothing to run.",
        f"The app {found} to run (and its buildpacks declared no default process types), so "
        "`pybuildpack run` and `pybuildpack start` will have nothing to start.\n"
        "Declare the web process in a file named Procfile at the root of the app, for example:\n"
        "    web: gunicorn myapp.wsgi",
    )


def _build_env(source: Source) -> dict[str, str]:
    env = plain_git_env(os.environ)  # a git hook's GIT_DIR must not leak into the buildpacks' git
    if sys.stdout.isatty() and not env.get("NO_COLOR"):
        env.setdefault("FORCE_COLOR", "1")  # buildpacks write to a pipe; the user sees a terminal
    if source.revision:
        env["SOURCE_VERSION"] = source.revision
    # Tools installed once per host, not once per app (issue 11); the operator may point it elsewhere
    # or turn it off with an empty value.
    env.setdefault(tool_store.SETTING, str(user_cache_dir(env) / "tools"))
    return env


def _release(ctx: _Run, build_dir: Path, record: dict[str, Any], config: dict[str, str]) -> Built:
    state, options, console = ctx.state, ctx.options, ctx.console
    staged = releases.stage(state)
    number = staged.number
    build_dir.rename(staged.app_dir)
    release_dir = staged.record(record)
    app_dir = release_dir / "app"
    command = record["process_types"].get("release")
    if command:
        _release_phase(ctx, number, command, config, record)
    record["status"] = "succeeded"
    _show_slug_size(record, console)
    record["durations"]["total"] = round(time.monotonic() - ctx.started, 3)
    releases.update(state, number, record)
    state.set_current(number)
    if options.on_released is not None:
        options.on_released()
    if options.output is not None:
        copy_release(app_dir, options.output.absolute())
        console.info(f"Copied the release to {options.output}")
    return Built(number, app_dir, record, time.monotonic() - ctx.started)


def _show_slug_size(record: dict[str, Any], console: Console) -> None:
    """The size on disk; the compressed size is estimated later, off the build's critical path
    (slugsize.py: by `pybuildpack releases`, exactly by `slug export`)."""
    console.step(f"Slug size: {human_size(record['slug_size'])}")


def _release_phase(
    ctx: _Run, number: int, command: str, config: dict[str, str], record: dict[str, Any]
) -> None:
    state, console = ctx.state, ctx.console
    app_dir = state.release_dir(number) / "app"
    console.step(f"Running the release process: {command}")
    env = runner.process_env(app_dir, config, port=runner.DEFAULT_PORT, dyno="release.1")
    with timed(record["durations"], "release_phase"):
        result = run.stream(runner.boot_command(command), env=env, console=console, cwd=app_dir)
    if result.ok:
        console.info(f"done in {record['durations']['release_phase']:.1f} s")
        return
    record["status"] = "failed"
    record["failure"] = f"release process exited with status {result.returncode}"
    releases.update(state, number, record)
    shutil.rmtree(state.release_dir(number) / "app", ignore_errors=True)
    current = state.current_number()
    kept = f"v{current} stays current" if current else "no release is current"
    raise BuildFailed(
        f"the release process failed (exit {result.returncode}): v{number} not released, {kept}."
    )


def copy_release(app_dir: Path, output: Path) -> None:
    """Replace ``output`` with a copy of the release, never leaving a half-copied app there."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.with_name(f".{output.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(app_dir, staging, symlinks=True)
    if output.exists():
        old = output.with_name(f".{output.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        output.rename(old)
        staging.rename(output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(output)
