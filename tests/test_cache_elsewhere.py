"""A build cache on another filesystem than the build (Dokku keeps it on a Docker volume), and colour
on a terminal for the local platform's builds (issue 12)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO, SRC
from support.mirror import RuntimeMirror
from support.namespaces import require_private_mounts
from support.platform import light_env, shell_buildpack, tiny_app


def test_cache_on_another_filesystem_is_restored_by_copies_and_says_so(
    tmp_path: Path, build_env: dict[str, str], runtime_mirror: RuntimeMirror
) -> None:
    """CACHE_DIR on a tmpfs (no reflinks): hard links fail, the environment is copied, the log says how."""
    if not runtime_mirror.has("3.11"):
        pytest.skip("the runtime mirror has no Python 3.11")
    require_private_mounts("to mount a tmpfs")
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("typing-extensions==4.15.0\n")
    (app / ".python-version").write_text("3.11\n")
    cache, env_dir = tmp_path / "cache", tmp_path / "env"
    cache.mkdir()
    env_dir.mkdir()
    builds = []
    for number in (1, 2):
        builds.append(tmp_path / f"build{number}")
        shutil.copytree(app, builds[-1])
    script = (
        f'mount -t tmpfs -o size=400m tmpfs "{cache}" && for build in "$@"; do '
        f'sh "{REPO}/bin/compile" "$build" "{cache}" "{env_dir}" || exit $?; echo "=== end"; done'
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *map(str, builds)],
        env=build_env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, second, _ = proc.stdout.split("=== end")
    copied = "by copying every file: the cache is on another filesystem than the build"
    assert f"The environment was saved {copied}" in first
    assert f"The environment was restored {copied}" in second
    assert "Restoring cache" in second and "Skipping the dependency install" in second
    assert "The environment was restored" not in first


def test_local_platform_builds_in_colour_on_a_terminal(tmp_path: Path) -> None:
    if shutil.which("script") is None:
        pytest.skip("script (util-linux) is needed to give the build a terminal")
    env = {**light_env(tmp_path), "PYTHONPATH": str(SRC)}
    env.pop("NO_COLOR", None)
    pack = shell_buildpack(tmp_path / "bp", "Echo", 'echo "FORCE_COLOR=${FORCE_COLOR:-unset}"\n')
    app = tiny_app(tmp_path / "app", "web: cat hello.txt\n")
    command = f"{sys.executable} -m pybuildpack build {app} --app colour --buildpack {pack}"
    on_tty = subprocess.run(
        ["script", "-qefc", command, "/dev/null"], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert on_tty.returncode == 0, on_tty.stdout + on_tty.stderr
    assert "FORCE_COLOR=1" in on_tty.stdout
    piped = subprocess.run(
        command.split(),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert "FORCE_COLOR=unset" in piped.stdout
    no_colour = subprocess.run(
        ["script", "-qefc", command, "/dev/null"], env={**env, "NO_COLOR": "1"}, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "FORCE_COLOR=unset" in no_colour.stdout
