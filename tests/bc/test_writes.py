"""Writes on Business Central through d365conn.connect(): If-Match, JSON $batch, atomicity, deep insert
(d365conn/bc/executor.py, sender.py, batch.py, deep.py) against the BC sandbox over real sockets."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

import d365conn
from d365conn import exceptions as exc
from d365conn.bc.deep import deep_insert
from d365conn.bc.sender import BCSender
from d365conn.sandbox.bc import BCSandbox
from d365conn.writes.ops import Key, Operation
from tests.bc.conftest import USA


@pytest.fixture(scope="module")
def bc_sandbox() -> Iterator[BCSandbox]:
    """A sandbox of this module's own: the writes below must not change the data other modules read."""
    with BCSandbox(rows=60, ledger_rows=100, seed=3) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def usa_id(bc_sandbox: BCSandbox) -> str:
    return bc_sandbox.company_ids()[USA]


@pytest.fixture(scope="module")
def http(bc_sandbox: BCSandbox) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.headers.update(
        {"Authorization": "Bearer " + bc_sandbox.access_token(), "Accept": "application/json"}
    )
    yield session
    session.close()


@pytest.fixture
def fresh(bc_sandbox: BCSandbox) -> Iterator[d365conn.Connection]:
    connection = d365conn.connect(bc_sandbox.connection_string_for(bc_sandbox.service_url, Company=USA))
    yield connection
    connection.close()


