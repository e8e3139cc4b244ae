"""The MSAL path against a real third-party OpenID provider (npm oidc-provider) over TLS with a test CA."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from d365conn.auth import OAuthTokenSource, token_source_for
from d365conn.auth.claims import peek_claims
from d365conn.config import build_config
from tests.auth.oidc_server import CLIENT_ID, CLIENT_SECRET, RESOURCE, USER, OidcServer, oidc_server

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def oidc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcServer]:
    with oidc_server(tmp_path_factory.mktemp("oidc")) as server:
        yield server


@pytest.fixture(autouse=True)
def _hostile_ca_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # REQUESTS_CA_BUNDLE would override a session's verify; CACertificate must win regardless.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-bundle.pem"))


def login(oidc: OidcServer, browser: Callable[..., Callable[[str], None]], cache: Path) -> OAuthTokenSource:
    config = build_config(
        oidc.connection_string(
            Scope=f"{RESOURCE}/user_impersonation offline_access",
            RedirectURI="http://127.0.0.1/callback",
            TokenCachePath=str(cache),
        )
    )
    source = OAuthTokenSource(config, "AuthorizationCode")
    source.login(open_browser=browser(str(oidc.ca_path)), timeout=30)
    return source


def test_client_credentials_through_msal(oidc: OidcServer) -> None:
    source = token_source_for(build_config(oidc.connection_string()))
    authorization = source.authorization()
    assert isinstance(source, OAuthTokenSource) and source.client.name == "MSAL"
    assert authorization is not None
    claims = peek_claims(authorization.removeprefix("Bearer "))
    assert claims is not None and claims["aud"] == RESOURCE and claims["iss"] == oidc.issuer
    assert source.info().expires_at is not None


@pytest.mark.parametrize("client", ["MSAL", "Plain"])
def test_certificate_client_credentials(oidc: OidcServer, client: str) -> None:
    text = oidc.connection_string(
        OAuthClient=client,
        ClientID=f"{CLIENT_ID}-cert",
        ClientSecret="",
        ClientCertificate=str(oidc.app_certificate),
    )
    source = token_source_for(build_config(text))
    authorization = source.authorization()
    assert isinstance(source, OAuthTokenSource) and source.client.name == (
        "MSAL" if client == "MSAL" else "OAuth2"
    )
    assert authorization is not None
    claims = peek_claims(authorization.removeprefix("Bearer "))
    assert claims is not None and claims["client_id"] == f"{CLIENT_ID}-cert"


def test_plain_client_against_the_same_issuer(oidc: OidcServer) -> None:
    source = token_source_for(build_config(oidc.connection_string(OAuthClient="Plain")))
    assert source.authorization() is not None
    assert isinstance(source, OAuthTokenSource) and source.client.name == "OAuth2"


def test_auth_code_flow_with_pkce_then_refresh_rotation(
    oidc: OidcServer, browser: Callable[..., Callable[[str], None]], tmp_path: Path
) -> None:
    cache = tmp_path / "msal-cache.json"
    source = login(oidc, browser, cache)
    assert source.client.name == "MSAL"
    assert source.info().identity == USER
    doc = json.loads(cache.read_text())
    assert {"AccessToken", "RefreshToken", "Account"} <= set(doc)  # MSAL's own cache format
    assert "d365conn" in doc and stat.S_IMODE(cache.stat().st_mode) == 0o600
    first_rt = doc["d365conn"][next(iter(doc["d365conn"]))]["refresh_token"]

    # Unattended: the RefreshToken grant through MSAL; the provider rotates every refresh token.
    seen: list[str] = []
    config = build_config(
        oidc.connection_string(Scope=f"{RESOURCE}/user_impersonation offline_access", RefreshToken=first_rt)
    )
    refreshing = token_source_for(config, on_refresh_token=seen.append)
    authorization = refreshing.authorization()
    assert authorization is not None and seen and seen[0] != first_rt
    refreshing.invalidate(authorization)
    assert refreshing.authorization() != authorization and len(seen) == 2
    # The provider revoked first_rt when rotating it (reuse detection): only the newest works.
    stale = requests.post(
        oidc.issuer + "/token",
        verify=str(oidc.ca_path),
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first_rt,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert stale.status_code == 400
