"""Installing a verified runtime archive: safe extraction into a temp dir, then one rename.

The archive is extracted member by member by our own routine, the same on every Python (tarfile's
``extractall`` is never used: before 3.11.4 it has no filters, and its checks look at the file system
*after* links were created). The rules are those of tarfile's ``data`` filter, checked against a model
of what has been extracted so far, and enforced again by the kernel:

- a member name is relative and has no ``..``; a member never lies beneath a symbolic link or a file,
  and never repeats an earlier member (only a directory may be listed twice);
- a symbolic link's target, resolved through the links already extracted, stays inside the tree, and
  every link still does once the whole archive is in place (a later link cannot redirect an earlier one);
- a hard link points at a regular file extracted earlier; devices and FIFOs are refused;
- files keep only ``rwxr-xr-x`` bits (no setuid, setgid, sticky, group/other write), are always
  readable and writable by their owner, and are executable only if the owner could execute them;
  directories get ``rwx`` for the owner plus their ``r-x`` bits; ownership is never applied;
- every member is created inside a parent opened component by component with ``O_NOFOLLOW``, files
  with ``O_CREAT | O_EXCL | O_NOFOLLOW``, so nothing is ever written through a link.

Two layouts: ``python-dir`` (one top-level ``python/`` directory, python-build-standalone) and
``prefix`` (the tree at the root).
"""

from __future__ import annotations

import contextlib
import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pybuildpack.env import mask_url
from pybuildpack.errors import BuildError, visible
from pybuildpack.runtime.manifest import FAILURE, RuntimeEntry

Key = tuple[str, ...]

MAX_LINK_HOPS = 40
SHOWN_NAME = 120
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_ERRORS = (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error)
_UNSAFE_FIX = "Nothing was installed. Rebuild the archive (e.g. with `pybuildpack runtime pack`)."


class UnsafeMember(Exception):
    """A member breaks the extraction rules; the message names it (escaped and cut) and says why."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{shown(name)} {problem}")


def shown(text: str, limit: int = SHOWN_NAME) -> str:
    """A member name or link target for a message: invisible characters escaped, cut to ``limit``."""
    text = visible(text)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return f"'{text}'"


def install_runtime(archive: Path, entry: RuntimeEntry, target: Path) -> None:
    """Extract the verified ``archive`` into a staging dir beside ``target``, then rename it there."""
    with Staging(entry, target) as staging:
        staging.extract_file(archive)
        staging.install(archive.name)


def check_target(entry: RuntimeEntry, target: Path) -> None:
    if target.exists() or target.is_symlink():
        raise BuildError(
            f"Cannot install {entry.label}: {target} already exists.",
            "A runtime is only installed into an empty location.",
            f"Remove {target} and build again.",
            FAILURE,
            "target exists",
        )


class Staging:
    """A staging dir beside ``target`` (so the install is one rename), removed on leaving the with-block.

    ``extract_file`` or ``extract_stream`` fills it (each call starts from an empty tree, so a retried
    download never mixes two attempts); ``install`` checks the layout and renames the tree to ``target``.
    """

    def __init__(self, entry: RuntimeEntry, target: Path) -> None:
        check_target(entry, target)
        self.entry = entry
        self.target = target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.root = Path(tempfile.mkdtemp(prefix=f".{target.name}-extract-", dir=target.parent))
        except OSError as exc:
            raise _target_error(entry, target, exc) from exc
        self.attempts = 0

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *_: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _fresh_tree(self) -> Path:
        self.attempts += 1
        tree = self.root / str(self.attempts)
        shutil.rmtree(self.root / str(self.attempts - 1), ignore_errors=True)
        try:
            tree.mkdir()
        except OSError as exc:
            raise _target_error(self.entry, self.target, exc) from exc
        return tree

    def extract_file(self, archive: Path) -> None:
        if archive.name.endswith((".zst", ".zstd")):
            raise _zstd_error(self.entry, archive.name)
        tree = self._fresh_tree()
        with _archive_errors(self.entry, archive.name), tarfile.open(archive, "r:*") as tar:
            extract_all(tar, tree)

    def extract_stream(self, source: BinaryIO, name: str) -> None:
        """Extract a tar read front to back from ``source`` (a download as it arrives; the caller
        verifies every byte before calling ``install``)."""
        if name.endswith((".zst", ".zstd")):
            raise _zstd_error(self.entry, name)
        tree = self._fresh_tree()
        with _archive_errors(self.entry, name), tarfile.open(fileobj=source, mode="r|*") as tar:
            extract_all(tar, tree)

    def install(self, name: str) -> None:
        """Check the extracted tree's layout and interpreter, then rename it to the target."""
        tree = _layout_root(self.root / str(self.attempts), self.entry, name)
        _check_interpreter(tree, self.entry, name)
        try:
            tree.chmod(0o755)
            tree.rename(self.target)
        except OSError as exc:
            raise _target_error(self.entry, self.target, exc) from exc


