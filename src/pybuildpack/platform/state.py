"""Per-app state under one directory.

```
<state dir>/apps/<name>/
    config.json          config vars (mode 0600)
    cache/               the build cache, shared by the app's buildpacks
    releases/vN/app/     the built app of release N
    releases/vN/release.json
    current -> releases/vN
    lock                 serialises builds (and git pushes) of the app
    repo.git/            the default git remote (pybuildpack git-remote init)
    supervisor.json      pid, control socket and processes of a running `pybuildpack start`
    logs/app.log         what `pybuildpack start` ran and printed (platform/applog.py), for `logs`
    push.json            the receive-pack of the last git push (see githook.check_not_overtaken)
    slug-sizes.json      compressed sizes of files, for the next compressed slug size estimate
    slug-sizes.lock      serialises those estimates and the sizes they write into release records
    tmp/                 build dirs (on the same filesystem, so a release is a rename)
```
The state dir is `--state-dir`, else `$PYBUILDPACK_STATE_DIR`, else the user's data dir.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybuildpack import filelock
from pybuildpack.env import user_dir
from pybuildpack.errors import quoted
from pybuildpack.output import Console
from pybuildpack.platform.errors import PlatformError

STATE_VAR = "PYBUILDPACK_STATE_DIR"
LOCK_TIMEOUT = 3600.0  # a build of the app (or a git push) that runs longer than this is stuck
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_RELEASE = re.compile(r"v([1-9][0-9]*)")


def state_root(override: Path | None = None) -> Path:
    if override is not None:
        return override.absolute()
    configured = os.environ.get(STATE_VAR)
    return Path(configured).absolute() if configured else user_dir("data")


def default_app_name(directory: Path) -> str:
    """An app name from a directory's basename: lower case, other characters become '-'."""
    name = re.sub(r"[^a-z0-9._-]+", "-", directory.name.lower()).strip("-._")
    return name[:63] or "app"


def check_app_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise PlatformError(
            f"The app name {quoted(name)} is not valid.",
            "An app name is 1 to 63 characters: lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or a digit.",
            "Choose another name with --app NAME.",
        )
    return name


@dataclass(frozen=True)
class AppState:
    name: str
    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def releases_dir(self) -> Path:
        return self.root / "releases"

    @property
    def current_link(self) -> Path:
        return self.root / "current"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def default_repo(self) -> Path:
        return self.root / "repo.git"

    @property
    def supervisor_socket(self) -> Path:
        return self.root / "supervisor.sock"

    @property
    def slug_sizes_file(self) -> Path:
        return self.root / "slug-sizes.json"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def exists(self) -> bool:
        return self.root.is_dir()

    def ensure(self) -> None:
        for path in (self.root, self.releases_dir, self.tmp_dir):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)

    def release_dir(self, number: int) -> Path:
        return self.releases_dir / f"v{number}"

    def numbers(self) -> list[int]:
        """Numbers of the recorded releases (those with a release.json), oldest first."""
        if not self.releases_dir.is_dir():
            return []
        found = []
        for entry in self.releases_dir.iterdir():
            match = _RELEASE.fullmatch(entry.name)
            if match and (entry / "release.json").is_file():
                found.append(int(match[1]))
        return sorted(found)

    def next_number(self) -> int:
        """One more than any release number ever used (failed ones leave a tombstone in the listing)."""
        used = [0]
        if self.releases_dir.is_dir():
            for entry in self.releases_dir.iterdir():
                match = _RELEASE.fullmatch(entry.name.lstrip(".").split(".")[0])
                if match:
                    used.append(int(match[1]))
        return max(used) + 1

    def current_number(self) -> int | None:
        try:
            target = self.current_link.readlink()
        except OSError:
            return None
        match = _RELEASE.fullmatch(target.name)
        return int(match[1]) if match else None

    def current_app_dir(self) -> Path | None:
        number = self.current_number()
        return None if number is None else self.release_dir(number) / "app"

    def set_current(self, number: int) -> None:
        """Point `current` at release N atomically (a new symlink renamed over the old one)."""
        tmp = self.root / f".current.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(Path("releases") / f"v{number}")
        tmp.replace(self.current_link)

    def read_release(self, number: int) -> dict[str, Any]:
        """Release N's record; a damaged one reads as status "unreadable" (never made current again)."""
        path = self.release_dir(number) / "release.json"
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            return {"number": number, "status": "unreadable", "failure": f"{path}: {exc}"}
        if not isinstance(data, dict):
            return {"number": number, "status": "unreadable", "failure": f"{path}: not a JSON object"}
        return data


def locked(state: AppState, console: Console, timeout: float = LOCK_TIMEOUT) -> AbstractContextManager[None]:
    """Hold the app's lock, so two builds (or git pushes) of one app run one after the other."""
    return filelock.exclusive(
        state.lock_file,
        what=f"the app {state.name}",
        timeout=timeout,
        on_wait=lambda: console.step(f"Waiting for another build of {state.name} to finish"),
    )


def app_state(name: str, state_dir: Path | None = None) -> AppState:
    check_app_name(name)
    return AppState(name, state_root(state_dir) / "apps" / name)


def known_app(name: str, state_dir: Path | None = None) -> AppState:
    """An app that has state already, or a BuildError saying how to create it."""
    state = app_state(name, state_dir)
    if not state.exists():
        raise PlatformError(
            f"There is no app named {quoted(name)} on this machine.",
            f"The local platform keeps its apps under {state.root.parent}.",
            f"Build it first: pybuildpack build APP_DIR --app {name}",
        )
    return state


def write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    """Write JSON atomically (temp file + rename) with the given mode."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    tmp.chmod(mode)
    tmp.replace(path)
