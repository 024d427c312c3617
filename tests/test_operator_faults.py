"""Operator faults before and after the pipeline: an unusable CACHE_DIR or ENV_DIR is a clear error,
and a cache that cannot be saved (a full disk) fails nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from support import REPO
from support.mirror import RuntimeMirror
from support.namespaces import require_private_mounts


def small_app(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "requirements.txt").write_text("typing-extensions==4.15.0\n")
    (root / ".python-version").write_text("3.11\n")
    return root


def compile_script(
    build: Path, cache: Path, env_dir: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(REPO / "bin" / "compile"), str(build), str(cache), str(env_dir)],
        env=env, cwd=build, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def assert_clear_error(proc: subprocess.CompletedProcess[str], headline: str) -> None:
    assert proc.returncode == 1
    assert headline in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(proc.stderr.splitlines()) < 20


@pytest.mark.parametrize("in_the_way", [".", "pybuildpack"], ids=["cache-dir-is-a-file", "file-in-cache-dir"])
def test_unusable_cache_dir(tmp_path: Path, build_env: dict[str, str], in_the_way: str) -> None:
    """CACHE_DIR is a file, or holds a file where the build keeps a directory."""
    app = small_app(tmp_path / "app")
    cache = tmp_path / "cache"
    if in_the_way != ".":
        cache.mkdir()
    (cache / in_the_way).write_text("in the way")
    (tmp_path / "env").mkdir()
    proc = compile_script(app, cache, tmp_path / "env", build_env)
    assert_clear_error(proc, f"Error: The cache dir '{cache}' cannot be used.")


def test_unreadable_config_var_file(tmp_path: Path, build_env: dict[str, str]) -> None:
    app = small_app(tmp_path / "app")
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "BROKEN").symlink_to("/proc/self/mem")  # a regular file whose read fails (EIO)
    proc = compile_script(app, tmp_path / "cache", env_dir, build_env)
    assert_clear_error(proc, f"Error: The config var dir '{env_dir}' cannot be used.")
    assert "BROKEN" in proc.stderr


def test_full_disk_while_saving_the_cache_fails_nothing(
    tmp_path: Path, build_env: dict[str, str], runtime_mirror: RuntimeMirror
) -> None:
    """CACHE_DIR on a 40 MB tmpfs: the runtime archive fits, the saved environment does not."""
    if not runtime_mirror.has("3.11"):
        pytest.skip("the runtime mirror has no Python 3.11")
    require_private_mounts("to mount a small tmpfs")
    app = small_app(tmp_path / "app")
    cache = tmp_path / "cache"
    cache.mkdir()
    (tmp_path / "env").mkdir()
    builds = []
    for number in (1, 2):
        build = tmp_path / f"build{number}"
        subprocess.run(["cp", "-r", str(app), str(build)], check=True)
        builds.append(build)
    script = (
        f'mount -t tmpfs -o size=40m tmpfs "{cache}" && for build in "$@"; do '
        f'sh "{REPO}/bin/compile" "$build" "{cache}" "{tmp_path / "env"}" || exit $?; '
        'echo "=== end of build"; df -k "' + str(cache) + '" >&2; done'
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *map(str, builds)],
        # tools with pip: the uv wheel (about 38 MB unpacked) would fill the tmpfs before the save
        env={**build_env, "NO_COLOR": "1", "PYBUILDPACK_TOOLS_WITH_PIP": "1"},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, second, _ = proc.stdout.split("=== end of build")
    warning = " !     Warning: The build cache could not be saved; the next build starts without it."
    assert proc.stderr.count(warning) == 2, proc.stderr
    assert "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Saving cache" in first and "Saving cache" in second
    for build in builds:
        ran = subprocess.run(
            [str(build / ".heroku" / "python" / "bin" / "python"), "-c", "import typing_extensions"],
            env={"PATH": "/usr/bin:/bin", "HOME": str(build)}, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
    assert os.path.ismount(cache) is False  # the tmpfs lived only in the test's mount namespace


@pytest.mark.parametrize("unreadable", [".venv", "bin"])
def test_unreadable_app_directory_is_a_clear_error(unreadable: str, build_env: dict[str, str]) -> None:
    """As an unprivileged user (root reads everything): an app dir the build cannot enter."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the build as an unprivileged user")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    engine = REPO / "src" / "pybuildpack" / "engine.py"
    if subprocess.run([*nobody, "test", "-r", str(engine)], check=False).returncode != 0:
        pytest.skip(f"an unprivileged user cannot read this checkout ({REPO})")
    root = Path(tempfile.mkdtemp(prefix="pybuildpack-nobody-"))  # not under pytest's 0700 tmp dir
    try:
        app = small_app(root / "app")
        (app / unreadable).mkdir()
        (app / unreadable / "pre_compile").write_text("echo hi\n")
        for directory in ("cache", "env", "home"):
            (root / directory).mkdir()
        subprocess.run(["chown", "-R", "65534:65534", str(root)], check=True)
        root.chmod(0o755)
        (app / unreadable).chmod(0)
        proc = subprocess.run(
            [*nobody, "sh", str(REPO / "bin" / "compile"), str(app), str(root / "cache"), str(root / "env")],
            env={**build_env, "HOME": str(root / "home")}, cwd=root, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        assert_clear_error(proc, "Error: Permission denied while ")
        assert f"'{unreadable}" in proc.stderr
    finally:
        (root / "app" / unreadable).chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


def test_full_disk_during_the_build_is_a_clear_error(
    tmp_path: Path, build_env: dict[str, str], runtime_mirror: RuntimeMirror
) -> None:
    """CACHE_DIR on a 40 MB tmpfs: the uv wheel's binary (about 38 MB) does not fit next to the
    runtime archive, and the build says the disk is full instead of showing a traceback. The two are
    fetched side by side, so either write may be the one that fails: the runtime archive's (the cache
    error of the runtime download) or uv's (the engine's disk-full error)."""
    if not runtime_mirror.has("3.11"):
        pytest.skip("the runtime mirror has no Python 3.11")
    require_private_mounts("to mount a small tmpfs")
    app = small_app(tmp_path / "app")
    cache = tmp_path / "cache"
    cache.mkdir()
    (tmp_path / "env").mkdir()
    script = f'mount -t tmpfs -o size=40m tmpfs "{cache}" && exec sh "{REPO}/bin/compile" "$@"'
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(app), str(cache), str(tmp_path / "env")],
        env={**build_env, "NO_COLOR": "1"}, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert_clear_error(proc, "Error: ")
    runtime = "Cannot store the Python 3.11" in proc.stderr and "No space left on device" in proc.stderr
    assert runtime or "Error: The disk filled up while " in proc.stderr, proc.stderr