def rows(connection: d365conn.Connection, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    cursor = connection.cursor()
    cursor.execute(sql, params)
    return [tuple(r) for r in cursor.fetchall()]


def run(connection: d365conn.Connection, sql: str, params: Any = ()) -> int:
    cursor = connection.cursor()
    cursor.execute(sql, params)
    return cursor.rowcount


@pytest.fixture
def sent(fresh: d365conn.Connection) -> Iterator[list[tuple[str, str, dict[str, str], Any]]]:
    """Every write request the connection sends (method, url, headers, JSON body): a spy on the real
    transport, which still sends them."""
    transport = fresh.service.transport
    original = transport.send
    calls: list[tuple[str, str, dict[str, str], Any]] = []

    def spy(method: str, url: str, **kwargs: Any) -> Any:
        calls.append((method, url, dict(kwargs.get("headers") or {}), kwargs.get("json_body")))
        return original(method, url, **kwargs)

    transport.send = spy
    yield calls
    transport.send = original


def test_insert_update_delete_by_key(fresh: d365conn.Connection, sent: list[Any], usa_id: str) -> None:
    cursor = fresh.cursor()
    cursor.execute(
        "INSERT INTO customers (number, displayName, creditLimit) VALUES (?, ?, ?)", ("W-1", "Write Co", 100)
    )
    assert cursor.rowcount == 1 and isinstance(cursor.lastrowid, uuid.UUID)
    new_id = cursor.lastrowid
    assert rows(fresh, "SELECT id, displayName, creditLimit FROM customers WHERE number = 'W-1'") == [
        (new_id, "Write Co", Decimal(100))
    ]
    assert run(fresh, "UPDATE customers SET displayName = ? WHERE id = ?", ("Renamed", new_id)) == 1
    assert run(fresh, "DELETE FROM customers WHERE id = ?", (new_id,)) == 1
    assert (
        run(fresh, "DELETE FROM customers WHERE id = ?", (new_id,)) == 0
    )  # gone: 404 is "no row", as in SQL
    post, patch, delete = sent[0], sent[1], sent[2]
    assert post[0] == "POST" and post[1].endswith(f"/api/v2.0/companies({usa_id})/customers")
    # BC requires If-Match: by default the row's etag, read just before the write
    assert patch[0] == "PATCH" and patch[2]["If-Match"].startswith('W/"')
    assert delete[0] == "DELETE" and delete[2]["If-Match"].startswith('W/"')


def test_last_writer_wins_only_when_asked(
    bc_sandbox: BCSandbox, http: requests.Session, usa_id: str
) -> None:
    string = (
        bc_sandbox.connection_string_for(bc_sandbox.service_url, Company=USA) + "OptimisticConcurrency=false;"
    )
    with d365conn.connect(string) as connection:
        row_id = rows(connection, "SELECT id FROM customers WHERE number = 'C10030'")[0][0]
        sender = connection.service.writes.sender()
        assert isinstance(sender, BCSender)
        assert sender.prepared(_update_op(connection, row_id, None)).if_match == "*"
        assert run(connection, "UPDATE customers SET displayName = 'LWW' WHERE id = ?", (row_id,)) == 1


def test_update_by_where_reads_then_patches_inside_the_company(fresh: d365conn.Connection) -> None:
    wanted = rows(fresh, "SELECT COUNT(*) FROM customers WHERE city = 'Toronto'")[0][0]
    assert run(fresh, "UPDATE customers SET salespersonCode = 'ZZ' WHERE city = 'Toronto'") == wanted > 0
    assert rows(fresh, "SELECT DISTINCT salespersonCode FROM customers WHERE city = 'Toronto'") == [("ZZ",)]


def test_the_service_refuses_patch_without_if_match(
    bc_sandbox: BCSandbox, http: requests.Session, usa_id: str
) -> None:
    base = f"{bc_sandbox.service_url}companies({usa_id})/items"
    item = http.get(base, params={"$top": "1"}).json()["value"][0]
    refused = http.patch(f"{base}({item['id']})", json={"displayName": "x"})
    assert refused.status_code == 428
    stale = http.patch(
        f"{base}({item['id']})", json={"displayName": "x"}, headers={"If-Match": 'W/"JzE7MTswMDsn"'}
    )
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "Request_EntityChanged"
    fine = http.patch(
        f"{base}({item['id']})", json={"displayName": "y"}, headers={"If-Match": item["@odata.etag"]}
    )
    assert fine.status_code == 200 and fine.json()["@odata.etag"] != item["@odata.etag"]


def _update_op(connection: d365conn.Connection, row_id: uuid.UUID, if_match: str | None) -> Operation:
    table = connection.service.catalog.find_table("customers")
    key = Key((table.column("id"),), (row_id,))
    return Operation("update", table, {"displayName": "Etag Co"}, key, if_match=if_match)


def test_a_known_etag_is_sent_and_a_stale_one_is_a_concurrency_error(
    fresh: d365conn.Connection, http: requests.Session, bc_sandbox: BCSandbox, usa_id: str
) -> None:
    row_id = rows(fresh, "SELECT id FROM customers WHERE number = 'C10010'")[0][0]
    url = f"{bc_sandbox.service_url}companies({usa_id})/customers({row_id})"
    etag = http.get(url).json()["@odata.etag"]
    sender = fresh.service.writes.sender()
    assert isinstance(sender, BCSender)
    assert sender.single(_update_op(fresh, row_id, etag)).affected == 1  # the etag matched
    with pytest.raises(exc.ConcurrencyError, match="changed since it was read"):
        sender.single(_update_op(fresh, row_id, etag))  # the same etag is stale now
    assert sender.single(_update_op(fresh, row_id, "*")).affected == 1  # last writer wins when asked


def test_optimistic_concurrency_reads_the_current_etag_first(
    bc_sandbox: BCSandbox, http: requests.Session, usa_id: str
) -> None:
    string = (
        bc_sandbox.connection_string_for(bc_sandbox.service_url, Company=USA) + "OptimisticConcurrency=true;"
    )
    with d365conn.connect(string) as connection:
        row_id = rows(connection, "SELECT id FROM customers WHERE number = 'C10020'")[0][0]
        sender = connection.service.writes.sender()
        assert isinstance(sender, BCSender)
        prepared = sender.prepared(_update_op(connection, row_id, None))
        current = http.get(f"{bc_sandbox.service_url}companies({usa_id})/customers({row_id})").json()[
            "@odata.etag"
        ]
        assert prepared.if_match == current
        assert run(connection, "UPDATE customers SET displayName = 'Checked' WHERE id = ?", (row_id,)) == 1


def test_commit_sends_json_batches_of_at_most_100_with_snapshot_isolation(
    fresh: d365conn.Connection, sent: list[Any]
) -> None:
    fresh.autocommit = False
    fresh.cursor().executemany(
        "INSERT INTO vendors (number, displayName) VALUES (?, ?)",
        [(f"VB{i:03d}", f"Batch vendor {i}") for i in range(150)],
    )
    assert not sent  # queued until commit
    fresh.commit()
    batches = [c for c in sent if c[1].endswith("/$batch")]
    assert len(batches) == 2
    assert [len(b[3]["requests"]) for b in batches] == [100, 50]
    assert all(b[2]["Isolation"] == "snapshot" for b in batches)
    first = batches[0][3]["requests"][0]
    assert first["method"] == "POST" and "/companies(" in first["url"] and first["body"]["number"] == "VB000"
    assert rows(fresh, "SELECT COUNT(*) FROM vendors WHERE number LIKE 'VB%'") == [(150,)]


def test_a_failing_row_rolls_the_whole_batch_back(fresh: d365conn.Connection) -> None:
    fresh.autocommit = False
    cursor = fresh.cursor()
    cursor.executemany(
        "INSERT INTO items (number, displayName) VALUES (?, ?)", [("RB-1", "a"), ("RB-2", "b")]
    )
    cursor.execute("INSERT INTO items (number, displayName) VALUES ('1000', 'a duplicate number')")
    with pytest.raises(exc.DuplicateRecordError, match="rolled back") as caught:
        fresh.commit()
    assert caught.value.code == "Internal_EntityWithSameKeyExists"
    assert rows(fresh, "SELECT COUNT(*) FROM items WHERE number LIKE 'RB-%'") == [(0,)]


def test_continue_on_error_applies_the_good_rows_and_reports_the_bad(bc_sandbox: BCSandbox) -> None:
    string = bc_sandbox.connection_string_for(bc_sandbox.service_url, Company=USA) + "ContinueOnError=true;"
    with d365conn.connect(string) as connection:
        with pytest.raises(exc.BatchError) as caught:
            connection.cursor().executemany(
                "INSERT INTO items (number, displayName) VALUES (?, ?)",
                [("CE-1", "a"), ("1001", "duplicate"), ("CE-2", "b")],
            )
        assert [row for row, _ in caught.value.failures] == [1] and caught.value.applied == 2
        assert rows(connection, "SELECT number FROM items WHERE number LIKE 'CE-%' ORDER BY number") == [
            ("CE-1",),
            ("CE-2",),
        ]


def test_upsert_is_refused_before_anything_is_sent(fresh: d365conn.Connection, sent: list[Any]) -> None:
    table = fresh.service.catalog.find_table("customers")
    op = dataclasses.replace(_update_op(fresh, uuid.uuid4(), None), kind="upsert")
    with pytest.raises(exc.NotSupportedError, match="no upsert"):
        fresh.service.writes.sender().single(op)
    assert table is not None and not sent


def test_deep_insert_of_a_sales_order_with_lines(fresh: d365conn.Connection) -> None:
    customer = rows(fresh, "SELECT id FROM customers WHERE number = 'C10030'")[0][0]
    items = rows(fresh, "SELECT id, unitPrice FROM items ORDER BY number LIMIT 2")
    order = deep_insert(
        fresh,
        "salesOrders",
        {"customerId": str(customer), "externalDocumentNumber": "DEEP-1"},
        {"salesOrderLines": [{"itemId": str(i), "quantity": 2} for i, _ in items]},
    )
    lines = order["salesOrderLines"]
    assert [line["sequence"] for line in lines] == [10000, 20000]
    total = sum(2 * price for _, price in items)
    assert order["totalAmountExcludingTax"] == total and order["@odata.etag"].startswith('W/"')
    assert rows(
        fresh, "SELECT COUNT(*) FROM salesOrderLines WHERE documentId = ?", (uuid.UUID(order["id"]),)
    ) == [(2,)]


def test_deep_insert_is_refused_on_odatav4_pages(bc_sandbox: BCSandbox, http: requests.Session) -> None:
    url = bc_sandbox.odata_url + "Company('CRONUS%20USA%2C%20Inc.')/Customer"
    answer = http.post(url, json={"No": "DP-1", "Name": "x", "Lines": [{"a": 1}]})
    assert answer.status_code == 400 and "Deep insert" in answer.json()["error"]["message"]
    string = bc_sandbox.connection_string_for(bc_sandbox.odata_url, Company=USA)
    with d365conn.connect(string) as connection, pytest.raises(exc.NotSupportedError, match="API pages"):
        deep_insert(connection, "Customer", {"No": "DP-2"}, {"Lines": [{}]})


def test_sql_writes_on_odatav4_pages_address_rows_by_their_page_key(bc_sandbox: BCSandbox) -> None:
    string = bc_sandbox.connection_string_for(bc_sandbox.odata_url, Company=USA)
    with d365conn.connect(string) as connection:
        assert run(connection, "INSERT INTO Customer (No, Name, City) VALUES ('P-1', 'Page Co', 'Oslo')") == 1
        # by key: PATCH Customer(No='P-1')
        assert run(connection, "UPDATE Customer SET Name = 'Renamed' WHERE No = 'P-1'") == 1
        assert run(connection, "UPDATE Customer SET City = 'Bergen' WHERE City = 'Oslo'") == 1
        assert rows(connection, "SELECT Name, City FROM Customer WHERE No = 'P-1'") == [("Renamed", "Bergen")]
        assert run(connection, "DELETE FROM Customer WHERE No = 'P-1'") == 1
    with d365conn.connect(bc_sandbox.connection_string_for(bc_sandbox.service_url, Company=USA)) as api:
        assert rows(api, "SELECT COUNT(*) FROM customers WHERE number = 'P-1'") == [(0,)]  # the same rows
