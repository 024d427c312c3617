"""uv: uv.lock apps (`uv sync`), and the opt-in installer for requirements.txt apps
(PYBUILDPACK_INSTALLER=uv: `uv pip install` against the same runtime).

uv is a single binary. It comes from its wheel on the configured index (so one index mirror serves
everything), unpacked into CACHE_DIR/.heroku/python-uv: outside the slug, absent at runtime.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pybuildpack import run
from pybuildpack.context import BuildContext
from pybuildpack.errors import BuildError
from pybuildpack.layout import Layout, site_packages_dirs
from pybuildpack.package_managers import tool_store, tools, uv_wheel
from pybuildpack.package_managers.base import PackageManager, dependency_failure
from pybuildpack.package_managers.pip import bundled_pip_wheel, pins_for, requirements_inputs
from pybuildpack.package_managers.spec import EnvVar, ManagerSpec
from pybuildpack.python_version import PythonRules, ResolvedPython
from pybuildpack.runtime import _net

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
    """The uv binary at the pinned version: reused from the cache, taken from the tool store, or
    installed (``_install_uv``)."""
    home = ctx.layout.uv_tool
    binary = home / "uv"
    wanted = {"tool": "uv", "version": version}
    if binary.is_file() and tools.marker_matches(home, wanted):
        ctx.console.step(f"Using cached uv {version}")
        return binary
    key = tool_store.key("uv", version)
    tools.obtain(ctx, (key, home), lambda: _install_uv(ctx, version, binary), f"uv {version}")
    return binary


def _install_uv(ctx: BuildContext, version: str, binary: Path) -> None:
    """From its pinned, verified wheel where this platform has one (uv_wheel.py), else by pip from the
    index. A fetch started beside the runtime's install (``fetched_alongside``) is waited for here, so
    its error is reported where it always was."""
    home = binary.parent
    tools.remove(home)
    home.parent.mkdir(parents=True, exist_ok=True)
    pinned = uv_wheel.pinned(tools.locked_platform(ctx))
    if pinned is not None and pinned.version == version:
        ctx.console.step(f"Installing uv {version} from its pinned wheel")
        fetched = _wait_for_fetch(ctx)
        if fetched is not None:
            ctx.console.info("Downloaded and unpacked while Python was being installed.")
            fetched.rename(home)
            return
        fetch = _pinned_fetch(ctx, version)
        if fetch is None:  # no index configured: the one the runtime's bundled pip uses by default
            index = uv_wheel.default_index(bundled_pip_wheel(ctx.python_home))
            if index is None:
                raise tools.install_failure(ctx, "uv", f"uv {version}")
            fetch = functools.partial(_fetch_into, home, pinned, [index], version, _settings(ctx, []))
        fetch()
        return
    ctx.console.step(f"Installing uv {version}")
    _pip_install_uv(ctx, version, binary)
    binary.chmod(0o755)
    tools.write_marker(home, {"tool": "uv", "version": version})


def _settings(ctx: BuildContext, indexes: list[str]) -> tuple[list[str], _net.Settings]:
    """The indexes to look in (these, then the extra indexes) and the download settings."""
    env = tools.tool_environment(ctx)
    return [*indexes, *tools.extra_index_urls(env)], uv_wheel.settings(env, tools.certificate_file(env))


def _pinned_fetch(ctx: BuildContext, version: str, into: Path | None = None) -> Callable[[], None] | None:
    """Installing the pinned uv wheel into ``into`` (default: the uv tool dir), prepared in this thread
    (settings read now) so that it can run in another one; None when this build cannot do it without
    the runtime (no pinned wheel for this platform, the operator opted out, or no index is configured:
    the default one is read from the runtime's bundled pip)."""
    pinned = uv_wheel.pinned(tools.locked_platform(ctx))
    index = tools.index_url(tools.tool_environment(ctx))
    if pinned is None or pinned.version != version or index is None:
        return None
    where = ctx.layout.uv_tool if into is None else into
    return functools.partial(_fetch_into, where, pinned, [index], version, _settings(ctx, []))


def _fetch_into(
    home: Path,
    pinned: uv_wheel.PinnedWheel,
    indexes: list[str],
    version: str,
    settings: tuple[list[str], _net.Settings],
) -> None:
    """Make ``home`` hold the verified binary of ``pinned`` and its marker (no console output: this may
    run in a thread); the marker is written last, so a failure leaves no usable-looking install."""
    extra, config = settings
    tools.remove(home)
    home.mkdir(parents=True)
    uv_wheel.fetch_binary(pinned, [*indexes, *extra], config, home / "uv")
    (home / "uv").chmod(0o755)
    tools.write_marker(home, {"tool": "uv", "version": version})


def will_install(ctx: BuildContext, manager: PackageManager, python: ResolvedPython) -> bool:
    """Will installing ``manager``'s tool run uv? (The uv manager and installer always do; pip, Poetry
    and Pipenv do where their lock file for this platform and Python exists.)"""
    if isinstance(manager, Uv | UvPipInstaller):
        return True
    platform = tools.locked_platform(ctx)
    return platform is not None and tools.lock_file(platform, manager.name, python.major_text) is not None


def _in_store(ctx: BuildContext) -> bool:
    store = tool_store.root(ctx.config, ctx.environ)
    return store is not None and (store / tool_store.key("uv", tools.pins("uv")["uv"])).is_dir()


@contextlib.contextmanager
def fetched_alongside(ctx: BuildContext, manager: PackageManager, python: ResolvedPython) -> Iterator[None]:
    """Within the with-block (installing the runtime, then the tool), fetch and unpack the pinned uv
    wheel in a thread, into a dir beside the uv tool dir, when this build installs both the runtime
    and uv (not from the cache or the tool store) and can fetch uv without the runtime.
    ``_install_uv`` waits for it, reports its error, and moves it into place; on leaving, the thread
    has ended whatever happened and what it left unused is removed (nothing outlives the build, and
    a failure of the block is what is reported)."""
    fetched = ctx.layout.uv_tool.with_name(f".{ctx.layout.uv_tool.name}-fetched")
    wanted = not ctx.env_restored and ready_binary(ctx) is None and not _in_store(ctx)
    fetch = None
    if wanted and will_install(ctx, manager, python):
        fetch = _pinned_fetch(ctx, tools.pins("uv")["uv"], into=fetched)
    if fetch is None:
        yield
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="uv-wheel") as pool:
        future = pool.submit(fetch)
        ctx.uv_fetch = (future, fetched)
        try:
            yield
        finally:
            ctx.uv_fetch = None
            concurrent.futures.wait([future])
            tools.remove(fetched)


