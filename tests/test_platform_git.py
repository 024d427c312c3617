"""git push deploys end to end: a real bare repository, real pushes, a real `start` being restarted."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pybuildpack.output import Console
from pybuildpack.platform.state import AppState, locked
from support import SRC
from support.buildpack import free_port, http_get
from support.index import PackageIndex
from support.mirror import RuntimeMirror
from support.platform import (
    child_pids,
    cli,
    commit_all,
    copy_example,
    git,
    group_alive,
    init_repo,
    ok,
    platform_env,
    started,
)


def push(source: Path, env: dict[str, str], *refspec: str) -> subprocess.CompletedProcess[str]:
    return git("push", "local", *(refspec or ("main",)), cwd=source, env=env)


def remote_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [
        line[len("remote: ") :].rstrip() for line in result.stderr.splitlines() if line.startswith("remote: ")
    ]


def say_hello(source: Path, text: str) -> None:
    app = source / "app.py"
    app.write_text(app.read_text().replace("Hello from pybuildpack!", text))


def test_git_push_deploys_restarts_and_rejects(
    tmp_path: Path, package_index: PackageIndex, runtime_mirror: RuntimeMirror
) -> None:
    env = platform_env(tmp_path, package_index, runtime_mirror)
    source = copy_example("flask-app", tmp_path / "src" / "pushed")
    init_repo(source)
    created = ok(cli("git-remote", "init", "pushed", env=env))
    repo = tmp_path / "state" / "apps" / "pushed" / "repo.git"
    assert str(repo) in created.stdout
    ok(git("remote", "add", "local", str(repo), cwd=source))
    port = free_port()

    began = time.monotonic()
    first = push(source, env)
    assert first.returncode == 0, first.stderr
    lines = remote_lines(first)
    assert lines[-1].startswith("-----> Released v1 (build "), lines
    with started("pushed", port, env, tmp_path / "start.log", "--boot-timeout", "5") as proc:
        assert http_get(f"http://127.0.0.1:{port}/", attempts=120).status == 200
        print(f"cold: git push to HTTP 200 in {time.monotonic() - began:.1f} s")

        # A good push serves the new code; the old web process is stopped only after the new one is up.
        say_hello(source, "Hello again!")
        commit_all(source, "v2")
        began = time.monotonic()
        second = push(source, env)
        assert second.returncode == 0, second.stderr
        assert "the new web process accepts connections" in second.stderr
        assert remote_lines(second)[-1].startswith("-----> Released v2 (build ")
        assert http_get(f"http://127.0.0.1:{port}/").text.startswith("Hello again!")
        print(f"warm: git push to HTTP 200 in {time.monotonic() - began:.1f} s")
        old_web = child_pids(tmp_path / "start.log")[0]
        assert not group_alive(old_web)

        # A bad push is rejected and the previous release keeps serving.
        (source / ".python-version").write_text("3.12.invalid\n")
        commit_all(source, "bad version")
        bad = push(source, env)
        assert bad.returncode != 0
        assert remote_lines(bad)[-1] == " !     Push rejected, failed to compile Python app."
        assert "[remote rejected]" in bad.stderr
        assert http_get(f"http://127.0.0.1:{port}/").text.startswith("Hello again!")
        ok(git("reset", "-q", "--hard", "HEAD~1", cwd=source))

        # Another branch is accepted but not built.
        other = push(source, env, "HEAD:refs/heads/feature")
        assert other.returncode == 0
        assert "Not deploying refs/heads/feature: only pushes to main build pushed." in other.stderr

        # A new web process that never listens: the old one keeps serving, and the push says so.
        (source / "Procfile").write_text("web: sleep 600\n")
        commit_all(source, "web never listens")
        stuck = push(source, env)
        assert stuck.returncode == 0, stuck.stderr
        assert "did not accept connections" in stuck.stderr and "keeps serving" in stuck.stderr
        assert http_get(f"http://127.0.0.1:{port}/").text.startswith("Hello again!")

        # Roll back to v2: the restart serves v2 again from a fresh process.
        ok(cli("rollback", "pushed", "v2", env=env))
        assert http_get(f"http://127.0.0.1:{port}/").text.startswith("Hello again!")
        releases = ok(cli("releases", "pushed", env=env)).stdout.splitlines()
        assert [line.split()[:2] for line in releases[1:5]] == [
            ["*", "v4"],
            ["v3", "succeeded"],
            ["v2", "succeeded"],
            ["v1", "succeeded"],
        ]
        assert "rollback to v2" in releases[1]
        proc.terminate()
        assert proc.wait(timeout=40) == 0
    assert not any(group_alive(pid) for pid in child_pids(tmp_path / "start.log"))


def test_builds_of_one_app_are_serialised(tmp_path: Path) -> None:
    waiter = (
        "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
        "from pybuildpack.output import Console; from pybuildpack.platform.state import AppState, locked\n"
        "with locked(AppState('app', Path(sys.argv[2])), Console()): print('got it', flush=True)"
    )
    with locked(AppState("app", tmp_path), Console()):
        proc = subprocess.Popen(
            [sys.executable, "-c", waiter, str(SRC), str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "-----> Waiting for another build of app to finish\n"
        time.sleep(0.5)
        assert proc.poll() is None
    out, _ = proc.communicate(timeout=30)
    assert out == "got it\n"


@pytest.mark.parametrize("name", ["Bad Name", "UPPER", "a/b"])
def test_app_names_are_checked(tmp_path: Path, name: str) -> None:
    result = cli(
        "config",
        "set",
        name,
        "A=1",
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(SRC),
            "PYBUILDPACK_STATE_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 1 and "is not valid" in result.stderr
