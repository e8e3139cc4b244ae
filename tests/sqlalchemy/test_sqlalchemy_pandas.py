"""pandas on the dialect: read_sql with an engine, read_sql_table, chunks -- and the raw-connection path."""

from __future__ import annotations

import decimal
import warnings
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import d365conn


def test_read_sql_with_an_engine_gives_no_warning(engine: sa.Engine, d365_sandbox: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = pd.read_sql(
            "SELECT TOP 10 accountid, name, revenue, createdon FROM account ORDER BY name",
            engine,
            coerce_float=False,
        )
        params = pd.read_sql(
            sa.text("SELECT name FROM account WHERE revenue > :low ORDER BY name"),
            engine,
            params={"low": 40_000_000},
        )
    assert list(frame.columns) == ["accountid", "name", "revenue", "createdon"] and len(frame) == 10
    assert isinstance(frame["revenue"].dropna().iloc[0], decimal.Decimal)
    assert str(frame["createdon"].dtype).startswith("datetime64") and "UTC" in str(frame["createdon"].dtype)
    assert frame["name"].is_monotonic_increasing
    with d365conn.connect(d365_sandbox.connection_string) as conn:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM account WHERE revenue > 40000000")
        assert len(params) == cur.fetchone()[0]


def test_read_sql_table_reflects_and_reads_every_row(engine: sa.Engine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = pd.read_sql_table("opportunity", engine, columns=["opportunityid", "name", "estimatedvalue"])
    assert list(frame.columns) == ["opportunityid", "name", "estimatedvalue"]
    with engine.connect() as conn:
        assert len(frame) == conn.execute(sa.text("SELECT COUNT(*) FROM opportunity")).scalar_one()
    # Tools that name the schema (Superset does) get the same table: dbo.opportunity.
    qualified = pd.read_sql_table("opportunity", engine, schema="dbo", columns=["opportunityid", "name"])
    assert qualified["opportunityid"].tolist() == frame["opportunityid"].tolist()


def test_chunks_stream_the_whole_result(engine: sa.Engine) -> None:
    account = sa.Table("account", sa.MetaData(), autoload_with=engine)
    chunks = list(
        pd.read_sql(
            sa.select(account.c.accountid, account.c.name).order_by(account.c.accountid),
            engine,
            chunksize=128,
        )
    )
    assert [len(c) for c in chunks] == [128, 128, 128, 116]
    ids = pd.concat(chunks)["accountid"]
    assert ids.is_unique and len(ids) == 500


def test_raw_dbapi_connection_works_but_pandas_warns(d365_sandbox: Any) -> None:
    # pandas supports only SQLAlchemy connectables and sqlite3 officially: it warns, then reads.
    with (
        d365conn.connect(d365_sandbox.connection_string) as conn,
        pytest.warns(UserWarning, match="SQLAlchemy"),
    ):
        frame = pd.read_sql("SELECT TOP 5 name FROM account ORDER BY name", conn)
    assert len(frame) == 5


def test_to_sql_loads_rows_through_batched_writes(url_for: Any) -> None:
    from d365conn.sandbox import Sandbox

    with Sandbox(rows=20, seed=5) as sb:  # its own sandbox: this test adds rows
        eng = sa.create_engine(url_for(sb))
        frame = pd.DataFrame(
            {
                "name": [f"Bulk {i:03d}" for i in range(250)],
                "revenue": [decimal.Decimal(i) * 1000 + decimal.Decimal("0.25") for i in range(250)],
                "numberofemployees": pd.array(
                    [None if i % 10 == 0 else i for i in range(250)], dtype="Int32"
                ),
            }
        )
        # Warm the pooled connection's catalog so the count below is of the writes alone.
        assert sa.inspect(eng).has_table("account")
        before = sb.faults.stats()["by_kind"].get("api", 0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            frame.to_sql("account", eng, if_exists="append", index=False, chunksize=100)
        requests = sb.faults.stats()["by_kind"].get("api", 0) - before
        # 250 rows in 3 chunks of 100: one batched request per chunk (plus at most a lookup or two),
        # not one POST per row.
        assert 3 <= requests <= 6, requests
        loaded = pd.read_sql(
            "SELECT name, revenue, numberofemployees FROM account WHERE name LIKE 'Bulk %' ORDER BY name",
            eng,
            coerce_float=False,
        )
        eng.dispose()
    assert len(loaded) == 250
    assert loaded["name"].tolist() == frame["name"].tolist()
    assert loaded["revenue"].tolist() == frame["revenue"].tolist()
    assert loaded["numberofemployees"].isna().sum() == 25
