"""The local platform's edges: git URL buildpacks, overtaken pushes, process types without `web`, config
values with '=', `run` of an app without a release, leftovers of killed builds.

Everything here builds with small shell buildpacks written in the tests (no Python install), so it is fast;
the builds with this buildpack (slug size, --no-cache) are in test_platform_cache.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from pybuildpack.platform import releases
from pybuildpack.platform.state import AppState
from support.buildpack import free_port, http_get
from support.platform import (
    HTTP_WEB,
    child_pids,
    cli,
    commit_all,
    git,
    group_alive,
    init_repo,
    light_env,
    ok,
    shell_buildpack,
    started,
    tiny_app,
    wait_for,
)


def bare_repo_of(work: Path, bare: Path, tag: str | None = None) -> str:
    """Commit ``work`` (tagging it), clone it bare to ``bare``; returns the commit."""
    revision = init_repo(work)
    if tag:
        ok(git("tag", tag, cwd=work))
    ok(git("clone", "-q", "--bare", str(work), str(bare), cwd=work.parent))
    return revision


def app_root(env: dict[str, str], name: str) -> Path:
    return Path(env["PYBUILDPACK_STATE_DIR"]) / "apps" / name


def record_of(env: dict[str, str], name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((app_root(env, name) / "current" / "release.json").read_text())
    return data


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("review")


@pytest.fixture(scope="module")
def env(root: Path) -> dict[str, str]:
    return light_env(root)


@pytest.fixture(scope="module")
def plain_bp(root: Path) -> Path:
    """Copies nothing, declares nothing: a build in milliseconds."""
    return shell_buildpack(root / "plain-bp", "Plain", 'echo "plain compile"\n')


# -- 1. buildpacks given as git URLs ----------------------------------------------------------------------


def test_git_url_buildpacks_run_in_order_with_their_exports(env: dict[str, str], root: Path) -> None:
    first_work = shell_buildpack(
        root / "bp-src" / "exporter",
        "Exporter",
        'echo exporter >> "$1/order.txt"\necho "export FROM_EXPORTER=\'a b=c\'" > "$bp/export"\n',
    )
    (first_work / "buildpack.toml").write_text('[buildpack]\nname = "exporter-bp"\n')
    first_rev = bare_repo_of(first_work, root / "bp-git" / "exporter.git", tag="v1")
    # a later commit on the default branch: #v1 must not see it
    (first_work / "bin" / "compile").write_text('#!/bin/sh\necho "not v1"; exit 1\n')
    ok(git("commit", "-q", "-am", "v2", cwd=first_work))
    ok(git("push", "-q", str(root / "bp-git" / "exporter.git"), "main", cwd=first_work))

    second_work = shell_buildpack(
        root / "bp-src" / "reader",
        "Reader",
        'echo "reader FROM_EXPORTER=$FROM_EXPORTER SOURCE_VERSION=$SOURCE_VERSION" >> "$1/order.txt"\n',
    )
    second_rev = bare_repo_of(second_work, root / "bp-git" / "reader.git")

    app = tiny_app(root / "src" / "gitbp", "web: cat order.txt\n")
    revision = init_repo(app)
    result = cli(
        "build",
        str(app),
        "--app",
        "gitbp",
        "--buildpack",
        f"file://{root / 'bp-git' / 'exporter.git'}#v1",
        "--buildpack",
        str(root / "bp-git" / "reader.git"),  # the path of a bare repository is a git URL too
        env=env,
    )
    ok(result)
    assert "Buildpack 1: exporter-bp (" in result.stdout
    assert f"Buildpack 2: reader ({second_rev})" in result.stdout
    detected = [line for line in result.stdout.splitlines() if line.endswith("app detected")]
    assert detected == ["-----> Exporter app detected", "-----> Reader app detected"]
    order = (app_root(env, "gitbp") / "current" / "app" / "order.txt").read_text().splitlines()
    assert order == ["exporter", f"reader FROM_EXPORTER=a b=c SOURCE_VERSION={revision}"]
    record = record_of(env, "gitbp")
    assert record["buildpacks"] == [
        {
            "name": "exporter-bp",
            "version": first_rev,
            "source": f"file://{root / 'bp-git' / 'exporter.git'}#v1",
        },
        {"name": "reader", "version": second_rev, "source": str(root / "bp-git" / "reader.git")},
    ]
    # the buildpacks ran from clones: their `export` files were not written into the repositories
    assert not (root / "bp-git" / "exporter.git" / "export").exists()
    assert not (first_work / "export").exists()


def test_a_git_buildpack_with_an_unknown_ref_fails_clearly(env: dict[str, str], root: Path) -> None:
    work = shell_buildpack(root / "bp-src" / "reffed", "Reffed", "true\n")
    bare_repo_of(work, root / "bp-git" / "reffed.git")
    app = tiny_app(root / "src" / "badref", "web: true\n")
    spec = f"file://{root / 'bp-git' / 'reffed.git'}#no-such-tag"
    result = cli("build", str(app), "--app", "badref", "--buildpack", spec, env=env)
    assert result.returncode == 1
    assert f"The buildpack '{spec}' could not be cloned." in result.stderr
    assert "no-such-tag" in result.stderr
    assert not (app_root(env, "badref") / "current").exists()


# -- 4. review fixes --------------------------------------------------------------------------------------


def test_config_values_keep_their_equals_signs(env: dict[str, str], root: Path, plain_bp: Path) -> None:
    url = "postgres://u:p@h/db?sslmode=require&x=="
    ok(cli("config", "set", "eqapp", f"DATABASE_URL={url}", "EMPTY=", "B64=YWJj==", env=env))
    assert ok(cli("config", "get", "eqapp", "DATABASE_URL", env=env)).stdout == url + "\n"
    assert ok(cli("config", "get", "eqapp", "EMPTY", env=env)).stdout == "\n"
    listing = ok(cli("config", "list", "eqapp", env=env)).stdout.splitlines()
    assert listing == ["B64=YWJj==", f"DATABASE_URL='{url}'", "EMPTY=''"]
    app = tiny_app(root / "src" / "eqapp", "web: true\n")
    built = ok(cli("build", str(app), "--app", "eqapp", "--buildpack", str(plain_bp), env=env))
    assert url not in built.stdout + built.stderr and "YWJj" not in built.stdout + built.stderr
    probe = 'printf "%s|%s|%s" "$DATABASE_URL" "$EMPTY" "$B64"'
    seen = ok(cli("run", "eqapp", "--", "sh", "-c", probe, env=env)).stdout
    assert seen == f"{url}||YWJj=="
    bad = cli("config", "set", "eqapp", "=value", env=env)
    assert bad.returncode == 1 and "is not of the form KEY=VALUE" in bad.stderr
    unset = ok(cli("config", "unset", "eqapp", "EMPTY", "NOPE", env=env)).stdout
    assert unset == "Unset EMPTY for eqapp.\neqapp had no config var NOPE; nothing to unset.\n"
    assert ok(cli("config", "list", "eqapp", "--names", env=env)).stdout == "B64\nDATABASE_URL\n"


def test_run_and_start_of_an_app_without_a_release(env: dict[str, str], root: Path) -> None:
    ok(cli("config", "set", "unbuilt", "A=1", env=env))  # the app exists, but was never built
    for command in (["run", "unbuilt"], ["run", "unbuilt", "--", "true"], ["start", "unbuilt"]):
        result = cli(*command, env=env)
        assert result.returncode == 1, command
        assert "The app 'unbuilt' has no current release." in result.stderr
        assert "pybuildpack build APP_DIR --app unbuilt" in result.stderr
    missing = cli("run", "never-heard-of", env=env)
    assert missing.returncode == 1 and "No app named 'never-heard-of'" in missing.stderr


def test_a_bad_port_is_an_error_not_a_traceback(env: dict[str, str], root: Path, plain_bp: Path) -> None:
    app = tiny_app(root / "src" / "porty", "web: echo port=$PORT\n")
    ok(cli("build", str(app), "--app", "porty", "--buildpack", str(plain_bp), env=env))
    assert ok(cli("run", "porty", env={**env, "PORT": "6001"})).stdout == "port=6001\n"
    result = cli("run", "porty", env={**env, "PORT": "http"})
    assert result.returncode == 1 and "PORT='http' is not a port number." in result.stderr
    assert "Traceback" not in result.stderr


def test_default_process_types_of_a_buildpack_are_run(env: dict[str, str], root: Path) -> None:
    defaults = shell_buildpack(
        root / "defaults-bp",
        "Defaults",
        "true\n",
        release="---\ndefault_process_types:\n  web: echo default web on $PORT\n  clock: echo tick\n",
    )
    app = tiny_app(root / "src" / "nofile", None)  # no Procfile: the buildpack's defaults apply
    built = ok(cli("build", str(app), "--app", "nofile", "--buildpack", str(defaults), env=env))
    assert "types -> web, clock" in built.stdout
    assert ok(cli("run", "nofile", "--port", "7000", env=env)).stdout == "default web on 7000\n"
    assert ok(cli("run", "nofile", "clock", env=env)).stdout == "tick\n"


def test_a_procfile_without_web(env: dict[str, str], root: Path, plain_bp: Path, tmp_path: Path) -> None:
    app = tiny_app(root / "src" / "workeronly", "worker: python3 -u -c \"print('working'); input()\"\n")
    ok(cli("build", str(app), "--app", "workeronly", "--buildpack", str(plain_bp), env=env))
    result = cli("run", "workeronly", env=env)  # PROCESS defaults to web
    assert result.returncode == 1
    assert "The process type 'web' is not declared" in result.stderr
    assert "Declared process types: worker." in result.stderr

    nothing = tiny_app(root / "src" / "nothing", "release: true\n")
    ok(cli("build", str(nothing), "--app", "nothing", "--buildpack", str(plain_bp), env=env))
    idle = cli("start", "nothing", env=env, timeout=30)
    assert idle.returncode == 1 and "declares no process type to start" in idle.stderr


def test_start_follows_a_deploy_that_adds_then_removes_web(
    env: dict[str, str], root: Path, plain_bp: Path, tmp_path: Path
) -> None:
    worker = "worker: python3 -u -c \"import time; [print('tick') or time.sleep(0.5) for _ in range(600)]\"\n"
    app = tiny_app(root / "src" / "grows", worker)
    (app / "index.html").write_text("grown\n")
    ok(cli("build", str(app), "--app", "grows", "--buildpack", str(plain_bp), env=env))
    port = free_port()
    log = tmp_path / "start.log"
    with started("grows", port, env, log, "--boot-timeout", "20") as proc:
        assert wait_for(lambda: "worker.1 | tick" in log.read_text())
        (app / "Procfile").write_text(worker + f"web: {HTTP_WEB}\n")
        added = ok(cli("build", str(app), "--app", "grows", "--buildpack", str(plain_bp), env=env))
        assert "started web, declared by the new release" in added.stdout
        response = http_get(f"http://127.0.0.1:{port}/index.html", attempts=100)
        assert response.status == 200 and response.text == "grown\n"
        web_pid = next(
            int(line.split("(pid ")[1].split(",")[0])
            for line in log.read_text().splitlines()
            if "started web.1 (pid " in line
        )
        assert group_alive(web_pid)

        (app / "Procfile").write_text(worker)
        removed = ok(cli("build", str(app), "--app", "grows", "--buildpack", str(plain_bp), env=env))
        assert "declares no web process; stopping web" in removed.stdout
        assert wait_for(lambda: not group_alive(web_pid), timeout=20)
        assert proc.poll() is None  # the other processes go on
        proc.terminate()
        assert proc.wait(timeout=40) == 0
    assert not any(group_alive(pid) for pid in child_pids(log))


def test_leftovers_of_a_killed_build_are_cleaned_under_the_lock(tmp_path: Path) -> None:
    state = AppState("killed", tmp_path / "apps" / "killed")
    state.ensure()
    (state.tmp_dir / "build-abc" / "build").mkdir(parents=True)
    (state.releases_dir / ".v2.partial" / "app").mkdir(parents=True)
    (state.release_dir(1) / "app").mkdir(parents=True)
    (state.release_dir(1) / "release.json").write_text(json.dumps({"status": "pending"}))
    releases.clean_leftovers(state)
    assert list(state.tmp_dir.iterdir()) == []
    assert not (state.releases_dir / ".v2.partial").exists()
    assert state.read_release(1)["status"] == "interrupted"
    assert state.next_number() == 2


# -- concurrent pushes ------------------------------------------------------------------------------------


class Pushing:
    """`git push` in the background, its output collected line by line as it arrives."""

    def __init__(self, source: Path, env: dict[str, str]) -> None:
        full = {
            "PATH": env["PATH"],
            "HOME": str(source),
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        self.proc = subprocess.Popen(
            ["git", "push", "local", "main"],
            cwd=source,
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def finish(self) -> int:
        try:
            code = self.proc.wait(timeout=120)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        return code


def test_a_push_overtaken_while_it_waited_is_rejected_before_it_is_built(tmp_path: Path) -> None:
    env = light_env(tmp_path)
    gate = tmp_path / "gate"
    gate.touch()
    slow = shell_buildpack(
        tmp_path / "slow-bp",
        "Slow",
        f'echo "compiling $SOURCE_VERSION"\ni=0\nwhile [ ! -f "{gate}" ] && [ $i -lt 600 ]; do '
        "sleep 0.1; i=$((i+1)); done\n",
    )
    one = tiny_app(tmp_path / "one", "web: true\n")
    (one / ".buildpacks").write_text(f"{slow}\n")
    init_repo(one)
    created = ok(cli("git-remote", "init", "racy", env=env))
    repo = app_root(env, "racy") / "repo.git"
    assert str(repo) in created.stdout
    ok(git("remote", "add", "local", str(repo), cwd=one))
    ok(git("push", "-q", "local", "main", cwd=one))
    ok(git("clone", "-q", "-o", "local", str(repo), str(tmp_path / "two"), cwd=tmp_path))
    two = tmp_path / "two"
    (one / "hello.txt").write_text("from one\n")
    first = commit_all(one, "one")
    (two / "hello.txt").write_text("from two\n")
    commit_all(two, "two")

    gate.unlink()
    push_one = Pushing(one, env)
    push_two: Pushing | None = None
    try:
        assert wait_for(lambda: push_one.saw(f"compiling {first}"), timeout=60), push_one.lines
        push_two = Pushing(two, env)
        assert wait_for(lambda: push_two is not None and push_two.saw("Waiting for another build"), 60)
    finally:
        gate.touch()
        code_one = push_one.finish()
        code_two = push_two.finish() if push_two is not None else None
    assert code_one == 0, push_one.lines
    assert code_two == 1, push_two.lines if push_two else None
    assert push_two is not None and push_two.lines
    last_remote = [line.rstrip() for line in push_two.lines if line.startswith("remote: ")][-1]
    assert last_remote == (
        f"remote:  !     Push rejected, main moved to {first[:12]} (another push) while this push waited; "
        "fetch, merge or rebase, and push again."
    )
    assert not push_two.saw("compiling")  # refused before anything was built or released
    # the branch and the current release agree
    head = ok(git("rev-parse", "main", cwd=repo)).stdout.strip()
    assert head == first
    assert record_of(env, "racy")["source"] == {"kind": "git push", "revision": first, "changes": []}
    assert AppState("racy", app_root(env, "racy")).numbers() == [1, 2]


def test_rollback_edges(env: dict[str, str], root: Path, plain_bp: Path) -> None:
    app = tiny_app(root / "src" / "rolls", "web: true\n")
    for _ in range(3):
        ok(cli("build", str(app), "--app", "rolls", "--buildpack", str(plain_bp), env=env))
    assert ok(cli("rollback", "rolls", "v3", env=env)).stdout == (
        "-----> v3 is already the current release of rolls\n"
    )
    rolled = ok(cli("rollback", "rolls", env=env)).stdout  # the one before, copied as a new release
    assert "Rolled back rolls to v2, as the new release v4" in rolled
    assert (app_root(env, "rolls") / "current").readlink() == Path("releases/v4")
    copied = app_root(env, "rolls") / "releases" / "v4"
    assert (copied / "app").is_dir() and not (copied / "app").is_symlink()
    assert record_of(env, "rolls")["source"] == {
        "kind": "rollback",
        "release": 2,
        "revision": None,
        "changes": [],
    }
    (app_root(env, "rolls") / "releases" / "v1" / "release.json").write_text("{not json")
    listing = ok(cli("releases", "rolls", env=env)).stdout.splitlines()
    assert listing[0].split() == [
        "RELEASE", "STATUS", "CREATED", "SOURCE", "SIZE", "COMPRESSED", "BUILD", "BUILDPACKS"
    ]  # fmt: skip
    assert listing[1].split()[:3] == ["*", "v4", "succeeded"] and "rollback to v2" in listing[1]
    assert listing[2].split()[:2] == ["v3", "succeeded"]
    assert listing[3].split()[:2] == ["v2", "succeeded"]
    assert listing[4].split()[:2] == ["v1", "unreadable"]
    refused = cli("rollback", "rolls", "1", env=env)
    assert refused.returncode == 1 and "has no usable release 1" in refused.stderr
    assert (app_root(env, "rolls") / "current").readlink() == Path("releases/v4")
    single = tiny_app(root / "src" / "single", "web: true\n")
    ok(cli("build", str(single), "--app", "single", "--buildpack", str(plain_bp), env=env))
    none_left = cli("rollback", "single", env=env)
    assert none_left.returncode == 1 and "has no earlier release to roll back to" in none_left.stderr


# -- issue 12: rough edges ---------------------------------------------------------------------------------
def test_the_hint_after_a_build_names_a_declared_process(
    env: dict[str, str], root: Path, plain_bp: Path
) -> None:
    worker = tiny_app(root / "src" / "hint-worker", "worker: sleep 1\n")
    built = ok(cli("build", str(worker), "--app", "hint-worker", "--buildpack", str(plain_bp), env=env))
    assert (
        "Run it with: pybuildpack run hint-worker worker   (all processes: pybuildpack start hint-worker)"
        in (built.stdout)
    )
    assert "No process type is declared" not in built.stderr
    web = tiny_app(root / "src" / "webapp", "web: true\nworker: true\n")
    built = ok(cli("build", str(web), "--app", "webapp", "--buildpack", str(plain_bp), env=env))
    assert "Run it with: pybuildpack run webapp   (all processes" in built.stdout


@pytest.mark.parametrize(
    ("procfile", "found"), [(None, "has no Procfile"), ("release: true\n", "declares no")]
)
def test_an_app_with_nothing_to_run_gets_a_warning_and_no_hint(
    env: dict[str, str], root: Path, plain_bp: Path, procfile: str | None, found: str
) -> None:
    name = "noproc" if procfile is None else "releaseonly"
    app = tiny_app(root / "src" / name, procfile)
    built = ok(cli("build", str(app), "--app", name, "--buildpack", str(plain_bp), env=env))
    assert " !     Warning: No process type is declared: there is nothing to run." in built.stderr
    assert found in built.stderr and " !         web: gunicorn myapp.wsgi" in built.stderr
    assert "Run it with" not in built.stdout


def test_config_of_an_unknown_app_is_an_error_but_set_creates_it(env: dict[str, str]) -> None:
    for action in (["list"], ["get", "X"], ["unset", "X"]):
        result = cli("config", action[0], "nosuchapp", *action[1:], env=env)
        assert result.returncode == 1 and "There is no app named 'nosuchapp'" in result.stderr, action
    ok(cli("config", "set", "nosuchapp", "X=1", env=env))
    assert ok(cli("config", "list", "nosuchapp", env=env)).stdout == "X=1\n"


def test_slug_export_leaves_out_sockets_and_fifos_and_says_so(
    env: dict[str, str], root: Path, plain_bp: Path, tmp_path: Path
) -> None:
    app = tiny_app(root / "src" / "sockets", "web: true\n")
    ok(cli("build", str(app), "--app", "sockets", "--buildpack", str(plain_bp), env=env))
    release = app_root(env, "sockets") / "releases" / "v1" / "app"
    clean = ok(cli("slug", "export", "sockets", "-o", str(tmp_path / "clean.tar.gz"), env=env))
    assert "Left out" not in clean.stdout
    (release / ".gunicorn").mkdir()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(release / ".gunicorn" / "gunicorn.ctl"))
    os.mkfifo(release / "pipe")
    try:
        exported = ok(cli("slug", "export", "sockets", "-o", str(tmp_path / "s.tar.gz"), env=env))
    finally:
        server.close()
    assert "Left out what a slug cannot hold (only files, directories and symlinks):" in exported.stdout
    assert "  .gunicorn/gunicorn.ctl (socket)" in exported.stdout and "  pipe (FIFO)" in exported.stdout
    with tarfile.open(tmp_path / "s.tar.gz") as tar:
        names = tar.getnames()
    assert "app/.gunicorn" in names and "app/hello.txt" in names
    assert "app/pipe" not in names and "app/.gunicorn/gunicorn.ctl" not in names
    to_stdout = subprocess.run(
        [sys.executable, "-m", "pybuildpack", "slug", "export", "sockets", "-o", "-"],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert to_stdout.returncode == 0 and b"gunicorn.ctl (socket)" in to_stdout.stderr
    assert to_stdout.stdout == (tmp_path / "s.tar.gz").read_bytes()  # the log stays off the slug
