"""Private mount namespaces for tests that hide the host's Pythons or put a directory on a small tmpfs
(`unshare -m`; root on Linux). Tests skip, saying why, where they cannot be had."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# Hide every python3 of the host inside the namespace, then run the command given as arguments.
HIDE_PYTHONS = """set -e
for python in /usr/bin/python3* /usr/local/bin/python3*; do
    case "$python" in *-config) continue ;; esac
    [ -e "$python" ] && [ ! -L "$python" ] && mount --bind /dev/null "$python"
done
exec "$@"
"""


def require_private_mounts(why: str) -> None:
    """Skip the test unless `unshare -m` works here."""
    if shutil.which("unshare") is None or (
        subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False).returncode != 0
    ):
        pytest.skip(f"unshare -m (a private mount namespace) is not available {why}")


def hiding_pythons(directory: Path) -> list[str]:
    """The command prefix that runs a command with every host python3 hidden."""
    require_private_mounts("to hide the host's Pythons")
    script = directory / "hide-pythons.sh"
    script.write_text(HIDE_PYTHONS)
    return ["unshare", "-m", "sh", str(script)]
