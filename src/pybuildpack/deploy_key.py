"""Deploy keys: git over SSH with the key in the config var CUSTOM_SSH_KEY (base64 of a private key),
for the hosts in CUSTOM_SSH_KEY_HOSTS, during the dependency install only.

The key, an ssh config and an `ssh` wrapper go into a private temporary directory (0700, files 0600)
outside BUILD_DIR and CACHE_DIR. The wrapper comes first on PATH: git, pip (whose `--no-input`
replaces GIT_SSH_COMMAND), uv, Poetry's dulwich and Pipenv all run `ssh` by name, and OpenSSH reads
`~/.ssh` from the passwd entry, not from $HOME, so a config file there would not be read. Host keys
are accepted on first use for this build only, unless CUSTOM_SSH_KNOWN_HOSTS gives them: then they are
checked strictly. The directory is removed when the install ends (success, failure, SIGTERM, SIGINT);
a build killed by SIGKILL leaves it behind under its own process id, and the next build removes it.
Values are never printed: errors name the variable only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import shlex
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pybuildpack import pids
from pybuildpack.errors import BuildError, quoted
from pybuildpack.output import Console

KEY_VAR = "CUSTOM_SSH_KEY"
HOSTS_VAR = "CUSTOM_SSH_KEY_HOSTS"
KNOWN_HOSTS_VAR = "CUSTOM_SSH_KNOWN_HOSTS"
PREFIX = "pybuildpack-ssh-"

_PRIVATE = re.compile(r"-----BEGIN ((?:OPENSSH |RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----")
_PUBLIC_STARTS = (
    *("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"),
    *("-----BEGIN PUBLIC KEY", "-----BEGIN RSA PUBLIC", "---- BEGIN SSH2 PUBLIC KEY"),
)
_HOST = re.compile(r"^[A-Za-z0-9._*?:%-]+$")
_ENCODE = f'pybuildpack config set APP {KEY_VAR}="$(base64 -w0 deploy_key)"'


@dataclass(frozen=True)
class DeployKey:
    private_key: str  # the key file's text, ending with a newline
    hosts: tuple[str, ...]
    known_hosts: str | None


def _error(headline: str, explanation: str, fix: str, detail: str) -> BuildError:
    return BuildError(headline, explanation, fix, failure_reason=f"custom-ssh-key::{detail}")


def read(config: Mapping[str, str]) -> DeployKey | None:
    """The deploy key the config vars describe, validated; None when CUSTOM_SSH_KEY is not set."""
    value = config.get(KEY_VAR, "").strip()
    if not value:
        return None
    key = _private_key(_decode(value))
    hosts = _hosts(config.get(HOSTS_VAR, ""))
    known = config.get(KNOWN_HOSTS_VAR, "").strip()
    if known:
        _check_known_hosts(known)
    return DeployKey(key, hosts, known + "\n" if known else None)


def _decode(value: str) -> str:
    if "-----BEGIN" in value or value.startswith(_PUBLIC_STARTS):
        raise _error(
            f"The config var {KEY_VAR} holds a key file's text, not its base64 encoding.",
            f"{KEY_VAR} must be the private key file encoded with base64 (one line, no line breaks "
            "needed). Its value is not printed here.",
            f"Set it to the base64 of the private key file, for example:\n    {_ENCODE}",
            "not-base64",
        )
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
        return raw.decode("ascii")
    except (binascii.Error, ValueError):
        raise _error(
            f"The config var {KEY_VAR} is not valid base64.",
            f"{KEY_VAR} must be the private key file encoded with base64; its value (not printed here) "
            "contains characters or padding that base64 does not allow, or decodes to binary data.",
            f"Encode the private key file again and set the result, for example:\n    {_ENCODE}",
            "not-base64",
        ) from None


def _private_key(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if text.startswith(_PUBLIC_STARTS):
        raise _error(
            f"The config var {KEY_VAR} holds a public key: it must be the private key.",
            "A deploy key has two files: the public key (`.pub`), which the git server is given, and the "
            "private key, which the build uses to log in. The value decodes to a public key.",
            f"Encode the private key file, the one without `.pub`, for example:\n    {_ENCODE}",
            "public-key",
        )
    match = _PRIVATE.search(text)
    if match is None or f"-----END {match[1]}-----" not in text:
        raise _error(
            f"The config var {KEY_VAR} does not decode to a private key.",
            "The value is base64, but what it decodes to is not an OpenSSH or PEM private key "
            "(a `-----BEGIN ... PRIVATE KEY-----` block).",
            f"Encode the private key file itself, for example:\n    {_ENCODE}",
            "not-a-key",
        )
    if _has_passphrase(text, match[1]):
        raise _error(
            f"The private key in the config var {KEY_VAR} is protected by a passphrase.",
            "The build cannot type a passphrase, so git over SSH could not use this key.",
            "Create a deploy key without a passphrase (`ssh-keygen -t ed25519 -N '' -f deploy_key`), "
            "give its public key read access to the repository, and set it:\n"
            f"    {_ENCODE}\nOr remove the passphrase from a copy of the key: `ssh-keygen -p -N '' -f COPY`.",
            "passphrase",
        )
    return text + "\n"


def _has_passphrase(text: str, kind: str) -> bool:
    if kind == "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED" in text:
        return True
    if kind != "OPENSSH PRIVATE KEY":
        return False
    body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    try:
        blob = base64.b64decode(body)
    except (binascii.Error, ValueError):
        return False
    magic = b"openssh-key-v1\0"
    if not blob.startswith(magic) or len(blob) < len(magic) + 4:
        return False
    size = int.from_bytes(blob[len(magic) : len(magic) + 4], "big")
    cipher = blob[len(magic) + 4 : len(magic) + 4 + size]
    return cipher != b"none"


def _hosts(value: str) -> tuple[str, ...]:
    hosts = tuple(part.strip() for part in value.split(",") if part.strip())
    if not hosts:
        raise _error(
            f"The config var {KEY_VAR} is set, but {HOSTS_VAR} is not.",
            f"The deploy key is used only for the hosts listed in {HOSTS_VAR}, so without them no git "
            "connection would use it.",
            f"Set {HOSTS_VAR} to the comma-separated host names of your git servers, for example:\n"
            f"    pybuildpack config set APP {HOSTS_VAR}=git.example.com",
            "no-hosts",
        )
    for host in hosts:
        name, _colon, port = host.rpartition(":")
        if not _HOST.match(host) or (name.count(":") == 0 and port.isdigit()):
            raise _error(
                f"The config var {HOSTS_VAR} contains {quoted(host[:60])}, which is not a host name.",
                f"{HOSTS_VAR} is a comma-separated list of host names or addresses (patterns with * "
                "and ? are allowed), without users, ports, paths or spaces.",
                f"Set {HOSTS_VAR} to host names only, for example `git.example.com,10.0.0.5`.",
                "invalid-hosts",
            )
    return hosts


def _check_known_hosts(text: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and len(stripped.split()) < 3:
            raise _error(
                f"Line {number} of the config var {KNOWN_HOSTS_VAR} is not a known_hosts line.",
                f"{KNOWN_HOSTS_VAR} holds known_hosts lines: host names, the key type and the public "
                "host key, separated by spaces.",
                f"Set it to the output of `ssh-keyscan HOST` for each host in {HOSTS_VAR}.",
                "invalid-known-hosts",
            )


def find_ssh(path: str) -> str:
    found = shutil.which("ssh", path=path)
    if found is None:
        raise _error(
            f"The config var {KEY_VAR} is set, but there is no `ssh` command on this build host.",
            f"git needs the OpenSSH client to fetch dependencies over SSH with the deploy key. It was "
            f"not found on PATH ({path}).",
            "Install the package openssh-client on the build host (Debian and Ubuntu: "
            "`apt-get install openssh-client`), or add a buildpack that provides it before this one.",
            "no-ssh",
        )
    return found


def check(config: Mapping[str, str], env: Mapping[str, str]) -> None:
    """Fail fast on bad deploy key config vars, before anything is installed."""
    if read(config) is not None:
        find_ssh(env.get("PATH", ""))


def remove_leftovers(base: Path) -> None:
    """Delete the key directories of builds that were killed (their process no longer exists)."""
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for entry in entries:
        pid = entry.name.removeprefix(PREFIX).split("-", 1)[0]
        if entry.name.startswith(PREFIX) and pid.isdigit() and not pids.alive(int(pid)):
            with contextlib.suppress(OSError):
                if entry.lstat().st_uid == os.getuid() and entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)


def temp_base(outside: Sequence[Path]) -> Path:
    """The system temp dir, unless it lies inside one of `outside` (BUILD_DIR, CACHE_DIR)."""
    base = Path(tempfile.gettempdir()).resolve()
    for path in outside:
        if base == path.resolve() or path.resolve() in base.parents:
            return Path("/tmp")
    return base


def _config_text(key: DeployKey, home: Path) -> str:
    strict = key.known_hosts is not None
    lines = [
        "# Written by pybuildpack for one dependency install; deleted when it ends.",
        f"Host {' '.join(key.hosts)}",
        f'    IdentityFile "{home / "deploy_key"}"',
        "    IdentitiesOnly yes",
        "    IdentityAgent none",
        "    BatchMode yes",
        f"    StrictHostKeyChecking {'yes' if strict else 'accept-new'}",
        "    ConnectTimeout 30",
        f'    UserKnownHostsFile "{home / "known_hosts"}"',
    ]
    if strict:
        lines.append("    GlobalKnownHostsFile /dev/null")
    lines += ["Host *", "    BatchMode yes", "    Include ~/.ssh/config", "    Include /etc/ssh/ssh_config"]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_files(key: DeployKey, home: Path, ssh: str) -> Path:
    """Key, known_hosts, ssh config and the `ssh` wrapper in `home`; returns the wrapper's directory."""
    _write(home / "deploy_key", key.private_key)
    _write(home / "known_hosts", key.known_hosts or "")
    _write(home / "config", _config_text(key, home))
    bin_dir = home / "bin"
    bin_dir.mkdir(mode=0o700)
    wrapper = f'#!/bin/sh\nexec {shlex.quote(ssh)} -F {shlex.quote(str(home / "config"))} "$@"\n'
    _write(bin_dir / "ssh", wrapper, 0o700)
    return bin_dir


