"""Reading file://, http:// and https:// URLs with deadlines, a minimum rate and bounded retries.

Settings, read from the process environment (operator configuration, like the mirror itself):

- ``CURL_CONNECT_TIMEOUT`` (3 s): connecting, and then waiting for the server's answer;
- ``CURL_TIMEOUT`` (60 s): one attempt, first byte to last;
- ``PYBUILDPACK_DOWNLOAD_TIMEOUT`` (180 s): the whole download, every attempt and pause included;
- ``PYBUILDPACK_DOWNLOAD_MIN_RATE`` (4096 bytes/s) over each ``PYBUILDPACK_DOWNLOAD_RATE_WINDOW``
  (15 s): a slower transfer, or one that stalls, is stopped.

A dropped connection, a stall, a 5xx answer or a refused connection is retried (3 attempts, pauses of
0.5 s then 1 s, never past the total deadline). Credentials come from ``user:password@`` in the URL,
else from the host's entry in ``$NETRC`` or ``~/.netrc``; they are sent as HTTP basic authentication
(never to a redirect's target) and never shown: error causes carry no URL, callers print ``shown_url``.
"""

from __future__ import annotations

import base64
import http.client
import netrc
import os
import re
import socket
import ssl
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pybuildpack.env import mask_url
from pybuildpack.errors import visible

CHUNK = 1024 * 1024
READ_SIZE = 256 * 1024
ATTEMPTS = 3
PAUSE = 0.5
USER_AGENT = "pybuildpack"
SHOWN_URL = 200
_USERINFO = re.compile(r"(//)[^/?#]*@")


@dataclass(frozen=True)
class Settings:
    connect: float
    attempt: float
    total: float
    min_rate: float
    window: float
    netrc: Path | None
    cafile: str | None = None  # a CA bundle to verify https servers with (else the system's)


@dataclass(frozen=True)
class Deadline:
    at: float  # time.monotonic() value
    label: str  # what set it, for messages


class DownloadError(Exception):
    """A download failed; the message is the cause in words, without the URL."""

    attempts = 1

    def __str__(self) -> str:
        cause = super().__str__()
        return cause if self.attempts == 1 else f"{cause} (gave up after {self.attempts} attempts)"


class PermanentError(DownloadError):
    """Retrying will not help (404, 401, file missing, bad scheme)."""


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(
        connect=_number(env.get("CURL_CONNECT_TIMEOUT"), 3.0),
        attempt=_number(env.get("CURL_TIMEOUT"), 60.0),
        total=_number(env.get("PYBUILDPACK_DOWNLOAD_TIMEOUT"), 180.0),
        min_rate=_number(env.get("PYBUILDPACK_DOWNLOAD_MIN_RATE"), 4096.0),
        window=_number(env.get("PYBUILDPACK_DOWNLOAD_RATE_WINDOW"), 15.0),
        netrc=_netrc_path(env),
    )


