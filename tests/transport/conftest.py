"""A small threaded HTTP server that tests script to misbehave precisely, over real sockets.

Each test sets ``server.handler`` to a function ``(Request) -> Reply``; every request the server
received is recorded (method, target, headers, body) so tests assert on what the driver sent.
A Reply can also drop the connection mid-body, send a truncated body with a matching
Content-Length (complete HTTP, incomplete JSON), or stall before answering.
"""

from __future__ import annotations

import gzip as gzip_module
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from d365conn.config import Config
from d365conn.transport import RetryPolicy, Transport

TOKEN_PREFIX = "Bearer eyJ0eXAiOiJKV1Qi.SECRET-TOKEN-"


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: "drop": send headers and half the body, then close. "truncate": a Content-Length that
    #: matches a body cut in half (valid HTTP, broken JSON). "close": close without any answer.
    fault: str | None = None
    delay: float = 0.0
    gzip: bool = False

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def page(
    rows: list[dict[str, Any]], next_link: str | None = None, count: int | None = None
) -> dict[str, Any]:
    """A Dataverse-shaped collection response."""
    body: dict[str, Any] = {"@odata.context": "https://org.crm.dynamics.com/api/data/v9.2/$metadata#accounts"}
    if count is not None:
        body["@odata.count"] = count
    body["value"] = rows
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return body


class FakeService:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.handler: Callable[[Request], Reply] = lambda request: Reply(
            404, {"error": {"code": "", "message": "no"}}
        )
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # silence stderr
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
                with service._lock:
                    service.requests.append(request)
                reply = service.handler(request)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.fault == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = reply.payload()
                if reply.gzip:
                    payload = gzip_module.compress(payload)
                full_length = len(payload)
                if reply.fault == "truncate":
                    payload = payload[: len(payload) // 2]
                    full_length = len(payload)
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json; odata.metadata=minimal", **reply.headers}
                if reply.gzip:
                    headers["Content-Encoding"] = "gzip"
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(full_length))
                self.end_headers()
                if reply.fault == "drop":
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/data/v9.2/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def get_requests(self, method: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeTokens:
    """A TokenSource that hands out numbered tokens and records invalidations."""

    def __init__(self, *, renewable: bool = True) -> None:
        self.generation = 1
        self.invalidated: list[str] = []
        self.renewable = renewable

    def authorization(self) -> str | None:
        return f"{TOKEN_PREFIX}{self.generation}"

    def invalidate(self, authorization: str) -> None:
        self.invalidated.append(authorization)
        if self.renewable:
            self.generation += 1

    def info(self) -> Any:
        return None


@pytest.fixture
def service() -> Iterator[FakeService]:
    server = FakeService()
    yield server
    server.close()


def make_transport(
    url: str, tokens: FakeTokens | None = None, *, retries: int = 3, **config: Any
) -> Transport:
    settings: dict[str, Any] = {
        "service_url": url,
        "retry_count": retries,
        "read_timeout": 5.0,
        "connect_timeout": 2.0,
    }
    settings.update(config)
    return Transport(
        Config(**settings),
        tokens or FakeTokens(),
        policy=RetryPolicy(retries=retries, backoff_base=0.01, backoff_cap=0.05),
    )


@pytest.fixture
def tokens() -> FakeTokens:
    return FakeTokens()


@pytest.fixture
def transport(service: FakeService, tokens: FakeTokens) -> Iterator[Transport]:
    t = make_transport(service.url, tokens)
    yield t
    t.close()
