"""The garbage collector around scans: paused only while a page is decoded, never between fetches.

A scan must not leave the process without a collector while the user holds an open cursor (the
application's own cyclic garbage would pile up), so the pause is per page (values.gc_paused inside
the page decoder), and every way a scan ends leaves the collector as the application had it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from d365conn import exceptions as exc
from d365conn.transport import scan_rows

from .conftest import FakeService, Reply
from .test_paging import Pager, _scan


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()  # a failing test must not leave the rest of the suite without a collector


def test_collector_runs_between_fetches_and_after_the_scan(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=25, size=10)
    rows = scan_rows(transport, service.url, _scan(), page_size=10, deadline=None)
    seen = [next(rows)]
    assert gc.isenabled()  # the user's code between fetches runs with a collector
    seen.extend(rows)
    assert len(seen) == 25
    assert gc.isenabled()


def test_restored_when_the_scan_is_closed_early(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=100, size=10)
    rows = scan_rows(transport, service.url, _scan(), page_size=10, deadline=None)
    for _ in range(15):
        next(rows)
    rows.close()  # type: ignore[attr-defined]  # what the cursor does on close()
    assert gc.isenabled()


def test_restored_when_the_limit_ends_the_scan(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=100, size=10)
    assert len(list(scan_rows(transport, service.url, _scan(limit=12), page_size=10, deadline=None))) == 12
    assert gc.isenabled()


def test_restored_when_a_page_fails(service: FakeService, transport: Any) -> None:
    pager = Pager(service, total=30, size=10)
    pager.faults[1] = [Reply(403, {"error": {"code": "0x80040220", "message": "missing prvReadAccount"}})]
    service.handler = pager
    rows = scan_rows(transport, service.url, _scan(), page_size=10, deadline=None)
    for _ in range(10):
        next(rows)
    with pytest.raises(exc.PermissionDeniedError):
        list(rows)
    assert gc.isenabled()


def test_a_collector_the_application_switched_off_stays_off(service: FakeService, transport: Any) -> None:
    service.handler = Pager(service, total=25, size=10)
    gc.disable()
    assert len(list(scan_rows(transport, service.url, _scan(), page_size=10, deadline=None))) == 25
    assert not gc.isenabled()
