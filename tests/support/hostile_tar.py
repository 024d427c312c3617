"""A corpus of hostile tar archives for the runtime extraction tests.

Every case is a small runtime (``bin/python3.12``, ``lib/...``) plus hostile members. Escaping members
aim at a ``sentinel/`` directory beside the extraction area: the archive is extracted ``DEPTH``
levels below the test's ``tmp_path`` (``tmp_path/a/b/stage``), so ``../../../sentinel`` from the
extraction root is the sentinel.

``verdict`` is what our routine must do: ``refuse`` (and name ``culprit``) or ``sanitize`` (extract,
with the modes in ``modes``). ``stricter`` says why tarfile's ``data`` filter accepts an archive we
refuse (it strips a leading ``/``, replaces duplicates, writes through links inside the tree); empty
when both must agree.
"""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

DEPTH = 3
UP = "../" * DEPTH
CHAIN = 20  # d1/d2/.../d20


@dataclass(frozen=True)
class Member:
    kind: str  # file, dir, symlink, hardlink, fifo, chr, blk
    name: str
    value: str = ""  # file content or link target
    mode: int = 0o644


@dataclass(frozen=True)
class Case:
    id: str
    members: tuple[Member, ...]
    verdict: str  # "refuse" or "sanitize"
    culprit: str = ""  # the member a refusal must name (as shown: escaped)
    modes: dict[str, int] = field(default_factory=dict)  # sanitize: path -> expected mode
    stricter: str = ""


RUNTIME = (
    Member("dir", "bin", mode=0o755),
    Member("file", "bin/python3.12", "#!/bin/sh\necho hi\n", 0o755),
    Member("symlink", "bin/python3", "python3.12"),
    Member("dir", "lib", mode=0o755),
    Member("file", "lib/libpython3.12.so.1.0", "elf", 0o644),
)

_DIRS = "/".join(f"d{i}" for i in range(1, CHAIN + 1))
# q resolves to d17 (inside). z's target is, written out, d1/.../d20/q followed by 20 '..': read as
# text it stays inside (d1), followed through q it climbs DEPTH levels above the root: the sentinel's
# parent. The file then lands in sentinel/.
_Q = Member("symlink", f"{_DIRS}/q", "../../..")
_Z = Member("symlink", "z", f"{_DIRS}/q/" + "../" * (CHAIN - 3 + DEPTH))


def _case(id: str, *members: Member, culprit: str = "", stricter: str = "") -> Case:
    return Case(id, (*RUNTIME, *members), "refuse", culprit or members[-1].name, stricter=stricter)


