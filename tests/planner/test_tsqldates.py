"""d365conn.planner.tsqldates: T-SQL date functions, written for DuckDB, give T-SQL's answers.

Each case is a T-SQL expression over literal dates, rewritten by the planner's local-SQL step and
run in a real DuckDB (UTC, as the engine runs); the expected value comes from the plain-Python
oracle in ``tests/planner/tsql_reference.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from d365conn.planner.tsqldates import localise_dates
from tests.planner import tsql_reference as ref

# Month ends, a leap day, year and week boundaries, every weekday, sub-second times.
DATES = [
    dt.datetime(2024, 2, 29, 13, 45, 10, 123000),
    dt.datetime(2023, 12, 31, 23, 59, 59),
    dt.datetime(2024, 1, 1, 0, 0, 0),
    dt.datetime(2021, 1, 31, 8, 7, 6),
    dt.datetime(2024, 6, 8, 12, 0, 0),  # Saturday
    dt.datetime(2024, 6, 9, 0, 30, 0),  # Sunday
    dt.datetime(2024, 6, 10, 23, 14, 59),  # Monday
    dt.datetime(2022, 3, 30, 5, 29, 30),
    dt.datetime(2020, 12, 27, 1, 2, 3),  # a Sunday in ISO week 52
    dt.datetime(1900, 1, 1, 0, 0, 0),
]
UNITS = ["year", "quarter", "month", "week", "day", "hour", "minute", "second"]
PARTS = ["year", "quarter", "month", "day", "dayofyear", "weekday", "week", "iso_week", "hour", "minute"]
PARTS += ["second", "millisecond"]
#: T-SQL abbreviations and the datepart they stand for.
ABBREVIATIONS = {"yy": "year", "qq": "quarter", "mm": "month", "wk": "week", "dd": "day", "hh": "hour"}
ABBREVIATIONS |= {"mi": "minute", "ss": "second", "dw": "weekday", "dy": "dayofyear"}


def lit(value: dt.datetime) -> str:
    return "'" + value.isoformat(sep=" ", timespec="milliseconds") + "'"


_CON = duckdb.connect()
_CON.execute("SET TimeZone='UTC'")  # as the engine runs


def run(tsql_expr: str) -> Any:
    tree = sqlglot.parse_one(f"SELECT {tsql_expr} AS v", read="tsql")
    local = localise_dates(tree).sql(dialect="duckdb")
    row = _CON.execute(local).fetchone()
    assert row is not None
    return row[0]


def pairs() -> Iterator[tuple[dt.datetime, dt.datetime]]:
    for i, a in enumerate(DATES):
        yield a, DATES[(i * 3 + 1) % len(DATES)]
        yield a, DATES[(i + 5) % len(DATES)]


@pytest.mark.parametrize("unit", UNITS)
def test_datediff_counts_boundaries(unit: str) -> None:
    for a, b in pairs():
        assert run(f"DATEDIFF({unit}, {lit(a)}, {lit(b)})") == ref.datediff(unit, a, b), (unit, a, b)


def test_datediff_boundaries_not_elapsed_time() -> None:
    assert run("DATEDIFF(year, '2023-12-31 23:59:59', '2024-01-01')") == 1
    assert run("DATEDIFF(month, '2020-01-31', '2020-02-01')") == 1
    # Saturday -> Sunday crosses a week boundary; Sunday -> Saturday of the same week does not
    assert run("DATEDIFF(week, '2024-06-08', '2024-06-09')") == 1
    assert run("DATEDIFF(week, '2024-06-09', '2024-06-15')") == 0
    assert run("DATEDIFF(hour, '2024-01-01 10:59:59', '2024-01-01 11:00:00')") == 1


@pytest.mark.parametrize("unit", UNITS)
def test_dateadd(unit: str) -> None:
    for d in DATES:
        for n in (-13, -1, 1, 2, 61):
            assert run(f"DATEADD({unit}, {n}, {lit(d)})") == ref.dateadd(unit, n, d), (unit, n, d)


def test_integer_dates_count_days_from_1900() -> None:
    assert run("DATEADD(day, 0, 0)") == dt.datetime(1900, 1, 1)
    assert run("DATEADD(month, 1, 45)") == ref.dateadd("month", 1, 45)
    assert run("DATEADD(day, 1, -1)") == dt.datetime(1900, 1, 1)
    assert run("DATEDIFF(day, 0, '2024-02-29')") == ref.datediff("day", 0, dt.datetime(2024, 2, 29))
    assert run("YEAR(0)") == 1900
    assert run("MONTH(40)") == 2
    assert run("CAST(2 AS DATETIME)") == dt.datetime(1900, 1, 3)
    assert run("DATEPART(weekday, 0)") == 2  # 1900-01-01 was a Monday


@pytest.mark.parametrize("part", PARTS)
def test_datepart(part: str) -> None:
    for d in DATES:
        assert run(f"DATEPART({part}, {lit(d)})") == ref.datepart(part, d), (part, d)


@pytest.mark.parametrize(("abbreviation", "part"), sorted(ABBREVIATIONS.items()))
def test_datepart_abbreviations(abbreviation: str, part: str) -> None:
    d = DATES[0]
    assert run(f"DATEPART({abbreviation}, {lit(d)})") == ref.datepart(part, d)


@pytest.mark.parametrize("part", ["year", "quarter", "month", "weekday", "week", "hour", "minute", "second"])
def test_datename(part: str) -> None:
    for d in DATES:
        assert run(f"DATENAME({part}, {lit(d)})") == ref.datename(part, d), (part, d)


def test_eomonth_datefromparts_and_parts() -> None:
    for d in DATES:
        assert run(f"EOMONTH({lit(d)})") == ref.eomonth(d)
        assert run(f"EOMONTH({lit(d)}, 1)") == ref.eomonth(d, 1)
        assert run(f"EOMONTH({lit(d)}, -2)") == ref.eomonth(d, -2)
        assert (run(f"YEAR({lit(d)})"), run(f"MONTH({lit(d)})"), run(f"DAY({lit(d)})")) == (
            d.year,
            d.month,
            d.day,
        )
        assert run(f"CONVERT(date, {lit(d)})") == d.date()
        assert run(f"CAST({lit(d)} AS date)") == d.date()
    assert run("DATEFROMPARTS(2024, 2, 29)") == dt.date(2024, 2, 29)


def test_convert_styles_superset_writes() -> None:
    assert run("CONVERT(DATETIME, '2020-01-02T03:04:05', 126)") == dt.datetime(2020, 1, 2, 3, 4, 5)
    assert run("CONVERT(DATETIME, '2020-01-02T03:04:05.250', 126)") == dt.datetime(
        2020, 1, 2, 3, 4, 5, 250000
    )
    assert run("CONVERT(DATE, '2020-01-02', 23)") == dt.date(2020, 1, 2)


def test_current_time_functions() -> None:
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    for name in ("GETDATE()", "GETUTCDATE()", "SYSDATETIME()", "SYSUTCDATETIME()"):
        value = run(name)
        assert isinstance(value, dt.datetime)
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        assert before <= aware <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5), name


def test_integer_division_truncates_as_in_tsql() -> None:
    assert run("DATEDIFF(minute, 0, '2024-06-13 19:08:03') / 5 * 5") == (
        ref.datediff("minute", 0, dt.datetime(2024, 6, 13, 19, 8, 3)) // 5 * 5
    )
    assert run("7 / 2") == 3


@pytest.mark.parametrize("grain", sorted(ref.GRAINS))
def test_superset_time_grains(grain: str) -> None:
    for d in DATES[:-1]:  # 1900-01-01 itself is before a grain's own origin for some idioms
        expected = ref.grain(grain, d)
        assert run(ref.GRAINS[grain].format(col=lit(d))) == expected, (grain, d)


def test_other_nodes_are_left_alone() -> None:
    tree = sqlglot.parse_one("SELECT a / b, DATEADD(day, 1, c) FROM t", read="tsql")
    local = localise_dates(tree)
    assert isinstance(local.expressions[0], exp.Div)  # not known to be integers
    assert local.sql(dialect="duckdb") == "SELECT a / b, c + INTERVAL 1 DAY FROM t"
