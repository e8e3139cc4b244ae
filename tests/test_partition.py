"""Partitioned parallel scans (d365conn.partition, d365conn.parallel): the ranges, and against the sandbox
the same rows as a sequential read -- with latency, with throttling, in order when ORDER BY asks."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import d365conn
from d365conn import partition as part
from d365conn.config import Config
from d365conn.exceptions import ConfigurationError
from d365conn.parallel import probe_bounds, run_partitions
from d365conn.planner.plan import ODataQuery, OutputColumn, Scan
from d365conn.sandbox import Sandbox

COLUMNS = "accountid, name, revenue, createdon, numberofemployees, primarycontactid"
DATE = part.PartitionColumn("createdon", "date", "Edm.DateTimeOffset")
KEY = part.PartitionColumn("accountid", "key", "Edm.Guid")


def scan(**query: Any) -> Scan:
    options: dict[str, Any] = {"resource": "accounts", "select": ("accountid",), **query}
    column = OutputColumn("accountid", "Edm.Guid", ("accountid",))
    return Scan("t", "account", ODataQuery(**options), (column,))


# -- the ranges --------------------------------------------------------------------------------------


def test_sqlserver_guid_order_matches_microsofts_example() -> None:
    # Microsoft Learn, "Comparing GUID and uniqueidentifier values": SqlGuid sorts by the last group.
    guids = [
        "3AAAAAAA-BBBB-CCCC-DDDD-2EEEEEEEEEEE",
        "2AAAAAAA-BBBB-CCCC-DDDD-1EEEEEEEEEEE",
        "1AAAAAAA-BBBB-CCCC-DDDD-3EEEEEEEEEEE",
    ]
    assert sorted(guids, key=part.sqlserver_guid_key) == [guids[1], guids[0], guids[2]]


def test_sqlserver_guid_order_of_the_other_groups() -> None:
    # After the last six bytes: group 4 left to right, then groups 3, 2, 1 byte-swapped.
    order = [
        "00000000-0000-0000-0001-000000000000",  # group 4 outranks group 3
        "00000000-0000-0001-0000-000000000000",
        "00000000-0000-0100-0000-000000000000",  # group 3 compares its right byte first
        "00000000-0001-0000-0000-000000000000",
        "00000001-0000-0000-0000-000000000000",
        "00000100-0000-0000-0000-000000000000",
        "01000000-0000-0000-0000-000000000000",
    ]
    expected = list(reversed(order))
    assert sorted(order, key=part.sqlserver_guid_key) == expected


def test_key_boundaries_ascend_in_both_orders() -> None:
    cuts = part.key_boundaries(16)
    assert len(cuts) == 15
    assert cuts == sorted(cuts) == sorted(cuts, key=part.sqlserver_guid_key)


def test_key_ranges_split_random_guids_evenly_in_sqlserver_order() -> None:
    rng = random.Random(7)
    guids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(8000)]
    cuts = [part.sqlserver_guid_key(c) for c in part.key_boundaries(8)]
    counts = [0] * 8
    for g in guids:
        counts[sum(part.sqlserver_guid_key(g) >= c for c in cuts)] += 1
    assert sum(counts) == 8000
    assert min(counts) > 800  # 1,000 each when perfectly even


def test_guid_key_mapping_round_trips() -> None:
    rng = random.Random(3)
    for _ in range(200):
        guid = str(uuid.UUID(int=rng.getrandbits(128)))
        assert part.guid_from_sqlserver_key(part.sqlserver_guid_key(guid)) == guid


def test_cuts_between_known_keys_follow_sequential_guids() -> None:
    # Sequential GUIDs (as a server generates them): node and clock bytes fixed, the rest counting
    # up in SQL Server's order. Cuts over the whole space would put them all in one slice.
    node = bytes.fromhex("8409000d3a5a1b7c")
    guids = [part.guid_from_sqlserver_key(node + (5000 + 7 * i).to_bytes(8, "big")) for i in range(4000)]
    low, high = guids[0], guids[-1]
    cuts = part.key_boundaries(8, low, high)
    keys = [part.sqlserver_guid_key(c) for c in cuts]
    assert keys == sorted(keys) and len(cuts) == 7
    assert part.sqlserver_guid_key(low) < keys[0] and keys[-1] <= part.sqlserver_guid_key(high)
    counts = [0] * 8
    for g in guids:
        counts[sum(part.sqlserver_guid_key(g) >= k for k in keys)] += 1
    assert sum(counts) == 4000 and min(counts) >= 490
    assert part.key_boundaries(4, low, low) == []


def test_key_partitions_are_half_open_and_keep_the_filter() -> None:
    pieces = part.key_partitions(scan(filter="statecode eq 0"), KEY, 4)
    assert pieces is not None and not pieces.ordered
    filters = [p.query.filter for p in pieces.scans]
    assert filters == [
        "(statecode eq 0) and (accountid lt 00000000-0000-0000-0000-400000000000)",
        "(statecode eq 0) and (accountid ge 00000000-0000-0000-0000-400000000000 "
        "and accountid lt 00000000-0000-0000-0000-800000000000)",
        "(statecode eq 0) and (accountid ge 00000000-0000-0000-0000-800000000000 "
        "and accountid lt 00000000-0000-0000-0000-c00000000000)",
        "(statecode eq 0) and (accountid ge 00000000-0000-0000-0000-c00000000000)",
    ]


def test_date_partitions_cover_nulls_and_open_ends() -> None:
    low = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    pieces = part.date_partitions(scan(), DATE, low, low + dt.timedelta(days=3), 3)
    assert pieces is not None
    assert [p.query.filter for p in pieces.scans] == [
        "createdon eq null",
        "createdon lt 2020-01-02T00:00:00Z",
        "createdon ge 2020-01-02T00:00:00Z and createdon lt 2020-01-03T00:00:00Z",
        "createdon ge 2020-01-03T00:00:00Z",
    ]


def test_descending_order_reads_ranges_backwards_with_nulls_last() -> None:
    low = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    pieces = part.date_partitions(scan(orderby=("createdon desc",)), DATE, low, low + dt.timedelta(days=2), 2)
    assert pieces is not None and pieces.ordered
    assert [p.query.filter for p in pieces.scans] == [
        "createdon ge 2020-01-02T00:00:00Z",
        "createdon lt 2020-01-02T00:00:00Z",
        "createdon eq null",
    ]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"top": 10}, "limit"),
        ({"apply": "aggregate($count as n)"}, "aggregates"),
        ({"resource": "accounts(00000000-0000-0000-0000-000000000001)"}, "single row"),
        ({"extra": (("fetchXml", "<fetch/>"),)}, "extra"),
        ({"orderby": ("name", "createdon")}, "more than one"),
    ],
)
def test_scans_that_are_not_split(query: dict[str, Any], reason: str) -> None:
    assert reason in (part.skip_reason(scan(**query)) or "")
    low = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    assert part.date_partitions(scan(**query), DATE, low, low + dt.timedelta(days=9), 4) is None


def test_an_order_on_another_column_is_not_split() -> None:
    assert part.order_direction(scan(orderby=("name",)), DATE) is None
    assert part.key_partitions(scan(orderby=("name asc",)), KEY, 4) is None


def test_probes_ask_for_one_non_null_value_each_way() -> None:
    low, high = part.bound_probes(scan(filter="statecode eq 0"), DATE)
    assert low.readable() == (
        "accounts?$select=createdon&$filter=(statecode eq 0) and (createdon ne null)"
        "&$orderby=createdon asc&$top=1"
    )
    assert high.orderby == ("createdon desc",)
    assert part.parse_bound("2021-05-06T07:08:09Z", DATE.edm_type) == dt.datetime(
        2021, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc
    )
    assert part.parse_bound(None, DATE.edm_type) is None


URL = "https://x.crm.dynamics.com/api/data/v9.2/"


def test_options_are_checked() -> None:
    config = Config.from_options({"ServiceURL": URL, "PartitionCount": "4"})
    assert (config.scan_partitions, config.max_concurrency, config.partition_column) == (4, 8, "auto")
    with pytest.raises(ConfigurationError, match="MaxConcurrency"):
        Config.from_options({"ServiceURL": URL, "MaxConcurrency": "60"})


# -- the pool ----------------------------------------------------------------------------------------


def _pieces(n: int, ordered: bool) -> part.Partitioned:
    return part.Partitioned(tuple(scan(filter=str(i)) for i in range(n)), ordered)


def _batches(piece: Scan) -> Iterator[list[tuple[Any, ...]]]:
    i = int(piece.query.filter or 0)
    for page in range(3):
        yield [(i, page, r) for r in range(4)]


def test_ordered_pool_keeps_partition_order_with_fewer_workers() -> None:
    rows = list(run_partitions(_pieces(7, True), _batches, workers=2))
    assert rows == [(i, p, r) for i in range(7) for p in range(3) for r in range(4)]


def test_unordered_pool_returns_every_row_once() -> None:
    rows = list(run_partitions(_pieces(9, False), _batches, workers=4))
    assert sorted(rows) == [(i, p, r) for i in range(9) for p in range(3) for r in range(4)]


def test_a_worker_error_reaches_the_reader() -> None:
    def failing(piece: Scan) -> Iterator[list[tuple[Any, ...]]]:
        if piece.query.filter == "3":
            raise d365conn.OperationalError("page 1 failed")
        yield from _batches(piece)

    with pytest.raises(d365conn.OperationalError, match="page 1 failed"):
        list(run_partitions(_pieces(6, False), failing, workers=3))


def test_closing_early_stops_the_workers() -> None:
    started: list[int] = []

    def endless(piece: Scan) -> Iterator[list[tuple[Any, ...]]]:
        started.append(1)
        while True:
            yield [(1,)]

    rows = run_partitions(_pieces(4, False), endless, workers=2)
    assert next(rows) == (1,)
    rows.close()  # type: ignore[attr-defined]
    assert len(started) <= 4


# -- against the sandbox -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=3000, seed=5) as sb:
        yield sb


def _read(sb: Sandbox, sql: str, options: str = "") -> tuple[list[tuple[Any, ...]], int]:
    with d365conn.connect(sb.connection_string + "PageSize=250;" + options) as conn:
        cur = conn.cursor()
        cur.execute("SELECT TOP 1 accountid FROM account")  # token and metadata: not counted below
        before = conn.service.transport.requests_sent
        cur.execute(sql)
        rows = cur.fetchall()
        return rows, conn.service.transport.requests_sent - before


@pytest.mark.parametrize("column", ["auto", "key", "createdon", "modifiedon"])
def test_partitioned_read_returns_the_sequential_rows(sandbox: Sandbox, column: str) -> None:
    sql = f"SELECT {COLUMNS} FROM account WHERE statecode = 0"
    sequential, seq_requests = _read(sandbox, sql)
    options = f"ScanPartitions=6;MaxConcurrency=3;PartitionColumn={column}"
    parallel, par_requests = _read(sandbox, sql, options)
    assert len(sequential) > 1000
    assert sorted(parallel, key=repr) == sorted(sequential, key=repr)
    assert len({r[0] for r in parallel}) == len(parallel)  # no row twice
    assert par_requests > seq_requests  # it really was split


@pytest.mark.parametrize(
    ("column", "order"), [("createdon", "createdon"), ("auto", "accountid"), ("key", "accountid")]
)
def test_order_by_the_partition_column_is_kept(sandbox: Sandbox, column: str, order: str) -> None:
    for direction in ("ASC", "DESC"):
        sql = f"SELECT accountid, createdon FROM account ORDER BY {order} {direction}"
        sequential, seq_requests = _read(sandbox, sql)
        parallel, par_requests = _read(sandbox, sql, f"ScanPartitions=5;PartitionColumn={column}")
        assert par_requests > seq_requests  # split, and still in order
        if order == "createdon":  # ties in createdon may come in any order
            assert [r[1] for r in parallel] == [r[1] for r in sequential]
            assert sorted(parallel, key=repr) == sorted(sequential, key=repr)
        else:
            assert parallel == sequential


def test_other_orders_and_limits_read_sequentially(sandbox: Sandbox) -> None:
    for sql in ("SELECT TOP 600 accountid FROM account", "SELECT accountid, name FROM account ORDER BY name"):
        sequential, seq_requests = _read(sandbox, sql)
        parallel, par_requests = _read(sandbox, sql, "ScanPartitions=8")
        assert parallel == sequential
        assert par_requests == seq_requests


def test_local_sql_over_partitioned_scans(sandbox: Sandbox) -> None:
    # A HAVING on an aggregate the statement does not select is finished by the local engine over
    # the whole scan (the $apply pushdown only covers selected aggregates): that scan gets split.
    sql = (
        "SELECT address1_city, COUNT(*) AS n FROM account GROUP BY address1_city "
        "HAVING MIN(name) IS NOT NULL ORDER BY address1_city"
    )
    sequential, seq_requests = _read(sandbox, sql)
    parallel, par_requests = _read(sandbox, sql, "ScanPartitions=4")
    assert sequential and parallel == sequential
    assert par_requests > seq_requests


def test_with_latency_and_throttling_no_row_is_lost_or_doubled(sandbox: Sandbox) -> None:
    sql = f"SELECT {COLUMNS} FROM account"
    sequential, _ = _read(sandbox, sql)
    faults = sandbox.faults
    assert faults is not None
    faults.reset_stats()  # type: ignore[union-attr]
    faults.configure(latency_ms=20, max_concurrent=2, retry_after=1)
    try:
        parallel, _ = _read(sandbox, sql, "ScanPartitions=6;MaxConcurrency=4")
        stats = faults.stats()
    finally:
        faults.reset()
    assert stats["throttled"] > 0  # the service said 429 with Retry-After, and the reads waited it out
    assert len(parallel) == len(sequential) == len({r[0] for r in parallel})
    assert sorted(parallel, key=repr) == sorted(sequential, key=repr)


def _read_under_faults(
    sb: Sandbox, sql: str, options: str, **faults: Any
) -> tuple[list[tuple[Any, ...]], dict[str, Any], float]:
    """Rows, the sandbox's counters and the seconds taken, reading `sql` with the faults switched on
    after the connection fetched its token and metadata (so only the statement meets them)."""
    switches = sb.faults
    assert switches is not None
    with d365conn.connect(sb.connection_string + "PageSize=250;" + options) as conn:
        cur = conn.cursor()
        cur.execute("SELECT TOP 1 accountid FROM account")
        switches.reset_stats()  # type: ignore[union-attr]
        switches.configure(**faults)
        started = time.perf_counter()
        try:
            cur.execute(sql)
            rows = cur.fetchall()
            stats = switches.stats()
        finally:
            switches.reset()
        return rows, stats, time.perf_counter() - started


def test_a_429_storm_is_waited_out_not_hammered(sandbox: Sandbox) -> None:
    # 6 requests per second, and requests refused while throttled count toward the window (as
    # Dataverse extends Retry-After for clients that keep sending): a reader that retried before
    # Retry-After would stay throttled until its retries ran out. This one finishes, whole.
    sql = f"SELECT {COLUMNS} FROM account"
    sequential, _ = _read(sandbox, sql)
    parallel, stats, elapsed = _read_under_faults(
        sandbox, sql, "ScanPartitions=6;MaxConcurrency=4", max_requests=6, window_seconds=1.0
    )
    # 6 partitions of 2 or 3 pages and 2 probes: 14 requests or more at 6 a second, two windows at least.
    assert stats["by_status"]["200"] >= 14 and elapsed >= 2.0
    assert stats["throttled_by_code"] == {"0x80072322": stats["throttled"]} and stats["throttled"] > 0
    # Each worker is refused about once per window and then waits; hammering would multiply this.
    assert stats["throttled"] <= 4 * 4
    assert len(parallel) == len(sequential) == len({r[0] for r in parallel})
    assert sorted(parallel, key=repr) == sorted(sequential, key=repr)


def test_each_throttled_request_waits_its_retry_after(sandbox: Sandbox) -> None:
    # The statement's first three requests are refused with Retry-After: 1: the two probes (sent
    # together, and no partition starts before both answer), then the first probe repeated. So one
    # probe waits twice; had it repeated sooner than told, the read would take well under 2 s.
    parallel, stats, elapsed = _read_under_faults(
        sandbox, f"SELECT {COLUMNS} FROM account", "ScanPartitions=6;MaxConcurrency=4", script=[429, 429, 429]
    )
    assert stats["throttled"] == 3
    assert elapsed >= 2.0
    assert len(parallel) == len({r[0] for r in parallel}) == 3000


# -- the bound probes --------------------------------------------------------------------------------


class _ProbeTransport:
    """Answers the two probes only when both are in flight at once (a barrier), or fails one."""

    def __init__(self, fail: bool = False) -> None:
        self.barrier = threading.Barrier(2, timeout=5)
        self.fail = fail
        self.urls: list[str] = []

    def get_json(self, url: str, deadline: float | None = None) -> Any:
        self.urls.append(url)
        self.barrier.wait()
        if "desc" in url:
            if self.fail:
                raise d365conn.OperationalError("the largest value could not be read")
            return {"value": [{"createdon": "2024-12-31T00:00:00Z"}]}
        return {"value": [{"createdon": "2019-01-01T00:00:00Z"}]}


def test_the_two_probes_are_sent_at_the_same_time() -> None:
    transport = _ProbeTransport()
    service: Any = SimpleNamespace(config=SimpleNamespace(service_root=URL), transport=transport)
    values = probe_bounds(service, scan(filter="statecode eq 0"), DATE, None)
    assert values == ["2019-01-01T00:00:00Z", "2024-12-31T00:00:00Z"]
    assert len(transport.urls) == 2 and all(u.startswith(URL + "accounts?") for u in transport.urls)


def test_a_failed_probe_is_raised_to_the_statement() -> None:
    service: Any = SimpleNamespace(config=SimpleNamespace(service_root=URL), transport=_ProbeTransport(True))
    with pytest.raises(d365conn.OperationalError, match="largest value"):
        probe_bounds(service, scan(), DATE, None)