def _target_error(entry: RuntimeEntry, target: Path, exc: OSError) -> BuildError:
    return BuildError(
        f"Cannot install {entry.label} into {visible(str(target))}.",
        f"Cause: {_cause(exc)}.",
        "Make sure the build directory is writable and has free space, then build again.",
        FAILURE,
        "target unwritable",
    )


def _zstd_error(entry: RuntimeEntry, name: str) -> BuildError:
    return _archive_error(
        entry,
        name,
        "zstd-compressed archives (.tar.zst) cannot be read: Python's standard library has no zstd.",
        "Use a .tar.gz or .tar.xz archive for this runtime in the manifest.",
    )


@contextlib.contextmanager
def _archive_errors(entry: RuntimeEntry, name: str) -> Iterator[None]:
    """An unsafe member or an unreadable archive, as the build error that names it."""
    try:
        yield
    except UnsafeMember as exc:
        raise _archive_error(entry, name, f"It contains an unsafe entry: {exc}.", _UNSAFE_FIX) from exc
    except _READ_ERRORS as exc:
        explanation = f"It could not be extracted: {_cause(exc)}."
        raise _archive_error(entry, name, explanation, "Check the archive in the runtime mirror.") from exc


def _cause(exc: BaseException) -> str:
    """The reason without the (possibly huge) path an OSError carries, which is shown escaped and cut."""
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if isinstance(exc.filename, str) else None
        return f"{exc.strerror} ({shown(name)})" if name else exc.strerror
    return visible(str(exc))[:300]


