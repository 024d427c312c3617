"""The local platform end to end: build into releases, config vars, run, start, relocation, slugs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pybuildpack.platform import buildpacks
from support.buildpack import free_port, http_get
from support.index import PackageIndex
from support.mirror import RuntimeMirror
from support.platform import (
    child_pids,
    cli,
    copy_example,
    git,
    group_alive,
    init_repo,
    ok,
    platform_env,
    started,
    wait_for,
)

SECRET = "s3cr3t-value-never-logged"
WORKER = "worker: python -u -c \"import time; [print('tick', i) or time.sleep(0.5) for i in range(1200)]\"\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("platform")


@pytest.fixture(scope="module")
def env(root: Path, package_index: PackageIndex, runtime_mirror: RuntimeMirror) -> dict[str, str]:
    return platform_env(root, package_index, runtime_mirror)


@pytest.fixture(scope="module")
def flask_source(root: Path) -> tuple[Path, str]:
    """The Flask example as a git work tree, with a worker, a .slugignore'd dir, a .env, and a change."""
    source = copy_example("flask-app", root / "src" / "flask-app")
    with (source / "Procfile").open("a") as procfile:
        procfile.write(WORKER)
    (source / "docs").mkdir()
    (source / "docs" / "big.txt").write_text("not for the slug\n")
    (source / ".slugignore").write_text("docs/\n")
    (source / ".env").write_text("FROM_DOTENV=yes\nSECRET_TOKEN=from-dotenv\n")
    revision = init_repo(source)
    (source / "extra.txt").write_text("uncommitted\n")
    return source, revision


@pytest.fixture(scope="module")
def flask_build(env: dict[str, str], flask_source: tuple[Path, str]) -> subprocess.CompletedProcess[str]:
    source, _ = flask_source
    ok(cli("config", "set", "flask", f"SECRET_TOKEN={SECRET}", env=env))
    return cli("build", str(source), "--app", "flask", env=env)


def app_root(env: dict[str, str], name: str) -> Path:
    return Path(env["PYBUILDPACK_STATE_DIR"]) / "apps" / name


def test_build_records_a_release(
    env: dict[str, str], flask_source: tuple[Path, str], flask_build: subprocess.CompletedProcess[str]
) -> None:
    ok(flask_build)
    log = flask_build.stdout + flask_build.stderr
    assert SECRET not in log
    assert "SECRET_TOKEN (values not shown)" in log
    assert "-----> Python app detected" in log
    assert "untracked extra.txt" in log
    assert "-----> Released v1 (build " in flask_build.stdout
    assert "Slug size: " in log
    root = app_root(env, "flask")
    assert (root / "current").readlink() == Path("releases/v1")
    record = json.loads((root / "releases" / "v1" / "release.json").read_text())
    assert record["source"]["revision"] == flask_source[1]
    assert "untracked extra.txt" in record["source"]["changes"]
    assert record["buildpacks"][0]["name"] == "pybuildpack"
    assert record["process_types"]["web"] == "gunicorn app:app"
    assert record["config_vars"] == ["SECRET_TOKEN"]
    assert record["status"] == "succeeded" and record["durations"]["total"] > 0
    app = root / "releases" / "v1" / "app"
    assert (app / "extra.txt").is_file() and not (app / "docs").exists()
    assert (root / "config.json").stat().st_mode & 0o777 == 0o600
    listing = ok(cli("releases", "flask", env=env)).stdout.splitlines()
    assert listing[0].split()[0] == "RELEASE" and listing[1].split()[:3] == ["*", "v1", "succeeded"]


def test_run_one_off_in_the_app_environment(
    env: dict[str, str], flask_build: subprocess.CompletedProcess[str]
) -> None:
    ok(flask_build)
    probe = "import os; print(os.environ['SECRET_TOKEN'], os.environ['FROM_DOTENV'], os.environ['PORT'])"
    result = ok(cli("run", "flask", "--", "python", "-c", probe, env=env))
    assert result.stdout.split() == [SECRET, "yes", "5000"]
    home = ok(cli("run", "flask", "--", "sh", "-c", 'echo "$HOME"', env=env)).stdout.strip()
    assert home == str(app_root(env, "flask") / "releases" / "v1" / "app")


