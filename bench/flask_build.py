"""Cold and warm build times of examples/flask-app through `pybuildpack build`.

Usage: python bench/flask_build.py [--runs N] [--manifest PATH_OR_URL]

Without --manifest the CLI picks its runtime source as usual (the default mirror, or a local CPython
packed on first use; that packing is done once before timing starts). The package index is the one
the machine's pip configuration names. Each run builds into a fresh output dir: "cold" with an empty
cache dir, "warm" right after with the cache the cold build left. Prints the median of N runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "flask-app"


def build(output: Path, cache: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pybuildpack",
            "build",
            str(EXAMPLE),
            "--output",
            str(output),
            "--cache-dir",
            str(cache),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--manifest")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    if args.manifest:
        env["PYBUILDPACK_RUNTIME_MANIFEST"] = args.manifest
    cold, warm = [], []
    with tempfile.TemporaryDirectory(prefix="pybuildpack-bench-") as tmp:
        work = Path(tmp)
        build(work / "prime", work / "prime-cache", env)  # packs a local runtime once, if needed
        for run in range(args.runs):
            cache = work / f"cache-{run}"
            cold.append(build(work / f"cold-{run}", cache, env))
            warm.append(build(work / f"warm-{run}", cache, env))
    print(
        f"flask example, {args.runs} runs: cold median {statistics.median(cold):.1f} s "
        f"(runs: {', '.join(f'{t:.1f}' for t in cold)}); "
        f"warm median {statistics.median(warm):.1f} s (runs: {', '.join(f'{t:.1f}' for t in warm)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
