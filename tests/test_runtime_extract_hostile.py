"""Hostile runtime archives: our one extraction routine against a corpus, and against tarfile's filter.

The routine in runtime/extract.py is the only extraction path on every Python, so these tests exercise
it whatever interpreter runs them. The differential tests compare it with tarfile's ``data`` filter
where the interpreter has one (3.11.4+ / 3.12+).
"""

from __future__ import annotations

import posixpath
import random
import subprocess
import tarfile
from pathlib import Path

import pytest

from pybuildpack.errors import BuildError
from pybuildpack.runtime.extract import extract_all, install_runtime, shown
from pybuildpack.runtime.manifest import RuntimeEntry
from support.hostile_tar import (
    RUNTIME,
    Case,
    Member,
    corpus,
    make_sentinel,
    random_members,
    snapshot,
    write_tar,
)
from support.mirror import RuntimeMirror

CASE_IDS = [case.id for case in corpus(Path("/sentinel"))]
HAS_DATA_FILTER = hasattr(tarfile, "data_filter")


def entry(layout: str = "prefix", version: str = "3.12.1", url: str = "file:///m/a.tar.gz") -> RuntimeEntry:
    return RuntimeEntry(version, "linux-x86_64-gnu", url, "a" * 64, None, layout, "cpython")


def case_named(sentinel: Path, case_id: str) -> Case:
    return next(case for case in corpus(sentinel) if case.id == case_id)


def stage(tmp_path: Path, label: str) -> Path:
    """An empty dir three levels below tmp_path, where the corpus's ``../../../sentinel`` points."""
    path = tmp_path / label / "b" / "stage"
    path.mkdir(parents=True)
    return path


def ours(archive: Path, dest: Path) -> str:
    """'' if extracted, else the refusal."""
    try:
        with tarfile.open(archive) as tar:
            extract_all(tar, dest)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def theirs(archive: Path, dest: Path) -> str:
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_corpus_through_install_runtime(tmp_path: Path, case_id: str) -> None:
    sentinel = make_sentinel(tmp_path)
    case = case_named(sentinel, case_id)
    archive = write_tar(tmp_path / "case.tar.gz", case.members)
    before = snapshot(sentinel)
    target = tmp_path / "work" / "dest" / "python"  # staging is 3 levels below tmp_path
    if case.verdict == "refuse":
        with pytest.raises(BuildError) as caught:
            install_runtime(archive, entry(), target)
        explanation = caught.value.explanation
        assert explanation.startswith("It contains an unsafe entry: ")
        assert shown(case.culprit) in explanation
        assert len(explanation) < 400
        assert caught.value.failure_reason == "install-python"
        assert list(target.parent.iterdir()) == []
    else:
        install_runtime(archive, entry(), target)
        for name, mode in case.modes.items():
            assert oct((target / name).stat().st_mode & 0o7777) == oct(mode), name
        assert (target / "share").stat().st_mode & 0o7777 == 0o755
    assert snapshot(sentinel) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.tar.gz", "sentinel", "work"]


def test_escape_sequence_and_long_names_are_escaped_and_cut(tmp_path: Path) -> None:
    sentinel = make_sentinel(tmp_path)
    for case_id in ("dotdot-escape-sequence-name", "dotdot-long-name"):
        archive = write_tar(tmp_path / f"{case_id}.tar.gz", case_named(sentinel, case_id).members)
        with pytest.raises(BuildError) as caught:
            install_runtime(archive, entry(), tmp_path / case_id / "python")
        text = "\n".join(caught.value.lines())
        assert "\x1b" not in text
        assert len(text) < 800
    assert "'\\u001b[2J/../" in text or "more characters)" in text


def test_write_errors_are_bounded(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "a.tar.gz", [*RUNTIME, Member("file", "lib/" + "n" * 5000, "x")])
    with pytest.raises(BuildError) as caught:
        install_runtime(archive, entry(), tmp_path / "out" / "python")
    assert caught.value.explanation.startswith("It could not be extracted: File name too long ('nnnn")
    assert "(4880 more characters)" in caught.value.explanation
    assert list((tmp_path / "out").iterdir()) == []


def test_credentials_in_the_archive_url_are_masked(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "a.tar.gz", [Member("file", "../evil", "x")])
    with pytest.raises(BuildError) as caught:
        install_runtime(archive, entry(url="https://bob:s3cret@mirror.test/a.tar.gz"), tmp_path / "p")
    assert "s3cret" not in "\n".join(caught.value.lines())
    assert "bob:****@mirror.test" in caught.value.headline


@pytest.mark.skipif(not HAS_DATA_FILTER, reason="this Python's tarfile has no data filter (< 3.11.4)")
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_same_archives_refused_as_the_data_filter(tmp_path: Path, case_id: str) -> None:
    sentinel = make_sentinel(tmp_path)
    case = case_named(sentinel, case_id)
    archive = write_tar(tmp_path / "case.tar.gz", case.members)
    our_dest, their_dest = stage(tmp_path, "ours"), stage(tmp_path, "theirs")
    our_refusal, their_refusal = ours(archive, our_dest), theirs(archive, their_dest)
    assert bool(our_refusal) == (case.verdict == "refuse"), our_refusal
    if case.stricter:
        # A documented difference (case.stricter says why): we refuse what the data filter of this
        # Python may accept while keeping it inside the tree. Newer patch releases may refuse it too.
        return
    assert bool(our_refusal) == bool(their_refusal), (our_refusal, their_refusal)
    if not our_refusal:
        assert snapshot(our_dest, dir_modes=False) == snapshot(their_dest, dir_modes=False)


