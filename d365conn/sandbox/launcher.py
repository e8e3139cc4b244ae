"""Starting a sandbox: in a background thread of this process, or in a child process.

Owns: `Sandbox`, the context manager users and tests hold (`with Sandbox(rows=500) as sb:`), which
prepares the database (generating data unless `data_dir` already holds the same rows and seed),
wires Web API, token service and fault injection behind one server, and exposes the connection
string. In child-process mode (`process=True`, for benchmarks: a separate interpreter) it runs
`python -m d365conn.sandbox`, reads the connection string from the child's first stdout line, and
`faults` is a proxy that talks to the child's `/_sandbox/faults` resource.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from d365conn.sandbox.datagen import load
from d365conn.sandbox.faults import Faults
from d365conn.sandbox.server import Dispatcher, HttpServer
from d365conn.sandbox.store import SCHEMA_VERSION, Store
from d365conn.sandbox.tables import build_schema
from d365conn.sandbox.tokens import TokenService
from d365conn.sandbox.webapi import API_PREFIX, Identity, WebApi

TENANT_ID = "9f3a4c2e-1b7d-4e55-8a61-0c2d5e6f7a80"
#: What ``Sandbox(flavour=...)`` and ``d365conn sandbox --flavour`` accept.
FLAVOURS = ("dataverse", "business-central")
CLIENT_ID = "5d1c6f0a-8e2b-4c3d-9a7e-1f2b3c4d5e6f"
ORGANIZATION_ID = "00000000-0000-0000-0000-00000000d365"


def prepare_store(rows: int, seed: int, data_dir: str | None) -> tuple[Store, dict[str, str]]:
    """A store holding `rows` accounts generated from `seed` (reused from `data_dir` when it matches)."""
    store = Store(build_schema(), data_dir)
    meta = store.meta()
    if not (
        meta.get("rows") == str(rows)
        and meta.get("seed") == str(seed)
        and meta.get("schema") == SCHEMA_VERSION
    ):
        store.close_connections()
        load(store, rows, seed)
        meta = store.meta()
    else:
        store.add_missing_indexes()
    return store, meta


def _first_ids(store: Store) -> tuple[str, str]:
    connection = store.connect()
    user = connection.execute(
        "SELECT systemuserid, _businessunitid_value FROM systemuser WHERE fullname = 'Sandbox Administrator'"
    ).fetchone()
    return str(user[0]), str(user[1])


def connection_string(service_url: str, client_id: str, client_secret: str, token_uri: str) -> str:
    return f"ServiceURL={service_url};ClientID={client_id};ClientSecret={client_secret};TokenURI={token_uri};"


class RemoteFaults:
    """The fault switches of a sandbox running in another process (over `/_sandbox/faults`)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - always http(s)://127.0.0.1, our own child
            self.origin + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own 127.0.0.1 server
            return json.loads(answer.read() or b"null")

    def configure(self, **changes: Any) -> Any:
        return self._call("POST", "/_sandbox/faults", changes)

    def reset(self) -> Any:
        return self._call("DELETE", "/_sandbox/faults")

    @property
    def settings(self) -> Any:
        return self._call("GET", "/_sandbox/faults")

    def stats(self) -> Any:
        return self._call("GET", "/_sandbox/stats")


