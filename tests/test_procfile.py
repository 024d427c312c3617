"""Reading the app's Procfile."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybuildpack.errors import BuildError
from pybuildpack.procfile import read_procfile
from support import FIXTURE_APPS


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "Procfile"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return tmp_path


def test_fixture() -> None:
    processes = read_procfile(FIXTURE_APPS / "procfile")
    assert processes == {"web": "true", "example-worker": "true"}
    assert list(processes) == ["web", "example-worker"]


def test_missing_procfile(tmp_path: Path) -> None:
    assert read_procfile(tmp_path) == {}


def test_comments_blank_lines_crlf_bom_and_spacing(tmp_path: Path) -> None:
    content = (
        "\ufeff# processes\r\n\r\nweb:gunicorn app:app --bind 0.0.0.0:$PORT\r\n"
        "  release :  ./release.sh  \r\n"
    )
    assert read_procfile(write(tmp_path, content.encode())) == {
        "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "release": "./release.sh",
    }


def test_command_keeps_colons(tmp_path: Path) -> None:
    assert read_procfile(write(tmp_path, "worker_1: celery -A proj worker -Q a:b\n")) == {
        "worker_1": "celery -A proj worker -Q a:b"
    }


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("web gunicorn app", "'web gunicorn app'"),
        ("web:", "'web:'"),
        ("my web: run", "'my web: run'"),
        ("web\x1b[2J: run", "'web\\u001b[2J: run'"),
    ],
)
def test_malformed_line(tmp_path: Path, line: str, shown: str) -> None:
    with pytest.raises(BuildError) as caught:
        read_procfile(write(tmp_path, f"# first\nworker: run\n{line}\n"))
    error = caught.value
    message = "\n".join(error.lines())
    assert "Procfile" in error.headline
    assert "Line 3" in error.headline
    assert shown in message
    assert "\x1b" not in message
    assert error.failure_detail == "3"


def test_duplicate_type(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        read_procfile(write(tmp_path, "web: a\nworker: b\nweb: c\n"))
    assert "Lines 1 and 3" in "\n".join(caught.value.lines())


def test_invalid_utf8(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        read_procfile(write(tmp_path, b"web: caf\xe9\n"))
    assert "UTF-8" in caught.value.headline


def test_procfile_directory(tmp_path: Path) -> None:
    (tmp_path / "Procfile").mkdir()
    with pytest.raises(BuildError) as caught:
        read_procfile(tmp_path)
    assert "Procfile" in caught.value.headline
