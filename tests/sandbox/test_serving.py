"""How the sandbox serves: request ids, one request answered at a time, date indexes, two-step pages.

Over real sockets (the session's 12,000-account sandbox) where the behaviour is visible to a
client; against the store's SQLite directly where the point is the work done, not the bytes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import requests

from d365conn.sandbox import query
from d365conn.sandbox.launcher import Sandbox
from d365conn.sandbox.store import Store, date_indexes, pk_order_sql
from d365conn.sandbox.tables import build_schema
from tests.sandbox.webapi_client import Api

RANGE = quote("createdon ge 2021-01-01T00:00:00Z and createdon lt 2022-01-01T00:00:00Z")


def _request_id(response: requests.Response) -> str:
    request_id = response.headers["REQ_ID"]
    assert response.headers["x-ms-service-request-id"] == request_id
    return str(uuid.UUID(request_id))  # a GUID, or ValueError


def test_every_web_api_response_carries_a_fresh_request_id(api: Api, webapi_sandbox: Sandbox) -> None:
    answers = [
        api.get("accounts?$select=name&$top=1"),
        api.get("accounts?$select=name&$top=1"),
        api.get("accounts?$select=Name"),  # 400
        api.get("accounts(00000000-0000-0000-0000-000000000001)"),  # 404
        api.get("WhoAmI"),
        requests.get(api.url + "WhoAmI", timeout=10),  # 401: no token
    ]
    assert [a.status_code for a in answers] == [200, 200, 400, 404, 200, 401]
    ids = [_request_id(a) for a in answers]
    assert len(set(ids)) == len(ids)
    token = requests.post(
        webapi_sandbox.token_uri,
        data={
            "grant_type": "client_credentials",
            "client_id": webapi_sandbox.client_id,
            "client_secret": webapi_sandbox.client_secret,
            "scope": webapi_sandbox.scope,
        },
        timeout=10,
    )
    assert token.status_code == 200 and "REQ_ID" not in token.headers  # Entra ID is another service


def test_throttled_answers_carry_a_request_id_too(api: Api, webapi_sandbox: Sandbox) -> None:
    faults = webapi_sandbox.faults
    assert faults is not None
    faults.configure(script=[429])
    try:
        throttled = api.get("accounts?$select=name&$top=1")
    finally:
        faults.reset()
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]
    _request_id(throttled)


def test_latency_is_waited_out_concurrently(api: Api, webapi_sandbox: Sandbox) -> None:
    # Answers are computed one at a time, but the injected latency (the service's think time) of
    # concurrent requests overlaps: eight requests with 300 ms each take far less than 2.4 s.
    faults = webapi_sandbox.faults
    assert faults is not None
    faults.reset_stats()  # type: ignore[union-attr]
    faults.configure(latency_ms=300)
    statuses: list[int] = []

    def read() -> None:
        statuses.append(api.session.get(api.url + "accounts?$select=name&$top=50", timeout=30).status_code)

    threads = [threading.Thread(target=read) for _ in range(8)]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        faults.reset()
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 8
    assert elapsed < 1.5, elapsed
    assert faults.stats()["max_in_flight"] >= 4


def test_date_columns_are_indexed_after_the_key_order() -> None:
    schema = build_schema()
    names = [name for name, _ in date_indexes(schema.tables["account"])]
    assert names == ["ix_account_createdon", "ix_account_modifiedon"]


def test_an_older_database_gets_the_date_indexes_without_regenerating(tmp_path: Any) -> None:
    with Sandbox(rows=300, seed=3, data_dir=str(tmp_path)):
        pass
    path = tmp_path / "sandbox.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("DROP INDEX ix_account_createdon")
        connection.execute("DROP INDEX ix_contact_modifiedon")
        version = connection.execute("SELECT value FROM __meta WHERE key = 'version'").fetchone()
    store = Store(build_schema(), str(tmp_path))
    try:
        assert store.add_missing_indexes() == 2
        assert store.add_missing_indexes() == 0
        connection = store.connect()
        indexes = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"ix_account_createdon", "ix_contact_modifiedon"} <= indexes
        # The rows were kept: same data version, same row count.
        assert connection.execute("SELECT value FROM __meta WHERE key = 'version'").fetchone() == version
        assert connection.execute("SELECT COUNT(*) FROM account").fetchone()[0] == 300
    finally:
        store.close()


def test_a_date_range_page_is_planned_on_the_date_index(webapi_sandbox: Sandbox) -> None:
    store = webapi_sandbox.store
    assert store is not None
    connection = store.connect()
    for condition in ("t0.createdon >= ? AND t0.createdon < ?", "unlikely(t0.createdon < ?)"):
        values = ["2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"][: condition.count("?")]
        plan = connection.execute(
            f"EXPLAIN QUERY PLAN SELECT t0.rowid FROM account t0 WHERE {condition} "
            f"ORDER BY {pk_order_sql(store.schema.tables['account'], 't0')} LIMIT 10",
            values,
        ).fetchall()
        assert any("ix_account_createdon" in str(step[-1]) for step in plan), plan


def _pages(api: Api, path: str, page: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    url: str | None = api.url + path
    while url:
        body = api.session.get(url, headers={"Prefer": f"odata.maxpagesize={page}"}, timeout=30).json()
        rows += body["value"]
        url = body.get("@odata.nextLink")
    return rows


@pytest.mark.parametrize(
    "path",
    [
        f"accounts?$select=name,createdon,revenue,donotemail&$filter={RANGE}",
        f"accounts?$select=name,createdon&$filter={RANGE}&$orderby=name desc",
        "accounts?$select=name,createdon&$filter=" + quote("createdon lt 2020-06-01T00:00:00Z"),
        "accounts?$select=name,modifiedon&$filter=" + quote("modifiedon ge 2024-01-01T00:00:00Z"),
    ],
)
def test_two_step_pages_equal_one_step_pages(api: Api, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    sorts = query._sorts_rows

    def spy(connection: sqlite3.Connection, sql: str, params: list[Any]) -> bool:
        calls.append(sorts(connection, sql, params))
        return calls[-1]

    monkeypatch.setattr(query, "_sorts_rows", spy)
    two_step = _pages(api, path, 700)
    assert any(calls), "the date range pages were expected to need a sort"
    monkeypatch.setattr(query, "TWO_STEP_MIN_ROWS", 10**9)  # every page in one statement
    one_step = _pages(api, path, 700)
    assert len(two_step) > 700 and two_step == one_step
