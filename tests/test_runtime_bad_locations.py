"""Bad manifest locations and archive URLs: clear errors naming the value, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from pybuildpack.errors import BuildError
from pybuildpack.runtime.manifest import load_manifest

FAST = {"CURL_CONNECT_TIMEOUT": "1", "PYBUILDPACK_DOWNLOAD_TIMEOUT": "2", "HOME": "/nonexistent-home"}


def refusal(location: str, relative_to: Path) -> BuildError:
    with pytest.raises(BuildError) as caught:
        load_manifest(location, relative_to=relative_to, environ=FAST)
    assert caught.value.failure_reason == "install-python"
    text = "\n".join(caught.value.lines())
    assert "\0" not in text
    assert "pw" not in text
    return caught.value


@pytest.mark.parametrize(
    ("location", "shown", "why"),
    [
        ("m\0.json", "'m\u2400.json'", "control character (\u2400) at position 1"),
        ("http://[::1/m.json", "'http://[::1/m.json'", "not a valid URL: Invalid IPv6 URL"),
        ("http://u:pw@[::1/m.json", "'http://****@[::1/m.json'", "Invalid IPv6 URL"),
        ("~nosuchuser-pybuildpack/m.json", "'~nosuchuser-pybuildpack/m.json'", "names no user"),
        ("ftp://u:pw@host/m.json", "'ftp://u:****@host/m.json'", "starts with ftp://"),
    ],
)
def test_bad_locations(tmp_path: Path, location: str, shown: str, why: str) -> None:
    error = refusal(location, tmp_path)
    assert shown in error.headline
    assert why in error.explanation


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("a\0b.tar.gz", "contains a control character (a\u2400b.tar.gz)"),
        ("http://[::1/x.tar.gz", "is not a valid URL (Invalid IPv6 URL): http://[::1/x.tar.gz"),
        ("http://h:99999/x.tar.gz", "Port out of range"),
        ("http://u:pw@[zz]/x", "http://****@[zz]/x"),
    ],
)
def test_bad_archive_urls(tmp_path: Path, url: str, why: str) -> None:
    entry = {
        "implementation": "cpython",
        "version": "3.12.1",
        "platform": "x",
        "url": url,
        "sha256": "a" * 64,
        "layout": "prefix",
    }
    (tmp_path / "m.json").write_text(json.dumps({"schema": 1, "runtimes": [entry]}))
    error = refusal("m.json", tmp_path)
    assert "is invalid" in error.headline
    assert why in error.explanation


def test_bad_port_and_special_files_do_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    results: list[str] = []

    def attempt() -> None:
        for location in ("fifo", "file:///dev/zero", "http://127.0.0.1:99999/m.json"):
            results.append(refusal(location, tmp_path).explanation)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "reading the manifest blocked"
    assert results == [
        f"Cause: {tmp_path / 'fifo'} is not a regular file.",
        "Cause: /dev/zero is not a regular file.",
        "Cause: it is not a valid URL (Port out of range 0-65535).",
    ]
