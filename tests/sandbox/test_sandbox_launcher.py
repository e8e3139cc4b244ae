"""The sandbox as users start it: a child process (the CLI) reached with a client-credentials token."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from d365conn.sandbox.launcher import RemoteFaults, Sandbox


def token(sandbox: Sandbox) -> str:
    response = requests.post(
        sandbox.token_uri,
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "scope": sandbox.scope,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_child_process_sandbox_serves_with_its_connection_string_and_faults() -> None:
    with Sandbox(rows=300, seed=3, process=True) as sandbox:
        parts = dict(p.split("=", 1) for p in sandbox.connection_string.rstrip(";").split(";"))
        assert parts["ServiceURL"].startswith("http://127.0.0.1:") and parts["ServiceURL"].endswith(
            "/api/data/v9.2/"
        )
        assert parts["TokenURI"].endswith("/oauth2/v2.0/token") and parts["ClientSecret"]
        assert parts["ClientSecret"] not in repr(sandbox)
        headers = {"Authorization": f"Bearer {token(sandbox)}"}
        count = requests.get(sandbox.service_url + "accounts/$count", headers=headers, timeout=30)
        assert count.text == "300"
        assert isinstance(sandbox.faults, RemoteFaults)
        sandbox.faults.configure(error_rate=1.0, error_statuses=[503])
        failing = requests.get(sandbox.service_url + "WhoAmI", headers=headers, timeout=30)
        assert failing.status_code == 503
        sandbox.faults.reset()
        assert requests.get(sandbox.service_url + "WhoAmI", headers=headers, timeout=30).status_code == 200


def test_same_seed_gives_the_same_data_and_data_dir_keeps_writes(tmp_path: object) -> None:
    directory = str(tmp_path)
    with Sandbox(rows=200, seed=11, data_dir=directory) as first:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {first.access_token()}"
        rows = session.get(first.service_url + "accounts?$select=name,revenue&$top=50").json()["value"]
        created = session.post(first.service_url + "accounts", json={"name": "Kept Across Runs"})
        assert created.status_code == 204
    with Sandbox(rows=200, seed=11) as second:
        session.headers["Authorization"] = f"Bearer {second.access_token()}"
        assert (
            session.get(second.service_url + "accounts?$select=name,revenue&$top=50").json()["value"] == rows
        )
    with Sandbox(rows=200, seed=11, data_dir=directory) as third:
        session.headers["Authorization"] = f"Bearer {third.access_token()}"
        kept = session.get(
            third.service_url + "accounts?$select=name&$filter=name eq 'Kept Across Runs'"
        ).json()
        assert len(kept["value"]) == 1


def test_cli_prints_the_connection_string_first_and_stops_on_sigterm() -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "d365conn.sandbox", "--rows", "50", "--port", "0"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().decode()
        assert line.startswith("ServiceURL=http://127.0.0.1:") and "TokenURI=" in line
    finally:
        child.terminate()
        assert child.wait(timeout=20) == 0
        if child.stdout is not None:
            child.stdout.close()


def test_server_honours_fault_marks_drop_truncate_and_429() -> None:
    with Sandbox(rows=100, seed=5) as sandbox:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {sandbox.access_token()}"
        url = sandbox.service_url + "accounts?$select=name"
        assert sandbox.faults is not None and not isinstance(sandbox.faults, RemoteFaults)
        sandbox.faults.configure(script=["drop", "truncate", 429])
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(url, timeout=30)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            session.get(url, timeout=30)
        throttled = session.get(url, timeout=30)
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 0
        assert session.get(url, timeout=30).status_code == 200


def test_tls_sandbox_serves_https_with_its_test_ca(tmp_path: object) -> None:
    with Sandbox(rows=50, tls=True, tls_dir=str(tmp_path)) as sandbox:
        assert sandbox.service_url.startswith("https://127.0.0.1:") and sandbox.ca_path
        session = requests.Session()
        session.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment must not override verify
        session.verify = sandbox.ca_path
        grant = session.post(
            sandbox.token_uri,
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "scope": sandbox.scope,
            },
            timeout=30,
        ).json()
        answer = session.get(
            sandbox.service_url + "WhoAmI",
            timeout=30,
            headers={"Authorization": f"Bearer {grant['access_token']}"},
        )
        assert answer.status_code == 200 and answer.json()["UserId"]
