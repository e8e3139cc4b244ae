"""Arrow results of local (DuckDB) plans: DuckDB's own record batches against the tuple path.

Every query here is finished by the local engine (joins, local aggregates, CASE, window
functions...). Each runs twice against the sandbox: once read as tuples and built into Arrow by
``arrow.py``'s tuple path, once read with the Arrow methods, which take DuckDB's record batches
(``engine.LocalRows``). The two tables must be equal -- schema and values -- and the Arrow read
must really have gone through DuckDB's batches (counted).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import d365conn
from d365conn import engine
from d365conn.arrow import _BatchBuilder, arrow_schema, to_pandas

JOIN = (
    "SELECT c.contactid, c.fullname, c.birthdate, a.accountid, a.name, a.revenue, a.createdon, "
    "a.numberofemployees, a.donotemail FROM contact c JOIN account a ON c.parentcustomerid = a.accountid"
)

QUERIES = {
    "join": JOIN + " ORDER BY c.contactid",
    "group_by": (
        "SELECT a.name, COUNT(*) AS n, SUM(a.revenue) AS total, AVG(a.revenue) AS mean, "
        "SUM(a.numberofemployees) AS staff, MIN(c.createdon) AS first_seen, MAX(c.birthdate) AS youngest, "
        "COUNT(c.birthdate) AS dated FROM account a JOIN contact c ON c.parentcustomerid = a.accountid "
        "GROUP BY a.name ORDER BY a.name"
    ),
    "case": (
        "SELECT accountid, CASE WHEN revenue > 1000000 THEN 'big' WHEN revenue IS NULL THEN NULL "
        "ELSE 'small' END AS size, "
        "CASE WHEN numberofemployees IS NULL THEN NULL ELSE donotemail END AS flag, "
        "CASE WHEN donotemail = 1 THEN numberofemployees END AS staff, "
        "CASE WHEN revenue IS NULL THEN primarycontactid END AS contact FROM account ORDER BY accountid"
    ),
    "window": (
        "SELECT accountid, ROW_NUMBER() OVER (PARTITION BY statecode ORDER BY createdon, accountid) AS rn, "
        "SUM(revenue) OVER (PARTITION BY statecode) AS state_total, "
        "LAG(createdon) OVER (ORDER BY createdon, accountid) AS previous FROM account ORDER BY accountid"
    ),
    "expressions": (
        "SELECT accountid, CAST(createdon AS DATE) AS created_day, CAST(createdon AS DATETIME2) AS naive, "
        "revenue * 2 AS doubled, revenue / 3 AS third, NULL AS nothing, exchangerate, versionnumber, "
        "address1_latitude FROM account ORDER BY accountid"
    ),
    "nulls_join": (
        "SELECT c.contactid, c.birthdate, a.revenue, a.primarycontactid FROM contact c "
        "JOIN account a ON c.parentcustomerid = a.accountid WHERE a.revenue IS NULL OR c.birthdate IS NULL "
        "ORDER BY c.contactid"
    ),
    "empty": JOIN + " WHERE a.name = 'no account has this name' ORDER BY c.contactid",
}


@pytest.fixture(scope="module")
def conn(d365_sandbox: Any) -> Iterator[d365conn.Connection]:
    with d365conn.connect(d365_sandbox.connection_string) as connection:
        yield connection


@pytest.fixture
def readers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The local statements whose rows were handed over as DuckDB record batches."""
    seen: list[str] = []
    real = engine.LocalEngine._arrow_reader

    def spy(self: engine.LocalEngine, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        seen.append(sql)
        return real(self, sql, batch_rows)

    monkeypatch.setattr(engine.LocalEngine, "_arrow_reader", spy)
    return seen


def _tuple_path(cur: d365conn.Cursor, sql: str) -> tuple[pa.Table, list[tuple[Any, ...]]]:
    cur.execute(sql)
    description = cur.description or ()
    rows = cur.fetchall()
    batches = [_BatchBuilder(description).build(rows)] if rows else []  # as arrow.iter_batches does
    table = pa.Table.from_batches(batches, arrow_schema(description))
    return table, rows


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_duckdb_batches_equal_the_tuple_path(
    conn: d365conn.Connection, readers: list[str], name: str
) -> None:
    cur = conn.cursor()
    want, rows = _tuple_path(cur, QUERIES[name])
    assert not readers and cur.rowcount == len(rows)
    cur.execute(QUERIES[name])
    got = cur.fetch_arrow_table()
    assert len(readers) == 1  # DuckDB's batches, not tuples
    assert got.schema == want.schema == arrow_schema(cur.description or ())
    assert got.equals(want)
    assert cur.rowcount == len(rows) == got.num_rows
    assert cur.fetchone() is None  # the rows went to the Arrow reader
    if name != "empty":
        assert got.num_rows > 0


def test_query_set_covers_every_type_with_nulls(conn: d365conn.Connection, readers: list[str]) -> None:
    """The comparison above means something: GUIDs, decimals (columns, sums, arithmetic), timestamps,
    dates, nullable ints and booleans all occur, most with NULLs somewhere. (DuckDB-only types --
    HUGEINT, unsigned, naive TIMESTAMP, BLOB -- are compared in test_arrow_local_engine.py.)"""
    cur = conn.cursor()
    types: dict[str, pa.DataType] = {}
    nulls: set[str] = set()
    for sql in QUERIES.values():
        cur.execute(sql)
        description = cur.description or ()
        table = cur.fetch_arrow_table()
        for field, column in zip(table.schema, table.columns, strict=True):
            key = str(field.type)
            types[key] = field.type
            if column.null_count:
                nulls.add(key)
        naive = [d for d in description if d[0] == "naive"]
        assert naive == [] or naive[0][1] == "Edm.DateTimeOffset"
    expected = {
        "string",  # text and GUIDs
        "decimal128(22, 4)",  # revenue
        "timestamp[us, tz=UTC]",
        "date32[day]",
        "int32",
        "int64",
        "bool",
        "double",
    }
    assert expected <= set(types)
    # Aggregates and arithmetic on decimals (their precision follows the planner's typing rules).
    assert len([t for t in types.values() if pa.types.is_decimal(t)]) >= 3
    assert {"string", "decimal128(22, 4)", "timestamp[us, tz=UTC]", "date32[day]", "int32", "bool"} <= nulls


def test_dataframe_equals_the_tuple_path(conn: d365conn.Connection, readers: list[str]) -> None:
    cur = conn.cursor()
    want, _ = _tuple_path(cur, QUERIES["group_by"])
    for backend in ("numpy_nullable", "pyarrow"):
        cur.execute(QUERIES["group_by"])
        frame = cur.fetch_df(backend)
        pd.testing.assert_frame_equal(frame, to_pandas(want, backend))
    assert len(readers) == 2


def test_tuples_first_then_arrow_continues_from_the_tuple_path(
    conn: d365conn.Connection, readers: list[str]
) -> None:
    cur = conn.cursor()
    want, rows = _tuple_path(cur, QUERIES["join"])
    cur.execute(QUERIES["join"])
    assert cur.fetchone() == rows[0]
    assert cur.fetchmany(2) == rows[1:3]
    rest = cur.fetch_arrow_table()
    assert not readers  # one stream, one form: the tuple path continues
    assert rest.equals(want.slice(3))
    assert cur.rowcount == len(rows) and cur.rownumber == len(rows)


def test_tuples_unchanged(conn: d365conn.Connection) -> None:
    """fetchone / fetchmany / fetchall / iteration of a local result give the same rows in any mix."""
    cur = conn.cursor()
    _, rows = _tuple_path(cur, QUERIES["window"])
    cur.execute(QUERIES["window"])
    mixed = [cur.fetchone(), *cur.fetchmany(5), *[next(cur) for _ in range(3)], *cur.fetchall()]
    assert mixed == rows and cur.rowcount == len(rows) == 500
    cur.arraysize = 7
    cur.execute(QUERIES["window"])
    assert list(cur) == rows


def test_record_batches_stream_and_are_counted(conn: d365conn.Connection, readers: list[str]) -> None:
    cur = conn.cursor()
    want, rows = _tuple_path(cur, QUERIES["case"])
    cur.execute(QUERIES["case"])
    reader = cur.fetch_record_batches(batch_size=200)
    assert reader.schema == want.schema
    first = reader.read_next_batch()
    assert first.num_rows == 200 and cur.rownumber == 200 and cur.rowcount == -1
    rest = list(reader)
    assert [b.num_rows for b in rest] == [200, 100]
    assert pa.Table.from_batches([first, *rest]).equals(want)
    assert cur.rowcount == 500 == len(rows) and len(readers) == 1


def test_closing_mid_stream_and_running_the_next_statement(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute(QUERIES["join"])
    reader = cur.fetch_record_batches(batch_size=10)
    assert reader.read_next_batch().num_rows == 10
    cur.execute(QUERIES["case"])  # the unfinished local result is dropped, its engine closed
    assert cur.fetch_arrow_table().num_rows == 500
    cur.execute(QUERIES["join"])
    reader = cur.fetch_record_batches(batch_size=10)
    assert reader.read_next_batch().num_rows == 10
    cur.close()
    with pytest.raises(d365conn.InterfaceError):
        cur.fetch_arrow_table()
