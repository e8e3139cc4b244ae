"""What Apache Superset 6.1 asked of the dialect, replayed against the sandbox without Superset.

Captured by running Superset 6.1.0 (SQLAlchemy 1.4.54) against a sandbox and logging every dialect
call and every statement its DB-API cursor received: the "Test connection" ping, the reflection calls
behind the database, table and dataset screens (with the arguments Superset passed), and the SQL
texts of SQL Lab, charts and virtual datasets. Superset re-formats every statement with sqlglot
before it runs it: the T-SQL texts (``TOP``) are what it sends with d365conn's engine spec
(``d365conn.sqlalchemy.superset``), the ``LIMIT`` texts what its generic spec sends. Superset runs
them on a raw DB-API connection from the engine's pool, as these tests do. Expected results come from
plain queries and Python, not from the statements under test.
"""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import re
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pytest
import sqlalchemy as sa

import d365conn
from d365conn.sqlalchemy.bi import EPOCH_SECONDS_TO_DATETIME, TIME_GRAINS, native_type_name

Row = tuple[Any, ...]


def run(engine: sa.Engine, sql: str) -> tuple[list[str], list[Row]]:
    """Column names and rows, the way Superset executes SQL Lab and chart statements."""
    with closing(engine.raw_connection()) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        names = [d[0] for d in cursor.description]
        return names, [tuple(r) for r in cursor.fetchall()]


@pytest.fixture(scope="module")
def accounts(engine: sa.Engine) -> list[dict[str, Any]]:
    names, rows = run(
        engine,
        "SELECT accountid, name, revenue, createdon, statecode, statecodename, industrycodename, "
        "primarycontactid, numberofemployees FROM account",
    )
    return [dict(zip(names, r, strict=True)) for r in rows]


@pytest.fixture(scope="module")
def contacts(engine: sa.Engine) -> list[dict[str, Any]]:
    names, rows = run(engine, "SELECT contactid, fullname, parentcustomerid FROM contact")
    return [dict(zip(names, r, strict=True)) for r in rows]


def utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


# -- connection test and reflection --------------------------------------------------------------


def test_test_connection_pings(engine: sa.Engine) -> None:
    # superset.commands.database.utils.ping: do_ping on the pool's proxy of a raw connection.
    with closing(engine.raw_connection()) as conn:
        assert engine.dialect.do_ping(conn) is True


def test_test_connection_with_a_wrong_secret_says_why_without_the_secret(
    d365_sandbox: Any, url_for: Callable[..., str]
) -> None:
    engine = sa.create_engine(url_for(d365_sandbox, ClientSecret="wrong-secret-4711"))
    try:
        # Superset shows the message of what do_ping raised (wrapped in its own DBAPIError).
        with pytest.raises(d365conn.OperationalError) as caught, closing(engine.raw_connection()) as conn:
            engine.dialect.do_ping(conn)
    finally:
        engine.dispose()
    assert "ClientSecret" in str(caught.value) and "wrong-secret-4711" not in str(caught.value)


def test_reflection_calls_superset_makes(engine: sa.Engine) -> None:
    insp = sa.inspect(engine)
    # Database > schemas, then the table list of SQL Lab and the dataset editor.
    assert insp.get_schema_names() == ["dbo"]
    tables = insp.get_table_names("dbo")
    assert tables == sorted(tables) and {"account", "contact", "systemuser"} <= set(tables)
    assert insp.get_view_names("dbo") == []
    # /api/v1/database/<id>/table_metadata/?name=account&schema=dbo, in Superset's order.
    columns = insp.get_columns("account", "dbo")
    by_name = {c["name"]: c for c in columns}
    assert len(by_name) == len(columns)
    assert isinstance(by_name["createdon"]["type"], sa.DateTime)
    assert isinstance(by_name["revenue"]["type"], sa.Numeric)
    assert isinstance(by_name["name"]["type"], sa.String)
    assert insp.get_pk_constraint("account", "dbo")["constrained_columns"] == ["accountid"]
    fks = insp.get_foreign_keys("account", "dbo")
    assert fks and all(fk["referred_table"] in tables and fk["constrained_columns"] for fk in fks)
    assert insp.get_indexes("account", "dbo") == []
    comment = insp.get_table_comment("account", "dbo")["text"]
    assert isinstance(comment, str) and comment
    with pytest.raises(sa.exc.NoSuchTableError):
        insp.get_columns("account", "sales")


