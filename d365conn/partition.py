"""Splitting one big scan into disjoint range scans that can be fetched at the same time. Pure: no I/O.

Owns: which scans may be partitioned, the range predicates, and the order partitions are read in.
:mod:`d365conn.parallel` runs the pieces on a bounded pool of threads.

Two kinds of range, both closed under "every row lands in exactly one partition":

- **Date ranges** on a ``DateTimeOffset``/``Date`` column (``PartitionColumn=createdon``): the executor
  first asks the service for the column's smallest and largest value (two ``$top=1`` probes, see
  :func:`bound_probes`), then :func:`date_partitions` cuts that span into equal slices. The first
  slice is open below and the last open above, and a separate slice takes the NULLs, so rows written
  after the probes are not lost.
- **Key ranges** on a Dataverse primary key (``Edm.Guid``), the default: the same two probes give
  the smallest and largest key, and the span between them is cut into equal slices. Dataverse
  keeps rows in SQL Server, whose ``uniqueidentifier`` order is *not* the text order of the GUID:
  it compares the last six bytes (the fifth group, left to right) first, then the fourth group,
  then the first three groups byte-swapped (see :func:`sqlserver_guid_key`; Microsoft Learn,
  "Comparing GUID and uniqueidentifier values"). The cuts are computed in that order, so they
  follow random GUIDs (spread over the whole space) and sequentially generated ones (clustered in
  a narrow span) alike; key ranges are seeks on the clustered primary key, where a date range is a
  filter the server evaluates row by row unless the column is indexed.

A scan is partitioned only when it reads a whole entity set without ``$top``, ``$apply``,
``$count`` or a client-side limit, and its order is either unspecified or exactly the partition
column: then reading the partitions one after another in range order (reversed for ``desc``)
reproduces the service's order and no merge is needed. Any other ``$orderby`` would need a merge
in the service's collation (case-insensitive strings, SQL Server GUID order...), so such scans
are left alone.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, replace
from typing import Literal

from .planner.plan import ODataQuery, Scan

PartitionKind = Literal["date", "key"]

#: Most partitions one scan is split into (each is at least one request).
MAX_PARTITIONS = 256

_DATE_TYPES = ("Edm.DateTimeOffset", "Edm.Date")


@dataclass(frozen=True)
class PartitionColumn:
    """The column a scan is split on: its OData property and what kind of ranges it takes."""

    property: str
    kind: PartitionKind
    edm_type: str


@dataclass(frozen=True)
class Partitioned:
    """The pieces of one scan, in range order; ``ordered`` says whether the caller must read them
    one after another (the scan has an ``$orderby`` on the partition column) or may interleave."""

    scans: tuple[Scan, ...]
    ordered: bool


def sqlserver_guid_key(guid: str) -> bytes:
    """A sort key that orders GUID strings as SQL Server orders ``uniqueidentifier`` values.

    Display bytes d0..d15 of ``d0d1d2d3-d4d5-d6d7-d8d9-d10..d15`` compare as d10..d15, d8 d9,
    d7 d6, d5 d4, d3 d2 d1 d0 (.NET ``SqlGuid`` compares ``ToByteArray()`` positions
    10-15, 8-9, 6-7, 4-5, 0-3, and that array holds the first three groups little-endian).
    """
    d = bytes.fromhex(guid.strip("{}").replace("-", ""))
    if len(d) != 16:
        raise ValueError(f"not a GUID: {guid!r}")
    return d[10:16] + d[8:10] + bytes((d[7], d[6], d[5], d[4], d[3], d[2], d[1], d[0]))


def guid_from_sqlserver_key(key: bytes) -> str:
    """The GUID text whose :func:`sqlserver_guid_key` is ``key`` (the inverse mapping)."""
    d = bytearray(16)
    d[10:16], d[8:10] = key[0:6], key[6:8]
    d[7], d[6], d[5], d[4], d[3], d[2], d[1], d[0] = key[8:16]
    h = bytes(d).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def key_boundaries(count: int, low: str | None = None, high: str | None = None) -> list[str]:
    """``count - 1`` GUIDs, ascending in SQL Server's order, cutting the key space -- or the span
    from ``low`` to ``high`` when the smallest and largest key are known -- into equal slices.

    Over the whole space only the two most significant bytes vary (every other byte zero), so the
    cuts also ascend in text order. Between known keys the cuts follow the keys wherever they are:
    random GUIDs spread over the whole space, GUIDs a server generates in sequence over a narrow
    span, and equal slices of that span are what balances the partitions.
    """
    if low is None or high is None:
        step = 65536 / count
        cuts = sorted({round(i * step) for i in range(1, count)} - {0})
        return [f"00000000-0000-0000-0000-{cut:04x}00000000" for cut in cuts]
    lo = int.from_bytes(sqlserver_guid_key(low), "big")
    hi = int.from_bytes(sqlserver_guid_key(high), "big")
    if hi <= lo:
        return []
    points = sorted({lo + (hi - lo) * i // count for i in range(1, count)} - {lo})
    return [guid_from_sqlserver_key(p.to_bytes(16, "big")) for p in points]


def skip_reason(scan: Scan) -> str | None:
    """Why ``scan`` must be read as one query, or None when it may be split."""
    q = scan.query
    if scan.kind != "rows":
        return "not a row scan"
    if scan.limit is not None or q.top is not None or q.skip is not None:
        return "the scan has a row limit"
    if q.apply is not None or q.count:
        return "the scan aggregates or counts"
    if "(" in q.resource or "/" in q.resource:
        return "the scan reads a single row or a navigation path"
    if any(not name.startswith("@") for name, _ in q.extra):
        return "the scan carries extra query options (FetchXML, company...)"
    if len(q.orderby) > 1:
        return "the scan is ordered by more than one column"
    return None


def order_direction(scan: Scan, column: PartitionColumn) -> Literal["none", "asc", "desc"] | None:
    """How ``scan`` is ordered relative to the partition column; None when it is ordered by another."""
    if not scan.query.orderby:
        return "none"
    words = scan.query.orderby[0].split()
    if words[0] != column.property or len(words) > 2:
        return None
    if len(words) == 1 or words[1].lower() == "asc":
        return "asc"
    return "desc" if words[1].lower() == "desc" else None


def bound_probes(scan: Scan, column: PartitionColumn) -> tuple[ODataQuery, ODataQuery]:
    """Two one-row queries: the smallest and the largest non-null value of the partition column
    among the rows the scan reads. Sent without ``odata.maxpagesize`` (which would make ``$top`` ignored)."""
    where = _and(scan.query.filter, f"{column.property} ne null")
    base = ODataQuery(
        resource=scan.query.resource, select=(column.property,), filter=where, top=1, extra=scan.query.extra
    )
    return (
        replace(base, orderby=(f"{column.property} asc",)),
        replace(base, orderby=(f"{column.property} desc",)),
    )


def date_partitions(
    scan: Scan, column: PartitionColumn, low: dt.datetime | None, high: dt.datetime | None, count: int
) -> Partitioned | None:
    """Split ``scan`` into ``count`` date slices between ``low`` and ``high`` (the probes' answers)
    plus one for NULLs. None when it cannot or need not be split (no values, or one instant)."""
    direction = order_direction(scan, column)
    if direction is None or skip_reason(scan) is not None or count < 2:
        return None
    if low is None or high is None or high <= low:
        return None
    count = min(count, MAX_PARTITIONS)
    span = (high - low) / count
    if column.edm_type == "Edm.Date":
        # Whole days only: a date literal has no time.
        days = sorted({(low + span * i).date() for i in range(1, count)} - {low.date()})
        cuts = [d.isoformat() for d in days]
    else:
        # Whole seconds: Dataverse stores DateTimeOffset to the second, so finer cuts add nothing.
        stamps = sorted({(low + span * i).replace(microsecond=0) for i in range(1, count)} - {low})
        cuts = [s.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for s in stamps]
    if not cuts:
        return None
    ranges = _ranges(column.property, cuts)
    # SQL Server sorts NULLs first in ascending order: the NULL slice goes where the service puts it.
    null_first = direction != "desc"
    nulls = f"{column.property} eq null"
    filters = [nulls, *ranges] if null_first else [*ranges, nulls]
    if direction == "desc":
        filters = [*reversed(filters[:-1]), filters[-1]]
    return Partitioned(tuple(_with_filter(scan, f) for f in filters), ordered=direction != "none")


def key_partitions(
    scan: Scan, column: PartitionColumn, count: int, low: str | None = None, high: str | None = None
) -> Partitioned | None:
    """Split ``scan`` into ``count`` ranges of its GUID primary key, between the smallest and largest
    key when the probes found them (see :func:`key_boundaries`)."""
    direction = order_direction(scan, column)
    if direction is None or skip_reason(scan) is not None or count < 2:
        return None
    cuts = key_boundaries(min(count, MAX_PARTITIONS), low, high)
    if not cuts:
        return None
    filters = _ranges(column.property, cuts)
    if direction == "desc":
        filters.reverse()
    return Partitioned(tuple(_with_filter(scan, f) for f in filters), ordered=direction != "none")


def parse_guid(value: object) -> str | None:
    """A probe's JSON value as a GUID string (None when absent or not a GUID)."""
    if not isinstance(value, str):
        return None
    text = value.strip("{}").lower()
    try:
        bytes.fromhex(text.replace("-", ""))
    except ValueError:
        return None
    return text if len(text) == 36 else None


def is_date_type(edm_type: str) -> bool:
    return edm_type in _DATE_TYPES


def parse_bound(value: object, edm_type: str) -> dt.datetime | None:
    """A probe's JSON value as an aware datetime (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        if edm_type == "Edm.Date":
            return dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time(), dt.timezone.utc)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _ranges(prop: str, cuts: list[str]) -> list[str]:
    """Half-open ranges between sorted cut values: ``< c1``, ``>= c1 and < c2``, ..., ``>= cn``."""
    out = [f"{prop} lt {cuts[0]}"]
    out += [f"{prop} ge {a} and {prop} lt {b}" for a, b in itertools.pairwise(cuts)]
    out.append(f"{prop} ge {cuts[-1]}")
    return out


def _and(existing: str | None, extra: str) -> str:
    return extra if existing is None else f"({existing}) and ({extra})"


def _with_filter(scan: Scan, predicate: str) -> Scan:
    return replace(scan, query=replace(scan.query, filter=_and(scan.query.filter, predicate)))


__all__ = [
    "MAX_PARTITIONS",
    "PartitionColumn",
    "Partitioned",
    "bound_probes",
    "date_partitions",
    "guid_from_sqlserver_key",
    "is_date_type",
    "key_boundaries",
    "key_partitions",
    "order_direction",
    "parse_bound",
    "parse_guid",
    "skip_reason",
    "sqlserver_guid_key",
]
