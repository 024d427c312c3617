"""git push deploys: a bare repository whose pre-receive hook builds the pushed deploy branch.

git runs hooks with a minimal environment and from inside the repository, so the hook script records
the absolute interpreter and source of this pybuildpack, the app and the state dir. The hook streams
the build log (git shows it behind `remote:`); it exits non-zero, rejecting the push, when the build or
the release process fails, so the branch only moves for a released build.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pybuildpack
from pybuildpack import pids, run
from pybuildpack.errors import BuildError
from pybuildpack.output import BLOCK, Console
from pybuildpack.platform import builder, supervisor
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.source import Source, plain_git_env
from pybuildpack.platform.state import AppState, app_state, write_json

ZERO = "0" * 40
PREVIOUS_PUSH_TIMEOUT = 900.0
_ENTRY = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from pybuildpack.platform.githook import main; raise SystemExit(main(sys.argv[1:]))"
)


def hook_script(state: AppState, branch: str, state_dir: Path) -> str:
    src = Path(pybuildpack.__file__).resolve().parent.parent
    command = shlex.join(
        [
            str(Path(sys.executable).absolute()),
            "-I",
            "-u",
            "-c",
            _ENTRY,
            str(src),
            "--app",
            state.name,
            "--state-dir",
            str(state_dir),
            "--branch",
            branch,
        ]
    )
    return (
        "#!/bin/sh\n"
        f"# Written by `pybuildpack git-remote init`: a push to {branch} builds and releases {state.name}.\n"
        "# git runs hooks with a minimal environment, so the interpreter and code are named in full.\n"
        f"exec {command}\n"
    )


def init_remote(state: AppState, path: Path | None, branch: str, state_dir: Path) -> Path:
    repo = (path or state.default_repo).absolute()
    state.ensure()
    if not (repo / "HEAD").is_file():
        repo.parent.mkdir(parents=True, exist_ok=True)
        created = run.capture(
            ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", repo], env=plain_git_env()
        )
        if not created.ok:
            raise PlatformError(
                f"A bare git repository could not be created at {repo}.",
                created.output.strip(),
                "Choose another PATH, or check that git is installed.",
            )
    hook = repo / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(hook_script(state, branch, state_dir), encoding="utf-8")
    hook.chmod(0o755)
    return repo


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="pybuildpack-pre-receive")
    parser.add_argument("--app", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--branch", required=True)
    args = parser.parse_args(list(argv))
    state = app_state(args.app, args.state_dir)
    console = Console()
    status = 0
    for line in sys.stdin.read().splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        old, new, ref = parts
        if ref != f"refs/heads/{args.branch}":
            console.step(f"Not deploying {ref}: only pushes to {args.branch} build {state.name}.")
        elif not new.strip("0"):  # all zeros (SHA-1 or SHA-256): the branch is deleted
            console.step(f"Deleting {args.branch} does not change the releases of {state.name}.")
        else:
            status = max(status, deploy(state, Push(ref, old, new), console))
    return status


@dataclass(frozen=True)
class Push:
    ref: str
    old: str
    new: str


def deploy(state: AppState, push: Push, console: Console) -> int:
    started = time.monotonic()
    revision = push.new
    console.step(f"Deploying {revision[:12]} to {state.name}")

    def fill(build_dir: Path) -> Source:  # called under the app's lock
        check_not_overtaken(state, push, console)
        extract_revision(revision, build_dir)
        console.info(f"Source: git commit {revision[:12]} (pushed)")
        return Source("git push", revision)

    try:
        options = builder.BuildOptions(on_released=lambda: supervisor.notify_restart(state, console))
        built = builder.build(state, fill, options, console)
    except BuildError as error:
        console.error(error)
        return _rejected("the build failed.")
    except builder.BuildFailed as failed:
        return _rejected(failed.summary)
    seconds = time.monotonic() - started
    console.step(f"Released v{built.number} (build {seconds:.1f} s)")
    return 0


def check_not_overtaken(state: AppState, push: Push, console: Console) -> None:
    """Under the app's lock: refuse a push that another push overtook while this one waited.

    git checks the branch's old value only when it updates the ref, after this hook; a push that
    waited for the lock while another one was deployed would be released and then refused by git. So
    each push records its receive-pack (this hook's parent); the next one waits for that to exit (the
    ref is then final) and compares the branch with the value its own push started from."""
    marker = state.root / "push.json"
    try:
        previous = int(json.loads(marker.read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        previous = 0
    if previous and previous != os.getppid() and pids.alive(previous):
        console.info("Waiting for the previous push to finish updating the branch")
        deadline = time.monotonic() + PREVIOUS_PUSH_TIMEOUT
        while pids.alive(previous) and time.monotonic() < deadline:
            time.sleep(0.1)
    write_json(marker, {"pid": os.getppid()})
    now = run.capture(["git", "rev-parse", "--verify", "-q", push.ref], env=dict(os.environ))
    current = now.output.strip() if now.ok and now.output.strip() else "0" * len(push.old)
    if current != push.old:
        branch = push.ref.removeprefix("refs/heads/")
        raise builder.BuildFailed(
            f"{branch} moved to {current[:12]} (another push) while this push waited; "
            "fetch, merge or rebase, and push again."
        )


def _rejected(summary: str) -> int:
    sys.stdout.flush()
    print(f"{BLOCK}Push rejected, {summary}", file=sys.stderr, flush=True)
    return 1


def extract_revision(revision: str, build_dir: Path) -> None:
    """The pushed tree into ``build_dir`` (the hook's environment finds the quarantined objects)."""
    build_dir.mkdir(parents=True)
    archive = build_dir.with_name("source.tar")
    result = run.to_file(["git", "archive", "--format=tar", revision], env=dict(os.environ), output=archive)
    if not result.ok:
        raise PlatformError(
            f"The pushed commit {revision[:12]} could not be read.", result.output.strip(), "Push again."
        )
    with tarfile.open(archive) as tar:
        tar.extractall(build_dir, filter="data")
    archive.unlink()