def test_select_star_over_every_reflected_column(engine: sa.Engine) -> None:
    # Superset's table preview: every reflected column, schema-qualified table, TOP 100.
    names = [c["name"] for c in sa.inspect(engine).get_columns("account", "dbo")]
    sql = "SELECT\nTOP 100\n  " + ",\n  ".join(names) + "\nFROM dbo.account"
    got_names, rows = run(engine, sql)
    assert got_names == names and len(rows) == 100


# -- SQL Lab -------------------------------------------------------------------------------------


def test_sqllab_top_and_brackets(engine: sa.Engine, accounts: list[dict[str, Any]]) -> None:
    ordered = [r[0] for r in run(engine, "SELECT name FROM account ORDER BY name")[1]]
    _, top = run(engine, "SELECT\nTOP 11\n  name\nFROM account\nORDER BY\n  name")
    assert [r[0] for r in top] == ordered[:11]
    _, bracketed = run(
        engine, "SELECT\nTOP 11\n  [name],\n  [revenue]\nFROM [dbo].[account]\nWHERE\n  statecode = 0"
    )
    active = {(a["name"], a["revenue"]) for a in accounts if a["statecode"] == 0}
    assert len(bracketed) == 11 and set(bracketed) <= active


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT\nTOP 11\n  name,\n  createdon,\n  revenue,\n  accountid\nFROM account",  # engine spec
        "SELECT\n  name,\n  createdon,\n  revenue,\n  accountid\nFROM account\nLIMIT 11",  # generic spec
    ],
)
def test_sqllab_limited_select(engine: sa.Engine, accounts: list[dict[str, Any]], sql: str) -> None:
    names, rows = run(engine, sql)
    assert names == ["name", "createdon", "revenue", "accountid"] and len(rows) == 11
    assert set(rows) <= {(a["name"], a["createdon"], a["revenue"], a["accountid"]) for a in accounts}


def test_sqllab_star_join_and_offset(
    engine: sa.Engine, accounts: list[dict[str, Any]], contacts: list[dict[str, Any]]
) -> None:
    names, rows = run(engine, "SELECT\nTOP 11\n  *\nFROM dbo.account")
    assert len(rows) == 11 and len(names) == len(sa.inspect(engine).get_columns("account", "dbo"))

    _, joined = run(
        engine,
        "SELECT\nTOP 11\n  a.name,\n  c.fullname\nFROM account AS a\nJOIN contact AS c\n"
        "  ON c.parentcustomerid = a.accountid",
    )
    by_id = {a["accountid"]: a["name"] for a in accounts}
    pairs = {
        (by_id[c["parentcustomerid"]], c["fullname"]) for c in contacts if c["parentcustomerid"] in by_id
    }
    assert len(joined) == min(11, len(pairs)) and set(joined) <= pairs

    ordered = [r[0] for r in run(engine, "SELECT name FROM account ORDER BY name")[1]]
    _, page = run(
        engine, "SELECT\n  name\nFROM account\nORDER BY\n  name\nOFFSET 5 ROWS\nFETCH FIRST 11 ROWS ONLY"
    )
    assert [r[0] for r in page] == ordered[5:16]


