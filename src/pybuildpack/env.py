"""Environments: config vars from ENV_DIR, PYBUILDPACK_* settings, and what each kind of step sees.

The build never inherits an accidental interpreter or environment: variables that would redirect
Python or the installers elsewhere are dropped from the process environment and refused as config
vars (CONTRACT D8). Secret values are never printed (`mask_secrets`).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from pybuildpack import settings
from pybuildpack.layout import Layout

# Never taken from config vars, and never inherited from the process env by the tools we run.
BLOCKED = frozenset(
    {
        "PATH",
        "CPATH",
        "CPPATH",
        "LD_PRELOAD",
        "LIBRARY_PATH",
        "LD_LIBRARY_PATH",
        "PYTHONHOME",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PYTHONUSERBASE",
        "PYTHONEXECUTABLE",
        "PYTHONNOUSERSITE",
        "PYTHONSAFEPATH",
        "PYTHONPLATLIBDIR",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "PIP_PYTHON",
        "PIP_TARGET",
        "PIP_PREFIX",
        "PIP_ROOT",
        "PIP_USER",
        "PIP_SRC",
        "PIP_REQUIRE_VIRTUALENV",
        "PIP_BREAK_SYSTEM_PACKAGES",
        "PIP_EDITABLE",
        "UV_PYTHON",
        "UV_PROJECT_ENVIRONMENT",
        "UV_SYSTEM_PYTHON",
        "UV_TARGET",
        "POETRY_HOME",
        "POETRY_VIRTUALENVS_PATH",
        "POETRY_VIRTUALENVS_IN_PROJECT",
        "PIPENV_VENV_IN_PROJECT",
        "PIPENV_PYTHON",
        "WORKON_HOME",
    }
)

# Set by the platform or the buildpack itself: a config var may not replace them for installers.
_BUILD_OWNED = frozenset({"BUILD_DIR", "CACHE_DIR", "ENV_DIR", "STACK", "HOME"})
# Read by the buildpack itself (deploy_key.py), never needed by an installer: kept out of its reach.
_BUILDPACK_ONLY = frozenset({"CUSTOM_SSH_KEY"})

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_env_dir(env_dir: Path | None) -> dict[str, str]:
    """Config vars as a platform hands them over: one file per variable, its content the value."""
    if env_dir is None or not env_dir.is_dir():
        return {}
    values = {}
    for entry in sorted(env_dir.iterdir()):
        if entry.is_file() and _NAME.match(entry.name):
            try:
                values[entry.name] = entry.read_text(encoding="utf-8", errors="surrogateescape")
            except OSError as error:  # name the file: a failed read (not open) carries no filename
                raise OSError(error.errno, error.strerror or str(error), str(entry)) from error
    return values


def setting(name: str, config: Mapping[str, str], environ: Mapping[str, str]) -> str | None:
    """A PYBUILDPACK_* setting from the table in settings.py (for app settings, the config var wins)."""
    return settings.value(name, config, environ)


def is_enabled(name: str, config: Mapping[str, str], environ: Mapping[str, str]) -> bool:
    return settings.enabled(name, config, environ)


def prepend(new: str, old: str | None) -> str:
    return f"{new}:{old}" if old else new


def base_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The process env minus everything that would point Python or an installer somewhere else."""
    return {key: value for key, value in environ.items() if key not in BLOCKED}


def build_environment(environ: Mapping[str, str], where: Layout, *, env_dir: Path | None) -> dict[str, str]:
    """CONTRACT §4 with D7: the Python is found where the layout installs it, never through /app."""
    python = where.python_home
    env = base_environment(environ)
    env["PATH"] = prepend(str(python / "bin"), environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin")
    env["PYTHONUNBUFFERED"] = "1"
    env["LANG"] = "en_US.UTF-8"
    for key in ("C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH"):
        env[key] = prepend(str(python / "include"), environ.get(key))
    for key in ("LIBRARY_PATH", "LD_LIBRARY_PATH"):
        env[key] = prepend(str(python / "lib"), environ.get(key))
    env["PKG_CONFIG_PATH"] = prepend(str(python / "lib" / "pkg-config"), environ.get("PKG_CONFIG_PATH"))
    env["BUILD_DIR"] = str(where.app_dir)
    env["CACHE_DIR"] = str(where.cache_root)
    env["ENV_DIR"] = str(env_dir) if env_dir is not None else ""
    return env


def installer_environment(build_env: Mapping[str, str], config: Mapping[str, str]) -> dict[str, str]:
    """What package installers and tool bootstraps see (D6/D8): config vars, minus the blocked list."""
    env = dict(build_env)
    for key, value in config.items():
        if key not in BLOCKED and key not in _BUILD_OWNED and key not in _BUILDPACK_ONLY:
            env[key] = value
    return env


def hook_environment(build_env: Mapping[str, str], config: Mapping[str, str]) -> dict[str, str]:
    """What hooks see (CONTRACT §4): every config var except the few that would break the build tools."""
    never = {"PATH", "CPATH", "CPPATH", "LD_PRELOAD", "LIBRARY_PATH", "LD_LIBRARY_PATH", "PYTHONHOME"}
    env = dict(build_env)
    env.update({key: value for key, value in config.items() if key not in never})
    return env


_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "PRIVATE_KEY")
_SECRET_ENDINGS = ("KEY", "KEYS", "PASS", "PWD", "AUTH", "SECRETS", "TOKENS", "CREDENTIALS")
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")
_MIN_MASKED = 4  # shorter values would garble the log without protecting anything


def is_secret_name(name: str) -> bool:
    """Does a config var's name say its value is secret (DATABASE_PASSWORD, SECRET_KEY_BASE, API_KEY,
    GITHUB_TOKEN, UV_INDEX_X_PASSWORD...)? Names of hosts, users and URLs (CUSTOM_SSH_KEY_HOSTS,
    UV_INDEX_X_USERNAME, PIP_INDEX_URL) do not; the userinfo of URLs is masked wherever it appears."""
    upper = name.upper()
    if any(word in upper for word in _SECRET_WORDS):
        return True
    last = upper.rsplit("_", 1)[-1]
    return last.endswith(_SECRET_ENDINGS)


def mask_url(url: str) -> str:
    """An index URL safe to print: a password (or a lone token) is replaced by ****."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    credentials = f"{user}:****" if parts.password is not None else "****"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match["scheme"], match["userinfo"]
    if ":" in userinfo:
        return f"{scheme}{userinfo.split(':', 1)[0]}:****@"
    if "ssh" in scheme.lower():  # ssh://git@host: a login name, the key authenticates
        return match[0]
    return f"{scheme}****@"


def secret_values(config: Mapping[str, str]) -> list[str]:
    """What must never be printed: values of config vars with secret names, whole and line by line
    (a key or a multi-line token), longest first."""
    found: set[str] = set()
    for name, value in config.items():
        if not is_secret_name(name):
            continue
        for part in [value, *value.splitlines()]:
            stripped = part.strip()
            if len(stripped) >= _MIN_MASKED:
                found.add(stripped)
    return sorted(found, key=len, reverse=True)


def mask_secrets(text: str, config: Mapping[str, str]) -> str:
    """A line safe to print: secret config var values and the userinfo of URLs replaced by ****.
    Other config var values (hosts, module names, URLs) stay readable."""
    for value in secret_values(config):
        if value in text:
            text = text.replace(value, "****")
    return _USERINFO.sub(_mask_userinfo, text)


def user_dir(kind: str) -> Path:
    """XDG base directories for the local platform: kind is 'cache' or 'data'."""
    if kind == "cache":
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pybuildpack"
