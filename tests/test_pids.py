"""pids.alive: the one liveness check of the deploy-key cleanup, the git hook and the supervisor."""

from __future__ import annotations

import os
import subprocess
import sys

from pybuildpack import pids


def test_running_reaped_zombie_and_group_ids() -> None:
    assert pids.alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped: a zombie
    assert not pids.alive(child.pid)
    child.wait()
    assert not pids.alive(child.pid)
    assert not pids.alive(0) and not pids.alive(-1)
