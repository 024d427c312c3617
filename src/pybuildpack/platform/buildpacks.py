"""Running classic buildpacks in order, as a platform does (CONTRACT §1, the platform's part).

Each buildpack is copied (a local directory) or cloned (a git URL, `#ref` optional) into the build's
private work dir, so its `export` file is its own. This buildpack runs in place and writes its `export`
into a per-build dir (`PYBUILDPACK_EXPORT_DIR`). Before each compile, the `export` files of the
buildpacks before it are sourced into its environment.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybuildpack import __version__, run
from pybuildpack.errors import quoted
from pybuildpack.output import Console
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.source import plain_git_env

OWN_DIR = Path(__file__).resolve().parents[3]
OWN_NAME = "pybuildpack"
_ENV_MARK = "\n--pybuildpack-env--\n"
_SOURCE_EXPORT = '. "$1" >/dev/null 2>&1 </dev/null; printf "\\n--pybuildpack-env--\\n"; exec env -0'
_SHELL_NOISE = {"PWD", "OLDPWD", "SHLVL", "_"}


class CompileFailed(Exception):
    """A buildpack's compile (or detect) failed; its own output already explained why."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.label = label


@dataclass(frozen=True)
class Buildpack:
    spec: str
    name: str
    version: str
    dir: Path
    own: bool
    export_dir: Path

    def record(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "source": self.spec}