class Stopped(SystemExit):
    """SIGTERM or SIGINT arrived while the key was on disk: unwind (removing it), then exit."""


class _Unwinder:
    """While active, SIGTERM and SIGINT raise Stopped so that `finally` blocks run; once cleaning
    has started, a further signal waits for the cleanup instead of interrupting it."""

    def __init__(self) -> None:
        self.cleaning = False
        self.pending: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.cleaning:
            self.pending = signum
            return
        raise Stopped(128 + signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Unwinder]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield self
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
        if self.pending is not None:
            raise Stopped(128 + self.pending)


@contextlib.contextmanager
def installed(key: DeployKey, path: str, outside: Sequence[Path]) -> Iterator[dict[str, str]]:
    """Write the key files; yield the environment additions (PATH with the wrapper first)."""
    ssh = find_ssh(path)
    with _Unwinder().installed() as unwinder:
        home = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=temp_base(outside)))
        try:
            bin_dir = write_files(key, home, ssh)
            yield {"PATH": f"{bin_dir}:{path}" if path else str(bin_dir)}
        finally:
            unwinder.cleaning = True
            shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def active(
    env: MutableMapping[str, str], config: Mapping[str, str], console: Console, *, outside: Sequence[Path]
) -> Iterator[None]:
    """Around the dependency install: with CUSTOM_SSH_KEY set, `env` (the build environment) sends
    ssh for the listed hosts through the deploy key until the block ends, then is restored."""
    remove_leftovers(temp_base(outside))
    key = read(config)
    if key is None:
        if config.get(HOSTS_VAR, "").strip():
            console.warning(f"{HOSTS_VAR} is set, but {KEY_VAR} is not: no deploy key is used.")
        yield
        return
    with installed(key, env.get("PATH", ""), outside) as additions:
        saved = {name: env.get(name) for name in additions}
        mode = f"host keys checked against {KNOWN_HOSTS_VAR}" if key.known_hosts else "new host keys accepted"
        console.step(f"Using the deploy key in {KEY_VAR} for git over SSH to {', '.join(key.hosts)} ({mode})")
        env.update(additions)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    env.pop(name, None)
                else:
                    env[name] = value
