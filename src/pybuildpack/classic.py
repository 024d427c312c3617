"""The classic buildpack API: detect, compile, release, report, test-compile.

A thin face: it turns the API's arguments (BUILD_DIR CACHE_DIR ENV_DIR) into a classic layout and a
build context, runs the engine (engine.py), and writes what the classic API expects of a build
(.profile.d scripts, the `export` file).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pybuildpack import app, appfile, build_data, cache, checks, engine, layout
from pybuildpack.context import BuildContext
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.run import capture
from pybuildpack.steps import profile

BUILDPACK_DIR = Path(__file__).resolve().parents[2]


class ClassicFace:
    """The classic tree: Python in BUILD_DIR/.heroku/python, the environment kept in CACHE_DIR, the
    runtime environment as .profile.d scripts and the `export` file."""

    def check_before_hooks(self, ctx: BuildContext) -> None:
        checks.check_duplicate_run(ctx.build_dir, ctx.environ)

    def check_app(self, ctx: BuildContext) -> None:
        checks.check_no_python_dir(ctx.build_dir)

    def env_store(self, ctx: BuildContext) -> cache.EnvStore:
        return cache.EnvCache(ctx.layout.env_cache, ctx.layout.cache_root)

    def write_runtime_env(self, ctx: BuildContext, plan: engine.Plan) -> None:
        profile_d = ctx.layout.profile_d
        assert profile_d is not None  # the classic layout always has one
        profile.write_profile_scripts(profile_d, manager=plan.manager.name, nltk=plan.nltk)
        export = profile.export_text(ctx.layout, manager=plan.manager.name, nltk=plan.nltk)
        profile.append_export(export_dir(ctx), export)

    def declare(self, ctx: BuildContext, plan: engine.Plan) -> None:
        """The platform reads the Procfile itself; bin/release declares the default web process found
        (recorded here, since bin/release is given BUILD_DIR only)."""
        record = ctx.layout.default_web
        assert record is not None  # the classic layout always has one
        if plan.web is None:
            record.unlink(missing_ok=True)
        else:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(f"{plan.web}\n", encoding="utf-8")


def compile_app(
    build_dir: Path,
    cache_dir: Path,
    env_dir: Path | None,
    *,
    install_test: bool = False,
    environ: Mapping[str, str] | None = None,
) -> int:
    where = layout.classic(build_dir, cache_dir)
    environ = dict(os.environ if environ is None else environ)
    return engine.execute(where, env_dir, environ, ClassicFace(), install_test=install_test)


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
    """YAML for the platform: the Postgres add-on for a Django app using psycopg2, and the default web
    process the build found when the app opted into one (PYBUILDPACK_DEFAULT_WEB)."""
    python = layout.classic_python_home(build_dir) / "bin" / "python"
    wants_postgres = False
    if (build_dir / "manage.py").is_file() and python.is_file():
        env = {"PATH": "/usr/bin:/bin", "HOME": str(build_dir)}
        wants_postgres = capture([python, "-c", "import django, psycopg2"], env=env, cwd=build_dir).ok
    lines = ["addons:", "  - heroku-postgresql"] if wants_postgres else []
    web = recorded_default_web(build_dir)
    if web is not None:
        lines += ["default_process_types:", f"  web: '{web}'"]
    print("\n".join(["---", *lines]) if lines else "--- {}")
    return 0


_WEB_COMMAND = re.compile(r"(?:gunicorn|uvicorn) [^'\n\\]{1,400}")


def recorded_default_web(build_dir: Path) -> str | None:
    """The command the build recorded; None when there is none or it is not one the build writes."""
    record = layout.classic_default_web(build_dir)
    if not record.is_file():
        return None
    try:
        data = appfile.read_app_file(build_dir, record, limit=1024, failure_reason="procfile::unreadable")
    except BuildError:
        return None
    command = data.decode("utf-8", "replace").strip()
    return command if _WEB_COMMAND.fullmatch(command) else None


def report(cache_dir: Path) -> int:
    print(build_data.report(layout.classic_build_data(cache_dir)))
    return 0


TEST_COMPILE_ENV = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "DISABLE_COLLECTSTATIC": "1", "INSTALL_TEST": "1"}


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
    environ = dict(os.environ)
    if face == "test-compile":
        environ.update(TEST_COMPILE_ENV)
    build_dir, cache_dir = paths[0].resolve(), paths[1].resolve()
    return compile_app(build_dir, cache_dir, paths[2], install_test=face == "test-compile", environ=environ)


if __name__ == "__main__":
    raise SystemExit(main())
