"""A CNB lifecycle emulator for the tests, written from the Buildpack API 0.10 spec (buildpacks/spec,
``buildpack.md``) where no lifecycle binary can run: detect, build, export, restore and launch for a
group of one buildpack, strict where the spec is strict.

- The buildpack is copied into a read-only directory; a build that writes there fails the test.
- detect: ``bin/detect`` with no arguments, cwd = the app dir, exit 0 pass / 100 fail / other error;
  the build plan must be valid on its own (each require provided, each provide required).
- build: ``bin/build`` with no arguments; afterwards every ``<layer>.toml`` is checked (``[types]``
  booleans only, reserved names refused), and ``launch.toml`` (process types, command arrays, at most
  one default), SBOM files only for declared formats.
- export: the image gets the app dir and the launch layers; the cache gets the cache layers.
- restore (next build): cache layers come back with files and metadata, launch-only layers with
  metadata alone, and no ``<layer>.toml`` keeps its ``[types]``.
- launch: the launch layers' ``bin``/``lib`` on PATH/LD_LIBRARY_PATH, env files (``env/`` then
  ``env.launch/`` then ``env.launch/<process>/``; override, default, prepend/append with ``.delim``),
  exec.d programs (TOML on fd 3), then the process command, exec'd without a shell.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import REPO

BUILDPACK_ID = "pybuildpack/python"
RESERVED_LAYERS = {"build", "launch", "store"}
PROCESS_TYPE = re.compile(r"[A-Za-z0-9._-]+")
BUILDPACK_ID_RE = re.compile(r"[A-Za-z0-9./-]+")
SBOM_SUFFIXES = {
    "cdx.json": "application/vnd.cyclonedx+json",
    "spdx.json": "application/spdx+json",
    "syft.json": "application/vnd.syft+json",
}
BUILDPACK_FILES = ("bin", "lib", "src", "buildpack.toml")
BUILD_TIMEOUT = 900


class LifecycleError(AssertionError):
    """The buildpack broke the spec."""


@dataclass
class Phase:
    returncode: int
    stdout: str
    stderr: str
    seconds: float = 0.0  # the buildpack's own run, without the emulator's restore and export

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


@dataclass
class Image:
    """What export produced: launch layers (dirs and tomls) and the processes."""

    layers: dict[str, dict[str, Any]]
    processes: list[dict[str, Any]]


@dataclass
class Lifecycle:
    """One app's builds on one emulated platform (its layers path stays the same across builds, as
    ``/layers`` does in a real build container)."""

    root: Path
    env: dict[str, str]
    config: dict[str, str] = field(default_factory=dict)
    target_arch: str = "amd64"
    wrap: list[str] = field(default_factory=list)  # a command the phases run under (e.g. unshare)

    def __post_init__(self) -> None:
        self.buildpack_dir = self.root / "cnb" / "buildpacks" / BUILDPACK_ID.replace("/", "_") / "0.1.0"
        self.platform_dir = self.root / "platform"
        self.layers_root = self.root / "layers"
        self.layers_dir = self.layers_root / BUILDPACK_ID.replace("/", "_")
        self.cache_store = self.root / "cache-store"  # the cache image
        self.image_store = self.root / "image-store"  # the previous image's layer metadata
        self.workspace = self.root / "workspace"
        self._install_buildpack()

    # --- setup --------------------------------------------------------------------------------------

    def _install_buildpack(self) -> None:
        if self.buildpack_dir.exists():
            return
        self.buildpack_dir.mkdir(parents=True)
        for name in BUILDPACK_FILES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(
                    source, self.buildpack_dir / name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(source, self.buildpack_dir / name)
        descriptor = tomllib.loads((self.buildpack_dir / "buildpack.toml").read_text(encoding="utf-8"))
        check_descriptor(descriptor)
        self.descriptor = descriptor
        _read_only(self.buildpack_dir)
        self.snapshot = _tree_listing(self.buildpack_dir)

    def _write_platform(self) -> None:
        env = self.platform_dir / "env"
        shutil.rmtree(env, ignore_errors=True)
        env.mkdir(parents=True)
        for name, value in self.config.items():
            (env / name).write_text(value, encoding="utf-8")

    def _phase_env(self) -> dict[str, str]:
        env = dict(self.env)
        env.update(self.config)  # buildpack.toml sets no clear-env: config vars are in the environment
        env.update(
            CNB_BUILDPACK_DIR=str(self.buildpack_dir),
            CNB_PLATFORM_DIR=str(self.platform_dir),
            CNB_TARGET_OS="linux",
            CNB_TARGET_ARCH=self.target_arch,
            CNB_TARGET_DISTRO_NAME=_os_release("ID"),
            CNB_TARGET_DISTRO_VERSION=_os_release("VERSION_ID"),
        )
        return env

    def _run(self, script: str, env: dict[str, str], timeout: float = BUILD_TIMEOUT) -> Phase:
        started = time.monotonic()
        proc = subprocess.run(
            [*self.wrap, str(self.buildpack_dir / "bin" / script)],
            cwd=self.workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        seconds = time.monotonic() - started
        if _tree_listing(self.buildpack_dir) != self.snapshot:
            raise LifecycleError(f"bin/{script} wrote into the read-only buildpack dir")
        return Phase(proc.returncode, proc.stdout, proc.stderr, seconds)

    # --- phases -------------------------------------------------------------------------------------

    def use_app(self, source: Path) -> None:
        """A fresh workspace holding the app's source (each build starts from the source)."""
        shutil.rmtree(self.workspace, ignore_errors=True)
        shutil.copytree(source, self.workspace, symlinks=True)

    def detect(self) -> tuple[Phase, dict[str, Any] | None]:
        self._write_platform()
        plan_dir = self.root / "detect"
        shutil.rmtree(plan_dir, ignore_errors=True)
        plan_dir.mkdir()
        plan_path = plan_dir / "plan.toml"
        plan_path.touch()
        env = self._phase_env()
        env["CNB_BUILD_PLAN_PATH"] = str(plan_path)
        phase = self._run("detect", env, timeout=120)
        if phase.returncode == 100:
            return phase, None
        if phase.returncode != 0:
            raise LifecycleError(f"bin/detect errored ({phase.describe()})")
        plan = tomllib.loads(plan_path.read_text(encoding="utf-8"))
        check_plan(plan)
        return phase, plan

    def build(self, plan: dict[str, Any]) -> Phase:
        """Restore from the caches, run bin/build, validate what it wrote, and export on success."""
        self._restore()
        bp_plan = self.root / "bp-plan.toml"
        entries = [{"name": entry["name"]} for entry in plan.get("requires", [])]
        bp_plan.write_text(_toml_entries(entries), encoding="utf-8")
        env = self._phase_env()
        env.update(CNB_LAYERS_DIR=str(self.layers_dir), CNB_BP_PLAN_PATH=str(bp_plan))
        phase = self._run("build", env)
        if phase.returncode == 0:
            self.image = self._export()
        return phase

    def _restore(self) -> None:
        shutil.rmtree(self.layers_root, ignore_errors=True)
        self.layers_dir.mkdir(parents=True)
        for toml_file in sorted(self.image_store.glob("*.toml")):  # launch-only: metadata alone
            _write_metadata_only(toml_file, self.layers_dir / toml_file.name)
        for toml_file in sorted(self.cache_store.glob("*.toml")):  # cache: metadata and files
            name = toml_file.name[: -len(".toml")]
            _write_metadata_only(toml_file, self.layers_dir / toml_file.name)
            if (self.cache_store / name).is_dir():
                shutil.copytree(self.cache_store / name, self.layers_dir / name, symlinks=True)

    def _export(self) -> Image:
        layers = self._validated_layers()
        shutil.rmtree(self.cache_store, ignore_errors=True)
        shutil.rmtree(self.image_store, ignore_errors=True)
        self.cache_store.mkdir(parents=True)
        self.image_store.mkdir(parents=True)
        for name, data in layers.items():
            types = data.get("types", {})
            source = self.layers_dir / f"{name}.toml"
            if types.get("cache"):
                shutil.copy2(source, self.cache_store / source.name)
                if (self.layers_dir / name).is_dir():
                    shutil.copytree(self.layers_dir / name, self.cache_store / name, symlinks=True)
            elif types.get("launch"):
                shutil.copy2(source, self.image_store / source.name)
        launch = self._launch_toml()
        launch_layers = {name: data for name, data in layers.items() if data.get("types", {}).get("launch")}
        # The image holds only the launch layers: everything else leaves the layers dir.
        for entry in list(self.layers_dir.iterdir()):
            name = entry.name.split(".", 1)[0]
            if name not in launch_layers and entry.name != "launch.toml":
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        return Image(launch_layers, launch.get("processes", []))

    def _validated_layers(self) -> dict[str, dict[str, Any]]:
        layers: dict[str, dict[str, Any]] = {}
        for toml_file in sorted(self.layers_dir.glob("*.toml")):
            name = toml_file.name[: -len(".toml")]
            if name in ("launch", "build", "store"):
                continue
            if name in RESERVED_LAYERS:
                raise LifecycleError(f"layer name {name!r} is reserved")
            data = tomllib.loads(toml_file.read_text(encoding="utf-8"))
            unknown = set(data) - {"types", "metadata"}
            if unknown:
                raise LifecycleError(f"{toml_file.name}: unknown top-level keys {sorted(unknown)}")
            types = data.get("types", {})
            for key, value in types.items():
                if key not in ("launch", "build", "cache") or not isinstance(value, bool):
                    raise LifecycleError(f"{toml_file.name}: [types] {key} = {value!r} is not allowed")
            if not any(types.values()):
                continue  # a layer with no types is not used (and a restored one lost its types)
            if not (self.layers_dir / name).is_dir():
                raise LifecycleError(f"{toml_file.name} has types but the layer dir {name}/ is missing")
            layers[name] = data
        self._check_sboms(layers)
        return layers

    def _check_sboms(self, layers: dict[str, dict[str, Any]]) -> None:
        declared = set(self.descriptor["buildpack"].get("sbom-formats", []))
        for path in self.layers_dir.glob("*.sbom.*"):
            name, _, suffix = path.name.partition(".sbom.")
            media = SBOM_SUFFIXES.get(suffix)
            if media is None or media not in declared:
                raise LifecycleError(f"{path.name}: an SBOM format buildpack.toml does not declare")
            if name not in layers or not layers[name]["types"].get("launch"):
                raise LifecycleError(f"{path.name}: an SBOM for a layer that is not a launch layer")

    def _launch_toml(self) -> dict[str, Any]:
        path = self.layers_dir / "launch.toml"
        if not path.exists():
            return {}
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        defaults = 0
        for process in data.get("processes", []):
            if not PROCESS_TYPE.fullmatch(str(process.get("type", ""))):
                raise LifecycleError(f"launch.toml: bad process type {process.get('type')!r}")
            command = process.get("command")
            if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
                raise LifecycleError(f"launch.toml: command is not a non-empty string array: {command!r}")
            defaults += bool(process.get("default"))
        if defaults > 1:
            raise LifecycleError("launch.toml: more than one default process")
        return data

    # --- launch -------------------------------------------------------------------------------------

    def launch_env(self, process: str, base: Mapping[str, str]) -> dict[str, str]:
        env = dict(base)
        for name in sorted(self.image.layers):
            layer = self.layers_dir / name
            if (layer / "bin").is_dir():
                env["PATH"] = _join(str(layer / "bin"), env.get("PATH"))
            if (layer / "lib").is_dir():
                env["LD_LIBRARY_PATH"] = _join(str(layer / "lib"), env.get("LD_LIBRARY_PATH"))
            for directory in (layer / "env", layer / "env.launch", layer / "env.launch" / process):
                apply_env_dir(directory, env)
        for name in sorted(self.image.layers):
            for directory in (self.layers_dir / name / "exec.d", self.layers_dir / name / "exec.d" / process):
                for program in sorted(directory.glob("*")) if directory.is_dir() else []:
                    if program.is_file():
                        env.update(run_exec_d(program, env))
        return env

    def process(self, kind: str | None = None) -> dict[str, Any]:
        for entry in self.image.processes:
            if (kind is None and entry.get("default")) or entry.get("type") == kind:
                return entry
        raise LifecycleError(f"no process {kind or '(default)'} in launch.toml")

    @contextmanager
    def launch(self, kind: str | None, base: Mapping[str, str]) -> Iterator[subprocess.Popen[bytes]]:
        entry = self.process(kind)
        env = self.launch_env(entry["type"], base)
        command = [*entry["command"], *entry.get("args", [])]
        cwd = Path(entry["working-dir"]) if entry.get("working-dir") else self.workspace
        program = shutil.which(command[0], path=env.get("PATH"))
        if program is None:
            raise LifecycleError(f"{command[0]} is not on the launch PATH")
        proc = subprocess.Popen(
            [program, *command[1:]], cwd=cwd, env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=15)


