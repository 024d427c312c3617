"""Every ``PYBUILDPACK_*`` setting in one table: its meaning, its default, and who may set it.

An ``app`` setting can come from the operator's process environment or from the app's config vars
(the classic face reads them from ENV_DIR, the CNB face from ``$CNB_PLATFORM_DIR/env``); when both
set it, the app's config var wins. An ``operator`` setting is read from the process environment only.
A ``test`` setting exists so that tests can reach code paths a machine cannot otherwise show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Who = Literal["app", "operator", "test"]


@dataclass(frozen=True)
class Setting:
    name: str
    meaning: str
    default: str
    who: Who


TABLE: tuple[Setting, ...] = (
    Setting(
        "PYBUILDPACK_RUNTIME_MANIFEST",
        "path (relative to the app), file:// or http(s):// URL of the runtime manifest",
        "the bundled manifest (src/pybuildpack/data/runtime-manifest.json)",
        "app",
    ),
    Setting("PYBUILDPACK_ALLOW_EOL_PYTHON", "1: build an end-of-life Python the manifest has", "off", "app"),
    Setting("PYBUILDPACK_INSTALLER", "uv: install a requirements.txt app with `uv pip`", "pip", "app"),
    Setting("PYBUILDPACK_CLEAR_CACHE", "1: ignore and replace the build cache for this build", "off", "app"),
    Setting("PYBUILDPACK_NLTK_INDEX_URL", "NLTK data index for nltk.txt downloads", "NLTK's own", "app"),
    Setting(
        "PYBUILDPACK_DEFAULT_WEB",
        "1: with no `web` in the Procfile, declare the one gunicorn/uvicorn command the build found",
        "off (the command found is only printed)",
        "app",
    ),
    Setting("PYBUILDPACK_DEBUG", "1: log every command the build runs, with its duration", "off", "app"),
    Setting(
        "PYBUILDPACK_EXPORT_DIR",
        "classic face: the directory the `export` file is written to",
        "the buildpack's directory",
        "operator",
    ),
    Setting(
        "PYBUILDPACK_HOST_PYTHON",
        "the interpreter the bin/ shims run the engine with (no search when set)",
        "the newest python3 >= 3.11 on PATH, else a runtime fetched from the manifest",
        "operator",
    ),
    Setting(
        "PYBUILDPACK_DOWNLOAD_TIMEOUT",
        "seconds for a whole runtime download, retries included",
        "180",
        "operator",
    ),
    Setting(
        "PYBUILDPACK_DOWNLOAD_MIN_RATE",
        "bytes/s a download must keep up over each window",
        "4096",
        "operator",
    ),
    Setting(
        "PYBUILDPACK_DOWNLOAD_RATE_WINDOW",
        "seconds over which the minimum rate is measured",
        "15",
        "operator",
    ),
    Setting(
        "PYBUILDPACK_TOOLS_WITH_PIP",
        "1: install uv, pip, Poetry and Pipenv with pip (no uv wheel fetched by the engine, no lock files)",
        "off (where a uv wheel is pinned for the platform)",
        "operator",
    ),
    Setting(
        "PYBUILDPACK_TOOL_STORE",
        "a directory of installed build tools (uv, Poetry, Pipenv) shared by every app built on this host",
        "unset: each app installs its own (the local platform sets ~/.cache/pybuildpack/tools)",
        "operator",
    ),
    Setting("PYBUILDPACK_STATE_DIR", "local platform: apps, releases, config", "XDG data dir", "operator"),
    Setting("PYBUILDPACK_CGROUP_ROOT", "where WEB_CONCURRENCY reads memory limits", "/sys/fs/cgroup", "test"),
    Setting("PYBUILDPACK_NPROC", "the CPU count WEB_CONCURRENCY uses", "nproc", "test"),
)

BY_NAME: dict[str, Setting] = {entry.name: entry for entry in TABLE}


def value(name: str, config: Mapping[str, str], environ: Mapping[str, str]) -> str | None:
    """The setting's value, or None when unset or empty. Unknown names are a programming error."""
    entry = BY_NAME.get(name)
    if entry is None:
        raise KeyError(f"{name} is not in the settings table (pybuildpack/settings.py)")
    found = config.get(name) if entry.who == "app" else None
    if found is None:
        found = environ.get(name)
    return found or None


def enabled(name: str, config: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    return value(name, config, environ) not in (None, "", "0", "false")
