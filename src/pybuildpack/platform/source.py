"""The app's source, copied into a fresh build dir the way a platform receives it.

A git work tree gives its tracked files at HEAD plus the uncommitted changes (modified, deleted and
untracked-but-not-ignored files, each listed in the log); any other directory gives every file except
`.git`. `.slugignore` patterns are then removed from the build dir.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pybuildpack import run
from pybuildpack.output import Console


@dataclass
class Source:
    """Where the build's source came from, for the log and release.json."""

    kind: str  # "git", "directory", "git push", "slug"
    revision: str | None = None
    changes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.revision is None:
            return self.kind
        short = self.revision[:12]
        if self.changes:
            return f"{self.kind} {short} with {len(self.changes)} uncommitted change(s)"
        return f"{self.kind} {short}"


def plain_git_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without GIT_* variables (a hook's GIT_DIR must not redirect other repositories)."""
    base = os.environ if environ is None else environ
    return {key: value for key, value in base.items() if not key.startswith("GIT_")}


def copy_source(app_dir: Path, build_dir: Path, console: Console) -> Source:
    env = plain_git_env()
    head = run.capture(["git", "-C", app_dir, "rev-parse", "--verify", "-q", "HEAD"], env=env)
    inside = run.capture(["git", "-C", app_dir, "rev-parse", "--is-inside-work-tree"], env=env)
    if head.ok and inside.ok and inside.output.strip() == "true":
        return _copy_git(app_dir, build_dir, head.output.strip(), env, console)
    shutil.copytree(app_dir, build_dir, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    console.info(f"Source: every file of {app_dir} (not a git work tree), except .git")
    return Source("directory")


def _ls(app_dir: Path, env: dict[str, str], *flags: str) -> list[str]:
    result = run.capture(["git", "-C", app_dir, "ls-files", "-z", *flags], env=env)
    return [name for name in result.output.split("\0") if name] if result.ok else []


def _copy_git(app_dir: Path, build_dir: Path, revision: str, env: dict[str, str], console: Console) -> Source:
    tracked = _ls(app_dir, env, "--cached")
    untracked = _ls(app_dir, env, "--others", "--exclude-standard")
    modified = set(_ls(app_dir, env, "--modified"))
    deleted = set(_ls(app_dir, env, "--deleted"))
    build_dir.mkdir(parents=True)
    for name in [*tracked, *untracked]:
        if name not in deleted:
            _copy_entry(app_dir / name, build_dir / name)
    changes = [f"deleted {n}" for n in sorted(deleted)]
    changes += [f"modified {n}" for n in sorted(modified - deleted)]
    changes += [f"untracked {n}" for n in sorted(untracked)]
    console.info(f"Source: git commit {revision[:12]} of {app_dir}")
    if changes:
        console.info(f"Including {len(changes)} uncommitted change(s):")
        for change in changes:
            console.info(f"  {change}")
    return Source("git", revision, changes)


def _copy_entry(source: Path, dest: Path) -> None:
    if not source.exists() and not source.is_symlink():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_symlink():
        dest.symlink_to(source.readlink())
    elif source.is_dir():  # a submodule
        shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    else:
        shutil.copy2(source, dest)


def apply_slugignore(build_dir: Path, console: Console) -> list[str]:
    """Remove what `.slugignore` lists (gitignore-like patterns, no negation); returns what was removed."""
    ignore_file = build_dir / ".slugignore"
    if not ignore_file.is_file():
        return []
    patterns = []
    for raw in ignore_file.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "!")):
            patterns.append(line)
    removed: list[str] = []
    _prune(build_dir, build_dir, patterns, removed)
    if removed:
        console.info(f"Removed {len(removed)} path(s) listed in .slugignore")
    return removed


def _matches(relative: str, name: str, patterns: list[str]) -> bool:
    for raw in patterns:
        pattern = raw.rstrip("/")
        if "/" in pattern:
            if fnmatch.fnmatchcase(relative, pattern.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def _prune(root: Path, directory: Path, patterns: list[str], removed: list[str]) -> None:
    for entry in sorted(directory.iterdir()):
        relative = entry.relative_to(root).as_posix()
        if _matches(relative, entry.name, patterns):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(relative)
        elif entry.is_dir() and not entry.is_symlink():
            _prune(root, entry, patterns, removed)
