"""An aggregate's result type does not depend on where it ran: a differential test over real sockets.

Every aggregate (COUNT(*), COUNT, COUNT DISTINCT, SUM, AVG, MIN, MAX) over a column of every kind
(int, bigint, decimal, money, double, datetime, string) runs three ways against a Dataverse
sandbox:

- **pushed**: the connection as it comes; the service answers with ``$apply`` (EXPLAIN must show
  it wherever the capability row allows it);
- **local**: a connection whose capability row has ``apply`` and ``count_path`` switched off (as
  ``planner/capabilities.py`` lets a connection adjust its row), so DuckDB computes the same
  statement over a scan -- the plan the 50,000-row aggregate-limit fallback runs;
- **shape**: the aggregate over a derived table, a query shape the service cannot answer.

Each must give the same ``cursor.description`` rows, the same Python value types and values, and
the same Arrow schema and values from ``fetch_arrow_table()``; and the description must be the one
rule of ``d365conn/planner/aggtypes.py`` (checked against a table written out here). Business
Central (no ``$apply``: only ``COUNT(*)`` is pushed, as ``/$count``) is checked against the same
rule and against values computed here from the raw rows. Plain OData v4 runs against SAP CAP (the
interop suite's server, started here on 40 rows of its own): pushed with CAP's ``$apply``, local,
and ``COUNT(*)`` from ``/$count``.

Doubles compare to 12 significant digits: a floating-point sum depends on the order the rows are
added in, which differs between the service and the local engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest

import d365conn
from d365conn.planner import plan_statement
from d365conn.sandbox import Sandbox
from d365conn.sandbox.bc import BCSandbox

# kind -> (table, column, its Edm type, precision, scale as the rule sees them)
COLUMNS: dict[str, tuple[str, str]] = {
    "int": ("account", "numberofemployees"),
    "bigint": ("account", "versionnumber"),
    # The sandbox stores decimals as binary floats; a pushed SUM of account.exchangerate carries
    # float noise (493.1400000000001) that SQL Server would not. The currency table's three rates
    # (0.79, 0.92, 1.0) add up exactly in binary, so the comparison tests the driver, not that.
    "decimal": ("transactioncurrency", "exchangerate"),
    "money": ("account", "revenue"),
    "double": ("account", "address1_latitude"),
    "datetime": ("account", "createdon"),
    "string": ("account", "name"),
}
AGGREGATES = ("COUNT(*)", "COUNT({c})", "COUNT(DISTINCT {c})", "SUM({c})", "AVG({c})", "MIN({c})", "MAX({c})")

INT64 = ("Edm.Int64", None, None)
DOUBLE = ("Edm.Double", None, None)
ERROR = ("error", None, None)
# The rule (planner/aggtypes.py), written out: (kind, aggregate) -> (type code, precision, scale).
# COUNT* is Int64 everywhere and added below.
EXPECTED: dict[tuple[str, str], tuple[str, int | None, int | None]] = {
    ("int", "SUM"): INT64, ("int", "AVG"): DOUBLE,
    ("int", "MIN"): ("Edm.Int32", None, None), ("int", "MAX"): ("Edm.Int32", None, None),
    ("bigint", "SUM"): INT64, ("bigint", "AVG"): DOUBLE, ("bigint", "MIN"): INT64, ("bigint", "MAX"): INT64,
    # exchangerate: Decimal, precision 23, no scale in the metadata (scale 10 by default)
    ("decimal", "SUM"): ("Edm.Decimal", 38, 10), ("decimal", "AVG"): DOUBLE,
    ("decimal", "MIN"): ("Edm.Decimal", 23, 10), ("decimal", "MAX"): ("Edm.Decimal", 23, 10),
    # revenue: Money, precision 19 scale 4
    ("money", "SUM"): ("Edm.Decimal", 38, 4), ("money", "AVG"): DOUBLE,
    ("money", "MIN"): ("Edm.Decimal", 19, 4), ("money", "MAX"): ("Edm.Decimal", 19, 4),
    ("double", "SUM"): DOUBLE, ("double", "AVG"): DOUBLE,
    ("double", "MIN"): DOUBLE, ("double", "MAX"): DOUBLE,
    # AVG of a date-time is the mean instant (the local engine's; T-SQL refuses it); never pushed.
    ("datetime", "SUM"): ERROR, ("datetime", "AVG"): ("Edm.DateTimeOffset", None, None),
    ("datetime", "MIN"): ("Edm.DateTimeOffset", None, None),
    ("datetime", "MAX"): ("Edm.DateTimeOffset", None, None),
    ("string", "SUM"): ERROR, ("string", "AVG"): ERROR,
    ("string", "MIN"): ("Edm.String", None, None), ("string", "MAX"): ("Edm.String", None, None),
}  # fmt: skip
PYTHON_TYPES = {
    "Edm.Int32": int,
    "Edm.Int64": int,
    "Edm.Double": float,
    "Edm.Decimal": decimal.Decimal,
    "Edm.DateTimeOffset": dt.datetime,
    "Edm.Date": dt.date,
    "Edm.String": str,
}


def expected_type(kind: str, aggregate: str) -> tuple[str, int | None, int | None]:
    name = aggregate.split("(", 1)[0]
    return INT64 if name == "COUNT" else EXPECTED[(kind, name)]


def pushable(kind: str, aggregate: str) -> bool:
    """Whether Dataverse's ``$apply`` answers this aggregate (COUNT(col) has no $apply method;
    sum and average are for numbers)."""
    if aggregate == "COUNT({c})":
        return False
    if aggregate.startswith(("SUM", "AVG")):
        return kind in ("int", "bigint", "decimal", "money", "double")
    return True


# --- running a statement ------------------------------------------------------------------------


@dataclass
class Outcome:
    description: list[tuple[Any, ...]]
    rows: list[tuple[Any, ...]]
    arrow: pa.Table | None
    explain: str
    error: str | None = None


def run(conn: d365conn.Connection, sql: str) -> Outcome:
    cur = conn.cursor()
    cur.execute("EXPLAIN " + sql)
    explain = "\n".join(str(row[0]) for row in cur.fetchall())
    try:
        cur.execute(sql)
    except d365conn.Error as err:
        return Outcome([], [], None, explain, type(err).__name__)
    description = [tuple(d) for d in cur.description or ()]
    rows = cur.fetchall()
    cur.execute(sql)
    arrow = cur.fetch_arrow_table()
    cur.close()
    return Outcome(description, rows, arrow, explain)


def same_value(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return bool(a == b)


def fits_scale(value: decimal.Decimal, scale: int) -> bool:
    return value == value.quantize(decimal.Decimal(1).scaleb(-scale))


def assert_same(a: Outcome, b: Outcome, what: str) -> None:
    assert a.error == b.error, what
    assert a.description == b.description, what
    assert len(a.rows) == len(b.rows), what
    for ra, rb in zip(a.rows, b.rows, strict=True):
        assert all(same_value(x, y) for x, y in zip(ra, rb, strict=True)), f"{what}: {ra} != {rb}"
    if a.arrow is None or b.arrow is None:
        assert a.arrow is None and b.arrow is None, what
        return
    assert a.arrow.schema == b.arrow.schema, what
    for ca, cb in zip(a.arrow.columns, b.arrow.columns, strict=True):
        assert all(same_value(x, y) for x, y in zip(ca.to_pylist(), cb.to_pylist(), strict=True)), what


def assert_rule(outcome: Outcome, index: int, rule: tuple[str, int | None, int | None], what: str) -> None:
    """Column ``index`` is described, valued and Arrow-typed as the rule says."""
    type_code, precision, scale = rule
    if type_code == "error":
        assert outcome.error == "ProgrammingError", what
        return
    assert outcome.error is None, what
    desc = outcome.description[index]
    assert (desc[1], desc[4], desc[5], desc[6]) == (type_code, precision, scale, True), what
    assert desc[1] == d365conn.NUMBER or desc[1] in (d365conn.DATETIME, d365conn.STRING), what
    for row in outcome.rows:
        value = row[index]
        assert value is None or type(value) is PYTHON_TYPES[type_code], f"{what}: {value!r}"
        if isinstance(value, decimal.Decimal) and scale is not None:
            assert fits_scale(value, scale), f"{what}: {value} has digits beyond scale {scale}"
    assert outcome.arrow is not None
    arrow_type = outcome.arrow.schema.field(index).type
    if type_code == "Edm.Decimal":
        assert arrow_type == pa.decimal128(precision or 38, scale or 0), what
    else:
        assert arrow_type == {
            "Edm.Int32": pa.int32(), "Edm.Int64": pa.int64(), "Edm.Double": pa.float64(),
            "Edm.DateTimeOffset": pa.timestamp("us", tz="UTC"), "Edm.Date": pa.date32(),
            "Edm.String": pa.string(),
        }[type_code], what  # fmt: skip


# --- Dataverse: pushed, local, and local by shape ------------------------------------------------


@pytest.fixture(scope="module")
def dataverse() -> Iterator[Sandbox]:
    with Sandbox(rows=200, seed=5) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def pushed(dataverse: Sandbox) -> Iterator[d365conn.Connection]:
    with d365conn.connect(dataverse.connection_string) as conn:
        yield conn


@pytest.fixture(scope="module")
def local(dataverse: Sandbox) -> Iterator[d365conn.Connection]:
    with d365conn.connect(dataverse.connection_string) as conn:
        service = conn.service
        service.capabilities = dataclasses.replace(service.capabilities, apply=False, count_path=False)
        yield conn


def statements(table: str, aggs: list[str], key: str) -> dict[str, str]:
    """The shapes each group of aggregates runs in (``key``: a column for the derived table)."""
    listed = ", ".join(aggs)
    aliased = ", ".join(f"{a} AS v{i}" for i, a in enumerate(aggs))
    inner = sorted({key, *(a[a.index("(") + 1 : -1].removeprefix("DISTINCT ") for a in aggs)} - {"*"})
    return {
        # Unaliased: the column names are the statement's text, whichever side computed them.
        "plain": f"SELECT {listed} FROM {table}",
        "grouped": f"SELECT statecode, {aliased} FROM {table} GROUP BY statecode ORDER BY statecode",
        # HAVING on an aggregate: the service groups, a local tail filters (and must keep the types).
        "having": (
            f"SELECT statecode, {aliased} FROM {table} GROUP BY statecode "
            f"HAVING {aggs[0]} IS NOT NULL ORDER BY statecode"
        ),
        # A derived table: a shape the service cannot answer, so the local engine always does.
        "shape": f"SELECT {listed} FROM (SELECT {', '.join(inner)} FROM {table}) AS d",
    }


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_dataverse_aggregates_are_typed_alike_pushed_and_local(
    pushed: d365conn.Connection, local: d365conn.Connection, kind: str
) -> None:
    table, column = COLUMNS[kind]
    key = "accountid" if table == "account" else "transactioncurrencyid"
    mine = [a for a in AGGREGATES if a != "COUNT(*)" or kind in ("int", "decimal")]
    groups = [
        [a.format(c=column) for a in mine if pushable(kind, a)],  # one $apply
        # never pushed: COUNT(col), AVG of a date-time
        [a.format(c=column) for a in mine if not pushable(kind, a) and expected_type(kind, a) != ERROR],
    ]
    failing = [a.format(c=column) for a in mine if expected_type(kind, a) == ERROR]
    rules = {a.format(c=column): expected_type(kind, a) for a in mine}
    for aggs, shapes in zip(groups, (("plain", "grouped", "having", "shape"), ("plain",)), strict=True):
        for name, sql in statements(table, aggs, key).items():
            if name not in shapes:
                continue  # never pushed: both sides run the same local plan in every shape
            what = f"{name}: {sql}"
            there = run(pushed, sql)
            here = run(local, sql)
            assert "$apply" not in here.explain, what
            service_answers = name != "shape" and any(a in groups[0] for a in aggs)
            assert ("$apply" in there.explain) == service_answers, f"{what}\n{there.explain}"
            if name == "having" and service_answers:
                assert "locally: SELECT" in there.explain.split("if the service refuses")[0], what
            assert_same(there, here, what)
            first = 0 if name in ("plain", "shape") else 1
            for index, agg in enumerate(aggs, first):
                assert_rule(there, index, rules[agg], f"{what} [{agg}]")
            assert there.rows, what
            if name in ("plain", "shape"):
                assert [d[0] for d in there.description] == aggs, what
    for agg in failing:  # SUM/AVG of text or a date: refused alike, wherever it would have run
        sql = f"SELECT {agg} FROM {table}"
        there, here = run(pushed, sql), run(local, sql)
        assert_same(there, here, sql)
        assert_rule(there, 0, ERROR, sql)


def test_fallback_plan_describes_what_the_pushed_plan_does(pushed: d365conn.Connection) -> None:
    """The plan run when the service refuses an aggregate (over 50,000 rows) has the same columns."""
    catalog = pushed.service.catalog
    caps = pushed.service.capabilities
    for kind, (table, column) in COLUMNS.items():
        aggs = [a.format(c=column) for a in AGGREGATES if pushable(kind, a)]
        for sql in list(statements(table, aggs, column).values())[:2]:
            plan = plan_statement(sql, None, catalog, caps)
            assert plan.fallback is not None, sql
            described = [(c.name, c.edm_type, c.precision, c.scale) for c in plan.columns]
            fallback = [(c.name, c.edm_type, c.precision, c.scale) for c in plan.fallback.columns]
            assert fallback == described, sql


def test_count_is_bigint_even_for_a_count_over_a_join(pushed: d365conn.Connection) -> None:
    """A local COUNT can pass 2**31 where the service's could not: Int64 is the one safe type."""
    cur = pushed.cursor()
    cur.execute("SELECT COUNT(*) AS n FROM account a CROSS JOIN account b")
    assert cur.description is not None
    assert cur.description[0][1] == "Edm.Int64"
    (row,) = cur.fetchall()
    cur.execute("SELECT COUNT(*) FROM account")
    (single,) = cur.fetchall()
    assert row[0] == single[0] ** 2


