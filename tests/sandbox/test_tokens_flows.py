"""Delegated flows over real sockets: authorize page, code + PKCE, consent, refresh rotation, password."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
import requests
from test_tokens_support import Harness, jwt_claims, running

REDIRECT = "http://localhost:53123/callback"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Harness]:
    with running() as harness:
        yield harness


@pytest.fixture(autouse=True)
def _reset(sandbox: Harness) -> Iterator[None]:
    yield
    requests.delete(f"{sandbox.base_url}/_sandbox/tokens", timeout=5)
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"clear_consent": True}, timeout=5)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def scope(h: Harness, extra: str = "offline_access openid profile") -> str:
    return f"{h.audience}/user_impersonation {extra}".strip()


def authorize(h: Harness, version: str = "v2", **params: str) -> requests.Response:
    path = "oauth2/v2.0/authorize" if version == "v2" else "oauth2/authorize"
    query = {"client_id": h.client_id, "response_type": "code", "redirect_uri": REDIRECT, "state": "st-1"}
    query.update(params)
    return requests.get(f"{h.base_url}/{h.tenant}/{path}", params=query, allow_redirects=False, timeout=5)


def redirect_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT.split("?", maxsplit=1)[0]) or location.startswith("http://127.0.0.1")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def get_code(h: Harness, challenge: str | None = None, **params: str) -> str:
    extra = {"scope": scope(h), **params}
    if challenge:
        extra.update(code_challenge=challenge, code_challenge_method="S256")
    answer = redirect_params(authorize(h, **extra))
    assert answer["state"] == "st-1"
    return answer["code"]


def redeem(h: Harness, code: str, verifier: str | None = None, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": h.client_id,
        "code": code,
        "redirect_uri": REDIRECT,
        "scope": scope(h),
    }
    if verifier:
        form["code_verifier"] = verifier
    form.update(overrides)
    return requests.post(h.token_url, data={k: v for k, v in form.items() if v}, timeout=5)


def refresh(h: Harness, token: str, url: str | None = None, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": h.client_id,
        "refresh_token": token,
        "scope": scope(h),
    }
    form.update(overrides)
    return requests.post(url or h.token_url, data={k: v for k, v in form.items() if v}, timeout=5)


def error_code(response: requests.Response) -> int:
    codes: list[int] = response.json()["error_codes"]
    return codes[0]


# --- authorize + code + PKCE ------------------------------------------------------------------


def test_auto_consent_redirects_and_pkce_code_redeems(sandbox: Harness) -> None:
    verifier, challenge = pkce_pair()
    answer = redirect_params(
        authorize(
            sandbox,
            scope=scope(sandbox),
            code_challenge=challenge,
            code_challenge_method="S256",
            nonce="n-42",
            client_info="1",
        )
    )
    assert answer["state"] == "st-1" and answer["code"] and answer["session_state"] and answer["client_info"]
    response = redeem(sandbox, answer["code"], verifier, client_info="1", client_secret=sandbox.client_secret)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refresh_token"] and body["id_token"] and body["client_info"]
    assert f"{sandbox.audience}/user_impersonation" in body["scope"].split()
    claims = jwt_claims(body["access_token"])
    assert claims["scp"] == "user_impersonation" and claims["upn"] == sandbox.tokens.user.username
    id_claims = jwt_claims(body["id_token"])
    assert id_claims["nonce"] == "n-42" and id_claims["aud"] == sandbox.client_id
    assert id_claims["iss"] == f"{sandbox.base_url}/{sandbox.tenant}/v2.0"
    api = requests.get(
        sandbox.api_url, headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5
    )
    assert api.status_code == 200


def test_code_is_single_use(sandbox: Harness) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, challenge)
    assert redeem(sandbox, code, verifier).status_code == 200
    again = redeem(sandbox, code, verifier)
    assert again.status_code == 400 and error_code(again) == 54005


def test_pkce_mismatch_missing_verifier_and_plain_method(sandbox: Harness) -> None:
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    assert error_code(redeem(sandbox, get_code(sandbox, challenge), other_verifier)) == 501481
    assert error_code(redeem(sandbox, get_code(sandbox, challenge))) == 900144
    plain = secrets.token_urlsafe(48)
    code = get_code(sandbox, None, code_challenge=plain, code_challenge_method="plain")
    assert redeem(sandbox, code, plain).status_code == 200


def test_code_bound_to_redirect_uri_and_expires(sandbox: Harness) -> None:
    verifier, challenge = pkce_pair()
    mismatch = redeem(
        sandbox, get_code(sandbox, challenge), verifier, redirect_uri="http://localhost:1/other"
    )
    assert mismatch.status_code == 400 and error_code(mismatch) == 50011
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"code_lifetime": 0.2}, timeout=5)
    code = get_code(sandbox, challenge)
    time.sleep(0.3)
    expired = redeem(sandbox, code, verifier)
    assert expired.json()["error"] == "invalid_grant" and error_code(expired) == 70008
    garbage = redeem(sandbox, "0.not-a-code", verifier)
    assert garbage.json()["error"] == "invalid_grant" and error_code(garbage) == 9002313


def test_redirect_uri_rules(sandbox: Harness) -> None:
    # Loopback: any port, both hosts.
    for uri in ("http://localhost:1234/cb", "http://127.0.0.1:59999/", "http://localhost"):
        response = authorize(sandbox, scope=scope(sandbox), redirect_uri=uri)
        assert response.status_code == 302 and response.headers["Location"].startswith(uri), uri
    # Anything else is shown an error page and never redirected to.
    for uri in ("https://evil.example/cb", "http://localhost.evil.example/cb", "https://localhost:1234/cb"):
        response = authorize(sandbox, scope=scope(sandbox), redirect_uri=uri)
        assert response.status_code == 400 and "Location" not in response.headers, uri
        assert "AADSTS50011" in response.text
    unknown_client = authorize(
        sandbox, scope=scope(sandbox), client_id="00000000-0000-0000-0000-000000000009"
    )
    assert unknown_client.status_code == 400 and "AADSTS700016" in unknown_client.text


def test_authorize_errors_are_redirected_with_state(sandbox: Harness) -> None:
    wrong_type = redirect_params(authorize(sandbox, scope=scope(sandbox), response_type="token"))
    assert wrong_type["error"] == "unsupported_response_type" and wrong_type["state"] == "st-1"
    assert wrong_type["error_description"].startswith("AADSTS70005:")
    bad_scope = redirect_params(authorize(sandbox, scope=f"{sandbox.audience}/not_a_permission"))
    assert bad_scope["error"] == "invalid_scope"
    other_resource = redirect_params(
        authorize(sandbox, scope="https://org.crm.dynamics.com/user_impersonation")
    )
    assert other_resource["error"] == "invalid_resource"
    bad_challenge = redirect_params(authorize(sandbox, scope=scope(sandbox), code_challenge="short"))
    assert bad_challenge["error"] == "invalid_request"
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"require_pkce": True}, timeout=5)
    no_pkce = redirect_params(authorize(sandbox, scope=scope(sandbox)))
    assert no_pkce["error"] == "invalid_request" and "AADSTS9002325" in no_pkce["error_description"]


def test_v2_without_offline_access_gets_no_refresh_token(sandbox: Harness) -> None:
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, challenge, scope=f"{sandbox.audience}/user_impersonation")
    body = redeem(sandbox, code, verifier, scope=f"{sandbox.audience}/user_impersonation").json()
    assert body["access_token"] and "refresh_token" not in body and "id_token" not in body


def test_v1_authorize_and_code_use_resource(sandbox: Harness) -> None:
    answer = redirect_params(authorize(sandbox, version="v1", resource=sandbox.audience + "/"))
    form = {
        "grant_type": "authorization_code",
        "client_id": sandbox.client_id,
        "code": answer["code"],
        "redirect_uri": REDIRECT,
        "resource": sandbox.audience + "/",
    }
    body = requests.post(sandbox.v1_token_url, data=form, timeout=5).json()
    assert body["resource"] == sandbox.audience + "/" and body["scope"] == "user_impersonation"
    assert isinstance(body["expires_in"], str) and body["refresh_token"] and body["id_token"]
    again = refresh(
        sandbox, body["refresh_token"], url=sandbox.v1_token_url, scope="", resource=sandbox.audience
    )
    assert again.status_code == 200 and isinstance(again.json()["expires_on"], str)


# --- consent ----------------------------------------------------------------------------------


def test_consent_form_accept_and_deny(sandbox: Harness) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"auto_consent": False}, timeout=5)
    page = authorize(sandbox, scope=scope(sandbox))
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'name="consent" value="accept"' in page.text and "user_impersonation" in page.text
    form_url = f"{sandbox.base_url}/{sandbox.tenant}/oauth2/v2.0/authorize"
    fields = {
        "client_id": sandbox.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "scope": scope(sandbox),
    }
    denied = requests.post(form_url, data={**fields, "consent": "deny"}, allow_redirects=False, timeout=5)
    answer = redirect_params(denied)
    assert answer["error"] == "access_denied" and "AADSTS65004" in answer["error_description"]
    accepted = requests.post(form_url, data={**fields, "consent": "accept"}, allow_redirects=False, timeout=5)
    assert redirect_params(accepted)["code"]
    # Consent is remembered: the next authorize redirects at once.
    assert authorize(sandbox, scope=scope(sandbox)).status_code == 302


def test_prompt_none_without_consent_is_consent_required(sandbox: Harness) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"auto_consent": False}, timeout=5)
    answer = redirect_params(authorize(sandbox, scope=scope(sandbox), prompt="none"))
    assert answer["error"] == "consent_required" and "AADSTS65001" in answer["error_description"]


# --- password grant ---------------------------------------------------------------------------


def _password_form(h: Harness, password: str | None = None, username: str | None = None) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": h.client_id,
        "username": username or h.tokens.user.username,
        "password": password or h.tokens.user.password,
        "scope": scope(h),
    }


def test_password_grant_and_its_errors(sandbox: Harness) -> None:
    ok = requests.post(sandbox.token_url, data=_password_form(sandbox), timeout=5)
    assert ok.status_code == 200 and ok.json()["refresh_token"]
    wrong = requests.post(sandbox.token_url, data=_password_form(sandbox, password="Wrong-Pass1"), timeout=5)
    assert wrong.status_code == 400 and error_code(wrong) == 50126 and "Wrong-Pass1" not in wrong.text
    stranger = requests.post(sandbox.token_url, data=_password_form(sandbox, username="who@x.example"))
    assert error_code(stranger) == 50034
    with_bad_secret = requests.post(
        sandbox.token_url, data={**_password_form(sandbox), "client_secret": "nope"}, timeout=5
    )
    assert with_bad_secret.status_code == 401 and error_code(with_bad_secret) == 7000215


def test_password_grant_without_consent_is_65001(sandbox: Harness) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"auto_consent": False}, timeout=5)
    response = requests.post(sandbox.token_url, data=_password_form(sandbox), timeout=5)
    assert response.status_code == 400 and error_code(response) == 65001
    assert response.json()["suberror"] == "consent_required"


def test_password_grant_v1(sandbox: Harness) -> None:
    form = {**_password_form(sandbox), "resource": sandbox.audience}
    del form["scope"]
    body = requests.post(sandbox.v1_token_url, data=form, timeout=5).json()
    assert body["resource"] == sandbox.audience and body["refresh_token"]


# --- refresh tokens ---------------------------------------------------------------------------


def _refresh_token(h: Harness) -> str:
    token: str = requests.post(h.token_url, data=_password_form(h), timeout=5).json()["refresh_token"]
    return token


def test_refresh_rotates_and_old_token_stays_valid_by_default(sandbox: Harness) -> None:
    first = _refresh_token(sandbox)
    second = refresh(sandbox, first).json()["refresh_token"]
    assert second != first
    third = refresh(sandbox, second)
    assert third.status_code == 200 and third.json()["refresh_token"] not in (first, second)
    # Like Entra: a used refresh token is not invalidated at once.
    assert refresh(sandbox, first).status_code == 200


def test_strict_rotation_refuses_a_replayed_refresh_token(sandbox: Harness) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"strict_rotation": True}, timeout=5)
    first = _refresh_token(sandbox)
    second = refresh(sandbox, first).json()["refresh_token"]
    replay = refresh(sandbox, first)
    assert (
        replay.status_code == 400
        and replay.json()["error"] == "invalid_grant"
        and error_code(replay) == 70000
    )
    assert refresh(sandbox, second).status_code == 200


def test_refresh_token_expires_after_idle_time(sandbox: Harness) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"refresh_token_max_idle": 0.3}, timeout=5)
    token = _refresh_token(sandbox)
    time.sleep(0.4)
    response = refresh(sandbox, token)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert error_code(response) == 700082
    assert "inactive for 0.00:00:00" in response.json()["error_description"]


def test_revoked_and_garbage_refresh_tokens(sandbox: Harness) -> None:
    token = _refresh_token(sandbox)
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"revoke_refresh_tokens": True}, timeout=5)
    assert error_code(refresh(sandbox, token)) == 50173
    assert refresh(sandbox, _refresh_token(sandbox)).status_code == 200
    assert error_code(refresh(sandbox, "1.garbage")) == 9002313
    assert error_code(refresh(sandbox, "")) == 900144


def test_refresh_counts_by_grant_type(sandbox: Harness) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"reset_stats": True}, timeout=5)
    refresh(sandbox, _refresh_token(sandbox))
    stats = requests.get(f"{sandbox.base_url}/_sandbox/tokens", timeout=5).json()["stats"]
    assert stats["token_requests"]["by_grant_type"] == {"password": 1, "refresh_token": 1}


def test_refresh_with_client_secret_in_http_basic(sandbox: Harness) -> None:
    token = _refresh_token(sandbox)
    raw = f"{quote_plus(sandbox.client_id)}:{quote_plus(sandbox.client_secret)}".encode()
    basic = {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    form = {"grant_type": "refresh_token", "refresh_token": token, "scope": scope(sandbox)}
    response = requests.post(sandbox.token_url, data=form, headers=basic, timeout=5)
    assert response.status_code == 200, response.text
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{sandbox.client_id}:nope".encode()).decode()}
    refused = requests.post(sandbox.token_url, data=form, headers=wrong, timeout=5)
    assert refused.status_code == 401 and error_code(refused) == 7000215


def test_a_refused_refresh_request_does_not_burn_the_token(sandbox: Harness) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/tokens", json={"strict_rotation": True}, timeout=5)
    token = _refresh_token(sandbox)
    bad = refresh(sandbox, token, scope="https://org.crm.dynamics.com/user_impersonation")
    assert error_code(bad) == 500011
    assert refresh(sandbox, token).status_code == 200
