"""The build engine both faces run: analyse the app, install, finish. It reads like the build log.

The engine works on a layout (layout.py) and never on a face's paths; what differs between the classic
and the CNB face (checks of the classic tree, where the installed environment is kept between builds,
how the runtime environment is written) is asked of the face.
"""

from __future__ import annotations

import contextlib
import errno
import resource
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pybuildpack import __version__, app, cache, checks, deploy_key, python_version, relocate, run, scrub
from pybuildpack.build_data import BuildData
from pybuildpack.context import BuildContext
from pybuildpack.env import build_environment, hook_environment, is_enabled, read_env_dir, setting
from pybuildpack.errors import BuildError, quoted
from pybuildpack.layout import Layout
from pybuildpack.output import Console
from pybuildpack.package_managers import registry, uv
from pybuildpack.package_managers.base import PackageManager
from pybuildpack.package_managers.runtime_pip import ensure_runtime_pip
from pybuildpack.package_managers.select import manager_for
from pybuildpack.python_version import ResolvedPython
from pybuildpack.runtime.manifest import RuntimeEntry
from pybuildpack.steps import collectstatic, default_web, hooks, nltk
from pybuildpack.steps.python import Runtimes, install_python, load_runtimes, runtime_entry


@dataclass
class Plan:
    """What the analysis decided, before anything is installed."""

    stack: str
    python: ResolvedPython
    runtime: RuntimeEntry
    manager: PackageManager
    key: cache.EnvKey
    nltk: bool = False  # NLTK corpora were downloaded: NLTK_DATA goes into the runtime environment
    web: str | None = None  # the default web process found and opted into (PYBUILDPACK_DEFAULT_WEB)
    cache_status: str = "empty"


class Face(Protocol):
    """What the engine asks of the API it runs under."""

    def check_before_hooks(self, ctx: BuildContext) -> None:
        """Checks of this face's layout that run before bin/pre_compile."""

    def check_app(self, ctx: BuildContext) -> None:
        """Checks of this face's layout that run after bin/pre_compile (which may fix the app)."""

    def env_store(self, ctx: BuildContext) -> cache.EnvStore:
        """Where the installed environment is kept between builds."""

    def write_runtime_env(self, ctx: BuildContext, plan: Plan) -> None:
        """The installed app's runtime environment, and the build environment of later buildpacks."""

    def declare(self, ctx: BuildContext, plan: Plan) -> None:
        """After a successful build: what the API wants declared (CNB: layers, processes, SBOM)."""


class Steps:
    """Names the running operation (for the internal-error message) and times it (for the report)."""

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx
        self.operation = "starting the build"

    @contextmanager
    def __call__(self, operation: str, timing: str | None = None) -> Iterator[None]:
        self.operation = operation
        if timing is None:
            yield
            return
        with self.ctx.data.timed(timing):
            yield


def execute(
    where: Layout, env_dir: Path | None, environ: Mapping[str, str], face: Face, *, install_test: bool = False
) -> int:
    """Everything a face runs: the operator's directories checked, the cache locked, the build."""
    console = Console()
    try:
        config = _prepare(where, env_dir)
        with cache.locked(where.cache_root, where.lock, console):
            data = BuildData.start(where.build_data)
            ctx = BuildContext(where, env_dir, environ, config, console, data, install_test=install_test)
            with run.debug_logging(console, ctx.config, ctx.environ):
                return build(ctx, face)
    except BuildError as error:  # the operator's directories, or another build holds the lock
        console.error(error)
        return 1
    except OSError as error:
        console.error(_unusable(where.cache_root, "cache dir", error))
        return 1


def _prepare(where: Layout, env_dir: Path | None) -> dict[str, str]:
    """Create what the build keeps and read the config vars, or fail with an error that says which."""
    for directory in (where.lock.parent, where.build_data.parent):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _unusable(where.cache_root, "cache dir", error) from error
    try:
        return read_env_dir(env_dir)
    except OSError as error:
        raise _unusable(env_dir or Path(), "config var dir", error) from error


_UNUSABLE = {"cache dir": "platform::unusable-cache-dir", "config var dir": "platform::unreadable-env-dir"}


def _unusable(path: Path, what: str, error: OSError) -> BuildError:
    where = f" ({quoted(str(error.filename))})" if error.filename else ""
    return BuildError(
        f"The {what} {quoted(str(path))} cannot be used.",
        f"{error.strerror or error}{where}. The build needs it to be a readable, writable directory.",
        f"Check the {what} the platform passes to the buildpack (a file or an unreadable entry is in "
        "the way), or give the build a fresh one.",
        failure_reason=_UNUSABLE[what],
    )


