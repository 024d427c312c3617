"""exec_form: a single Procfile command replaces the shell (dash forks even for the last command), so a
signal sent to the process `run` or `start` started reaches the program itself."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from pybuildpack.platform.runner import exec_form


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("gunicorn app:app", "exec gunicorn app:app"),
        ('A=1 B="x y" gunicorn app:app', 'A=1 B="x y" exec gunicorn app:app'),
        ("gunicorn app:app 2>&1 >log", "exec gunicorn app:app 2>&1 >log"),
        ("python -c 'import a; a.b()'", "exec python -c 'import a; a.b()'"),
        ("exec gunicorn app:app", "exec gunicorn app:app"),
        ("migrate && gunicorn app:app", "migrate && gunicorn app:app"),
        ("a; b", "a; b"),
        ("a | b", "a | b"),
        ("a &", "a &"),
        ("(cd x && y)", "(cd x && y)"),
        ("if true; then y; fi", "if true; then y; fi"),
        ("gunicorn $(cat args)", "gunicorn $(cat args)"),
        ("A=1", "A=1"),
        ("a\nb", "a\nb"),
        ('bad "quote', 'bad "quote'),
    ],
)
def test_exec_form(command: str, expected: str) -> None:
    assert exec_form(command) == expected


def test_the_shell_is_replaced_by_the_program(tmp_path: Path) -> None:
    """The pid `sh -c` started is the program's, with the assignments in its environment."""
    proc = subprocess.Popen(["sh", "-c", exec_form("MARK=on sleep 300")], cwd=tmp_path)
    try:
        for _ in range(500):  # until sh has exec'd (its cmdline changes)
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
            if cmdline[0] == b"sleep":
                break
            time.sleep(0.01)
        assert cmdline[:2] == [b"sleep", b"300"]
        assert b"MARK=on" in Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == -15  # the SIGTERM reached sleep itself
