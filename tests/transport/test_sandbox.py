"""The transport against the sandbox (a Dataverse-compatible server) with real auth and real faults."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from d365conn import exceptions as exc
from d365conn.auth import token_source_for
from d365conn.config import build_config
from d365conn.planner.plan import ODataQuery, OutputColumn, Scan
from d365conn.sandbox import Sandbox
from d365conn.transport import RetryPolicy, Transport, scan_rows
from d365conn.transport.errors import error_class

ROWS = 230
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
COLUMNS = (
    OutputColumn("accountid", "Edm.Guid", ("accountid",)),
    OutputColumn("name", "Edm.String", ("name",)),
    OutputColumn("revenue", "Edm.Decimal", ("revenue",)),
    OutputColumn("address1_latitude", "Edm.Double", ("address1_latitude",)),
    OutputColumn("numberofemployees", "Edm.Int32", ("numberofemployees",)),
    OutputColumn("versionnumber", "Edm.Int64", ("versionnumber",)),
    OutputColumn("createdon", "Edm.DateTimeOffset", ("createdon",)),
    OutputColumn("donotemail", "Edm.Boolean", ("donotemail",)),
    OutputColumn("industrycode", "Edm.Int32", ("industrycode",)),
    OutputColumn("industrycodename", "Edm.String", (f"industrycode{FORMATTED}",)),
)
QUERY = ODataQuery("accounts", select=tuple(c.path[0] for c in COLUMNS if "@" not in c.path[0]))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=ROWS, seed=7) as running:
        yield running


@pytest.fixture
def transport(sandbox: Sandbox) -> Iterator[Transport]:
    config = build_config(sandbox.connection_string)
    t = Transport(config, token_source_for(config), policy=RetryPolicy(retries=4, backoff_base=0.01))
    yield t
    t.close()
    sandbox.faults.reset()  # type: ignore[union-attr]


def _scan(limit: int | None = None, annotations: bool = True) -> Scan:
    return Scan("a", "account", QUERY, COLUMNS, limit=limit, annotations=annotations)


def _all(transport: Transport, sandbox: Sandbox, **kwargs: Any) -> list[tuple[Any, ...]]:
    return list(scan_rows(transport, sandbox.service_url, _scan(**kwargs), page_size=50, deadline=None))


def test_every_row_typed_across_pages(transport: Transport, sandbox: Sandbox) -> None:
    rows = _all(transport, sandbox)
    assert len(rows) == ROWS and len({r[0] for r in rows}) == ROWS
    assert transport.requests_sent == 5  # 230 rows in pages of 50
    for row in rows:
        assert isinstance(row[0], uuid.UUID) and isinstance(row[1], str)
        assert row[2] is None or isinstance(row[2], Decimal)
        assert row[3] is None or isinstance(row[3], float)
        assert isinstance(row[5], int)
        assert isinstance(row[6], dt.datetime) and row[6].tzinfo is dt.timezone.utc
        assert isinstance(row[7], bool)
    # Labels arrive on every page, not only the first: the annotation preference was resent.
    labelled = [r for r in rows if r[8] is not None]
    assert labelled and all(isinstance(r[9], str) and r[9] for r in labelled)
    assert any(r[9] for r in rows[-50:] if r[8] is not None)


def test_same_rows_as_a_plain_json_read(transport: Transport, sandbox: Sandbox) -> None:
    rows = _all(transport, sandbox, annotations=False)
    document = transport.get_json(sandbox.service_url + QUERY.readable() + "&$top=10")
    for row, raw in zip(rows[:10], document["value"], strict=True):
        assert row[0] == uuid.UUID(raw["accountid"]) and row[1] == raw["name"]
        assert row[2] == raw["revenue"]  # both exact Decimals
    count = int(transport.get_text(sandbox.service_url + "accounts/$count"))
    assert count == ROWS


def test_faults_do_not_lose_or_repeat_rows(transport: Transport, sandbox: Sandbox) -> None:
    # Four faults in a row: all land on the first page, within its retry budget of four.
    sandbox.faults.configure(script=["drop", 503, "truncate", 429], retry_after=0)  # type: ignore[union-attr]
    rows = _all(transport, sandbox)
    assert len(rows) == ROWS and len({r[0] for r in rows}) == ROWS
    assert transport.requests_sent == 5 + 4
    assert rows == _all(transport, sandbox)


def test_limit_stops_after_the_page_that_reaches_it(transport: Transport, sandbox: Sandbox) -> None:
    rows = list(scan_rows(transport, sandbox.service_url, _scan(limit=70), page_size=50, deadline=None))
    assert len(rows) == 70
    assert transport.requests_sent == 2


def test_service_errors_are_mapped(transport: Transport, sandbox: Sandbox) -> None:
    with pytest.raises(exc.DatabaseError) as bad_column:
        transport.get_json(sandbox.service_url + "accounts?$select=nmae")
    error = bad_column.value
    assert error.status == 400 and "nmae" in str(error)
    # Real Dataverse answers this with code 0x0 (ProgrammingError); whatever code comes, the class
    # follows the code table.
    assert type(error) is error_class(400, error.code)
    with pytest.raises(exc.NotFoundError) as missing:
        transport.get_json(sandbox.service_url + f"accounts({uuid.UUID(int=1)})")
    assert missing.value.code == "0x80040217"


def test_persistent_throttling_is_throttled_error(sandbox: Sandbox) -> None:
    config = build_config(sandbox.connection_string)
    transport = Transport(config, token_source_for(config), policy=RetryPolicy(retries=1, backoff_base=0.01))
    sandbox.faults.configure(script=[429, 429], retry_after=0)  # type: ignore[union-attr]
    try:
        with pytest.raises(exc.ThrottledError) as info:
            transport.get_json(sandbox.service_url + "accounts?$top=1")
        assert info.value.code == "0x80072322" and info.value.retry_after == 0
    finally:
        sandbox.faults.reset()  # type: ignore[union-attr]
        transport.close()
