"""The Cloud Native Buildpacks face, through the lifecycle emulator (tests/support/lifecycle.py): real
runtimes from the test mirror, real pip/uv/Poetry/Pipenv on the local index, real gunicorn over HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from support import FIXTURE_APPS, REPO
from support.buildpack import compile_app, free_port, http_get
from support.index import PackageIndex
from support.lifecycle import Lifecycle, Phase
from support.mirror import RuntimeMirror
from support.namespaces import hiding_pythons
from test_uv import app_for_index

EXAMPLE = REPO / "examples" / "flask-app"
LAUNCH_BASE = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


@pytest.fixture
def platform(tmp_path: Path, build_env: dict[str, str]) -> Lifecycle:
    return Lifecycle(tmp_path / "cnb-platform", env=dict(build_env))


def needs(mirror: RuntimeMirror, major: str) -> str:
    if not mirror.has(major):
        pytest.skip(f"the runtime mirror has no Python {major}")
    return mirror.latest(major)


def build(platform: Lifecycle, app: Path, *, ok: bool = True) -> Phase:
    """detect then build, as the lifecycle runs them."""
    platform.use_app(app)
    detected, plan = platform.detect()
    assert plan is not None, detected.describe()
    phase = platform.build(plan)
    assert (phase.returncode == 0) == ok, phase.describe()
    return phase


def cached_toml(platform: Lifecycle, name: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((platform.cache_store / f"{name}.toml").read_text())
    return data


def get_web(platform: Lifecycle, process: str | None = None) -> str:
    port = free_port()
    with platform.launch(process, {**LAUNCH_BASE, "PORT": str(port)}):
        response = http_get(f"http://127.0.0.1:{port}/", attempts=80)
    assert response.status == 200
    return response.text


def small_app(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# --- the Flask example: layers, launch, rebuild -----------------------------------------------------------


def test_flask_example_builds_serves_and_rebuilds_reusing_every_layer(
    platform: Lifecycle, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.12")
    first = build(platform, EXAMPLE)
    assert "Collecting flask==3.1.3" in first.stdout
    assert "Process types: web (default)" in first.stdout
    assert set(platform.image.layers) == {"python"}
    python = platform.image.layers["python"]
    assert python["types"] == {"launch": True, "build": True, "cache": True}
    assert python["metadata"]["key"]["python"] == version
    assert {"runtimes", "state"} <= {p.name[:-5] for p in platform.cache_store.glob("*.toml")}
    assert cached_toml(platform, "runtimes")["types"] == {"launch": False, "build": False, "cache": True}
    assert platform.process()["command"] == ["sh", "-c", "exec gunicorn app:app"]
    assert get_web(platform) == f"Hello from pybuildpack! Python {version}\n"

    sbom = json.loads((platform.layers_dir / "python.sbom.cdx.json").read_text())
    purls = {component["purl"] for component in sbom["components"]}
    assert {"pkg:pypi/flask@3.1.3", "pkg:pypi/gunicorn@27.0.1", f"pkg:generic/cpython@{version}"} <= purls

    second = build(platform, EXAMPLE)
    assert "Restoring cache" in second.stdout
    assert f"Unchanged since the last build: stack debian-12, Python {version}" in second.stdout
    assert f"Using cached install of Python {version}" in second.stdout
    assert "Skipping the dependency install: nothing it depends on has changed" in second.stdout
    assert "Collecting" not in second.stdout
    assert "Discarding" not in second.stdout
    assert get_web(platform) == f"Hello from pybuildpack! Python {version}\n"


def test_launch_environment_env_files_and_exec_d(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    needs(runtime_mirror, "3.12")
    build(platform, EXAMPLE)
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "memory.max").write_text(f"{1024 * 1024 * 1024}\n")
    env = platform.launch_env(
        "web", {**LAUNCH_BASE, "PYBUILDPACK_CGROUP_ROOT": str(cgroup), "PYBUILDPACK_NPROC": "8"}
    )
    layer = platform.layers_dir / "python"
    assert env["PATH"].startswith(f"{layer / 'bin'}:")
    assert env["PYTHONHOME"] == str(layer)
    assert env["PYTHONPATH"] == str(platform.workspace)
    assert env["PYTHONUNBUFFERED"] == "true"
    assert env["PIP_DISABLE_PIP_VERSION_CHECK"] == "1"
    assert env["FORWARDED_ALLOW_IPS"] == "*"
    assert env["GUNICORN_CMD_ARGS"] == "--access-logfile -"
    assert env["PORT"] == "8080"  # a platform's PORT wins (.default)
    assert (env["WEB_CONCURRENCY"], env["DYNO_RAM"]) == ("4", "1024")  # 1024 MB / 256 MB per worker
    mine = platform.launch_env("web", {**LAUNCH_BASE, "WEB_CONCURRENCY": "3", "PORT": "5000"})
    assert (mine["WEB_CONCURRENCY"], mine["PORT"]) == ("3", "5000")
    python = subprocess.run(
        ["python", "-c", "import flask, sys; print(sys.prefix)"],
        env=env, cwd=platform.workspace, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert python.stdout.strip() == str(layer), python.stderr


# --- each manager --------------------------------------------------------------------------------------


def test_uv_app(
    platform: Lifecycle, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    needs(runtime_mirror, "3.13")
    app = app_for_index("uv_basic", package_index, tmp_path)
    (app / "Procfile").write_text("worker: python -c \"import typing_extensions; print('ok')\"\n")
    phase = build(platform, app)
    assert "Installing uv 0.13.9" in phase.stdout
    assert {"uv", "uv-cache"} <= {p.name[:-5] for p in platform.cache_store.glob("*.toml")}
    assert cached_toml(platform, "uv")["types"] == {"launch": False, "build": True, "cache": True}
    assert "uv" not in platform.image.layers  # a build tool: not in the image
    env = platform.launch_env("worker", LAUNCH_BASE)
    ran = subprocess.run(
        ["sh", "-c", "exec python -c 'import typing_extensions, pip; print(typing_extensions.__name__)'"],
        env=env, cwd=platform.workspace, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert ran.stdout == "typing_extensions\n", ran.stderr  # pip stays for one-off commands
    again = build(platform, app)
    assert "Using cached uv 0.13.9" in again.stdout


def test_poetry_app_serves(
    platform: Lifecycle, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    version = needs(runtime_mirror, "3.12")
    app = app_for_index("poetry_flask", package_index, tmp_path)
    phase = build(platform, app)
    assert "Installing dependencies using 'poetry sync" in phase.stdout
    assert {"poetry", "poetry-cache"} <= {p.name[:-5] for p in platform.cache_store.glob("*.toml")}
    assert get_web(platform) == f"Hello from pybuildpack! Python {version}\n"
    # The app moves to pip: Poetry's layers leave the cache instead of being carried forever.
    (app / "requirements.txt").write_text("flask==3.1.3\ngunicorn==27.0.1\n")
    (app / "pyproject.toml").unlink()
    (app / "poetry.lock").unlink()
    moved = build(platform, app)
    assert "Removing layers of package managers this app no longer uses: poetry, poetry-cache" in moved.stdout
    assert not {"poetry", "poetry-cache"} & {p.name[:-5] for p in platform.cache_store.glob("*.toml")}
    assert not (platform.cache_store / "poetry").exists()
    again = build(platform, app)
    assert "Removing layers" not in again.stdout


def test_pipenv_app_serves(
    platform: Lifecycle, package_index: PackageIndex, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    app = app_for_index("pipenv_gunicorn", package_index, tmp_path)
    phase = build(platform, app)
    assert "pipenv" in phase.stdout.lower()
    assert get_web(platform).startswith("Hello from pipenv! Python ")
    env = platform.launch_env("web", LAUNCH_BASE)
    assert env["PIPENV_SYSTEM"] == "1"
    assert env["VIRTUAL_ENV"] == str(platform.layers_dir / "python")


def test_django_collectstatic_and_release_process(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    app = tmp_path / "django"
    shutil.copytree(FIXTURE_APPS / "django_staticfiles_latest_django", app)
    (app / "Procfile").write_text(
        "web: cd backend && gunicorn testproject.wsgi\nrelease: cd backend && python manage.py check\n"
    )
    (app / "requirements.txt").write_text("Django\ngunicorn==27.0.1\n")
    platform.config = {"EXPECTED_ENV_VAR": "set"}  # the fixture's settings require this config var
    phase = build(platform, app)
    assert "$ python backend/manage.py collectstatic --noinput" in phase.stdout
    static = list((platform.workspace / "backend").glob("staticfiles/**/*"))
    assert static, "collectstatic wrote into the workspace, which goes into the image"
    release = platform.process("release")
    assert release["command"] == ["sh", "-c", "cd backend && python manage.py check"]
    assert release.get("default") is False
    env = platform.launch_env("release", {**LAUNCH_BASE, "EXPECTED_ENV_VAR": "set"})
    checked = subprocess.run(
        release["command"], env=env, cwd=platform.workspace, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_worker_only_app_with_hooks(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    app = small_app(
        tmp_path / "worker",
        {
            "requirements.txt": "",
            "worker.py": "import sys\nprint('working on', sys.version_info[:2])\n",
            "Procfile": "worker: python worker.py\n",
            "bin/pre_compile": "#!/bin/sh\necho pre > pre.txt\n",
            "bin/post_compile": '#!/bin/sh\npython -c "import sys; print(sys.prefix)" > post.txt\n',
        },
    )
    phase = build(platform, app)
    assert "Process types: worker" in phase.stdout
    assert "Running bin/pre_compile hook" in phase.stdout
    assert (platform.workspace / "pre.txt").read_text() == "pre\n"
    assert (platform.workspace / "post.txt").read_text() == f"{platform.layers_dir / 'python'}\n"
    worker = platform.process("worker")
    assert worker.get("default") is False
    with pytest.raises(AssertionError, match="no process"):
        platform.process(None)
    ran = subprocess.run(
        worker["command"], env=platform.launch_env("worker", LAUNCH_BASE), cwd=platform.workspace,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ran.stdout.startswith("working on (3, ")


def test_no_procfile_warns(platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path) -> None:
    app = small_app(tmp_path / "noproc", {"requirements.txt": ""})
    phase = build(platform, app)
    assert "No web process is declared: the app has no Procfile." in phase.stderr
    assert platform.image.processes == []


# --- the cache: in place, discarded, older metadata --------------------------------------------------------


def test_added_requirement_updates_in_place_and_python_change_discards(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    needs(runtime_mirror, "3.12")
    other = needs(runtime_mirror, "3.13")
    app = small_app(
        tmp_path / "app",
        {"requirements.txt": "flask==3.1.3\n", ".python-version": "3.12\n", "Procfile": "web: x"},
    )
    build(platform, app)
    (app / "requirements.txt").write_text("flask==3.1.3\ngunicorn==27.0.1\n")
    added = build(platform, app)
    assert "Restoring cache, and updating the environment in place since:" in added.stdout
    assert "- The contents of requirements.txt changed" in added.stdout
    assert "Collecting gunicorn==27.0.1" in added.stdout
    assert "gunicorn==27.0.1" in platform.image.layers["python"]["metadata"]["installed"]
    (app / ".python-version").write_text("3.13\n")
    changed = build(platform, app)
    assert "Discarding cache since:" in changed.stdout
    assert f"- The Python version changed from {runtime_mirror.latest('3.12')} to {other}" in changed.stdout
    assert f"Installing Python {other}" in changed.stdout


def test_layer_from_an_older_buildpack_version_is_discarded(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    app = small_app(tmp_path / "app", {"requirements.txt": "typing_extensions==4.15.0\n"})
    build(platform, app)
    for name in ("python", "runtimes"):
        path = platform.cache_store / f"{name}.toml"
        path.write_text('[types]\ncache = true\n\n[metadata]\nversion = "0.0.1"\nformat = 0\n')
    again = build(platform, app)
    assert "Discarding layers since:" in again.stdout
    assert "- The runtimes layer's metadata was written by another version of this buildpack" in again.stdout
    assert "Discarding cache since:" in again.stdout
    assert "- The python layer's metadata was written by another version of this buildpack" in again.stdout
    assert "Collecting typing_extensions==4.15.0" in again.stdout


def test_launch_only_layer_comes_back_as_metadata_alone(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    """The emulator's restore rules, checked against what the buildpack wrote."""
    app = small_app(tmp_path / "app", {"requirements.txt": ""})
    build(platform, app)
    platform._restore()
    restored = (platform.layers_dir / "python.toml").read_text()
    assert "[types]" not in restored
    assert "key" in tomllib.loads(restored)["metadata"]
    assert (platform.layers_dir / "python" / "bin").is_dir()  # a cache layer: files come back


