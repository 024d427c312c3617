"""Helpers for the local platform tests (no tests here): the CLI, a platform env, `start`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pybuildpack import run
from support import REPO, SRC
from support.buildpack import make_build_env
from support.index import PackageIndex
from support.mirror import RuntimeMirror

LOOPBACK_PROFILE = 'export GUNICORN_CMD_ARGS="--bind 127.0.0.1:${PORT} --workers 1"\n'


def platform_env(root: Path, package_index: PackageIndex, runtime_mirror: RuntimeMirror) -> dict[str, str]:
    if not runtime_mirror.has("3.12"):
        pytest.skip("the test runtime mirror has no Python 3.12, which the examples ask for")
    env = make_build_env(root / "home", index_url=package_index.url, manifest=runtime_mirror.manifest)
    env["PYBUILDPACK_STATE_DIR"] = str(root / "state")
    env["PYTHONPATH"] = str(SRC)
    return env


def cli(*args: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pybuildpack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    full = {
        **base,
        **(env or {}),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=900, check=False
    )


def copy_example(name: str, dest: Path) -> Path:
    shutil.copytree(REPO / "examples" / name, dest)
    (dest / ".profile").write_text(LOOPBACK_PROFILE)  # tests keep gunicorn on loopback
    return dest


def commit_all(repo: Path, message: str) -> str:
    ok(git("add", "-A", cwd=repo))
    ok(git("commit", "-q", "-m", message, cwd=repo))
    return ok(git("rev-parse", "HEAD", cwd=repo)).stdout.strip()


def init_repo(repo: Path) -> str:
    ok(git("init", "-q", "--initial-branch=main", cwd=repo))
    return commit_all(repo, "first")


@contextmanager
def started(
    app: str, port: int, env: dict[str, str], log: Path, *extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`pybuildpack start APP --port PORT` in the background; always stopped, groups checked gone."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pybuildpack", "start", app, "--port", str(port), *extra],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for pid in child_pids(log):
            if group_alive(pid):
                os.killpg(pid, signal.SIGKILL)


def child_pids(log: Path) -> list[int]:
    return [int(pid) for pid in re.findall(r"started \S+ \(pid (\d+)", log.read_text(errors="replace"))]


def group_alive(pgid: int) -> bool:
    """Any live (non-zombie) process left in the group: zombies wait for a reaper, they are not orphans."""
    return run.group_alive(pgid)


def wait_for(predicate: object, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.2)
    return False


# -- light builds: shell buildpacks, no Python install ------------------------------------------------
HTTP_WEB = "python3 -m http.server $PORT --bind 127.0.0.1"


def light_env(root: Path) -> dict[str, str]:
    """A platform env for builds with shell buildpacks only (no index, no runtime mirror)."""
    env = make_build_env(root / "home")
    env["PYBUILDPACK_STATE_DIR"] = str(root / "state")
    env["PYTHONPATH"] = str(SRC)
    return env


def shell_buildpack(directory: Path, name: str, compile_body: str, release: str = "--- {}\n") -> Path:
    """A classic buildpack: detect prints NAME, compile runs the body (``$bp`` is its own dir)."""
    (directory / "bin").mkdir(parents=True)
    scripts = {
        "detect": f"#!/bin/sh\necho {name}\n",
        "compile": '#!/bin/sh\nset -e\nbp="$(cd "$(dirname "$0")/.." && pwd)"\n' + compile_body,
        "release": f"#!/bin/sh\ncat <<'EOF'\n{release}EOF\n",
    }
    for script, text in scripts.items():
        path = directory / "bin" / script
        path.write_text(text)
        path.chmod(0o755)
    return directory


def tiny_app(directory: Path, procfile: str | None) -> Path:
    directory.mkdir(parents=True)
    (directory / "hello.txt").write_text("hello\n")
    if procfile is not None:
        (directory / "Procfile").write_text(procfile)
    return directory
