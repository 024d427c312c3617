"""Reusing the last collectstatic output on a build where nothing it depends on changed (issue 11).

collectstatic reads the app's files, the installed environment and the environment it runs with
(config vars included). When a digest of all three equals the one recorded with the output of the last
successful run, the build restores that output (hard links, else copies) instead of running Django.
The output is whatever files collectstatic added or changed under BUILD_DIR, found by comparing the
tree before and after the run, so no Django setting has to be read. Paths of this build's BUILD_DIR,
CACHE_DIR and ENV_DIR are replaced by their names before hashing, since they change between builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from pybuildpack.cache import installed_distributions
from pybuildpack.context import BuildContext
from pybuildpack.links import link_or_copy

SKIPPED_DIRS = {".heroku", ".git", ".profile.d", "__pycache__"}
Snapshot = dict[str, tuple[int, int]]


def app_files(build_dir: Path) -> Iterator[Path]:
    """Regular files of the app, outside the runtime, the VCS dir and bytecode, in sorted order."""
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path


def snapshot(build_dir: Path) -> Snapshot:
    found = {}
    for path in app_files(build_dir):
        stat = path.stat()
        found[str(path.relative_to(build_dir))] = (stat.st_size, stat.st_mtime_ns)
    return found


def digest(ctx: BuildContext, manage_py: Path, env: Mapping[str, str]) -> str:
    """What the output depends on: the app's files, the installed distributions, the environment."""
    places = [(str(ctx.build_dir), "$BUILD_DIR"), (str(ctx.cache_dir), "$CACHE_DIR")]
    if ctx.env_dir is not None:
        places.append((str(ctx.env_dir), "$ENV_DIR"))

    def neutral(text: str) -> str:
        for path, name in places:
            text = text.replace(path, name)
        return text

    hasher = hashlib.sha256()
    hasher.update(json.dumps([str(manage_py), installed_distributions(ctx.python_home)]).encode())
    hasher.update(json.dumps(sorted((k, neutral(v)) for k, v in env.items())).encode())
    for path in app_files(ctx.build_dir):
        hasher.update(f"\0{path.relative_to(ctx.build_dir)}\0".encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                hasher.update(chunk)
    return hasher.hexdigest()


def restore(ctx: BuildContext, key: str) -> bool:
    """Put the saved output in place if it was made from the same inputs. True if it was."""
    saved = ctx.layout.collectstatic_cache
    try:
        recorded = json.loads((saved / "key.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or recorded.get("key") != key or not (saved / "files").is_dir():
        return False
    for relative in recorded.get("files", []):
        source = saved / "files" / relative
        if not source.is_file():
            return False
    for relative in recorded["files"]:
        target = ctx.build_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        link_or_copy(saved / "files" / relative, target)
    return True


def save(ctx: BuildContext, key: str, before: Snapshot) -> int:
    """Keep what collectstatic added or changed, with the key it was made from. Returns the count."""
    after = snapshot(ctx.build_dir)
    made = sorted(path for path, stat in after.items() if before.get(path) != stat)
    saved = ctx.layout.collectstatic_cache
    staging = saved.with_name(f"{saved.name}.new-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    for relative in made:
        target = staging / "files" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(ctx.build_dir / relative, target)
    (staging / "files").mkdir(parents=True, exist_ok=True)
    (staging / "key.json").write_text(json.dumps({"key": key, "files": made}) + "\n", encoding="utf-8")
    forget(ctx)
    staging.rename(saved)
    return len(made)


def forget(ctx: BuildContext) -> None:
    shutil.rmtree(ctx.layout.collectstatic_cache, ignore_errors=True)
