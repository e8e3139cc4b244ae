"""Cursor results as Arrow and pandas: types, NULLs, batches -- against the sandbox."""

from __future__ import annotations

import datetime as dt
import decimal
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pandas as pd
import pyarrow as pa
import pytest

import d365conn
from d365conn.arrow import _BatchBuilder, arrow_schema, arrow_type, decimal_type
from d365conn.planner.plan import OutputColumn
from d365conn.values.columnar import ColumnarDecoder
from d365conn.values.jsonpage import PageDecoder


@pytest.fixture(scope="module")
def conn(d365_sandbox: Any) -> Iterator[d365conn.Connection]:
    with d365conn.connect(d365_sandbox.connection_string) as connection:
        yield connection


ACCOUNT_SQL = (
    "SELECT accountid, name, revenue, exchangerate, createdon, numberofemployees, donotemail, "
    "address1_latitude, versionnumber, primarycontactid FROM account ORDER BY accountid"
)


def test_arrow_table_types_and_values_match_the_rows(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute(ACCOUNT_SQL)
    rows = cur.fetchall()
    cur.execute(ACCOUNT_SQL)
    table = cur.fetch_arrow_table()
    schema = table.schema
    assert schema.field("accountid").type == pa.string() and not schema.field("accountid").nullable
    assert schema.field("revenue").type == pa.decimal128(19, 4)
    assert schema.field("createdon").type == pa.timestamp("us", tz="UTC")
    assert schema.field("numberofemployees").type == pa.int32()
    assert schema.field("donotemail").type == pa.bool_()
    assert schema.field("address1_latitude").type == pa.float64()
    assert schema.field("versionnumber").type == pa.int64()
    assert schema.field("primarycontactid").type == pa.string()
    assert table.num_rows == len(rows) == 500
    as_python = list(zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True))
    for got, want in zip(as_python, rows, strict=True):
        assert got[0] == str(want[0]) and got[1] == want[1]
        assert got[2] == want[2]  # Decimal equality: the scale-4 value equals the driver's value
        assert got[4] == want[4] and got[4].tzinfo is not None
        assert got[5] == want[5] and got[6] == want[6]
        assert got[9] == (None if want[9] is None else str(want[9]))
    # NULL integers stay NULL (not NaN, not 0).
    assert table.column("numberofemployees").null_count == sum(1 for r in rows if r[5] is None) > 0
    assert cur.rowcount == 500


