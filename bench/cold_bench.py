"""Cold-build benchmark (issue 11): cold builds per package manager, the cold-build floor, and the
warm no-op and one-requirement-added builds that must not regress.

Usage: python bench/cold_bench.py [--runs 5] [--markdown] [--repo OTHER_CHECKOUT] [--only NAME ...]

Same setup as cache_bench.py: the runtime mirror packed from the local pyenv interpreters and the
test suite's local index on 127.0.0.1 (tests/index-requirements.txt, which has the lockfile apps'
packages), so no network enters the numbers. Each "cold" build starts with an empty cache dir. The
apps: examples/flask-app (pip, and pip with PYBUILDPACK_INSTALLER=uv), the fixtures uv_basic,
poetry_basic, pipenv_basic and pip_basic (one small requirement each, so Poetry and Pipenv compare
with pip on the same dependencies), and django_staticfiles_latest_django (Django, collectstatic).
The floor of a cold build is unpacking the runtime archive plus unzipping the app's wheels (already
downloaded): what any installer must at least do. Each cold build publishes its tools to a tool store
(PYBUILDPACK_TOOL_STORE, as the local platform sets it); "2nd app" is then a cold build of the same
app with a new cache dir, as a second app on that host would have. Medians of N runs, wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.cachedir import cache_root  # noqa: E402
from support.index import PackageIndex, prepare_index, serve_index  # noqa: E402
from support.mirror import RuntimeMirror, find_interpreters, prepare_mirror  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "apps"
FLASK = REPO / "examples" / "flask-app"
DJANGO_CONFIG = {"EXPECTED_ENV_VAR": "1"}
LOCKED_INDEX = "http://127.0.0.1:18001/"  # the fixture lockfiles' index (tests/test_uv.py)
# name: (app, config vars, the app's wheels for the floor)
COLD: dict[str, tuple[Path, dict[str, str], list[str]]] = {
    "Flask, pip": (FLASK, {}, ["flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click",
                               "blinker", "gunicorn", "packaging"]),
    "Flask, uv installer": (FLASK, {"PYBUILDPACK_INSTALLER": "uv"}, []),
    "small, pip": (FIXTURES / "pip_basic", {}, ["typing_extensions"]),
    "small, uv": (FIXTURES / "uv_basic", {}, []),
    "small, Poetry": (FIXTURES / "poetry_basic", {}, []),
    "small, Pipenv": (FIXTURES / "pipenv_basic", {}, []),
    "Django, pip": (FIXTURES / "django_staticfiles_latest_django", DJANGO_CONFIG, ["django", "asgiref",
                                                                                  "sqlparse"]),
}  # fmt: skip


UNDER_TEST = [REPO]  # the checkout whose bin/compile is timed (--repo: compare with another branch)
PLATFORM = [False]  # --platform: time `pybuildpack build` (the local platform) instead of bin/compile
STEP_FIELDS = ("python_install_duration", "package_manager_install_duration", "dependencies_install_duration")


def copy_app(source: Path, target: Path, index: PackageIndex) -> None:
    shutil.copytree(source, target, symlinks=True)
    for lock in target.rglob("*.lock"):
        lock.write_text(lock.read_text().replace(LOCKED_INDEX, index.url.removesuffix("simple/")))


def compile_once(
    app: Path, work: Path, cache: Path, *, env: dict[str, str], config: dict[str, str], index: PackageIndex
) -> tuple[float, dict[str, object]]:
    build = Path(tempfile.mkdtemp(prefix="build-", dir=work))
    shutil.rmtree(build)
    copy_app(app, build, index)
    env_dir = Path(tempfile.mkdtemp(prefix="env-", dir=work))
    for name, value in config.items():
        (env_dir / name).write_text(value)
    command = ["sh", str(UNDER_TEST[0] / "bin" / "compile"), str(build), str(cache), str(env_dir)]
    if PLATFORM[0]:  # the app's state (cache, releases) lives in `cache`; config vars via --env
        env = {**env, "PYTHONPATH": str(UNDER_TEST[0] / "src"), "PYBUILDPACK_STATE_DIR": str(cache)}
        command = [sys.executable, "-m", "pybuildpack", "build", str(build), "--app", "bench"]
        command += [f"--env={name}={value}" for name, value in config.items()]
    started = time.monotonic()
    proc = subprocess.run(
        command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )  # fmt: skip
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"build of {app.name} failed:\n{proc.stdout}\n{proc.stderr}")
    report = cache / "apps" / "bench" / "cache" if PLATFORM[0] else cache
    data = json.loads((report / "build-data" / "python.json").read_text())
    shutil.rmtree(build)
    return wall, data


def floor(mirror: RuntimeMirror, python: str, wheels: list[str], index: PackageIndex, work: Path) -> float:
    """Unpack the runtime archive, then unzip the app's wheels into its site-packages."""
    entry = next(r for r in mirror.runtimes if r["version"] == python)
    archive = mirror.dir / str(entry["url"])
    target = work / "floor"
    tag = "cp" + "".join(python.split(".")[:2])
    files = [
        w for w in index.wheelhouse.glob("*.whl")
        if w.name.split("-")[0].lower() in wheels
        and ("-py3-" in w.name or f"-{tag}-" in w.name or "abi3" in w.name)
    ]  # fmt: skip
    started = time.monotonic()
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    site = next(target.rglob("site-packages"))
    for wheel in files:
        with zipfile.ZipFile(wheel) as unpack:
            unpack.extractall(site)
    elapsed = time.monotonic() - started
    shutil.rmtree(target)
    return elapsed


