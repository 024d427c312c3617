"""A longer fuzz run of the parsers of app files: the properties of tests/test_fuzz.py with many more
examples and a fresh random seed each run (printed, so a finding can be replayed).

Usage: python bench/fuzz_parsers.py [--examples 5000] [--seed N] [--only version_files,procfile]

The properties (tests/support/fuzz.py): no exception other than BuildError, an error block that fits
on a screen, nothing read from outside the app. Exits non-zero when a property fails.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "src")]

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from support import fuzz  # noqa: E402

VERSION_FILES = st.sampled_from([".python-version", "runtime.txt"])
LINKS = st.one_of(st.none(), st.sampled_from(fuzz.LINK_TARGETS))


def _tree(tree: tuple[dict[str, bytes], dict[str, str]]) -> None:
    fuzz.check_requirements(*tree)


PARSERS: dict[str, tuple[Callable[..., None], tuple[Any, ...]]] = {
    "version_files": (fuzz.check_version_file, (VERSION_FILES, fuzz.version_file_bytes, LINKS)),
    "pipfile_lock": (fuzz.check_pipfile_lock, (fuzz.pipfile_lock_bytes,)),
    "pyproject_toml": (fuzz.check_pyproject, (fuzz.pyproject_bytes, LINKS)),
    "requirements_includes": (_tree, (fuzz.requirements_trees,)),
    "procfile": (fuzz.check_procfile, (fuzz.procfile_bytes,)),
    "runtime_manifest": (fuzz.check_manifest, (fuzz.manifest_bytes,)),
    "env_dir_values": (fuzz.check_env_dir, (fuzz.env_dirs,)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="examples per parser")
    parser.add_argument("--seed", type=int, default=None, help="replay a run")
    parser.add_argument("--only", default="", help="comma-separated parser names")
    args = parser.parse_args()
    chosen = [name for name in PARSERS if not args.only or name in args.only.split(",")]
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {run_seed}, {args.examples} examples per parser")
    failed = 0
    for name in chosen:
        check, strategies = PARSERS[name]
        test = settings(
            max_examples=args.examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )(seed(run_seed)(given(*strategies)(check)))
        started = time.monotonic()
        try:
            test()
            status = "ok"
        except Exception as exc:  # report every parser, then fail
            status = f"FAILED: {type(exc).__name__}: {str(exc)[:500]}"
            failed += 1
        print(f"{name:24} {time.monotonic() - started:7.1f} s  {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
