"""Build-cache benchmark: cold, warm no-op, one requirement added, one removed, Python minor changed.

Usage: python bench/cache_bench.py [--runs 5] [--apps flask,django,heavy] [--markdown]

Everything comes from this machine: the runtime mirror is packed from the local pyenv interpreters and
the packages are served by a local index on 127.0.0.1 (filled once from the configured index), as in
the test suite, so no network noise enters the numbers. Each scenario runs `bin/compile` on a fresh
build dir; timings are the median of N runs: wall time, CPU time of the whole build (engine plus the
tools it runs), the engine's own peak RSS, and the slug size (the build dir). The floor of the warm
no-op is `cp -al` of the built environment plus hashing the dependency inputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.cachedir import cache_root  # noqa: E402
from support.index import prepare_index, serve_index  # noqa: E402
from support.mirror import find_interpreters, prepare_mirror  # noqa: E402

APPS: dict[str, list[str]] = {
    "flask": ["flask==3.1.3", "gunicorn==27.0.1"],
    "django": [
        "django==5.2.19",
        "gunicorn==27.0.1",
        "djangorestframework==3.16.1",
        "django-cors-headers==4.9.0",
        "whitenoise==6.11.0",
        "dj-database-url==3.0.1",
        "psycopg2-binary==2.9.11",
        "python-dotenv==1.2.1",
        "requests==2.34.2",
        "celery==5.5.3",
        "redis==7.0.1",
        "sentry-sdk==2.43.0",
    ],
    "heavy": ["numpy==2.2.6", "pandas==2.3.3", "gunicorn==27.0.1"],
}
ADDED = "six==1.17.0"


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    slug_mb: float


def compile_once(app: Path, work: Path, cache: Path, env: dict[str, str]) -> Sample:
    build = Path(tempfile.mkdtemp(prefix="build-", dir=work))
    shutil.rmtree(build)
    shutil.copytree(app, build)
    env_dir = work / "env"
    env_dir.mkdir(exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(
        ["sh", str(REPO / "bin" / "compile"), str(build), str(cache), str(env_dir)],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"build of {app.name} failed:\n{proc.stdout}\n{proc.stderr}")
    data = json.loads((cache / "build-data" / "python.json").read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    slug = sum(p.lstat().st_size for p in build.rglob("*") if p.is_file() and not p.is_symlink())
    shutil.rmtree(build)
    return Sample(wall, cpu, data.get("engine_max_rss_kb", 0) / 1024, slug / 1e6)


def floor(app: Path, work: Path, cache: Path) -> float:
    """cp -al of the cached environment plus hashing the dependency inputs."""
    target = work / "floor"
    started = time.monotonic()
    subprocess.run(["cp", "-al", str(cache / "pybuildpack" / "env" / "python"), str(target)], check=True)
    for name in ("requirements.txt", ".python-version"):
        hashlib.sha256((app / name).read_bytes()).hexdigest()
    elapsed = time.monotonic() - started
    shutil.rmtree(target)
    return elapsed


def write_app(app: Path, requirements: list[str], python: str) -> None:
    app.mkdir(parents=True, exist_ok=True)
    (app / ".python-version").write_text(f"{python}\n")
    (app / "requirements.txt").write_text("\n".join(requirements) + "\n")


def scenarios(
    name: str, base: Path, env: dict[str, str], runs: int, majors: tuple[str, str]
) -> dict[str, object]:
    results: dict[str, list[Sample]] = {k: [] for k in ("cold", "warm", "added", "removed", "python")}
    floors = []
    for run in range(runs):
        work = base / f"{name}-{run}"
        work.mkdir()
        app, cache = work / "app", work / "cache"
        write_app(app, APPS[name], majors[0])
        results["cold"].append(compile_once(app, work, cache, env))
        results["warm"].append(compile_once(app, work, cache, env))
        floors.append(floor(app, work, cache))
        write_app(app, [*APPS[name], ADDED], majors[0])
        results["added"].append(compile_once(app, work, cache, env))
        write_app(app, APPS[name], majors[0])
        results["removed"].append(compile_once(app, work, cache, env))
        write_app(app, APPS[name], majors[1])
        results["python"].append(compile_once(app, work, cache, env))
        shutil.rmtree(work)
    summary: dict[str, object] = {"floor": statistics.median(floors)}
    for key, samples in results.items():
        summary[key] = {
            "wall": statistics.median(s.wall for s in samples),
            "cpu": statistics.median(s.cpu for s in samples),
            "rss_mb": max(s.rss_mb for s in samples),
            "slug_mb": statistics.median(s.slug_mb for s in samples),
        }
    return summary


def markdown(all_results: dict[str, dict[str, object]], runs: int) -> str:
    lines = [
        f"| app | scenario | wall (median of {runs}) | CPU | engine peak RSS | slug |",
        "|---|---|---|---|---|---|",
    ]
    for app, summary in all_results.items():
        for key in ("cold", "warm", "added", "removed", "python"):
            row = summary[key]
            assert isinstance(row, dict)
            lines.append(
                f"| {app} | {key} | {row['wall']:.2f} s | {row['cpu']:.2f} s | {row['rss_mb']:.0f} MB "
                f"| {row['slug_mb']:.0f} MB |"
            )
        floor_time = summary["floor"]
        assert isinstance(floor_time, float)
        lines.append(f"| {app} | warm floor (cp -al + hashing) | {floor_time:.2f} s | | | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--apps", default="flask,django,heavy")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    requirements = REPO / "bench" / "index-requirements.txt"
    index_root = prepare_index(requirements)
    interpreters = find_interpreters()  # the same set as the test suite, so its packed mirror is reused
    mirror = prepare_mirror(cache_root(), interpreters)
    if not (mirror.has("3.12") and mirror.has("3.13")):
        raise SystemExit("the benchmark needs CPython 3.12 and 3.13 under $(pyenv root)/versions")
    results = {}
    with serve_index(index_root) as index, tempfile.TemporaryDirectory(prefix="pybuildpack-bench-") as tmp:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "NO_COLOR": "1", "PIP_INDEX_URL": index.url,
            "PIP_CONFIG_FILE": os.devnull, "PYBUILDPACK_RUNTIME_MANIFEST": str(mirror.manifest),
            "PYBUILDPACK_EXPORT_DIR": tmp,
        }  # fmt: skip
        for name in args.apps.split(","):
            results[name] = scenarios(name, Path(tmp), env, args.runs, ("3.12", "3.13"))
    print(markdown(results, args.runs) if args.markdown else json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
