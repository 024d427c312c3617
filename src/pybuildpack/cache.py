"""The build cache: what a build keeps for the next one, and every reason it throws something away.

CACHE_DIR layout (the sticky files stay where the classic buildpack keeps them, CONTRACT D11):

    .heroku/python-version        python-X.Y.Z (pypy3.N-X.Y.Z for PyPy) of the last successful build
                                  (the sticky version)
    .heroku/python-stack          its stack
    .heroku/pip-cache/            pip's download and wheel cache
    runtimes/<sha256>.tar.gz      verified runtime archives (runtime/fetch.py)
    pybuildpack/env/python/       the installed environment (BUILD_DIR/.heroku/python) of the last build
    pybuildpack/env/key.json      what that environment was built from (the cache key, see EnvKey)
    pybuildpack/in-use            present from restore until a successful save: a build that died
                                  in between leaves it, and the next build starts clean
    pybuildpack/lock              serialises builds sharing this cache dir

The environment is restored by hard links (a copy where links are impossible) and saved the same
way into a temp dir that is renamed into place, so the cache is never half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from pybuildpack import appfile, filelock, layout, run
from pybuildpack.context import BuildContext
from pybuildpack.env import is_enabled
from pybuildpack.errors import BuildError
from pybuildpack.layout import Layout
from pybuildpack.links import link_or_copy
from pybuildpack.output import Console
from pybuildpack.python_version import IMPLEMENTATION_NAMES, ResolvedPython
from pybuildpack.sizes import tree_size

FORMAT = 1
LOCK_TIMEOUT = 900.0


def version_file(cache_dir: Path) -> Path:
    """The classic sticky version file (the local platform reads it before a build)."""
    return layout.classic_sticky_version(cache_dir)


def save_build_state(where: Layout, *, stack: str, python: ResolvedPython) -> None:
    """The sticky version and stack, written only after a successful build, each atomically."""
    _write(where.sticky_version, f"{python.sticky_text}\n")
    _write(where.sticky_stack, f"{stack}\n")


@dataclass(frozen=True)
class EnvKey:
    """Everything an installed environment depends on. Any difference is a printed reason."""

    stack: str
    python: str
    runtime_sha256: str
    manager: str
    manager_version: str
    inputs: dict[str, str] = field(default_factory=dict)  # path relative to the app -> sha256
    implementation: str = "cpython"  # keys written before PyPy support have none: CPython
    format: int = FORMAT

    @classmethod
    def from_json(cls, data: object) -> EnvKey | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(**data)
        except TypeError:
            return None


def digest_inputs(build_dir: Path, files: list[Path]) -> dict[str, str]:
    digests = {}
    for path in files:
        name = os.path.relpath(path, build_dir)
        if not path.exists():
            digests[name] = "missing"
            continue
        data = appfile.read_app_file(
            build_dir, path, limit=appfile.LOCK_FILE_LIMIT, failure_reason="package-manager::unreadable-input"
        )
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


@dataclass(frozen=True)
class Decision:
    status: str  # empty | reused | partial | discarded
    reasons: tuple[str, ...] = ()


def decide(previous: EnvKey | None, current: EnvKey, *, in_place_ok: bool) -> Decision:
    """Compare the last build's key with this one's, in the order the log prints reasons."""
    if previous is None:
        return Decision("empty")
    reasons = []
    if previous.stack != current.stack:
        reasons.append(f"The stack changed from {previous.stack} to {current.stack}")
    if previous.implementation != current.implementation:
        before, after = (
            IMPLEMENTATION_NAMES.get(name, name) for name in (previous.implementation, current.implementation)
        )
        reasons.append(f"The Python implementation changed from {before} to {after}")
    if previous.python != current.python:
        reasons.append(f"The Python version changed from {previous.python} to {current.python}")
    elif previous.runtime_sha256 != current.runtime_sha256:
        reasons.append(
            f"The Python {current.python} runtime archive changed (sha256 {current.runtime_sha256[:12]})"
        )
    if previous.format != current.format:
        reasons.append(f"The cache format changed from {previous.format} to {current.format}")
    if previous.manager != current.manager:
        reasons.append(f"The package manager changed from {previous.manager} to {current.manager}")
    elif previous.manager_version != current.manager_version:
        before, after = previous.manager_version, current.manager_version
        reasons.append(f"The {current.manager} version changed from {before} to {after}")
    changed = _changed_inputs(previous.inputs, current.inputs)
    if reasons:
        return Decision("discarded", (*reasons, *changed))
    if changed:
        return Decision("partial" if in_place_ok else "discarded", tuple(changed))
    return Decision("reused")


def _changed_inputs(before: dict[str, str], after: dict[str, str]) -> list[str]:
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            lines.append(f"{name} is new")
        elif name not in after:
            lines.append(f"{name} is no longer used")
        elif before[name] != after[name]:
            lines.append(f"The contents of {name} changed")
    return lines


class EnvStore(Protocol):
    """Where a face keeps the installed environment between builds."""

    transfer: str | None  # how the environment was copied in or out (hard links, reflinks, copies)

    def clean_leftovers(self) -> None:
        """Remove what builds killed while saving left behind."""

    def previous_key(self) -> EnvKey | None:
        """The key of the environment kept by the last successful build, if readable."""

    def stale_reason(self) -> str | None:
        """Why a kept environment cannot be compared at all (metadata of another buildpack version)."""

    def unfinished_build(self) -> bool:
        """A build died between restoring and saving."""

    def discard(self) -> None:
        """Forget the kept environment."""

    def restore(self, target: Path) -> str | None:
        """Put the kept environment at target. Returns a problem description, or None if intact."""

    def save(self, python_home: Path, key: EnvKey, *, reused: bool) -> int:
        """Keep this build's environment for the next one. Returns the cache's size in bytes."""


class EnvCache:
    """The classic face's cached environment of one app, in CACHE_DIR/pybuildpack."""

    def __init__(self, root: Path, cache_dir: Path) -> None:
        self.root = root
        self.cache_dir = cache_dir
        self.transfer: str | None = None  # how the environment was last copied in or out
        self.env = self.root / "env"
        self.in_use = self.root / "in-use"

    def previous_key(self) -> EnvKey | None:
        try:
            return EnvKey.from_json(json.loads((self.env / "key.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def stale_reason(self) -> str | None:
        return None

    def unfinished_build(self) -> bool:
        return self.in_use.exists()

    def discard(self) -> None:
        shutil.rmtree(self.env, ignore_errors=True)
        self.in_use.unlink(missing_ok=True)

    def restore(self, target: Path) -> str | None:
        """Link the cached environment into target."""
        manifest = _read_manifest(self.env / "installed.json")
        source = self.env / "python"
        if manifest is None or not source.is_dir():
            return "its record of installed distributions is missing"
        self.root.mkdir(parents=True, exist_ok=True)
        self.in_use.write_text(f"{os.getpid()}\n", encoding="utf-8")
        self.transfer = _link_tree(source, target)
        return check_installed(target, manifest)

    def save(self, python_home: Path, key: EnvKey, *, reused: bool) -> int:
        """A reused environment is already in the cache, byte for byte (the build linked it from
        there), so only the bookkeeping is written; anything else replaces the cached environment,
        atomically."""
        size_file = self.root / "size"
        self.transfer = None
        if reused and size_file.exists():
            self.in_use.unlink(missing_ok=True)
            return int(size_file.read_text(encoding="utf-8") or 0)
        self._replace(python_home, key)
        size = tree_size(self.cache_dir)
        _write(size_file, f"{size}\n")
        return size

    def _replace(self, python_home: Path, key: EnvKey) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f"env.new-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            self.transfer = _link_tree(python_home, staging / "python")
            installed = json.dumps(installed_distributions(python_home), indent=1)
            _write(staging / "installed.json", installed + "\n")
            _write(staging / "key.json", json.dumps(asdict(key), indent=1, sort_keys=True) + "\n")
        except OSError:  # a full disk: give the space back, keep the previous environment as it was
            shutil.rmtree(staging, ignore_errors=True)
            raise
        old = self.root / f"env.old-{os.getpid()}"
        if self.env.exists():
            self.env.rename(old)
        staging.rename(self.env)
        shutil.rmtree(old, ignore_errors=True)
        self.in_use.unlink(missing_ok=True)

    def clean_leftovers(self) -> None:
        """Temp dirs of builds that were killed while saving."""
        if self.root.is_dir():
            for leftover in self.root.glob("env.*-*"):
                shutil.rmtree(leftover, ignore_errors=True)


def check_installed(target: Path, manifest: list[str]) -> str | None:
    """Compare the distributions found in an environment with the record kept with it."""
    found = installed_distributions(target)
    if found == manifest:
        return None
    missing = sorted(set(manifest) - set(found))
    extra = sorted(set(found) - set(manifest))
    return (
        f"installed distributions differ (missing: {', '.join(missing) or 'none'}; "
        f"extra: {', '.join(extra) or 'none'})"
    )


def restore(ctx: BuildContext, envs: EnvStore, key: EnvKey, *, in_place_ok: bool) -> str:
    """The "restore cache" step: decide, print every reason, and put the environment in place if kept.

    Returns the cache status: empty, reused, partial (kept and updated in place, D4) or discarded."""
    envs.clean_leftovers()
    previous = envs.previous_key()
    stale = envs.stale_reason()
    if previous is not None and is_enabled("PYBUILDPACK_CLEAR_CACHE", ctx.config, ctx.environ):
        decision = Decision("discarded", ("PYBUILDPACK_CLEAR_CACHE is set",))
    elif previous is not None and envs.unfinished_build():
        decision = Decision("discarded", ("The previous build using this cache did not finish",))
    elif stale is not None:
        decision = Decision("discarded", (stale,))
    else:
        decision = decide(previous, key, in_place_ok=in_place_ok)
    if decision.status in ("reused", "partial"):
        problem = envs.restore(ctx.python_home)
        if problem is not None:
            shutil.rmtree(ctx.python_home, ignore_errors=True)
            decision = Decision("discarded", (f"The cached environment failed its check: {problem}",))
    _print_decision(ctx.console, decision, key)
    _print_transfer(ctx.console, envs, "restored")
    if decision.status in ("discarded", "empty"):
        envs.discard()
    return decision.status


def _print_transfer(console: Console, envs: EnvStore, verb: str) -> None:
    note = _METHOD_NOTES.get(envs.transfer or HARD_LINKS)
    if note is not None:
        console.info(f"The environment was {verb} {note}.")


def _print_decision(console: Console, decision: Decision, key: EnvKey) -> None:
    if decision.status == "discarded":
        console.step("Discarding cache since:")
    elif decision.status == "partial":
        console.step("Restoring cache, and updating the environment in place since:")
    elif decision.status == "reused":
        console.step("Restoring cache")
        compared = ", ".join(key.inputs) or "no dependency files"
        console.info(
            f"Unchanged since the last build: stack {key.stack}, {_python_label(key)}, "
            f"{key.manager} {key.manager_version}, {compared}"
        )
    for reason in decision.reasons:
        console.info(f"- {reason}")


def _python_label(key: EnvKey) -> str:
    return f"Python {key.python}" if key.implementation == "cpython" else key.python


def save(
    ctx: BuildContext, envs: EnvStore, key: EnvKey, *, status: str, stack: str, python: ResolvedPython
) -> None:
    """The "save cache" step, after a successful build."""
    ctx.console.step("Saving cache")
    size = envs.save(ctx.python_home, key, reused=status == "reused")
    _print_transfer(ctx.console, envs, "saved")
    save_build_state(ctx.layout, stack=stack, python=python)
    ctx.data.set("cache_size", size)
    ctx.console.info(f"Cache size: {size / 1_000_000:.1f} MB")


def installed_distributions(python_home: Path) -> list[str]:
    """`name==version` of every distribution in site-packages, from the dist-info directory names."""
    found = []
    for site in layout.site_packages_dirs(python_home):
        for info in site.glob("*.dist-info"):
            found.append(info.name[: -len(".dist-info")].replace("-", "==", 1).lower())
        for info in site.glob("*.egg-info"):
            found.append(info.name.lower())
    return sorted(found)


def _read_manifest(path: Path) -> list[str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


HARD_LINKS = "hard links"
REFLINKS = "reflinks"
COPIES = "copies"


def _link_tree(source: Path, target: Path) -> str:
    """Copy a tree by hard links (symlinks copied as links), with `cp -al` where it works (it is
    several times faster than doing it file by file in Python); across filesystems (a cache on another
    volume) by reflinks where the filesystem has them, else by plain copies. Returns the method used.
    NLTK data is always copied: NLTK refuses to read data files that have more than one link."""
    path = {"PATH": "/usr/bin:/bin"}
    method = HARD_LINKS
    if not run.capture(["cp", "-al", str(source), str(target)], env=path).ok:
        shutil.rmtree(target, ignore_errors=True)
        method = REFLINKS
        if not run.capture(["cp", "-a", "--reflink=always", str(source), str(target)], env=path).ok:
            shutil.rmtree(target, ignore_errors=True)
            method = COPIES
            shutil.copytree(source, target, symlinks=True, copy_function=link_or_copy)
    nltk_data = target / "nltk_data"
    if nltk_data.is_dir() and not nltk_data.is_symlink():
        unlinked = target / ".nltk_data.copy"
        shutil.copytree(nltk_data, unlinked, symlinks=True)
        shutil.rmtree(nltk_data)
        unlinked.rename(nltk_data)
    return method


_METHOD_NOTES = {
    REFLINKS: "by reflinks: the cache is on another filesystem than the build, so hard links are impossible",
    COPIES: "by copying every file: the cache is on another filesystem than the build, which has no "
    "reflinks, so neither hard links nor reflinks are possible (a cache on the build's filesystem is faster)",
}


class CacheLocked(BuildError):
    """Raised only while waiting for the lock, before this build owns anything in the cache dir."""


def locked(
    cache_dir: Path, lock_path: Path, console: Console, timeout: float = LOCK_TIMEOUT
) -> AbstractContextManager[None]:
    """Hold the cache dir's lock for a whole build; wait for another build up to `timeout` seconds."""
    return filelock.exclusive(
        lock_path,
        what=f"the cache dir {cache_dir}",
        timeout=timeout,
        on_wait=lambda: console.step(f"Waiting for another build that is using the cache dir {cache_dir}"),
        on_timeout=lambda waited: CacheLocked(
            f"Another build has used the cache dir {cache_dir} for more than {waited:.0f} s.",
            "Builds that share a cache dir run one at a time, so that neither reads what the "
            "other is writing.",
            "Wait for the other build to finish, or give this build its own cache dir.",
            failure_reason="cache::locked",
        ),
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