def test_sqllab_group_by_and_cte(engine: sa.Engine, accounts: list[dict[str, Any]]) -> None:
    counts = collections.Counter(a["industrycodename"] for a in accounts)
    totals: dict[str | None, decimal.Decimal] = collections.defaultdict(decimal.Decimal)
    for a in accounts:
        totals[a["industrycodename"]] += a["revenue"] or 0
    _, rows = run(
        engine,
        "SELECT\nTOP 11\n  industrycodename,\n  COUNT(*) AS n,\n  SUM(revenue) AS total\nFROM account\n"
        "GROUP BY\n  industrycodename\nORDER BY\n  n DESC",
    )
    assert [n for _, n, _ in rows] == sorted(counts.values(), reverse=True)[:11]
    assert all(counts[k] == n and totals[k] == total for k, n, total in rows)

    _, (only,) = run(
        engine,
        "WITH big AS (\n  SELECT\n    name AS name,\n    revenue AS revenue\n  FROM account\n  WHERE\n"
        "    revenue > 1000000\n)\nSELECT\nTOP 11\n  COUNT(*) AS n\nFROM big",
    )
    assert only == (sum(1 for a in accounts if (a["revenue"] or 0) > 1_000_000),)


def test_result_columns_get_sql_type_names(engine: sa.Engine) -> None:
    # The engine spec's get_datatype: Superset types SQL Lab results and virtual datasets by these
    # names (its patterns: ^datetime -> temporal, ^(var)?char -> string, ^decimal, ^bigint...).
    with closing(engine.raw_connection()) as conn:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT\nTOP 11\n  name,\n  createdon,\n  revenue,\n  accountid,\n  donotemail\nFROM account"
        )
        types = {d[0]: native_type_name(d[1]) for d in cursor.description}
        cursor.execute("SELECT\nTOP 11\n  COUNT(*) AS n\nFROM account")
        types.update({d[0]: native_type_name(d[1]) for d in cursor.description})
        cursor.execute("SELECT TOP 1 * FROM account")
        every = [native_type_name(d[1]) for d in cursor.description]
    assert types == {
        "name": "VARCHAR",
        "createdon": "DATETIMEOFFSET",
        "revenue": "DECIMAL",
        "accountid": "UNIQUEIDENTIFIER",
        "donotemail": "BOOLEAN",
        "n": "BIGINT",
    }
    known = re.compile(r"^(VARCHAR|UNIQUEIDENTIFIER|BOOLEAN|SMALLINT|INTEGER|BIGINT|DECIMAL|DOUBLE|FLOAT|"
                       r"DATETIMEOFFSET|DATE|TIME|VARBINARY)$")
    assert all(name is not None and known.match(name) for name in every)
    assert native_type_name("") is None and native_type_name(None) is None
    assert native_type_name("Edm.SomethingNew") == "VARCHAR"


# -- charts and datasets -------------------------------------------------------------------------

CHART_GROUP_BY = [
    # engine spec (T-SQL), Superset's own compile through the dialect, generic spec (ANSI)
    "SELECT\nTOP 10\n  industrycodename AS industrycodename,\n  COUNT(*) AS count,\n"
    "  SUM(revenue) AS [SUM(revenue)]\nFROM dbo.account\nGROUP BY\n  industrycodename\n"
    "ORDER BY\n  count DESC",
    'SELECT industrycodename AS industrycodename, COUNT(*) AS count, sum(revenue) AS "SUM(revenue)" \n'
    "FROM dbo.account GROUP BY industrycodename ORDER BY count DESC\n LIMIT 10;\n\n",
    "SELECT\n  industrycodename AS industrycodename,\n  COUNT(*) AS count,\n"
    '  SUM(revenue) AS "SUM(revenue)"\n'
    "FROM dbo.account\nGROUP BY\n  industrycodename\nORDER BY\n  count DESC\nLIMIT 10",
]


