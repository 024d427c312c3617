"""Fetching runtime archives: file:// and http mirrors, sha256 checks, cache reuse."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.runtime.fetch import archive_suffix, obtain_archive
from pybuildpack.runtime.manifest import RuntimeEntry

PAYLOAD = b"pretend this is a runtime archive\n" * 1000


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(out=out, err=io.StringIO(), environ={}), out


def make_entry(url: str, data: bytes = PAYLOAD, *, size: int | None = -1) -> RuntimeEntry:
    return RuntimeEntry(
        version="3.12.1",
        platform="debian-12-x86_64",
        url=url,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data) if size == -1 else size,
        layout="prefix",
        implementation="cpython",
    )


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    directory = tmp_path / "mirror"
    directory.mkdir()
    (directory / "cpython-3.12.1.tar.gz").write_bytes(PAYLOAD)
    return directory


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.requests.append(self.path)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(mirror: Path) -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests})

    def factory(*args: object, **kwargs: object) -> http.server.SimpleHTTPRequestHandler:
        made: http.server.SimpleHTTPRequestHandler = handler(*args, directory=str(mirror), **kwargs)
        return made

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), factory)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_suffix() -> None:
    assert archive_suffix("https://h/cpython-3.12.1%2B2026-install_only.tar.gz") == ".tar.gz"
    assert archive_suffix("file:///x/python-3.12.1.tar.zst?x=1") == ".tar.zst"
    assert archive_suffix("file:///x/y.tar.xz") == ".tar.xz"


def test_from_file_mirror_then_reused(tmp_path: Path, mirror: Path) -> None:
    entry = make_entry((mirror / "cpython-3.12.1.tar.gz").as_uri())
    cons, out = console()
    path, reused = obtain_archive(entry, tmp_path / "cache" / "runtimes", cons)
    assert not reused
    assert path == tmp_path / "cache" / "runtimes" / f"{entry.sha256}.tar.gz"
    assert path.read_bytes() == PAYLOAD
    (mirror / "cpython-3.12.1.tar.gz").unlink()  # the second build must not need the mirror
    path2, reused2 = obtain_archive(entry, tmp_path / "cache" / "runtimes", cons)
    assert (path2, reused2) == (path, True)
    assert "Reusing" in out.getvalue()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_damaged_cache_is_downloaded_again(tmp_path: Path, mirror: Path) -> None:
    entry = make_entry((mirror / "cpython-3.12.1.tar.gz").as_uri(), size=None)
    cache = tmp_path / "cache"
    (cache / "runtimes").mkdir(parents=True)
    (cache / "runtimes" / f"{entry.sha256}.tar.gz").write_bytes(b"garbage")
    path, reused = obtain_archive(entry, cache / "runtimes", console()[0])
    assert not reused
    assert path.read_bytes() == PAYLOAD


def test_from_http_server(tmp_path: Path, server: tuple[str, list[str]]) -> None:
    base, requests = server
    entry = make_entry(f"{base}/cpython-3.12.1.tar.gz")
    path, reused = obtain_archive(entry, tmp_path / "cache" / "runtimes", console()[0])
    assert (path.read_bytes(), reused) == (PAYLOAD, False)
    assert requests == ["/cpython-3.12.1.tar.gz"]
    assert obtain_archive(entry, tmp_path / "cache" / "runtimes", console()[0])[1] is True
    assert len(requests) == 1


@pytest.mark.parametrize("size", [None, len(PAYLOAD)])
def test_sha256_mismatch_names_both_digests_and_leaves_nothing(
    tmp_path: Path, server: tuple[str, list[str]], size: int | None
) -> None:
    base, _ = server
    good = make_entry(f"{base}/cpython-3.12.1.tar.gz", size=size)
    wrong = replace(good, sha256="0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(BuildError) as caught:
        obtain_archive(wrong, cache / "runtimes", console()[0])
    error = caught.value
    assert error.failure_reason == "install-python"
    text = "\n".join(error.lines())
    assert wrong.url in text
    assert "0" * 64 in text
    assert good.sha256 in text
    assert list((cache / "runtimes").iterdir()) == []


def test_size_mismatch(tmp_path: Path, mirror: Path) -> None:
    entry = make_entry((mirror / "cpython-3.12.1.tar.gz").as_uri(), size=len(PAYLOAD) + 1)
    with pytest.raises(BuildError) as caught:
        obtain_archive(entry, tmp_path / "cache" / "runtimes", console()[0])
    assert f"{len(PAYLOAD) + 1} bytes" in caught.value.explanation
    assert list((tmp_path / "cache" / "runtimes").iterdir()) == []


def test_download_failures_name_url_and_cause(
    tmp_path: Path, mirror: Path, server: tuple[str, list[str]]
) -> None:
    base, requests = server
    missing = make_entry(f"{base}/nope.tar.gz")
    with pytest.raises(BuildError) as caught:
        obtain_archive(missing, tmp_path / "cache" / "runtimes", console()[0])
    assert missing.url in caught.value.explanation
    assert "HTTP 404" in caught.value.explanation
    assert requests == ["/nope.tar.gz"]  # a 404 is not retried
    gone = make_entry((mirror / "gone.tar.gz").as_uri())
    with pytest.raises(BuildError) as caught:
        obtain_archive(gone, tmp_path / "cache" / "runtimes", console()[0])
    assert "no such file" in caught.value.explanation
    refused = make_entry("http://127.0.0.1:9/x.tar.gz")
    with pytest.raises(BuildError) as caught:
        archives = tmp_path / "cache" / "runtimes"
        obtain_archive(refused, archives, console()[0], environ={"CURL_CONNECT_TIMEOUT": "1"})
    assert "cannot connect" in caught.value.explanation
    assert list((tmp_path / "cache" / "runtimes").iterdir()) == []


@pytest.mark.parametrize("blocked", ["cache", "cache/runtimes"])
def test_cache_that_is_a_file_is_a_clear_error(tmp_path: Path, mirror: Path, blocked: str) -> None:
    (tmp_path / blocked).parent.mkdir(exist_ok=True)
    (tmp_path / blocked).write_text("not a directory")
    entry = make_entry((mirror / "cpython-3.12.1.tar.gz").as_uri())
    with pytest.raises(BuildError) as caught:
        obtain_archive(entry, tmp_path / "cache" / "runtimes", console()[0])
    assert caught.value.headline == "Cannot store the Python 3.12.1 archive in the cache."
    assert "Cause: Not a directory" in caught.value.explanation or "File exists" in caught.value.explanation
    assert f"{len(PAYLOAD)} bytes" in caught.value.fix
    assert (tmp_path / blocked).read_text() == "not a directory"