# --- config, errors, no host Python -----------------------------------------------------------------------


def test_config_vars_from_the_platform_dir(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    app = small_app(tmp_path / "app", {"requirements.txt": "typing_extensions==4.15.0\n"})
    platform.config = {"PYBUILDPACK_INSTALLER": "uv", "SECRET_KEY": "not-for-the-log-123"}
    phase = build(platform, app)
    assert "Installing uv" in phase.stdout
    assert "uv pip" in phase.stdout
    assert "not-for-the-log-123" not in phase.stdout + phase.stderr


def test_bad_python_version_file_fails_build_like_classic(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path, build_env: dict[str, str]
) -> None:
    app = FIXTURE_APPS / "python_version_file_invalid_version"
    platform.use_app(app)
    detected, plan = platform.detect()
    assert plan is not None, detected.describe()
    phase = platform.build(plan)
    assert phase.returncode == 1
    classic = compile_app(app, env=build_env, workdir=tmp_path / "classic")
    assert classic.returncode == 1
    assert "Invalid Python version in .python-version" in phase.stderr
    assert phase.stderr == classic.stderr


def test_detect_fails_with_100_for_a_non_python_app(platform: Lifecycle, tmp_path: Path) -> None:
    platform.use_app(small_app(tmp_path / "static", {"index.html": "<p>hi</p>"}))
    detected, plan = platform.detect()
    assert plan is None
    assert detected.returncode == 100


def test_build_without_any_python_311_on_the_machine(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    """Every python3 >= 3.11 hidden: bin/build fetches one from the manifest, checks it, runs with it,
    and the next build reuses it."""
    needs(runtime_mirror, "3.12")
    platform.wrap = hiding_pythons(tmp_path)
    first = build(platform, EXAMPLE)
    assert "Running pybuildpack with Python 3.1" in first.stdout
    assert "engine" in {p.name[:-5] for p in platform.cache_store.glob("*.toml")}
    assert get_web(platform).startswith("Hello from pybuildpack! Python 3.12.")
    second = build(platform, EXAMPLE)
    assert "Running pybuildpack with Python 3.1" in second.stdout
    assert "Unchanged since the last build" in second.stdout


def test_bootstrap_checksum_failure_names_manifest_url_and_both_hashes(
    platform: Lifecycle, runtime_mirror: RuntimeMirror, tmp_path: Path
) -> None:
    hide = hiding_pythons(tmp_path)
    manifest = json.loads(runtime_mirror.manifest.read_text())
    for entry in manifest["runtimes"]:
        entry["url"] = str(runtime_mirror.manifest.parent / entry["url"])
        entry["sha256"] = "0" * 64
    bad = tmp_path / "bad-manifest.json"
    bad.write_text(json.dumps(manifest))
    platform.wrap = hide
    platform.config = {"PYBUILDPACK_RUNTIME_MANIFEST": str(bad)}
    phase = build(platform, EXAMPLE, ok=False)
    assert "failed its sha256 check" in phase.stderr
    assert f"Manifest: {bad}" in phase.stderr
    assert "Expected sha256: " + "0" * 64 in phase.stderr
    assert "Actual sha256:   " in phase.stderr
    assert "URL: " in phase.stderr


def test_shim_detect_files_match_the_engine() -> None:
    from pybuildpack import app

    shim = (REPO / "lib" / "launch.sh").read_text()
    listed = shim.split('PYBUILDPACK_DETECT_FILES="', 1)[1].split('"', 1)[0].split()
    assert listed == list(app.DETECT_FILES)


@pytest.mark.parametrize("api", ["classic", "cnb"])
def test_detect_without_any_python_311(api: str, tmp_path: Path, build_env: dict[str, str]) -> None:
    hide = hiding_pythons(tmp_path)
    results = {}
    for name, files in (("py", {"requirements.txt": ""}), ("static", {"index.html": ""})):
        app = small_app(tmp_path / name, files)
        plan = tmp_path / f"{name}-plan.toml"
        env = {**build_env, "CNB_BUILD_PLAN_PATH": str(plan)} if api == "cnb" else build_env
        args = [] if api == "cnb" else [str(app)]
        proc = subprocess.run(
            [*hide, str(REPO / "bin" / "detect"), *args],
            cwd=app, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        results[name] = proc.returncode
        if name == "py" and api == "cnb":
            assert tomllib.loads(plan.read_text())["requires"] == [{"name": "python"}]
    assert results == {"py": 0, "static": 100 if api == "cnb" else 1}
