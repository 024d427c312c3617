"""Installing runtime archives: both layouts, and unsafe archives refused with nothing left behind."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Literal

import pytest

from pybuildpack.errors import BuildError
from pybuildpack.runtime.extract import install_runtime
from pybuildpack.runtime.manifest import RuntimeEntry


def make_entry(layout: str, version: str = "3.12.1") -> RuntimeEntry:
    return RuntimeEntry(version, "linux-x86_64-gnu", "file:///m/a.tar.gz", "a" * 64, None, layout, "cpython")


def build_tar(
    path: Path, members: list[tuple[str, str, str]], mode: Literal["w:gz", "w:xz"] = "w:gz"
) -> Path:
    """members: (kind, name, content-or-linkname) with kind in file/dir/symlink/hardlink/fifo."""
    with tarfile.open(path, mode) as tar:
        for kind, name, value in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = value.encode()
                info.size = len(data)
                info.mode = 0o755
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, value
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, value
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


PREFIX_TREE = [
    ("dir", "bin", ""),
    ("file", "bin/python3.12", "#!/bin/sh\necho hi\n"),
    ("symlink", "bin/python3", "python3.12"),
    ("dir", "lib", ""),
    ("file", "lib/libpython3.12.so.1.0", "elf"),
]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def test_prefix_layout(tmp_path: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", PREFIX_TREE)
    target = tmp_path / "app" / ".heroku" / "python"
    install_runtime(archive, make_entry("prefix"), target)
    assert (target / "bin" / "python3.12").read_text() == "#!/bin/sh\necho hi\n"
    assert (target / "bin" / "python").resolve() == (target / "bin" / "python3.12").resolve()
    assert leftovers(target.parent) == ["python"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o755)


def test_python_dir_layout_and_xz(tmp_path: Path) -> None:
    members = [("dir", "python", ""), *[(k, f"python/{n}", v) for k, n, v in PREFIX_TREE]]
    members.append(("symlink", "python/bin/python", "python3.12"))
    archive = build_tar(tmp_path / "a.tar.xz", members, "w:xz")
    target = tmp_path / "out" / "python"
    install_runtime(archive, make_entry("python-dir"), target)
    assert (target / "bin" / "python3").exists()
    assert (target / "bin" / "python").is_symlink()
    assert leftovers(target.parent) == ["python"]


def test_python2_runtime_needs_python2(tmp_path: Path) -> None:
    archive = build_tar(
        tmp_path / "a.tar.gz", [("file", "bin/python2.7", "x"), ("symlink", "bin/python2", "python2.7")]
    )
    install_runtime(archive, make_entry("prefix", "2.7.18"), tmp_path / "py")
    assert (tmp_path / "py" / "bin" / "python").resolve().name == "python2.7"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([("file", "../evil", "x")], "'..'"),
        ([("file", "bin/../../evil", "x")], "'..'"),
        ([("file", "/etc/evil", "x")], "absolute path"),
        ([("symlink", "bin/esc", "../../outside")], "pointing outside"),
        ([("symlink", "esc", "/etc/passwd")], "absolute path"),
        ([("hardlink", "esc", "../outside")], "not a regular file extracted before"),
        ([("fifo", "bin/fifo", "")], "special file"),
    ],
)
def test_unsafe_archives_are_refused(
    tmp_path: Path, members: list[tuple[str, str, str]], expected: str
) -> None:
    archive = build_tar(tmp_path / "bad.tar.gz", [*PREFIX_TREE, *members])
    dest_parent = tmp_path / "dest"
    with pytest.raises(BuildError) as caught:
        install_runtime(archive, make_entry("prefix"), dest_parent / "python")
    assert "unsafe" in caught.value.explanation
    assert expected in caught.value.explanation
    assert caught.value.failure_reason == "install-python"
    assert leftovers(dest_parent) == []
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "outside").exists()


def test_symlink_through_symlinked_dir_is_refused(tmp_path: Path) -> None:
    members = [*PREFIX_TREE, ("symlink", "up", ".."), ("file", "up/escaped", "x")]
    archive = build_tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(BuildError):
        install_runtime(archive, make_entry("prefix"), tmp_path / "dest" / "python")
    assert leftovers(tmp_path / "dest") == []
    assert not (tmp_path / "dest" / "escaped").exists()


def test_wrong_layout_and_missing_interpreter(tmp_path: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", PREFIX_TREE)
    with pytest.raises(BuildError) as caught:
        install_runtime(archive, make_entry("python-dir"), tmp_path / "d1" / "python")
    assert "top level holds: 'bin', 'lib'" in caught.value.explanation
    assert leftovers(tmp_path / "d1") == []
    archive = build_tar(tmp_path / "b.tar.gz", [("file", "lib/x", "y")])
    with pytest.raises(BuildError) as caught:
        install_runtime(archive, make_entry("prefix"), tmp_path / "d2" / "python")
    assert "no bin/python3" in caught.value.explanation
    assert leftovers(tmp_path / "d2") == []


def test_existing_target_zst_and_corrupt(tmp_path: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", PREFIX_TREE)
    (tmp_path / "exists").mkdir()
    with pytest.raises(BuildError) as caught:
        install_runtime(archive, make_entry("prefix"), tmp_path / "exists")
    assert "already exists" in caught.value.headline
    zst = tmp_path / "python-3.12.1.tar.zst"
    zst.write_bytes(b"(\xb5/\xfd")
    with pytest.raises(BuildError) as caught:
        install_runtime(zst, make_entry("prefix"), tmp_path / "z" / "python")
    assert "zstd" in caught.value.explanation
    corrupt = tmp_path / "c.tar.gz"
    corrupt.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(BuildError) as caught:
        install_runtime(corrupt, make_entry("prefix"), tmp_path / "c" / "python")
    assert "could not be extracted" in caught.value.explanation
    assert leftovers(tmp_path / "c") == []


def test_target_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    archive = build_tar(tmp_path / "a.tar.gz", PREFIX_TREE)
    (tmp_path / "app").write_text("a file where the build dir's .heroku should be")
    with pytest.raises(BuildError) as caught:
        install_runtime(archive, make_entry("prefix"), tmp_path / "app" / ".heroku" / "python")
    assert caught.value.headline.startswith("Cannot install Python 3.12.1 into ")
    assert "Not a directory" in caught.value.explanation or "File exists" in caught.value.explanation
    assert caught.value.failure_reason == "install-python"
