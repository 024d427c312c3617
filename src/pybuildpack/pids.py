"""Whether a process still runs: the one answer the build (deploy-key leftovers), the git hook and the
local platform's supervisor share."""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Is process ``pid`` alive (a zombie, waiting for its parent to reap it, is not)?"""
    if pid <= 0:  # kill(0) and kill(-n) would ask about process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # no /proc: kill(0) is all there is to go by
    return not stat[stat.rfind(")") + 2 :].startswith("Z")
