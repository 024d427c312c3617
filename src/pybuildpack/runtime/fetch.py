"""Getting a runtime: reuse a verified cached archive, or download, verify, then rename into place.

Nothing unverified ever gets the final name: bytes are hashed while they are written to a temp file in
the cache dir, size and sha256 are checked, and only then is the file renamed. ``install_runtime_from``
also unpacks the archive while it arrives (issue 11): the same bytes go to the hash, the temp file and
the safe extractor (runtime/extract.py) at once, into a staging dir that becomes the runtime only once
the whole download verifies. A mismatch leaves neither the archive nor anything extracted from it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from pybuildpack.errors import BuildError, visible
from pybuildpack.output import Console
from pybuildpack.runtime import _net, extract
from pybuildpack.runtime.manifest import FAILURE, RuntimeEntry

_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tar.zstd", ".tar.bz2", ".tar")


class _Mismatch(Exception):
    """The bytes received are not the ones the manifest describes."""

    def __init__(
        self, expected_sha256: str, actual_sha256: str, expected_size: int | None, size: str
    ) -> None:
        super().__init__("mismatch")
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256
        self.expected_size = expected_size
        self.size = size


def archive_suffix(url: str) -> str:
    name = url.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1].lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return ".tar.gz"


def cached_path(entry: RuntimeEntry, archives_dir: Path) -> Path:
    """Where a verified archive is kept (the layout's runtime archives dir), named by its sha256."""
    return archives_dir / f"{entry.sha256}{archive_suffix(entry.url)}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_net.CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def obtain_archive(
    entry: RuntimeEntry,
    archives_dir: Path,
    console: Console,
    *,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path, bool]:
    """Return (archive path, reused). The archive's sha256 always matches the entry."""
    target = cached_path(entry, archives_dir)
    if _cached_copy_is_good(target, entry):
        console.info(f"Reusing the verified archive for {entry.label} from the cache")
        return target, True
    config = _net.settings(environ)
    _download(entry, target, lambda deadline: _download_once(entry, target, config, deadline), config)
    return target, False


