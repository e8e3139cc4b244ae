"""Recorded Entra-shaped token-endpoint errors (vcrpy), scrubbed of secrets, replayed without a server.

The cassette was recorded against the sandbox token service; when it is missing the test records it
again (the sandbox starts for that). ``before_record_request`` / ``before_record_response`` remove
every secret and token before anything is written, and the last test scans the cassette files.
"""

from __future__ import annotations

import json
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import pytest
import vcr

from d365conn.auth import token_source_for
from d365conn.config import build_config
from d365conn.exceptions import InteractionRequiredError, InvalidClientError, TokenEndpointError
from tests.auth.harness import CLIENT_ID, CLIENT_SECRET, TENANT, running

CASSETTES = Path(__file__).resolve().parent / "cassettes"
SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "refresh_token",
        "password",
        "code",
        "code_verifier",
        "client_assertion",
        "access_token",
        "id_token",
        "assertion",
    }
)
WRONG_PASSWORD = "Not-The-Passw0rd!"
UNKNOWN_RT = "1.unknown-refresh-token-for-the-cassette-0123456789"


def scrub_request(request: Any) -> Any:
    request.headers.pop("Authorization", None)
    body = request.body
    if body:
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        form = [
            (k, "REDACTED" if k in SECRET_FIELDS else v) for k, v in parse_qsl(text, keep_blank_values=True)
        ]
        request.body = urlencode(form).encode("utf-8")
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    raw = response["body"]["string"]
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return response
    if isinstance(payload, dict):
        for key in SECRET_FIELDS & set(payload):
            payload[key] = "REDACTED"
        response["body"]["string"] = json.dumps(payload).encode("utf-8")
    return response


def _grant_type(r1: Any, r2: Any) -> None:
    def grant(request: Any) -> str:
        body = request.body or b""
        text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        return dict(parse_qsl(text)).get("grant_type", "")

    assert grant(r1) == grant(r2)


def recorder() -> vcr.VCR:
    v = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="once",
        match_on=["method", "path", "grant_type"],
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
    )
    v.register_matcher("grant_type", _grant_type)
    return v


def test_recorded_entra_errors() -> None:
    cassette = CASSETTES / "entra_token_errors.yaml"
    with ExitStack() as stack:
        base = "http://127.0.0.1:9"  # replay: nothing listens here, vcrpy answers
        if not cassette.exists():
            harness = stack.enter_context(running())
            base = harness.base_url
        stack.enter_context(recorder().use_cassette(cassette.name))
        token_uri = f"{base}/{TENANT}/oauth2/v2.0/token"
        service = f"ServiceURL={base}/api/data/v9.2/;ClientID={CLIENT_ID};TokenURI={token_uri}"

        with pytest.raises(InvalidClientError) as bad_secret:
            token_source_for(build_config(f"{service};ClientSecret=not-the-secret-0123")).authorization()
        assert bad_secret.value.aadsts == 7000215 and bad_secret.value.status == 401

        wrong_tenant = service.replace(f"/{TENANT}/", "/contoso.onmicrosoft.com/")
        with pytest.raises(TokenEndpointError) as tenant:
            token_source_for(build_config(f"{wrong_tenant};ClientSecret={CLIENT_SECRET}")).authorization()
        assert tenant.value.aadsts == 90002 and "TenantID" in str(tenant.value)

        with pytest.raises(InteractionRequiredError) as unknown_rt:
            token_source_for(build_config(f"{service};RefreshToken={UNKNOWN_RT}")).authorization()
        assert unknown_rt.value.code == "invalid_grant" and "d365conn login" in str(unknown_rt.value)

        user = "user@sandbox.onmicrosoft.com"
        with pytest.raises(TokenEndpointError) as password:
            token_source_for(
                build_config(f"{service};LogonID={user};Password={WRONG_PASSWORD}")
            ).authorization()
        assert password.value.aadsts == 50126 and "Wrong LogonID or Password" in str(password.value)
        assert WRONG_PASSWORD not in str(password.value)


def test_cassettes_hold_no_secrets() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert files, "the cassette is recorded by test_recorded_entra_errors"
    forbidden = [
        CLIENT_SECRET,
        quote(CLIENT_SECRET, safe=""),
        "not-the-secret-0123",
        WRONG_PASSWORD,
        quote(WRONG_PASSWORD),
        UNKNOWN_RT,
    ]
    jwt = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}")
    for path in files:
        text = path.read_text(encoding="utf-8")
        for value in forbidden:
            assert value not in text, f"{path.name} holds a secret"
        assert not jwt.search(text), f"{path.name} holds a JWT"
        assert "Authorization" not in text
        assert "REDACTED" in text  # the filter ran