def test_dates_and_nullable_booleans(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute(
        "SELECT contactid, birthdate, CASE WHEN birthdate IS NULL THEN NULL ELSE donotemail END AS flag "
        "FROM contact ORDER BY contactid"
    )
    table = cur.fetch_arrow_table()
    assert table.schema.field("birthdate").type == pa.date32()
    assert table.schema.field("flag").type == pa.bool_()
    births = table.column("birthdate").to_pylist()
    assert any(isinstance(b, dt.date) for b in births) and None in births
    assert table.column("flag").null_count == births.count(None)


def test_record_batches_are_lazy_and_sized(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT accountid, revenue FROM account")
    reader = cur.fetch_record_batches(batch_size=200)
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.schema.field("revenue").type == pa.decimal128(19, 4)
    first = reader.read_next_batch()
    assert first.num_rows == 200 and cur.rownumber == 200  # only what was read has been fetched
    rest = [b.num_rows for b in reader]
    assert rest == [200, 100] and cur.rowcount == 500


def test_empty_result_keeps_the_schema(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT name, revenue FROM account WHERE name = 'no such account'")
    table = cur.fetch_arrow_table()
    assert table.num_rows == 0 and table.schema.field("revenue").type == pa.decimal128(19, 4)


def test_fetch_df_uses_nullable_dtypes(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute(ACCOUNT_SQL)
    frame = cur.fetch_df()
    assert str(frame["numberofemployees"].dtype) == "Int32"
    assert (
        frame["numberofemployees"].isna().sum() > 0 and frame["numberofemployees"].dropna().dtype == "Int32"
    )
    assert str(frame["donotemail"].dtype) == "boolean"
    assert str(frame["versionnumber"].dtype) == "Int64"
    assert str(frame["createdon"].dtype) == "datetime64[us, UTC]"
    assert isinstance(frame["revenue"].dropna().iloc[0], decimal.Decimal)
    assert isinstance(frame["accountid"].iloc[0], str) and uuid.UUID(frame["accountid"].iloc[0])


def test_fetch_df_pyarrow_backend(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT TOP 20 revenue, createdon, numberofemployees FROM account")
    frame = cur.fetch_df(dtype_backend="pyarrow")
    assert frame["revenue"].dtype == pd.ArrowDtype(pa.decimal128(19, 4))
    assert frame["createdon"].dtype == pd.ArrowDtype(pa.timestamp("us", tz="UTC"))
    with pytest.raises(d365conn.InterfaceError, match="dtype_backend"):
        cur.execute("SELECT TOP 1 name FROM account")
        cur.fetch_df(dtype_backend="numpy")


def test_missing_pandas_is_a_clear_error(conn: d365conn.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 name FROM account")
    with pytest.raises(d365conn.InterfaceError, match=r"pip install 'd365conn\[pandas\]'"):
        cur.fetch_df()


def test_no_result_set_and_bad_batch_size(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(d365conn.InterfaceError, match="no result set"):
        cur.fetch_arrow_table()
    cur.execute("SELECT TOP 1 name FROM account")
    with pytest.raises(d365conn.InterfaceError, match="positive"):
        list(cur.fetch_record_batches(batch_size=0))


@pytest.mark.parametrize(
    ("code", "precision", "scale", "expected"),
    [
        ("Edm.Decimal", 19, 4, pa.decimal128(19, 4)),
        ("Edm.Decimal", None, None, pa.decimal128(38, 10)),
        ("Edm.Decimal", 2, 4, pa.decimal128(5, 4)),  # precision widened to hold the scale
        ("Edm.Decimal", 60, 2, pa.decimal128(38, 2)),
        ("Edm.Guid", None, None, pa.string()),
        ("Edm.DateTimeOffset", None, None, pa.timestamp("us", tz="UTC")),
        ("Edm.Date", None, None, pa.date32()),
        ("Edm.TimeOfDay", None, None, pa.time64("us")),
        ("Edm.Something", None, None, pa.string()),
    ],
)
def test_type_table(code: str, precision: int | None, scale: int | None, expected: pa.DataType) -> None:
    assert arrow_type(code, precision, scale) == expected
    if code == "Edm.Decimal":
        assert decimal_type(precision, scale) == expected


# --- the columnar path: identical to the tuple path ---------------------------------------------

WIDE_SQL = (
    "SELECT accountid, name, revenue, exchangerate, createdon, numberofemployees, donotemail, "
    "address1_latitude, versionnumber, primarycontactid, modifiedon, creditlimit FROM account"
)


def _tuple_path_table(cur: d365conn.Cursor, sql: str) -> pa.Table:
    cur.execute(sql)
    description = cur.description or ()
    return pa.Table.from_batches(
        [_BatchBuilder(description).build(cur.fetchall())], arrow_schema(description)
    )


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records which path decoded each page handed to a ColumnarDecoder."""
    seen: list[str] = []
    real = ColumnarDecoder.decode

    def decode(self: ColumnarDecoder, rows: Any, first_row: int = 1) -> pa.RecordBatch:
        before = self.columnar_pages
        batch = real(self, rows, first_row)
        seen.append("columnar" if self.columnar_pages > before else "tuples")
        return batch

    monkeypatch.setattr(ColumnarDecoder, "decode", decode)
    return seen


def test_columnar_path_equals_tuple_path_across_pages(d365_sandbox: Any, counted: list[str]) -> None:
    with d365conn.connect(d365_sandbox.connection_string + "PageSize=70;") as connection:
        cur = connection.cursor()
        want = _tuple_path_table(cur, WIDE_SQL)
        assert not counted  # the tuple path never builds a columnar decoder
        cur.execute(WIDE_SQL)
        got = cur.fetch_arrow_table()
        assert cur.rowcount == 500 and got.num_rows == 500
        assert got.schema == want.schema
        assert got.equals(want)
        # Page 1 was decoded as tuples by execute(); the 7 pages after it column by column.
        assert counted == ["columnar"] * 7
        for name in ("revenue", "numberofemployees", "primarycontactid"):  # (every type: see below)
            assert got.column(name).null_count > 0, name


def test_columnar_batches_are_sliced_and_counted(d365_sandbox: Any, counted: list[str]) -> None:
    with d365conn.connect(d365_sandbox.connection_string + "PageSize=300;") as connection:
        cur = connection.cursor()
        cur.execute("SELECT accountid, revenue FROM account ORDER BY accountid")
        reader = cur.fetch_record_batches(batch_size=120)
        sizes = [b.num_rows for b in reader]
        assert sizes == [120, 120, 60, 120, 80] and cur.rowcount == 500
        assert counted == ["columnar"]
        assert cur.fetchone() is None  # the rows went to the Arrow reader


def test_rows_fetched_first_continue_on_the_tuple_path(d365_sandbox: Any, counted: list[str]) -> None:
    with d365conn.connect(d365_sandbox.connection_string + "PageSize=100;") as connection:
        cur = connection.cursor()
        want = _tuple_path_table(cur, WIDE_SQL)
        cur.execute(WIDE_SQL)
        first = cur.fetchmany(3)
        rest = cur.fetch_arrow_table()
        assert not counted and rest.num_rows == 497 and cur.rowcount == 500
        assert rest.equals(want.slice(3)) and len(first) == 3


def _wire_row(i: int) -> dict[str, Any]:
    if i % 5 == 0:
        return {"id": None}  # every other key missing: NULL everywhere
    return {
        "id": str(uuid.UUID(int=i * 7919)),
        "name": f"row {i} \u00e9",
        "amount": decimal.Decimal(f"{i * 3}.{i % 10000:04d}") if i % 3 else None,
        "rate": 1.5 * i if i % 4 else None,
        "when": f"2024-0{1 + i % 9}-1{i % 10}T0{i % 10}:30:00.{i:06d}Z" if i % 7 else None,
        "day": f"2023-1{i % 3}-2{i % 8}" if i % 6 else None,
        "n32": -i if i % 2 else None,
        "n64": 2**40 + i,
        "flag": bool(i % 3 == 1) if i % 8 else None,
    }


_WIDE_COLUMNS = (
    OutputColumn("id", "Edm.Guid", ("id",)),
    OutputColumn("name", "Edm.String", ("name",)),
    OutputColumn("amount", "Edm.Decimal", ("amount",), precision=19, scale=4),
    OutputColumn("rate", "Edm.Double", ("rate",)),
    OutputColumn("when", "Edm.DateTimeOffset", ("when",)),
    OutputColumn("day", "Edm.Date", ("day",)),
    OutputColumn("n32", "Edm.Int32", ("n32",)),
    OutputColumn("n64", "Edm.Int64", ("n64",)),
    OutputColumn("flag", "Edm.Boolean", ("flag",)),
)


def _both_paths(page: list[dict[str, Any]]) -> tuple[pa.RecordBatch, pa.RecordBatch, ColumnarDecoder]:
    description = [(c.name, c.edm_type, None, None, c.precision, c.scale, True) for c in _WIDE_COLUMNS]
    builder = _BatchBuilder(description)
    raw = msgspec.json.Encoder(decimal_format="number").encode(page)  # decimals as JSON numbers
    tuples = builder.build(PageDecoder(_WIDE_COLUMNS).decode(raw))
    columnar = ColumnarDecoder(_WIDE_COLUMNS, builder.schema, builder.build)
    return columnar.decode(raw), tuples, columnar


def test_columnar_decoder_matches_tuples_with_nulls_in_every_type() -> None:
    for first in range(1, 400, 100):  # several pages
        got, want, decoder = _both_paths([_wire_row(i) for i in range(first, first + 100)])
        assert decoder.columnar_pages == 1 and decoder.fallback_pages == 0
        assert got.schema == want.schema and got.equals(want)
        assert all(got.column(i).null_count > 0 for i in range(got.num_columns))


@pytest.mark.parametrize(
    ("key", "odd"),
    [
        ("id", "{6F9619FF-8B86-D011-B42D-00CF4FC964FF}"),  # braces: not a canonical GUID
        ("id", "6f9619ff8b86d011b42d00cf4fc964ff"),  # no hyphens
        ("when", "2024-01-01T00:00:00.1234567Z"),  # 7 fraction digits: Arrow refuses
        ("n64", "12345"),  # an Int64 sent as a string (IEEE754Compatible)
        ("amount", "1.5"),
    ],
)
def test_unusual_pages_fall_back_to_identical_results(key: str, odd: str) -> None:
    page = [_wire_row(i) for i in range(1, 30)]
    page[3][key] = odd
    description = [(c.name, c.edm_type, None, None, c.precision, c.scale, True) for c in _WIDE_COLUMNS]
    builder = _BatchBuilder(description)
    raw = msgspec.json.Encoder(decimal_format="number").encode(page)
    try:
        want = builder.build(PageDecoder(_WIDE_COLUMNS).decode(raw))
    except d365conn.DataError as err:  # the tuple path refuses it: so must the columnar path, alike
        with pytest.raises(d365conn.DataError) as raised:
            ColumnarDecoder(_WIDE_COLUMNS, builder.schema, builder.build).decode(raw)
        assert str(raised.value) == str(err)
        return
    decoder = ColumnarDecoder(_WIDE_COLUMNS, builder.schema, builder.build)
    assert decoder.decode(raw).equals(want)
    assert decoder.columnar_pages + decoder.fallback_pages == 1


def test_uppercase_guids_are_read_like_the_tuple_path() -> None:
    page = [_wire_row(i) for i in range(1, 30)]
    page[2]["id"] = page[2]["id"].upper()
    got, want, decoder = _both_paths(page)
    assert decoder.columnar_pages == 1 and got.equals(want)
    assert got.column(0)[2].as_py() == page[2]["id"].lower()


def test_a_value_too_precise_for_the_scale_is_the_tuple_paths_error() -> None:
    page = [_wire_row(i) for i in range(1, 30)]
    page[4]["amount"] = decimal.Decimal("1.123456")
    with pytest.raises(d365conn.DataError, match="amount"):
        _both_paths(page)