def corpus(sentinel: Path) -> list[Case]:
    absolute = str(sentinel / "keep")
    return [
        _case("dotdot", Member("file", f"{UP}sentinel/evil", "x")),
        _case("dotdot-inner", Member("file", f"bin/../../{UP}sentinel/evil", "x")),
        _case("dotdot-escape-sequence-name", Member("file", f"\x1b[2J/{UP}sentinel/evil", "x")),
        _case("dotdot-long-name", Member("file", "a" * 3000 + f"/../../{UP}sentinel/evil", "x")),
        _case(
            "absolute-name",
            Member("file", f"{sentinel}/evil", "x"),
            stricter="the data filter strips the leading '/' and extracts inside",
        ),
        _case("symlink-escape", Member("symlink", "esc", f"{UP}sentinel"), culprit="esc"),
        _case(
            "symlink-escape-then-file",
            Member("symlink", "esc", f"{UP}sentinel"),
            Member("file", "esc/evil", "x"),
            culprit="esc",
        ),
        _case("symlink-absolute", Member("symlink", "abs", str(sentinel))),
        _case("symlink-up-then-file", Member("symlink", "up", ".."), Member("file", "up/evil"), culprit="up"),
        _case(
            "chain-symlinks-then-file",
            Member("dir", _DIRS, mode=0o755),
            _Q,
            _Z,
            Member("file", "z/sentinel/evil", "x"),
            culprit="z",
        ),
        _case(
            "chain-symlinks-then-hardlink-write-through",
            Member("dir", _DIRS, mode=0o755),
            _Q,
            _Z,
            Member("hardlink", "h", "z/sentinel/keep"),
            Member("file", "h", "overwritten"),
            culprit="z",
        ),
        _case("hardlink-outside", Member("hardlink", "h", f"{UP}sentinel/keep")),
        _case("hardlink-absolute", Member("hardlink", "h", absolute)),
        _case(
            "symlink-overwritten-by-file-escape",
            Member("symlink", "lnk", f"{UP}sentinel/keep"),
            Member("file", "lnk", "overwritten"),
            culprit="lnk",
        ),
        _case(
            "symlink-overwritten-by-file-inside",
            Member("symlink", "bin/link", "python3.12"),
            Member("file", "bin/link", "overwritten"),
            stricter="the data filter writes the file through the link (into bin/python3.12)",
        ),
        _case(
            "duplicate-file",
            Member("file", "lib/x", "one"),
            Member("file", "lib/x", "two"),
            stricter="the data filter replaces the first file",
        ),
        _case(
            "symlink-to-dir-then-file-beneath",
            Member("symlink", "lib2", "lib"),
            Member("file", "lib2/x", "x"),
            stricter="the data filter writes lib/x through the link",
        ),
        _case(
            "dangling-link-redirected-later",
            Member("symlink", "a", "x/.."),
            Member("symlink", "x", "."),
            culprit="a",
            stricter="the data filter checks a link only when it is created; 'a' ends at the root's parent",
        ),
        _case("file-named-like-a-dir", Member("file", "lib/."), culprit="lib/."),
        _case(
            "symlink-named-like-a-dir",
            Member("symlink", "lib/x/", "."),
            culprit="lib/x/",
            stricter="the data filter creates the link lib/x",
        ),
        _case("symlink-nul-target", Member("symlink", "bin/nul", "python3.12\0x")),
        _case("fifo", Member("fifo", "bin/fifo")),
        _case("char-device", Member("chr", "dev/null")),
        _case("block-device", Member("blk", "dev/sda")),
        _case("hardlink-to-missing", Member("hardlink", "h", "lib/nothing"), culprit="h"),
        Case(
            "setuid-world-writable-sanitized",
            (
                *RUNTIME,
                Member("file", "bin/suid", "x", 0o4755),
                Member("file", "bin/sgid", "x", 0o2775),
                Member("file", "lib/world", "x", 0o666),
                Member("file", "lib/all", "x", 0o7777),
                Member("file", "lib/none", "x", 0o000),
                Member("file", "lib/gexec", "x", 0o070),
                Member("dir", "share", mode=0o1777),
                Member("file", "share/f", "x", 0o644),
                Member("hardlink", "share/f2", "share/f"),
            ),
            "sanitize",
            modes={
                "bin/suid": 0o755,
                "bin/sgid": 0o755,
                "lib/world": 0o644,
                "lib/all": 0o755,
                "lib/none": 0o600,
                "lib/gexec": 0o640,
                "share/f": 0o644,
                "share/f2": 0o644,
            },
        ),
    ]


_TYPES = {
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
}


def write_tar(path: Path, members: tuple[Member, ...] | list[Member]) -> Path:
    """Write the members as a gzip tar (pax format: any name length, NULs kept in pax records)."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.mode = member.mode
            info.mtime = 1_700_000_000
            data = None
            if member.kind == "file":
                data = member.value.encode()
                info.size = len(data)
            else:
                info.type = _TYPES[member.kind]
                info.linkname = member.value
                if "\0" in member.value:
                    info.pax_headers = {"linkpath": member.value}
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def make_sentinel(tmp_path: Path) -> Path:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_text("original")
    return sentinel


def snapshot(root: Path, *, dir_modes: bool = True) -> dict[str, tuple[str, str, int, int]]:
    """Path -> (kind, sha256 or link target, mode, mtime) under ``root``, links not followed.

    ``dir_modes=False`` leaves directory modes out (tarfile's data filter gives them the umask's).
    """
    found: dict[str, tuple[str, str, int, int]] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        info = path.lstat()
        if path.is_symlink():
            found[relative] = ("link", str(path.readlink()), 0, 0)
        elif path.is_dir():
            found[relative] = ("dir", "", info.st_mode & 0o7777 if dir_modes else 0, 0)
        elif path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[relative] = ("file", digest, info.st_mode & 0o7777, int(info.st_mtime))
        else:
            found[relative] = ("other", "", info.st_mode, 0)
    return found


_PARTS = ("a", "b", "c", "x", "..", ".")
_TARGETS = (
    "a",
    "b",
    "a/b",
    "..",
    "../..",
    ".",
    "x/..",
    "x/../..",
    "a/../..",
    f"{UP}sentinel",
    "c/../a",
    "/abs",
)
_KINDS = ("file", "dir", "symlink", "hardlink", "fifo")


def random_members(rng: random.Random) -> list[Member]:
    """2 to 7 members with short colliding names, links among them, '..' and escapes: a fuzz case."""

    def name() -> str:
        return "/".join(rng.choice(_PARTS[:4] if i == 0 else _PARTS) for i in range(rng.randint(1, 3)))

    members = []
    for _ in range(rng.randint(2, 7)):
        kind = rng.choices(_KINDS, (40, 25, 25, 8, 2))[0]
        value = rng.choice(_TARGETS) if kind == "symlink" else name() if kind == "hardlink" else "x"
        members.append(Member(kind, name(), value, rng.choice((0o644, 0o755, 0o4755, 0o777, 0o600))))
    return members
