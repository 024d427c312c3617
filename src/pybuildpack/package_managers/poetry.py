"""Poetry: poetry.lock apps (`poetry sync --only main`).

Poetry runs from its own venv in CACHE_DIR/.heroku/python-poetry (outside the slug, absent at
runtime) and installs into the runtime's site-packages (no app venv). The configured index
(PIP_INDEX_URL) replaces PyPI through the pinned mirror plugin, so one index serves Poetry's own
installation and the app's packages.
"""

from __future__ import annotations

import re
from pathlib import Path

from pybuildpack import run
from pybuildpack.context import BuildContext
from pybuildpack.errors import BuildError
from pybuildpack.package_managers import tool_store, tools, uv
from pybuildpack.package_managers.base import dependency_failure
from pybuildpack.package_managers.spec import EnvVar, ManagerSpec
from pybuildpack.python_version import ResolvedPython

_PLUGIN = "poetry-plugin-pypi-mirror"
_PROJECT_FILES = ("pyproject.toml", "poetry.lock", "poetry.toml")
_OUT_OF_DATE = re.compile(r"pyproject\.toml changed significantly since poetry\.lock|Run `poetry lock`")


SPEC = ManagerSpec(
    name="poetry",
    display="Poetry",
    file="poetry.lock",
    runtime_env=(),  # Poetry is a build tool only: not in the slug, not on the runtime PATH
    build_env=lambda _where: (
        EnvVar("PATH", "bin", "prepend", under="poetry_tool"),
        EnvVar("POETRY_VIRTUALENVS_CREATE", "false"),
        EnvVar("POETRY_VIRTUALENVS_USE_POETRY_PYTHON", "true"),
    ),
    pip_at_runtime=True,
    own_locations=("poetry_tool", "poetry_cache"),
)