def build(ctx: BuildContext, face: Face) -> int:
    """Run the whole build; print and record any failure. Returns the exit status."""
    step = Steps(ctx)
    started = time.monotonic()
    ctx.console.step(f"pybuildpack {__version__}")
    try:
        ctx.data.set("buildpack_version", __version__)
        plan = analyse(ctx, face, step)
        install(ctx, face, plan, step)
        finish(ctx, face, plan, step)
        with step("declaring the build's results"):
            face.declare(ctx, plan)
    except BuildError as error:
        return _failed(ctx, error)
    except Exception as error:  # an OS fault the user can fix, else a bug
        known = _os_fault(ctx, step.operation, error)
        if known is not None:
            return _failed(ctx, known)
        ctx.console.internal_error(step.operation, traceback.format_exc())
        ctx.data.record_failure(BuildError("unexpected error", failure_reason="internal-error::unhandled"))
        return 1
    ctx.data.set("total_duration", round(time.monotonic() - started, 3))
    ctx.data.set("engine_max_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return 0


def _failed(ctx: BuildContext, error: BuildError) -> int:
    ctx.console.error(error)
    ctx.data.record_failure(error)
    return 1


def _os_fault(ctx: BuildContext, operation: str, error: Exception) -> BuildError | None:
    """An unreadable app directory (bin/, .venv/...) or a full disk: clear errors, not bugs."""
    if isinstance(error, PermissionError):
        return _permission_error(ctx, operation, error)
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return _disk_full(operation, error)
    return None


def _disk_full(operation: str, error: OSError) -> BuildError:
    where = f" ({quoted(str(error.filename))})" if error.filename else ""
    return BuildError(
        f"The disk filled up while {operation}{where}.",
        "No space is left on the device holding the build, cache or temp directory.",
        "Free some space (or give the build a bigger disk), then build again.",
        failure_reason="checks::disk-full",
    )


def _permission_error(ctx: BuildContext, operation: str, error: PermissionError) -> BuildError:
    path = str(error.filename or "a file")
    inside = path.startswith(f"{ctx.build_dir}/") or path == str(ctx.build_dir)
    shown = quoted(path.removeprefix(f"{ctx.build_dir}/") if inside else path)
    return BuildError(
        f"Permission denied while {operation}: {shown} cannot be read or written.",
        f"{error.strerror or error}. The build runs as a user that needs to read the app's files "
        "and write the build's directories.",
        "Make it readable (for example `chmod -R u+rwX` on the app's files before committing them), "
        "or run the build as the user that owns them.",
        failure_reason="checks::permission-denied",
    )


def analyse(ctx: BuildContext, face: Face, step: Steps) -> Plan:
    """Everything that can fail fast: checks, hooks that may fix the app, manager, Python version."""
    with step("checking the stack"):
        stack = checks.resolve_stack(ctx.environ)
        face.check_before_hooks(ctx)
        ctx.build_env = build_environment(ctx.environ, ctx.layout, env_dir=ctx.env_dir)
        deploy_key.check(ctx.config, ctx.build_env)
    with step("running bin/pre_compile"):
        run_hook(ctx, "pre_compile")
    with step("analysing the app"):
        face.check_app(ctx)
        manager_name, manager_file = app.select_manager(ctx.build_dir)
        ctx.data.set("package_manager", manager_name)
        checks.check_no_venv(ctx.build_dir)
    with step("resolving the Python version"):
        runtimes = load_runtimes(ctx)
        python = resolve_python(ctx, runtimes, manager_name)
        installer = setting("PYBUILDPACK_INSTALLER", ctx.config, ctx.environ)
        manager = manager_for(
            manager_name, manager_file, python, install_test=ctx.install_test, installer=installer
        )
        ctx.build_env.update(manager.build_env_additions())
        runtime = runtime_entry(runtimes, python)
        inputs = cache.digest_inputs(ctx.build_dir, manager.input_files(ctx.build_dir))
        key = cache.EnvKey(
            stack,
            python.ident,
            runtime.sha256,
            manager.name,
            manager.tool_version,
            inputs,
            python.implementation,
        )
    return Plan(stack, python, runtime, manager, key)


def resolve_python(ctx: BuildContext, runtimes: Runtimes, manager: str) -> ResolvedPython:
    choice = python_version.decide(
        ctx.build_dir,
        manager=registry.spec(manager).python,
        cached_version_file=ctx.layout.sticky_version,
        available=runtimes.versions,
        allow_eol=is_enabled("PYBUILDPACK_ALLOW_EOL_PYTHON", ctx.config, ctx.environ),
        mirror=runtimes.location,
        on_step=ctx.console.step,
        on_report=ctx.data.update,
        pypy=runtimes.pypy,
    )
    for headline, body in choice.warnings:
        ctx.console.warning(headline, body)
    return choice.resolved


def install(ctx: BuildContext, face: Face, plan: Plan, step: Steps) -> None:
    """Restore what the cache can give, then install Python, the manager and the dependencies."""
    with step("restoring the cache", "cache_restore_duration"):
        envs = face.env_store(ctx)
        status = cache.restore(ctx, envs, plan.key, in_place_ok=plan.manager.syncs_exactly)
    ctx.data.set("cache_status", status)
    plan.cache_status = status
    ctx.env_restored = status in ("reused", "partial")
    if ctx.layout.profile_d is not None:
        ctx.layout.profile_d.mkdir(exist_ok=True)

    # The uv wheel (when this build needs uv) downloads and unpacks while the runtime does (issue 11).
    with uv.fetched_alongside(ctx, plan.manager, plan.python):
        with step("installing Python", "python_install_duration"):
            if ctx.env_restored:
                ctx.console.step(f"Using cached install of {plan.python.display}")
            else:
                install_python(ctx, plan.runtime, plan.python)
        with step(f"installing {plan.manager.name}", "package_manager_install_duration"):
            plan.manager.install_tool(ctx, plan.python)
    outside = (ctx.build_dir, ctx.cache_dir, ctx.python_home)
    with (
        step("installing dependencies", "dependencies_install_duration"),
        deploy_key.active(ctx.build_env, ctx.config, ctx.console, outside=outside),
        scrub.afterwards(ctx.layout.pip_src),
    ):
        if status == "reused":
            ctx.console.step("Skipping the dependency install: nothing it depends on has changed")
        else:
            plan.manager.install_dependencies(ctx, plan.python)
        if registry.spec(plan.manager.name).pip_at_runtime:
            ensure_runtime_pip(ctx, plan.python)
    with step("downloading NLTK data"):
        plan.nltk = nltk.run_nltk(ctx)
    with step("running Django's collectstatic"):
        collectstatic.run_collectstatic(ctx)
    with step("looking for a default web process"):
        plan.web = default_web.run_default_web(ctx)


def finish(ctx: BuildContext, face: Face, plan: Plan, step: Steps) -> None:
    """The runtime environment, the post_compile hook, and the cache for the next build."""
    with step("writing the runtime environment"):
        relocate.relocatable_shebangs(ctx.python_home / "bin")
        relocate.relocatable_site_packages(ctx.python_home, ctx.build_dir)
        face.write_runtime_env(ctx, plan)
    with step("running bin/post_compile"):
        run_hook(ctx, "post_compile")
        ctx.data.ensure_present()
    with step("saving the cache", "cache_save_duration"):
        save_cache(ctx, face, plan)
    if registry.spec(plan.manager.name).suggest_uv and plan.python.pypy is None:  # PyPy: pip only
        ctx.console.note(
            "uv could install this app's dependencies faster.",
            "pybuildpack supports uv: lock the app with `uv lock` and commit uv.lock in place of the "
            "current manager's files.\nFor a requirements.txt app, the config var "
            "PYBUILDPACK_INSTALLER=uv switches just the installer.",
        )


def save_cache(ctx: BuildContext, face: Face, plan: Plan) -> None:
    """Save the cache; a failure (a full disk) warns and leaves no cache, but fails nothing: the app
    itself is built."""
    envs = face.env_store(ctx)
    try:
        cache.save(ctx, envs, plan.key, status=plan.cache_status, stack=plan.stack, python=plan.python)
    except OSError as error:
        with contextlib.suppress(OSError):
            envs.discard()
        where = f" ({error.filename})" if error.filename else ""
        ctx.console.warning(
            "The build cache could not be saved; the next build starts without it.",
            f"{error.strerror or error}{where}.\nThe app was built: this build succeeds.",
        )
        with contextlib.suppress(OSError):
            ctx.data.set("cache_status", "not-saved")


def run_hook(ctx: BuildContext, name: str) -> None:
    started = time.monotonic()
    ran = hooks.run_hook(name, ctx.build_dir, hook_environment(ctx.build_env, ctx.config), ctx.console)
    ctx.data.set(f"{name}_hook", ran)
    if ran:
        ctx.data.set(f"{name}_hook_duration", round(time.monotonic() - started, 3))
