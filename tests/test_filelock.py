"""The one file lock: exclusive between holders, a waiter told once, a clear error after the timeout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pybuildpack.filelock import LockTimeout, exclusive

SRC = Path(__file__).resolve().parents[1] / "src"


def test_a_second_holder_times_out_with_the_lock_file_named(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "lock"
    waits: list[str] = []
    with (
        exclusive(lock, what="the thing"),
        pytest.raises(LockTimeout) as raised,
        exclusive(lock, what="the thing", timeout=0.3, on_wait=lambda: waits.append("waiting")),
    ):
        pytest.fail("the lock was taken twice")
    assert waits == ["waiting"]
    assert raised.value.headline == "Another process has held the lock of the thing for more than 0 s."
    assert str(lock) in raised.value.explanation
    assert raised.value.failure_reason == "lock::timeout"
    with exclusive(lock, what="the thing", timeout=0.3):  # released on exit, and reusable
        pass


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]); from pathlib import Path\n"
            "from pybuildpack.filelock import exclusive\n"
            "with exclusive(Path(sys.argv[2]), what='x'):\n"
            "    print('held', flush=True); time.sleep(600)",
            str(SRC),
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(LockTimeout), exclusive(lock, what="x", timeout=0.2):
        pass
    holder.kill()
    holder.wait(timeout=30)
    holder.stdout.close()
    with exclusive(lock, what="x", timeout=30):
        pass