def install_runtime_from(
    entry: RuntimeEntry,
    archives_dir: Path,
    target: Path,
    console: Console,
    *,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Install the runtime of ``entry`` at ``target``: from the verified cached archive, or unpacked
    while it downloads (the archive still lands in the cache). Returns whether the cache served it."""
    cached = cached_path(entry, archives_dir)
    if _cached_copy_is_good(cached, entry):
        console.info(f"Reusing the verified archive for {entry.label} from the cache")
        extract.install_runtime(cached, entry, target)
        return True
    if archive_suffix(entry.url) in {".tar.zst", ".tar.zstd"}:  # unreadable: fails as a cached one does
        archive, _ = obtain_archive(entry, archives_dir, console, environ=environ)
        extract.install_runtime(archive, entry, target)
        return False
    config = _net.settings(environ)
    with extract.Staging(entry, target) as staging:

        def attempt(deadline: _net.Deadline) -> None:
            unpack = functools.partial(staging.extract_stream, name=cached.name)
            _download_once(entry, cached, config, deadline, unpack=unpack)

        _download(entry, cached, attempt, config)
        staging.install(cached.name)
    return False


def _download(
    entry: RuntimeEntry, target: Path, attempt: Callable[[_net.Deadline], None], config: _net.Settings
) -> None:
    """Run download attempts (with retries), the errors becoming build errors that say what failed."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _net.with_retries(attempt, config)
    except _Mismatch as exc:
        raise _mismatch_error(entry, exc) from exc
    except _net.DownloadError as exc:
        raise BuildError(
            f"Could not download {entry.label}.",
            f"URL: {_net.shown_url(entry.url)}\nCause: {exc}",
            "Check that the runtime mirror is reachable and answers quickly enough, then build again.\n"
            "Limits: CURL_CONNECT_TIMEOUT, CURL_TIMEOUT, PYBUILDPACK_DOWNLOAD_TIMEOUT,\n"
            "PYBUILDPACK_DOWNLOAD_MIN_RATE and PYBUILDPACK_DOWNLOAD_RATE_WINDOW (process environment);\n"
            "credentials: user:password@ in the URL, or the host's entry in ~/.netrc (or $NETRC).",
            FAILURE,
            "download failed",
        ) from exc
    except OSError as exc:  # the cache side: not a directory, read-only, full
        raise BuildError(
            f"Cannot store the {entry.label} archive in the cache.",
            f"Directory: {visible(str(target.parent))}\nCause: {_os_cause(exc)}",
            "Make CACHE_DIR a writable directory with free space"
            f"{f' (the archive takes {entry.size} bytes)' if entry.size else ''}, then build again.",
            FAILURE,
            "cache unwritable",
        ) from exc


def _os_cause(exc: OSError) -> str:
    name = f" ({visible(str(exc.filename))[:200]})" if exc.filename else ""
    return f"{exc.strerror or visible(str(exc))[:200]}{name}"


def _cached_copy_is_good(target: Path, entry: RuntimeEntry) -> bool:
    try:
        if not target.is_file():
            return False
        if entry.size is not None and target.stat().st_size != entry.size:
            good = False
        else:
            good = file_sha256(target) == entry.sha256
        if not good:
            target.unlink()
    except OSError:
        return False
    return good


def _mismatch_error(entry: RuntimeEntry, exc: _Mismatch) -> BuildError:
    sizes = ""
    if exc.expected_size is not None:
        sizes = f"\nExpected size:   {exc.expected_size} bytes\nActual size:     {exc.size} bytes"
    return BuildError(
        f"The {entry.label} archive does not match the runtime manifest (sha256 mismatch).",
        f"URL: {_net.shown_url(entry.url)}\nExpected sha256: {exc.expected_sha256}\n"
        f"Actual sha256:   {exc.actual_sha256}"
        f"{sizes}\nThe downloaded file was deleted, with anything unpacked from it: nothing was installed.",
        "If the archive was rebuilt on purpose, update its sha256 and size in the manifest\n"
        "(`pybuildpack runtime pack` does it); otherwise the mirror serves a damaged or different file.",
        FAILURE,
        "sha256 mismatch",
    )


def _check_complete(entry: RuntimeEntry, size: int) -> None:
    """A body that ended early over HTTP is a cut transfer (retried), not a damaged archive."""
    if entry.size is not None and size < entry.size and _net.scheme(entry.url) in {"http", "https"}:
        raise _net.DownloadError(
            f"the transfer was cut: the server ended the body at {size} of {entry.size} bytes "
            "(the size in the manifest)"
        )


class _Body:
    """One attempt's body as a file to read front to back: each byte read is hashed, counted and
    written to the temp file that becomes the cached archive."""

    def __init__(self, chunks: Iterator[bytes], out: BinaryIO, entry: RuntimeEntry) -> None:
        self.chunks = chunks
        self.out = out
        self.entry = entry
        self.digest = hashlib.sha256()
        self.size = 0
        self.cap = None if entry.size is None else 2 * entry.size + _net.CHUNK
        self.pending = memoryview(b"")
        self.failed: _net.DownloadError | _Mismatch | None = None  # raised while a reader had it

    def _next_chunk(self) -> bool:
        try:
            chunk = next(self.chunks, b"")
        except (_net.DownloadError, _Mismatch) as exc:
            self.failed = exc
            raise
        if not chunk:
            return False
        self.digest.update(chunk)
        self.size += len(chunk)
        if self.cap is not None and self.size > self.cap:
            self.failed = _Mismatch(
                self.entry.sha256, "(not computed)", self.entry.size, f"more than {self.cap}"
            )
            raise self.failed
        self.out.write(chunk)
        self.pending = memoryview(chunk)
        return True

    def read(self, size: int = -1) -> bytes:
        if not self.pending and not self._next_chunk():
            return b""
        count = len(self.pending) if size is None or size < 0 else min(size, len(self.pending))
        data = self.pending[:count].tobytes()
        self.pending = self.pending[count:]
        return data

    def drain(self) -> None:
        """Receive the rest (what the reader left: the end of the compressed stream, padding)."""
        self.pending = memoryview(b"")
        while self._next_chunk():
            self.pending = memoryview(b"")

    def verify(self) -> None:
        _check_complete(self.entry, self.size)
        actual = self.digest.hexdigest()
        if actual != self.entry.sha256 or (self.entry.size is not None and self.size != self.entry.size):
            raise _Mismatch(self.entry.sha256, actual, self.entry.size, str(self.size))


def _download_once(
    entry: RuntimeEntry,
    target: Path,
    config: _net.Settings,
    deadline: _net.Deadline,
    *,
    unpack: Callable[[BinaryIO], None] | None = None,
) -> None:
    """One attempt: the body to a temp file renamed to ``target`` once verified; ``unpack`` reads the
    body as it arrives. Its error counts only for a verified archive (then it is the archive's fault,
    and the archive is still cached, as when a cached archive fails to extract)."""
    handle, temp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=target.parent)
    temp = Path(temp_name)
    refused: BuildError | None = None
    try:
        with os.fdopen(handle, "wb") as out:
            body = _Body(_net.read_chunks(entry.url, config, deadline), out, entry)
            if unpack is not None:
                refused = _unpack(unpack, body)
            body.drain()
        body.verify()
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
    if refused is not None:
        raise refused


def _unpack(unpack: Callable[[BinaryIO], None], body: _Body) -> BuildError | None:
    """Run the extractor over the body; a download failure wins over what the extractor made of it."""
    try:
        unpack(body)  # type: ignore[arg-type]  # read() is all tarfile's stream mode uses
    except BuildError as exc:
        if body.failed is not None:
            raise body.failed from exc
        return exc
    return None
