"""Token-endpoint failures: the exception class, AADSTS number and hint; transport and shape failures."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from d365conn.auth import token_source_for
from d365conn.auth.errors import Redactor, token_error
from d365conn.config import build_config
from d365conn.exceptions import (
    AuthenticationError,
    InsecureIssuerError,
    InteractionRequiredError,
    InvalidClientError,
    IssuerUnreachableError,
    MalformedTokenResponseError,
    OperationalError,
    TokenEndpointError,
)


def entra(code: int, error: str, text: str) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text}\r\nTrace ID: 1\r\nCorrelation ID: 2",
        "error_codes": [code],
    }


@pytest.mark.parametrize(
    ("body", "cls", "hint"),
    [
        (
            entra(700082, "invalid_grant", "The refresh token has expired due to inactivity."),
            InteractionRequiredError,
            "d365conn login",
        ),
        (
            entra(7000215, "invalid_client", "Invalid client secret provided."),
            InvalidClientError,
            "Secret ID",
        ),
        (
            entra(7000222, "invalid_client", "The provided client secret keys are expired."),
            InvalidClientError,
            "expired",
        ),
        (
            entra(65001, "invalid_grant", "The user or administrator has not consented."),
            InteractionRequiredError,
            "consent",
        ),
        (entra(90002, "invalid_tenant", "Tenant 'x' not found."), TokenEndpointError, "TenantID"),
        (
            entra(50076, "invalid_grant", "Due to a configuration change... you must use MFA."),
            InteractionRequiredError,
            "AuthorizationCode",
        ),
        ({"error": "invalid_client"}, InvalidClientError, "ClientSecret"),
        (
            {"error": "invalid_grant", "error_description": "refresh token expired"},
            InteractionRequiredError,
            "d365conn login",
        ),
        ({"error": "slow_down"}, TokenEndpointError, "issuer's message"),
    ],
)
def test_mapping(body: dict[str, Any], cls: type[Exception], hint: str) -> None:
    err = token_error(
        body,
        grant="RefreshToken",
        endpoint="https://login.example/t/oauth2/v2.0/token",
        status=400,
        redact=Redactor(),
    )
    assert type(err) is cls and isinstance(err, OperationalError)
    assert hint in str(err) and err.hint and hint in err.hint
    assert err.code == body["error"]
    if "error_codes" in body:
        assert err.aadsts == body["error_codes"][0] and f"AADSTS{err.aadsts}" in str(err)
        assert "Trace ID" not in str(err)  # only Entra's first line


def test_secrets_in_an_issuers_text_are_masked() -> None:
    body = {"error": "invalid_grant", "error_description": "bad refresh token 1.abcdefghij-secret"}
    err = token_error(
        body,
        grant="RefreshToken",
        endpoint="https://x/token",
        status=400,
        redact=Redactor(["1.abcdefghij-secret"]),
    )
    assert "1.abcdefghij-secret" not in str(err) and "***" in str(err)


@pytest.fixture
def odd_server() -> Iterator[str]:
    """An issuer that answers 200 with HTML: not a token response."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = (
                b"<html>sign in</html>" if self.path.endswith("/html/token") else b'{"token_type":"Bearer"}'
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if b"html" in body else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _source(token_uri: str) -> Any:
    return token_source_for(
        build_config(
            f"ServiceURL=https://org.crm.dynamics.com/api/data/v9.2/;ClientID=a;ClientSecret=secret-value-0123;"
            f"TokenURI={token_uri}"
        )
    )


def test_malformed_token_responses(odd_server: str) -> None:
    with pytest.raises(MalformedTokenResponseError, match="not a JSON token response"):
        _source(f"{odd_server}/html/token").authorization()
    with pytest.raises(MalformedTokenResponseError, match="without an access_token"):
        _source(f"{odd_server}/json/token").authorization()


def test_unreachable_issuer() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(
        IssuerUnreachableError, match=f"cannot reach the token endpoint at 127.0.0.1:{port}"
    ) as info:
        _source(f"http://127.0.0.1:{port}/t/oauth2/v2.0/token").authorization()
    assert "secret-value-0123" not in str(info.value) and info.value.hint


def test_insecure_issuer_off_loopback() -> None:
    with pytest.raises(InsecureIssuerError) as info:
        _source("http://login.contoso.example/t/oauth2/v2.0/token").authorization()
    assert isinstance(info.value, AuthenticationError) and "https" in str(info.value)
