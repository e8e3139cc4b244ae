"""Cursor results as Arrow and pandas: types, NULLs, batches -- against the sandbox."""

from __future__ import annotations

import datetime as dt
import decimal
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import d365conn
from d365conn.arrow import arrow_type, decimal_type


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

