"""The local platform's day-to-day commands (issue 12): apps, ps, logs, restart, destroy, crash restarts,
and signals reaching the app's own process. Real processes, real HTTP on 127.0.0.1.

The light tests build with a shell buildpack and serve with `python3 -m http.server`; the last one builds
the Flask example with this buildpack, for gunicorn.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.buildpack import free_port, http_get
from support.index import PackageIndex
from support.mirror import RuntimeMirror
from support.platform import (
    HTTP_WEB,
    cli,
    copy_example,
    group_alive,
    light_env,
    ok,
    platform_env,
    shell_buildpack,
    started,
    tiny_app,
    wait_for,
)

TICKER = "worker: python3 -u -c \"import time; [print('tick', i) or time.sleep(0.3) for i in range(3000)]\"\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("commands")


@pytest.fixture(scope="module")
def env(root: Path) -> dict[str, str]:
    return light_env(root)


@pytest.fixture(scope="module")
def plain_bp(root: Path) -> Path:
    return shell_buildpack(root / "plain-bp", "Plain", 'echo "plain compile"\n')


def app_root(env: dict[str, str], name: str) -> Path:
    return Path(env["PYBUILDPACK_STATE_DIR"]) / "apps" / name


class Lines:
    """The stdout of a background process, line by line, read by a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.proc = proc
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@contextmanager
def tailing(env: dict[str, str], *args: str) -> Iterator[Lines]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybuildpack", "logs", *args, "--tail"],
        env=env,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield Lines(proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0  # SIGTERM ends --tail cleanly
        assert proc.stdout is not None
        proc.stdout.close()


def ps_rows(env: dict[str, str], app: str) -> dict[str, list[str]]:
    lines = ok(cli("ps", app, env=env)).stdout.splitlines()
    assert lines[1].split()[:3] == ["PROCESS", "PID", "STATE"], lines
    return {line.split()[0]: line.split() for line in lines[2:]}


def test_apps_ps_logs_restart_config_and_destroy(
    env: dict[str, str], root: Path, plain_bp: Path, tmp_path: Path
) -> None:
    app = tiny_app(root / "src" / "ops", f"web: {HTTP_WEB}\n{TICKER}")
    ok(cli("build", str(app), "--app", "ops", "--buildpack", str(plain_bp), env=env))
    apps = ok(cli("apps", env=env)).stdout.splitlines()
    assert apps[0].split() == ["APP", "RELEASE", "STATE", "LAST", "BUILD"]
    assert [line.split()[:4] for line in apps[1:] if line.startswith("ops ")] == [
        ["ops", "v1", "stopped", "v1"]
    ]
    assert "ops is not running" in ok(cli("ps", "ops", env=env)).stdout
    not_running = cli("restart", "ops", env=env)
    assert not_running.returncode == 1 and "ops is not running" in not_running.stderr

    port = free_port()
    with started("ops", port, env, tmp_path / "start.log") as proc:
        assert http_get(f"http://127.0.0.1:{port}/", attempts=120).status == 200
        assert wait_for(lambda: "worker.1" in ps_rows(env, "ops"))
        running = [line for line in ok(cli("apps", env=env)).stdout.splitlines() if line.startswith("ops ")]
        assert f"running on 127.0.0.1:{port}" in running[0]
        rows = ps_rows(env, "ops")
        assert (
            sorted(rows) == ["web.1", "worker.1"] and rows["web.1"][2] == "up" and rows["worker.1"][2] == "up"
        )
        assert rows["web.1"][5] == "v1" and rows["web.1"][6:8] == ["python3", "-m"]

        # logs: the last lines, of one process type, and --tail while a request is served
        assert wait_for(lambda: "app[worker.1]: tick 3" in cli("logs", "ops", env=env).stdout)
        worker_lines = ok(cli("logs", "ops", "-n", "3", "--process", "worker", env=env)).stdout.splitlines()
        assert len(worker_lines) == 3 and all(" app[worker.1]: tick " in line for line in worker_lines)
        system = ok(cli("logs", "ops", "-n", "1000", env=env)).stdout
        assert " pybuildpack[system]: started web.1 (pid " in system
        with tailing(env, "ops", "-n", "0", "--process", "web") as tail:

            def served_and_shown() -> bool:  # again until shown: --tail starts at the end of the log
                assert http_get(f"http://127.0.0.1:{port}/hello.txt").text == "hello\n"
                return tail.has('"GET /hello.txt HTTP/1.1" 200')

            assert wait_for(served_and_shown)
            assert not tail.has("tick")

        # restart: web without a failed request, then only the worker, then a type that does not exist
        failures: list[str] = []
        stop = threading.Event()

        def hammer() -> None:
            for _ in range(10_000):
                if stop.is_set():
                    return
                try:
                    if http_get(f"http://127.0.0.1:{port}/hello.txt", attempts=1).status != 200:
                        failures.append("status")
                except OSError as exc:
                    failures.append(str(exc))

        client = threading.Thread(target=hammer)
        client.start()
        try:
            restarted = ok(cli("restart", "ops", env=env))
        finally:
            stop.set()
            client.join(timeout=60)
        assert "the new web process accepts connections" in restarted.stdout
        assert "restarted web, worker from v1" in restarted.stdout
        assert failures == []
        after = ps_rows(env, "ops")
        assert after["web.1"][1] != rows["web.1"][1] and after["worker.1"][1] != rows["worker.1"][1]
        ok(cli("restart", "ops", "worker", env=env))
        only_worker = ps_rows(env, "ops")
        assert only_worker["web.1"][1] == after["web.1"][1]
        assert only_worker["worker.1"][1] != after["worker.1"][1]
        unknown = cli("restart", "ops", "clock", env=env)
        assert unknown.returncode == 1 and "declares no process type 'clock'" in unknown.stderr
        assert "pybuildpack[system]: restarted worker from v1" in ok(cli("logs", "ops", env=env)).stdout

        # config set restarts the running processes with the new value
        configured = ok(cli("config", "set", "ops", "GREETING=hi", env=env))
        assert "Restarting the processes of `pybuildpack start ops`" in configured.stdout
        assert ps_rows(env, "ops")["worker.1"][1] != only_worker["worker.1"][1]

        # destroy: refused without the confirmation, then everything is gone
        refused = cli("destroy", "ops", env=env)
        assert refused.returncode == 1 and "pybuildpack destroy ops --confirm ops" in refused.stderr
        wrong = cli("destroy", "ops", "--confirm", "opz", env=env)
        assert wrong.returncode == 1 and "--confirm 'opz' does not match" in wrong.stderr
        assert app_root(env, "ops").is_dir() and proc.poll() is None
        destroyed = ok(cli("destroy", "ops", "--confirm", "ops", env=env))
        assert "Stopping `pybuildpack start ops`" in destroyed.stdout
        assert proc.wait(timeout=60) == 0
    assert not app_root(env, "ops").exists()
    assert not any(line.startswith("ops ") for line in ok(cli("apps", env=env)).stdout.splitlines())
    gone = cli("logs", "ops", env=env)
    assert gone.returncode == 1 and "There is no app named 'ops'" in gone.stderr


def test_a_crashed_process_is_restarted_with_a_growing_delay(
    env: dict[str, str], root: Path, plain_bp: Path, tmp_path: Path
) -> None:
    crashing = (
        "worker: python3 -u -c \"import pathlib, time; p = pathlib.Path('runs'); "
        "n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n)); print('run', n); "
        'raise SystemExit(3) if n < 3 else time.sleep(600)"\n'
    )
    app = tiny_app(root / "src" / "crashy", f"web: {HTTP_WEB}\n{crashing}")
    ok(cli("build", str(app), "--app", "crashy", "--buildpack", str(plain_bp), env=env))
    port = free_port()
    log = tmp_path / "start.log"
    with started("crashy", port, env, log) as proc:
        assert wait_for(lambda: "app[worker.1]: run 3" in cli("logs", "crashy", env=env).stdout, timeout=60)
        text = ok(cli("logs", "crashy", env=env)).stdout
        assert "worker.1 exited with status 3 after " in text
        assert "(crash 1 in a row); restarting it in 1 s" in text
        assert "(crash 2 in a row); restarting it in 2 s" in text
        assert "crash 3" not in text
        assert ps_rows(env, "crashy")["worker.1"][2] == "up"
        assert http_get(f"http://127.0.0.1:{port}/", attempts=120).status == 200  # web kept serving
        assert proc.poll() is None
    assert "worker.1 | run 3" in log.read_text()


def test_sigterm_to_run_stops_gunicorn_and_slug_export_works_while_the_app_runs(
    tmp_path: Path, package_index: PackageIndex, runtime_mirror: RuntimeMirror
) -> None:
    env = platform_env(tmp_path, package_index, runtime_mirror)
    env.pop("XDG_RUNTIME_DIR", None)
    short = Path(tempfile.mkdtemp(prefix="pbs", dir="/tmp"))  # a unix socket path has ~107 bytes at most
    env["PYBUILDPACK_STATE_DIR"] = str(short)
    try:
        _sigterm_and_export(env, tmp_path)
    finally:
        shutil.rmtree(short, ignore_errors=True)


def _sigterm_and_export(env: dict[str, str], tmp_path: Path) -> None:
    source = copy_example("flask-app", tmp_path / "src" / "sigapp")
    ok(cli("build", str(source), "--app", "sigapp", env=env))

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybuildpack", "run", "sigapp", "web", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert http_get(f"http://127.0.0.1:{port}/", attempts=120).status == 200
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert any(part.endswith(b"gunicorn") for part in cmdline), cmdline
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0  # gunicorn's own clean shutdown
        assert wait_for(lambda: not group_alive(proc.pid))
    finally:
        if proc.poll() is None or group_alive(proc.pid):
            subprocess.run(["kill", "-KILL", f"-{proc.pid}"], check=False)
            proc.wait(timeout=30)

    with started("sigapp", port, env, tmp_path / "start.log"):
        assert http_get(f"http://127.0.0.1:{port}/", attempts=120).status == 200
        release = app_root(env, "sigapp") / "releases" / "v1" / "app"
        control = release / ".gunicorn" / "gunicorn.ctl"  # HOME is the app dir, no XDG_RUNTIME_DIR
        assert wait_for(control.is_socket), (
            sorted(str(p) for p in release.rglob("*gunicorn*")),
            (tmp_path / "start.log").read_text()[-3000:],
        )
        exported = ok(cli("slug", "export", "sigapp", "-o", str(tmp_path / "slug.tar.gz"), env=env))
        assert "  .gunicorn/gunicorn.ctl (socket)" in exported.stdout
        with tarfile.open(tmp_path / "slug.tar.gz") as tar:
            assert "app/app.py" in tar.getnames() and "app/.gunicorn/gunicorn.ctl" not in tar.getnames()
