"""The differential suite against a third-party OData v4 server: SAP CAP serving the sandbox's data.

Every differential query that the CAP service's tables and columns can answer (decided by binding the
query against an empty copy of the CAP model) runs through ``d365conn.connect()`` to CAP and is compared
with the reference engine loaded from CAP itself. The protocol tests pin down how CAP answers the
requests the driver relies on, so that a failure says whether CAP or the driver moved.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import duckdb
import pytest
import requests
from differential.compare import compare_rows
from differential.queries import QUERIES, FromReference, Q
from differential.reference import LoadedTable, ReferenceEngine
from differential.runner import differences, explain, runs_locally

import d365conn

from .cap_server import CDS_TYPES, CapServer, model_columns

pytestmark = pytest.mark.interop


def _binds_on_cap_model(q: Q) -> bool:
    """Whether the reference SQL of ``q`` binds against the CAP model (same tables and columns)."""
    if any(isinstance(p, FromReference) for p in q.params):
        return False
    db = duckdb.connect()
    try:
        for entity, elements in model_columns().items():
            db.execute(f'CREATE TABLE "{entity}" ({", ".join(f"{n} {CDS_TYPES[t]}" for n, t in elements)})')
        db.execute(q.reference_sql, list(q.params))
        return True
    except duckdb.Error:
        return False
    finally:
        db.close()


CAP_QUERIES = [q for q in QUERIES if _binds_on_cap_model(q)]


def test_the_cap_subset_is_substantial() -> None:
    assert len(CAP_QUERIES) >= 60, [q.id for q in CAP_QUERIES]


def test_cap_serves_exactly_the_sandbox_data(
    cap_source: dict[str, tuple[list[str], list[tuple[Any, ...]]]], cap_tables: list[LoadedTable]
) -> None:
    for table in cap_tables:
        columns, rows = cap_source[table.name]
        assert table.columns == columns
        assert compare_rows(table.rows, rows) == [], table.name


def test_cap_pages_with_skiptoken(cap_reader: Any, cap_tables: list[LoadedTable]) -> None:
    # 2,500 accounts at CAP's default page size of 1,000: two relative nextLinks with a $skiptoken.
    # CAP percent-encodes the `$` of every option in the link (`%24skiptoken=1000`) and ignores
    # `Prefer: odata.maxpagesize`: its own page size (cds.query.limit) decides.
    account_links = [unquote(link) for link in cap_reader.next_links if link.startswith("account?")]
    assert len(account_links) == 2
    assert [link.split("$skiptoken=")[1].split("&")[0] for link in account_links] == ["1000", "2000"]


def _get(server: CapServer, path: str, accept: str = "application/json") -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(server.service_url + path, headers={"Accept": accept}, timeout=30)


def test_cap_protocol_features_the_driver_uses(cap_server: CapServer) -> None:
    metadata = _get(cap_server, "$metadata", accept="application/xml")
    assert metadata.status_code == 200 and b'<EntitySet Name="account"' in metadata.content
    # Asked for JSON, CAP answers $metadata in the JSON CSDL format: a client wanting XML must say so.
    assert _get(cap_server, "$metadata").json()["$EntityContainer"] == "CrmService.EntityContainer"
    counted = _get(cap_server, "account?$count=true&$top=1").json()
    assert counted["@odata.count"] == 2500 and len(counted["value"]) == 1
    assert _get(cap_server, "account/$count").text == "2500"
    page = _get(cap_server, "account?$select=accountnumber&$orderby=accountnumber desc&$top=3&$skip=2").json()
    assert [r["accountnumber"] for r in page["value"]] == ["ACC-0002498", "ACC-0002497", "ACC-0002496"]
    filtered = _get(cap_server, "account?$filter=address1_city eq 'seattle'&$count=true").json()
    assert filtered["@odata.count"] == 0  # CAP on SQLite compares strings binary: case matters
    grouped = _get(cap_server, "account?$apply=groupby((address1_country),aggregate($count as n))").json()
    assert sum(r["n"] for r in grouped["value"]) == 2500 and len(grouped["value"]) == 10
    nulls_first = _get(cap_server, "account?$select=revenue&$orderby=revenue&$top=1").json()
    assert nulls_first["value"][0]["revenue"] is None


def test_connect_to_cap_without_authentication(cap_driver: d365conn.Connection) -> None:
    cursor = cap_driver.cursor()
    cursor.execute("SELECT COUNT(*) FROM account")
    assert cursor.fetchall() == [(2500,)]


def test_cap_plan_pushes_filter_order_top_and_skip(cap_driver: d365conn.Connection) -> None:
    plan = explain(
        cap_driver,
        "SELECT accountid, name FROM account WHERE address1_city = 'Seattle' ORDER BY name LIMIT 5 OFFSET 3",
    )
    text = "\n".join(plan)
    assert not runs_locally(plan), text
    for fragment in ("$filter=address1_city eq 'Seattle'", "$orderby=name", "$top=5", "$skip=3"):
        assert fragment in text, text


@pytest.mark.parametrize("q", CAP_QUERIES, ids=[q.id for q in CAP_QUERIES])
def test_query_matches_cap_reference(
    q: Q, cap_driver: d365conn.Connection, cap_reference: ReferenceEngine
) -> None:
    report = differences(q, cap_driver, cap_reference)
    assert report is None, "\n" + report
