"""The sandbox's HTTP/1.1 server: one socket on 127.0.0.1 in front of every sandbox service.

Owns: the threaded keep-alive server (optionally TLS with the generated test certificate), and the
dispatch of each request: fault injection first (`Faults.before_request`), then `/_sandbox/...`
admin resources, the token service's paths, or the Web API under `/api/data/v9.2/` (which first
checks the bearer token); then `Faults.after_response`, whose `drop` / `truncate_at` marks are
honoured on the socket, and `Faults.request_finished`. Every Web API response carries a request id
(`REQ_ID`, and the same GUID in `x-ms-service-request-id`), as Dataverse's do.

Requests wait out injected latency and write their bodies concurrently, but are *answered* one at a
time (`Dispatcher._answering`). Python runs one thread at a time anyway, and SQLite's driver lets go
of the GIL at every row it steps: eight threads answering at once hand the GIL back and forth
thousands of times per page, which measured 2x the CPU per page of answering them in turn (the
client of a parallel scan shares the machine's cores with this server).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from d365conn.sandbox.faults import Faults
from d365conn.sandbox.response import Response, dataverse_error
from d365conn.sandbox.tokens import TokenService
from d365conn.sandbox.webapi import API_PREFIX, WebApi


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    app: Dispatcher

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)


class Dispatcher:
    """Routes one request to the service that answers it."""

    def __init__(self, webapi: WebApi, tokens: TokenService, faults: Faults) -> None:
        self.webapi = webapi
        self.tokens = tokens
        self.faults = faults
        self._answering = threading.Lock()  # one request answered at a time: see the module docstring

    def dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        path, _, query = target.partition("?")
        api = path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")
        # Every request passes the fault hooks; Faults itself exempts its own admin resources,
        # so a test can always switch faults off again.
        refusal = self.faults.before_request(method, path, headers)
        if refusal is not None:
            return _with_request_id(self.faults.after_response(refusal), api)
        if path.startswith("/_sandbox/"):  # never queued: a test can always reach the switches
            if path.rstrip("/") == "/_sandbox/tokens":
                response = self.tokens.handle_admin(method, path, body)
            elif path.rstrip("/") == "/_sandbox/metadata":
                response = self.webapi.metadata.handle_admin(method, body)
            else:
                response = self.faults.handle_admin(method, path, body)
            return self.faults.after_response(response)
        with self._answering:
            if self.tokens.handles(path):
                response = self.tokens.handle(method, path, query, headers, body)
            elif api:
                authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
                response = self.tokens.check_bearer(authorization) or self.webapi.handle(
                    method, path[len(API_PREFIX) :], query, headers, body
                )
            else:
                response = dataverse_error(404, "0x8006088a", f"Resource not found for the segment '{path}'.")
        return _with_request_id(self.faults.after_response(response), api)


def _with_request_id(response: Response, api: bool) -> Response:
    """Dataverse stamps every Web API response with a fresh request id, under two names."""
    if api:
        request_id = str(uuid.uuid4())
        response.headers.setdefault("REQ_ID", request_id)
        response.headers.setdefault("x-ms-service-request-id", request_id)
    return response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each keep-alive response would
    # wait ~40 ms for the delayed ACK. Measured: 45 ms -> 1 ms per request.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines may carry tokens in query strings; the sandbox logs nothing."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        app = self.server.app
        try:
            try:
                response = app.dispatch(self.command, self.path, headers, body)
            except Exception as error:
                response = dataverse_error(
                    500, "0x80040216", f"An unexpected error occurred: {type(error).__name__}"
                )
            self._send(response)
        finally:
            app.faults.request_finished()

    def _send(self, response: Response) -> None:
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if response.truncate_at is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        body = response.body if response.truncate_at is None else response.body[: response.truncate_at]
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


class HttpServer:
    """A running server on 127.0.0.1; `port` 0 picks a free one."""

    def __init__(self, port: int = 0, tls_dir: Path | None = None) -> None:
        self._thread: threading.Thread | None = None
        self.tls_dir = tls_dir
        # Bound now (127.0.0.1 only) so the port is known before the services that embed it exist.
        self._server: _Server | None = _Server(("127.0.0.1", port), _Handler)
        self.port = int(self._server.server_address[1])

    @property
    def scheme(self) -> str:
        return "https" if self.tls_dir is not None else "http"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, app: Dispatcher, in_thread: bool = True) -> None:
        server = self._server
        if server is None:
            raise RuntimeError("the sandbox server was stopped")
        server.app = app
        if self.tls_dir is not None:
            from d365conn.sandbox.tls import ensure_test_certificates, server_context

            context = server_context(ensure_test_certificates(self.tls_dir))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        if in_thread:
            self._thread = threading.Thread(target=server.serve_forever, name="d365-sandbox", daemon=True)
            self._thread.start()

    def serve_forever(self) -> None:
        if self._server is not None:
            self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