def apply_env_dir(directory: Path, env: dict[str, str]) -> None:
    """The spec's env file rules: the variable is the name up to the first '.', the suffix the action;
    contents verbatim; prepend/append join with the .delim file's contents (nothing without one)."""
    if not directory.is_dir():
        return
    files = sorted(path for path in directory.iterdir() if path.is_file())
    delims = {p.name.split(".", 1)[0]: p.read_text() for p in files if p.name.endswith(".delim")}
    for path in files:
        name, _, action = path.name.partition(".")
        value = path.read_text()
        if action in ("", "override"):
            env[name] = value
        elif action == "default":
            env.setdefault(name, value)
        elif action == "prepend":
            env[name] = value + delims.get(name, "") + env[name] if env.get(name) else value
        elif action == "append":
            env[name] = env[name] + delims.get(name, "") + value if env.get(name) else value
        elif action != "delim":
            raise LifecycleError(f"{path}: unknown env file suffix {action!r}")


def run_exec_d(program: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Run an exec.d program with fd 3 open for writing; parse the TOML it writes there."""
    if not os.access(program, os.X_OK):
        raise LifecycleError(f"exec.d program {program} is not executable")
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.run(  # the program itself is exec'd, with fd 3 the pipe's write end
            [sys.executable, "-I", "-S", "-c", _EXEC_WITH_FD3, str(write_end), str(program)],
            env=dict(env), pass_fds=(write_end,), capture_output=True, timeout=30, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        output = reader.read().decode()
    if proc.returncode != 0:
        raise LifecycleError(f"exec.d program {program} failed: {proc.stderr!r}")
    data = tomllib.loads(output)
    if not all(isinstance(value, str) for value in data.values()):
        raise LifecycleError(f"exec.d program {program} wrote non-string values: {data!r}")
    return {key: str(value) for key, value in data.items()}


# Makes fd 3 the pipe, then execs the program (a shell's `3>&N` takes one digit only in dash).
_EXEC_WITH_FD3 = "import os, sys; os.dup2(int(sys.argv[1]), 3); os.execv(sys.argv[2], sys.argv[2:])"


def check_descriptor(descriptor: dict[str, Any]) -> None:
    if descriptor.get("api") != "0.10":
        raise LifecycleError(f'buildpack.toml: api must be "0.10", not {descriptor.get("api")!r}')
    buildpack = descriptor.get("buildpack", {})
    bp_id = str(buildpack.get("id", ""))
    if not BUILDPACK_ID_RE.fullmatch(bp_id) or bp_id in ("app", "config", "generated", "sbom"):
        raise LifecycleError(f"buildpack.toml: invalid id {bp_id!r}")
    if not re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)", str(buildpack.get("version", ""))):
        raise LifecycleError(f"buildpack.toml: version must be X.Y.Z: {buildpack.get('version')!r}")
    for target in descriptor.get("targets", []):
        if target.get("os") != "linux" or target.get("arch") not in ("amd64", "arm64"):
            raise LifecycleError(f"buildpack.toml: unexpected target {target!r}")


def check_plan(plan: dict[str, Any]) -> None:
    """A group of one: every require must be provided by this buildpack and every provide required."""
    unknown = set(plan) - {"provides", "requires", "or"}
    if unknown:
        raise LifecycleError(f"build plan: unknown keys {sorted(unknown)}")
    provided = {entry["name"] for entry in plan.get("provides", [])}
    required = {entry["name"] for entry in plan.get("requires", [])}
    if provided != required:
        raise LifecycleError(f"build plan: provides {sorted(provided)} but requires {sorted(required)}")


def _write_metadata_only(source: Path, target: Path) -> None:
    """A restored <layer>.toml: its [metadata], never its [types]."""
    from pybuildpack import toml_write

    data = tomllib.loads(source.read_text(encoding="utf-8"))
    metadata = data.get("metadata")
    target.write_text(toml_write.dumps({"metadata": metadata} if metadata else {}), encoding="utf-8")


def _toml_entries(entries: list[dict[str, str]]) -> str:
    return "".join(f'[[entries]]\nname = "{entry["name"]}"\n\n' for entry in entries)


def _join(first: str, rest: str | None) -> str:
    return f"{first}:{rest}" if rest else first


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _tree_listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def _os_release(key: str) -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith(f"{key}="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""
