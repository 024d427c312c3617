"""A default web process for an app whose Procfile declares none (or that has no Procfile).

The build looks for one unambiguous way to serve the app, by reading its source text (never importing
it): gunicorn installed and one WSGI module, or uvicorn installed and one ASGI module. A candidate is
Django's ``wsgi.py``/``asgi.py`` next to the settings package named by the ``manage.py`` collectstatic
uses, or a top-level module (app.py, main.py, wsgi.py, server.py, asgi.py) that assigns or defines
``app`` or ``application`` at module level; one that builds ``FastAPI(...)`` or ``Starlette(...)``, and
``asgi.py``, are ASGI. What is found is printed. With the config var ``PYBUILDPACK_DEFAULT_WEB=1`` the one
candidate becomes the default ``web`` process (the faces declare it); otherwise, or when there are
several candidates or none, a warning shows the Procfile line to add.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pybuildpack import appfile, procfile
from pybuildpack.context import BuildContext
from pybuildpack.env import is_enabled
from pybuildpack.errors import BuildError, cut_list
from pybuildpack.steps.collectstatic import find_manage_py

SETTING = "PYBUILDPACK_DEFAULT_WEB"
TOP_LEVEL = ("app.py", "main.py", "wsgi.py", "server.py", "asgi.py")
SERVERS = {"WSGI": "gunicorn", "ASGI": "uvicorn"}
SOURCE_LIMIT = appfile.TEXT_FILE_LIMIT
EXAMPLE = "web: gunicorn myapp.wsgi"

_EXPOSED = re.compile(
    r"^(?:(app|application)\s*(?::[^=\n]*)?=(?!=)|(?:async\s+)?def\s+(app|application)\s*\()", re.M
)
_ASGI_APP = re.compile(
    r"^(?:app|application)\s*(?::[^=\n]*)?=\s*(?:[\w.]+\.)?(?:FastAPI|Starlette)\s*\(", re.M
)
_SETTINGS = re.compile(r"""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([A-Za-z_][\w.]*)['"]""")
_MODULE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_DIR_PART = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Candidate:
    kind: str  # "WSGI" or "ASGI"
    module: str  # dotted, relative to `chdir`
    attribute: str  # app or application
    source: str  # the file, relative to the app
    chdir: str = ""  # the directory to serve from (a Django project below the app's root)

    @property
    def server(self) -> str:
        return SERVERS[self.kind]

    def command(self) -> str:
        """The web command, listening on 0.0.0.0:$PORT (gunicorn binds there by default when PORT is
        set; uvicorn is told, and UVICORN_HOST can narrow it)."""
        target = f"{self.module}:{self.attribute}"
        if self.kind == "WSGI":
            chdir = f"--chdir {self.chdir} " if self.chdir else ""
            return f"gunicorn {chdir}{target}"
        app_dir = f" --app-dir {self.chdir}" if self.chdir else ""
        return f'uvicorn {target}{app_dir} --host "${{UVICORN_HOST:-0.0.0.0}}" --port "$PORT"'

    def describe(self) -> str:
        return f"{self.command()}  ({self.source}: {self.kind} `{self.attribute}`)"


def find_candidates(app_dir: Path) -> list[Candidate]:
    """Every module that could be served, Django's first, one per file."""
    found: dict[str, Candidate] = {}
    for candidate in [*_django(app_dir), *_top_level(app_dir)]:
        found.setdefault(candidate.source, candidate)
    return list(found.values())


def _read(app_dir: Path, relative: Path) -> str | None:
    """The file's text, or None when it is absent or is not something the build reads."""
    path = app_dir / relative
    if not path.is_file():
        return None
    try:
        data = appfile.read_app_file(app_dir, path, limit=SOURCE_LIMIT, failure_reason="procfile::unreadable")
    except BuildError:
        return None
    return data.decode("utf-8", "replace")


def _top_level(app_dir: Path) -> list[Candidate]:
    found: list[Candidate] = []
    for name in TOP_LEVEL:
        text = _read(app_dir, Path(name))
        exposed = _exposed_names(text) if text is not None else set()
        if text is None or not exposed:
            continue
        attribute = "app" if "app" in exposed else "application"
        asgi = name == "asgi.py" or _ASGI_APP.search(text) is not None
        found.append(Candidate("ASGI" if asgi else "WSGI", name.removesuffix(".py"), attribute, name))
    return found


def _exposed_names(text: str) -> set[str]:
    return {match[1] or match[2] for match in _EXPOSED.finditer(text)}


def _django(app_dir: Path) -> list[Candidate]:
    manage_py = find_manage_py(app_dir)
    if manage_py is None:
        return []
    base = manage_py.parent
    if not all(_DIR_PART.fullmatch(part) for part in base.parts):
        return []
    text = _read(app_dir, manage_py) or ""
    match = _SETTINGS.search(text)
    if match is None or not _MODULE.fullmatch(match[1]):
        return []
    parts = match[1].split(".")
    chdir = "" if base == Path() else base.as_posix()
    found: list[Candidate] = []
    for kind in ("WSGI", "ASGI"):
        for depth in range(len(parts) - 1, 0, -1):  # the settings package, then the packages above it
            package = parts[:depth]
            relative = base.joinpath(*package, f"{kind.lower()}.py")
            if _read(app_dir, relative) is not None:
                module = ".".join([*package, kind.lower()])
                found.append(Candidate(kind, module, "application", relative.as_posix(), chdir))
                break
    return found


def installed_servers(python_home: Path) -> set[str]:
    return {server for server in SERVERS.values() if (python_home / "bin" / server).is_file()}


def _declared(app_dir: Path) -> dict[str, str] | None:
    """The Procfile's types; None when it cannot be read (whoever reads it reports that)."""
    try:
        return procfile.read_procfile(app_dir)
    except BuildError:
        return None


def run_default_web(ctx: BuildContext) -> str | None:
    """Look for a way to serve an app without a `web` process; returns the command to declare, if any."""
    declared = _declared(ctx.build_dir)
    if declared is None or "web" in declared:
        return None
    has_procfile = (ctx.build_dir / "Procfile").exists()
    where = "the Procfile declares no 'web' process" if has_procfile else "the app has no Procfile"
    ctx.console.step(f"Looking for a default web process ({where})")
    candidates = find_candidates(ctx.build_dir)
    servers = installed_servers(ctx.python_home)
    servable = [candidate for candidate in candidates if candidate.server in servers]
    ctx.data.set("default_web", _outcome(servable))
    for candidate in candidates:
        installed = "" if candidate in servable else f" ({candidate.server} is not installed)"
        ctx.console.info(f"Found {candidate.kind} `{candidate.attribute}` in {candidate.source}{installed}")
    if len(servable) == 1:
        return _one(ctx, servable[0], where)
    if servable:
        _several(ctx, servable)
    elif not any(kind != "release" for kind in declared):
        _none(ctx, candidates, where)
    return None


def _outcome(servable: list[Candidate]) -> str:
    if not servable:
        return "none"
    return "found" if len(servable) == 1 else "ambiguous"


def _one(ctx: BuildContext, candidate: Candidate, where: str) -> str | None:
    command = candidate.command()
    if is_enabled(SETTING, ctx.config, ctx.environ):
        ctx.console.info(f"Declaring the default web process ({SETTING} is set):\nweb: {command}")
        ctx.data.set("default_web", "declared")
        return command
    ctx.console.info(f"It can be served with: {command}")
    ctx.console.warning(
        f"No web process is declared: {where}.",
        "To serve the app with what the build found, add a Procfile at the root of the app with the "
        f"line:\nweb: {command}\n"
        f"or set the config var {SETTING}=1 to declare it as the default web process.",
    )
    return None


def _several(ctx: BuildContext, servable: list[Candidate]) -> None:
    listed = "\n".join(cut_list(candidate.describe() for candidate in servable))
    ctx.console.warning(
        f"No web process is declared: the app can be served in {len(servable)} ways, and none is guessed.",
        f"The build found:\n{listed}\n"
        "Add a Procfile at the root of the app with the one to serve, for example:\n"
        f"web: {servable[0].command()}",
    )


def _none(ctx: BuildContext, candidates: list[Candidate], where: str) -> None:
    missing = sorted({candidate.server for candidate in candidates})
    why = (
        f"Add {' or '.join(missing)} to the app's dependencies, or declare the process in a Procfile"
        if missing
        else "Add a Procfile at the root of the app"
    )
    ctx.console.warning(
        f"No web process is declared: {where}.",
        "The build found no unambiguous way to serve the app (gunicorn with one WSGI module, or "
        f"uvicorn with one ASGI module).\n{why}, for example:\n{EXAMPLE}",
    )