# --- Business Central: no $apply, one rule all the same -------------------------------------------

BC_COLUMNS = {
    "int": "entryNumber",
    "decimal": "debitAmount",  # Edm.Decimal, Precision 38, Scale="Variable": scale 10 by the rule
    "date": "postingDate",
    "datetime": "lastModifiedDateTime",
    "string": "description",
}
BC_EXPECTED: dict[tuple[str, str], tuple[str, int | None, int | None]] = {
    ("int", "SUM"): INT64, ("int", "AVG"): DOUBLE,
    ("int", "MIN"): ("Edm.Int32", None, None), ("int", "MAX"): ("Edm.Int32", None, None),
    ("decimal", "SUM"): ("Edm.Decimal", 38, 10), ("decimal", "AVG"): DOUBLE,
    ("decimal", "MIN"): ("Edm.Decimal", 38, 10), ("decimal", "MAX"): ("Edm.Decimal", 38, 10),
    ("date", "MIN"): ("Edm.Date", None, None), ("date", "MAX"): ("Edm.Date", None, None),
    ("date", "AVG"): ("Edm.DateTimeOffset", None, None),  # the mean instant, as for date-times
    ("datetime", "AVG"): ("Edm.DateTimeOffset", None, None),
    ("datetime", "MIN"): ("Edm.DateTimeOffset", None, None),
    ("datetime", "MAX"): ("Edm.DateTimeOffset", None, None),
    ("string", "MIN"): ("Edm.String", None, None), ("string", "MAX"): ("Edm.String", None, None),
}  # fmt: skip