def test_start_runs_every_process_and_stops_them_all(
    env: dict[str, str], flask_build: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    ok(flask_build)
    port = free_port()
    log = tmp_path / "start.log"
    with started("flask", port, env, log) as proc:
        response = http_get(f"http://127.0.0.1:{port}/", attempts=120)
        assert response.status == 200 and response.text.startswith("Hello from pybuildpack!")
        assert wait_for(lambda: "worker.1 | tick" in log.read_text())
        pids = child_pids(log)
        assert len(pids) == 2 and all(group_alive(pid) for pid in pids)
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    text = log.read_text()
    assert "web.1 stopped" in text and "worker.1 stopped" in text
    assert not any(group_alive(pid) for pid in pids), text


def test_a_moved_release_still_serves(
    env: dict[str, str], flask_build: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    ok(flask_build)
    release = app_root(env, "flask") / "releases" / "v1" / "app"
    moved = tmp_path / "somewhere" / "else"
    moved.parent.mkdir()
    shutil.move(release, moved)
    try:
        port = free_port()
        proc = subprocess.Popen(
            [*_python_m(), "run", str(moved), "web", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert http_get(f"http://127.0.0.1:{port}/", attempts=120).status == 200
        finally:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=30)
    finally:
        shutil.move(moved, release)


def _python_m() -> list[str]:
    return [sys.executable, "-m", "pybuildpack"]


def test_slug_export_is_reproducible_and_imports_as_a_release(
    env: dict[str, str], flask_build: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    ok(flask_build)
    git_dir = app_root(env, "flask") / "releases" / "v1" / "app" / ".git"
    git_dir.mkdir()
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    try:
        ok(cli("slug", "export", "flask", "-o", str(tmp_path / "one.tar.gz"), env=env))
        ok(cli("slug", "export", "flask", "-o", str(tmp_path / "two.tar.gz"), env=env))
    finally:
        shutil.rmtree(git_dir)
    one, two = (tmp_path / "one.tar.gz").read_bytes(), (tmp_path / "two.tar.gz").read_bytes()
    assert one == two
    tar = ["tar", "-tzf", tmp_path / "one.tar.gz"]
    listing = subprocess.run(tar, capture_output=True, text=True, check=True).stdout
    assert "app/Procfile" in listing.splitlines() and ".git" not in listing
    ok(cli("slug", "import", str(tmp_path / "one.tar.gz"), "--app", "flask-copy", env=env))
    result = ok(
        cli("run", "flask-copy", "--", "python", "-c", "import flask; print(flask.__version__)", env=env)
    )
    assert result.stdout.strip() == "3.1.3"


def test_a_failing_release_process_keeps_the_previous_release(
    env: dict[str, str], flask_source: tuple[Path, str], flask_build: subprocess.CompletedProcess[str]
) -> None:
    ok(flask_build)
    source, _ = flask_source
    failing = source.parent / "flask-release-fails"
    shutil.copytree(source, failing, ignore=shutil.ignore_patterns(".git"))
    with (failing / "Procfile").open("a") as procfile:
        procfile.write("release: echo migrating; exit 3\n")
    result = cli("build", str(failing), "--app", "flask", env=env)
    assert result.returncode == 1
    assert "migrating" in result.stdout
    assert "the release process failed (exit 3): v2 not released, v1 stays current" in result.stderr
    root = app_root(env, "flask")
    assert (root / "current").readlink() == Path("releases/v1")
    assert json.loads((root / "releases" / "v2" / "release.json").read_text())["status"] == "failed"
    assert not (root / "releases" / "v2" / "app").exists()
    rollback = cli("rollback", "flask", "2", env=env)
    assert rollback.returncode == 1 and "no usable release 2" in rollback.stderr


def test_buildpacks_run_in_order_and_see_the_exports_before_them(env: dict[str, str], root: Path) -> None:
    first, last = root / "bp-first", root / "bp-last"
    _buildpack(
        first, "First", 'echo first >> "$1/order.txt"\necho "export FIRST_MARKER=one" > "$bp/export"\n'
    )
    _buildpack(
        last,
        "Last",
        'echo "last FIRST_MARKER=$FIRST_MARKER $(python --version 2>&1) SOURCE_VERSION=$SOURCE_VERSION" '
        '>> "$1/order.txt"\n',
    )
    app = root / "src" / "tiny"
    app.mkdir(parents=True)
    (app / ".python-version").write_text("3.12\n")
    (app / "requirements.txt").write_text("")
    revision = init_repo(app)
    result = cli(
        "build",
        str(app),
        "--app",
        "tiny",
        "--buildpack",
        str(first),
        "--buildpack",
        "pybuildpack",
        "--buildpack",
        str(last),
        env=env,
    )
    ok(result)
    steps = [line for line in result.stdout.splitlines() if line.endswith("app detected")]
    assert steps == ["-----> First app detected", "-----> Python app detected", "-----> Last app detected"]
    order = (app_root(env, "tiny") / "current" / "app" / "order.txt").read_text().splitlines()
    assert order[0] == "first"
    assert order[1].startswith("last FIRST_MARKER=one Python 3.12.")
    assert order[1].endswith(f"SOURCE_VERSION={revision}")
    record = json.loads((app_root(env, "tiny") / "current" / "release.json").read_text())
    assert [bp["name"] for bp in record["buildpacks"]] == ["bp-first", "pybuildpack", "bp-last"]


def _buildpack(directory: Path, name: str, compile_body: str) -> None:
    (directory / "bin").mkdir(parents=True)
    scripts = {
        "detect": f"#!/bin/sh\necho {name}\n",
        "compile": '#!/bin/sh\nset -e\nbp="$(cd "$(dirname "$0")/.." && pwd)"\n' + compile_body,
        "release": "#!/bin/sh\necho '--- {}'\n",
    }
    for script, text in scripts.items():
        path = directory / "bin" / script
        path.write_text(text)
        path.chmod(0o755)


def test_buildpack_list_comes_from_the_cli_then_the_app_file(tmp_path: Path) -> None:
    assert buildpacks.requested([], tmp_path) == (["pybuildpack"], "default")
    (tmp_path / ".buildpacks").write_text("# comment\n/opt/a\n\nhttps://example.invalid/b.git#v1\n")
    assert buildpacks.requested([], tmp_path) == (
        ["/opt/a", "https://example.invalid/b.git#v1"],
        ".buildpacks",
    )
    assert buildpacks.requested(["x"], tmp_path) == (["x"], "--buildpack")
    yaml = "---\naddons: []\ndefault_process_types:\n  web: 'python -m http.server $PORT'\n"
    assert buildpacks.default_process_types(yaml) == {"web": "python -m http.server $PORT"}


def test_django_example_builds_migrates_and_serves(env: dict[str, str], root: Path, tmp_path: Path) -> None:
    source = copy_example("django-app", root / "src" / "django-app")
    ok(cli("config", "set", "django", "SECRET_KEY=test-only", env=env))
    result = ok(cli("build", str(source), "--app", "django", env=env))
    assert "Running the release process: python manage.py migrate --noinput" in result.stdout
    assert (app_root(env, "django") / "current" / "app" / "db.sqlite3").is_file()
    port = free_port()
    with started("django", port, env, tmp_path / "start.log") as proc:
        response = http_get(f"http://127.0.0.1:{port}/", attempts=120)
        assert response.status == 200
        assert response.text == "Hello from Django on pybuildpack!\n"
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert not any(group_alive(pid) for pid in child_pids(tmp_path / "start.log"))


def test_git_helper_works(tmp_path: Path) -> None:
    assert git("--version", cwd=tmp_path).returncode == 0


def test_a_moved_release_with_an_editable_package_serves(
    env: dict[str, str], root: Path, tmp_path: Path
) -> None:
    app = root / "src" / "editable"
    # under packages/, so the app dir on sys.path has no "greeting" namespace package shadowing it
    (app / "packages" / "greeting" / "greeting").mkdir(parents=True)
    (app / "packages" / "greeting" / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools==70.3.0"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "greeting"\nversion = "1.0"\n'
    )
    (app / "packages" / "greeting" / "greeting" / "__init__.py").write_text(
        "TEXT = b'hello from an editable package\\n'\n"
    )
    (app / ".python-version").write_text("3.12\n")
    (app / "requirements.txt").write_text("gunicorn==27.0.1\n-e ./packages/greeting\n")
    (app / "wsgi.py").write_text(
        "import greeting\n\n\ndef app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [greeting.TEXT]\n"
    )
    (app / "Procfile").write_text("web: gunicorn wsgi:app\n")
    (app / ".profile").write_text('export GUNICORN_CMD_ARGS="--bind 127.0.0.1:${PORT} --workers 1"\n')
    ok(cli("build", str(app), "--app", "editable", env=env))
    release = app_root(env, "editable") / "current" / "app"
    moved = tmp_path / "moved" / "app"
    shutil.copytree(release.resolve(), moved, symlinks=True)
    shutil.rmtree(release.resolve())  # nothing may still point at the build's or the release's path
    port = free_port()
    proc = subprocess.Popen(
        [*_python_m(), "run", str(moved), "web", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        response = http_get(f"http://127.0.0.1:{port}/", attempts=120)
        assert response.status == 200 and response.text == "hello from an editable package\n"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
