"""Unpacking a runtime while it downloads (issue 11): the same bytes go to the hash, the cached archive
and the safe extractor; the runtime appears only once the whole download verifies.

Against the malicious mirror of the download tests, serving a real tar.gz: a mismatch, a cut or a
stalled transfer leaves neither an archive nor anything unpacked; a retried download never mixes two
attempts; a hostile archive with the right checksum is refused by the same rules as a cached one, and
writes nothing outside.
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.runtime.extract import shown
from pybuildpack.runtime.fetch import install_runtime_from
from pybuildpack.runtime.manifest import RuntimeEntry
from support.hostile_mirror import FAST, STALL_AFTER, HostileMirror, serve_hostile
from support.hostile_tar import RUNTIME, Member, corpus, make_sentinel, snapshot, write_tar

# Random text compresses to about half: the archive is well past STALL_AFTER and the drop point.
BULK = random.Random(11).randbytes(400 * 1024).hex()
MEMBERS = (*RUNTIME, Member("file", "lib/bulk.txt", BULK))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    data = write_tar(tmp_path_factory.mktemp("archive") / "a.tar.gz", MEMBERS).read_bytes()
    assert len(data) > 2 * STALL_AFTER
    return data


@pytest.fixture
def mirror(archive: bytes) -> Iterator[HostileMirror]:
    with serve_hostile(archive) as served:
        yield served


def entry(url: str, data: bytes, *, size: bool = True) -> RuntimeEntry:
    sha = hashlib.sha256(data).hexdigest()
    return RuntimeEntry(
        "3.12.1", "debian-12-x86_64", url, sha, len(data) if size else None, "prefix", "cpython"
    )


def install(found: RuntimeEntry, work: Path, **env: str) -> tuple[Path, bool]:
    console = Console(out=io.StringIO(), err=io.StringIO(), environ={})
    target = work / "app" / "python"
    reused = install_runtime_from(found, work / "cache", target, console, environ={**FAST, **env})
    return target, reused


def refused(found: RuntimeEntry, work: Path, **env: str) -> BuildError:
    with pytest.raises(BuildError) as caught:
        install(found, work, **env)
    assert caught.value.failure_reason == "install-python"
    assert list((work / "app").iterdir()) == []  # no staging dir, no half-unpacked runtime
    return caught.value


def text(error: BuildError) -> str:
    return "\n".join(error.lines())


def assert_installed(target: Path) -> None:
    assert (target / "lib" / "bulk.txt").read_text() == BULK
    assert (target / "bin" / "python3").readlink() == Path("python3.12")
    assert (target / "bin" / "python").readlink() == Path("python3")
    assert sorted(p.name for p in target.parent.iterdir()) == ["python"]


def test_unpacked_while_downloading_and_cached(tmp_path: Path, mirror: HostileMirror, archive: bytes) -> None:
    found = entry(mirror.url("ok"), archive)
    target, reused = install(found, tmp_path / "a")
    assert not reused
    assert_installed(target)
    assert [p.read_bytes() for p in (tmp_path / "a" / "cache").iterdir()] == [archive]
    # A second install of the same runtime comes from the cached archive: no request.
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "cache").rename(tmp_path / "b" / "cache")
    target, reused = install(found, tmp_path / "b")
    assert reused
    assert_installed(target)
    assert mirror.count("ok") == 1


def test_from_a_file_url_without_a_size(tmp_path: Path, archive: bytes) -> None:
    (tmp_path / "mirror.tar.gz").write_bytes(archive)
    target, _ = install(entry((tmp_path / "mirror.tar.gz").as_uri(), archive, size=False), tmp_path)
    assert_installed(target)


def test_mismatch_leaves_nothing(tmp_path: Path, mirror: HostileMirror, archive: bytes) -> None:
    other = archive[:-1] + bytes([archive[-1] ^ 1])  # the manifest describes other bytes, same size
    error = refused(entry(mirror.url("ok"), other), tmp_path)
    assert "sha256 mismatch" in error.headline
    assert hashlib.sha256(archive).hexdigest() in error.explanation
    assert "nothing was installed" in error.explanation
    assert list((tmp_path / "cache").iterdir()) == []
    error = refused(entry(mirror.url("wrong"), archive), tmp_path)  # zeros: not even a tar
    assert "sha256 mismatch" in error.headline


def test_cut_or_stalled_transfer_leaves_nothing(
    tmp_path: Path, mirror: HostileMirror, archive: bytes
) -> None:
    size = len(archive)
    error = refused(entry(mirror.url("drop"), archive), tmp_path / "drop")
    assert f"the transfer was cut: the server closed the connection; {size // 2} of {size}" in text(error)
    assert "gave up after 3 attempts" in text(error)
    assert "sha256" not in text(error)
    error = refused(entry(mirror.url("drop-nolength"), archive), tmp_path / "nolength")
    assert f"ended the body at {size // 2} of {size} bytes (the size in the manifest)" in text(error)
    assert "sha256" not in text(error)
    error = refused(entry(mirror.url("stall"), archive), tmp_path / "stall")
    assert "too slow: 0 bytes in the last 1 s" in text(error)
    assert f"{STALL_AFTER} of {size} bytes received" in text(error)
    for work in ("drop", "nolength", "stall"):
        assert list((tmp_path / work / "cache").iterdir()) == []


def test_a_retry_starts_from_an_empty_tree(tmp_path: Path, mirror: HostileMirror, archive: bytes) -> None:
    target, _ = install(entry(mirror.url("drop-once"), archive), tmp_path)
    assert mirror.count("drop-once") == 2
    assert_installed(target)


HOSTILE = [case for case in corpus(Path("/sentinel")) if case.verdict == "refuse"]


@pytest.mark.parametrize("case_id", [case.id for case in HOSTILE])
def test_hostile_archive_with_the_right_checksum(tmp_path: Path, case_id: str) -> None:
    """Refused by the same rules as an archive from the cache; the archive itself stays cached (it is
    what the manifest names), and nothing is written outside the staging dir."""
    sentinel = make_sentinel(tmp_path)
    case = next(case for case in corpus(sentinel) if case.id == case_id)
    data = write_tar(tmp_path / "case.tar.gz", case.members).read_bytes()
    before = snapshot(sentinel)
    work = tmp_path / "w" / "b"  # staging lies 3 levels below tmp_path, where the corpus's ../ aim
    with serve_hostile(data) as served:
        error = refused(entry(served.url("ok"), data), work)
    assert error.explanation.startswith("It contains an unsafe entry: ")
    assert shown(case.culprit) in error.explanation
    assert snapshot(sentinel) == before
    assert [p.read_bytes() for p in (work / "cache").iterdir()] == [data]


def test_hostile_archive_with_a_wrong_checksum_is_a_mismatch(tmp_path: Path) -> None:
    sentinel = make_sentinel(tmp_path)
    case = next(case for case in corpus(sentinel) if case.id == "dotdot")
    data = write_tar(tmp_path / "case.tar.gz", case.members).read_bytes()
    before = snapshot(sentinel)
    with serve_hostile(data) as served:
        error = refused(entry(served.url("ok"), data[:-1] + bytes([data[-1] ^ 1])), tmp_path / "w" / "b")
    assert "sha256 mismatch" in error.headline
    assert snapshot(sentinel) == before
    assert list((tmp_path / "w" / "b" / "cache").iterdir()) == []


def test_target_that_exists_is_refused_before_downloading(
    tmp_path: Path, mirror: HostileMirror, archive: bytes
) -> None:
    (tmp_path / "app" / "python").mkdir(parents=True)
    with pytest.raises(BuildError) as caught:
        install(entry(mirror.url("ok"), archive), tmp_path)
    assert "already exists" in caught.value.headline
    assert mirror.requests == []
