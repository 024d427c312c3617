"""Cold and warm builds of examples/flask-app: the CNB face (through the tests' lifecycle emulator)
next to the classic face (bin/compile).

Usage: python bench/cnb_bench.py [--runs 5]

The runtime mirror is packed from the local pyenv interpreters and the packages come from a local
index on 127.0.0.1 (filled once from the configured index), as in the tests. "cold" starts with an
empty cache (classic CACHE_DIR, or no restored layers); "warm" rebuilds right after with what the
cold build left. Each figure is the median wall time of N runs of bin/compile or bin/build alone
(the emulator's restore and export, which a lifecycle does outside the buildpack, are not counted).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from support.buildpack import make_build_env, run_script  # noqa: E402
from support.cachedir import cache_root  # noqa: E402
from support.index import prepare_index, serve_index  # noqa: E402
from support.lifecycle import Lifecycle  # noqa: E402
from support.mirror import find_interpreters, prepare_mirror  # noqa: E402

EXAMPLE = REPO / "examples" / "flask-app"


def classic_pair(work: Path, env: dict[str, str]) -> tuple[float, float]:
    cache = work / "cache"
    work.mkdir(parents=True, exist_ok=True)
    times = []
    for number in (1, 2):
        build = work / f"build{number}"
        subprocess.run(["cp", "-r", str(EXAMPLE), str(build)], check=True)
        started = time.monotonic()
        proc = run_script("compile", build, cache, work.parent / "env", env=env)
        times.append(time.monotonic() - started)
        if proc.returncode != 0:
            raise SystemExit(f"classic build failed:\n{proc.stdout}\n{proc.stderr}")
    return times[0], times[1]


def cnb_pair(work: Path, env: dict[str, str]) -> tuple[float, float, float]:
    platform = Lifecycle(work / "cnb", env=env)
    times = []
    detect = 0.0
    for _ in (1, 2):
        platform.use_app(EXAMPLE)
        started = time.monotonic()
        _phase, plan = platform.detect()
        detect = time.monotonic() - started
        assert plan is not None
        phase = platform.build(plan)  # restore, bin/build, export: only bin/build is timed
        times.append(phase.seconds)
        if phase.returncode != 0:
            raise SystemExit(f"CNB build failed:\n{phase.stdout}\n{phase.stderr}")
    return times[0], times[1], detect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    mirror = prepare_mirror(cache_root(), find_interpreters(majors=("3.12",)))
    keys = ("classic cold", "classic warm", "cnb cold", "cnb warm")
    results: dict[str, list[float]] = {key: [] for key in keys}
    with serve_index(prepare_index()) as index:
        for _run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="cnb-bench-") as scratch:
                work = Path(scratch)
                env = make_build_env(work / "home", index_url=index.url, manifest=mirror.manifest)
                (work / "env").mkdir()
                cold, warm = classic_pair(work / "classic", env)
                results["classic cold"].append(cold)
                results["classic warm"].append(warm)
                cold, warm, _detect = cnb_pair(work, env)
                results["cnb cold"].append(cold)
                results["cnb warm"].append(warm)
    print(f"| build | median of {args.runs} (s) | min (s) |")
    print("|---|---|---|")
    for key, values in results.items():
        print(f"| {key} | {statistics.median(values):.2f} | {min(values):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
