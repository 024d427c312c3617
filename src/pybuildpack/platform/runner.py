"""The environment a process of a built app runs in, as a platform's dyno (CONTRACT §1, §5).

HOME is the app's directory (there is no `/app`; the install is relocatable), the app's `.env` file is
loaded as `heroku local` does, config vars win over it, PORT is set, then a shell sources
`.profile.d/*.sh` and `.profile` in that order and execs the Procfile command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from pybuildpack import procfile
from pybuildpack.errors import BuildError, quoted
from pybuildpack.platform import config as config_store
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import AppState, app_state, check_app_name

BOOT = (
    'for f in "$HOME"/.profile.d/*.sh; do [ -f "$f" ] && . "$f"; done; '
    '[ -f "$HOME/.profile" ] && . "$HOME/.profile"; '
    'exec sh -c "$1"'
)
# Variables of the environment pybuildpack itself runs in that would point the app at another Python.
_NOT_INHERITED = ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__")
DEFAULT_PORT = 5000
_RELEASE_DIR = re.compile(r"v[1-9][0-9]*")


def process_types(app_dir: Path) -> dict[str, str]:
    """The app's process types: its Procfile's, over the defaults its buildpacks declared (recorded in
    the release's release.json, next to the app dir, when there is one)."""
    recorded: dict[str, str] = {}
    data = None
    if app_dir.name == "app" and _RELEASE_DIR.fullmatch(app_dir.parent.name):  # releases/vN/app
        try:
            data = json.loads((app_dir.parent / "release.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
    if isinstance(data, dict) and isinstance(data.get("process_types"), dict):
        recorded = {str(kind): str(command) for kind, command in data["process_types"].items()}
    return {**recorded, **procfile.read_procfile(app_dir)}


def port_setting(given: int | None) -> int:
    """--port, else $PORT, else 5000."""
    if given is not None:
        return given
    value = os.environ.get("PORT") or str(DEFAULT_PORT)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise PlatformError(
            f"PORT={quoted(value)} is not a port number.",
            "PORT is the TCP port the web process listens on, from 1 to 65535.",
            "Unset PORT, set it to a number, or give --port N.",
        )
    return int(value)


def boot_command(command: str) -> list[str]:
    return ["sh", "-c", BOOT, "pybuildpack-run", exec_form(command)]


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_LEADING_ASSIGNMENTS = re.compile(
    r"\s*(?:[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|\"(?:[^\"\\]|\\.)*\"|\\.|[^\s'\"\\])*\s+)*"
)
_RESERVED = frozenset(
    {"!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until",
     "while", "exec", "function", "time", "[[", "select"}
)  # fmt: skip


def exec_form(command: str) -> str:
    """``command`` with `exec` before its program when it is one simple command.

    Debian's sh (dash) forks even for the last command of `sh -c`, so without this a SIGTERM to the
    process `run` or `start` started would stop the shell and leave the program (gunicorn) running.
    Lists, pipelines, compound commands and anything unusual are left as they are.
    """
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return command
    if "\n" in command or any(_separator(token) for token in tokens):
        return command
    leading = 0
    while leading < len(tokens) and _ASSIGNMENT.match(tokens[leading]):
        leading += 1
    if leading == len(tokens) or tokens[leading] in _RESERVED:
        return command
    prefix = _LEADING_ASSIGNMENTS.match(command)
    if prefix is None or len(shlex.split(prefix[0])) != leading:
        return command
    return f"{prefix[0]}exec {command[prefix.end() :]}"


def _separator(token: str) -> bool:
    """A control operator (`;`, `&`, `&&`, `|`, `||`, a parenthesis), not a redirection such as `2>&1`."""
    return bool(token) and set(token) <= set(";&|()<>") and not (set(token) & set("<>"))


def process_env(
    app_dir: Path,
    config: Mapping[str, str],
    *,
    port: int,
    dyno: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    inherited = os.environ if base is None else base
    env = {
        key: value
        for key, value in inherited.items()
        if key not in _NOT_INHERITED and not key.startswith("GIT_")  # a git hook's GIT_DIR, ...
    }
    env.update(read_dotenv(app_dir / ".env"))
    env.update(config)
    env["HOME"] = str(app_dir)
    env["PORT"] = str(port)
    if dyno:
        env["DYNO"] = dyno
    return env


def read_dotenv(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines (optional `export `, `#` comments, single or double quotes) as `heroku local`."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key.replace("_", "a").isalnum() and not key[0].isdigit():
            values[key] = _dotenv_value(value.strip())
    return values


def _dotenv_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        return inner.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
    comment = value.find(" #")
    return (value[:comment] if comment >= 0 else value).strip()


def resolve_app(target: str, state_dir: Path | None) -> tuple[Path, dict[str, str], AppState | None]:
    """(app dir, config vars, state) for an app name known to the platform (its current release) or
    for a built app's directory (no config vars, no state)."""
    path = Path(target)
    looks_like_path = "/" in target or target in {".", ".."}
    if not looks_like_path and _valid_name(target):
        state = app_state(target, state_dir)
        if state.exists():
            current = state.current_app_dir()
            if current is None or not current.is_dir():
                raise PlatformError(
                    f"The app {quoted(target)} has no current release.",
                    "It has never been built successfully, or its releases were removed.",
                    f"Build it: pybuildpack build APP_DIR --app {target}",
                )
            return current, config_store.load(state), state
    if path.is_dir():
        app_dir = path.resolve()
        if not (app_dir / ".heroku" / "python").is_dir():
            raise PlatformError(
                f"{app_dir} is not a built app.",
                "It has no .heroku/python directory, so it was not built by pybuildpack.",
                "Build it first: pybuildpack build APP_DIR --output DIR, then run DIR.",
            )
        return app_dir, {}, None
    raise PlatformError(
        f"No app named {quoted(target)} and no such directory.",
        "APP is the name of an app built with pybuildpack build (see its --app), or a built app's directory.",
        "Build it first: pybuildpack build APP_DIR",
    )


def _valid_name(name: str) -> bool:
    try:
        check_app_name(name)
    except BuildError:
        return False
    return True
