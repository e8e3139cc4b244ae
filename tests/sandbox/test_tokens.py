"""Token service over real sockets: discovery, client credentials, AADSTS errors, bearer checks, admin."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
import requests
from test_tokens_support import Harness, jwt_claims, jwt_header, running

from d365conn.sandbox.tokens import TokenService


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Harness]:
    with running() as harness:
        yield harness


@pytest.fixture(autouse=True)
def _reset(sandbox: Harness) -> Iterator[None]:
    yield
    requests.delete(f"{sandbox.base_url}/_sandbox/tokens", timeout=5)


def cc_form(h: Harness, **overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": h.client_id,
        "client_secret": h.client_secret,
        "scope": f"{h.audience}/.default",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v != ""}


def basic(client_id: str, secret: str) -> str:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def assert_aadsts(response: requests.Response, status: int, error: str, code: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    description = body["error_description"]
    assert description.startswith(f"AADSTS{code}: ")
    assert re.search(r"\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: \S+\r\nTimestamp: ", description)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["trace_id"] in description
    assert body["error_uri"].endswith(f"/error?code={code}")
    assert response.headers["Content-Type"].startswith("application/json")
    return dict(body)


# --- discovery --------------------------------------------------------------------------------


def test_v2_openid_configuration_has_what_msal_reads(sandbox: Harness) -> None:
    url = f"{sandbox.base_url}/{sandbox.tenant}/v2.0/.well-known/openid-configuration"
    config = requests.get(url, timeout=5).json()
    authority = f"{sandbox.base_url}/{sandbox.tenant}"
    assert config["issuer"] == f"{authority}/v2.0"
    assert config["token_endpoint"] == f"{authority}/oauth2/v2.0/token"
    assert config["authorization_endpoint"] == f"{authority}/oauth2/v2.0/authorize"
    assert config["jwks_uri"] == f"{authority}/discovery/v2.0/keys"
    assert "client_secret_basic" in config["token_endpoint_auth_methods_supported"]
    # Every advertised endpoint is really served.
    for key in ("jwks_uri", "end_session_endpoint"):
        assert requests.get(config[key], timeout=5).status_code == 200


def test_v1_and_root_openid_configuration(sandbox: Harness) -> None:
    v1 = requests.get(
        f"{sandbox.base_url}/{sandbox.tenant}/.well-known/openid-configuration", timeout=5
    ).json()
    assert v1["token_endpoint"].endswith(f"/{sandbox.tenant}/oauth2/token")
    assert v1["issuer"] == f"{sandbox.base_url}/{sandbox.tenant}/"
    root = requests.get(f"{sandbox.base_url}/.well-known/openid-configuration", timeout=5).json()
    assert root["issuer"] == f"{sandbox.base_url}/{sandbox.tenant}/v2.0"
    common = requests.get(
        f"{sandbox.base_url}/common/v2.0/.well-known/openid-configuration", timeout=5
    ).json()
    assert common["issuer"] == f"{sandbox.base_url}/{{tenantid}}/v2.0"


def test_tenant_domain_is_an_alias_and_unknown_tenants_are_refused(sandbox: Harness) -> None:
    by_domain = requests.get(
        f"{sandbox.base_url}/sandbox.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    )
    assert by_domain.status_code == 200
    unknown = requests.get(
        f"{sandbox.base_url}/not-a-tenant/v2.0/.well-known/openid-configuration", timeout=5
    )
    assert_aadsts(unknown, 400, "invalid_tenant", 90002)


def test_jwks_publishes_the_signing_key(sandbox: Harness) -> None:
    token = requests.post(sandbox.token_url, data=cc_form(sandbox), timeout=5).json()["access_token"]
    keys = requests.get(f"{sandbox.base_url}/{sandbox.tenant}/discovery/v2.0/keys", timeout=5).json()["keys"]
    assert [k["kid"] for k in keys] == [jwt_header(token)["kid"]]
    assert keys[0]["kty"] == "RSA" and keys[0]["e"] and keys[0]["n"]


def test_handles_only_token_service_paths(sandbox: Harness) -> None:
    service = sandbox.tokens
    t = sandbox.tenant
    for path in (
        f"/{t}/oauth2/v2.0/token",
        f"/{t}/oauth2/token",
        f"/{t}/oauth2/v2.0/authorize",
        f"/{t}/oauth2/authorize",
        f"/{t}/v2.0/.well-known/openid-configuration",
        f"/{t}/.well-known/openid-configuration",
        "/.well-known/openid-configuration",
        "/common/discovery/instance",
        "/common/userrealm/user@sandbox.onmicrosoft.com",
        f"/{t}/discovery/v2.0/keys",
        "/common/oauth2/v2.0/token",
    ):
        assert service.handles(path), path
    for path in ("/api/data/v9.2/accounts", "/_sandbox/tokens", "/_sandbox/faults", "/", f"/{t}/oauth2/x"):
        assert not service.handles(path), path


# --- client credentials -----------------------------------------------------------------------


def test_client_credentials_v2_with_secret_in_body(sandbox: Harness) -> None:
    response = requests.post(sandbox.token_url, data=cc_form(sandbox), timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600 and isinstance(body["expires_in"], int)
    assert "refresh_token" not in body and "scope" not in body
    claims = jwt_claims(body["access_token"])
    assert claims["aud"] == sandbox.audience
    assert claims["iss"] == f"{sandbox.base_url}/{sandbox.tenant}/"
    assert claims["appid"] == sandbox.client_id and claims["tid"] == sandbox.tenant
    assert claims["idtyp"] == "app" and "scp" not in claims
    assert claims["exp"] - claims["iat"] in (3600, 3601)
    assert response.headers["Cache-Control"].startswith("no-store")


def test_client_credentials_v2_with_http_basic(sandbox: Harness) -> None:
    form = cc_form(sandbox, client_id="", client_secret="")
    auth = basic(sandbox.client_id, sandbox.client_secret)
    response = requests.post(sandbox.token_url, data=form, headers={"Authorization": auth}, timeout=5)
    assert response.status_code == 200, response.text
    bad = requests.post(
        sandbox.token_url, data=form, headers={"Authorization": basic(sandbox.client_id, "nope")}, timeout=5
    )
    assert_aadsts(bad, 401, "invalid_client", 7000215)


def test_client_credentials_v1_sends_strings_and_resource(sandbox: Harness) -> None:
    for resource in (sandbox.audience, sandbox.audience + "/"):
        form = {
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "resource": resource,
        }
        body = requests.post(sandbox.v1_token_url, data=form, timeout=5).json()
        assert body["resource"] == resource
        for key in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
            assert isinstance(body[key], str) and body[key].isdigit(), key
        assert abs(int(body["expires_on"]) - time.time() - 3600) < 5
        assert jwt_claims(body["access_token"])["aud"] == resource
        api = requests.get(sandbox.api_url, headers={"Authorization": f"Bearer {body['access_token']}"})
        assert api.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "status", "error", "code"),
    [
        ({"client_id": "00000000-0000-0000-0000-000000000001"}, 400, "unauthorized_client", 700016),
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_secret": ""}, 401, "invalid_client", 7000218),
        ({"scope": "{aud}/user_impersonation"}, 400, "invalid_scope", 1002012),
        ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_resource", 500011),
        ({"scope": "user_impersonation"}, 400, "invalid_scope", 70011),
        ({"scope": ""}, 400, "invalid_request", 900144),
        (
            {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
            400,
            "unsupported_grant_type",
            70003,
        ),
        ({"grant_type": ""}, 400, "invalid_request", 900144),
    ],
)
def test_client_credentials_errors(
    sandbox: Harness, overrides: dict[str, str], status: int, error: str, code: int
) -> None:
    form = cc_form(sandbox, **{k: v.format(aud=sandbox.audience) for k, v in overrides.items()})
    response = requests.post(sandbox.token_url, data=form, timeout=5)
    assert_aadsts(response, status, error, code)
    assert sandbox.client_secret not in response.text


def test_wrong_tenant_common_tenant_and_get_are_refused(sandbox: Harness) -> None:
    wrong = requests.post(
        f"{sandbox.base_url}/other-tenant/oauth2/v2.0/token", data=cc_form(sandbox), timeout=5
    )
    assert_aadsts(wrong, 400, "invalid_tenant", 90002)
    common = requests.post(f"{sandbox.base_url}/common/oauth2/v2.0/token", data=cc_form(sandbox), timeout=5)
    assert_aadsts(common, 400, "invalid_request", 50059)
    get = requests.get(sandbox.token_url, timeout=5)
    assert_aadsts(get, 400, "invalid_request", 900561)


def test_v1_unknown_resource_and_missing_resource(sandbox: Harness) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
    }
    missing = requests.post(sandbox.v1_token_url, data=form, timeout=5)
    assert_aadsts(missing, 400, "invalid_request", 900144)
    other = requests.post(sandbox.v1_token_url, data={**form, "resource": "https://org.crm.dynamics.com/"})
    body = assert_aadsts(other, 400, "invalid_resource", 500011)
    assert "https://org.crm.dynamics.com/" in str(body["error_description"])


def test_correlation_id_echoes_client_request_id(sandbox: Harness) -> None:
    response = requests.post(
        sandbox.token_url,
        data=cc_form(sandbox, client_secret="wrong"),
        headers={"client-request-id": "c0ffee00-1111-2222-3333-444455556666"},
        timeout=5,
    )
    assert response.json()["correlation_id"] == "c0ffee00-1111-2222-3333-444455556666"


# --- the Web API's bearer check ---------------------------------------------------------------


def _token(h: Harness) -> str:
    token: str = requests.post(h.token_url, data=cc_form(h), timeout=5).json()["access_token"]
    return token


def _assert_challenge(h: Harness, response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["WWW-Authenticate"] == (
        f"Bearer authorization_uri={h.base_url}/{h.tenant}/oauth2/authorize, resource_id={h.audience}"
    )


def test_bearer_valid_missing_malformed_and_forged(sandbox: Harness) -> None:
    token = _token(sandbox)
    assert requests.get(sandbox.api_url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert requests.get(sandbox.api_url, headers={"Authorization": f"bearer {token}"}).status_code == 200
    _assert_challenge(sandbox, requests.get(sandbox.api_url, timeout=5))
    for header in (
        "Bearer",
        "Bearer ",
        "Bearer abc.def.ghi",
        f"Basic {token}",
        "Bearer ..",
        f"Bearer {token}x",
    ):
        _assert_challenge(
            sandbox, requests.get(sandbox.api_url, headers={"Authorization": header}, timeout=5)
        )
    # Change one claim but keep the signature: the signature no longer matches.
    head, _, signature = token.split(".")
    claims = jwt_claims(token)
    claims["exp"] += 3600
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = f"{head}.{forged_payload}.{signature}"
    _assert_challenge(sandbox, requests.get(sandbox.api_url, headers={"Authorization": f"Bearer {forged}"}))


def test_bearer_wrong_audience_and_foreign_service(sandbox: Harness) -> None:
    wrong_audience = sandbox.tokens.mint_access_token(audience="https://org.crm.dynamics.com")
    _assert_challenge(
        sandbox, requests.get(sandbox.api_url, headers={"Authorization": f"Bearer {wrong_audience}"})
    )
    stranger = TokenService(
        sandbox.base_url, sandbox.tenant, sandbox.audience, sandbox.client_id, sandbox.client_secret, 3600
    )
    foreign = stranger.mint_access_token()
    _assert_challenge(sandbox, requests.get(sandbox.api_url, headers={"Authorization": f"Bearer {foreign}"}))


def test_bearer_expires_after_a_one_second_lifetime(sandbox: Harness) -> None:
    sandbox.tokens.token_lifetime = 1
    body = requests.post(sandbox.token_url, data=cc_form(sandbox), timeout=5).json()
    assert body["expires_in"] == 1
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    assert requests.get(sandbox.api_url, headers=auth, timeout=5).status_code == 200
    time.sleep(1.05)
    _assert_challenge(sandbox, requests.get(sandbox.api_url, headers=auth, timeout=5))


def test_admin_expire_access_tokens(sandbox: Harness) -> None:
    old = _token(sandbox)
    answer = requests.post(
        f"{sandbox.base_url}/_sandbox/tokens", json={"expire_access_tokens": True}, timeout=5
    )
    assert answer.status_code == 200
    _assert_challenge(sandbox, requests.get(sandbox.api_url, headers={"Authorization": f"Bearer {old}"}))
    new = _token(sandbox)
    assert requests.get(sandbox.api_url, headers={"Authorization": f"Bearer {new}"}).status_code == 200


# --- admin resource and secrets ---------------------------------------------------------------


def test_admin_counts_exactly_one_token_request(sandbox: Harness) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"reset_stats": True}, timeout=5)
    requests.post(sandbox.token_url, data=cc_form(sandbox), timeout=5)
    stats = requests.get(f"{sandbox.base_url}/_sandbox/tokens", timeout=5).json()["stats"]
    assert stats["token_requests"] == {
        "total": 1,
        "by_grant_type": {"client_credentials": 1},
        "by_endpoint": {"v2": 1},
    }
    assert stats["tokens_issued"] == {"client_credentials": 1}


def test_admin_changes_lifetime_and_rejects_unknown_settings(sandbox: Harness) -> None:
    changed = requests.patch(f"{sandbox.base_url}/_sandbox/tokens", json={"token_lifetime": 5}, timeout=5)
    assert changed.json()["settings"]["token_lifetime"] == 5
    assert requests.post(sandbox.token_url, data=cc_form(sandbox), timeout=5).json()["expires_in"] == 5
    unknown = requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"token_lifetim": 5}, timeout=5)
    assert unknown.status_code == 400 and "token_lifetime" in unknown.json()["error"]["message"]
    wrong_type = requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"auto_consent": "yes"}, timeout=5)
    assert wrong_type.status_code == 400
    reset = requests.delete(f"{sandbox.base_url}/_sandbox/tokens", timeout=5).json()
    assert reset["settings"]["token_lifetime"] == 3600


def test_secrets_never_appear_in_admin_output_or_reprs(sandbox: Harness) -> None:
    listing = requests.get(f"{sandbox.base_url}/_sandbox/tokens", timeout=5).text
    assert sandbox.client_secret not in listing
    assert sandbox.tokens.user.password not in listing
    for text in (repr(sandbox.tokens), repr(sandbox.tokens.config), repr(sandbox.tokens.user)):
        assert sandbox.client_secret not in text
        assert sandbox.tokens.user.password not in text
