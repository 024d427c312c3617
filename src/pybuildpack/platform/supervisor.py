"""`pybuildpack start`: every process type of a release together, like `heroku local`.

Each process runs in its own process group with its output prefixed (`12:00:01 web.1 | ...`, coloured on
a terminal). The web process sits behind a small TCP proxy on PORT (platform/proxy.py), so a deploy can
start the new web process on a fresh port, wait until it accepts connections, switch the proxy to it
and only then stop the old one; if it does not come up in time the old one keeps serving. Ctrl-C or
SIGTERM stops every process group (SIGTERM, then SIGKILL after a grace period). A deploy asks for a
restart through a unix socket recorded in `<app>/supervisor.json`, which also lists the processes (for
`pybuildpack ps`). Every line also goes to the app's log (platform/applog.py, for `pybuildpack logs`).
A process that exits is restarted, as a dyno manager does, after a delay that doubles with each crash
in a row (1 s, 2 s, 4 s, ... up to a minute) and starts again at 1 s once a process has run for a minute.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pybuildpack import pids, run
from pybuildpack.output import Console, colour_wanted
from pybuildpack.platform import config as config_store
from pybuildpack.platform import runner
from pybuildpack.platform.applog import LIMIT as LOG_LIMIT
from pybuildpack.platform.applog import SYSTEM, AppLog
from pybuildpack.platform.proxy import Proxy, accepts, free_port
from pybuildpack.platform.state import AppState, write_json

_COLOURS = ("36", "33", "32", "35", "34", "31")
GRACE = 10.0
DRAIN = 10.0  # how long a swap waits for the requests the old web process is serving
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
BACKOFF_RESET = 60.0  # a process that ran this long before it exited starts a new series of crashes
INFO = "supervisor.json"
_Reply = Callable[[str], None]


class Printer:
    """Prefixed, optionally coloured log lines from many threads."""

    def __init__(self, out: TextIO, log: AppLog | None = None) -> None:
        self.out = out
        self.log = log
        self.colour = colour_wanted(os.environ, out)
        self.lock = threading.Lock()
        self.width = 6
        self.colours: dict[str, str] = {}

    def line(self, name: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        label = name.ljust(self.width)
        if self.colour:
            code = self.colours.setdefault(name, _COLOURS[len(self.colours) % len(_COLOURS)])
            label = f"\033[{code}m{label}\033[0m"
        with self.lock:
            self.out.write(f"{stamp} {label} | {text}\n")
            self.out.flush()
        if self.log is not None:
            self.log.write(name, text)


@dataclass
class Child:
    kind: str
    proc: subprocess.Popen[bytes]
    port: int
    release: Path
    command: str = ""
    retiring: bool = False
    pump: threading.Thread | None = field(default=None, repr=False)
    started_at: float = field(default_factory=time.time)
    crashes: int = 0  # exits in a row, each within BACKOFF_RESET of its start
    restart_at: float | None = None  # time.monotonic() of the restart after a crash

    @property
    def name(self) -> str:
        return f"{self.kind}.1"

    def describe(self) -> dict[str, object]:
        """The process as `pybuildpack ps` shows it."""
        crashed = self.restart_at is not None
        return {
            "type": self.kind,
            "name": self.name,
            "pid": self.proc.pid,
            "port": self.port,
            "since": _iso(self.started_at),
            "state": "crashed" if crashed else "up",
            "restarts_in": round(max(0.0, (self.restart_at or 0) - time.monotonic()), 1) if crashed else None,
            "release": self.release.parent.name,
            "command": self.command,
        }


def _iso(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).isoformat(timespec="seconds")


def backoff(crashes: int) -> float:
    """Seconds to wait before restarting a process after its ``crashes``-th exit in a row."""
    return float(min(BACKOFF_FIRST * 2 ** max(crashes - 1, 0), BACKOFF_MAX))


class Supervisor:
    def __init__(
        self,
        app_dir: Path,
        state: AppState | None,
        *,
        host: str,
        port: int,
        boot_timeout: float,
        out: TextIO | None = None,
        log_limit: int | None = None,
    ) -> None:
        self.app_dir = app_dir
        self.state = state
        self.host = host
        self.port = port
        self.boot_timeout = boot_timeout
        self.log = None if state is None else AppLog(state.log_dir, log_limit or LOG_LIMIT)
        self.printer = Printer(out or sys.stdout, self.log)
        self.started_at = time.time()
        self.record_lock = threading.Lock()
        self.socket_path: Path | None = None
        self.children: list[Child] = []
        self.proxy: Proxy | None = None
        self.stopping = threading.Event()
        self.exit_code = 0
        self.restart_lock = threading.Lock()
        self.control: socket.socket | None = None
        self.control_dir: Path | None = None

    def say(self, text: str) -> None:
        self.printer.line(SYSTEM, text)

    # -- starting -----------------------------------------------------------------------------------
    def _config(self) -> dict[str, str]:
        return config_store.load(self.state) if self.state is not None else {}

    def _spawn(self, kind: str, command: str, release: Path, port: int) -> Child:
        env = runner.process_env(release, self._config(), port=port, dyno=f"{kind}.1")
        proc = run.spawn_group(runner.boot_command(command), env=env, cwd=release)
        child = Child(kind, proc, port, release, command)
        child.pump = threading.Thread(target=self._pump_output, args=(child,), daemon=True)
        child.pump.start()
        self.say(f"started {child.name} (pid {proc.pid}, PORT={port}): {command}")
        return child

    def _pump_output(self, child: Child) -> None:
        assert child.proc.stdout is not None
        with child.proc.stdout:
            for raw in child.proc.stdout:
                self.printer.line(child.name, raw.decode("utf-8", "replace").rstrip("\r\n"))

    def _ports(self, processes: dict[str, str]) -> dict[str, int]:
        ports: dict[str, int] = {}
        others = 0
        for kind in processes:
            if kind == "web":
                ports[kind] = free_port()
            else:
                others += 1
                ports[kind] = self.port + 100 * others
        return ports

    def start(self) -> None:
        processes = runnable(self.app_dir)
        self.printer.width = max([6, *(len(kind) + 2 for kind in processes)])
        ports = self._ports(processes)
        if "web" in processes:
            self.proxy = Proxy(self.host, self.port, ports["web"])
            self.say(f"web is served on http://{self.host}:{self.port}/")
        for kind, command in processes.items():
            self.children.append(self._spawn(kind, command, self.app_dir, ports[kind]))
        if self.state is not None:
            self._listen()

    # -- the main loop and stopping -------------------------------------------------------------------
    def wait(self) -> int:
        while not self.stopping.is_set():
            if self.restart_lock.acquire(blocking=False):  # not while a deploy replaces the processes
                try:
                    for child in list(self.children):
                        self._watch(child)
                finally:
                    self.restart_lock.release()
            self.stopping.wait(0.2)
        return self.exit_code

    def _watch(self, child: Child) -> None:
        """Notice a crash and schedule the restart; restart when it is due."""
        if child.retiring or child not in self.children:
            return
        if child.restart_at is not None:
            if time.monotonic() >= child.restart_at:
                self._respawn(child)
            return
        code = child.proc.poll()
        if code is None:
            return
        ran = time.time() - child.started_at
        child.crashes = 1 if ran >= BACKOFF_RESET else child.crashes + 1
        delay = backoff(child.crashes)
        child.restart_at = time.monotonic() + delay
        self.say(
            f"{child.name} exited with status {code} after {ran:.1f} s (crash {child.crashes} in a row); "
            f"restarting it in {delay:g} s"
        )
        self.record()

    def _respawn(self, child: Child) -> None:
        run.stop_group(child.proc, GRACE)  # what is left of its process group
        if child.pump is not None:
            child.pump.join(timeout=5)
        port = free_port() if child.kind == "web" else child.port
        new = self._spawn(child.kind, child.command, child.release, port)
        new.crashes = child.crashes
        if child.kind == "web" and self.proxy is not None:
            self.proxy.backend = port
        self.children[self.children.index(child)] = new
        self.record()

    def request_stop(self, signum: int, _frame: object) -> None:
        self.say(f"received {signal.Signals(signum).name}: stopping all processes")
        self.stopping.set()

    def shutdown(self) -> None:
        self._close_control()
        with self.restart_lock:
            stop_children(self.children)
            for child in self.children:
                self.say(f"{child.name} stopped (exit {child.proc.returncode})")
            self.children = []
        if self.proxy is not None:
            self.proxy.close()
        if self.log is not None:
            self.log.close()

    # -- restarts (a deploy) ----------------------------------------------------------------------------
    def _listen(self) -> None:
        assert self.state is not None
        self.control_dir = Path(tempfile.mkdtemp(prefix="pybp-"))
        path = self.control_dir / "s"
        self.control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.control.bind(str(path))
        self.control.listen()
        self.control.settimeout(0.5)
        self.socket_path = path
        self.record()
        threading.Thread(target=self._control_loop, daemon=True).start()

    def record(self) -> None:
        """Write `<app>/supervisor.json`: how to reach this supervisor, and its processes."""
        if self.state is None or self.control is None:
            return
        with self.record_lock:
            write_json(
                self.state.root / INFO,
                {
                    "pid": os.getpid(),
                    "socket": str(self.socket_path),
                    "host": self.host,
                    "port": self.port,
                    "started_at": _iso(self.started_at),
                    "processes": [child.describe() for child in self.children if not child.retiring],
                },
            )

    def _close_control(self) -> None:
        if self.control is None:
            return
        if self.state is not None:
            (self.state.root / INFO).unlink(missing_ok=True)
        self.control.close()
        self.control = None
        if self.control_dir is not None:
            for entry in self.control_dir.iterdir():
                entry.unlink(missing_ok=True)
            self.control_dir.rmdir()

    def _control_loop(self) -> None:
        while not self.stopping.is_set() and self.control is not None:
            try:
                conn, _ = self.control.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(self.boot_timeout + 60)
                try:
                    words = conn.recv(256).decode("utf-8", "replace").split()
                    if words and words[0] == "restart":
                        self.restart(self._logged(_replier(conn)), words[1] if len(words) > 1 else None)
                except OSError:
                    continue

    def _logged(self, reply: _Reply) -> _Reply:
        """Replies to the deployer that also go to the app's log."""

        def both(text: str) -> None:
            self.say(text.partition(" ")[2])
            reply(text)

        return both

    def restart(self, reply: _Reply, only: str | None = None) -> None:
        """Restart on the current release: every process, or only the type ``only``."""
        assert self.state is not None
        with self.restart_lock:
            if self.stopping.is_set():
                reply("failed the processes are stopping")
                return
            release = self.state.current_app_dir()
            if release is None:
                reply("failed no current release")
                return
            processes = runnable(release)
            if only is not None and only not in processes:
                reply(f"failed {release.parent.name} declares no process type {only!r}")
                return
            if only in (None, "web") and not self._restart_web(release, processes, reply):
                return
            if only != "web":
                self._replace_others(release, processes, only)
            self.record()
            restarted = only or ", ".join(processes)
            reply(f"ok restarted {restarted} from {release.parent.name}")

    def _restart_web(self, release: Path, processes: dict[str, str], reply: _Reply) -> bool:
        """Swap, start or stop the web process for the new release; False if the old one must stay."""
        old_web = next((c for c in self.children if c.kind == "web"), None)
        if "web" in processes and old_web is not None:
            return self._switch_web(release, processes, reply)
        if old_web is not None:
            reply(f"info the new release declares no web process; stopping web (pid {old_web.proc.pid})")
            stop_children([old_web])
            self.children.remove(old_web)
        elif "web" in processes:
            port = free_port()
            if self.proxy is None:
                self.proxy = Proxy(self.host, self.port, port)
                self.say(f"web is served on http://{self.host}:{self.port}/")
            self.proxy.backend = port
            self.children.append(self._spawn("web", processes["web"], release, port))
            reply(f"info started web, declared by the new release, on http://{self.host}:{self.port}/")
        return True

    def _switch_web(self, release: Path, processes: dict[str, str], reply: _Reply) -> bool:
        assert self.proxy is not None
        old = next(c for c in self.children if c.kind == "web")
        port = free_port()
        reply(f"info starting the new web process on port {port}")
        new = self._spawn("web", processes["web"], release, port)
        if not accepts(port, new.proc, self.boot_timeout):
            new.retiring = True
            stop_children([new])
            self.say(f"the new web process did not accept connections within {self.boot_timeout:g} s")
            reply(
                f"failed the new web process did not accept connections on port {port} within "
                f"{self.boot_timeout:g} s; the old web process (pid {old.proc.pid}) keeps serving"
            )
            return False
        self.proxy.backend = port
        reply(f"info the new web process accepts connections; stopping the old one (pid {old.proc.pid})")
        old.retiring = True
        if not self.proxy.drain(old.port, DRAIN):
            reply(f"info requests to the old web process still open after {DRAIN:g} s are cut")
        self.children.append(new)
        stop_children([old])
        self.children.remove(old)
        return True

    def _replace_others(self, release: Path, processes: dict[str, str], only: str | None = None) -> None:
        olds = [c for c in self.children if c.kind != "web" and only in (None, c.kind)]
        for child in olds:
            child.retiring = True
        stop_children(olds)
        for child in olds:
            self.children.remove(child)
        ports = self._ports(processes)
        for kind, command in processes.items():
            if kind != "web" and only in (None, kind):
                self.children.append(self._spawn(kind, command, release, ports[kind]))


