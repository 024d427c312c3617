"""The compressed size of a release's slug: estimated once, after the release is live, and remembered.

A build does not wait for it (issue 11: it cost 4 to 9 s of a cold build): `pybuildpack releases`
estimates what no record holds yet and writes it into the release record
(``slug_compressed_size_estimate``, and ``durations.slug_size``); `slug export`, which compresses
the slug anyway, records the exact size (``slug_compressed_size``). Either runs under the app's
slug-size lock, never the build lock, so a running build does not hold them up.

Compressing the whole slug costs seconds per build (zlib at the export's level on ~100 MB). The
estimate instead adds up each file's own deflate size (at the same level as `slug export`) and the
deflate size of all the tar headers together. Each file's size is remembered by (device, inode, size,
mtime): the Python environment a warm build reuses is hard-linked from the cache, so only the files
that changed are compressed again. Files compressed alone lose a little of what a single stream shares
between them, so the estimate is slightly above the exported size; the log says "about".
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import zlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybuildpack import filelock
from pybuildpack.platform import releases, slug
from pybuildpack.platform.state import AppState, write_json

LEVEL = slug.LEVEL
_GZIP_FRAME = 18  # gzip header without name (10) and trailer (8)
ESTIMATE = "slug_compressed_size_estimate"
EXACT = "slug_compressed_size"
LOCK_TIMEOUT = 600.0


@dataclass
class Estimate:
    size: int
    files: int
    compressed_now: int  # files not known from an earlier build


def _deflated_size(path: Path) -> int:
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            size += len(compressor.compress(block))
    return size + len(compressor.flush())


def _key(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"


def estimate(app_dir: Path, known: dict[str, int]) -> tuple[Estimate, dict[str, int]]:
    """The estimate, and the per-file sizes to remember for the next build (only the files seen now)."""
    sizer = tarfile.open(fileobj=io.BytesIO(), mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115
    headers: list[bytes] = []
    seen: dict[str, int] = {}
    total = compressed_now = files = 0
    entries = [(app_dir, slug.ROOT)] + [
        (path, f"{slug.ROOT}/{path.relative_to(app_dir).as_posix()}") for path in slug.walk(app_dir)
    ]
    for path, name in entries:
        info = slug.tar_info(sizer, path, name)
        headers.append(info.tobuf(tarfile.PAX_FORMAT, sizer.encoding, sizer.errors))
        if not info.isfile():
            continue
        files += 1
        key = _key(path.stat())
        size = known.get(key)
        if size is None:
            size = _deflated_size(path)
            compressed_now += 1
        seen[key] = size
        total += size
    sizer.close()
    total += len(zlib.compress(b"".join(headers), LEVEL)) + _GZIP_FRAME
    return Estimate(total, files, compressed_now), seen


def estimate_with_memory(app_dir: Path, memory: Path) -> Estimate:
    """`estimate`, remembering per-file sizes in ``memory`` (a JSON file) between builds."""
    try:
        loaded = json.loads(memory.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        loaded = {}
    known = {str(k): v for k, v in loaded.items() if isinstance(v, int)} if isinstance(loaded, dict) else {}
    result, seen = estimate(app_dir, known)
    write_json(memory, seen)
    return result


def known_size(record: dict[str, Any]) -> tuple[int, bool] | None:
    """(bytes, exact) of the compressed slug as the record has it, or None."""
    for key, exact in ((EXACT, True), (ESTIMATE, False)):
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value, exact
    return None


def _sizes_lock(state: AppState) -> AbstractContextManager[None]:
    return filelock.exclusive(
        state.root / "slug-sizes.lock", what=f"the slug sizes of {state.name}", timeout=LOCK_TIMEOUT
    )


Reporter = Callable[[int, Estimate, float], None]


def estimate_missing(state: AppState, on_estimate: Reporter | None = None) -> None:
    """Estimate (and record) the compressed size of every usable release whose record has none."""
    for number in state.numbers():
        if known_size(state.read_release(number)) is None and releases.usable(state, number):
            with _sizes_lock(state):
                _estimate_one(state, number, on_estimate)


def _estimate_one(state: AppState, number: int, on_estimate: Reporter | None) -> None:
    record = state.read_release(number)  # again, under the lock: another process may have done it
    if known_size(record) is not None or record.get("status") != "succeeded":
        return
    started = time.monotonic()
    result = estimate_with_memory(state.release_dir(number) / "app", state.slug_sizes_file)
    seconds = round(time.monotonic() - started, 3)
    record[ESTIMATE] = result.size
    durations = record.setdefault("durations", {})
    if isinstance(durations, dict):
        durations["slug_size"] = seconds
    releases.update(state, number, record)
    if on_estimate is not None:
        on_estimate(number, result, seconds)


def record_exact(state: AppState, number: int, size: int) -> None:
    """Remember the size of an exported slug in its release's record."""
    with _sizes_lock(state):
        record = state.read_release(number)
        if record.get("status") == "succeeded" and record.get(EXACT) != size:
            record[EXACT] = size
            releases.update(state, number, record)
