"""Paging over real sockets: nextLink to the end, Prefer resent, lazy requests, limits, faults."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest

from d365conn import exceptions as exc
from d365conn.planner.plan import ODataQuery, OutputColumn, Scan
from d365conn.transport import ANNOTATIONS, encode_json, prefer_header, scan_batches, scan_rows
from d365conn.transport.paging import annotations_for

from .conftest import TOKEN_PREFIX, FakeService, FakeTokens, Reply, Request, page

LOOKUP = "Microsoft.Dynamics.CRM.lookuplogicalname"
COLUMNS = (
    OutputColumn("accountid", "Edm.Guid", ("accountid",)),
    OutputColumn("name", "Edm.String", ("name",)),
    OutputColumn("revenue", "Edm.Decimal", ("revenue",)),
)


def _rows(start: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            "@odata.etag": f'W/"{i}"',
            "accountid": str(uuid.UUID(int=i)),
            "name": f"Account {i}",
            "revenue": Decimal(f"{i}.10"),
        }
        for i in range(start, start + n)
    ]


class Pager:
    """Serves ``total`` rows in pages of ``size``; page k's nextLink carries a skiptoken cookie."""

    def __init__(self, service: FakeService, total: int, size: int) -> None:
        self.service = service
        self.total = total
        self.size = size
        self.faults: dict[int, list[Reply]] = {}  # page number -> replies to give first

    def __call__(self, request: Request) -> Reply:
        number = int(request.target.split("$skiptoken=")[1]) if "$skiptoken=" in request.target else 0
        queued = self.faults.get(number)
        if queued:
            return queued.pop(0)
        start = number * self.size
        rows = _rows(start, min(self.size, self.total - start))
        has_next = start + self.size < self.total
        link = (
            f"{self.service.url}accounts?$select=accountid,name,revenue&$skiptoken={number + 1}"
            if has_next
            else None
        )
        return Reply(200, _json(page(rows, link)))


def _json(body: Any) -> bytes:
    return encode_json(body)  # decimals written as exact JSON numbers


def _scan(limit: int | None = None, annotations: bool = False) -> Scan:
    query = ODataQuery("accounts", select=("accountid", "name", "revenue"))
    return Scan("a", "account", query, COLUMNS, limit=limit, annotations=annotations)


def test_follows_next_link_to_the_end_resending_prefer(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=25, size=10)
    rows = list(scan_rows(transport, service.url, _scan(annotations=True), page_size=10, deadline=None))
    assert [r[1] for r in rows] == [f"Account {i}" for i in range(25)]
    assert rows[3] == (uuid.UUID(int=3), "Account 3", Decimal("3.10"))
    sent = service.get_requests("GET")
    assert len(sent) == 3
    assert "$skiptoken=1" in sent[1].target and "$skiptoken=2" in sent[2].target
    for request in sent:
        prefer = request.headers["Prefer"]
        assert "odata.maxpagesize=10" in prefer
        assert f'odata.include-annotations="{ANNOTATIONS}"' in prefer
        assert request.headers["Accept"] == "application/json"
        assert request.headers["OData-Version"] == "4.0" and request.headers["OData-MaxVersion"] == "4.0"


def test_iter_pages_is_lazy(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=30, size=10)
    pages = transport.iter_pages(service.url + "accounts", page_size=10)
    assert service.get_requests() == []
    first = next(pages)
    assert len(first.rows) == 10 and first.next_link and first.raw_bytes > 0
    assert first.rows[0]["revenue"] == Decimal("0.10")  # exact, never via float
    assert len(service.get_requests()) == 1
    second = next(pages)
    assert second.rows[0]["name"] == "Account 10"
    assert len(service.get_requests()) == 2
    pages.close()
    assert len(service.get_requests()) == 2


