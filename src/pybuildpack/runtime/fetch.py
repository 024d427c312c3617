"""Getting a runtime archive: reuse a verified cached copy, or download, verify, then rename into place.

Nothing unverified ever gets the final name: bytes are hashed while they are written to a temp file in
the cache dir, size and sha256 are checked, and only then is the file renamed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pybuildpack.errors import BuildError, visible
from pybuildpack.output import Console
from pybuildpack.runtime import _net
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
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _net.with_retries(lambda deadline: _download_once(entry, target, config, deadline), config)
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
    return target, False


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
        f"{sizes}\nThe downloaded file was deleted without being extracted.",
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


def _download_once(entry: RuntimeEntry, target: Path, config: _net.Settings, deadline: _net.Deadline) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=target.parent)
    temp = Path(temp_name)
    cap = None if entry.size is None else 2 * entry.size + _net.CHUNK
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(handle, "wb") as out:
            for chunk in _net.read_chunks(entry.url, config, deadline):
                digest.update(chunk)
                size += len(chunk)
                if cap is not None and size > cap:
                    raise _Mismatch(entry.sha256, "(not computed)", entry.size, f"more than {cap}")
                out.write(chunk)
        _check_complete(entry, size)
        actual = digest.hexdigest()
        if actual != entry.sha256 or (entry.size is not None and size != entry.size):
            raise _Mismatch(entry.sha256, actual, entry.size, str(size))
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
