"""Private dependencies (issue 9): git over SSH with the CUSTOM_SSH_KEY deploy key, package indexes
and git over HTTP behind basic auth, and no secret anywhere after a build.

Everything runs for real on 127.0.0.1: an OpenSSH server started here with its own host key, serving
bare repositories of a small package built here; a static server behind basic auth serving the test
index and the same repositories over git's dumb HTTP protocol. After every build, successful or not,
the build dir (slug), the cache dir, the build's temp dir, the log and the report are scanned for the
key's base64, its PEM body lines and each password.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pybuildpack import deploy_key
from pybuildpack.env import is_secret_name, mask_secrets
from pybuildpack.errors import BuildError
from pybuildpack.scrub import without_credentials
from support import FIXTURE_APPS, REPO
from support.buildpack import COMPILE_TIMEOUT, CompileResult, run_script, write_env_dir
from support.index import PackageIndex
from support.mirror import RuntimeMirror
from support.platform import cli, ok, platform_env
from support.private import (
    SSHD,
    AuthServer,
    KeyPair,
    SshServer,
    bare_repo,
    basic_auth_server,
    head_commit,
    leaks,
    make_key,
    make_package,
    sshd,
)
from test_pipenv import pipfile_hash
from test_uv import needs, site_python

Compile = Callable[..., CompileResult]
INDEX_USER, INDEX_PASSWORD = "builder", "pw-Zq8xV3-index"
GIT_TOKEN = "tok-Hh27pLq9-git"

pytestmark = pytest.mark.skipif(not SSHD.is_file() or not shutil.which("ssh"), reason="needs OpenSSH")


@dataclass
class Private:
    key: KeyPair
    ssh: SshServer
    web: AuthServer  # the test index behind basic auth (INDEX_USER, INDEX_PASSWORD)
    git_web: AuthServer  # the git repos over dumb HTTP, behind basic auth (a token as password)
    repos: Path

    def config(self, **extra: str) -> dict[str, str]:
        return {"CUSTOM_SSH_KEY": self.key.base64, "CUSTOM_SSH_KEY_HOSTS": "127.0.0.1", **extra}

    def secrets(self) -> list[str]:
        return [self.key.base64, *self.key.body_lines(), INDEX_PASSWORD, GIT_TOKEN]


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory, package_index: PackageIndex) -> Iterator[Private]:
    root = tmp_path_factory.mktemp("private")
    key = make_key(root / "keys" / "deploy_key")
    with sshd(root / "sshd", key) as server:
        server.root.mkdir()
        for name in ("privpkg", "privedit"):
            bare_repo(make_package(root, name, f"hello from {name}"), server.root / f"{name}.git")
        web_root = root / "web"
        web_root.mkdir()
        for part in ("simple", "wheels"):
            (web_root / part).symlink_to(package_index.root / part)
        with (
            basic_auth_server(web_root, INDEX_USER, INDEX_PASSWORD) as web,
            basic_auth_server(server.root, "x-access-token", GIT_TOKEN) as git_web,
        ):
            yield Private(key, server, web, git_web, server.root)


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "build-tmp"
    path.mkdir()
    return path


@pytest.fixture
def build(compile_app: Compile, temp_dir: Path, private: Private) -> Compile:
    """compile_app with the build's TMPDIR in a dir of its own, and the leak scan after every build."""

    def run(app: str | Path, *, secrets: tuple[str, ...] = (), **kwargs: Any) -> CompileResult:
        extra_env = {"TMPDIR": str(temp_dir), **kwargs.pop("extra_env", {})}
        result = compile_app(app, extra_env=extra_env, **kwargs)
        assert_no_leaks(result, private, temp_dir, secrets)
        return result

    return run


def assert_no_leaks(
    result: CompileResult, private: Private, temp_dir: Path, secrets: tuple[str, ...] = ()
) -> None:
    report = run_script("report", result.build_dir, result.cache_dir, result.env_dir, env=result.env)
    texts = [result.stdout, result.stderr, report.stdout, report.stderr]
    wanted = [*private.secrets(), *secrets]
    found = leaks(wanted, texts, [result.build_dir, result.cache_dir, temp_dir])
    assert not found, f"secrets found: {found}\n{result.describe()}"
    assert not list(temp_dir.glob("pybuildpack-ssh-*")), "the deploy key directory was left behind"