def _replier(conn: socket.socket) -> _Reply:
    def reply(text: str) -> None:
        conn.sendall(text.encode("utf-8") + b"\n")

    return reply


def runnable(app_dir: Path) -> dict[str, str]:
    """The process types `start` runs: all but `release` (which runs once, before a release is current)."""
    return {kind: cmd for kind, cmd in runner.process_types(app_dir).items() if kind != "release"}


def stop_children(children: list[Child]) -> None:
    """Stop every process group at once (SIGTERM, SIGKILL after GRACE seconds) and wait for them."""
    for child in children:
        child.retiring = True
    stoppers = [threading.Thread(target=run.stop_group, args=(c.proc, GRACE)) for c in children]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    for child in children:
        if child.pump is not None:
            child.pump.join(timeout=5)


def running(state: AppState) -> dict[str, Any] | None:
    """What a running `pybuildpack start` of the app recorded (supervisor.json), or None."""
    try:
        data = json.loads((state.root / INFO).read_text(encoding="utf-8"))
        pid = int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(data, dict) or not pids.alive(pid):
        return None
    return data


def notify_restart(state: AppState, console: Console, only: str | None = None) -> bool | None:
    """Ask a running `pybuildpack start` of the app to restart (every process, or type ``only``) on
    the current release, and report how it went: None when none runs, else whether it succeeded."""
    info = running(state)
    if info is None:
        return None
    pid, path = info["pid"], str(info["socket"])
    console.step(f"Restarting the processes of `pybuildpack start {state.name}` (pid {pid})")
    succeeded = True
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(600)
            conn.connect(path)
            conn.sendall(b"restart" + (f" {only}".encode() if only else b"") + b"\n")
            with conn.makefile("r", encoding="utf-8") as replies:
                for line in replies:
                    succeeded = _show_reply(line.rstrip("\n"), console) and succeeded
    except OSError as exc:
        console.warning("The running processes could not be restarted.", f"{exc}")
        return False
    return succeeded


def _show_reply(line: str, console: Console) -> bool:
    kind, _, text = line.partition(" ")
    if kind == "failed":
        console.warning("The running processes were not restarted.", text)
        return False
    console.info(text)
    return True
