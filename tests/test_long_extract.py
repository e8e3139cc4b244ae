"""Tokens that expire in the middle of a long extract are renewed without losing or repeating rows.

Issue 4's endurance case: a 50,000-row read with a 2-second access-token lifetime, through
``connect()``, against the sandbox's real token service and Web API. The small page size and the
injected latency stretch the read over many token lifetimes.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
import requests

import d365conn
from d365conn.sandbox import Sandbox

ROWS = 50_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=ROWS, seed=11, token_lifetime=2) as sb:
        yield sb


def _reference_ids(sb: Sandbox) -> set[str]:
    """Every account id, read independently with plain requests (and a fresh token per page)."""
    ids: set[str] = set()
    url: str | None = f"{sb.service_url}accounts?$select=accountid"
    with requests.Session() as http:
        while url:
            token = http.post(
                sb.token_uri,
                data={
                    "grant_type": "client_credentials",
                    "client_id": sb.client_id,
                    "client_secret": sb.client_secret,
                    "scope": sb.scope,
                },
                timeout=30,
            ).json()["access_token"]
            page = http.get(
                url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=60
            ).json()
            ids.update(row["accountid"] for row in page["value"])
            url = page.get("@odata.nextLink")
    return ids


def _token_requests(sb: Sandbox) -> int:
    with urllib.request.urlopen(f"{sb.origin}/_sandbox/tokens", timeout=30) as answer:
        stats = json.loads(answer.read())
    return int(stats["stats"]["token_requests"]["total"])


def test_fifty_thousand_rows_with_a_two_second_token(sandbox: Sandbox) -> None:
    expected = _reference_ids(sandbox)
    assert len(expected) == ROWS
    before = _token_requests(sandbox)
    sandbox.faults.configure(latency_ms=40)  # type: ignore[union-attr]
    try:
        with d365conn.connect(sandbox.connection_string, WSFetchSize=500) as conn:
            cur = conn.cursor()
            cur.execute("SELECT accountid, name FROM account")
            got = [str(row[0]) for row in cur.fetchall()]
    finally:
        sandbox.faults.configure(latency_ms=0)  # type: ignore[union-attr]
    # 100 pages x >= 40 ms spans several 2-second token lifetimes: the token had to be renewed.
    assert _token_requests(sandbox) - before >= 2
    assert len(got) == ROWS
    assert len(set(got)) == ROWS
    assert set(got) == expected