def test_limit_stops_requesting(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=50, size=10)
    rows = list(scan_rows(transport, service.url, _scan(limit=4), page_size=10, deadline=None))
    assert len(rows) == 4
    time.sleep(0.1)  # a prefetch, if one were wrongly started, would show up now
    sent = service.get_requests()
    assert len(sent) == 1
    # No page bigger than the rows wanted (Dataverse ignores $top under maxpagesize).
    assert "odata.maxpagesize=4" in sent[0].headers["Prefer"]


def test_limit_across_pages(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=50, size=10)
    rows = list(scan_rows(transport, service.url, _scan(limit=15), page_size=None, deadline=None))
    assert [r[1] for r in rows] == [f"Account {i}" for i in range(15)]
    time.sleep(0.1)
    assert len(service.get_requests()) == 2
    assert "Prefer" not in service.get_requests()[0].headers  # no page size, no annotations


def test_closing_the_scan_stops_paging(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=100, size=10)
    rows = scan_rows(transport, service.url, _scan(), page_size=10, deadline=None)
    for _ in range(12):
        next(rows)
    rows.close()  # type: ignore[attr-defined]
    time.sleep(0.2)
    # Page 1 and 2 were read; at most one more page was prefetched, never the rest.
    assert 2 <= len(service.get_requests()) <= 3


def test_batches_are_whole_pages(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=25, size=10)
    batches = list(scan_batches(transport, service.url, _scan(), page_size=10, deadline=None))
    assert [len(b) for b in batches] == [10, 10, 5]


def test_dropped_connection_mid_page_resumes_from_same_link(service: FakeService, transport: Any) -> None:
    pager = Pager(service, total=30, size=10)
    pager.faults[1] = [Reply(200, b'{"value": [' + b"x" * 5000 + b"]}", fault="drop")]
    service.handler = pager
    rows = list(scan_rows(transport, service.url, _scan(), page_size=10, deadline=None))
    assert [r[1] for r in rows] == [f"Account {i}" for i in range(30)]  # no duplicates, none missing
    targets = [r.target for r in service.get_requests()]
    assert len(targets) == 4
    assert targets[1] == targets[2]  # the retry asked for the same nextLink


def test_truncated_json_body_is_retried(service: FakeService, transport: Any) -> None:
    pager = Pager(service, total=20, size=10)
    truncated = _json(page(_rows(10, 10), None))
    pager.faults[1] = [Reply(200, truncated, fault="truncate")]
    service.handler = pager
    rows = list(scan_rows(transport, service.url, _scan(), page_size=10, deadline=None))
    assert len(rows) == 20 and len({r[0] for r in rows}) == 20
    assert len(service.get_requests()) == 3


