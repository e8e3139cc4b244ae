"""Reading Business Central through d365conn.connect(): BC's query rules as the plans show them and
as the service enforces them (the BC sandbox refuses what Business Central refuses)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
import requests

import d365conn
from d365conn import exceptions as exc
from d365conn.sandbox.bc import BCSandbox
from tests.bc.conftest import LEDGER_ROWS


def rows(
    connection: d365conn.Connection, sql: str, params: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    cursor = connection.cursor()
    cursor.execute(sql, params)
    return [tuple(r) for r in cursor.fetchall()]


def plan(connection: d365conn.Connection, sql: str) -> str:
    return "\n".join(unquote(str(r[0])) for r in rows(connection, "EXPLAIN " + sql))


def test_or_across_fields_is_never_sent_and_still_answers(
    usa: d365conn.Connection, http: requests.Session, bc_sandbox: BCSandbox, usa_id: str
) -> None:
    sql = "SELECT number FROM customers WHERE city = 'Miami' OR country = 'GB'"
    shown = plan(usa, sql)
    assert " or " not in shown.split("locally:")[0]  # the requests carry no OR across fields
    got = sorted(r[0] for r in rows(usa, sql))
    # The service itself refuses the OR, with Business Central's message:
    base = f"{bc_sandbox.service_url}companies({usa_id})/customers"
    refused = http.get(base, params={"$filter": "city eq 'Miami' or country eq 'GB'"})
    assert refused.status_code == 400
    assert "The 'OR' operator is not supported on distinct fields" in refused.json()["error"]["message"]
    # ... and the two halves asked separately give the same rows.
    miami = http.get(base, params={"$filter": "city eq 'Miami'", "$select": "number"}).json()["value"]
    gb = http.get(base, params={"$filter": "country eq 'GB'", "$select": "number"}).json()["value"]
    assert got == sorted({r["number"] for r in miami + gb}) and got


def test_or_on_one_field_is_pushed(usa: d365conn.Connection) -> None:
    sql = "SELECT number FROM customers WHERE city = 'Miami' OR city = 'London'"
    assert "$filter=(city eq 'Miami' or city eq 'London')" in plan(usa, sql)
    cities = {r[0] for r in rows(usa, "SELECT city FROM customers WHERE city IN ('Miami', 'London')")}
    assert cities == {"Miami", "London"}


def test_tolower_and_toupper_are_pushed(usa: d365conn.Connection) -> None:
    shown = plan(usa, "SELECT number FROM customers WHERE LOWER(city) = 'miami'")
    assert "tolower(city) eq 'miami'" in shown and "locally: nothing" in shown
    assert rows(usa, "SELECT COUNT(*) FROM customers WHERE UPPER(city) = 'MIAMI'") == rows(
        usa, "SELECT COUNT(*) FROM customers WHERE city = 'Miami'"
    )


def test_aggregates_run_locally_over_a_pushed_scan_never_apply(usa: d365conn.Connection) -> None:
    sql = (
        "SELECT accountNumber, SUM(debitAmount), COUNT(*) FROM generalLedgerEntries "
        "WHERE postingDate >= '2025-06-01' GROUP BY accountNumber"
    )
    shown = plan(usa, sql)
    assert "$apply" not in shown and "postingDate ge 2025-06-01" in shown and "GROUP BY" in shown
    result = rows(usa, sql)
    assert len(result) == 6 and sum(int(str(r[2])) for r in result) > 0


def test_a_full_scan_follows_the_20000_row_pages(fresh: d365conn.Connection) -> None:
    transport = fresh.service.transport
    original = transport.exchange
    pages: list[str] = []

    def spy(method: str, url: str, **kwargs: object) -> object:
        if "generalLedgerEntries" in url:
            pages.append(url)
        return original(method, url, **kwargs)  # type: ignore[arg-type]

    transport.exchange = spy
    got = rows(fresh, "SELECT entryNumber FROM generalLedgerEntries")
    assert len(got) == LEDGER_ROWS and len({r[0] for r in got}) == LEDGER_ROWS
    assert len(pages) == 2 and "$skiptoken=20000" in pages[1]  # the server's 20,000-row pages, followed
    assert rows(fresh, "SELECT COUNT(*) FROM generalLedgerEntries") == [(LEDGER_ROWS,)]


def test_the_service_pages_at_20000_rows(http: requests.Session, bc_sandbox: BCSandbox, usa_id: str) -> None:
    url = f"{bc_sandbox.service_url}companies({usa_id})/generalLedgerEntries?$select=entryNumber"
    first = http.get(url).json()
    assert len(first["value"]) == 20_000 and first["@odata.nextLink"].startswith("http")
    second = http.get(first["@odata.nextLink"]).json()
    assert len(second["value"]) == LEDGER_ROWS - 20_000 and "@odata.nextLink" not in second
    smaller = http.get(url, headers={"Prefer": "odata.maxpagesize=50000"})
    assert len(smaller.json()["value"]) == 20_000  # larger preferences are capped


def test_offset_uses_skip_and_limit_is_enforced(usa: d365conn.Connection) -> None:
    sql = "SELECT number FROM customers ORDER BY number OFFSET 10 ROWS FETCH NEXT 5 ROWS ONLY"
    assert "$skip=10" in plan(usa, sql)
    everything = [r[0] for r in rows(usa, "SELECT number FROM customers ORDER BY number")]
    assert [r[0] for r in rows(usa, sql)] == everything[10:15]


def test_apply_and_unknown_functions_are_refused_by_the_service(
    http: requests.Session, bc_sandbox: BCSandbox, usa_id: str
) -> None:
    base = f"{bc_sandbox.service_url}companies({usa_id})/customers"
    applied = http.get(base, params={"$apply": "aggregate($count as n)"})
    assert applied.status_code == 400 and applied.json()["error"]["code"] == "BadRequest"
    length = http.get(base, params={"$filter": "length(city) eq 5"})
    assert length.status_code == 400 and "length" in length.json()["error"]["message"]
    ins = http.get(base, params={"$filter": "city in ('Miami','London')"})
    assert ins.status_code == 400
    with_version = http.get(base, params={"$filter": "city in ('Miami','London')", "$schemaversion": "2.1"})
    assert with_version.status_code == 200 and with_version.json()["value"]


def test_service_errors_map_to_pep249_classes(
    usa: d365conn.Connection, http: requests.Session, bc_sandbox: BCSandbox, usa_id: str
) -> None:
    missing = "00000000-0000-0000-0000-000000000001"
    answer = http.get(f"{bc_sandbox.service_url}companies({usa_id})/customers({missing})")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "BadRequest_NotFound"
    assert "CorrelationId:" in answer.json()["error"]["message"]
    transport = usa.service.transport
    with pytest.raises(exc.NotFoundError) as caught:
        transport.get_json(f"{bc_sandbox.service_url}companies({usa_id})/customers({missing})")
    assert caught.value.code == "BadRequest_NotFound" and caught.value.request_id  # the CorrelationId