def requested(cli_specs: list[str], source_dir: Path) -> tuple[list[str], str]:
    """The buildpacks to run and where that list came from."""
    if cli_specs:
        return cli_specs, "--buildpack"
    listing = source_dir / ".buildpacks"
    if listing.is_file():
        specs = [
            line.strip()
            for line in listing.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        if specs:
            return specs, ".buildpacks"
    return [OWN_NAME], "default"


def fetch(spec: str, index: int, work: Path, console: Console) -> Buildpack:
    export_dir = work / f"export-{index}"
    if spec == OWN_NAME or _same_dir(spec, OWN_DIR):
        export_dir.mkdir(parents=True)
        return Buildpack(spec, OWN_NAME, __version__, OWN_DIR, True, export_dir)
    dest = work / "buildpacks" / f"{index}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    local = Path(spec).expanduser()
    if _is_git(spec, local):
        version = _clone(spec, dest)
    elif local.is_dir():
        shutil.copytree(local, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        version = _dir_version(local)
    else:
        raise PlatformError(
            f"The buildpack {quoted(spec)} was not found.",
            "A buildpack is a local directory holding bin/detect, bin/compile and bin/release, or a git URL "
            "(optionally ending in #branch-or-tag).",
            "Check the path or URL given with --buildpack or in .buildpacks.",
        )
    for script in ("detect", "compile"):
        if not (dest / "bin" / script).is_file():
            raise PlatformError(
                f"The buildpack {quoted(spec)} has no bin/{script}.",
                "A classic buildpack provides bin/detect, bin/compile and (optionally) bin/release.",
                "Point --buildpack at the buildpack's root directory.",
            )
    declared_name, declared = _descriptor(dest)
    name = declared_name or _spec_name(spec)
    console.info(f"Buildpack {index + 1}: {name} ({declared or version})")
    return Buildpack(spec, name, declared or version, dest, False, dest)


def _spec_name(spec: str) -> str:
    """A short name from a path or URL: its last component, without `.git` and `#ref`."""
    last = spec.partition("#")[0].rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return last.removesuffix(".git") or spec


def _same_dir(spec: str, directory: Path) -> bool:
    try:
        return Path(spec).expanduser().resolve() == directory
    except OSError:
        return False


def _is_git(spec: str, local: Path) -> bool:
    if "://" in spec or spec.startswith("git@"):
        return True
    return local.is_dir() and (local / "HEAD").is_file() and (local / "objects").is_dir()


def _clone(spec: str, dest: Path) -> str:
    url, _, ref = spec.partition("#")
    cmd: list[str | Path] = ["git", "clone", "--quiet", "--depth", "1"]
    if ref:
        cmd += ["--branch", ref]
    env = plain_git_env()
    cloned = run.capture([*cmd, url, dest], env=env, timeout=600)
    if not cloned.ok:
        raise PlatformError(
            f"The buildpack {quoted(spec)} could not be cloned.",
            cloned.output.strip(),
            "Check the URL (and the #ref after it), and that git can reach it.",
        )
    head = run.capture(["git", "-C", dest, "rev-parse", "HEAD"], env=env)
    return head.output.strip() if head.ok else "unknown"


def _dir_version(local: Path) -> str:
    head = run.capture(["git", "-C", local, "rev-parse", "--verify", "-q", "HEAD"], env=plain_git_env())
    return head.output.strip() if head.ok and head.output.strip() else "local"


def _descriptor(directory: Path) -> tuple[str, str]:
    """(name, version) from buildpack.toml, when it has them."""
    try:
        data = tomllib.loads((directory / "buildpack.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "", ""
    info = data.get("buildpack", {})
    if not isinstance(info, dict):
        return "", ""
    return str(info.get("name") or info.get("id") or ""), str(info.get("version") or "")


@dataclass
class Outcome:
    labels: list[str]
    default_process_types: dict[str, str]


def run_all(
    buildpacks: list[Buildpack],
    dirs: tuple[Path, Path, Path],
    base_env: Mapping[str, str],
    console: Console,
    durations: dict[str, float],
) -> Outcome:
    """detect, compile, export, release for each buildpack in order. Raises CompileFailed."""
    build_dir, cache_dir, env_dir = dirs
    env = dict(base_env)
    outcome = Outcome([], {})
    for bp in buildpacks:
        bp_env = dict(env, PYBUILDPACK_EXPORT_DIR=str(bp.export_dir)) if bp.own else dict(env)
        label = _detect(bp, build_dir, bp_env, console)
        outcome.labels.append(label)
        started = time.monotonic()
        status = run.passthrough([bp.dir / "bin" / "compile", build_dir, cache_dir, env_dir], env=bp_env)
        durations[f"compile:{bp.name}"] = round(time.monotonic() - started, 3)
        if status != 0:
            raise CompileFailed(label)
        console.info(f"{bp.name} finished in {time.monotonic() - started:.1f} s")
        env = sourced_export(bp.export_dir / "export", env)
        if (bp.dir / "bin" / "release").is_file():
            released = run.capture([bp.dir / "bin" / "release", build_dir], env=bp_env)
            for kind, command in default_process_types(released.output if released.ok else "").items():
                outcome.default_process_types.setdefault(kind, command)
    return outcome


def _detect(bp: Buildpack, build_dir: Path, env: dict[str, str], console: Console) -> str:
    detected = run.capture([bp.dir / "bin" / "detect", build_dir], env=env)
    if not detected.ok:
        sys.stdout.flush()
        sys.stderr.write(detected.output if detected.output.endswith("\n") else detected.output + "\n")
        sys.stderr.flush()
        console.block("Error", f"App not compatible with buildpack: {bp.name}")
        raise CompileFailed(bp.name)
    words = detected.output.strip().splitlines()
    label = words[0].strip() if words else bp.name
    console.step(f"{label} app detected")
    return label


def sourced_export(export_file: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment after sourcing a buildpack's `export` (unchanged when it has none)."""
    if not export_file.is_file():
        return env
    result = run.capture(["sh", "-c", _SOURCE_EXPORT, "sh", export_file], env=env)
    if not result.ok or _ENV_MARK not in result.output:
        return env
    text = result.output.split(_ENV_MARK, 1)[1]
    new: dict[str, str] = {}
    for entry in text.split("\0"):
        key, sep, value = entry.partition("=")
        if sep and key and key not in _SHELL_NOISE:
            new[key] = value
    return new


_TYPE_LINE = re.compile(r"\s+([A-Za-z0-9_-]+):\s*(.+)")


def default_process_types(release_yaml: str) -> dict[str, str]:
    """`default_process_types` of a bin/release output (the simple YAML buildpacks print)."""
    types: dict[str, str] = {}
    inside = False
    for line in release_yaml.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            inside = line.strip() == "default_process_types:"
            continue
        match = _TYPE_LINE.fullmatch(line)
        if inside and match:
            types[match[1]] = _unquote(match[2].strip())
    return types


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def records(buildpacks: list[Buildpack]) -> list[dict[str, Any]]:
    return [bp.record() for bp in buildpacks]
