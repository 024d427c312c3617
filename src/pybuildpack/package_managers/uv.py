"""uv: uv.lock apps (`uv sync`), and the opt-in installer for requirements.txt apps
(PYBUILDPACK_INSTALLER=uv: `uv pip install` against the same runtime).

uv is a single binary. It comes from its wheel on the configured index (so one index mirror serves
everything), unpacked into CACHE_DIR/.heroku/python-uv: outside the slug, absent at runtime.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pybuildpack import run
from pybuildpack.context import BuildContext
from pybuildpack.errors import BuildError
from pybuildpack.layout import Layout
from pybuildpack.package_managers import tools
from pybuildpack.package_managers.base import dependency_failure
from pybuildpack.package_managers.pip import pins_for, requirements_inputs
from pybuildpack.package_managers.spec import EnvVar, ManagerSpec
from pybuildpack.python_version import PythonRules, ResolvedPython

_PROJECT_FILES = ("pyproject.toml", "uv.lock", ".python-version", "uv.toml")
_OUT_OF_DATE = "needs to be updated, but `--locked` was provided"


def _later_build_env(where: Layout) -> tuple[EnvVar, ...]:
    found: tuple[EnvVar, ...] = (
        EnvVar("PATH", "", "prepend", under="uv_tool"),
        EnvVar("UV_PROJECT_ENVIRONMENT", under="python_home"),
        EnvVar("UV_NO_MANAGED_PYTHON", "1"),
        EnvVar("UV_PYTHON_DOWNLOADS", "never"),
        EnvVar("UV_LINK_MODE", "hardlink"),
    )
    if os.path.realpath(where.python_home).startswith("/tmp/"):
        # hard links need the cache on the install's filesystem; a user cache dir usually isn't
        found += (EnvVar("UV_CACHE_DIR", "/tmp/uv-cache"),)
    return found


SPEC = ManagerSpec(
    name="uv",
    display="uv",
    file="uv.lock",
    runtime_env=(),  # uv is a build tool only: not in the slug, not on the runtime PATH
    build_env=_later_build_env,
    pip_at_runtime=True,
    suggest_uv=False,
    python=PythonRules(explicit_version=True),  # uv reads .python-version and requires-python only
)


def install_uv(ctx: BuildContext, version: str) -> Path:
    """The uv binary at the pinned version, installed from the index or reused from the cache."""
    home = ctx.layout.uv_tool
    binary = home / "uv"
    wanted = {"tool": "uv", "version": version}
    if binary.is_file() and tools.marker_matches(home, wanted):
        ctx.console.step(f"Using cached uv {version}")
        return binary
    ctx.console.step(f"Installing uv {version}")
    tools.remove(home)
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="uv-wheel-", dir=home.parent) as scratch:
        args = ["--target", scratch, "--no-deps", "--only-binary=:all:", f"uv=={version}"]
        result = tools.pip_install(ctx, args)
        unpacked = Path(scratch) / "bin" / "uv"
        if not result.ok or not unpacked.is_file():
            raise tools.install_failure(ctx, "uv", f"uv {version}")
        home.mkdir()
        shutil.move(str(unpacked), binary)
    binary.chmod(0o755)
    tools.write_marker(home, wanted)
    return binary


def uv_environment(ctx: BuildContext) -> dict[str, str]:
    """uv's own settings, from the buildpack's: the runtime as the project environment, no other Python,
    the configured index as the default index, a cache in CACHE_DIR."""
    env = tools.tool_environment(ctx)
    env.update(build_variables(ctx.python_home))
    cache = ctx.layout.uv_cache
    env["UV_CACHE_DIR"] = str(cache)
    # Hard links need the cache on the same filesystem as the install; otherwise copy quietly.
    cache.mkdir(parents=True, exist_ok=True)
    same_device = cache.stat().st_dev == ctx.python_home.stat().st_dev
    env["UV_LINK_MODE"] = "hardlink" if same_device else "copy"
    env["UV_PYTHON"] = str(ctx.python)
    for blocked in ("UV_SYSTEM_PYTHON", "UV_TARGET", "UV_NO_SYNC", "UV_FROZEN", "UV_OFFLINE"):
        env.pop(blocked, None)
    url = tools.index_url(env)
    if url:
        env["UV_DEFAULT_INDEX"] = url
    extras = tools.extra_index_urls(env)
    if extras:
        env["UV_INDEX"] = " ".join(extras)
    cert = tools.certificate_file(env)
    if cert and not env.get("SSL_CERT_FILE"):
        env["SSL_CERT_FILE"] = cert
    return env


def build_variables(python_home: Path) -> dict[str, str]:
    return {
        "UV_PROJECT_ENVIRONMENT": str(python_home),
        "UV_NO_MANAGED_PYTHON": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "hardlink",
    }


def common_flags(ctx: BuildContext) -> list[str]:
    return ["--color", "always" if tools.colour(ctx) else "never", "--no-progress"]


def failure(ctx: BuildContext, output: str) -> BuildError:
    if _OUT_OF_DATE in output:
        return BuildError(
            "uv.lock is out of date: it does not match pyproject.toml.",
            "The build installs exactly what uv.lock records (`uv sync --locked`), and uv reports above "
            "that the lockfile needs to be updated. uv also counts a lock made against another package "
            "index than the one the build uses (PIP_INDEX_URL) as out of date.",
            "Run `uv lock` (with the index the build uses), commit uv.lock, and build again.",
            failure_reason="install-dependencies::uv",
            failure_detail="lockfile-out-of-date",
        )
    return dependency_failure(ctx, "uv", output)


class Uv:
    """uv.lock apps."""

    name = "uv"

    def __init__(self, python: ResolvedPython, *, install_test: bool = False) -> None:
        self.install_test = install_test
        self.version = tools.pins("uv")["uv"]

    @property
    def tool_version(self) -> str:
        return self.version

    @property
    def syncs_exactly(self) -> bool:
        return True

    def input_files(self, build_dir: Path) -> list[Path]:
        return [build_dir / name for name in _PROJECT_FILES if (build_dir / name).is_file()]

    def build_env_additions(self) -> dict[str, str]:
        return {}

    def install_tool(self, ctx: BuildContext, python: ResolvedPython) -> None:
        self.binary = install_uv(ctx, self.version)
        ctx.data.set("uv_version", self.version)
        _add_build_env(ctx)

    def command(self) -> list[str]:
        if self.install_test:
            return ["uv", "sync", "--locked"]
        return ["uv", "sync", "--locked", "--no-default-groups"]

    def install_dependencies(self, ctx: BuildContext, python: ResolvedPython) -> None:
        shown = self.command()
        ctx.console.step(f"Installing dependencies using '{' '.join(shown)}'")
        cmd = [str(self.binary), *shown[1:], "--python", str(ctx.python), "--compile-bytecode"]
        cmd += common_flags(ctx)
        result = run.stream(
            cmd,
            env=uv_environment(ctx),
            console=ctx.console,
            cwd=ctx.build_dir,
            line_filter=tools.line_filter(ctx),
        )
        if not result.ok:
            raise failure(ctx, result.output)


class UvPipInstaller:
    """requirements.txt apps with PYBUILDPACK_INSTALLER=uv: `uv pip install` into the runtime."""

    name = "pip"  # the app is still a requirements.txt (pip) app; the installer is uv

    def __init__(self, python: ResolvedPython, *, install_test: bool = False) -> None:
        self.install_test = install_test
        self.version = tools.pins("uv")["uv"]

    @property
    def tool_version(self) -> str:
        return f"uv-{self.version}"

    @property
    def syncs_exactly(self) -> bool:
        return False

    def input_files(self, build_dir: Path) -> list[Path]:
        return requirements_inputs(build_dir, install_test=self.install_test)

    def build_env_additions(self) -> dict[str, str]:
        return {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    def install_tool(self, ctx: BuildContext, python: ResolvedPython) -> None:
        ctx.console.info("PYBUILDPACK_INSTALLER=uv: requirements.txt is installed with uv instead of pip.")
        self.binary = install_uv(ctx, self.version)
        ctx.data.set("uv_version", self.version)
        # pip stays available at runtime (one-off commands), as for pip-installed apps.
        pins = pins_for(python)
        wanted = [f"pip=={pins.pip}"] + ([f"setuptools=={pins.setuptools}"] if pins.setuptools else [])
        ctx.console.step(f"Installing {' and '.join(w.replace('==', ' ') for w in wanted)} using uv")
        cmd = [str(self.binary), "pip", "install", "--python", str(ctx.python), "--break-system-packages"]
        env = uv_environment(ctx)
        env.pop("UV_PROJECT_ENVIRONMENT", None)
        result = run.stream(
            [*cmd, *common_flags(ctx), *wanted],
            env=env,
            console=ctx.console,
            cwd=ctx.cache_dir,
            line_filter=tools.line_filter(ctx),
        )
        if not result.ok:
            raise tools.install_failure(ctx, "pip", " and ".join(wanted))
        ctx.data.set("pip_version", pins.pip)

    def command(self, ctx: BuildContext) -> list[str]:
        cmd = ["uv", "pip", "install", "-r", "requirements.txt"]
        if self.install_test and (ctx.build_dir / "requirements-test.txt").is_file():
            cmd += ["-r", "requirements-test.txt"]
        return cmd

    def install_dependencies(self, ctx: BuildContext, python: ResolvedPython) -> None:
        shown = self.command(ctx)
        ctx.console.step(f"Installing dependencies using '{' '.join(shown)}'")
        cmd = [
            str(self.binary),
            *shown[1:],
            "--python",
            str(ctx.python),
            "--break-system-packages",
            "--compile-bytecode",
            *common_flags(ctx),
        ]
        env = uv_environment(ctx)
        env.pop("UV_PROJECT_ENVIRONMENT", None)
        result = run.stream(
            cmd, env=env, console=ctx.console, cwd=ctx.build_dir, line_filter=tools.line_filter(ctx)
        )
        if not result.ok:
            raise dependency_failure(ctx, "uv", result.output)


def _add_build_env(ctx: BuildContext) -> None:
    """uv on PATH and its settings for the later steps and hooks (CONTRACT §8), as upstream does."""
    home = ctx.layout.uv_tool
    old = ctx.build_env.get("PATH")
    ctx.build_env["PATH"] = f"{home}:{old}" if old else str(home)
    ctx.build_env.update(build_variables(ctx.python_home))
    if os.path.realpath(ctx.python_home).startswith("/tmp/"):
        ctx.build_env["UV_CACHE_DIR"] = "/tmp/uv-cache"
