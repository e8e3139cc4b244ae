"""End to end against the sandbox: result column names as written, and T-SQL date idioms run locally.

Through the public interface over real sockets. Names: every plan shape (pushed, pushed with a
local tail, local only, joins, CTEs, derived tables, set operations, grouping, DISTINCT, windows,
INFORMATION_SCHEMA) describes the names the statement wrote. Dates: each idiom's values are
compared, row by row, with the same computation done in plain Python (``tests/planner/
tsql_reference.py``) over the rows read back without any function.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import d365conn
from d365conn.sandbox import Sandbox
from tests.planner import tsql_reference as ref


@pytest.fixture(scope="module")
def conn() -> Iterator[d365conn.Connection]:
    with Sandbox(rows=300, seed=11) as sb, d365conn.connect(sb.connection_string) as c:
        yield c


def run(conn: d365conn.Connection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cur = conn.cursor()
    cur.execute(sql)
    assert cur.description is not None
    return [d[0] for d in cur.description], cur.fetchall()


@pytest.fixture(scope="module")
def accounts(conn: d365conn.Connection) -> dict[uuid.UUID, tuple[Any, ...]]:
    """accountid -> (createdon, modifiedon, statecode, revenue, name), read plainly."""
    _, rows = run(conn, "SELECT accountid, createdon, modifiedon, statecode, revenue, name FROM account")
    assert len(rows) == 300
    return {r[0]: r[1:] for r in rows}


NAMED = [
    # the three shapes Superset hit
    (
        'SELECT statecode AS "Total", SUM(revenue) AS "SUM(revenue)" FROM account '
        "GROUP BY statecode HAVING COUNT(*) > 1",
        ["Total", "SUM(revenue)"],
    ),
    (
        'SELECT upper(name) AS "BigName", name AS "Name" FROM account ORDER BY name '
        "OFFSET 1 ROWS FETCH NEXT 2 ROWS ONLY",
        ["BigName", "Name"],
    ),
    (
        'SELECT a.name AS "AccountName", c.fullname AS FullName FROM account a '
        "JOIN contact c ON a.primarycontactid = c.contactid",
        ["AccountName", "FullName"],
    ),
    # pushed, pushed with a tail, local only
    ("SELECT Name AS [Account Name], Revenue FROM account", ["Account Name", "Revenue"]),
    ("SELECT TOP 3 NAME FROM account ORDER BY name OFFSET 1 ROWS", ["NAME"]),
    ("SELECT Name, LEN(Name) AS Len FROM account WHERE LEN(name) > 3", ["Name", "Len"]),
    ("SELECT COUNT(*) AS [Count], MAX(Revenue) FROM account WHERE LEN(name) > 3", ["Count", "MAX(Revenue)"]),
    # joins, CTEs, derived tables, set operations, DISTINCT, windows
    (
        'SELECT a.Name AS "A", c.FullName FROM account a '
        "LEFT JOIN contact c ON LEN(a.name) = LEN(c.fullname) WHERE a.revenue > 0",
        ["A", "FullName"],
    ),
    ("WITH Big AS (SELECT Name AS BigName FROM account WHERE revenue > 1) SELECT * FROM Big", ["BigName"]),
    ("SELECT t.Total FROM (SELECT StateCode AS Total FROM account) AS t WHERE t.total >= 0", ["Total"]),
    ('SELECT Name AS "N" FROM account UNION SELECT FullName FROM contact', ["N"]),
    ("SELECT DISTINCT UPPER(Name) AS UpperName FROM account", ["UpperName"]),
    (
        'SELECT Name, RANK() OVER (PARTITION BY StateCode ORDER BY Revenue DESC) AS "Rank" FROM account',
        ["Name", "Rank"],
    ),
    ("SELECT TABLE_NAME AS [Table], COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS", ["Table", "COLUMN_NAME"]),
]


@pytest.mark.parametrize(("sql", "names"), NAMED)
def test_description_names_as_written(conn: d365conn.Connection, sql: str, names: list[str]) -> None:
    described, rows = run(conn, sql)
    assert described == names
    assert rows, "the statement must return rows for the check to mean something"


def test_grouped_values_under_written_names(
    conn: d365conn.Connection, accounts: dict[uuid.UUID, tuple[Any, ...]]
) -> None:
    names, rows = run(
        conn,
        'SELECT statecode AS "Total", SUM(revenue) AS "SUM(revenue)" FROM account '
        "GROUP BY statecode HAVING COUNT(*) > 1",
    )
    expected: dict[Any, Any] = {}
    counts = Counter(v[2] for v in accounts.values())
    for _, _, state, revenue, _ in accounts.values():
        if revenue is not None:
            expected[state] = expected.get(state, 0) + revenue
    assert names == ["Total", "SUM(revenue)"]
    assert dict(rows) == {s: expected.get(s) for s in counts if counts[s] > 1}


@pytest.mark.parametrize("grain", sorted(ref.GRAINS))
def test_superset_time_grains(
    conn: d365conn.Connection, accounts: dict[uuid.UUID, tuple[Any, ...]], grain: str
) -> None:
    expression = ref.GRAINS[grain].format(col="createdon")
    names, rows = run(conn, f"SELECT accountid, {expression} AS [Grain] FROM account")
    assert names == ["accountid", "Grain"]
    assert len(rows) == len(accounts)
    for accountid, value in rows:
        created = accounts[accountid][0]
        assert value == (None if created is None else ref.grain(grain, created)), (grain, created)


def test_grouping_by_month_grain(
    conn: d365conn.Connection, accounts: dict[uuid.UUID, tuple[Any, ...]]
) -> None:
    month = "DATEADD(MONTH, DATEDIFF(MONTH, 0, createdon), 0)"
    names, rows = run(conn, f"SELECT {month} AS Month, COUNT(*) AS N FROM account GROUP BY {month}")
    assert names == ["Month", "N"]
    expected = Counter(None if v[0] is None else ref.grain("P1M", v[0]) for v in accounts.values())
    assert dict(rows) == dict(expected)


def test_dateparts_and_differences(
    conn: d365conn.Connection, accounts: dict[uuid.UUID, tuple[Any, ...]]
) -> None:
    parts = ["year", "quarter", "month", "day", "dayofyear", "weekday", "week", "hour", "minute", "second"]
    diffs = ["year", "quarter", "month", "week", "day", "hour", "minute", "second"]
    sql = (
        "SELECT accountid, "
        + ", ".join(f"DATEPART({p}, createdon)" for p in parts)
        + ", "
        + ", ".join(f"DATEDIFF({u}, createdon, '2025-03-01 12:00:00')" for u in diffs)
        + ", DATENAME(month, createdon), DATENAME(weekday, createdon), EOMONTH(createdon),"
        " YEAR(createdon), MONTH(createdon), DAY(createdon),"
        " CONVERT(date, createdon), CAST(createdon AS date)"
        " FROM account WHERE createdon IS NOT NULL"
    )
    _, rows = run(conn, sql)
    assert rows
    end = dt.datetime(2025, 3, 1, 12)
    for row in rows:
        created = ref.as_datetime(accounts[row[0]][0])
        expected = [ref.datepart(p, created) for p in parts]
        expected += [ref.datediff(u, created, end) for u in diffs]
        expected += [ref.datename("month", created), ref.datename("weekday", created), ref.eomonth(created)]
        expected += [created.year, created.month, created.day, created.date(), created.date()]
        assert list(row[1:]) == expected, created


def test_superset_time_range_filter(
    conn: d365conn.Connection, accounts: dict[uuid.UUID, tuple[Any, ...]]
) -> None:
    start, end = dt.datetime(2022, 1, 1), dt.datetime(2024, 1, 1)
    _, rows = run(
        conn,
        "SELECT accountid FROM account WHERE createdon >= CONVERT(DATETIME, '2022-01-01T00:00:00', 126)"
        " AND createdon < CONVERT(DATETIME, '2024-01-01T00:00:00.000', 126)",
    )
    expected = {k for k, v in accounts.items() if v[0] is not None and start <= ref.as_datetime(v[0]) < end}
    assert expected and {r[0] for r in rows} == expected


def test_now_functions(conn: d365conn.Connection) -> None:
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    _, rows = run(
        conn, "SELECT TOP 1 GETDATE(), GETUTCDATE(), SYSDATETIME() FROM account WHERE LEN(name) > 0"
    )
    for value in rows[0]:
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        assert before <= aware <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)


def test_date_only_column_grains(conn: d365conn.Connection) -> None:
    _, plain = run(conn, "SELECT contactid, birthdate FROM contact")
    birthdates = dict(plain)
    assert any(v is not None for v in birthdates.values())
    _, rows = run(
        conn,
        "SELECT contactid, DATEADD(YEAR, DATEDIFF(YEAR, 0, birthdate), 0), DATEPART(weekday, birthdate),"
        " DATEDIFF(week, birthdate, '2024-01-01') FROM contact",
    )
    for contactid, year, weekday, weeks in rows:
        born = birthdates[contactid]
        if born is None:
            assert (year, weekday, weeks) == (None, None, None)
            continue
        assert year == ref.grain("P1Y", ref.as_datetime(born))
        assert weekday == ref.datepart("weekday", born)
        assert weeks == ref.datediff("week", born, dt.datetime(2024, 1, 1))
