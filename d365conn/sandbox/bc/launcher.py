"""Running a Business Central sandbox: dispatch behind the shared server, and the context manager.

Owns: :class:`BCDispatcher` (the shared server's dispatcher, routing ``/v2.0/<tenant>/<environment>/``
to :class:`~d365conn.sandbox.bc.service.BCService` after the bearer check, the token service's paths
to it, and ``/_sandbox/...`` to fault injection) and :class:`BCSandbox`, used like the Dataverse
``Sandbox`` (``with BCSandbox() as sb: d365conn.connect(sb.connection_string)``). It reuses the
sandbox's HTTP server, token service and faults unchanged.

URLs: ``<origin>/v2.0/<tenant>/Production/api/v2.0/`` (``service_url``) and
``<origin>/v2.0/<tenant>/Production/ODataV4/`` (``odata_url``); tokens are minted for the audience
``<origin>`` (what the driver asks for a loopback service URL).
"""

from __future__ import annotations

import secrets
import threading
from types import TracebackType

from d365conn.sandbox.bc.datagen import load
from d365conn.sandbox.bc.errors import segment_not_found
from d365conn.sandbox.bc.limits import REAL_LIMITS, BCFaults
from d365conn.sandbox.bc.service import MAX_PAGE_SIZE, BCService
from d365conn.sandbox.bc.store import Store
from d365conn.sandbox.faults import Faults
from d365conn.sandbox.response import Response
from d365conn.sandbox.server import Dispatcher, HttpServer
from d365conn.sandbox.tokens import TokenService

TENANT_ID = "9f3a4c2e-1b7d-4e55-8a61-0c2d5e6f7a80"
CLIENT_ID = "5d1c6f0a-8e2b-4c3d-9a7e-1f2b3c4d5e6f"
ENVIRONMENT = "Production"


class BCDispatcher(Dispatcher):
    """Routes requests to the Business Central service, the token service or the fault switches."""

    def __init__(
        self, service: BCService, tokens: TokenService, faults: Faults, *, concurrent: int = 5
    ) -> None:
        # Not calling Dispatcher.__init__: it wires the Dataverse Web API, which this flavour has not.
        self.service = service
        self.tokens = tokens
        self.faults = faults
        # Business Central online processes 5 requests of a user at once; the others queue (facts
        # sheet section 2). Token and admin requests are not counted.
        self._slots = threading.BoundedSemaphore(concurrent)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def _serve(self, method: str, rest: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        with self._slots:
            with self._lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                return self.service.handle(method, rest, query, headers, body)
            finally:
                with self._lock:
                    self.in_flight -= 1

    def dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        path, _, query = target.partition("?")
        refusal = self.faults.before_request(method, path, headers)
        if refusal is not None:
            return self.faults.after_response(refusal)
        prefix = self.service.prefix
        if path.startswith("/_sandbox/"):
            if path.rstrip("/") == "/_sandbox/tokens":
                response = self.tokens.handle_admin(method, path, body)
            else:
                response = self.faults.handle_admin(method, path, body)
        elif path.startswith(prefix):
            authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
            response = self.tokens.check_bearer(authorization) or self._serve(
                method, path[len(prefix) :], query, headers, body
            )
        elif self.tokens.handles(path):
            response = self.tokens.handle(method, path, query, headers, body)
        else:
            response = segment_not_found(path).response()
        return self.faults.after_response(response)


class BCSandbox:
    """A running Business Central look-alike on 127.0.0.1. Context manager, or start() / stop()."""

    def __init__(
        self,
        *,
        rows: int = 200,
        ledger_rows: int = 2_000,
        seed: int = 1,
        port: int = 0,
        token_lifetime: float = 3600,
        max_page_size: int = MAX_PAGE_SIZE,
        concurrent: int = 5,
        max_requests: int | None = REAL_LIMITS["max_requests"],
        window_seconds: float = REAL_LIMITS["window_seconds"],
    ) -> None:
        self.rows, self.ledger_rows, self.seed, self.port = rows, ledger_rows, seed, port
        # Business Central online's request limit per user (None: unlimited); see bc/limits.py.
        self.max_requests, self.window_seconds = max_requests, window_seconds
        self.token_lifetime, self.max_page_size, self.concurrent = token_lifetime, max_page_size, concurrent
        self.client_id = CLIENT_ID
        self.client_secret = ""
        self.tenant_id = TENANT_ID
        self.origin = ""
        self.store: Store | None = None
        self.service: BCService | None = None
        self.tokens: TokenService | None = None
        self.faults: Faults | None = None
        self._server: HttpServer | None = None
        self.dispatcher: BCDispatcher | None = None

    def __repr__(self) -> str:  # never shows the secret
        return f"BCSandbox(origin={self.origin!r}, rows={self.rows})"

    @property
    def prefix(self) -> str:
        return f"/v2.0/{self.tenant_id}/{ENVIRONMENT}/"

    @property
    def service_url(self) -> str:
        """The API v2.0 root (no company): ``SELECT * FROM companies`` works here."""
        return self.origin + self.prefix + "api/v2.0/"

    @property
    def odata_url(self) -> str:
        """The ODataV4 web-services root (no company)."""
        return self.origin + self.prefix + "ODataV4/"

    @property
    def token_uri(self) -> str:
        return f"{self.origin}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def scope(self) -> str:
        return f"{self.origin}/.default"

    def connection_string_for(self, service_url: str, **extra: str) -> str:
        text = (
            f"ServiceURL={service_url};ClientID={self.client_id};ClientSecret={self.client_secret};"
            f"TokenURI={self.token_uri};"
        )
        return text + "".join(f"{k}={{{v}}};" for k, v in extra.items())

    @property
    def connection_string(self) -> str:
        return self.connection_string_for(self.service_url)

    def start(self) -> BCSandbox:
        store = Store()
        load(store, rows=self.rows, ledger_rows=self.ledger_rows, seed=self.seed)
        server = HttpServer(self.port)
        self.origin = server.origin
        self.client_secret = self.client_secret or secrets.token_urlsafe(24)
        tokens = TokenService(
            self.origin, self.tenant_id, self.origin, self.client_id, self.client_secret, self.token_lifetime
        )
        service = BCService(store, self.origin, self.prefix, max_page_size=self.max_page_size)
        faults = BCFaults(self.prefix)
        faults.configure(max_requests=self.max_requests, window_seconds=self.window_seconds)
        self.dispatcher = BCDispatcher(service, tokens, faults, concurrent=self.concurrent)
        server.start(self.dispatcher)
        self._server, self.store, self.service, self.tokens, self.faults = (
            server,
            store,
            service,
            tokens,
            faults,
        )
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def serve_forever(self) -> None:
        import time

        while self._server is not None:
            time.sleep(0.5)

    def access_token(self) -> str:
        if self.tokens is None:
            raise RuntimeError("the sandbox is not running")
        return self.tokens.mint_access_token()

    def company_ids(self) -> dict[str, str]:
        """Company name -> id."""
        if self.store is None:
            raise RuntimeError("the sandbox is not running")
        return {str(c["name"]): str(c["id"]) for c in self.store.companies}

    def __enter__(self) -> BCSandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


__all__ = ["BCDispatcher", "BCSandbox"]