@pytest.fixture(scope="module")
def bc_url() -> Iterator[str]:
    with BCSandbox(rows=30, ledger_rows=120, seed=7) as sandbox:
        yield sandbox.connection_string_for(sandbox.service_url, Company="CRONUS USA, Inc.")


@pytest.fixture(scope="module")
def business_central(bc_url: str) -> Iterator[d365conn.Connection]:
    with d365conn.connect(bc_url) as conn:
        yield conn


def python_aggregate(name: str, values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if name == "COUNT":
        return len(present)
    if name == "COUNT DISTINCT":
        return len(set(present))
    if not present:
        return None
    if name == "SUM":
        return sum(present)
    if name == "AVG" and isinstance(present[0], dt.date):
        # The mean instant; a date counts as its midnight UTC.
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        instants = [
            v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time(), dt.timezone.utc)
            for v in present
        ]
        micros = sum((v - epoch) // dt.timedelta(microseconds=1) for v in instants) / len(instants)
        return epoch + dt.timedelta(microseconds=micros)
    if name == "AVG":
        return float(sum(decimal.Decimal(v) for v in present) / len(present))
    return min(present) if name == "MIN" else max(present)


def test_business_central_count_star_is_typed_alike_from_count_path_and_locally(
    business_central: d365conn.Connection, bc_url: str
) -> None:
    sql = "SELECT COUNT(*) FROM generalLedgerEntries"
    there = run(business_central, sql)
    assert "/$count" in there.explain
    with d365conn.connect(bc_url) as conn:
        service = conn.service
        service.capabilities = dataclasses.replace(service.capabilities, count_path=False)
        here = run(conn, sql)
    assert "/$count" not in here.explain
    assert_same(there, here, sql)
    assert_rule(there, 0, INT64, sql)
    assert there.rows == [(120,)]


@pytest.mark.parametrize("kind", list(BC_COLUMNS))
def test_business_central_aggregates_follow_the_rule(
    business_central: d365conn.Connection, kind: str
) -> None:
    column = BC_COLUMNS[kind]
    cur = business_central.cursor()
    cur.execute(f"SELECT {column} FROM generalLedgerEntries")
    values = [row[0] for row in cur.fetchall()]
    names = ["COUNT", "COUNT DISTINCT", "SUM", "AVG", "MIN", "MAX"]
    rules = {n: INT64 if n.startswith("COUNT") else BC_EXPECTED.get((kind, n), ERROR) for n in names}
    valid = [n for n in names if rules[n] != ERROR]

    def spelled(name: str) -> str:
        return f"{name.split(maxsplit=1)[0]}({'DISTINCT ' if name.endswith('DISTINCT') else ''}{column})"

    sql = f"SELECT {', '.join(spelled(n) for n in valid)} FROM generalLedgerEntries"
    outcome = run(business_central, sql)
    assert "locally:" in outcome.explain and "$apply" not in outcome.explain, sql
    (row,) = outcome.rows
    for index, name in enumerate(valid):
        assert_rule(outcome, index, rules[name], f"{sql} [{name}]")
        expected = python_aggregate(name, values)
        if isinstance(expected, float):
            assert math.isclose(row[index], expected, rel_tol=1e-12), f"{sql} [{name}]"
        elif name == "AVG":  # an instant: DuckDB rounds the mean to whole microseconds
            assert abs(row[index] - expected) <= dt.timedelta(microseconds=1), f"{sql} [{name}]"
        else:
            assert row[index] == expected, f"{sql} [{name}]"
    for name in names:
        if rules[name] == ERROR:
            refused = f"SELECT {spelled(name)} FROM generalLedgerEntries"
            assert_rule(run(business_central, refused), 0, ERROR, refused)


# --- plain OData v4: SAP CAP, a third-party $apply implementation ----------------------------------

CAP_COLUMNS = [
    "accountid", "name", "revenue", "numberofemployees", "statecode", "address1_latitude", "createdon",
]  # fmt: skip
CAP_AGGREGATES = {
    # alias: (aggregate, rule) -- revenue is Decimal(19, 4) in project/db/schema.cds
    "n": ("COUNT(*)", INT64),
    "cd": ("COUNT(DISTINCT name)", INT64),
    "si": ("SUM(numberofemployees)", INT64),
    "ai": ("AVG(numberofemployees)", DOUBLE),
    "mi": ("MIN(numberofemployees)", ("Edm.Int32", None, None)),
    "sm": ("SUM(revenue)", ("Edm.Decimal", 38, 4)),
    "am": ("AVG(revenue)", DOUBLE),
    "mm": ("MAX(revenue)", ("Edm.Decimal", 19, 4)),
    "sd": ("SUM(address1_latitude)", DOUBLE),
    "xd": ("MAX(address1_latitude)", DOUBLE),
    "xt": ("MAX(createdon)", ("Edm.DateTimeOffset", None, None)),
    "ns": ("MIN(name)", ("Edm.String", None, None)),
}


def cap_rows() -> list[tuple[Any, ...]]:
    rows = []
    for i in range(40):
        revenue = decimal.Decimal(f"{1000 + i * 37}.{(i * 1307) % 10000:04d}") if i % 4 else None
        rows.append((
            str(uuid.UUID(int=i + 1)), f"name {i % 7}", revenue, 10 * i if i % 3 else None, i % 2,
            1.25 * i - 7.5, dt.datetime(2024, 1, 1 + i % 28, i % 24, tzinfo=dt.timezone.utc),
        ))  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def cap_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.interop.cap.cap_server import CapServer, ensure_node_modules, write_project

    ensure_node_modules()  # a no-op when the locked modules are installed (they are in this tree)
    directory = write_project(tmp_path_factory.mktemp("cap"), {"account": (CAP_COLUMNS, cap_rows())})
    with CapServer(directory) as server:
        yield f"ServiceURL={server.service_url};AuthenticationMethod=None"


@pytest.mark.interop
def test_plain_odata_aggregates_are_typed_alike_pushed_and_local(cap_url: str) -> None:
    listed = ", ".join(f"{agg} AS {alias}" for alias, (agg, _) in CAP_AGGREGATES.items())
    queries = {
        "plain": f"SELECT {listed} FROM account",
        "grouped": f"SELECT statecode, {listed} FROM account GROUP BY statecode ORDER BY statecode",
        "count": "SELECT COUNT(*) FROM account",
    }
    with d365conn.connect(cap_url) as there_conn, d365conn.connect(cap_url) as here_conn:
        # A CAP server implements $apply: it opts in, as planner/capabilities.py describes.
        there_conn.service.capabilities = dataclasses.replace(there_conn.service.capabilities, apply=True)
        caps = here_conn.service.capabilities
        here_conn.service.capabilities = dataclasses.replace(caps, apply=False, count_path=False)
        for name, sql in queries.items():
            there, here = run(there_conn, sql), run(here_conn, sql)
            assert "$apply" in there.explain and "locally: nothing" in there.explain, there.explain
            assert "$apply" not in here.explain and "/$count" not in here.explain, here.explain
            assert_same(there, here, sql)
            first = 1 if name == "grouped" else 0
            rules = [INT64] if name == "count" else [rule for _, rule in CAP_AGGREGATES.values()]
            for index, rule in enumerate(rules, first):
                assert_rule(there, index, rule, f"{sql} [{index}]")
        # Plain OData as it comes (no $apply): COUNT(*) alone from /$count, typed as everywhere else.
        with d365conn.connect(cap_url) as plain:
            counted = run(plain, queries["count"])
            assert "/$count" in counted.explain
            assert_same(counted, here, queries["count"])
            assert counted.rows == [(40,)]
