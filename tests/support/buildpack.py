"""Running the classic buildpack API (``bin/compile``, ``bin/report``) the way a platform does.

``make_build_env()`` is the process environment a platform gives ``bin/compile``: a minimal base,
the machine's certificate settings, the test runtime mirror and the local package index (the only
package source: ``PIP_CONFIG_FILE=/dev/null``). Config vars are not in it: they go to ENV_DIR files.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from support import FIXTURE_APPS, REPO

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
CERTIFICATE_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT", "REQUESTS_CA_BUNDLE")
COMPILE_TIMEOUT = 900


def make_build_env(
    home: Path,
    *,
    index_url: str | None = None,
    manifest: Path | str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A platform-like environment for ``bin/compile``; ``STACK`` is left unset on purpose."""
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": BASE_PATH, "HOME": str(home), "LANG": "C.UTF-8", "NO_COLOR": "1"}
    env.update({name: os.environ[name] for name in CERTIFICATE_VARS if os.environ.get(name)})
    if index_url is not None:
        env["PIP_INDEX_URL"] = index_url
        env["PIP_CONFIG_FILE"] = os.devnull
    if manifest is not None:
        env["PYBUILDPACK_RUNTIME_MANIFEST"] = str(manifest)
    env.update(extra or {})
    return env


def app_source(app: str | Path) -> Path:
    """A fixture app by name (``tests/fixtures/apps/<name>``) or any directory."""
    path = Path(app)
    source = path if path.is_absolute() or path.exists() else FIXTURE_APPS / path
    if not source.is_dir():
        raise FileNotFoundError(f"no app directory {source}")
    return source


def _fresh(workdir: Path, stem: str) -> Path:
    """``workdir/<stem>_<n>`` for the first n not taken (created)."""
    workdir.mkdir(parents=True, exist_ok=True)
    for number in range(1, 10_000):
        candidate = workdir / f"{stem}_{number}"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"too many {stem} dirs in {workdir}")


def write_env_dir(env_dir: Path, config: Mapping[str, str] | None) -> None:
    """Config vars as files: name = var, content = value (exactly, no newline added)."""
    env_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (config or {}).items():
        (env_dir / name).write_text(value)


def run_script(
    script: str,
    build_dir: Path,
    cache_dir: Path,
    env_dir: Path,
    *,
    env: Mapping[str, str],
    timeout: float = COMPILE_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """``sh bin/<script> BUILD CACHE ENV`` with no stdin, from the build dir."""
    return subprocess.run(
        ["sh", str(REPO / "bin" / script), str(build_dir), str(cache_dir), str(env_dir)],
        cwd=build_dir,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class CompileResult:
    returncode: int
    stdout: str
    stderr: str
    build_dir: Path
    cache_dir: Path
    env_dir: Path
    env: dict[str, str] = field(repr=False)
    workdir: Path = field(repr=False)
    app: Path = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        """Everything a failing assertion should show."""
        return (
            f"bin/compile exit {self.returncode} (build dir {self.build_dir})\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )

    def check(self) -> CompileResult:
        """Assert the build succeeded (showing its output if not); returns self."""
        assert self.returncode == 0, self.describe()
        return self

    def report(self) -> dict[str, Any]:
        """Run ``bin/report`` on this build and parse its JSON."""
        proc = run_script("report", self.build_dir, self.cache_dir, self.env_dir, env=self.env, timeout=60)
        assert proc.returncode == 0, f"bin/report exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        data: dict[str, Any] = json.loads(proc.stdout)
        return data

    def recompile(
        self, app: str | Path | None = None, config: Mapping[str, str] | None = None, **kwargs: Any
    ) -> CompileResult:
        """Build again (fresh build dir, same cache dir, env and config unless given)."""
        return compile_app(
            app if app is not None else self.app,
            env=self.env,
            workdir=self.workdir,
            config=config,
            cache_dir=self.cache_dir,
            env_dir=None if config is not None else self.env_dir,
            **kwargs,
        )


def compile_app(
    app: str | Path,
    *,
    env: Mapping[str, str],
    workdir: Path,
    config: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
    env_dir: Path | None = None,
    extra_env: Mapping[str, str] | None = None,
    script: str = "compile",
    timeout: float = COMPILE_TIMEOUT,
) -> CompileResult:
    """Copy ``app`` to a fresh build dir under ``workdir`` and run ``sh bin/compile BUILD CACHE ENV``.

    ``cache_dir`` defaults to a fresh empty dir (pass a previous result's to rebuild); ``config`` are
    config vars written to a fresh ENV_DIR; ``extra_env`` is added to the process environment.
    """
    source = app_source(app)
    build_dir = _fresh(workdir, "build")
    shutil.copytree(source, build_dir, symlinks=True, dirs_exist_ok=True)
    cache_dir = cache_dir if cache_dir is not None else _fresh(workdir, "cache")
    cache_dir.mkdir(parents=True, exist_ok=True)
    if env_dir is None:
        env_dir = _fresh(workdir, "env")
        write_env_dir(env_dir, config)
    full_env = {**env, **(extra_env or {})}
    proc = run_script(script, build_dir, cache_dir, env_dir, env=full_env, timeout=timeout)
    return CompileResult(
        returncode=proc.returncode,
        stdout=proc.stdout,
        stderr=proc.stderr,
        build_dir=build_dir,
        cache_dir=cache_dir,
        env_dir=env_dir,
        env=dict(env),
        workdir=workdir,
        app=source,
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 5.0, attempts: int = 40, delay: float = 0.25) -> HttpResponse:
    """GET ``url``, retrying connection failures (a server still starting) up to ``attempts`` times.

    An HTTP error status is an answer, not a failure: it is returned, not retried.
    """
    last: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(delay)
        try:
            with _OPENER.open(url, timeout=timeout) as response:
                return HttpResponse(response.status, response.headers, response.read())
        except urllib.error.HTTPError as exc:
            return HttpResponse(exc.code, exc.headers, exc.read())
        except (urllib.error.URLError, OSError) as exc:
            last = exc
    raise ConnectionError(f"GET {url}: no answer after {attempts} attempts: {last}")


# Boots a built app as a platform's dyno does: every .profile.d script sourced, then "$1" exec'd.
BOOT = 'for f in .profile.d/*.sh; do . "./$f"; done; exec sh -c "$1"'


@contextmanager
def serving(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process group and always stop it (SIGTERM, then SIGKILL after 10 s)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def serve_web(app_dir: Path, port: int, extra: Mapping[str, str] | None = None) -> Any:
    """Boot the app's web process as a platform would (profile scripts, then the Procfile command),
    on 127.0.0.1 only (gunicorn and uvicorn are told so through their own settings)."""
    line = next(x for x in (app_dir / "Procfile").read_text().splitlines() if x.startswith("web:"))
    env = {
        "HOME": str(app_dir),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PORT": str(port),
        "DYNO": "web.1",
        "UVICORN_HOST": "127.0.0.1",
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 1",
        **(extra or {}),
    }
    return serving(["sh", "-c", BOOT, "sh", line.split(":", 1)[1].strip()], cwd=app_dir, env=env)


def moved_app(result: CompileResult, workdir: Path) -> Path:
    """Move a built app away from its build dir, as a slug is extracted elsewhere; returns its new dir."""
    app_dir = workdir / "extracted" / "app"
    app_dir.parent.mkdir(parents=True)
    shutil.move(result.build_dir, app_dir)
    return app_dir
