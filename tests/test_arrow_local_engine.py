"""``engine.LocalRows``: DuckDB's record batches against its tuples, type by type, on a real DuckDB.

The tuple path's table is built by ``arrow.py`` from DuckDB's Python values; the Arrow path casts
DuckDB's own record batches to the same schema. They must be equal for every result type that
goes the Arrow way, and the types that have no exact Arrow export must stay on the tuple path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from d365conn import engine
from d365conn.arrow import _BatchBuilder, arrow_schema
from d365conn.engine import LocalEngine, LocalRows
from d365conn.exceptions import DataError, ProgrammingError

#: One column per DuckDB result type the Arrow path takes, each NULL on every third row.
TYPED = {
    "u": "uuid()",
    "tz": "TIMESTAMPTZ '2024-02-29 23:59:59.123456+00' + to_seconds(i * 3601)",
    "naive": "TIMESTAMP '1999-12-31 12:00:00.5' + to_microseconds(i * 7)",
    "money": "(i * 1.2345)::DECIMAL(19,4)",
    "tiny_dec": "(i % 10 / 10)::DECIMAL(2,1)",
    "wide_dec": "(i * 123456789012345)::DECIMAL(38,0)",
    "huge": "i::HUGEINT * 123456789012345678901",
    "uhuge": "i::UHUGEINT * 1000000007",
    "ubig": "18446744073709551615::UBIGINT - i",
    "usmall": "(65535 - i)::USMALLINT",
    "uint": "(4294967295 - i)::UINTEGER",
    "text": "'row ' || i || ' \u00e9'",
    "day": "DATE '2024-01-01' + i::INTEGER",
    "clock": "TIME '00:00:00.25' + to_seconds(i)",
    "blob": "('b' || i)::BLOB",
    "flag": "i % 2 = 0",
    "single": "(i / 4)::FLOAT",
    "double": "i / 3",
    "tiny": "(i % 100 - 50)::TINYINT",
    "utiny": "(i % 250)::UTINYINT",
    "small": "(i - 300)::SMALLINT",
    "int": "(i * -7)::INTEGER",
    "big": "i * 10000000000",
}


def _select(columns: dict[str, str], rows: int) -> str:
    parts = [f"CASE WHEN i % 3 = 1 THEN NULL ELSE {expr} END AS {name}" for name, expr in columns.items()]
    return f"SELECT {', '.join(parts)}, NULL AS nothing FROM range({rows}) t(i) ORDER BY i"


def _run(sql: str) -> tuple[LocalEngine, list[tuple[Any, ...]], LocalRows]:
    eng = LocalEngine()
    columns, rows = eng.query(sql)
    return eng, [c.description() for c in columns], rows


def _tuple_table(sql: str) -> pa.Table:
    _, description, rows = _run(sql)
    got = list(rows)
    return pa.Table.from_batches(
        [_BatchBuilder(description).build(got)] if got else [], arrow_schema(description)
    )


def _arrow_table(sql: str) -> pa.Table:
    _, description, rows = _run(sql)
    schema = arrow_schema(description)
    take = rows.arrow_batches
    assert take is not None, "this result should go the Arrow way"
    return pa.Table.from_batches(list(take(schema, None)), schema)


def test_every_exported_type_equals_the_tuple_path() -> None:
    sql = _select({k: v for k, v in TYPED.items() if k != "u"}, 700)
    want, got = _tuple_table(sql), _arrow_table(sql)
    assert got.schema == want.schema
    assert got.equals(want)
    types = {f.name: str(f.type) for f in got.schema}
    assert types["huge"] == types["uhuge"] == types["ubig"] == "decimal128(38, 10)"
    assert types["money"] == "decimal128(19, 4)" and types["tiny_dec"] == "decimal128(2, 1)"
    assert types["tz"] == types["naive"] == "timestamp[us, tz=UTC]"
    assert types["usmall"] == "int32" and types["uint"] == "int64" and types["nothing"] == "string"
    assert all(got.column(name).null_count > 0 for name in got.column_names)


def test_guids_are_canonical_text() -> None:
    # uuid() differs between two runs, so compare one run's batches with its own UUIDs as text.
    eng = LocalEngine()
    eng._con.execute(
        "CREATE TABLE g AS SELECT CASE WHEN i % 4 = 0 THEN NULL ELSE uuid() END AS u FROM range(300) t(i)"
    )
    want = [None if r[0] is None else str(r[0]) for r in eng._con.execute("SELECT u FROM g").fetchall()]
    columns, rows = eng.query("SELECT u FROM g")
    assert columns[0].type_code == "Edm.Guid"
    take = rows.arrow_batches
    assert take is not None
    schema = arrow_schema([c.description() for c in columns])
    got = [v for b in take(schema, None) for v in b.column(0).to_pylist()]
    assert got == want and None in got and all(v is None or len(v) == 36 for v in got)


@pytest.mark.parametrize(
    "expr",
    [
        "INTERVAL 3 DAY",
        "[1, 2]",
        "{'a': 1}",
        "TIMESTAMP_NS '2024-01-01 00:00:00.123456789'",
        "TIMETZ '01:02:03+02'",
    ],
)
def test_types_without_an_exact_export_stay_on_the_tuple_path(expr: str) -> None:
    _, _, rows = _run(f"SELECT 1 AS n, {expr} AS odd")
    assert rows.arrow_batches is None
    assert len(list(rows)) == 1


def test_a_value_that_does_not_fit_fails_on_both_paths() -> None:
    sql = "SELECT (10::HUGEINT ** 29)::HUGEINT AS huge"  # over decimal128(38, 10)'s 28 integer digits
    with pytest.raises(DataError, match="does not fit the Arrow type decimal128"):
        _tuple_table(sql)
    with pytest.raises(DataError, match="does not fit the Arrow type decimal128"):
        _arrow_table(sql)


def test_engine_errors_while_streaming_are_data_errors() -> None:
    bad = "CAST(CASE WHEN i = 150000 THEN 'x' ELSE i::VARCHAR END AS INTEGER)"  # fails in a later chunk
    sql = f"SELECT {bad} AS n FROM range(200000) t(i)"
    with pytest.raises(DataError, match="local engine error while reading results"):
        _tuple_table(sql)
    with pytest.raises(DataError, match="local engine error while reading results"):
        _arrow_table(sql)
    with pytest.raises(ProgrammingError, match="refers to something unknown"):
        LocalEngine().query("SELECT nosuchcolumn FROM range(3)")


def test_batches_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each DuckDB batch is cast when it is read: nothing is read ahead, nothing is held twice."""
    conformed: list[int] = []
    real = engine.conform

    def counting(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
        conformed.append(batch.num_rows)
        return real(batch, schema)

    monkeypatch.setattr(engine, "conform", counting)
    eng, description, rows = _run(
        "SELECT i, i::VARCHAR AS s, (i / 7)::DECIMAL(18,3) AS d FROM range(300000) t(i)"
    )
    take = rows.arrow_batches
    assert take is not None
    batches: Iterator[pa.RecordBatch] = take(arrow_schema(description), None)
    assert conformed == []  # nothing runs until the first batch is asked for
    first = next(batches)
    assert first.num_rows == 65_536 and conformed == [65_536]
    assert next(batches).num_rows == 65_536 and len(conformed) == 2
    rows.close()  # the cursor stops early: the reader and the engine are closed
    assert eng._closed
    assert list(batches) == []


def _offers_batches(rows: LocalRows) -> bool:
    return rows.arrow_batches is not None


def test_one_stream_one_form() -> None:
    _, description, rows = _run("SELECT i FROM range(10000) t(i) ORDER BY i")
    assert _offers_batches(rows)
    assert next(rows) == (0,)
    assert not _offers_batches(rows)  # a tuple was taken: the rest are tuples too
    assert [r[0] for r in rows] == list(range(1, 10000))

    eng, description, rows = _run("SELECT i FROM range(10000) t(i) ORDER BY i")
    take = rows.arrow_batches
    assert take is not None
    batches = take(arrow_schema(description), None)
    assert not _offers_batches(rows) and list(rows) == []  # the batches own the rows now
    assert sum(b.num_rows for b in batches) == 10000
    assert eng._closed  # read to the end: the engine closed itself


def test_empty_result_has_no_batches() -> None:
    sql = "SELECT i, uuid() AS u, now() AS t FROM range(10) t(i) WHERE i > 100"
    assert _arrow_table(sql).num_rows == 0
    assert _arrow_table(sql).schema == _tuple_table(sql).schema
