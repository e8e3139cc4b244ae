"""Business Central's online limits in the BC sandbox, and the driver living with them.

A sandbox of its own with the request limit made small (4 requests per 1-second window instead of
6,000 per 5 minutes) and 10-row pages, so that one read crosses the limit several times.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests

import d365conn
from d365conn.exceptions import ServiceUnavailableError, StatementTimeoutError, ThrottledError
from d365conn.sandbox.bc import BCSandbox
from d365conn.sandbox.bc.limits import REAL_LIMITS, TOO_MANY_REQUESTS
from tests.bc.conftest import USA

MAX_REQUESTS = 4
WINDOW = 1.0


@pytest.fixture(scope="module")
def limited() -> Iterator[BCSandbox]:
    with BCSandbox(
        rows=40, ledger_rows=10, max_page_size=10, max_requests=MAX_REQUESTS, window_seconds=WINDOW
    ) as sb:
        yield sb


@pytest.fixture
def quiet(limited: BCSandbox) -> Iterator[BCSandbox]:
    """The limited sandbox with an empty window and the limit back in place afterwards."""
    assert limited.faults is not None
    _restart_window(limited)
    yield limited


def _restart_window(sb: BCSandbox) -> None:
    """Switches off, the window emptied (earlier requests forgotten), the small limit in place."""
    assert sb.faults is not None
    sb.faults.reset()
    sb.faults.configure(max_requests=MAX_REQUESTS, window_seconds=WINDOW)


def _session(sb: BCSandbox) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.headers.update({"Authorization": "Bearer " + sb.access_token(), "Accept": "application/json"})
    return session


def test_defaults_are_business_centrals_documented_limits() -> None:
    sb = BCSandbox()
    assert (
        (sb.max_requests, sb.window_seconds)
        == (6000, 300.0)
        == (
            REAL_LIMITS["max_requests"],
            REAL_LIMITS["window_seconds"],
        )
    )


def test_over_the_limit_is_429_with_retry_after_and_bcs_body(quiet: BCSandbox) -> None:
    session = _session(quiet)
    url = quiet.service_url + "companies"
    statuses = [session.get(url).status_code for _ in range(MAX_REQUESTS)]
    assert statuses == [200] * MAX_REQUESTS
    refused = session.get(url)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW + 1
    error = refused.json()["error"]
    assert error["code"] == TOO_MANY_REQUESTS
    assert re.fullmatch(
        rf"Too many requests reached\. Actual \({MAX_REQUESTS + 1}\)\. Maximum \({MAX_REQUESTS}\)\."
        r"  CorrelationId:  [0-9a-f-]{36}\.",
        error["message"],
    )
    assert not any(h.lower().startswith("x-ms-ratelimit") for h in refused.headers)
    time.sleep(int(refused.headers["Retry-After"]))
    assert session.get(url).status_code == 200  # waiting Retry-After out is enough
    session.close()


def test_token_requests_are_not_counted(quiet: BCSandbox) -> None:
    assert quiet.faults is not None
    before = quiet.faults.stats()["throttled"]
    for _ in range(MAX_REQUESTS + 2):
        quiet.access_token()
    assert quiet.faults.stats()["throttled"] == before


def test_a_throttled_read_waits_retry_after_and_returns_every_row(quiet: BCSandbox) -> None:
    assert quiet.faults is not None
    session = _session(quiet)
    quiet.faults.configure(max_requests=None)
    company = quiet.company_ids()[USA]
    expected, url = set(), f"{quiet.service_url}companies({company})/customers?$select=number"
    while url:
        page = session.get(url).json()
        expected |= {row["number"] for row in page["value"]}
        url = page.get("@odata.nextLink", "")
    session.close()
    assert len(expected) > 3 * 10  # several pages of 10
    _restart_window(quiet)
    throttled_before = quiet.faults.stats()["throttled"]
    conn = d365conn.connect(quiet.connection_string_for(quiet.service_url, Company=USA))
    try:
        cur = conn.cursor()
        cur.execute("SELECT number FROM customers")
        got = [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
    assert quiet.faults.stats()["throttled"] > throttled_before  # the limit was really hit
    assert sorted(got) == sorted(expected)


def test_throttling_that_outlasts_the_retries_is_a_throttled_error(quiet: BCSandbox) -> None:
    assert quiet.faults is not None
    quiet.faults.configure(max_requests=0, retry_after=1)
    conn = d365conn.connect(quiet.connection_string_for(quiet.service_url, Company=USA) + "WSRetryCount=1;")
    try:
        with pytest.raises(ThrottledError) as info:
            conn.cursor().execute("SELECT number FROM customers")
        assert info.value.retry_after == 1
    finally:
        conn.close()


def test_operation_timeout_408_switch(quiet: BCSandbox) -> None:
    assert quiet.faults is not None
    conn = d365conn.connect(quiet.connection_string_for(quiet.service_url, Company=USA))
    try:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM companies")  # company lookup and token done before the switch
        quiet.faults.configure(max_requests=None, script=[408])
        with pytest.raises(StatementTimeoutError) as info:
            cur.execute("SELECT number FROM customers")
        assert info.value.request_id  # the CorrelationId of BC's message
    finally:
        conn.close()


def test_gateway_timeout_504_switch_is_retried_then_reported(quiet: BCSandbox) -> None:
    assert quiet.faults is not None
    conn = d365conn.connect(quiet.connection_string_for(quiet.service_url, Company=USA) + "WSRetryCount=1;")
    try:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM companies")
        before = quiet.faults.stats()["injected"].get("504", 0)
        quiet.faults.configure(max_requests=None, script=[504])
        cur.execute("SELECT COUNT(*) FROM customers WHERE number <> ''")  # one 504, then served
        assert cur.fetchall() == [(40,)]
        assert quiet.faults.stats()["injected"].get("504", 0) == before + 1
        quiet.faults.configure(script=[504, 504])
        with pytest.raises(ServiceUnavailableError):
            cur.execute("SELECT COUNT(*) FROM customers WHERE number <> ''")
    finally:
        conn.close()