def test_truncated_json_every_time_fails_clearly(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(200, _json(page(_rows(0, 10))), fault="truncate")
    with pytest.raises(exc.ServiceUnavailableError, match="not complete JSON"):
        list(scan_rows(transport, service.url, _scan(), page_size=10, deadline=None))
    assert len(service.get_requests()) == 4  # first try + 3 retries


def test_401_mid_paging_invalidates_and_replays_the_same_page(
    service: FakeService, transport: Any, tokens: FakeTokens
) -> None:
    pager = Pager(service, total=30, size=10)
    pager.faults[2] = [Reply(401, {"error": {"code": "", "message": "token expired"}})]
    service.handler = pager
    rows = list(scan_rows(transport, service.url, _scan(), page_size=10, deadline=None))
    assert len(rows) == 30
    sent = service.get_requests()
    assert [r.target for r in sent][2] == [r.target for r in sent][3]
    assert tokens.invalidated == [f"{TOKEN_PREFIX}1"]
    assert sent[2].headers["Authorization"] == f"{TOKEN_PREFIX}1"
    assert sent[3].headers["Authorization"] == f"{TOKEN_PREFIX}2"
    assert "odata.maxpagesize=10" in sent[3].headers["Prefer"]


def test_count_scan_reads_a_bare_number(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(200, "\ufeff4231", {"Content-Type": "text/plain"})
    scan = Scan(
        "c", "account", ODataQuery("accounts/$count"), (OutputColumn("n", "Edm.Int32", ("n",)),), kind="count"
    )
    assert list(scan_rows(transport, service.url, scan, page_size=None, deadline=None)) == [(4231,)]
    assert service.get_requests()[0].path.endswith("/accounts/$count")


def test_count_scan_refuses_garbage(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(200, "<html>", {"Content-Type": "text/html"})
    scan = Scan(
        "c", "account", ODataQuery("accounts/$count"), (OutputColumn("n", "Edm.Int32", ("n",)),), kind="count"
    )
    with pytest.raises(exc.DataError, match="account"):
        list(scan_rows(transport, service.url, scan, page_size=None, deadline=None))


def test_expanded_lookup_and_annotations_are_typed(service: FakeService, transport: Any) -> None:
    row = {
        "accountid": "00000000-0000-0000-0000-000000000020",
        "_primarycontactid_value": "00000000-0000-0000-0000-000000000010",
        "_primarycontactid_value@OData.Community.Display.V1.FormattedValue": "Yvonne McKay",
        f"_primarycontactid_value@{LOOKUP}": "contact",
        "primarycontactid": {"fullname": "Yvonne McKay", "birthdate": "1980-02-29", "contactid": None},
    }
    other = {"accountid": "00000000-0000-0000-0000-000000000021", "primarycontactid": None}
    service.handler = lambda request: Reply(200, page([row, other]))
    columns = (
        OutputColumn("accountid", "Edm.Guid", ("accountid",)),
        OutputColumn("primarycontactid", "Edm.Guid", ("_primarycontactid_value",)),
        OutputColumn(
            "primarycontactidname", "Edm.String",
            ("_primarycontactid_value@OData.Community.Display.V1.FormattedValue",),
        ),
        OutputColumn("primarycontactidtype", "Edm.String", (f"_primarycontactid_value@{LOOKUP}",)),
        OutputColumn("fullname", "Edm.String", ("primarycontactid", "fullname")),
        OutputColumn("birthdate", "Edm.Date", ("primarycontactid", "birthdate")),
    )  # fmt: skip
    scan = Scan(
        "a", "account", ODataQuery("accounts", expand=("primarycontactid($select=fullname)",)), columns
    )
    rows = list(scan_rows(transport, service.url, scan, page_size=None, deadline=None))
    import datetime as dt

    name = "Yvonne McKay"
    assert rows[0] == (uuid.UUID(int=0x20), uuid.UUID(int=0x10), name, "contact", name, dt.date(1980, 2, 29))
    assert rows[1] == (uuid.UUID(int=0x21), None, None, None, None, None)


def test_bad_value_names_table_column_and_scan_wide_row(service: FakeService, transport: Any) -> None:
    pager = Pager(service, total=30, size=10)
    bad = _rows(10, 10)
    bad[4]["accountid"] = "not-a-guid"
    pager.faults[1] = [Reply(200, _json(page(bad, f"{service.url}accounts?$skiptoken=2")))]
    service.handler = pager
    with pytest.raises(exc.DataError, match=r"table 'account', column 'accountid', row 15"):
        list(scan_rows(transport, service.url, _scan(), page_size=10, deadline=None))


def test_single_entity_response_is_one_row(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(
        200, {"accountid": str(uuid.UUID(int=5)), "name": "A", "revenue": 1}
    )
    scan = Scan("a", "account", ODataQuery(f"accounts({uuid.UUID(int=5)})"), COLUMNS)
    assert list(scan_rows(transport, service.url, scan, page_size=None, deadline=None)) == [
        (uuid.UUID(int=5), "A", Decimal(1))
    ]


def test_an_error_on_a_prefetched_page_reaches_the_consumer(service: FakeService, transport: Any) -> None:
    pager = Pager(service, total=30, size=10)
    pager.faults[1] = [Reply(403, {"error": {"code": "0x80040220", "message": "missing prvReadAccount"}})]
    service.handler = pager
    rows = scan_rows(transport, service.url, _scan(), page_size=10, deadline=None)
    assert len([next(rows) for _ in range(10)]) == 10  # page 1 arrives; page 2 fails in the background
    with pytest.raises(exc.PermissionDeniedError, match="prvReadAccount"):
        next(rows)


def test_statement_deadline_covers_every_page(service: FakeService, transport: Any) -> None:
    pager = Pager(service, total=30, size=10)
    pager.faults[1] = [Reply(200, b"{}", delay=2.0)]
    service.handler = pager
    started = time.monotonic()
    with pytest.raises(exc.StatementTimeoutError):
        list(scan_rows(transport, service.url, _scan(), page_size=10, deadline=time.monotonic() + 0.5))
    assert time.monotonic() - started < 1.8


def test_prefetch_stays_one_page_ahead(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=100, size=10)
    rows = scan_rows(transport, service.url, _scan(), page_size=10, deadline=None)
    for consumed in range(1, 36):
        next(rows)
        if consumed % 10 == 5:
            time.sleep(0.1)  # a slow consumer: the stream must not run ahead of it
            pages_started = (consumed + 9) // 10
            assert len(service.get_requests()) <= pages_started + 1
    rows.close()  # type: ignore[attr-defined]


def test_count_annotation_on_pages(service: FakeService, transport: Any) -> None:
    service.handler = lambda request: Reply(200, _json(page(_rows(0, 3), None, count=3)))
    [only] = list(transport.iter_pages(service.url + "accounts?$count=true"))
    assert only.count == 3 and only.next_link is None and len(only.rows) == 3


def test_relative_next_link_and_a_link_loop(service: FakeService, transport: Any) -> None:
    def relative(request: Request) -> Reply:
        if "$skiptoken" in request.target:
            return Reply(200, _json(page(_rows(1, 1))))
        return Reply(200, _json(page(_rows(0, 1), "accounts?$skiptoken=1")))

    service.handler = relative
    assert len(list(transport.iter_pages(service.url + "accounts"))) == 2
    assert service.get_requests()[1].target.endswith("/api/data/v9.2/accounts?$skiptoken=1")

    service.handler = lambda request: Reply(
        200, _json(page(_rows(0, 1), service.url + "accounts?$skiptoken=9"))
    )
    with pytest.raises(exc.InternalError, match="again"):
        list(transport.iter_pages(service.url + "accounts?$skiptoken=9"))


def test_a_scan_asks_only_for_the_annotations_its_columns_read() -> None:
    formatted = "OData.Community.Display.V1.FormattedValue"
    logical = "Microsoft.Dynamics.CRM.lookuplogicalname"

    def scan(*paths: str, annotations: bool = True) -> Scan:
        columns = tuple(OutputColumn(f"c{i}", "Edm.String", (p,)) for i, p in enumerate(paths))
        query = ODataQuery(resource="accounts")
        return Scan(alias="a", table="account", query=query, columns=columns, annotations=annotations)

    assert annotations_for(scan("name", f"_primarycontactid_value@{formatted}")) == formatted
    both = annotations_for(scan(f"_ownerid_value@{logical}", f"industrycode@{formatted}", "@odata.etag"))
    assert both == f"{logical},{formatted}"
    assert annotations_for(scan("name", annotations=False)) is False
    assert annotations_for(scan("name")) is True  # asked for without naming them: the default list
    assert prefer_header(annotations=True, page_size=None) == {
        "Prefer": f'odata.include-annotations="{ANNOTATIONS}"'
    }
    assert prefer_header(annotations=formatted, page_size=500) == {
        "Prefer": f'odata.maxpagesize=500,odata.include-annotations="{formatted}"'
    }
