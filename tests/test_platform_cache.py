"""Builds with this buildpack on the local platform: the slug size (in the log, and compressed, after the
build), and `build --no-cache`."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
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


@dataclass
class Runs:
    builds: list[subprocess.CompletedProcess[str]]
    listings: list[subprocess.CompletedProcess[str]]  # `releases` after the first and second build


@pytest.fixture(scope="module")
def runs(env: dict[str, str], app: Path) -> Runs:
    """Three builds of one app: cold, warm, and warm with --no-cache; `releases` after the first two."""
    found = Runs([], [])
    for extra in ([], [], ["--no-cache"]):
        found.builds.append(ok(cli("build", str(app), "--app", "cached", *extra, env=env)))
        if len(found.listings) < 2:
            found.listings.append(ok(cli("releases", "cached", env=env)))
    return found


def release(env: dict[str, str], number: int) -> dict[str, object]:
    path = Path(env["PYBUILDPACK_STATE_DIR"]) / "apps" / "cached" / "releases" / f"v{number}" / "release.json"
    data: dict[str, object] = json.loads(path.read_text())
    return data


SIZE_LINE = re.compile(r"^-----> Slug size: ([0-9.]+) MB$", re.M)
ESTIMATED = re.compile(
    r"v([0-9]+): about ([0-9.]+) MB compressed, estimated in [0-9.]+ s "
    r"\(compressing the ([0-9]+) new or changed of ([0-9]+) files\)"
)


def test_the_compressed_size_is_estimated_after_the_build_and_remembered(
    env: dict[str, str], runs: Runs, tmp_path: Path
) -> None:
    """The build shows the size on disk and does not wait for the compressed size; the first
    `releases` estimates it, once, into the record; `slug export` records the exact size."""
    match = SIZE_LINE.search(runs.builds[0].stdout)
    assert match, runs.builds[0].stdout
    assert "compressed" not in runs.builds[0].stdout
    estimated = ESTIMATED.search(runs.listings[0].stderr)
    assert estimated and estimated[1] == "1", runs.listings[0].stderr
    assert float(estimated[2]) < float(match[1])
    record = release(env, 1)
    estimate = record["slug_compressed_size_estimate"]
    assert isinstance(estimate, int) and isinstance(record["slug_size"], int)
    assert f"{estimate / 1024 / 1024:.1f}" == estimated[2]
    assert isinstance(record["durations"], dict) and "slug_size" in record["durations"]
    listing = runs.listings[0].stdout.splitlines()
    assert listing[0].split()[4:7] == ["SIZE", "COMPRESSED", "BUILD"]
    assert f"about {estimated[2]} MB" in listing[1]
    # Known now: the next listing estimates nothing for v1.
    assert not [line for line in ESTIMATED.findall(runs.listings[1].stderr) if line[0] == "1"]
    # Close to the size of the tar.gz `slug export` writes, and not below it; the export's own size
    # is recorded and shown from then on.
    ok(cli("slug", "export", "cached", "--release", "1", "-o", str(tmp_path / "v1.tar.gz"), env=env))
    exported = (tmp_path / "v1.tar.gz").stat().st_size
    assert exported <= estimate < exported * 1.08, (exported, estimate)
    assert release(env, 1)["slug_compressed_size"] == exported
    shown = ok(cli("releases", "cached", env=env))
    assert [found[0] for found in ESTIMATED.findall(shown.stderr)] == ["3"]  # only v3 had none yet
    v1 = next(line for line in shown.stdout.splitlines() if line.split()[:1] == ["v1"])
    assert f" {exported / 1024 / 1024:.1f} MB " in v1 and "about" not in v1


def test_the_estimate_after_a_warm_build_compresses_only_what_changed(runs: Runs) -> None:
    cold, warm = (ESTIMATED.search(listing.stderr) for listing in runs.listings)
    assert cold and warm
    assert (cold[1], warm[1]) == ("1", "2")
    assert cold[3] == cold[4] and int(cold[4]) > 1000  # every file of the environment, once
    assert int(warm[3]) < 20 and warm[4] == cold[4]  # the environment was hard-linked from the cache


def test_a_warm_build_reuses_the_cache(runs: Runs) -> None:
    assert "Installing Python" in runs.builds[0].stdout
    warm = runs.builds[1].stdout
    assert "Installing Python" not in warm and "Discarding cache" not in warm
    assert "--no-cache" not in warm


def test_no_cache_discards_the_cache_and_reinstalls(env: dict[str, str], runs: Runs) -> None:
    log = runs.builds[2].stdout
    assert "--no-cache: the build starts from an empty cache (PYBUILDPACK_CLEAR_CACHE=1)" in log
    discarding = log.index("-----> Discarding cache since:")
    assert "PYBUILDPACK_CLEAR_CACHE is set" in log[discarding:]
    assert log.index("Installing Python") > discarding
    assert "-----> Released v3 (build " in log
    # an operator setting, not a config var of the app
    assert release(env, 3)["config_vars"] == []


def test_a_second_app_takes_its_tools_from_the_host_wide_store(
    env: dict[str, str], app: Path, runs: Runs
) -> None:
    """Issue 11: the local platform keeps installed tools in the user's cache dir for every app."""
    assert "Installing uv" in runs.builds[0].stdout
    log = ok(cli("build", str(app), "--app", "second", env=env)).stdout
    assert "Installing uv" not in log
    store = Path(env["HOME"]) / ".cache" / "pybuildpack" / "tools"
    assert f"Using uv 0.13.9 from the tool store ({store})" in log
