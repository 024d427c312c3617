"""pip: requirements.txt apps, and (team decision D1) projects with only setup.py or pyproject.toml."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pybuildpack import run
from pybuildpack.cache import installed_distributions
from pybuildpack.context import BuildContext
from pybuildpack.env import installer_environment, mask_secrets
from pybuildpack.errors import BuildError
from pybuildpack.layout import stdlib_dirs
from pybuildpack.package_managers.base import dependency_failure
from pybuildpack.package_managers.spec import NOTHING_TO_INSTALL, EnvVar, ManagerSpec
from pybuildpack.python_version import ResolvedPython
from pybuildpack.requirements import requirement_files

_SITE_PACKAGES = re.compile(r" in (?:\S*/)?\.heroku/python/lib/(?:python|pypy)[\d.]+/site-packages")


_PIP_ENV = (EnvVar("PIP_DISABLE_PIP_VERSION_CHECK", "1"),)
SPEC = ManagerSpec(
    name="pip",
    display="pip",
    file="requirements.txt",
    runtime_env=_PIP_ENV,
    build_env=lambda _where: _PIP_ENV,
    pip_at_runtime=False,  # pip is the manager: it is there already
)


@dataclass(frozen=True)
class PipPins:
    pip: str
    setuptools: str | None


def pins_for(python: ResolvedPython) -> PipPins:
    """The pinned pip (and setuptools where that Python wants it), or the newest that supports an EOL one."""
    data = json.loads(resources.files("pybuildpack").joinpath("data/pip.json").read_text(encoding="utf-8"))
    major = python.major_text
    if major in data["end_of_life"]:
        old = data["end_of_life"][major]
        return PipPins(old["pip"], old["setuptools"])
    setuptools = data["setuptools"] if major in data["setuptools_on"] else None
    return PipPins(data["pip"], setuptools)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed(python_home: Path, wanted: list[str]) -> bool:
    """Are all these name==version distributions present (as in a restored environment)?"""
    present = {_normalise(name) + "==" + version for name, version in _distributions(python_home)}
    return all(
        _normalise(name) + "==" + version in present for name, version in (w.split("==") for w in wanted)
    )


def _distributions(python_home: Path) -> list[tuple[str, str]]:
    """(name, version) of the wheel-installed (dist-info) distributions."""
    return [
        (entry.split("==", 1)[0], entry.split("==", 1)[1])
        for entry in installed_distributions(python_home)
        if "==" in entry
    ]


def bundled_pip_wheel(python_home: Path) -> Path:
    wheels = sorted(w for lib in stdlib_dirs(python_home) for w in lib.glob("ensurepip/_bundled/pip-*.whl"))
    if not wheels:
        raise BuildError(
            f"The installed Python has no bundled pip wheel under {python_home}/lib/pythonX.Y/ensurepip.",
            "pybuildpack installs pip from the wheel that CPython ships for ensurepip. This runtime "
            "archive lacks it, so the archive is incomplete.",
            "Rebuild the runtime archive from a complete CPython installation "
            "(`pybuildpack runtime pack PREFIX --output DIR`), or use another runtime mirror.",
            failure_reason="internal-error::bundled-pip-not-found",
        )
    return wheels[-1]


_PROJECT_FILES = ("setup.py", "setup.cfg", "pyproject.toml")


def has_pip(python_home: Path) -> bool:
    return any(_normalise(name) == "pip" for name, _version in _distributions(python_home))


def requirements_inputs(build_dir: Path, *, install_test: bool) -> list[Path]:
    """The files a requirements.txt install depends on (test requirements only under test-compile)."""
    files = requirement_files(build_dir / "requirements.txt")
    test = build_dir / "requirements-test.txt"
    if install_test and test.is_file():
        files += [path for path in requirement_files(test) if path not in files]
    return files


class Pip:
    name = "pip"

    def __init__(self, manager_file: str, python: ResolvedPython, *, install_test: bool = False) -> None:
        self.manager_file = manager_file  # requirements.txt, or setup.py / pyproject.toml (D1)
        self.pins = pins_for(python)
        self.install_test = install_test

    @property
    def tool_version(self) -> str:
        return self.pins.pip

    @property
    def syncs_exactly(self) -> bool:
        """pip never removes what is no longer required; install_dependencies prunes for it, which
        needs `pip install --report` (pip 22.2+). Older pins (EOL Pythons) always start clean."""
        return _version_tuple(self.pins.pip) >= (22, 2)

    def input_files(self, build_dir: Path) -> list[Path]:
        if self.manager_file != "requirements.txt":
            return [build_dir / name for name in _PROJECT_FILES if (build_dir / name).exists()]
        return requirements_inputs(build_dir, install_test=self.install_test)

    def install_tool(self, ctx: BuildContext, python: ResolvedPython) -> None:
        pins = self.pins
        wanted = [f"pip=={pins.pip}"]
        label = f"pip {pins.pip}"
        if pins.setuptools:
            wanted.append(f"setuptools=={pins.setuptools}")
            label += f" and setuptools {pins.setuptools}"
        if _installed(ctx.python_home, wanted):
            ctx.console.step(f"Using cached {label}")
            self._record(ctx)
            return
        ctx.console.step(f"Installing {label}")
        if python.eol:
            ctx.console.info(
                f"Python {python.major_text} is end-of-life: {label} is the newest that supports it."
            )
        if not self._install_locked(ctx, python, label):
            self._bootstrap(ctx, wanted, label)
        self._record(ctx)

    def _install_locked(self, ctx: BuildContext, python: ResolvedPython, label: str) -> bool:
        """pip (and setuptools) from their hash-pinned lock by uv, when this build can (issue 11)."""
        from pybuildpack.package_managers import uv  # uv.py builds on this module

        found = uv.locked_binary(ctx, "pip", python)
        if found is None:
            return False
        binary, lock = found
        uv.install_locked(ctx, binary, lock, into=["--python", str(ctx.python)], manager="pip", label=label)
        return True

    def _bootstrap(self, ctx: BuildContext, wanted: list[str], label: str) -> None:
        """Install pinned distributions with the pip wheel bundled in the runtime."""
        wheel = bundled_pip_wheel(ctx.python_home)
        cmd = [str(ctx.python), str(wheel / "pip"), "install", *self._common_flags(ctx), "--quiet", *wanted]
        result = run.stream(cmd, env=self._env(ctx), console=ctx.console, line_filter=self._filter(ctx))
        if not result.ok:
            raise BuildError(
                f"Could not install {label}.",
                "The bootstrap of pip failed; its output above says why. This is often a temporary problem "
                "reaching the package index.",
                "Check that the configured package index (PIP_INDEX_URL) is reachable and serves these "
                "versions, then retry the build.",
                failure_reason="install-package-manager::pip",
            )

    def _record(self, ctx: BuildContext) -> None:
        ctx.data.set("pip_version", self.pins.pip)
        if self.pins.setuptools:
            ctx.data.set("setuptools_version", self.pins.setuptools)

    def command(self, ctx: BuildContext) -> list[str]:
        """The install command as shown to the user."""
        if self.manager_file != "requirements.txt":
            return ["pip", "install", "."]
        cmd = ["pip", "install", "-r", "requirements.txt"]
        if self.install_test and (ctx.build_dir / "requirements-test.txt").is_file():
            cmd += ["-r", "requirements-test.txt"]
        return cmd

    def install_dependencies(self, ctx: BuildContext, python: ResolvedPython) -> None:
        if self.manager_file == NOTHING_TO_INSTALL:
            ctx.console.step("No dependencies to install")
            ctx.console.info(
                "The app has no package manager file, and its setup.py or pyproject.toml defines no "
                "project (no [project] or [build-system] table, or an empty setup.py): nothing to install."
            )
            return
        shown = self.command(ctx)
        if self.manager_file != "requirements.txt":
            ctx.console.step(f"Installing the project itself using '{' '.join(shown)}'")
            ctx.console.info(
                f"No requirements.txt was found, so the project defined by {self.manager_file} is installed "
                "with its dependencies."
            )
        else:
            ctx.console.step(f"Installing dependencies using '{' '.join(shown)}'")
        cmd = [
            str(ctx.python),
            "-m",
            "pip",
            *shown[1:],
            *self._common_flags(ctx),
            "--exists-action=w",
            f"--src={ctx.layout.pip_src}",
        ]
        # Updating a restored environment in place (D4): resolve what a clean install would give, in
        # parallel with the install, to remove afterwards whatever is no longer required.
        clean_set = self._resolve_clean_install(ctx, shown[2:]) if ctx.env_restored else None
        result = run.stream(
            cmd, env=self._env(ctx), console=ctx.console, cwd=ctx.build_dir, line_filter=self._filter(ctx)
        )
        if not result.ok:
            if clean_set is not None:
                clean_set.cancel()
            raise dependency_failure(ctx, "pip", result.output)
        if clean_set is not None:
            self._remove_unrequired(ctx, clean_set)

    def _resolve_clean_install(self, ctx: BuildContext, requirement_args: list[str]) -> run.Background:
        """Start `pip install --dry-run --ignore-installed --report`: the set a clean install gives."""
        cmd = [
            str(ctx.python), "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            f"--report={self._report_file(ctx)}", *requirement_args, *self._common_flags(ctx),
        ]  # fmt: skip
        return run.Background(cmd, env=self._env(ctx), cwd=ctx.build_dir)

    @staticmethod
    def _report_file(ctx: BuildContext) -> Path:
        return ctx.layout.pip_report

    def _remove_unrequired(self, ctx: BuildContext, clean_set: run.Background) -> None:
        """After an in-place update: uninstall what a clean install would not have installed."""
        result = clean_set.wait()
        report = self._report_file(ctx)
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
            wanted = {_normalise(item["metadata"]["name"]) for item in data["install"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            ctx.console.tool_line(result.output)
            raise dependency_failure(ctx, "pip", result.output) from exc
        finally:
            report.unlink(missing_ok=True)
        keep = wanted | {"pip", "setuptools", "wheel"}
        installed = {name for name, _version in _distributions(ctx.python_home)}
        extra = sorted(name for name in installed if _normalise(name) not in keep)
        if not extra:
            return
        ctx.console.info(f"Removing packages no longer required: {', '.join(extra)}")
        cmd = [str(ctx.python), "-m", "pip", "uninstall", "--yes", "--quiet", *extra]
        if not run.stream(cmd, env=self._env(ctx), console=ctx.console, cwd=ctx.build_dir).ok:
            raise dependency_failure(ctx, "pip", "")

    def build_env_additions(self) -> dict[str, str]:
        return {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}

    @staticmethod
    def _common_flags(ctx: BuildContext) -> list[str]:
        return [
            "--no-input",
            "--progress-bar",
            "off",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            f"--cache-dir={ctx.layout.pip_cache}",
        ]

    @staticmethod
    def _env(ctx: BuildContext) -> dict[str, str]:
        env = installer_environment(ctx.build_env, ctx.config)
        env["PIP_ROOT_USER_ACTION"] = "ignore"  # builds often run as root; an env var old pips ignore
        # Hash-based .pyc files: valid whatever the mtimes after relocation or slug extraction.
        env.setdefault("SOURCE_DATE_EPOCH", "315532801")
        return env

    @staticmethod
    def _filter(ctx: BuildContext) -> run.LineFilter:
        def clean(line: str) -> str:
            if line.startswith("Requirement already satisfied"):
                line = _SITE_PACKAGES.sub("", line)
            return mask_secrets(line, ctx.config)

        return clean