def app(tmp_path: Path, name: str, requirements: str, python: str) -> Path:
    path = tmp_path / "apps" / name
    path.mkdir(parents=True)
    (path / "requirements.txt").write_text(requirements)
    (path / ".python-version").write_text(f"{python}\n")
    return path


def test_pip_git_ssh_with_deploy_key(
    build: Compile, private: Private, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """`name @ git+ssh://` and `-e git+ssh://` both install with the deploy key; the host stays
    readable in the log; the key is gone after the build."""
    needs(runtime_mirror, "3.13")
    ssh = private.ssh
    requirements = f"privpkg @ git+{ssh.url('privpkg.git')}\n-e git+{ssh.url('privedit.git')}#egg=privedit\n"
    source = app(tmp_path, "pip-ssh", requirements, "3.13")
    result = build(source, config=private.config()).check()
    assert "Using the deploy key in CUSTOM_SSH_KEY for git over SSH to 127.0.0.1" in result.stdout
    assert f"127.0.0.1:{ssh.port}" in result.stdout
    check = site_python(result, "import privpkg, privedit; print(privpkg.MESSAGE, privedit.MESSAGE)")
    assert check.stdout == "hello from privpkg hello from privedit\n", check.stderr

    # Strict host key checking with CUSTOM_SSH_KNOWN_HOSTS: the right key builds, a wrong one fails.
    known = private.config(CUSTOM_SSH_KNOWN_HOSTS=ssh.known_hosts_line())
    strict = build(source, config=known).check()
    assert "host keys checked against CUSTOM_SSH_KNOWN_HOSTS" in strict.stdout
    other = make_key(tmp_path / "other" / "host_key").public.read_text().split()
    wrong = private.config(CUSTOM_SSH_KNOWN_HOSTS=f"[127.0.0.1]:{ssh.port} {other[0]} {other[1]}")
    refused = build(source, config=wrong)
    assert refused.returncode == 1, refused.describe()
    assert "Host key verification failed" in refused.stdout
    assert "Could not install the dependencies with pip." in refused.stderr


def test_pip_git_ssh_without_key_fails(build: Compile, private: Private, tmp_path: Path) -> None:
    """The server accepts only the deploy key: without CUSTOM_SSH_KEY the same app cannot build."""
    requirements = f"privpkg @ git+{private.ssh.url('privpkg.git')}\n"
    result = build(app(tmp_path, "pip-no-key", requirements, "3.13"))
    assert result.returncode == 1, result.describe()
    assert "Permission denied (publickey)" in result.stdout or "Host key verification failed" in result.stdout


def test_leak_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    """The scan used after every build does find a secret in a file and in a text."""
    (tmp_path / "deep" / "dir").mkdir(parents=True)
    (tmp_path / "deep" / "dir" / "config").write_bytes(b"url = http://x:" + GIT_TOKEN.encode() + b"@h/\n")
    found = leaks([GIT_TOKEN, "absent-value"], ["log " + GIT_TOKEN], [tmp_path])
    assert len(found) == 2 and "deep/dir/config" in found[1], found


def no_ssh_path(tmp_path: Path) -> str:
    """A PATH with what bin/compile needs (sh, dirname; python3 is found at its usual place), no ssh."""
    bin_dir = tmp_path / "no-ssh-bin"
    bin_dir.mkdir()
    for tool in ("sh", "dirname"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


BAD_INPUTS = {
    "not-base64": ("!!not*base64!!" * 4, "is not valid base64", "not-base64"),
    "key-text": (None, "holds a key file's text, not its base64 encoding", "not-base64"),
    "public-key": (None, "holds a public key: it must be the private key", "public-key"),
    "passphrase": (None, "is protected by a passphrase", "passphrase"),
    "passphrase-pem": (None, "is protected by a passphrase", "passphrase"),
    "not-a-key": (None, "does not decode to a private key", "not-a-key"),
    "no-hosts": (None, "but CUSTOM_SSH_KEY_HOSTS is not", "no-hosts"),
    "no-ssh": (None, "there is no `ssh` command on this build host", "no-ssh"),
    "bad-hosts": (None, "contains 'git@example.com', which is not a host name", "invalid-hosts"),
    "host-with-port": (None, "contains 'example.com:2222', which is not a host name", "invalid-hosts"),
    "bad-known-hosts": (None, "Line 2 of the config var CUSTOM_SSH_KNOWN_HOSTS", "invalid-known-hosts"),
}


def bad_config(case: str, private: Private, tmp_path: Path) -> dict[str, str]:
    if case in BAD_INPUTS and BAD_INPUTS[case][0] is not None:
        return private.config(CUSTOM_SSH_KEY=str(BAD_INPUTS[case][0]))
    if case == "key-text":
        return private.config(CUSTOM_SSH_KEY=private.key.text)
    if case == "public-key":
        return private.config(CUSTOM_SSH_KEY=base64.b64encode(private.key.public.read_bytes()).decode())
    if case.startswith("passphrase"):
        fmt = "PEM" if case.endswith("pem") else None
        kind = "rsa" if fmt else "ed25519"
        locked = make_key(tmp_path / "locked" / "key", passphrase="correct horse", kind=kind, fmt=fmt)
        return private.config(CUSTOM_SSH_KEY=locked.base64)
    if case == "not-a-key":
        return private.config(CUSTOM_SSH_KEY=base64.b64encode(b"just some text\n" * 5).decode())
    config = private.config()
    if case == "no-hosts":
        del config["CUSTOM_SSH_KEY_HOSTS"]
    if case == "bad-hosts":
        config["CUSTOM_SSH_KEY_HOSTS"] = "127.0.0.1, ::1, git@example.com"
    if case == "host-with-port":
        config["CUSTOM_SSH_KEY_HOSTS"] = "example.com:2222"
    if case == "bad-known-hosts":
        config["CUSTOM_SSH_KNOWN_HOSTS"] = f"{private.ssh.known_hosts_line()}\nnot-a-known-hosts-line\n"
    return config


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_deploy_key_input_fails_fast_naming_the_variable(
    case: str, build: Compile, private: Private, tmp_path: Path
) -> None:
    """Each bad input stops the build before anything is installed, with an error that names the
    variable, says what to do, and never prints the value."""
    config = bad_config(case, private, tmp_path)
    source = app(tmp_path, "bad-input", "six\n", "3.13")
    extra_env = {"PATH": no_ssh_path(tmp_path)} if case == "no-ssh" else {}
    value = config["CUSTOM_SSH_KEY"]
    secrets = (value, *(line for line in value.splitlines() if len(line) > 20))
    result = build(source, config=config, extra_env=extra_env, secrets=secrets)
    assert result.returncode == 1, result.describe()
    _value, message, reason = BAD_INPUTS[case]
    assert message in result.stderr, result.describe()
    assert "CUSTOM_SSH_KEY" in result.stderr
    assert "Installing Python" not in result.stdout  # failed during the analysis
    assert result.report()["failure_reason"] == f"custom-ssh-key::{reason}"
    if case == "no-ssh":
        assert "openssh-client" in result.stderr
    if case == "no-hosts":
        assert "pybuildpack config set APP CUSTOM_SSH_KEY_HOSTS=git.example.com" in result.stderr
    if case == "public-key":
        assert "the one without `.pub`" in result.stderr


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[int, threading.Event]]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers: an ssh connecting to it
    waits, so a build can be stopped while its deploy key is on disk."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _addr = listener.accept()
                held.append(conn)
                accepted.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1]), accepted
    finally:
        listener.close()
        for conn in held:
            conn.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_deploy_key_removed_when_the_build_is_stopped(
    signum: signal.Signals,
    build: Compile,
    *,
    build_env: dict[str, str],
    private: Private,
    tmp_path: Path,
    temp_dir: Path,
    runtime_mirror: RuntimeMirror,
) -> None:
    """SIGTERM or SIGINT during the install: the key directory is removed before the build exits.
    SIGKILL: it stays (only inside the build's temp dir), and the next build removes it."""
    needs(runtime_mirror, "3.13")
    with silent_server() as (port, accepted):
        url = f"ssh://{private.ssh.user}@127.0.0.1:{port}/srv/privpkg.git"
        source = app(tmp_path, "stopped", f"privpkg @ git+{url}\n", "3.13")
        build_dir, cache_dir, env_dir = (tmp_path / name for name in ("build", "cache", "env"))
        shutil.copytree(source, build_dir)
        write_env_dir(env_dir, private.config())
        cache_dir.mkdir()
        log = tmp_path / "log.txt"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                ["sh", str(REPO / "bin" / "compile"), str(build_dir), str(cache_dir), str(env_dir)],
                env={**build_env, "TMPDIR": str(temp_dir)}, cwd=build_dir, stdin=subprocess.DEVNULL,
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            assert accepted.wait(timeout=COMPILE_TIMEOUT), log.read_text()
            assert len(list(temp_dir.glob("pybuildpack-ssh-*"))) == 1
            os.kill(proc.pid, signum)
            code = proc.wait(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log.read_text()
    assert not leaks(private.secrets(), [output], [build_dir, cache_dir])
    left = list(temp_dir.glob("pybuildpack-ssh-*"))
    if signum != signal.SIGKILL:
        assert (code, left) == (128 + signum, []), output
        return
    assert code == -signal.SIGKILL and len(left) == 1
    assert {path.name for path in left[0].iterdir()} >= {"deploy_key", "config", "bin"}
    # The next build (here without any deploy key) removes what the killed one left.
    build(app(tmp_path, "next", "six\n", "3.13")).check()
    assert not list(temp_dir.glob("pybuildpack-ssh-*"))


def test_pip_private_index_and_git_over_http_with_tokens(
    build: Compile, private: Private, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """The config var PIP_INDEX_URL with user:password@ (the platform's own index URL, without them, is
    refused by the server), and ${GIT_TOKEN} in requirements.txt for git over HTTP, plain and -e."""
    needs(runtime_mirror, "3.13")
    git = private.git_web.url().replace("http://", "git+http://x-access-token:${GIT_TOKEN}@")
    requirements = f"typing-extensions\nprivpkg @ {git}privpkg.git\n-e {git}privedit.git#egg=privedit\n"
    config = {"PIP_INDEX_URL": private.web.url("simple/", credentials=True), "GIT_TOKEN": GIT_TOKEN}
    plain_index = {"PIP_INDEX_URL": private.web.url("simple/")}
    source = app(tmp_path, "pip-auth", requirements, "3.13")
    result = build(source, config=config, extra_env=plain_index).check()
    code = "import privpkg, privedit, typing_extensions; print(privpkg.MESSAGE, privedit.MESSAGE)"
    check = site_python(result, code)
    assert check.stdout == "hello from privpkg hello from privedit\n", check.stderr
    shown = f"Looking in indexes: http://{INDEX_USER}:****@127.0.0.1:{private.web.port}/simple/"
    assert shown in result.stdout

    # Without the credentials, the same build fails: the index really requires them.
    refused = build(source, config={"GIT_TOKEN": GIT_TOKEN}, extra_env=plain_index)
    assert refused.returncode == 1, refused.describe()


def test_pip_extra_index_url_with_credentials(
    build: Compile, private: Private, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """PIP_EXTRA_INDEX_URL with user:password@ as a config var, next to an index that refuses."""
    needs(runtime_mirror, "3.13")
    config = {"PIP_EXTRA_INDEX_URL": private.web.url("simple/", credentials=True)}
    source = app(tmp_path, "pip-extra", "typing-extensions\n", "3.13")
    result = build(source, config=config, extra_env={"PIP_INDEX_URL": private.web.url("simple/")}).check()
    assert site_python(result, "import typing_extensions").returncode == 0


def test_masking_hides_secrets_and_keeps_hosts_readable() -> None:
    """Values of config vars whose names say secret, and URL userinfo, are masked; other values stay."""
    config = {
        "CUSTOM_SSH_KEY_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "SECRET_KEY_BASE": "s3cr3t-base-value",
        "GITHUB_TOKEN": "ghx_abcdef123456",
        "UV_INDEX_PRIVATE_USERNAME": "builder",
        "UV_INDEX_PRIVATE_PASSWORD": "pw-uv-123",
        "API_KEY": "key-value-1",
        "CUSTOM_SSH_KNOWN_HOSTS": "[127.0.0.1]:2222 ssh-ed25519 AAAAC3Nza",
        "CUSTOM_SSH_KEY": "bGluZTEK\nbGluZTIK-second-line",
        "FEATURE_AUTH": "on",  # too short to mask without garbling the log
    }
    line = (
        "Looking in indexes: http://builder:pw-x@127.0.0.1:8080/simple/ http://tok123@10.0.0.1/simple/ "
        "ssh://git@127.0.0.1:2222/repo.git mysite.settings s3cr3t-base-value ghx_abcdef123456 "
        "builder pw-uv-123 key-value-1 bGluZTIK-second-line on"
    )
    assert mask_secrets(line, config) == (
        "Looking in indexes: http://builder:****@127.0.0.1:8080/simple/ http://****@10.0.0.1/simple/ "
        "ssh://git@127.0.0.1:2222/repo.git mysite.settings **** **** builder **** **** **** on"
    )
    assert not is_secret_name("CUSTOM_SSH_KEY_HOSTS") and not is_secret_name("PIP_INDEX_URL")
    assert all(is_secret_name(name) for name in ("CUSTOM_SSH_KEY", "DB_PASS", "POETRY_HTTP_BASIC_X_PASSWORD"))


def test_scrub_removes_url_credentials_keeping_ssh_logins() -> None:
    text = "url = https://x-access-token:tok@h/r.git\nurl = http://tok@h/r\nurl = ssh://git@h:22/r.git\n"
    assert (
        without_credentials(text) == "url = https://h/r.git\nurl = http://h/r\nurl = ssh://git@h:22/r.git\n"
    )


@dataclass
class LockTools:
    """uv and Poetry (with the mirror plugin) at the buildpack's pins, from the test index, to lock
    the apps below against this session's servers (their ports and commits change every session)."""

    uv: Path
    poetry: Path
    key: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        """An `ssh` first on PATH that uses the key (Poetry's git client ignores GIT_SSH_COMMAND)."""
        bin_dir = self.home / "bin"
        if not bin_dir.is_dir():
            bin_dir.mkdir()
            options = f"-F /dev/null -i {self.key} -o IdentitiesOnly=yes -o BatchMode=yes"
            options += " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
            (bin_dir / "ssh").write_text(f'#!/bin/sh\nexec /usr/bin/ssh {options} "$@"\n')
            (bin_dir / "ssh").chmod(0o755)
        base = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home)}
        return {**base, "UV_PYTHON_DOWNLOADS": "never", "POETRY_VIRTUALENVS_CREATE": "false", **extra}

    def lock(self, cmd: list[str | Path], app_dir: Path, **extra: str) -> None:
        env = self.env(
            UV_CACHE_DIR=str(self.home / "uv"), POETRY_CACHE_DIR=str(self.home / "poetry"), **extra
        )
        proc = subprocess.run(
            [str(part) for part in cmd],
            cwd=app_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"


def _pins(tool: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((REPO / "src" / "pybuildpack" / "data" / f"{tool}.json").read_text())
    return data


@pytest.fixture(scope="module")
def lock_tools(
    tmp_path_factory: pytest.TempPathFactory, package_index: PackageIndex, private: Private
) -> LockTools:
    root = tmp_path_factory.mktemp("lock-tools")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    poetry = _pins("poetry")
    wanted = [f"uv=={_pins('uv')['uv']}", f"poetry=={poetry['poetry']}"]
    wanted.append(f"poetry-plugin-pypi-mirror=={poetry['poetry-plugin-pypi-mirror']}")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    env = {"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": os.devnull, "HOME": str(root)}
    proc = subprocess.run(
        [*pip, "--index-url", package_index.url, "--only-binary=:all:", *wanted],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (root / "home").mkdir()
    return LockTools(venv / "bin" / "uv", venv / "bin" / "poetry", private.key.private, root / "home")


def private_app(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    path = tmp_path / "apps" / name
    path.mkdir(parents=True)
    for file, text in files.items():
        (path / file).write_text(text)
    return path


def assert_private_package_works(result: CompileResult) -> None:
    check = site_python(result, "import privpkg, typing_extensions; print(privpkg.MESSAGE)")
    assert check.stdout == "hello from privpkg\n", check.stderr


def test_uv_git_ssh_and_index_credentials(
    build: Compile,
    private: Private,
    lock_tools: LockTools,
    *,
    package_index: PackageIndex,
    tmp_path: Path,
    runtime_mirror: RuntimeMirror,
) -> None:
    """uv.lock app: a git source over SSH (deploy key) and a named index behind basic auth, with
    UV_INDEX_PRIVATE_USERNAME / UV_INDEX_PRIVATE_PASSWORD as config vars (the platform's index,
    PIP_INDEX_URL, stays the default one)."""
    needs(runtime_mirror, "3.13")
    index = private.web.url("simple/")
    pyproject = f"""\
[project]
name = "uv-private"
version = "0.0.0"
requires-python = ">=3.11"
dependencies = ["typing-extensions", "privpkg"]

[tool.uv.sources]
privpkg = {{ git = "{private.ssh.url("privpkg.git")}" }}
typing-extensions = {{ index = "private" }}

[[tool.uv.index]]
name = "private"
url = "{index}"
explicit = true
"""
    source = private_app(tmp_path, "uv-private", {"pyproject.toml": pyproject, ".python-version": "3.13\n"})
    credentials = {"UV_INDEX_PRIVATE_USERNAME": INDEX_USER, "UV_INDEX_PRIVATE_PASSWORD": INDEX_PASSWORD}
    public = {"UV_DEFAULT_INDEX": package_index.url, **credentials}
    lock_tools.lock([lock_tools.uv, "lock", "--python", sys.executable], source, **public)
    assert index in (source / "uv.lock").read_text()
    result = build(source, config=private.config(**credentials)).check()
    assert "Using the deploy key in CUSTOM_SSH_KEY" in result.stdout
    assert_private_package_works(result)


def test_poetry_git_ssh_and_http_basic_credentials(
    build: Compile, private: Private, lock_tools: LockTools, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """poetry.lock app: a git dependency over SSH (deploy key; Poetry's git client runs `ssh` from
    PATH) and a primary source behind basic auth, with POETRY_HTTP_BASIC_PRIVATE_USERNAME/PASSWORD."""
    needs(runtime_mirror, "3.13")
    index = private.web.url("simple/")
    pyproject = f"""\
[project]
name = "poetry-private"
version = "0.0.0"
requires-python = ">=3.11"
dependencies = ["typing-extensions", "privpkg @ git+{private.ssh.url("privpkg.git")}"]

[tool.poetry]
package-mode = false

[[tool.poetry.source]]
name = "private"
url = "{index}"
priority = "primary"
"""
    source = private_app(
        tmp_path, "poetry-private", {"pyproject.toml": pyproject, ".python-version": "3.13\n"}
    )
    credentials = {
        "POETRY_HTTP_BASIC_PRIVATE_USERNAME": INDEX_USER,
        "POETRY_HTTP_BASIC_PRIVATE_PASSWORD": INDEX_PASSWORD,
    }
    lock_tools.lock([lock_tools.poetry, "lock", "--no-interaction"], source, **credentials)
    assert "resolved_reference" in (source / "poetry.lock").read_text()
    result = build(source, config=private.config(**credentials)).check()
    assert "Using the deploy key in CUSTOM_SSH_KEY" in result.stdout
    assert_private_package_works(result)


def test_pipenv_git_ssh_and_index_url_in_pipfile_source(
    build: Compile, private: Private, tmp_path: Path, runtime_mirror: RuntimeMirror
) -> None:
    """Pipfile.lock app: a git package over SSH (deploy key) and the source url "${PIP_INDEX_URL}",
    which Pipenv expands from the config var holding user:password@."""
    needs(runtime_mirror, "3.13")
    url = private.ssh.url("privpkg.git")
    pipfile = f"""\
[[source]]
url = "${{PIP_INDEX_URL}}"
verify_ssl = false
name = "index"

[packages]
typing-extensions = "*"
privpkg = {{git = "{url}", ref = "main"}}

[requires]
python_version = "3.13"
"""
    source = private_app(tmp_path, "pipenv-private", {"Pipfile": pipfile})
    basic = json.loads((FIXTURE_APPS / "pipenv_basic" / "Pipfile.lock").read_text())
    lock = {
        "_meta": {
            "hash": {"sha256": pipfile_hash(source / "Pipfile")},
            "pipfile-spec": 6,
            "requires": {"python_version": "3.13"},
            "sources": [{"name": "index", "url": "${PIP_INDEX_URL}", "verify_ssl": False}],
        },
        "default": {
            "privpkg": {"git": url, "ref": head_commit(private.repos / "privpkg.git")},
            "typing-extensions": basic["default"]["typing-extensions"],
        },
        "develop": {},
    }
    (source / "Pipfile.lock").write_text(json.dumps(lock, indent=4) + "\n")
    config = private.config(PIP_INDEX_URL=private.web.url("simple/", credentials=True))
    result = build(source, config=config, extra_env={"PIP_INDEX_URL": private.web.url("simple/")}).check()
    assert "Using the deploy key in CUSTOM_SSH_KEY" in result.stdout
    assert_private_package_works(result)


def test_local_platform_build_with_deploy_key(
    private: Private,
    package_index: PackageIndex,
    runtime_mirror: RuntimeMirror,
    tmp_path: Path,
    temp_dir: Path,
) -> None:
    """`pybuildpack config set` then `pybuildpack build`: the key works, and apart from the config
    store itself (mode 0600) nothing the platform keeps (releases, slug, cache, logs) holds a secret."""
    needs(runtime_mirror, "3.13")
    env = {**platform_env(tmp_path / "platform", package_index, runtime_mirror), "TMPDIR": str(temp_dir)}
    source = app(tmp_path, "platform-ssh", f"privpkg @ git+{private.ssh.url('privpkg.git')}\n", "3.13")
    pairs = [f"{name}={value}" for name, value in private.config().items()]
    ok(cli("config", "set", "privapp", *pairs, env=env))
    built = ok(cli("build", str(source), "--app", "privapp", env=env))
    log = built.stdout + built.stderr
    assert "Using the deploy key in CUSTOM_SSH_KEY for git over SSH to 127.0.0.1" in log
    state = Path(env["PYBUILDPACK_STATE_DIR"])
    config_store = state / "apps" / "privapp" / "config.json"
    assert config_store.stat().st_mode & 0o777 == 0o600
    kept = [path for path in state.rglob("*") if path.is_file() and path != config_store]
    assert not leaks(private.secrets(), [log], [*kept, temp_dir])
    app_dir = state / "apps" / "privapp" / "current" / "app"
    python = app_dir / ".heroku" / "python" / "bin" / "python"
    check = subprocess.run(
        [str(python), "-c", "import privpkg; print(privpkg.MESSAGE)"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert check.stdout == "hello from privpkg\n", check.stderr


@pytest.mark.parametrize("fmt", [None, "PEM", "PKCS8"])
def test_deploy_key_formats_accepted_and_passphrases_refused(tmp_path: Path, fmt: str | None) -> None:
    """OpenSSH, PEM and PKCS#8 private keys are accepted with or without a trailing newline, as one
    base64 line or wrapped (`base64` without -w0) or with CRLF; with a passphrase, each is refused."""
    kind = "ed25519" if fmt is None else "rsa"
    key = make_key(tmp_path / "plain" / "key", kind=kind, fmt=fmt)
    raw = key.private.read_bytes()
    variants = [raw, raw.rstrip(b"\n"), raw.replace(b"\n", b"\r\n")]
    for variant in variants:
        encoded = base64.b64encode(variant).decode()
        for value in (encoded, base64.encodebytes(variant).decode()):
            found = deploy_key.read({"CUSTOM_SSH_KEY": value, "CUSTOM_SSH_KEY_HOSTS": "a.example, b.example"})
            assert found is not None and found.private_key == key.text
            assert found.hosts == ("a.example", "b.example") and found.known_hosts is None
    locked = make_key(tmp_path / "locked" / "key", kind=kind, fmt=fmt, passphrase="secret words")
    with pytest.raises(BuildError) as refused:
        deploy_key.read({"CUSTOM_SSH_KEY": locked.base64, "CUSTOM_SSH_KEY_HOSTS": "a.example"})
    assert refused.value.failure_reason == "custom-ssh-key::passphrase"
    assert deploy_key.read({"CUSTOM_SSH_KEY_HOSTS": "a.example"}) is None