def extract_all(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract every member of ``tar`` into the empty directory ``dest`` (rules in the module doc)."""
    tree = _Tree()
    writer = _Writer(tar, os.open(dest, _DIR_FLAGS))
    try:
        for member in tar:
            _extract_member(member, tree, writer)
        tree.check_all_links()
        writer.finish_dirs(tree)
    finally:
        writer.close()


@dataclass
class _Node:
    kind: str  # "dir", "file" or "link"
    target: str = ""  # a link's target
    mode: int = 0o755  # a directory's final mode
    mtime: float | None = None


class _Tree:
    """What has been extracted so far, keyed by path components: every check resolves against it."""

    def __init__(self) -> None:
        self.nodes: dict[Key, _Node] = {(): _Node("dir")}

    def check_parent(self, key: Key, name: str) -> list[Key]:
        """Refuse a member beneath a link or a file; return the missing parent dirs (now recorded)."""
        missing: list[Key] = []
        for depth in range(1, len(key)):
            prefix = key[:depth]
            node = self.nodes.get(prefix)
            if node is None:
                self.nodes[prefix] = _Node("dir")
                missing.append(prefix)
            elif node.kind == "link":
                raise UnsafeMember(name, f"lies beneath the symbolic link {shown('/'.join(prefix))}")
            elif node.kind != "dir":
                raise UnsafeMember(name, f"lies beneath the file {shown('/'.join(prefix))}")
        return missing

    def resolve(self, start: Key, target: str, name: str) -> Key | None:
        """Where ``target`` (relative to the dir ``start``) leads through known links; None if outside."""
        stack = list(start)
        pending = target.split("/")[::-1]
        hops = 0
        while pending:
            part = pending.pop()
            if part in {"", "."}:
                continue
            if part == "..":
                if not stack:
                    return None
                stack.pop()
                continue
            stack.append(part)
            node = self.nodes.get(tuple(stack))
            if node is not None and node.kind == "link":
                hops += 1
                if hops > MAX_LINK_HOPS or node.target.startswith("/"):
                    raise UnsafeMember(name, "is a link through a loop or an absolute link")
                stack.pop()
                pending.extend(node.target.split("/")[::-1])
        return tuple(stack)

    def check_link(self, key: Key, target: str, name: str) -> None:
        if not target or "\0" in target:
            raise UnsafeMember(name, f"is a link with an empty or NUL-holding target {shown(target)}")
        if target.startswith("/"):
            raise UnsafeMember(name, f"is a link to the absolute path {shown(target)}")
        if self.resolve(key[:-1], target, name) is None:
            raise UnsafeMember(name, f"is a link pointing outside the archive ({shown(target)})")

    def check_all_links(self) -> None:
        """Once everything is in place, no link may lead outside (a later link can redirect one)."""
        for key, node in self.nodes.items():
            if node.kind == "link":
                self.check_link(key, node.target, "/".join(key))


def _member_key(name: str) -> Key:
    if "\0" in name:
        raise UnsafeMember(name, "has a NUL character in its name")
    if name.startswith("/"):
        raise UnsafeMember(name, "is an absolute path")
    parts = tuple(part for part in name.split("/") if part not in {"", "."})
    if ".." in parts:
        raise UnsafeMember(name, "is a path with '..'")
    return parts


def _extract_member(member: tarfile.TarInfo, tree: _Tree, writer: _Writer) -> None:
    name = member.name
    key = _member_key(name)
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeMember(name, "is a device, FIFO or other special file")
    if not member.isdir() and name.rsplit("/", 1)[-1] in {"", "."}:
        raise UnsafeMember(name, "is not a directory, but its name ends like one ('/' or '/.')")
    if not key:
        return  # the destination directory itself
    existing = tree.nodes.get(key)
    if existing is not None:
        if member.isdir() and existing.kind == "dir":
            existing.mode, existing.mtime = dir_mode(member.mode), member.mtime
            return
        kinds = {"dir": "a directory", "file": "a file", "link": "a symbolic link"}
        raise UnsafeMember(
            name, f"repeats an earlier member, {kinds[existing.kind]} (a member never replaces another)"
        )
    missing = tree.check_parent(key, name)
    _check_kind(member, key, tree)
    writer.create(member, key, missing)
    _record(member, key, tree)


def _check_kind(member: tarfile.TarInfo, key: Key, tree: _Tree) -> None:
    if member.issym():
        tree.check_link(key, member.linkname, member.name)
    elif member.islnk():
        try:
            target = _member_key(member.linkname)
        except UnsafeMember:
            target = ()
        node = tree.nodes.get(target) if target else None
        if node is None or node.kind != "file":
            raise UnsafeMember(
                member.name,
                f"is a hard link to {shown(member.linkname)}, which is not a regular file extracted before",
            )


def _record(member: tarfile.TarInfo, key: Key, tree: _Tree) -> None:
    if member.isdir():
        tree.nodes[key] = _Node("dir", mode=dir_mode(member.mode), mtime=member.mtime)
    elif member.issym():
        tree.nodes[key] = _Node("link", target=member.linkname)
    else:
        tree.nodes[key] = _Node("file")


def file_mode(mode: int) -> int:
    """The data filter's rule: no special or group/other write bits, owner rw, exec only if owner's."""
    mode &= 0o755
    if not mode & 0o100:
        mode &= ~0o111
    return mode | 0o600


def dir_mode(mode: int) -> int:
    return (mode & 0o755) | 0o700


class _Writer:
    """Creates members with dir fds opened without following links; keeps the last parent open."""

    def __init__(self, tar: tarfile.TarFile, root: int) -> None:
        self.tar = tar
        self.root = root
        self.parent: tuple[Key, int] | None = None

    def close(self) -> None:
        self._drop_parent()
        os.close(self.root)

    def _drop_parent(self) -> None:
        if self.parent is not None:
            os.close(self.parent[1])
            self.parent = None

    def open_dir(self, key: Key, missing: frozenset[Key] = frozenset()) -> int:
        """A new fd for the directory ``key``, creating the components listed in ``missing``."""
        fd = os.dup(self.root)
        try:
            for depth in range(1, len(key) + 1):
                if key[:depth] in missing:
                    os.mkdir(key[depth - 1], 0o700, dir_fd=fd)
                child = os.open(key[depth - 1], _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _parent_fd(self, key: Key, missing: list[Key]) -> int:
        if self.parent is None or self.parent[0] != key or missing:
            self._drop_parent()
            self.parent = (key, self.open_dir(key, frozenset(missing)))
        return self.parent[1]

    def create(self, member: tarfile.TarInfo, key: Key, missing: list[Key]) -> None:
        parent = self._parent_fd(key[:-1], missing)
        name = key[-1]
        if member.isdir():
            os.mkdir(name, 0o700, dir_fd=parent)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=parent)
        elif member.islnk():
            self._hard_link(_member_key(member.linkname), name, parent)
        else:
            self._write_file(member, name, parent)

    def _hard_link(self, target: Key, name: str, parent: int) -> None:
        source_dir = self.open_dir(target[:-1])
        try:
            os.link(target[-1], name, src_dir_fd=source_dir, dst_dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(source_dir)

    def _write_file(self, member: tarfile.TarInfo, name: str, parent: int) -> None:
        source = self.tar.extractfile(member)
        fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=parent)
        with os.fdopen(fd, "wb") as out:
            if source is not None:
                shutil.copyfileobj(source, out, 1024 * 1024)
            out.flush()
            os.fchmod(fd, file_mode(member.mode))
            _set_mtime(fd, member.mtime)

    def finish_dirs(self, tree: _Tree) -> None:
        """Give directories their modes and times, deepest first (children change a dir's mtime)."""
        self._drop_parent()
        dirs = [key for key, node in tree.nodes.items() if node.kind == "dir" and key]
        for key in sorted(dirs, key=len, reverse=True):
            node = tree.nodes[key]
            fd = self.open_dir(key)
            try:
                os.fchmod(fd, node.mode)
                _set_mtime(fd, node.mtime)
            finally:
                os.close(fd)


def _set_mtime(fd: int, mtime: float | None) -> None:
    if mtime is None:
        return
    # an out-of-range time is not worth failing the install for (tarfile ignores it too)
    with contextlib.suppress(OSError, OverflowError, ValueError):
        os.utime(fd, (mtime, mtime))


def _layout_root(staging: Path, entry: RuntimeEntry, archive: str) -> Path:
    if entry.layout == "prefix":
        return staging
    top = sorted(p.name for p in staging.iterdir())
    if top != ["python"] or not (staging / "python").is_dir() or (staging / "python").is_symlink():
        raise _archive_error(
            entry,
            archive,
            f"The manifest says layout 'python-dir' (one top-level 'python/' directory), but the archive's "
            f"top level holds: {', '.join(shown(name, 40) for name in top[:10]) or 'nothing'}"
            f"{f' and {len(top) - 10} more' if len(top) > 10 else ''}.",
            "Set the entry's layout to 'prefix' if the tree is at the archive root.",
        )
    return staging / "python"


def _check_interpreter(tree: Path, entry: RuntimeEntry, archive: str) -> None:
    major = entry.language_version.split(".", 1)[0]
    name = f"python{major}"
    interpreter = tree / "bin" / name
    if not interpreter.exists():
        raise _archive_error(
            entry,
            archive,
            f"After extraction there is no bin/{name} (layout '{entry.layout}').",
            "Check the entry's layout in the manifest, or rebuild the archive.",
        )
    python = tree / "bin" / "python"
    if not python.exists() and not python.is_symlink():
        python.symlink_to(name)


def _archive_error(entry: RuntimeEntry, archive: str, explanation: str, fix: str) -> BuildError:
    return BuildError(
        f"Cannot install {entry.label} from {archive} ({mask_url(entry.url)}).",
        explanation,
        fix,
        FAILURE,
        "bad archive",
    )