def version_of(app: Path) -> str:
    return (app / ".python-version").read_text().strip()


def run_all(
    runs: int,
    base_env: dict[str, str],
    mirror: RuntimeMirror,
    index: PackageIndex,
    tmp: Path,
    *,
    only: list[str],
) -> dict[str, object]:
    results: dict[str, dict[str, list[float]]] = {}

    def add(name: str, key: str, value: float) -> None:
        results.setdefault(name, {}).setdefault(key, []).append(value)

    for run in range(runs):
        for name, (app, config, wheels) in COLD.items():
            if only and name not in only:
                continue
            work = tmp / f"{run}-{name.replace(' ', '').replace(',', '-')}"
            work.mkdir()
            cache = work / "cache"
            env = {**base_env, "PYBUILDPACK_TOOL_STORE": str(work / "tools")}
            wall, data = compile_once(app, work, cache, env=env, config=config, index=index)
            add(name, "cold", wall)
            second, _ = compile_once(app, work, work / "cache2", env=env, config=config, index=index)
            add(name, "second", second)
            for field in STEP_FIELDS:
                add(name, field, float(str(data.get(field, 0.0))))
            if wheels:
                python = mirror.latest(version_of(app))
                add(name, "floor", floor(mirror, python, wheels, index, work))
            if name.startswith(("Flask", "Django")):
                add(name, "warm", compile_once(app, work, cache, env=env, config=config, index=index)[0])
            if name.startswith("Flask"):
                added = work / "added-app"
                shutil.copytree(app, added)
                (added / "requirements.txt").write_text(
                    (app / "requirements.txt").read_text() + "six==1.17.0\n"
                )
                add(name, "added", compile_once(added, work, cache, env=env, config=config, index=index)[0])
            shutil.rmtree(work)
    return {name: {k: statistics.median(v) for k, v in fields.items()} for name, fields in results.items()}


def seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, float) else ""


def markdown(results: dict[str, object], runs: int) -> str:
    lines = [
        "| app, manager | cold | steps: Python / tool / dependencies | floor | cold ÷ floor | 2nd app cold "
        "| warm no-op | +1 requirement |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        assert isinstance(row, dict)
        floor_time = row.get("floor")
        ratio = f"{row['cold'] / floor_time:.1f}" if floor_time else ""
        steps = " / ".join(f"{row[k]:.1f}" for k in STEP_FIELDS)
        cells = [f"{row['cold']:.2f} s", f"{steps} s", seconds(floor_time), ratio, seconds(row.get("second"))]
        cells += [seconds(row.get("warm")), seconds(row.get("added"))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(f"\nMedians of {runs} runs.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--repo", type=Path, default=REPO, help="time this checkout's bin/compile")
    parser.add_argument(
        "--only", action="append", default=[], choices=list(COLD), metavar="NAME",
        help=f"run only this app (repeatable): {'; '.join(COLD)}",
    )  # fmt: skip
    parser.add_argument("--platform", action="store_true", help="time `pybuildpack build` instead")
    args = parser.parse_args()
    UNDER_TEST[0] = args.repo.resolve()
    PLATFORM[0] = args.platform
    index_root = prepare_index()
    mirror = prepare_mirror(cache_root(), find_interpreters())
    if not (mirror.has("3.12") and mirror.has("3.13")):
        raise SystemExit("the benchmark needs CPython 3.12 and 3.13 under $(pyenv root)/versions")
    with serve_index(index_root) as index, tempfile.TemporaryDirectory(prefix="pybuildpack-cold-") as tmp:
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": tmp, "NO_COLOR": "1", "PIP_INDEX_URL": index.url,
            "PIP_CONFIG_FILE": os.devnull, "PYBUILDPACK_RUNTIME_MANIFEST": str(mirror.manifest),
            "PYBUILDPACK_EXPORT_DIR": tmp,
        }  # fmt: skip
        results = run_all(args.runs, env, mirror, index, Path(tmp), only=args.only)
    print(markdown(results, args.runs) if args.markdown else json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