def _number(value: str | None, default: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if 0 < number < 1e9 else default


def _netrc_path(env: Mapping[str, str]) -> Path | None:
    if env.get("NETRC"):
        return Path(env["NETRC"])
    home = env.get("HOME")
    return Path(home) / ".netrc" if home else None


def shown_url(url: str) -> str:
    """A URL for a message: credentials masked, invisible characters escaped, cut to a readable length."""
    masked = mask_url(url)
    if masked == "<unparsable URL>":  # still show which value it is, minus anything before an '@'
        masked = _USERINFO.sub(r"\1****@", url)
    text = visible(masked)
    return (
        text if len(text) <= SHOWN_URL else f"{text[:SHOWN_URL]}... ({len(text) - SHOWN_URL} more characters)"
    )


def scheme(url: str) -> str:
    return urllib.parse.urlsplit(url).scheme.lower()


def file_url_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in {"", "localhost"}:
        host = visible(parts.netloc.rpartition("@")[2])[:100]
        raise PermanentError(f"file URLs on another host ({host}) are not supported")
    return Path(urllib.request.url2pathname(parts.path))


def with_retries(
    action: Callable[[Deadline], None], config: Settings, *, attempts: int = ATTEMPTS, pause: float = PAUSE
) -> None:
    """Run ``action``; on a DownloadError that is not permanent, pause (0.5 s, 1 s, ...) and try again,
    within ``attempts`` and the total deadline."""
    end = time.monotonic() + config.total
    for attempt in range(1, attempts + 1):
        try:
            action(_deadline(config, end))
        except PermanentError:
            raise
        except DownloadError as exc:
            wait = pause * 2 ** (attempt - 1)
            if attempt == attempts or time.monotonic() + wait >= end:
                exc.attempts = attempt
                raise
            time.sleep(wait)
        else:
            return


def _deadline(config: Settings, end: float) -> Deadline:
    attempt_end = time.monotonic() + config.attempt
    if attempt_end <= end:
        return Deadline(attempt_end, f"{config.attempt:g} s for one attempt (CURL_TIMEOUT)")
    return Deadline(end, f"{config.total:g} s in all (PYBUILDPACK_DOWNLOAD_TIMEOUT)")


def read_chunks(url: str, config: Settings, deadline: Deadline) -> Iterator[bytes]:
    """Yield the body of ``url`` in chunks; errors become DownloadError with a readable cause."""
    try:
        kind = scheme(url)
    except ValueError as exc:
        raise PermanentError(f"it is not a valid URL ({exc})") from exc
    if kind == "file":
        yield from _file_chunks(file_url_path(url))
    elif kind in {"http", "https"}:
        yield from _http_chunks(url, config, deadline)
    else:
        raise PermanentError(f"unsupported URL scheme {kind or '(none)'!r}; use file://, http:// or https://")


def _file_chunks(path: Path) -> Iterator[bytes]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO must not block us
    except FileNotFoundError as exc:
        raise PermanentError(f"no such file: {visible(str(path))}") from exc
    except (OSError, ValueError) as exc:
        raise PermanentError(f"cannot read {visible(str(path))}: {_strerror(exc)}") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PermanentError(f"{visible(str(path))} is not a regular file")
        try:
            while chunk := handle.read(CHUNK):
                yield chunk
        except OSError as exc:
            raise DownloadError(f"cannot read {visible(str(path))}: {_strerror(exc)}") from exc


def _strerror(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _http_chunks(url: str, config: Settings, deadline: Deadline) -> Iterator[bytes]:
    try:
        _ = urllib.parse.urlsplit(url).port
    except ValueError as exc:
        raise PermanentError(f"it is not a valid URL ({exc})") from exc
    request, source = _request(url, config)
    pace = _Pace(config, deadline)
    timeout = max(0.05, min(config.connect, deadline.at - time.monotonic()))
    try:
        context = ssl.create_default_context(cafile=config.cafile) if config.cafile else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            pace.start(response.length)
            while chunk := pace.read(response):
                yield chunk
            pace.finish()
    except DownloadError:
        raise
    except (http.client.InvalidURL, ValueError, OverflowError) as exc:
        raise PermanentError(f"it is not a valid URL ({visible(str(exc))[:200]})") from exc
    except urllib.error.HTTPError as exc:
        raise _http_error(exc, source) from exc
    except urllib.error.URLError as exc:
        raise DownloadError(f"cannot connect: {_reason(exc.reason, config)}") from exc
    except TimeoutError as exc:
        raise pace.timed_out() from exc
    except (http.client.HTTPException, OSError) as exc:
        raise pace.broken(exc) from exc


def _request(url: str, config: Settings) -> tuple[urllib.request.Request, str]:
    """The request without credentials in its URL, with basic auth when some apply; and their source."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    request = urllib.request.Request(
        urllib.parse.urlunsplit(parts._replace(netloc=host)), headers={"User-Agent": USER_AGENT}
    )
    source = "the URL"
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
    else:
        found = _netrc_credentials(parts.hostname or "", config.netrc)
        if found is None:
            where = (
                f"in the URL or in {config.netrc}" if config.netrc else "in the URL (no HOME for ~/.netrc)"
            )
            return request, f"none were found for {parts.hostname} {where}"
        user, password = found
        source = str(config.netrc)
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    request.add_unredirected_header("Authorization", f"Basic {token}")
    return request, f"the credentials from {source} were refused"


def _netrc_credentials(host: str, path: Path | None) -> tuple[str, str] | None:
    if path is None or not host:
        return None
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block or never end
            return None
        found = netrc.netrc(str(path)).authenticators(host)
    except (OSError, ValueError, netrc.NetrcParseError, UnicodeDecodeError):
        return None
    if not found:
        return None
    return found[0] or "", found[2] or ""


def _http_error(exc: urllib.error.HTTPError, auth: str) -> DownloadError:
    cause = f"HTTP {exc.code} {visible(str(exc.reason))[:100]}"
    if exc.code == 401:
        return PermanentError(f"{cause}: the server asks for credentials, and {auth}")
    if exc.code in {408, 429} or exc.code >= 500:
        return DownloadError(cause)
    return PermanentError(cause)


def _reason(reason: object, config: Settings) -> str:
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"no connection within {config.connect:g} s (CURL_CONNECT_TIMEOUT)"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return visible(str(reason))[:200]


class _Pace:
    """Reads a body against the deadline and the minimum rate over each window."""

    def __init__(self, config: Settings, deadline: Deadline) -> None:
        self.config = config
        self.deadline = deadline
        self.started = False
        self.expected: int | None = None
        self.received = 0
        self.window_end = 0.0
        self.window_bytes = 0

    @property
    def needed(self) -> float:
        return self.config.min_rate * self.config.window

    def start(self, expected: int | None) -> None:
        self.started = True
        self.expected = expected
        self.window_end = time.monotonic() + self.config.window

    def read(self, response: http.client.HTTPResponse) -> bytes:
        """The next piece of the body (b"" at its end); the socket waits no longer than allowed."""
        end = self.window_end if self.window_bytes < self.needed else self.window_end + self.config.window
        _set_read_timeout(response, max(0.05, min(end, self.deadline.at) - time.monotonic()))
        chunk = response.read1(READ_SIZE)
        if not chunk:
            return chunk
        now = time.monotonic()
        if now >= self.deadline.at:
            raise DownloadError(f"not finished after {self.deadline.label}; {self.progress()}")
        while now >= self.window_end:
            if self.window_bytes < self.needed:
                raise self._too_slow()
            self.window_end += self.config.window
            self.window_bytes = 0
        self.window_bytes += len(chunk)
        self.received += len(chunk)
        return chunk

    def finish(self) -> None:
        if self.expected is not None and self.received < self.expected:
            raise DownloadError(f"the transfer was cut: the server closed the connection; {self.progress()}")

    def progress(self) -> str:
        total = "" if self.expected is None else f" of {self.expected}"
        return f"{self.received}{total} bytes received"

    def _too_slow(self) -> DownloadError:
        return DownloadError(
            f"too slow: {self.window_bytes} bytes in the last {self.config.window:g} s, below the minimum of "
            f"{self.config.min_rate:g} bytes/s (PYBUILDPACK_DOWNLOAD_MIN_RATE over "
            f"PYBUILDPACK_DOWNLOAD_RATE_WINDOW); {self.progress()}"
        )

    def timed_out(self) -> DownloadError:
        if not self.started:
            return DownloadError(
                f"no answer from the server within {self.config.connect:g} s of connecting "
                "(CURL_CONNECT_TIMEOUT)"
            )
        now = time.monotonic()
        if now >= self.deadline.at:
            return DownloadError(f"not finished after {self.deadline.label}; {self.progress()}")
        while now >= self.window_end and self.window_bytes >= self.needed:  # that window was fine
            self.window_end += self.config.window
            self.window_bytes = 0
        return self._too_slow()

    def broken(self, exc: BaseException) -> DownloadError:
        if not self.started:
            return DownloadError(f"the connection failed: {visible(_strerror(exc))[:200]}")
        what = type(exc).__name__ if isinstance(exc, http.client.HTTPException) else _strerror(exc)
        return DownloadError(f"the transfer was cut ({visible(what)[:100]}) at {self.progress()}")


def _set_read_timeout(response: object, seconds: float) -> None:
    """Bound the next socket read (the response object keeps the connect timeout otherwise)."""
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


def read_all(url: str, config: Settings, *, max_bytes: int = 64 * 1024 * 1024) -> bytes:
    """The whole body of a small document (a manifest), with retries."""
    result: list[bytes] = []

    def attempt(deadline: Deadline) -> None:
        result.clear()
        size = 0
        for chunk in read_chunks(url, config, deadline):
            size += len(chunk)
            if size > max_bytes:
                raise PermanentError(f"larger than {max_bytes} bytes")
            result.append(chunk)

    with_retries(attempt, config)
    return b"".join(result)