@pytest.mark.parametrize("sql", CHART_GROUP_BY)
def test_chart_group_by(engine: sa.Engine, accounts: list[dict[str, Any]], sql: str) -> None:
    counts = collections.Counter(a["industrycodename"] for a in accounts)
    names, rows = run(engine, sql)
    # Superset renames result columns to its labels by position. (Known: when the driver groups
    # locally, it lower-cases the alias, "sum(revenue)"; SQL Server would keep "SUM(revenue)".)
    assert [n.casefold() for n in names] == ["industrycodename", "count", "sum(revenue)"]
    assert [n for _, n, _ in rows] == sorted(counts.values(), reverse=True)[:10]
    assert all(counts[k] == n for k, n, _ in rows)


@pytest.mark.parametrize("limit", ["SELECT\nTOP 100\n", "SELECT\n"])
def test_chart_time_range_filter(engine: sa.Engine, accounts: list[dict[str, Any]], limit: str) -> None:
    # Superset's time range: string literals in its own format, compared with a DateTimeOffset.
    sql = (
        limit + "  statecodename AS statecodename,\n  COUNT(*) AS count\nFROM dbo.account\nWHERE\n"
        "  createdon >= '2022-01-01 00:00:00.000000'\n  AND createdon < '2024-01-01 00:00:00.000000'\n"
        "GROUP BY\n  statecodename" + ("" if "TOP" in limit else "\nLIMIT 100")
    )
    low, high = dt.datetime(2022, 1, 1), dt.datetime(2024, 1, 1)
    expected = collections.Counter(a["statecodename"] for a in accounts if low <= utc(a["createdon"]) < high)
    assert dict(run(engine, sql)[1]) == dict(expected)


def test_chart_filters_distinct_values_and_row_count(
    engine: sa.Engine, accounts: list[dict[str, Any]]
) -> None:
    _, rows = run(
        engine,
        "SELECT\nTOP 5\n  name AS name,\n  revenue AS revenue\nFROM dbo.account\nWHERE\n  revenue > 1000000\n"
        "  AND industrycodename IN ('Accounting', 'Consulting')\n  AND name LIKE 'A%'\n"
        "ORDER BY\n  revenue DESC",
    )
    matching = [
        a for a in accounts
        if (a["revenue"] or 0) > 1_000_000 and a["industrycodename"] in ("Accounting", "Consulting")
        and a["name"].startswith("A")
    ]
    assert [r[1] for r in rows] == sorted((a["revenue"] for a in matching), reverse=True)[:5]

    _, values = run(engine, "SELECT\nTOP 5\n  industrycodename AS industrycodename\nFROM dbo.account\n"
                            "GROUP BY\n  industrycodename")
    assert len(values) == 5 and {v for (v,) in values} <= {a["industrycodename"] for a in accounts}

    _, (count,) = run(
        engine, "SELECT\nTOP 50000\n  COUNT(*) AS count\nFROM dbo.account\nWHERE\n  statecode = 0"
    )
    assert count == (sum(1 for a in accounts if a["statecode"] == 0),)


def _truncate(value: dt.datetime, grain: str) -> dt.datetime:
    value = utc(value)
    if grain == "PT1S":
        return value.replace(microsecond=0)
    if grain == "PT1M":
        return value.replace(second=0, microsecond=0)
    if grain == "PT1H":
        return value.replace(minute=0, second=0, microsecond=0)
    day = value.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "P1D":
        return day
    if grain == "P1W":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    if grain == "P1M":
        return day.replace(day=1)
    if grain == "P3M":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    assert grain == "P1Y"
    return day.replace(day=1, month=1)