def _wait_for_fetch(ctx: BuildContext) -> Path | None:
    """The dir a fetch started by ``fetched_alongside`` filled, once it has succeeded (its error is
    raised here); None if no fetch was started."""
    started, ctx.uv_fetch = ctx.uv_fetch, None
    if started is None:
        return None
    future, fetched = started
    future.result()
    return fetched


def _pip_install_uv(ctx: BuildContext, version: str, binary: Path) -> None:
    """Today's fallback: `pip install --target` of the uv wheel with the runtime's bundled pip."""
    home = binary.parent
    with tempfile.TemporaryDirectory(prefix="uv-wheel-", dir=home.parent) as scratch:
        args = ["--target", scratch, "--no-deps", "--only-binary=:all:", f"uv=={version}"]
        result = tools.pip_install(ctx, args)
        unpacked = Path(scratch) / "bin" / "uv"
        if not result.ok or not unpacked.is_file():
            raise tools.install_failure(ctx, "uv", f"uv {version}")
        home.mkdir()
        shutil.move(str(unpacked), binary)


def locked_binary(ctx: BuildContext, tool: str, python: ResolvedPython) -> tuple[Path, Path] | None:
    """uv (installed now if needed) and the tool's lock file, when this build installs tools without
    pip (issue 11); None when it falls back to pip (opt-out, no pinned uv wheel or no lock here)."""
    platform = tools.locked_platform(ctx)
    # the locks hold CPython wheels: PyPy installs its tools with pip
    lock = tools.lock_file(platform, tool, python.major_text) if platform and python.pypy is None else None
    if lock is None:
        return None
    return install_uv(ctx, tools.pins("uv")["uv"]), lock


