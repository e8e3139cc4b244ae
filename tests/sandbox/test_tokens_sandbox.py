"""End to end through the real sandbox (``Sandbox``): tokens, the 401 challenge, faults, TLS + MSAL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import msal
import pytest
import requests

from d365conn.sandbox.faults import Faults
from d365conn.sandbox.launcher import Sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    tls_dir = tmp_path_factory.mktemp("tls")
    with Sandbox(rows=50, tls=True, tls_dir=str(tls_dir)) as running:
        yield running


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sandbox.ca_path)
    yield session
    session.delete(f"{sandbox.origin}/_sandbox/tokens", timeout=5)
    session.delete(f"{sandbox.origin}/_sandbox/faults", timeout=5)
    session.close()


def _msal_token(sandbox: Sandbox, http: requests.Session) -> str:
    app = msal.ConfidentialClientApplication(
        sandbox.client_id,
        client_credential=sandbox.client_secret,
        authority=sandbox.token_uri.rsplit("/oauth2/", 1)[0],
        instance_discovery=False,
        http_client=http,
    )
    result = app.acquire_token_for_client(scopes=[sandbox.scope])
    assert "access_token" in result, result
    token: str = result["access_token"]
    return token


def test_msal_token_reads_the_web_api_over_tls(sandbox: Sandbox, http: requests.Session) -> None:
    http.post(f"{sandbox.origin}/_sandbox/tokens", json={"reset_stats": True}, timeout=5)
    token = _msal_token(sandbox, http)
    who = http.get(f"{sandbox.service_url}WhoAmI", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert who.status_code == 200 and who.json()["UserId"]
    accounts = http.get(
        f"{sandbox.service_url}accounts?$select=name&$top=2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert accounts.status_code == 200 and len(accounts.json()["value"]) == 2
    stats = http.get(f"{sandbox.origin}/_sandbox/tokens", timeout=5).json()["stats"]
    assert stats["token_requests"]["by_grant_type"] == {"client_credentials": 1}
    assert stats["bearer"]["valid"] == 2


def test_web_api_challenges_missing_and_expired_tokens(sandbox: Sandbox, http: requests.Session) -> None:
    missing = http.get(f"{sandbox.service_url}WhoAmI", timeout=5)
    assert missing.status_code == 401 and missing.content == b""
    assert missing.headers["WWW-Authenticate"].startswith(
        f"Bearer authorization_uri={sandbox.origin}/{sandbox.tenant_id}/oauth2/authorize"
    )
    http.post(f"{sandbox.origin}/_sandbox/tokens", json={"token_lifetime": 1}, timeout=5)
    token = _msal_token(sandbox, http)
    auth = {"Authorization": f"Bearer {token}"}
    assert http.get(f"{sandbox.service_url}WhoAmI", headers=auth, timeout=5).status_code == 200
    time.sleep(1.05)
    assert http.get(f"{sandbox.service_url}WhoAmI", headers=auth, timeout=5).status_code == 401


def test_faults_apply_to_the_web_api_only(sandbox: Sandbox, http: requests.Session) -> None:
    assert isinstance(sandbox.faults, Faults)
    token = _msal_token(sandbox, http)
    sandbox.faults.configure(script=[429, 503])
    auth = {"Authorization": f"Bearer {token}"}
    throttled = http.get(f"{sandbox.service_url}WhoAmI", headers=auth, timeout=5)
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "0x80072322"
    assert throttled.headers["Retry-After"] == "1"
    assert http.get(f"{sandbox.service_url}WhoAmI", headers=auth, timeout=5).status_code == 503
    assert http.get(f"{sandbox.service_url}WhoAmI", headers=auth, timeout=5).status_code == 200
    counters = http.get(f"{sandbox.origin}/_sandbox/stats", timeout=5).json()
    assert counters["throttled_by_code"]["0x80072322"] >= 1


def test_tls_files_live_where_the_sandbox_says(sandbox: Sandbox) -> None:
    assert sandbox.ca_path is not None and Path(sandbox.ca_path).is_file()
    assert sandbox.origin.startswith("https://127.0.0.1:")
