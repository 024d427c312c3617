"""The web process's front door for `pybuildpack start`: a TCP proxy whose backend can be switched.

The web process listens on a private port; the proxy listens on the app's PORT and forwards each
connection to the backend chosen when it was accepted. A deploy starts the new web process on a fresh
port, waits until it ``accepts`` connections, switches ``backend`` and ``drain``s the connections still
open to the old one before it is stopped, so no request is refused or cut.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class Proxy:
    """TCP on (host, port) forwarded to 127.0.0.1:backend; the backend can be switched at any time."""

    def __init__(self, host: str, port: int, backend: int) -> None:
        self.backend = backend
        self.active: dict[int, int] = {}  # open connections per backend port
        self.active_changed = threading.Condition()
        self.server = socket.create_server((host, port), reuse_port=False)
        self.server.settimeout(0.5)
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.closed.set()
        self.thread.join(timeout=5)
        self.server.close()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self.active_changed:  # the backend is chosen and counted at once, so drain() sees it
            backend = self.backend
            self.active[backend] = self.active.get(backend, 0) + 1
        try:
            upstream = self._connect(backend)
            if upstream is None:
                return
            with upstream:
                back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
                back.start()
                _pump(client, upstream)
                back.join()
        finally:
            client.close()
            with self.active_changed:
                self.active[backend] -= 1
                self.active_changed.notify_all()

    def drain(self, backend: int, timeout: float) -> bool:
        """Wait until no connection to ``backend`` is open (up to ``timeout`` s); False if some are."""
        with self.active_changed:
            return self.active_changed.wait_for(lambda: not self.active.get(backend), timeout)

    def _connect(self, backend: int) -> socket.socket | None:
        deadline = time.monotonic() + 10
        while not self.closed.is_set():
            try:
                return socket.create_connection(("127.0.0.1", backend), timeout=5)
            except OSError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.1)
        return None


def _pump(source: socket.socket, dest: socket.socket) -> None:
    try:
        source.settimeout(None)
        while data := source.recv(65536):
            dest.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dest.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            source.shutdown(socket.SHUT_RD)


def accepts(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Does the process accept TCP connections on 127.0.0.1:port before ``timeout`` (and stay alive)?"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False
