"""Test-only harness: the token service and fault switches mounted on a throwaway HTTP server.

Not the sandbox's server (that is ``d365conn.sandbox``'s own); a minimal threaded ``http.server``
that routes exactly as the real one is meant to (admin resources, token paths, a bearer-checked
``/api/data/v9.2/WhoAmI``) and honours the Response's ``drop`` and ``truncate_at`` on the wire,
so the token and fault tests run over real sockets. Holds no tests itself.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from d365conn.sandbox.faults import Faults
from d365conn.sandbox.response import Response, json_response
from d365conn.sandbox.tls import TestCertificates, server_context
from d365conn.sandbox.tokens import TokenService

TENANT = "6f1c3c1e-0b5a-4d3b-9a55-1f2e3d4c5b6a"
CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"
# Characters that must survive form- and Basic-encoding.
CLIENT_SECRET = "s3cr+t:Val/ue=with~odd&chars%"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    harness: Harness


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus delayed ACK
    # stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        harness = self.server.harness
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        refusal = harness.faults.before_request(self.command, path, headers)
        try:
            response = refusal or harness.route(self.command, path, query, headers, body)
            response = harness.faults.after_response(response)
            self._send(response)
        finally:
            harness.faults.request_finished()

    def _send(self, response: Response) -> None:
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if response.truncate_at is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.truncate_at is not None:
            self.wfile.write(response.body[: response.truncate_at])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(response.body)


class Harness:
    """A running server with ``tokens`` and ``faults``; ``base_url`` is its origin."""

    def __init__(self, certs: TestCertificates | None = None, token_lifetime: float = 3600.0) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.harness = self
        if certs is not None:
            self._server.socket = server_context(certs).wrap_socket(self._server.socket, server_side=True)
        port = self._server.server_address[1]
        self.base_url = f"{'https' if certs else 'http'}://127.0.0.1:{port}"
        self.tenant = TENANT
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.audience = self.base_url
        self.tokens = TokenService(
            self.base_url, TENANT, self.audience, CLIENT_ID, CLIENT_SECRET, token_lifetime
        )
        self.faults = Faults()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{self.tenant}/oauth2/v2.0/token"

    @property
    def v1_token_url(self) -> str:
        return f"{self.base_url}/{self.tenant}/oauth2/token"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/data/v9.2/WhoAmI"

    def route(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        if path.startswith("/_sandbox/tokens"):
            return self.tokens.handle_admin(method, path, body)
        if path.startswith("/_sandbox/"):
            return self.faults.handle_admin(method, path, body)
        if self.tokens.handles(path):
            return self.tokens.handle(method, path, query, headers, body)
        if path.startswith("/api/data/v9.2/"):
            authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
            denied = self.tokens.check_bearer(authorization)
            if denied is not None:
                return denied
            return json_response(
                200,
                {
                    "@odata.context": f"{self.base_url}/api/data/v9.2/$metadata"
                    "#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": str(uuid.UUID(int=1)),
                    "UserId": str(uuid.UUID(int=2)),
                    "OrganizationId": str(uuid.UUID(int=3)),
                },
            )
        return Response(404)

    def start(self) -> Harness:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@contextmanager
def running(certs: TestCertificates | None = None, token_lifetime: float = 3600.0) -> Iterator[Harness]:
    harness = Harness(certs, token_lifetime).start()
    try:
        yield harness
    finally:
        harness.stop()


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without checking it (as the driver does)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def jwt_header(token: str) -> dict[str, Any]:
    part = token.split(".", maxsplit=1)[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded
