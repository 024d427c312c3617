"""The subprocess gateway: PYBUILDPACK_DEBUG logs each command line and its duration, masked; without
it nothing is added to the log. Real processes throughout."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from pybuildpack import run
from pybuildpack.output import Console

ENV = {"PATH": "/usr/bin:/bin"}
SECRET_URL = "https://user:hunter22@index.example.invalid/simple"


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(out=out, err=io.StringIO(), environ={}), out


def every_entry_point(cons: Console, tmp_path: Path) -> None:
    run.stream(["sh", "-c", "echo streamed; exit 3", SECRET_URL], env=ENV, console=cons, cwd=tmp_path)
    run.capture(["sh", "-c", "echo quiet", "token-value-123"], env=ENV)
    run.capture(["sleep", "30"], env=ENV, timeout=0.2)
    run.to_file(["echo", "filed"], env=ENV, output=tmp_path / "out.txt")
    run.Background(["true"], env=ENV).wait()
    proc = run.spawn_group(["sleep", "30"], env=ENV, cwd=tmp_path)
    run.stop_group(proc)
    if proc.stdout is not None:
        proc.stdout.close()
    run.capture(["/no/such/tool"], env=ENV)
    run.capture(["sh", "-c", "true\necho two lines"], env=ENV)


def test_debug_logs_each_command_its_status_and_duration_with_secrets_masked(tmp_path: Path) -> None:
    cons, out = console()
    config = {"PYBUILDPACK_DEBUG": "1", "API_TOKEN": "token-value-123"}
    with run.debug_logging(cons, config, {}):
        every_entry_point(cons, tmp_path)
    log = out.getvalue()
    lines = [line.strip() for line in log.splitlines() if "[debug]" in line]
    assert all(line.startswith("       [debug] ") for line in log.splitlines() if "[debug]" in line)
    assert lines[0] == (
        f"[debug] $ sh -c 'echo streamed; exit 3' "
        f"https://user:****@index.example.invalid/simple  (in {tmp_path})"
    )
    assert "       streamed" in log
    assert lines[1].startswith("[debug] exit 3 after ") and lines[1].endswith(" s: sh")
    assert lines[2] == "[debug] $ sh -c 'echo quiet' ****"
    assert "[debug] exit 124 after" in log and "[debug] $ echo filed" in log
    assert "[debug] $ true" in log and "[debug] exit 0 after" in log
    assert f"[debug] $ sleep 30  (in {tmp_path})" in log
    assert "[debug] $ /no/such/tool" in log  # a command that cannot start is still shown
    assert "[debug] $ sh -c 'true\\necho two lines'" in log  # one line, like every line of the log
    assert all(line.startswith("       ") for line in log.splitlines())
    assert "hunter22" not in log and "token-value-123" not in log


@pytest.mark.parametrize(
    ("config", "environ"),
    [({}, {}), ({"PYBUILDPACK_DEBUG": "0"}, {"PYBUILDPACK_DEBUG": "1"}), ({}, {"PYBUILDPACK_DEBUG": ""})],
)
def test_without_the_setting_the_log_is_unchanged(
    tmp_path: Path, config: dict[str, str], environ: dict[str, str]
) -> None:
    cons, out = console()
    with run.debug_logging(cons, config, environ):
        every_entry_point(cons, tmp_path)
    assert out.getvalue() == "       streamed\n"


def test_the_operator_env_enables_it_and_leaving_the_block_turns_it_off(tmp_path: Path) -> None:
    cons, out = console()
    with run.debug_logging(cons, {}, {"PYBUILDPACK_DEBUG": "1"}):
        run.capture([sys.executable, "-c", "pass"], env=ENV)
    run.capture([sys.executable, "-c", "pass"], env=ENV)
    assert out.getvalue().count("[debug] $ ") == 1


def test_capture_results_are_as_before(tmp_path: Path) -> None:
    assert run.capture(["sh", "-c", "echo out; echo err >&2; exit 4"], env=ENV) == run.Result(4, "out\nerr\n")
    assert run.capture(["sleep", "30"], env=ENV, timeout=0.2).returncode == 124
    assert run.capture(["/no/such/tool"], env=ENV).returncode == 127
    result = run.to_file(["sh", "-c", "echo data; echo note >&2"], env=ENV, output=tmp_path / "f")
    assert result == run.Result(0, "note\n") and (tmp_path / "f").read_text() == "data\n"
    assert run.passthrough(["sh", "-c", "exit 5"], env=ENV) == 5