class Sandbox:
    """A running Dataverse look-alike. Use as a context manager, or call start() / stop()."""

    def __init__(
        self,
        *,
        rows: int = 500,
        seed: int = 1,
        data_dir: str | None = None,
        process: bool = False,
        tls: bool = False,
        token_lifetime: float = 3600,
        port: int = 0,
        latency_ms: float = 0,
        tls_dir: str | None = None,
        flavour: str = "dataverse",
    ) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown sandbox flavour {flavour!r}; expected one of {', '.join(FLAVOURS)}")
        #: "dataverse" (the Web API) or "business-central" (d365conn/sandbox/bc/, BCSandbox).
        self.flavour = flavour
        self._bc: Any = None  # the running BCSandbox of the business-central flavour (in-thread)
        self._service_url = ""  # the child's ServiceURL (business-central flavour, process mode)
        self.rows, self.seed, self.data_dir, self.process = rows, seed, data_dir, process
        self.tls, self.token_lifetime, self.port, self.latency_ms = tls, token_lifetime, port, latency_ms
        self.tls_dir = tls_dir
        self.client_id = CLIENT_ID
        self.client_secret = ""
        self.tenant_id = TENANT_ID
        self.origin = ""
        self.faults: Faults | RemoteFaults | None = None
        self.tokens: TokenService | None = None
        self.store: Store | None = None
        self._server: HttpServer | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self.generation_seconds = 0.0

    def __repr__(self) -> str:  # never shows the secret
        return f"Sandbox(origin={self.origin!r}, rows={self.rows}, process={self.process})"

    # -- what clients need --------------------------------------------------------------------
    @property
    def service_url(self) -> str:
        if self._bc is not None:
            return str(self._bc.service_url)
        return self._service_url or self.origin + API_PREFIX

    @property
    def token_uri(self) -> str:
        return f"{self.origin}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def scope(self) -> str:
        return f"{self.origin}/.default"

    @property
    def connection_string(self) -> str:
        return connection_string(self.service_url, self.client_id, self.client_secret, self.token_uri)

    @property
    def ca_path(self) -> str | None:
        if not self.tls:
            return None
        from d365conn.sandbox.tls import ensure_test_certificates

        return str(ensure_test_certificates(Path(self._tls_directory())).ca_path)

    def _tls_directory(self) -> str:
        return self.tls_dir or str(Path(self.data_dir or Path.home() / ".d365conn") / "tls")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self.process:
            self._start_child()
        else:
            self._start_here()
        return self

    def _start_here(self) -> None:
        if self.flavour == "business-central":
            self._start_business_central()
            return
        started = time.perf_counter()
        store, _ = prepare_store(self.rows, self.seed, self.data_dir)
        self.generation_seconds = time.perf_counter() - started
        self.store = store
        user_id, unit_id = _first_ids(store)
        server = HttpServer(self.port, Path(self._tls_directory()) if self.tls else None)
        self.origin = server.origin
        self.client_secret = self.client_secret or secrets.token_urlsafe(24)
        tokens = TokenService(
            self.origin, self.tenant_id, self.origin, self.client_id, self.client_secret, self.token_lifetime
        )
        faults = Faults()
        if self.latency_ms:
            faults.configure(latency_ms=float(self.latency_ms))
        webapi = WebApi(store.schema, store, Identity(user_id, unit_id, ORGANIZATION_ID), self.origin)
        server.start(Dispatcher(webapi, tokens, faults))
        self._server, self.tokens, self.faults = server, tokens, faults

    def _start_business_central(self) -> None:
        from d365conn.sandbox.bc import BCSandbox

        if self.tls:
            raise ValueError("the business-central flavour serves plain http on 127.0.0.1 only")
        started = time.perf_counter()
        bc = BCSandbox(rows=self.rows, seed=self.seed, port=self.port, token_lifetime=self.token_lifetime)
        bc.client_secret = self.client_secret
        bc.start()
        self.generation_seconds = time.perf_counter() - started
        self._bc, self.origin, self.client_secret = bc, bc.origin, bc.client_secret
        self.tokens, self.faults = bc.tokens, bc.faults
        if self.latency_ms and bc.faults is not None:
            bc.faults.configure(latency_ms=float(self.latency_ms))

    def _start_child(self) -> None:
        command = [
            sys.executable,
            "-m",
            "d365conn.sandbox",
            "--port",
            str(self.port),
            "--rows",
            str(self.rows),
            "--seed",
            str(self.seed),
            "--token-lifetime",
            str(self.token_lifetime),
        ]
        if self.data_dir:
            command += ["--data-dir", self.data_dir]
        if self.tls:
            command += ["--tls"]
            if self.tls_dir:
                command += ["--tls-dir", self.tls_dir]
        if self.latency_ms:
            command += ["--latency", str(self.latency_ms)]
        if self.flavour != "dataverse":
            command += ["--flavour", self.flavour]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert child.stdout is not None
        line = child.stdout.readline().decode().strip()
        if not line.startswith("ServiceURL="):
            child.kill()
            raise RuntimeError(f"the sandbox child process did not start (exit code {child.poll()})")
        parts = dict(p.split("=", 1) for p in line.rstrip(";").split(";"))
        self.origin = parts["ServiceURL"].split(API_PREFIX)[0]
        if self.flavour != "dataverse":
            url = urlsplit(parts["ServiceURL"])
            self.origin, self._service_url = f"{url.scheme}://{url.netloc}", parts["ServiceURL"]
        self.client_id, self.client_secret = parts["ClientID"], parts["ClientSecret"]
        self.tenant_id = parts["TokenURI"].split("/")[3]
        self.faults = RemoteFaults(self.origin)
        self._child = child

    def stop(self) -> None:
        if self._bc is not None:
            self._bc.stop()
            self._bc = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._child is not None:
            self._child.terminate()
            try:
                self._child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._child.kill()
            if self._child.stdout is not None:
                self._child.stdout.close()
            self._child = None

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI's main loop)."""
        while self._server is not None or self._bc is not None:
            time.sleep(0.5)

    def access_token(self) -> str:
        """A valid app-only token, minted in-process (in-thread mode only)."""
        if self.tokens is None:
            raise RuntimeError(
                "access_token() needs an in-thread sandbox; request one from token_uri instead"
            )
        return self.tokens.mint_access_token()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
