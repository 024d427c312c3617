"""Config vars of an app: stored as JSON, mode 0600; names may be shown, values never in build logs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from pybuildpack.errors import quoted
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import AppState, write_json

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_name(name: str, origin: str) -> str:
    if not _NAME.fullmatch(name):
        raise PlatformError(
            f"The config var name {quoted(name)} ({origin}) is not valid.",
            "A name is letters, digits and '_', not starting with a digit.",
            "Rename it, for example DATABASE_URL.",
        )
    return name


def parse_pairs(pairs: Iterable[str], origin: str) -> dict[str, str]:
    """``KEY=VALUE`` strings to a dict (the value may contain '=' and be empty)."""
    config: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PlatformError(
                f"The {origin} value {quoted(key)} is not of the form KEY=VALUE.",
                fix=f"Write it as NAME=value ({origin}).",
            )
        config[check_name(key, origin)] = value
    return config


def load(state: AppState) -> dict[str, str]:
    path = state.config_file
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlatformError(
            f"The config vars of {state.name} in {path} cannot be read.",
            f"{exc}",
            f"Fix or delete {path}, then set the vars again with pybuildpack config set.",
        ) from exc
    return {str(key): str(value) for key, value in data.items()}


def save(state: AppState, config: dict[str, str]) -> None:
    state.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_json(state.config_file, config, mode=0o600)


def write_env_dir(env_dir: Path, config: dict[str, str]) -> None:
    """The classic ENV_DIR: one file per var, named by it, holding the value exactly (mode 0600)."""
    env_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key, value in config.items():
        path = env_dir / key
        path.write_text(value, encoding="utf-8")
        path.chmod(0o600)
