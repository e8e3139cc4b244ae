"""A real token service on a real socket for the auth tests.

Hosts the sandbox's :class:`~d365conn.sandbox.tokens.TokenService` (Entra-shaped v1/v2 endpoints,
rotation, PKCE, AADSTS errors, ``/_sandbox/tokens`` admin) behind a threaded HTTP(S) server, plus a
``WhoAmI`` resource that checks bearer tokens the way the sandbox Web API does, so the tests can
drive the 401 -> invalidate -> replay path. Only tests import this.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from d365conn.sandbox.response import Response, json_response
from d365conn.sandbox.tls import TestCertificates, server_context
from d365conn.sandbox.tokens import TokenService

TENANT = "7f6e5d4c-3b2a-4190-8f7e-6d5c4b3a2910"
CLIENT_ID = "5a0e2a3c-1111-4c4c-9d9d-0123456789ab"
CLIENT_SECRET = "s3cr3t~Xy=+/Zq.ClientSecretValue-0123456789"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    harness: TokenHarness


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.harness.route(self.command, path, query, dict(self.headers.items()), body)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve


class TokenHarness:
    """``base_url``, ``token_url`` (v2), ``v1_token_url``, ``service_url`` and the live ``tokens`` service."""

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
        self.tokens = TokenService(
            self.base_url, TENANT, self.base_url, CLIENT_ID, CLIENT_SECRET, token_lifetime
        )
        self.whoami_calls = 0
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{self.tenant}/oauth2/v2.0/token"

    @property
    def v1_token_url(self) -> str:
        return f"{self.base_url}/{self.tenant}/oauth2/token"

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/api/data/v9.2/"

    def connection_string(self, **extra: str) -> str:
        pairs = {
            "ServiceURL": self.service_url,
            "ClientID": self.client_id,
            "ClientSecret": self.client_secret,
            "TokenURI": self.token_url,
        }
        pairs.update(extra)
        return ";".join(f"{k}={{{v}}}" if ";" in v else f"{k}={v}" for k, v in pairs.items() if v != "")

    def token_requests(self, grant_type: str | None = None) -> int:
        stats = self.tokens.stats()["token_requests"]
        return int(stats["total"] if grant_type is None else stats["by_grant_type"].get(grant_type, 0))

    def admin(self, **changes: Any) -> dict[str, Any]:
        response = requests.post(
            f"{self.base_url}/_sandbox/tokens", data=json.dumps(changes), timeout=10, verify=False
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def route(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        if path.startswith("/_sandbox/tokens"):
            return self.tokens.handle_admin(method, path, body)
        if self.tokens.handles(path):
            return self.tokens.handle(method, path, query, headers, body)
        if path.startswith("/api/data/v9.2/"):
            authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
            denied = self.tokens.check_bearer(authorization)
            if denied is not None:
                return denied
            self.whoami_calls += 1
            return json_response(
                200,
                {
                    "BusinessUnitId": str(uuid.UUID(int=1)),
                    "UserId": str(uuid.UUID(int=2)),
                    "OrganizationId": str(uuid.UUID(int=3)),
                },
            )
        return Response(404)

    def start(self) -> TokenHarness:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@contextmanager
def running(certs: TestCertificates | None = None, token_lifetime: float = 3600.0) -> Iterator[TokenHarness]:
    harness = TokenHarness(certs, token_lifetime).start()
    try:
        yield harness
    finally:
        harness.stop()
