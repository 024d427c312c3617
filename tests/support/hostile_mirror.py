"""A malicious runtime mirror on 127.0.0.1 for the download tests.

``serve_hostile(payload)`` serves ``payload`` at ``/<mode>/<name>``; the mode decides how badly:

- ``ok``: the whole body, with Content-Length;
- ``stall``: the first 64 KiB, then nothing (the connection stays open);
- ``trickle``: one byte a second;
- ``drop``: half the body, then the connection is closed (every time); ``drop-once``: the first
  request only; ``drop-nolength``: half the body without Content-Length, then closed;
- ``silent``: reads the request and never answers;
- ``auth``: 401 unless HTTP basic auth with ``USER``/``PASSWORD``;
- ``wrong``: as many bytes as the payload, but different ones;
- ``busy-once``: 503 on the first request, then the body.

Handlers are threads that end when the server stops (every wait is on one event, bounded by
``MAX_WAIT``), so a test never leaves anything running.
"""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

USER = "mirror-user"
PASSWORD = "s3cret-pa55"
MAX_WAIT = 30.0
STALL_AFTER = 64 * 1024


@dataclass
class HostileMirror:
    base: str
    payload: bytes
    files: dict[str, bytes] = field(default_factory=dict)  # other names than the payload's
    requests: list[str] = field(default_factory=list)  # "<mode> auth=<yes|no>" in arrival order

    def url(self, mode: str, name: str = "cpython-3.12.1.tar.gz", *, credentials: str = "") -> str:
        host = self.base.removeprefix("http://")
        return f"http://{credentials + '@' if credentials else ''}{host}/{mode}/{name}"

    def count(self, mode: str) -> int:
        return sum(1 for line in self.requests if line.split()[0] == mode)


# Download settings that make the hostile modes fail in seconds (the rate is measured over 1 s).
FAST = {
    "CURL_CONNECT_TIMEOUT": "1",
    "CURL_TIMEOUT": "5",
    "PYBUILDPACK_DOWNLOAD_TIMEOUT": "5",
    "PYBUILDPACK_DOWNLOAD_MIN_RATE": "20000",
    "PYBUILDPACK_DOWNLOAD_RATE_WINDOW": "1",
    "HOME": "/nonexistent-home",
}


class _Handler(http.server.BaseHTTPRequestHandler):
    mirror: HostileMirror
    stop: threading.Event
    lock: threading.Lock

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        mode = self.path.strip("/").split("/", 1)[0]
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        authorized = self.headers.get("Authorization") == expected
        with self.lock:
            self.mirror.requests.append(f"{mode} auth={'yes' if authorized else 'no'}")
            seen = self.mirror.count(mode)
        name = self.path.strip("/").split("/", 1)[-1]
        payload = self.mirror.files.get(name, self.mirror.payload)
        if mode == "silent":
            self.stop.wait(MAX_WAIT)
            self.close_connection = True
            return
        if mode == "auth" and not authorized:
            self._send(401, b"who are you?", {"WWW-Authenticate": 'Basic realm="mirror"'})
        elif mode == "busy-once" and seen == 1:
            self._send(503, b"busy")
        elif mode in {"ok", "auth", "busy-once"} or (mode == "drop-once" and seen > 1):
            self._send(200, payload)
        elif mode == "wrong":
            self._send(200, bytes(len(payload)))
        elif mode in {"drop", "drop-once"}:
            self._send(200, payload[: len(payload) // 2], length=len(payload))
        elif mode == "drop-nolength":
            self._send(200, payload[: len(payload) // 2], length=None)
        elif mode == "stall":
            self._send(200, payload[:STALL_AFTER], length=len(payload))
            self.stop.wait(MAX_WAIT)
        elif mode == "trickle":
            self._trickle(payload)
        else:
            self._send(404, b"no such mode")

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None, **kw: int | None) -> None:
        length = kw.get("length", len(body))
        self.send_response(code)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def _trickle(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        for index in range(min(len(payload), int(MAX_WAIT))):
            try:
                self.wfile.write(payload[index : index + 1])
                self.wfile.flush()
            except OSError:
                return
            if self.stop.wait(1.0):
                return
        self.close_connection = True


@contextmanager
def serve_hostile(payload: bytes) -> Iterator[HostileMirror]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    mirror = HostileMirror(f"http://127.0.0.1:{server.server_address[1]}", payload)
    stop = threading.Event()
    server.RequestHandlerClass = type(
        "Handler", (_Handler,), {"mirror": mirror, "stop": stop, "lock": threading.Lock()}
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
