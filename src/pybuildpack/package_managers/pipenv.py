"""Pipenv: Pipfile.lock apps (`pipenv install --deploy`).

Pipenv lives in the slug, in BUILD_DIR/.heroku/python/pipenv, so it is on the runtime PATH for
one-off commands, as upstream has it. It is not a venv (a venv pins an absolute home and breaks when
the app moves): its libraries are in pipenv/lib and pipenv/bin/pipenv is a small sh wrapper that runs
them with the app's Python, found relative to itself. Pipenv's own dependencies stay in pipenv/lib,
off the app's sys.path, so they never satisfy or shadow the app's packages.
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
from pybuildpack.python_version import PythonRules, ResolvedPython

_LAUNCHER = "pybuildpack_pipenv_main.py"
_LAUNCHER_TEXT = """\
# Written by pybuildpack: runs Pipenv from this directory (sys.path[0]) with the app's Python.
import sys

from pipenv import cli

sys.argv[0] = "pipenv"
sys.exit(cli())
"""
_WRAPPER_TEXT = """\
#!/bin/sh
# Written by pybuildpack: Pipenv, run by the app's Python; works wherever the app is moved.
here="$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)"
exec "${here}/../../bin/python" "${here}/../lib/LAUNCHER" "$@"
""".replace("LAUNCHER", _LAUNCHER)


# Pipenv's warning when the Pipfile's [requires] disagrees with the Python it runs on (in deploy mode
# it then aborts). Pipenv wraps long lines, so any whitespace may separate the words.
_PYTHON_MISMATCH = re.compile(
    r'Your\s+Pipfile\s+requires\s+"?(?P<key>python_(?:full_)?version)"?\s+(?P<wanted>\S+),\s+but\s+you\s+'
    r"are\s+using\s+(?P<used>[0-9][0-9.]*)"
)


_PIPENV_ENV = (
    EnvVar("PATH", "pipenv/bin", "prepend", under="python_home"),
    EnvVar("PIPENV_SYSTEM", "1"),
    EnvVar("PIPENV_VERBOSITY", "-1"),
    EnvVar("VIRTUAL_ENV", under="python_home"),
)
SPEC = ManagerSpec(
    name="pipenv",
    display="Pipenv",
    file="Pipfile.lock",
    runtime_env=_PIPENV_ENV,  # Pipenv stays in the slug, usable at runtime
    build_env=lambda _where: _PIPENV_ENV,
    pip_at_runtime=False,  # Pipenv installs with the runtime's pip, which stays
    python=PythonRules(version_in_lockfile="Pipfile.lock"),
    own_locations=("pipenv_cache",),
)


class Pipenv:
    name = "pipenv"

    def __init__(self, python: ResolvedPython, *, install_test: bool = False) -> None:
        self.install_test = install_test
        self.version = tools.pins("pipenv")["pipenv"]

    @property
    def tool_version(self) -> str:
        return self.version

    @property
    def syncs_exactly(self) -> bool:
        return False  # `pipenv install` never removes what the lock no longer lists

    def input_files(self, build_dir: Path) -> list[Path]:
        return [build_dir / name for name in ("Pipfile", "Pipfile.lock") if (build_dir / name).is_file()]

    def build_env_additions(self) -> dict[str, str]:
        return {"PIPENV_SYSTEM": "1", "PIPENV_VERBOSITY": "-1"}

    def install_tool(self, ctx: BuildContext, python: ResolvedPython) -> None:
        home = ctx.layout.pipenv_tool
        wanted = {"tool": "pipenv", "version": self.version, "python": python.full}
        if (home / "bin" / "pipenv").is_file() and tools.marker_matches(home, wanted):
            ctx.console.step(f"Using cached Pipenv {self.version}")
        else:
            key = tool_store.key("pipenv", self.version, python.major_text)
            tools.obtain(ctx, (key, home), lambda: self._install(ctx, python, home), f"Pipenv {self.version}")
            tools.write_marker(home, wanted)
        ctx.data.set("pipenv_version", self.version)
        bin_dir = home / "bin"
        old = ctx.build_env.get("PATH")
        ctx.build_env["PATH"] = f"{bin_dir}:{old}" if old else str(bin_dir)
        ctx.build_env["VIRTUAL_ENV"] = str(ctx.python_home)

    def _install(self, ctx: BuildContext, python: ResolvedPython, home: Path) -> None:
        ctx.console.step(f"Installing Pipenv {self.version}")
        tools.remove(home)
        lib = home / "lib"
        lib.mkdir(parents=True)
        label = f"Pipenv {self.version}"
        found = uv.locked_binary(ctx, "pipenv", python)
        if found is not None:  # issue 11: Pipenv's whole closure from its lock, by uv
            into = ["--python", str(ctx.python), "--target", str(lib)]
            uv.install_locked(ctx, found[0], found[1], into=into, manager="pipenv", label=label)
        else:
            wanted = ["--target", str(lib), "--only-binary=:all:", f"pipenv=={self.version}"]
            if not tools.pip_install(ctx, wanted).ok:
                raise tools.install_failure(ctx, "pipenv", label)
        # Console scripts pip wrote with absolute shebangs: the wrapper below replaces them.
        tools.remove(lib / "bin")
        (lib / _LAUNCHER).write_text(_LAUNCHER_TEXT, encoding="utf-8")
        wrapper = home / "bin" / "pipenv"
        wrapper.parent.mkdir()
        wrapper.write_text(_WRAPPER_TEXT, encoding="utf-8")
        wrapper.chmod(0o755)

    def command(self) -> list[str]:
        cmd = ["pipenv", "install", "--deploy"]
        return [*cmd, "--dev"] if self.install_test else cmd

    def install_dependencies(self, ctx: BuildContext, python: ResolvedPython) -> None:
        shown = self.command()
        ctx.console.step(f"Installing dependencies using '{' '.join(shown)}'")
        wrapper = ctx.layout.pipenv_tool / "bin" / "pipenv"
        result = run.stream(
            [str(wrapper), *shown[1:]],
            env=self._env(ctx),
            console=ctx.console,
            cwd=ctx.build_dir,
            line_filter=tools.line_filter(ctx),
        )
        if not result.ok:
            raise _failure(ctx, python, result.output)

    def _env(self, ctx: BuildContext) -> dict[str, str]:
        env = tools.tool_environment(ctx)
        env.update(self.build_env_additions())
        env["VIRTUAL_ENV"] = str(ctx.python_home)
        env["PIPENV_NOSPIN"] = "1"
        env["PIPENV_YES"] = "1"
        env["PIPENV_DONT_LOAD_ENV"] = "1"
        env["PIPENV_CACHE_DIR"] = str(ctx.layout.pipenv_cache)
        env["PIP_SRC"] = str(ctx.layout.pip_src)
        url = tools.index_url(env)
        if url:
            env["PIPENV_PYPI_MIRROR"] = url
        return env


def _failure(ctx: BuildContext, python: ResolvedPython, output: str) -> BuildError:
    mismatch = _PYTHON_MISMATCH.search(output)
    if mismatch and "Aborting deploy" in output:
        return _python_mismatch(python, mismatch["key"], mismatch["wanted"])
    if "Aborting deploy" in output and "Pipfile.lock" in output:
        return BuildError(
            "Pipfile.lock is out of date: it does not match the Pipfile.",
            "The build installs exactly what Pipfile.lock records (`pipenv install --deploy`), and "
            "Pipenv reports above that the Pipfile changed since the lockfile was generated.",
            "Run `pipenv lock`, commit Pipfile.lock, and build again.",
            failure_reason="install-dependencies::pipenv",
            failure_detail="lockfile-out-of-date",
        )
    return dependency_failure(ctx, "pipenv", output)


def _python_mismatch(python: ResolvedPython, key: str, wanted: str) -> BuildError:
    origin = python.requested.origin
    from_file = "." in origin  # a file name, not "default" or "cached"
    chosen = f"was chosen from {origin}" if from_file else f"is the {origin} version"
    other = f"ask for Python {wanted} in {origin}" if from_file else f"put {wanted} in a .python-version file"
    return BuildError(
        f"The Pipfile requires Python {wanted}, but the build uses Python {python.full}.",
        f"Python {python.full} {chosen}, while [requires] {key} in the Pipfile asks for {wanted}; "
        "Pipenv refuses to install a lockfile for another Python (`pipenv install --deploy`).",
        f"Make them agree: either change {key} in the Pipfile to {python.major_text!r} and run "
        f"`pipenv lock`, or {other}. Commit, then build again.",
        failure_reason="install-dependencies::pipenv",
        failure_detail="python-version-mismatch",
    )
