"""Builds with this buildpack on the local platform: the slug size in the log, and `build --no-cache`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from support.index import PackageIndex
from support.mirror import RuntimeMirror
from support.platform import cli, ok, platform_env


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, package_index: PackageIndex, runtime_mirror: RuntimeMirror
) -> dict[str, str]:
    return platform_env(tmp_path_factory.mktemp("platform-cache"), package_index, runtime_mirror)


@pytest.fixture(scope="module")
def app(env: dict[str, str]) -> Path:
    source = Path(env["PYBUILDPACK_STATE_DIR"]).parent / "src" / "cached"
    source.mkdir(parents=True)
    (source / ".python-version").write_text("3.12\n")
    (source / "requirements.txt").write_text("")
    (source / "Procfile").write_text("web: python -m http.server $PORT --bind 127.0.0.1\n")
    return source


@pytest.fixture(scope="module")
def builds(env: dict[str, str], app: Path) -> list[subprocess.CompletedProcess[str]]:
    """Three builds of one app: cold, warm, and warm with --no-cache."""
    return [
        ok(cli("build", str(app), "--app", "cached", env=env)),
        ok(cli("build", str(app), "--app", "cached", env=env)),
        ok(cli("build", str(app), "--app", "cached", "--no-cache", env=env)),
    ]


def release(env: dict[str, str], number: int) -> dict[str, object]:
    path = Path(env["PYBUILDPACK_STATE_DIR"]) / "apps" / "cached" / "releases" / f"v{number}" / "release.json"
    data: dict[str, object] = json.loads(path.read_text())
    return data


SIZE_LINE = re.compile(r"^-----> Slug size: ([0-9.]+) MB, about ([0-9.]+) MB compressed$", re.M)
ESTIMATED = re.compile(r"estimated in [0-9.]+ s, compressing the ([0-9]+) new or changed of ([0-9]+) files")


def test_the_log_shows_the_slug_size_and_its_estimated_compressed_size(
    env: dict[str, str], builds: list[subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    match = SIZE_LINE.search(builds[0].stdout)
    assert match, builds[0].stdout
    assert float(match[2]) < float(match[1])
    record = release(env, 1)
    estimate = record["slug_compressed_size_estimate"]
    assert isinstance(estimate, int) and isinstance(record["slug_size"], int)
    assert f"{estimate / 1024 / 1024:.1f}" == match[2]
    assert isinstance(record["durations"], dict) and "slug_size" in record["durations"]
    # Close to the size of the tar.gz `slug export` writes, and not below it.
    ok(cli("slug", "export", "cached", "--release", "1", "-o", str(tmp_path / "v1.tar.gz"), env=env))
    exported = (tmp_path / "v1.tar.gz").stat().st_size
    assert exported <= estimate < exported * 1.08, (exported, estimate)


def test_a_warm_build_compresses_only_what_changed(builds: list[subprocess.CompletedProcess[str]]) -> None:
    cold, warm = (ESTIMATED.search(build.stdout) for build in builds[:2])
    assert cold and warm
    assert cold[1] == cold[2] and int(cold[2]) > 1000  # every file of the environment, once
    assert int(warm[1]) < 20 and warm[2] == cold[2]  # the environment was hard-linked from the cache


def test_a_warm_build_reuses_the_cache(builds: list[subprocess.CompletedProcess[str]]) -> None:
    assert "Installing Python" in builds[0].stdout
    warm = builds[1].stdout
    assert "Installing Python" not in warm and "Discarding cache" not in warm
    assert "--no-cache" not in warm


def test_no_cache_discards_the_cache_and_reinstalls(
    env: dict[str, str], builds: list[subprocess.CompletedProcess[str]]
) -> None:
    log = builds[2].stdout
    assert "--no-cache: the build starts from an empty cache (PYBUILDPACK_CLEAR_CACHE=1)" in log
    discarding = log.index("-----> Discarding cache since:")
    assert "PYBUILDPACK_CLEAR_CACHE is set" in log[discarding:]
    assert log.index("Installing Python") > discarding
    assert "-----> Released v3 (build " in log
    # an operator setting, not a config var of the app
    assert release(env, 3)["config_vars"] == []


def test_a_second_app_takes_its_tools_from_the_host_wide_store(
    env: dict[str, str], app: Path, builds: list[subprocess.CompletedProcess[str]]
) -> None:
    """Issue 11: the local platform keeps installed tools in the user's cache dir for every app."""
    assert "Installing uv" in builds[0].stdout
    log = ok(cli("build", str(app), "--app", "second", env=env)).stdout
    assert "Installing uv" not in log
    store = Path(env["HOME"]) / ".cache" / "pybuildpack" / "tools"
    assert f"Using uv 0.13.9 from the tool store ({store})" in log