def install_locked(
    ctx: BuildContext, binary: Path, lock: Path, *, into: list[str], manager: str, label: str
) -> None:
    """`uv pip install --require-hashes` of a tool's whole closure from its lock file, with bytecode;
    `into` chooses the environment (`--python P`, plus `--target DIR` for a plain directory)."""
    cmd = [str(binary), "pip", "install", "--require-hashes", "--no-deps", "-r", str(lock), *into, "--quiet"]
    result = run.stream(
        [*cmd, "--break-system-packages", "--compile-bytecode", *common_flags(ctx)],
        env=runtime_environment(ctx),
        console=ctx.console,
        cwd=ctx.build_dir,
        line_filter=tools.line_filter(ctx),
    )
    if not result.ok:
        raise tools.install_failure(ctx, manager, label)


def ready_binary(ctx: BuildContext) -> Path | None:
    """The pinned uv binary if this build already has it (installed or restored), else None."""
    home = ctx.layout.uv_tool
    wanted = {"tool": "uv", "version": tools.pins("uv")["uv"]}
    binary = home / "uv"
    return binary if binary.is_file() and tools.marker_matches(home, wanted) else None


def runtime_environment(ctx: BuildContext) -> dict[str, str]:
    """uv's settings for `uv pip` commands on the runtime itself (not a project environment)."""
    env = uv_environment(ctx)
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    # Checked-hash .pyc files, as pip writes them: valid whatever the mtimes after relocation.
    env.setdefault("SOURCE_DATE_EPOCH", "315532801")
    return env


