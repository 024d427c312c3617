"""Private dependencies for the tests, all on 127.0.0.1: a real sshd serving bare git repositories to
one deploy key, a static file server behind HTTP basic auth (the package index and git's dumb HTTP
protocol), and a scan of everything a build leaves behind for secrets.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from support.buildpack import free_port

SSHD = Path("/usr/sbin/sshd")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env or GIT_ENV, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"{cmd} exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path

    @property
    def text(self) -> str:
        return self.private.read_text()

    @property
    def base64(self) -> str:
        return base64.b64encode(self.private.read_bytes()).decode()

    def body_lines(self) -> list[str]:
        """The PEM body lines: what a leaked key file would contain."""
        return [line for line in self.text.splitlines() if line and not line.startswith("-----")]


def make_key(path: Path, *, passphrase: str = "", kind: str = "ed25519", fmt: str | None = None) -> KeyPair:
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "deploy@test", "-f", str(path)]
    if fmt:
        cmd += ["-m", fmt]
    run(cmd)
    return KeyPair(path, path.with_name(path.name + ".pub"))


def make_package(root: Path, name: str, message: str) -> Path:
    """A tiny pure-Python package (setuptools backend, from the test index) as a git work tree."""
    src = root / f"{name}-src"
    (src / name).mkdir(parents=True)
    (src / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n\n[tool.setuptools]\npackages = ["{name}"]\n'
    )
    (src / name / "__init__.py").write_text(f"MESSAGE = {message!r}\n")
    run(["git", "init", "-q", "-b", "main", str(src)])
    run(["git", "add", "."], cwd=src)
    run(["git", "commit", "-q", "-m", "private package"], cwd=src)
    return src


def bare_repo(src: Path, target: Path) -> Path:
    """A bare clone of `src`, also readable over git's dumb HTTP protocol."""
    run(["git", "clone", "-q", "--bare", str(src), str(target)])
    run(["git", "update-server-info"], cwd=target)
    return target


def head_commit(repo: Path) -> str:
    return run(["git", "rev-parse", "HEAD"], cwd=repo).strip()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert proc.poll() is None, f"sshd exited with {proc.returncode}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"sshd did not listen on 127.0.0.1:{port}")


@dataclass
class SshServer:
    port: int
    user: str
    root: Path  # bare repositories live here
    host_public_key: str
    log: Path

    def url(self, repo: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.root / repo}"

    def known_hosts_line(self) -> str:
        kind, key = self.host_public_key.split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {key}"


@contextlib.contextmanager
def sshd(workdir: Path, authorized: KeyPair) -> Iterator[SshServer]:
    """A real OpenSSH server on 127.0.0.1 with its own config and host key, accepting only
    `authorized` for the current user (key authentication only)."""
    workdir.mkdir(parents=True)
    host_key = workdir / "host_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)])
    shutil.copy(authorized.public, workdir / "authorized_keys")
    port, user = free_port(), getpass.getuser()
    log = workdir / "sshd.log"
    config = workdir / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {workdir / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}\nAllowUsers {user}\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nLogLevel VERBOSE\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)],
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait_for_port(port, proc)
        public = (workdir / "host_ed25519.pub").read_text()
        yield SshServer(port, user, workdir / "repos", public, log)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class _BasicAuthHandler(SimpleHTTPRequestHandler):
    expected = ""

    def log_message(self, format: str, *args: object) -> None:
        return

    def _allowed(self) -> bool:
        if self.headers.get("Authorization", "") == self.expected:
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="private"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return False

    def do_GET(self) -> None:
        if self._allowed():
            super().do_GET()

    def do_HEAD(self) -> None:
        if self._allowed():
            super().do_HEAD()


@dataclass
class AuthServer:
    root: Path
    port: int
    user: str
    password: str
    _server: ThreadingHTTPServer = field(repr=False)

    def url(self, path: str = "", *, credentials: bool = False) -> str:
        auth = f"{self.user}:{self.password}@" if credentials else ""
        return f"http://{auth}127.0.0.1:{self.port}/{path}"


@contextlib.contextmanager
def basic_auth_server(root: Path, user: str, password: str) -> Iterator[AuthServer]:
    """Serve `root` (static files) on 127.0.0.1, answering 401 without the right basic auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    handler_class = type("Handler", (_BasicAuthHandler,), {"expected": f"Basic {token}"})
    handler = functools.partial(handler_class, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        yield AuthServer(root, int(server.server_address[1]), user, password, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def leaks(secrets: Iterable[str], texts: Iterable[str] = (), paths: Iterable[Path] = ()) -> list[str]:
    """Where any secret occurs: in the given texts, or in any file under the given paths."""
    wanted = [(secret, secret.encode()) for secret in secrets if secret]
    found = []
    for number, text in enumerate(texts):
        found += [f"text #{number}: {secret[:12]}..." for secret, _raw in wanted if secret in text]
    for top in paths:
        for path in sorted(top.rglob("*")) if top.is_dir() else [top]:
            if path.is_symlink() or not path.is_file():
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found += [f"{path}: {secret[:12]}..." for secret, raw in wanted if raw in data]
    return found
