"""MSAL Python against the sandbox token service over TLS, as the driver will use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests
from test_tokens_support import Harness, jwt_claims, running

from d365conn.sandbox.tls import ensure_test_certificates


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    certs = ensure_test_certificates(tmp_path_factory.mktemp("tls"))
    with running(certs) as harness:
        harness.ca_path = certs.ca_path  # type: ignore[attr-defined]
        yield harness


@pytest.fixture(autouse=True)
def _reset(sandbox: Harness, session: requests.Session) -> Iterator[None]:
    yield
    session.delete(f"{sandbox.base_url}/_sandbox/tokens", timeout=5)


@pytest.fixture
def session(sandbox: Harness) -> Iterator[requests.Session]:
    http = requests.Session()
    # REQUESTS_CA_BUNDLE in the environment would override verify; MSAL must see the test CA.
    http.trust_env = False
    ca_path: Path = sandbox.ca_path  # type: ignore[attr-defined]
    http.verify = str(ca_path)
    yield http
    http.close()


def _stats(sandbox: Harness, session: requests.Session) -> dict[str, object]:
    stats: dict[str, object] = session.get(f"{sandbox.base_url}/_sandbox/tokens", timeout=5).json()["stats"]
    return stats


def test_msal_client_credentials_with_authority(sandbox: Harness, session: requests.Session) -> None:
    app = msal.ConfidentialClientApplication(
        sandbox.client_id,
        client_credential=sandbox.client_secret,
        authority=f"{sandbox.base_url}/{sandbox.tenant}",
        instance_discovery=False,
        http_client=session,
    )
    session.post(f"{sandbox.base_url}/_sandbox/tokens", json={"reset_stats": True}, timeout=5)
    result = app.acquire_token_for_client(scopes=[f"{sandbox.audience}/.default"])
    assert "access_token" in result, result
    assert jwt_claims(result["access_token"])["aud"] == sandbox.audience
    api = session.get(
        sandbox.api_url, headers={"Authorization": f"Bearer {result['access_token']}"}, timeout=5
    )
    assert api.status_code == 200
    # MSAL caches: the second call is served from its cache, no second token request.
    again = app.acquire_token_for_client(scopes=[f"{sandbox.audience}/.default"])
    assert again["access_token"] == result["access_token"]
    assert _stats(sandbox, session)["token_requests"] == {
        "total": 1,
        "by_grant_type": {"client_credentials": 1},
        "by_endpoint": {"v2": 1},
    }


def test_msal_client_credentials_with_oidc_authority(sandbox: Harness, session: requests.Session) -> None:
    app = msal.ConfidentialClientApplication(
        sandbox.client_id,
        client_credential=sandbox.client_secret,
        oidc_authority=f"{sandbox.base_url}/{sandbox.tenant}/v2.0",
        http_client=session,
    )
    result = app.acquire_token_for_client(scopes=[f"{sandbox.audience}/.default"])
    assert "access_token" in result, result


def test_msal_reports_a_bad_secret_as_aadsts(sandbox: Harness, session: requests.Session) -> None:
    app = msal.ConfidentialClientApplication(
        sandbox.client_id,
        client_credential="not-the-secret",
        authority=f"{sandbox.base_url}/{sandbox.tenant}",
        instance_discovery=False,
        http_client=session,
    )
    result = app.acquire_token_for_client(scopes=[f"{sandbox.audience}/.default"])
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]
    assert "not-the-secret" not in str(result)


@pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")
def test_msal_auth_code_flow_with_pkce_then_silent_refresh(
    sandbox: Harness, session: requests.Session
) -> None:
    app = msal.PublicClientApplication(
        sandbox.client_id,
        authority=f"{sandbox.base_url}/{sandbox.tenant}",
        instance_discovery=False,
        http_client=session,
    )
    scopes = [f"{sandbox.audience}/user_impersonation"]
    flow = app.initiate_auth_code_flow(scopes, redirect_uri="http://localhost:8400")
    assert "code_challenge=" in flow["auth_uri"]
    redirect = session.get(flow["auth_uri"], allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    auth_response = {k: v[0] for k, v in parse_qs(urlsplit(redirect.headers["Location"]).query).items()}
    session.post(f"{sandbox.base_url}/_sandbox/tokens", json={"token_lifetime": 1, "reset_stats": True})
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == sandbox.tokens.user.username
    [account] = app.get_accounts()
    # The access token lives one second, inside MSAL's five-minute margin: silent means refresh.
    silent = app.acquire_token_silent(scopes, account=account)
    assert silent is not None and "access_token" in silent
    assert silent["access_token"] != result["access_token"]
    assert _stats(sandbox, session)["token_requests"]["by_grant_type"] == {  # type: ignore[index]
        "authorization_code": 1,
        "refresh_token": 1,
    }


@pytest.mark.filterwarnings("ignore:This API has been deprecated:DeprecationWarning")
def test_msal_password_grant_needs_user_realm_on_port_443(
    sandbox: Harness, session: requests.Session
) -> None:
    """MSAL asks https://<host>/common/userrealm/... without the port before a password grant.

    The sandbox serves that path, but on a random port MSAL's request goes to port 443 and fails;
    a caller on another port must skip realm discovery (as below) or send the grant itself.
    """
    app = msal.PublicClientApplication(
        sandbox.client_id,
        authority=f"{sandbox.base_url}/{sandbox.tenant}",
        instance_discovery=False,
        http_client=session,
    )
    realm = session.get(
        f"{sandbox.base_url}/common/userrealm/{sandbox.tokens.user.username}?api-version=1.0", timeout=5
    ).json()
    assert realm["account_type"] == "Managed"
    # Hand MSAL the realm answer the sandbox gives, as MSAL would get it on port 443.
    app.authority.user_realm_discovery = lambda *args, **kwargs: realm
    result = app.acquire_token_by_username_password(
        sandbox.tokens.user.username,
        sandbox.tokens.user.password,
        scopes=[f"{sandbox.audience}/user_impersonation"],
    )
    assert "access_token" in result, result
    assert jwt_claims(result["access_token"])["upn"] == sandbox.tokens.user.username