@pytest.mark.parametrize("grain", [g for g in TIME_GRAINS if g is not None])
def test_time_grains(engine: sa.Engine, accounts: list[dict[str, Any]], grain: str) -> None:
    expected = collections.Counter(_truncate(a["createdon"], grain) for a in accounts if a["createdon"])
    expr = TIME_GRAINS[grain].format(col="createdon")
    # As Superset compiles the chart (ANSI), then as it sends it with the engine spec (T-SQL: sqlglot
    # upper-cases the unit and moves the limit to TOP).
    ansi = (
        f"SELECT {expr} AS createdon, COUNT(*) AS count \nFROM dbo.account GROUP BY {expr} "
        "ORDER BY count DESC\n LIMIT 10000;\n\n"
    )
    unit = re.sub(r"'(\w+)'", lambda m: "'" + m.group(1).upper() + "'", expr)
    tsql = (
        f"SELECT\nTOP 10000\n  {unit} AS createdon,\n  COUNT(*) AS count\nFROM dbo.account\n"
        f"GROUP BY\n  {unit}"
    )
    for sql in (ansi, tsql):
        rows = run(engine, sql)[1]
        assert {utc(k): n for k, n in rows if k is not None} == dict(expected), sql


def test_epoch_seconds_expression(engine: sa.Engine, accounts: list[dict[str, Any]]) -> None:
    expr = EPOCH_SECONDS_TO_DATETIME.format(col="numberofemployees")
    _, rows = run(engine, f"SELECT accountid, {expr} AS t FROM account WHERE numberofemployees IS NOT NULL")
    employees = {a["accountid"]: a["numberofemployees"] for a in accounts}
    assert rows
    for accountid, value in rows:
        expected = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=employees[accountid])
        assert value.replace(tzinfo=None) == expected


VIRTUAL = (
    "SELECT\n    a.name AS name,\n    a.revenue AS revenue,\n    a.createdon AS createdon,\n"
    "    a.industrycodename AS industrycodename,\n    c.fullname AS fullname\n  FROM account AS a\n"
    "  LEFT JOIN contact AS c\n    ON c.contactid = a.primarycontactid\n  WHERE\n    a.statecode = 0"
)


@pytest.fixture(scope="module")
def active(accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in accounts if a["statecode"] == 0]


def test_virtual_dataset_probe_and_wrapping(
    engine: sa.Engine, active: list[dict[str, Any]]
) -> None:
    # Creating / syncing a dataset from SQL: Superset runs the query with TOP 1 for its columns.
    names, rows = run(
        engine,
        "SELECT\nTOP 1\n  a.name,\n  a.revenue,\n  a.createdon,\n  a.industrycodename,\n  c.fullname\n"
        "FROM account AS a\nLEFT JOIN contact AS c\n  ON c.contactid = a.primarycontactid\n"
        "WHERE\n  a.statecode = 0",
    )
    assert names == ["name", "revenue", "createdon", "industrycodename", "fullname"] and len(rows) == 1

    counts = collections.Counter(a["industrycodename"] for a in active)
    _, grouped = run(
        engine,
        "SELECT\nTOP 5\n  industrycodename AS industrycodename,\n  COUNT(*) AS count,\n"
        "  AVG(revenue) AS avg_rev\n"
        f"FROM (\n  {VIRTUAL}\n) AS virtual_table\nGROUP BY\n  industrycodename\nORDER BY\n  count DESC",
    )
    assert [n for _, n, _ in grouped] == sorted(counts.values(), reverse=True)[:5]

    low, high = dt.datetime(2022, 1, 1), dt.datetime(2023, 1, 1)
    weeks = collections.Counter(
        _truncate(a["createdon"], "P1W") for a in active if low <= utc(a["createdon"]) < high
    )
    _, weekly = run(
        engine,
        "SELECT\nTOP 100\n  DATE_TRUNC('WEEK', createdon) AS createdon,\n  COUNT(*) AS count\n"
        f"FROM (\n  {VIRTUAL}\n) AS virtual_table\nWHERE\n  createdon >= '2022-01-01 00:00:00.000000'\n"
        "  AND createdon < '2023-01-01 00:00:00.000000'\nGROUP BY\n  DATE_TRUNC('WEEK', createdon)",
    )
    assert {utc(k): n for k, n in weekly} == dict(weeks)
