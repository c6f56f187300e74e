"""A loopback listener for tests: records what clients send, then hangs up (or answers).

Stands in for "whatever now listens on that port" and for an attacker's server: it binds
127.0.0.1 only, accepts a bounded number of connections for a bounded time, and is closed
by the test (``with Listener() as listener: ...``).
"""

from __future__ import annotations

import socket
import threading
import time


class Listener:
    """Accept up to ``max_connections`` on 127.0.0.1 within ``lifetime`` seconds; keep the bytes."""

    def __init__(self, *, max_connections: int = 50, lifetime: float = 120.0, answer: bytes | None = None) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.received = bytearray()
        self.connections = 0
        self._answer = answer
        self._max = max_connections
        self._deadline = time.monotonic() + lifetime
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set() and self.connections < self._max and time.monotonic() < self._deadline:
            try:
                peer, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            with peer:
                peer.settimeout(2)
                try:
                    self.received += peer.recv(65536)
                    if self._answer is not None:
                        peer.sendall(self._answer)
                except OSError:
                    pass

    def __enter__(self) -> Listener:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()
