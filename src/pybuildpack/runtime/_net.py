"""Reading from file://, http:// and https:// URLs with timeouts and a few retries (stdlib only)."""

from __future__ import annotations

import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024
ATTEMPTS = 3
USER_AGENT = "pybuildpack"


@dataclass(frozen=True)
class Timeouts:
    connect: float
    total: float


class DownloadError(Exception):
    """A download failed; the message is the cause in words, without the URL."""


class PermanentError(DownloadError):
    """Retrying will not help (404, file missing, bad scheme)."""


def timeouts(environ: Mapping[str, str] | None = None) -> Timeouts:
    env = os.environ if environ is None else environ
    return Timeouts(
        connect=_seconds(env.get("CURL_CONNECT_TIMEOUT"), 3.0),
        total=_seconds(env.get("CURL_TIMEOUT"), 60.0),
    )


def _seconds(value: str | None, default: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if number > 0 else default


def scheme(url: str) -> str:
    return urllib.parse.urlsplit(url).scheme.lower()


def file_url_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in {"", "localhost"}:
        raise PermanentError(f"file URLs on another host ({parts.netloc}) are not supported")
    return Path(urllib.request.url2pathname(parts.path))


def with_retries(action: Callable[[], None], *, attempts: int = ATTEMPTS, pause: float = 0.5) -> None:
    """Run ``action``; on a DownloadError that is not permanent, wait (0.5 s, 1 s, ...) and try again."""
    for attempt in range(1, attempts + 1):
        try:
            action()
        except PermanentError:
            raise
        except DownloadError:
            if attempt == attempts:
                raise
            time.sleep(pause * 2 ** (attempt - 1))
        else:
            return


def read_chunks(url: str, limits: Timeouts) -> Iterator[bytes]:
    """Yield the body of ``url`` in chunks; errors become DownloadError with a readable cause."""
    kind = scheme(url)
    if kind == "file":
        yield from _file_chunks(file_url_path(url))
    elif kind in {"http", "https"}:
        yield from _http_chunks(url, limits)
    else:
        raise PermanentError(f"unsupported URL scheme {kind or '(none)'!r}; use file://, http:// or https://")


def _file_chunks(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
    except FileNotFoundError as exc:
        raise PermanentError(f"no such file: {path}") from exc
    except OSError as exc:
        raise DownloadError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _http_chunks(url: str, limits: Timeouts) -> Iterator[bytes]:
    deadline = time.monotonic() + limits.total
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=limits.connect) as response:
            _set_read_timeout(response, max(1.0, deadline - time.monotonic()))
            while chunk := response.read(CHUNK):
                if time.monotonic() > deadline:
                    raise DownloadError(f"the download took longer than {limits.total:g} s (CURL_TIMEOUT)")
                yield chunk
    except urllib.error.HTTPError as exc:
        cause = f"HTTP {exc.code} {exc.reason}"
        if exc.code in {401, 403, 404, 410}:
            raise PermanentError(cause) from exc
        raise DownloadError(cause) from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot connect: {_reason(exc.reason)}") from exc
    except TimeoutError as exc:
        raise DownloadError("timed out (CURL_CONNECT_TIMEOUT / CURL_TIMEOUT)") from exc
    except http.client.HTTPException as exc:
        raise DownloadError(f"the transfer broke off: {type(exc).__name__} {exc}") from exc
    except OSError as exc:
        raise DownloadError(f"connection failed: {exc.strerror or exc}") from exc


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out (CURL_CONNECT_TIMEOUT)"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)


def _set_read_timeout(response: object, seconds: float) -> None:
    """Once connected, allow reads to stall up to the remaining total time, not just the connect timeout."""
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


def read_all(url: str, limits: Timeouts, *, max_bytes: int = 64 * 1024 * 1024) -> bytes:
    """The whole body of a small document (a manifest), with retries."""
    result: list[bytes] = []

    def attempt() -> None:
        result.clear()
        size = 0
        for chunk in read_chunks(url, limits):
            size += len(chunk)
            if size > max_bytes:
                raise PermanentError(f"larger than {max_bytes} bytes")
            result.append(chunk)

    with_retries(attempt)
    return b"".join(result)
