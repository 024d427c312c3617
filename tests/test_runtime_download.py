"""Downloads against a malicious mirror: stalls, trickles, drops, silence, 401s and wrong bytes.

Short limits (1 s window, a few seconds in all) keep each test to a few seconds; the error must say
what happened (cut at X of Y bytes, too slow, no answer, HTTP status), never blame the checksum for a
body that was cut, and never show a password.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.runtime.fetch import obtain_archive
from pybuildpack.runtime.manifest import RuntimeEntry, load_manifest
from support.hostile_mirror import FAST, PASSWORD, STALL_AFTER, USER, HostileMirror, serve_hostile

PAYLOAD = bytes(range(256)) * 2048  # 512 KiB
SIZE = len(PAYLOAD)


@pytest.fixture
def mirror() -> Iterator[HostileMirror]:
    with serve_hostile(PAYLOAD) as served:
        yield served


def entry(url: str, *, size: int | None = SIZE, data: bytes = PAYLOAD) -> RuntimeEntry:
    sha = hashlib.sha256(data).hexdigest()
    return RuntimeEntry("3.12.1", "debian-12-x86_64", url, sha, size, "prefix", "cpython")


def download(url: str, cache: Path, *, size: int | None = SIZE, **env: str) -> Path:
    console = Console(out=io.StringIO(), err=io.StringIO(), environ={})
    return obtain_archive(entry(url, size=size), cache / "runtimes", console, environ={**FAST, **env})[0]


def failure(url: str, cache: Path, *, size: int | None = SIZE, **env: str) -> str:
    with pytest.raises(BuildError) as caught:
        download(url, cache, size=size, **env)
    text = "\n".join(caught.value.lines())
    assert caught.value.failure_reason == "install-python"
    assert list((cache / "runtimes").iterdir()) == []  # nothing half-written is kept
    return text


def test_stall_is_too_slow_not_a_hang(tmp_path: Path, mirror: HostileMirror) -> None:
    text = failure(mirror.url("stall"), tmp_path)
    assert "too slow: 0 bytes in the last 1 s" in text
    assert f"{STALL_AFTER} of {SIZE} bytes received" in text
    assert "sha256" not in text
    assert 2 <= mirror.count("stall") <= 3  # retried, within the total deadline


def test_trickle_is_too_slow(tmp_path: Path, mirror: HostileMirror) -> None:
    text = failure(mirror.url("trickle"), tmp_path, PYBUILDPACK_DOWNLOAD_TIMEOUT="3")
    assert "too slow" in text
    assert f"of {SIZE} bytes received" in text
    assert "PYBUILDPACK_DOWNLOAD_MIN_RATE" in text


def test_total_deadline_stops_a_slow_but_steady_transfer(tmp_path: Path, mirror: HostileMirror) -> None:
    text = failure(
        mirror.url("trickle"),
        tmp_path,
        PYBUILDPACK_DOWNLOAD_MIN_RATE="0.5",
        PYBUILDPACK_DOWNLOAD_TIMEOUT="2.5",
        # a rate window longer than the deadline: a loaded machine that delays the trickle by more than
        # a second must not turn this into the minimum-rate error
        PYBUILDPACK_DOWNLOAD_RATE_WINDOW="10",
    )
    assert "not finished after 2.5 s in all (PYBUILDPACK_DOWNLOAD_TIMEOUT)" in text
    assert mirror.count("trickle") == 1


def test_drop_is_reported_as_cut_and_retried(tmp_path: Path, mirror: HostileMirror) -> None:
    text = failure(mirror.url("drop"), tmp_path)
    assert f"the transfer was cut: the server closed the connection; {SIZE // 2} of {SIZE} bytes" in text
    assert "gave up after 3 attempts" in text
    assert "sha256" not in text
    assert mirror.count("drop") == 3


def test_drop_without_length_is_cut_by_the_manifest_size(tmp_path: Path, mirror: HostileMirror) -> None:
    text = failure(mirror.url("drop-nolength"), tmp_path)
    assert f"ended the body at {SIZE // 2} of {SIZE} bytes (the size in the manifest)" in text
    assert "sha256" not in text


def test_one_drop_or_503_then_success(tmp_path: Path, mirror: HostileMirror) -> None:
    assert download(mirror.url("drop-once"), tmp_path / "a").read_bytes() == PAYLOAD
    assert mirror.count("drop-once") == 2
    assert download(mirror.url("busy-once"), tmp_path / "b").read_bytes() == PAYLOAD
    assert mirror.count("busy-once") == 2


def test_silent_server_is_no_answer(tmp_path: Path, mirror: HostileMirror) -> None:
    text = failure(mirror.url("silent"), tmp_path, PYBUILDPACK_DOWNLOAD_TIMEOUT="2")
    assert "no answer from the server within 1 s of connecting (CURL_CONNECT_TIMEOUT)" in text


def test_wrong_bytes_are_a_checksum_mismatch(tmp_path: Path, mirror: HostileMirror) -> None:
    text = failure(mirror.url("wrong"), tmp_path)
    assert "sha256 mismatch" in text
    assert hashlib.sha256(bytes(SIZE)).hexdigest() in text
    assert mirror.count("wrong") == 1


def test_401_without_credentials_is_not_retried(tmp_path: Path, mirror: HostileMirror) -> None:
    text = failure(mirror.url("auth"), tmp_path)
    assert "HTTP 401" in text
    assert "none were found for 127.0.0.1 in the URL or in /nonexistent-home/.netrc" in text
    assert mirror.requests == ["auth auth=no"]


def test_credentials_in_the_url_are_used_and_masked(tmp_path: Path, mirror: HostileMirror) -> None:
    path = download(mirror.url("auth", credentials=f"{USER}:{PASSWORD}"), tmp_path / "a")
    assert path.read_bytes() == PAYLOAD
    assert mirror.requests == ["auth auth=yes"]
    text = failure(mirror.url("auth", credentials=f"{USER}:wrong-{PASSWORD}"), tmp_path / "b")
    assert "the credentials from the URL were refused" in text
    assert f"{USER}:****@127.0.0.1" in text
    assert PASSWORD not in text


def test_credentials_from_netrc(tmp_path: Path, mirror: HostileMirror) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login {USER}\n  password {PASSWORD}\n")
    netrc.chmod(0o600)
    path = download(mirror.url("auth"), tmp_path / "a", NETRC=str(netrc))
    assert path.read_bytes() == PAYLOAD
    assert mirror.requests == ["auth auth=yes"]
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(f"machine 127.0.0.1 login {USER} password nope\n")
    text = failure(mirror.url("auth"), tmp_path / "b", HOME=str(home))
    assert f"the credentials from {home / '.netrc'} were refused" in text
    assert "nope" not in text


def test_netrc_that_is_a_fifo_is_ignored(tmp_path: Path, mirror: HostileMirror) -> None:
    fifo = tmp_path / "netrc"
    os.mkfifo(fifo)
    texts: list[str] = []
    thread = threading.Thread(
        target=lambda: texts.append(failure(mirror.url("auth"), tmp_path, NETRC=str(fifo))), daemon=True
    )
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "reading the netrc FIFO blocked"
    (text,) = texts
    assert f"none were found for 127.0.0.1 in the URL or in {fifo}" in text


def test_manifest_with_credentials_serves_archives_with_them(tmp_path: Path) -> None:
    archive = entry("cpython-3.12.1.tar.gz").to_json()
    document = {"schema": 1, "runtimes": [archive]}
    with serve_hostile(PAYLOAD) as mirror:
        mirror.files["manifest.json"] = json.dumps(document).encode()
        location = mirror.url("auth", "manifest.json", credentials=f"{USER}:{PASSWORD}")
        manifest = load_manifest(location, relative_to=tmp_path, environ=FAST)
        assert PASSWORD not in manifest.location
        assert f"{USER}:****@" in manifest.location
        (found,) = manifest.entries
        console = Console(out=io.StringIO(), err=io.StringIO(), environ={})
        path, _ = obtain_archive(found, tmp_path / "cache", console, environ=FAST)
        assert path.read_bytes() == PAYLOAD
        assert mirror.requests == ["auth auth=yes", "auth auth=yes"]
        with pytest.raises(BuildError) as caught:
            load_manifest(location.replace(PASSWORD, "bad"), relative_to=tmp_path, environ=FAST)
        text = "\n".join(caught.value.lines())
        assert "HTTP 401" in text
        assert "bad" not in text.replace("bad archive", "")