def pip_install_into_runtime(
    ctx: BuildContext, binary: Path, wanted: list[str], *, manager: str, label: str
) -> None:
    """`uv pip install` of pinned distributions into the runtime, with their bytecode."""
    cmd = [str(binary), "pip", "install", "--python", str(ctx.python), "--break-system-packages"]
    result = run.stream(
        [*cmd, "--compile-bytecode", *common_flags(ctx), *wanted],
        env=runtime_environment(ctx),
        console=ctx.console,
        cwd=ctx.build_dir,  # uv names the environment relative to it
        line_filter=tools.line_filter(ctx),
    )
    if not result.ok:
        raise tools.install_failure(ctx, manager, label)


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
        """`uv pip install` never removes what is no longer required; install_dependencies prunes
        for it after an in-place update (the set a clean install gives comes from `uv pip compile`)."""
        return True

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
        label = " and ".join(w.replace("==", " ") for w in wanted)
        ctx.console.step(f"Installing {label} using uv")
        platform = tools.locked_platform(ctx)
        lock = tools.lock_file(platform, "pip", python.major_text) if platform else None
        if lock is not None:  # uv is installed already: only the lock is wanted here
            into = ["--python", str(ctx.python)]
            install_locked(ctx, self.binary, lock, into=into, manager="pip", label=label)
        else:
            pip_install_into_runtime(ctx, self.binary, wanted, manager="pip", label=label)
        ctx.data.set("pip_version", pins.pip)

    def command(self, ctx: BuildContext) -> list[str]:
        cmd = ["uv", "pip", "install", "-r", "requirements.txt"]
        if self.install_test and (ctx.build_dir / "requirements-test.txt").is_file():
            cmd += ["-r", "requirements-test.txt"]
        return cmd

    def install_dependencies(self, ctx: BuildContext, python: ResolvedPython) -> None:
        shown = self.command(ctx)
        ctx.console.step(f"Installing dependencies using '{' '.join(shown)}'")
        cmd = [str(self.binary), *shown[1:], "--python", str(ctx.python), "--break-system-packages"]
        env = runtime_environment(ctx)
        # Updating a restored environment in place (D4): resolve the set a clean install gives, in
        # parallel with the install, to remove afterwards whatever is no longer required.
        clean_set = self._resolve_clean_install(ctx, shown[3:], env) if ctx.env_restored else None
        result = run.stream(
            [*cmd, "--compile-bytecode", *common_flags(ctx)],
            env=env,
            console=ctx.console,
            cwd=ctx.build_dir,
            line_filter=tools.line_filter(ctx),
        )
        if not result.ok:
            if clean_set is not None:
                clean_set.cancel()
            raise dependency_failure(ctx, "uv", result.output)
        if clean_set is not None:
            self._remove_unrequired(ctx, clean_set, env)

    def _resolve_clean_install(
        self, ctx: BuildContext, requirement_args: list[str], env: dict[str, str]
    ) -> run.Background:
        files = [arg for arg in requirement_args if arg != "-r"]  # `uv pip compile` takes them as operands
        cmd = [str(self.binary), "pip", "compile", *files, "--python", str(ctx.python)]
        cmd += ["--quiet", "--no-header", "--no-annotate", "--color", "never", "--no-progress"]
        return run.Background(cmd, env=env, cwd=ctx.build_dir)

    def _remove_unrequired(self, ctx: BuildContext, clean_set: run.Background, env: dict[str, str]) -> None:
        result = clean_set.wait()
        if not result.ok:
            ctx.console.tool_line(result.output)
            raise dependency_failure(ctx, "uv", result.output)
        extra = unrequired(ctx.python_home, result.output)
        if not extra:
            return
        ctx.console.info(f"Removing packages no longer required: {', '.join(extra)}")
        cmd = [str(self.binary), "pip", "uninstall", "--python", str(ctx.python), "--break-system-packages"]
        if not run.stream([*cmd, *common_flags(ctx), *extra], env=env, console=ctx.console).ok:
            raise dependency_failure(ctx, "uv", "")


_REQUIREMENT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==|@|\[|;|$)")


def unrequired(python_home: Path, compiled: str) -> list[str]:
    """Installed distributions that the resolved requirements (`uv pip compile` output) do not name.
    Editable and other unnamed lines (`-e URL`) keep the distribution installed from that URL."""
    keep = {"pip", "setuptools", "wheel"}
    urls = set()
    for line in compiled.splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _REQUIREMENT_NAME.match(text)
        if match:
            keep.add(_normalise(match.group(1)))
        else:
            urls.add(text.split()[-1])
    extra = []
    for info in sorted(site_dist_infos(python_home)):
        name = _normalise(info.name[: -len(".dist-info")].split("-", 1)[0])
        if name not in keep and _direct_url(info) not in urls:
            extra.append(name)
    return extra


def site_dist_infos(python_home: Path) -> list[Path]:
    sites = site_packages_dirs(python_home)
    return [info for site in sites for info in site.glob("*.dist-info")]


def _direct_url(info: Path) -> str | None:
    try:
        data = json.loads((info / "direct_url.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) else None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _add_build_env(ctx: BuildContext) -> None:
    """uv on PATH and its settings for the later steps and hooks (CONTRACT §8), as upstream does."""
    home = ctx.layout.uv_tool
    old = ctx.build_env.get("PATH")
    ctx.build_env["PATH"] = f"{home}:{old}" if old else str(home)
    ctx.build_env.update(build_variables(ctx.python_home))
    if os.path.realpath(ctx.python_home).startswith("/tmp/"):
        ctx.build_env["UV_CACHE_DIR"] = "/tmp/uv-cache"
