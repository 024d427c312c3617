"""The one gateway for subprocesses.

Every command the buildpack runs goes through here: an explicit environment (never the accidental
one), no usable stdin (an interactive prompt fails instead of hanging), output merged and streamed
through the console's indenter, and the exit status returned as data. Every child is started by
``_popen`` (``replace_process`` execs instead).

With the setting PYBUILDPACK_DEBUG=1 (an app config var or the operator's env) inside
``debug_logging``, each command line is logged before it runs and its exit status and duration after,
as indented lines, with URL credentials and config var values masked. Without it the log is unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pybuildpack.env import is_enabled, mask_secrets, mask_url
from pybuildpack.output import Console

LineFilter = Callable[[str], "str | None"]
DEBUG_SETTING = "PYBUILDPACK_DEBUG"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")


@dataclass(frozen=True)
class _DebugLog:
    console: Console
    config: Mapping[str, str]

    def line(self, text: str) -> None:
        masked = mask_secrets(_URL.sub(lambda found: mask_url(found[0]), text), self.config)
        self.console.tool_line("[debug] " + masked.replace("\r", "\\r").replace("\n", "\\n"))


_debug: _DebugLog | None = None


@contextlib.contextmanager
def debug_logging(console: Console, config: Mapping[str, str], environ: Mapping[str, str]) -> Iterator[None]:
    """Log the commands run inside the block to ``console`` when PYBUILDPACK_DEBUG is enabled."""
    global _debug  # noqa: PLW0603 (the gateway's one switch, set by the face for one build)
    previous = _debug
    if is_enabled(DEBUG_SETTING, config, environ):
        _debug = _DebugLog(console, dict(config))
    try:
        yield
    finally:
        _debug = previous


def _log_start(cmd: Sequence[str | Path], cwd: Path | None) -> float:
    if _debug is not None:
        where = f"  (in {cwd})" if cwd is not None else ""
        _debug.line(f"$ {display(cmd)}{where}")
    return time.monotonic()


def _log_end(cmd: Sequence[str | Path], started: float, returncode: int) -> int:
    if _debug is not None:
        seconds = time.monotonic() - started
        _debug.line(f"exit {returncode} after {seconds:.2f} s: {display(cmd[:1])}")
    return returncode


def _popen(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path | None,
    stdout: int | IO[Any] | None,
    stderr: int | IO[Any] | None,
    new_session: bool = False,
) -> tuple[subprocess.Popen[bytes], float]:
    """Start a child with an explicit environment and no stdin; returns it and its start time."""
    started = _log_start(cmd, cwd)
    proc = subprocess.Popen(
        [str(part) for part in cmd],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=new_session,
    )
    return proc, started


def _communicate(
    proc: subprocess.Popen[bytes], timeout: float | None = None
) -> tuple[bytes | None, bytes | None]:
    """Wait for a child and collect its pipes; the child is killed if the wait is interrupted."""
    try:
        return proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()  # not communicate(): a grandchild may keep the pipes open
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        raise


@dataclass(frozen=True)
class Result:
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def display(cmd: Sequence[str | Path]) -> str:
    return shlex.join(str(part) for part in cmd)


def stream(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    console: Console,
    cwd: Path | None = None,
    line_filter: LineFilter | None = None,
) -> Result:
    """Run a command, streaming its merged stdout/stderr as indented tool output."""
    kept: list[str] = []
    try:
        proc, started = _popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        message = f"could not start {display(cmd)}: {exc.strerror or exc}"
        console.tool_line(message)
        return Result(127, message)
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line_filter is not None:
                filtered = line_filter(line)
                if filtered is None:
                    continue
                line = filtered
            kept.append(line)
            console.tool_line(line)
    return Result(_log_end(cmd, started, proc.wait()), "\n".join(kept))


def capture(
    cmd: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float | None = 120,
) -> Result:
    """Run a command quietly and return its merged output (for queries, not for build steps)."""
    try:
        proc, started = _popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:
        return Result(127, f"could not start {display(cmd)}: {exc.strerror or exc}")
    try:
        output, _ = _communicate(proc, timeout)
    except subprocess.TimeoutExpired:
        _log_end(cmd, started, 124)
        return Result(124, f"{display(cmd)} timed out after {timeout} s")
    return Result(_log_end(cmd, started, proc.returncode), (output or b"").decode("utf-8", "replace"))


def passthrough(cmd: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path | None = None) -> int:
    """Run a command with our own stdout/stderr (the log of a whole buildpack run), no stdin."""
    try:
        proc, started = _popen(cmd, env=env, cwd=cwd, stdout=None, stderr=None)
    except OSError as exc:
        print(f"could not start {display(cmd)}: {exc.strerror or exc}", flush=True)
        return 127
    _communicate(proc)
    return _log_end(cmd, started, proc.returncode)


def replace_process(cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
    """exec: the command takes over this process, so signals reach it directly."""
    _log_start(cmd, cwd)
    os.chdir(cwd)
    os.execvpe(cmd[0], list(cmd), dict(env))


def spawn_group(
    cmd: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path, merged_output: bool = True
) -> subprocess.Popen[bytes]:
    """Start a supervised child in its own process group (session), stdin closed.

    With ``merged_output`` its stdout and stderr come back merged through ``proc.stdout``; otherwise
    they are this process's. Stop it with ``stop_group``. Raises OSError when it cannot start.
    """
    proc, _ = _popen(
        cmd,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE if merged_output else None,
        stderr=subprocess.STDOUT if merged_output else None,
        new_session=True,
    )
    return proc


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM the child's process group and wait for every member to exit (a shell's children
    included); SIGKILL what is left after ``timeout`` s. Returns the child's exit status."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not group_alive(proc.pid):
            return proc.returncode
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def group_alive(pgid: int) -> bool:
    """Does any live (non-zombie) process belong to process group ``pgid``?"""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and fields[2] == str(pgid):
            return True
    return False


def to_file(
    cmd: Sequence[str | Path], *, env: Mapping[str, str], output: Path, cwd: Path | None = None
) -> Result:
    """Run a command with its stdout written to ``output`` (binary); stderr is returned as the output."""
    try:
        with output.open("wb") as handle:
            proc, started = _popen(cmd, env=env, cwd=cwd, stdout=handle, stderr=subprocess.PIPE)
            _, errors = _communicate(proc)
    except OSError as exc:
        return Result(127, f"could not start {display(cmd)}: {exc.strerror or exc}")
    return Result(_log_end(cmd, started, proc.returncode), (errors or b"").decode("utf-8", "replace"))


class Background:
    """A quiet command running while the build does something else; its output goes to a temp file."""

    def __init__(self, cmd: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.cmd = [str(part) for part in cmd]
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by wait or cancel)
        try:
            self._proc: subprocess.Popen[bytes] | None
            self._proc, self._started = _popen(
                self.cmd, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
            )
            self._error = ""
        except OSError as exc:
            self._proc = None
            self._error = f"could not start {display(cmd)}: {exc.strerror or exc}"

    def wait(self, timeout: float | None = 900) -> Result:
        if self._proc is None:
            return Result(127, self._error)
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            code = 124
        _log_end(self.cmd, self._started, code)
        self._log.seek(0)
        output = self._log.read().decode("utf-8", "replace")
        self._log.close()
        return Result(code, output)

    def cancel(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._log.close()
