"""The classic buildpack API: detect, compile, release, report, test-compile.

`compile` reads like the build log: analyse the app (checks, manager, Python version) so that it
fails fast, then run the steps in CONTRACT §3 order.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pybuildpack import app, build_data, cache, checks, python_version, relocate, run
from pybuildpack.build_data import BuildData
from pybuildpack.context import BuildContext
from pybuildpack.env import build_environment, hook_environment, is_enabled, read_env_dir, setting
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.package_managers.base import PackageManager
from pybuildpack.package_managers.pip import ensure_runtime_pip
from pybuildpack.package_managers.select import manager_for
from pybuildpack.python_version import ResolvedPython
from pybuildpack.run import capture
from pybuildpack.runtime.manifest import RuntimeEntry
from pybuildpack.steps import collectstatic, hooks, nltk, profile
from pybuildpack.steps.python import Runtimes, install_python, load_runtimes, runtime_entry

BUILDPACK_DIR = Path(__file__).resolve().parents[2]


class _Progress:
    """Which operation is running, for the internal-error message."""

    operation = "starting the build"


@dataclass
class _Plan:
    """What the analysis decided, before anything is installed."""

    stack: str
    python: ResolvedPython
    runtime: RuntimeEntry
    manager: PackageManager
    key: cache.EnvKey
    nltk: bool = False  # NLTK corpora were downloaded: NLTK_DATA goes into the runtime environment
    cache_status: str = "empty"


def compile_app(build_dir: Path, cache_dir: Path, env_dir: Path | None, *, install_test: bool = False) -> int:
    console = Console()
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        with cache.locked(cache_dir, console):
            ctx = BuildContext(
                build_dir, cache_dir, env_dir, dict(os.environ), read_env_dir(env_dir), console,
                BuildData.start(cache_dir), install_test=install_test,
            )  # fmt: skip
            with run.debug_logging(console, ctx.config, ctx.environ):
                return _compile(ctx)
    except cache.CacheLocked as error:  # another build owns the cache dir and its build data
        console.error(error)
        return 1


def _compile(ctx: BuildContext) -> int:
    progress = _Progress()
    started = time.monotonic()
    try:
        plan = _analyse(ctx, progress)
        _install(ctx, plan, progress)
        _finish(ctx, plan, progress)
    except BuildError as error:
        ctx.console.error(error)
        ctx.data.record_failure(error)
        return 1
    except Exception:
        ctx.console.internal_error(progress.operation, traceback.format_exc())
        ctx.data.record_failure(BuildError("unexpected error", failure_reason="internal-error::unhandled"))
        return 1
    ctx.data.set("total_duration", round(time.monotonic() - started, 3))
    ctx.data.set("engine_max_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return 0


def _analyse(ctx: BuildContext, progress: _Progress) -> _Plan:
    """Everything that can fail fast: checks, hooks that may fix the app, manager, Python version."""
    progress.operation = "checking the stack"
    stack = checks.resolve_stack(ctx.environ)
    checks.check_duplicate_run(ctx.build_dir, ctx.environ)
    ctx.build_env = build_environment(
        ctx.environ, build_dir=ctx.build_dir, cache_dir=ctx.cache_dir, env_dir=ctx.env_dir
    )
    progress.operation = "running bin/pre_compile"
    _hook(ctx, "pre_compile")

    progress.operation = "analysing the app"
    checks.check_no_python_dir(ctx.build_dir)
    manager_name, manager_file = app.select_manager(ctx.build_dir)
    ctx.data.set("package_manager", manager_name)
    checks.check_no_venv(ctx.build_dir)

    progress.operation = "resolving the Python version"
    runtimes = load_runtimes(ctx)
    python = _python_version(ctx, runtimes, manager_name)
    installer = setting("PYBUILDPACK_INSTALLER", ctx.config, ctx.environ)
    manager = manager_for(
        manager_name, manager_file, python, install_test=ctx.install_test, installer=installer
    )
    ctx.build_env.update(manager.build_env_additions())
    runtime = runtime_entry(runtimes, python)
    inputs = cache.digest_inputs(ctx.build_dir, manager.input_files(ctx.build_dir))
    key = cache.EnvKey(stack, python.full, runtime.sha256, manager.name, manager.tool_version, inputs)
    return _Plan(stack, python, runtime, manager, key)


def _python_version(ctx: BuildContext, runtimes: Runtimes, manager: str) -> ResolvedPython:
    requested = python_version.read_requested(
        ctx.build_dir,
        manager=manager,
        cached_version_file=cache.version_file(ctx.cache_dir),
        available=runtimes.versions,
    )
    ctx.console.step(python_version.step_text(requested))
    allow_eol = is_enabled("PYBUILDPACK_ALLOW_EOL_PYTHON", ctx.config, ctx.environ)
    python = python_version.resolve(
        requested, runtimes.versions, allow_eol=allow_eol, mirror=runtimes.location
    )
    ctx.data.update(python_version.report_fields(python, runtimes.versions, ctx.build_dir))
    for headline, body in python_version.warnings(python, runtimes.versions, manager=manager):
        ctx.console.warning(headline, body)
    return python


def _install(ctx: BuildContext, plan: _Plan, progress: _Progress) -> None:
    """Restore what the cache can give, then install Python, the manager and the dependencies."""
    progress.operation = "restoring the cache"
    with ctx.data.timed("cache_restore_duration"):
        status = cache.restore(ctx, plan.key, in_place_ok=plan.manager.syncs_exactly)
    ctx.data.set("cache_status", status)
    plan.cache_status = status
    ctx.env_restored = status in ("reused", "partial")
    (ctx.build_dir / ".profile.d").mkdir(exist_ok=True)

    progress.operation = "installing Python"
    with ctx.data.timed("python_install_duration"):
        if ctx.env_restored:
            ctx.console.step(f"Using cached install of Python {plan.python.full}")
        else:
            install_python(ctx, plan.runtime, plan.python)
    progress.operation = f"installing {plan.manager.name}"
    with ctx.data.timed("package_manager_install_duration"):
        plan.manager.install_tool(ctx, plan.python)
    progress.operation = "installing dependencies"
    with ctx.data.timed("dependencies_install_duration"):
        if status == "reused":
            ctx.console.step("Skipping the dependency install: nothing it depends on has changed")
        else:
            plan.manager.install_dependencies(ctx, plan.python)
        if plan.manager.name in ("uv", "poetry"):
            ensure_runtime_pip(ctx, plan.python)
    progress.operation = "downloading NLTK data"
    plan.nltk = nltk.run_nltk(ctx)
    progress.operation = "running Django's collectstatic"
    collectstatic.run_collectstatic(ctx)


def _finish(ctx: BuildContext, plan: _Plan, progress: _Progress) -> None:
    """The runtime environment, the post_compile hook, and the cache for the next build."""
    progress.operation = "writing the runtime environment"
    relocate.relocatable_shebangs(ctx.python_home / "bin")
    relocate.relocatable_site_packages(ctx.python_home, ctx.build_dir)
    manager = plan.manager.name
    profile.write_profile_scripts(ctx.build_dir, manager=manager, nltk=plan.nltk)
    export = profile.export_text(ctx.build_dir, manager=manager, cache_dir=ctx.cache_dir, nltk=plan.nltk)
    profile.append_export(export_dir(ctx), export)
    progress.operation = "running bin/post_compile"
    _hook(ctx, "post_compile")
    ctx.data.ensure_present()

    progress.operation = "saving the cache"
    with ctx.data.timed("cache_save_duration"):
        cache.save(ctx, plan.key, status=plan.cache_status, stack=plan.stack, python=plan.python)
    if manager != "uv":
        ctx.console.note(
            "uv could install this app's dependencies faster.",
            "pybuildpack supports uv: lock the app with `uv lock` and commit uv.lock in place of the "
            "current manager's files.\nFor a requirements.txt app, the config var "
            "PYBUILDPACK_INSTALLER=uv switches just the installer.",
        )


def _hook(ctx: BuildContext, name: str) -> None:
    started = time.monotonic()
    ran = hooks.run_hook(name, ctx.build_dir, hook_environment(ctx.build_env, ctx.config), ctx.console)
    ctx.data.set(f"{name}_hook", ran)
    if ran:
        ctx.data.set(f"{name}_hook_duration", round(time.monotonic() - started, 3))


def export_dir(ctx: BuildContext) -> Path:
    """Where the `export` file goes: the buildpack dir, unless the operator (a local platform running
    builds in parallel) gives each build its own directory."""
    override = ctx.environ.get("PYBUILDPACK_EXPORT_DIR")
    return Path(override) if override else BUILDPACK_DIR


def detect(build_dir: Path) -> int:
    if app.is_python_app(build_dir):
        print("Python")
        return 0
    Console().error(app.not_detected_error(build_dir))
    return 1


def release(build_dir: Path) -> int:
    """YAML for the platform: the Postgres add-on for a Django app using psycopg2, never process types."""
    python = build_dir / ".heroku" / "python" / "bin" / "python"
    wants_postgres = False
    if (build_dir / "manage.py").is_file() and python.is_file():
        env = {"PATH": "/usr/bin:/bin", "HOME": str(build_dir)}
        wants_postgres = capture([python, "-c", "import django, psycopg2"], env=env, cwd=build_dir).ok
    print("---\naddons:\n  - heroku-postgresql" if wants_postgres else "--- {}")
    return 0


def report(cache_dir: Path) -> int:
    print(build_data.report(cache_dir))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = {"detect": 1, "compile": 3, "test-compile": 3, "release": 1, "report": 3}
    if not args or args[0] not in usage or len(args) - 1 < usage[args[0]]:
        print(f"usage: bin/<{'|'.join(usage)}> BUILD_DIR [CACHE_DIR ENV_DIR]", file=sys.stderr)
        return 2
    face, paths = args[0], [Path(arg) for arg in args[1:]]
    if face == "detect":
        return detect(paths[0])
    if face == "release":
        return release(paths[0])
    if face == "report":
        return report(paths[1])
    if face == "test-compile":
        os.environ.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", DISABLE_COLLECTSTATIC="1", INSTALL_TEST="1")
    return compile_app(paths[0].resolve(), paths[1].resolve(), paths[2], install_test=face == "test-compile")


if __name__ == "__main__":
    raise SystemExit(main())
