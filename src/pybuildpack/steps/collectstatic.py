"""Django's ``collectstatic`` (CONTRACT §10), run once the dependencies are installed.

Checks, in order: the deprecated ``.heroku/collectstatic_disabled`` file; ``DISABLE_COLLECTSTATIC``
(config var, else the process env that ``bin/test-compile`` sets); Django importable by the built
Python; a ``manage.py`` at most three levels deep (the shallowest wins). Then
``python <manage.py> collectstatic --noinput --traceback`` runs from BUILD_DIR with the config vars
visible and ``PYTHONPATH`` defaulting to ``.``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pybuildpack import run
from pybuildpack.context import BuildContext
from pybuildpack.env import hook_environment, is_enabled, mask_secrets, mask_url
from pybuildpack.errors import BuildError
from pybuildpack.steps import static_reuse
from pybuildpack.steps.nltk import module_available

DISABLED_FILE = Path(".heroku") / "collectstatic_disabled"
MAX_DEPTH = 3

# First match wins, in this order (CONTRACT §10).
FAILURE_MARKERS = (
    ("SyntaxError", "collectstatic-syntax-error"),
    ("ImproperlyConfigured", "collectstatic-improper-configuration"),
    ("The CSS file", "collectstatic-fancy-references"),
    ("OSError", "collectstatic-missing-file"),
)
OTHER_FAILURE = "collectstatic-other"


def run_collectstatic(ctx: BuildContext) -> None:
    if (ctx.build_dir / DISABLED_FILE).exists():
        ctx.console.step(f"Skipping Django collectstatic since the file '{DISABLED_FILE}' exists.")
        ctx.console.warning(
            f"The '{DISABLED_FILE}' file is deprecated.",
            f"Support for disabling collectstatic with the file '{DISABLED_FILE}' will be removed.\n"
            "Set the config var DISABLE_COLLECTSTATIC=1 instead, then delete the file.",
        )
        ctx.data.set("django_collectstatic", "disabled-file")
        return
    if switched_on("DISABLE_COLLECTSTATIC", ctx.config, ctx.environ):
        ctx.console.step("Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set.")
        ctx.data.set("django_collectstatic", "disabled-env-var")
        return
    if not module_available(ctx, "django"):
        return
    manage_py = find_manage_py(ctx.build_dir)
    if manage_py is None:
        ctx.console.step(
            f"Skipping Django collectstatic since no 'manage.py' was found (looked {MAX_DEPTH} levels deep)."
        )
        ctx.data.set("django_collectstatic", "skipped-no-manage-py")
        return
    with ctx.data.timed("django_collectstatic_duration"):
        outcome = _collectstatic(ctx, manage_py)
    ctx.data.set("django_collectstatic", outcome)


def switched_on(name: str, config: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    """A buildpack switch: set to anything but ``0`` (empty counts as ``0``); the config var wins."""
    value = config.get(name, "").strip() or environ.get(name, "").strip()
    return value not in ("", "0")


def find_manage_py(build_dir: Path) -> Path | None:
    """The shallowest ``manage.py`` at depth <= 3 (ties: the first path in sorted order), relative."""
    level = [Path()]
    for _depth in range(MAX_DEPTH):
        candidates = sorted(d / "manage.py" for d in level if (build_dir / d / "manage.py").is_file())
        if candidates:
            return candidates[0]
        level = [sub for d in level for sub in _subdirs(build_dir, d)]
    return None


def _subdirs(build_dir: Path, relative: Path) -> list[Path]:
    """Real (not symlinked) subdirectories, like ``find`` without ``-L``."""
    try:
        with os.scandir(build_dir / relative) as entries:
            return sorted(relative / e.name for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def collectstatic_environment(ctx: BuildContext) -> dict[str, str]:
    """The hooks' environment (config vars visible), from BUILD_DIR, ``PYTHONPATH`` defaulting to ``.``."""
    env = hook_environment(ctx.build_env, ctx.config)
    env["PWD"] = str(ctx.build_dir)
    if not env.get("PYTHONPATH"):
        env["PYTHONPATH"] = "."
    return env


def _collectstatic(ctx: BuildContext, manage_py: Path) -> str:
    """Run collectstatic, or restore its previous output when nothing it reads has changed.
    Returns the report's django_collectstatic value."""
    env = collectstatic_environment(ctx)
    key = static_reuse.digest(ctx, manage_py, env)
    cleared = is_enabled("PYBUILDPACK_CLEAR_CACHE", ctx.config, ctx.environ)
    if not cleared and static_reuse.restore(ctx, key):
        ctx.console.step(
            f"Restoring the output of the last 'python {manage_py} collectstatic --noinput': the app's "
            "files, its installed packages, the environment and the config vars are unchanged"
        )
        return "restored"
    static_reuse.forget(ctx)
    before = static_reuse.snapshot(ctx.build_dir)
    ctx.console.step(f"$ python {manage_py} collectstatic --noinput")
    command: list[str | Path] = [ctx.python, manage_py, "collectstatic", "--noinput", "--traceback"]
    result = run.stream(command, env=env, console=ctx.console, cwd=ctx.build_dir)
    ctx.console.info("")
    if result.ok:
        static_reuse.save(ctx, key, before)
        return "enabled"
    if switched_on("DEBUG_COLLECTSTATIC", ctx.config, ctx.environ):
        _print_environment(ctx, env)
    raise BuildError(
        f"Unable to generate Django static files ('python {manage_py} collectstatic' failed).",
        "The collectstatic command exited with status "
        f"{result.returncode}. See the traceback above for the cause.\n"
        "\n"
        "This often means the Django settings or the code they import have a problem, or that the\n"
        "settings need a config var (or a service) that isn't available during the build.",
        "Fix the problem in the app, or if the app doesn't need collectstatic during the build, "
        "disable it\nby setting the config var DISABLE_COLLECTSTATIC=1.\n"
        "To see the environment collectstatic ran with, set the config var DEBUG_COLLECTSTATIC=1.",
        failure_reason=failure_reason(result.output),
    )


def failure_reason(output: str) -> str:
    for marker, reason in FAILURE_MARKERS:
        if marker in output:
            return reason
    return OTHER_FAILURE


def _print_environment(ctx: BuildContext, env: Mapping[str, str]) -> None:
    """DEBUG_COLLECTSTATIC: the environment collectstatic saw, config var values hidden."""
    ctx.console.step("Environment variables collectstatic ran with (DEBUG_COLLECTSTATIC is set):")
    for name in sorted(env):
        if name in ctx.config and env[name] == ctx.config[name]:
            shown = "<config var, value hidden>"
        else:
            shown = mask_secrets(mask_url(env[name]) if "://" in env[name] else env[name], ctx.config)
        ctx.console.info(f"{name}={shown}")