FUZZ_SEED = 20261129
FUZZ_CASES = 150


def _links_normalized(tree: dict[str, tuple[str, str, int, int]]) -> dict[str, tuple[str, str, int, int]]:
    """Some patch releases write a link's target normalized ('a/./b' as 'a/b'): compare it so."""
    return {
        path: (kind, posixpath.normpath(value) if kind == "link" else value, mode, mtime)
        for path, (kind, value, mode, mtime) in tree.items()
    }


@pytest.mark.skipif(not HAS_DATA_FILTER, reason="this Python's tarfile has no data filter (< 3.11.4)")
def test_random_archives_never_accepted_beyond_the_data_filter(tmp_path: Path) -> None:
    """Fuzz: what we accept, the data filter accepts, with the same tree; nothing is written outside."""
    rng = random.Random(FUZZ_SEED)
    sentinel = make_sentinel(tmp_path)
    before = snapshot(sentinel)
    verdicts = {"both refuse": 0, "both accept": 0, "only we refuse": 0}
    for index in range(FUZZ_CASES):
        members = random_members(rng)
        archive = write_tar(tmp_path / "fuzz.tar.gz", members)
        our_dest, their_dest = stage(tmp_path, f"ours{index}"), stage(tmp_path, f"theirs{index}")
        our_refusal, their_refusal = ours(archive, our_dest), theirs(archive, their_dest)
        assert snapshot(sentinel) == before, members
        assert our_refusal or not their_refusal, (members, their_refusal)
        if not our_refusal:
            ours_tree = _links_normalized(snapshot(our_dest, dir_modes=False))
            assert ours_tree == _links_normalized(snapshot(their_dest, dir_modes=False)), members
        key = "both accept" if not our_refusal else "both refuse" if their_refusal else "only we refuse"
        verdicts[key] += 1
    assert all(verdicts.values()), verdicts  # the generator reaches every outcome


def test_member_refused_after_extraction_started_leaves_nothing(tmp_path: Path) -> None:
    members = [*RUNTIME, *(Member("file", f"lib/m{i}", "x") for i in range(50)), Member("fifo", "lib/f")]
    archive = write_tar(tmp_path / "a.tar.gz", members)
    with pytest.raises(BuildError) as caught:
        install_runtime(archive, entry(), tmp_path / "out" / "python")
    assert "'lib/f' is a device, FIFO or other special file" in caught.value.explanation
    assert list((tmp_path / "out").iterdir()) == []


def _real_archive(runtime_mirror: RuntimeMirror, *, smallest: bool = False) -> tuple[Path, dict[str, object]]:
    """The newest runtime of the mirror (or its smallest archive, to keep a slow comparison short)."""
    if smallest:
        runtime = min(runtime_mirror.runtimes, key=lambda r: int(str(r["size"])))
    else:
        runtime = max(
            runtime_mirror.runtimes, key=lambda r: tuple(int(p) for p in str(r["version"]).split("."))
        )
    return runtime_mirror.dir / str(runtime["url"]), runtime


def _as_python_dir(archive: Path, out: Path) -> Path:
    """The same runtime in python-build-standalone's layout: everything under ``python/``."""
    with tarfile.open(archive) as source, tarfile.open(out, "w") as tar:
        tar.addfile(_dir_info("python"))
        for member in source:
            data = source.extractfile(member) if member.isreg() else None
            member.name = f"python/{member.name.lstrip('./')}" if member.name not in {".", "./"} else "python"
            if member.name != "python":
                tar.addfile(member, data)
    return out


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


@pytest.mark.skipif(not HAS_DATA_FILTER, reason="this Python's tarfile has no data filter (< 3.11.4)")
def test_real_runtime_extracts_as_with_the_data_filter(tmp_path: Path, runtime_mirror: RuntimeMirror) -> None:
    archive, _ = _real_archive(runtime_mirror, smallest=True)
    for label, path in (("prefix", archive), ("python-dir", _as_python_dir(archive, tmp_path / "pd.tar"))):
        our_dest, their_dest = stage(tmp_path, f"ours-{label}"), stage(tmp_path, f"theirs-{label}")
        assert ours(path, our_dest) == ""
        assert theirs(path, their_dest) == ""
        our_tree = snapshot(our_dest, dir_modes=False)
        assert our_tree == snapshot(their_dest, dir_modes=False)
        assert len(our_tree) > 1000
        assert any(kind == "link" for kind, *_ in our_tree.values())


def test_real_runtime_installs_and_runs(tmp_path: Path, runtime_mirror: RuntimeMirror) -> None:
    archive, runtime = _real_archive(runtime_mirror)
    version = str(runtime["version"])
    target = tmp_path / "app" / ".heroku" / "python"
    install_runtime(archive, entry(str(runtime["layout"]), version), target)
    proc = subprocess.run(
        [
            str(target / "bin" / "python"),
            "-c",
            "import sys, ssl, sqlite3, json; print(sys.version.split()[0])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, version), proc.stderr
    modes = {path.lstat().st_mode & 0o7000 for path in target.rglob("*") if not path.is_symlink()}
    assert modes == {0}