class Poetry:
    name = "poetry"

    def __init__(self, python: ResolvedPython, *, install_test: bool = False) -> None:
        self.install_test = install_test
        self.pins = tools.pins("poetry")

    @property
    def tool_version(self) -> str:
        return f"{self.pins['poetry']}+mirror-{self.pins[_PLUGIN]}"

    @property
    def syncs_exactly(self) -> bool:
        return True

    def input_files(self, build_dir: Path) -> list[Path]:
        return [build_dir / name for name in _PROJECT_FILES if (build_dir / name).is_file()]

    def build_env_additions(self) -> dict[str, str]:
        return {"POETRY_VIRTUALENVS_CREATE": "false", "POETRY_VIRTUALENVS_USE_POETRY_PYTHON": "true"}

    def install_tool(self, ctx: BuildContext, python: ResolvedPython) -> None:
        version = self.pins["poetry"]
        home = ctx.layout.poetry_tool
        venv = home / "venv"
        wanted = {"tool": "poetry", "version": version, _PLUGIN: self.pins[_PLUGIN], "python": python.full}
        if (venv / "bin" / "poetry").is_file() and tools.marker_matches(home, wanted):
            ctx.console.step(f"Using cached Poetry {version}")
            _repoint_venv(venv, ctx)
        else:
            key = tool_store.key("poetry", f"{version}-{_PLUGIN}-{self.pins[_PLUGIN]}", python.major_text)
            install = lambda: self._install(ctx, python, home, venv)  # noqa: E731
            tools.obtain(ctx, (key, home), install, f"Poetry {version}")
            _repoint_venv(venv, ctx)
            tools.write_marker(home, wanted)
        ctx.data.set("poetry_version", version)
        bin_dir = home / "bin"
        old = ctx.build_env.get("PATH")
        ctx.build_env["PATH"] = f"{bin_dir}:{old}" if old else str(bin_dir)

    def _install(self, ctx: BuildContext, python: ResolvedPython, home: Path, venv: Path) -> None:
        label = f"Poetry {self.pins['poetry']}"
        ctx.console.step(f"Installing {label}")
        tools.remove(home)
        home.mkdir(parents=True)
        env = tools.tool_environment(ctx)
        made = run.stream(
            [str(ctx.python), "-m", "venv", "--without-pip", str(venv)],
            env=env,
            console=ctx.console,
            cwd=ctx.cache_dir,
        )
        if not made.ok:
            raise tools.install_failure(ctx, "poetry", label)
        # Poetry's own marker: this venv is Poetry's, so it works on the base (runtime) environment.
        (venv / "poetry_env").touch()
        found = uv.locked_binary(ctx, "poetry", python)
        if found is not None:  # issue 11: Poetry's whole closure from its lock, by uv
            into = ["--python", str(venv / "bin" / "python")]
            uv.install_locked(ctx, found[0], found[1], into=into, manager="poetry", label=label)
        else:
            wanted = [f"poetry=={self.pins['poetry']}", f"{_PLUGIN}=={self.pins[_PLUGIN]}"]
            result = tools.pip_install(ctx, ["--only-binary=:all:", *wanted], python=venv / "bin" / "python")
            if not result.ok:
                raise tools.install_failure(ctx, "poetry", label)
        (home / "bin").mkdir()
        (home / "bin" / "poetry").symlink_to(Path("..") / venv.name / "bin" / "poetry")  # relative: movable

    def command(self) -> list[str]:
        return ["poetry", "sync"] if self.install_test else ["poetry", "sync", "--only", "main"]

    def install_dependencies(self, ctx: BuildContext, python: ResolvedPython) -> None:
        shown = self.command()
        ctx.console.step(f"Installing dependencies using '{' '.join(shown)}'")
        ansi = "--ansi" if tools.colour(ctx) else "--no-ansi"
        poetry = ctx.layout.poetry_tool / "bin" / "poetry"
        cmd = [str(poetry), *shown[1:], "--compile", "--no-interaction", ansi]
        result = run.stream(
            cmd,
            env=self._env(ctx),
            console=ctx.console,
            cwd=ctx.build_dir,
            line_filter=_filter(ctx),
        )
        if not result.ok:
            raise _failure(ctx, result.output)

    def _env(self, ctx: BuildContext) -> dict[str, str]:
        env = tools.tool_environment(ctx)
        env.update(self.build_env_additions())
        env["POETRY_CACHE_DIR"] = str(ctx.layout.poetry_cache)
        env["POETRY_NO_INTERACTION"] = "1"
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        ours = self.build_env_additions()
        for name in [key for key in env if key.startswith("POETRY_VIRTUALENVS_") and key not in ours]:
            env.pop(name)
        url = tools.index_url(env)
        if url:
            env["POETRY_PYPI_MIRROR_URL"] = url
            cert = tools.certificate_file(env)
            if cert:
                env.setdefault("POETRY_CERTIFICATES_PYPI_CERT", cert)
        return env


def _repoint_venv(venv: Path, ctx: BuildContext) -> None:
    """A venv names its base Python by absolute path; the runtime moved with the new build dir, so
    point the cached venv at this build's runtime (same version: the marker checks it)."""
    cfg = venv / "pyvenv.cfg"
    lines = cfg.read_text(encoding="utf-8").splitlines()
    home = ctx.python_home / "bin"
    lines = [f"home = {home}" if line.split("=", 1)[0].strip() == "home" else line for line in lines]
    staged = cfg.with_name("pyvenv.cfg.new")  # replaced, not rewritten: it may be a link into the tool store
    staged.write_text("\n".join(lines) + "\n", encoding="utf-8")
    staged.replace(cfg)
    for link in (venv / "bin").iterdir():
        if link.is_symlink() and link.name.startswith("python") and link.readlink().is_absolute():
            link.unlink()
            link.symlink_to(ctx.python)


def _filter(ctx: BuildContext) -> run.LineFilter:
    masked = tools.line_filter(ctx)

    def clean(line: str) -> str | None:
        if line.startswith("Skipping virtualenv creation"):
            return None
        return masked(line)

    return clean


def _failure(ctx: BuildContext, output: str) -> BuildError:
    if _OUT_OF_DATE.search(output):
        return BuildError(
            "poetry.lock is out of date: it does not match pyproject.toml.",
            "The build installs exactly what poetry.lock records, and Poetry reports above that "
            "pyproject.toml changed since the lockfile was generated.",
            "Run `poetry lock`, commit poetry.lock, and build again.",
            failure_reason="install-dependencies::poetry",
            failure_detail="lockfile-out-of-date",
        )
    return dependency_failure(ctx, "poetry", output)
