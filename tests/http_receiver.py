"""A real HTTP webhook receiver for tests: ``http.server.ThreadingHTTPServer`` on 127.0.0.1 in a thread.

It records every request, and honours the ``Idempotency-Key`` header the way a well-behaved provider
does: a POST whose key was delivered before is acknowledged (200, the same message id) but is not a new
delivery. Responses can be programmed: ``receiver.statuses([500, 200])`` answers the next two new
requests with 500 then 200 (then 200 again by default); ``receiver.delay = 0.5`` holds each answer.

Use the ``receiver`` fixture (import it into a test module, or register this module in
``pytest_plugins``)::

    def test_x(receiver: Receiver) -> None:
        post_to(receiver.url)
        assert len(receiver.requests) == 1 and len(receiver.deliveries) == 1
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it, and what it answered."""

    path: str
    idempotency_key: str | None
    body: Any
    headers: dict[str, str]
    status: int
    duplicate: bool
    """True when its key had been delivered before: acknowledged, not delivered again."""


@dataclass
class Receiver:
    """What the test server saw; thread-safe. ``url`` is where to POST."""

    url: str = ""
    delay: float = 0.0
    default_status: int = 200
    honour_keys: bool = True
    requests: list[ReceivedRequest] = field(default_factory=list)
    _delivered: dict[str, str] = field(default_factory=dict)  # key -> message id
    _unkeyed: int = 0
    _statuses: deque[int] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def statuses(self, statuses: Sequence[int]) -> None:
        """Answer the next new requests with these statuses, in order (then ``default_status``)."""
        with self._lock:
            self._statuses.extend(statuses)

    @property
    def deliveries(self) -> list[str]:
        """The distinct idempotency keys delivered (answered 2xx), in order of first delivery."""
        with self._lock:
            return list(self._delivered)

    @property
    def delivery_count(self) -> int:
        """Deliveries as a receiver that honours the key counts them (unkeyed requests all count)."""
        with self._lock:
            return len(self._delivered) + self._unkeyed

    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every request, in order."""
        with self._lock:
            return [r.idempotency_key for r in self.requests]

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.requests]

    def _answer(self, path: str, key: str | None, body: Any, headers: dict[str, str]) -> tuple[int, str]:
        """Decide the status and message id of one request, and record it."""
        with self._lock:
            if self.honour_keys and key is not None and key in self._delivered:
                self.requests.append(ReceivedRequest(path, key, body, headers, 200, True))
                return 200, self._delivered[key]
            status = self._statuses.popleft() if self._statuses else self.default_status
            message_id = f"msg-{len(self.requests) + 1}"
            if 200 <= status < 300:
                if key is None or not self.honour_keys:
                    self._unkeyed += 1
                else:
                    self._delivered[key] = message_id
            self.requests.append(ReceivedRequest(path, key, body, headers, status, False))
            return status, message_id


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many concurrent senders connect at once
    daemon_threads = True


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            status, message_id = receiver._answer(
                self.path, self.headers.get("Idempotency-Key"), body, dict(self.headers.items())
            )
            if receiver.delay:
                time.sleep(receiver.delay)
            answer = json.dumps({"ok": 200 <= status < 300, "id": message_id}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started receiver at ``receiver.url`` (``http://127.0.0.1:<port>/hook``); stopped after the test."""
    state = Receiver()
    server = _Server(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, name="http-receiver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
