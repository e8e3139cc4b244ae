"""The dialect through SQLAlchemy Core: compile, execute, reflect, errors -- against the sandbox."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
import sys
import uuid
import warnings
from typing import Any

import pytest
import sqlalchemy as sa

import d365conn
from d365conn.sqlalchemy import D365Dialect


def dbapi_rows(sb: Any, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with d365conn.connect(sb.connection_string) as conn:
        cur = conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall()


@pytest.fixture(scope="module")
def account(engine: sa.Engine) -> sa.Table:
    return sa.Table("account", sa.MetaData(), autoload_with=engine)


def test_dialect_is_found_through_the_entry_point(d365_sandbox: Any, url_for: Any) -> None:
    # A fresh interpreter that never imports d365conn.sqlalchemy: SQLAlchemy finds it by entry point.
    url = url_for(d365_sandbox).replace("d365conn+http://", "d365conn://", 1)
    code = (
        "import sqlalchemy as sa, sys; e = sa.create_engine(sys.argv[1]); "
        "print(type(e.dialect).__module__, e.dialect.dbapi.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, url],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["d365conn.sqlalchemy.dialect", "d365conn"]


def test_select_limit_offset_matches_the_dbapi(
    engine: sa.Engine, account: sa.Table, d365_sandbox: Any
) -> None:
    query = (
        sa.select(account.c.name, account.c.revenue)
        .where(account.c.revenue > 1_000_000)
        .order_by(account.c.name, account.c.accountid)
        .limit(5)
        .offset(3)
    )
    compiled = str(query.compile(engine))
    assert "LIMIT ?" in compiled and "OFFSET ?" in compiled
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    expected = dbapi_rows(
        d365_sandbox, "SELECT name, revenue FROM account WHERE revenue > 1000000 ORDER BY name, accountid"
    )[3:8]
    assert rows == expected and len(rows) == 5
    assert all(isinstance(r[1], decimal.Decimal) for r in rows)


def test_offset_without_limit(engine: sa.Engine, account: sa.Table) -> None:
    query = sa.select(account.c.accountid).order_by(account.c.accountid).offset(495)
    assert "LIMIT" not in str(query.compile(engine))
    with engine.connect() as conn:
        assert len(conn.execute(query).all()) == 5


def test_count_and_group_by(engine: sa.Engine, account: sa.Table, d365_sandbox: Any) -> None:
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(account)).scalar_one()
        groups = conn.execute(
            sa.select(account.c.statecode, sa.func.count().label("n"))
            .group_by(account.c.statecode)
            .order_by(account.c.statecode)
        ).all()
    assert total == 500
    assert sum(n for _, n in groups) == 500
    assert [tuple(g) for g in groups] == dbapi_rows(
        d365_sandbox, "SELECT statecode, COUNT(*) FROM account GROUP BY statecode ORDER BY statecode"
    )


def test_text_with_bound_parameters(engine: sa.Engine, d365_sandbox: Any) -> None:
    stmt = sa.text("SELECT TOP 3 name FROM account WHERE name LIKE :prefix AND revenue >= :low ORDER BY name")
    with engine.connect() as conn:
        rows = conn.execute(stmt, {"prefix": "A%", "low": 0}).scalars().all()
    assert rows and all(name.lower().startswith("a") for name in rows)
    assert rows == [
        r[0]
        for r in dbapi_rows(
            d365_sandbox,
            "SELECT TOP 3 name FROM account WHERE name LIKE ? AND revenue >= ? ORDER BY name",
            ["A%", 0],
        )
    ]


def test_python_values_bind_and_come_back_typed(engine: sa.Engine, account: sa.Table) -> None:
    with engine.connect() as conn:
        first = conn.execute(sa.select(account).order_by(account.c.accountid).limit(1)).mappings().one()
        assert isinstance(first["accountid"], uuid.UUID)
        assert isinstance(first["createdon"], dt.datetime) and first["createdon"].utcoffset() == dt.timedelta(
            0
        )
        again = conn.execute(
            sa.select(account.c.name).where(account.c.accountid == first["accountid"])
        ).scalar_one()
        assert again == first["name"]
        since = conn.execute(
            sa.select(sa.func.count()).select_from(account).where(account.c.createdon >= first["createdon"])
        ).scalar_one()
        assert 1 <= since <= 500
        flagged = conn.execute(
            sa.select(sa.func.count()).select_from(account).where(account.c.donotemail.is_(True))
        ).scalar_one()
        assert 0 <= flagged < 500


def test_reflection(engine: sa.Engine) -> None:
    insp = sa.inspect(engine)
    assert insp.get_schema_names() == ["dbo"] and insp.default_schema_name == "dbo"
    tables = insp.get_table_names()
    assert {"account", "contact", "opportunity"} <= set(tables)
    assert insp.get_table_names(schema="dbo") == tables and insp.get_table_names(schema="other") == []
    assert insp.get_view_names() == []
    assert (
        insp.has_table("account") and insp.has_table("Account", schema="dbo") and not insp.has_table("nosuch")
    )
    columns = {c["name"]: c for c in insp.get_columns("account")}
    assert isinstance(columns["accountid"]["type"], sa.Uuid) and columns["accountid"]["nullable"] is False
    revenue = columns["revenue"]["type"]
    assert isinstance(revenue, sa.Numeric) and (revenue.precision, revenue.scale) == (19, 4)
    assert isinstance(columns["createdon"]["type"], sa.DateTime) and columns["createdon"]["type"].timezone
    assert isinstance(columns["numberofemployees"]["type"], sa.Integer)
    assert isinstance(columns["donotemail"]["type"], sa.Boolean)
    assert isinstance(columns["name"]["type"], sa.String)
    assert insp.get_unique_constraints("account") == [
        {"name": "AK_account_1", "column_names": ["accountnumber"]}
    ]
    assert "customer" in (insp.get_table_comment("account")["text"] or "")
    assert insp.get_pk_constraint("account")["constrained_columns"] == ["accountid"]
    fks = {
        (tuple(f["constrained_columns"]), f["referred_table"]): f for f in insp.get_foreign_keys("account")
    }
    assert fks[(("primarycontactid",), "contact")]["referred_columns"] == ["contactid"]
    # A polymorphic owner lookup is one foreign key per target table.
    assert {t for (cols, t) in fks if cols == ("ownerid",)} >= {"systemuser"}
    with pytest.raises(sa.exc.NoSuchTableError):
        insp.get_columns("nosuchtable")


def test_metadata_reflect_follows_lookups(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    contact = sa.Table("contact", metadata, autoload_with=engine)
    # contact's parentcustomerid points to account: reflecting contact brought account along.
    assert {"account", "systemuser"} <= set(metadata.tables)
    account = metadata.tables["account"]
    joined = (
        sa.select(account.c.name, contact.c.fullname)
        .join_from(account, contact, account.c.primarycontactid == contact.c.contactid)
        .limit(3)
    )
    with engine.connect() as conn:
        rows = conn.execute(joined).all()
    assert len(rows) == 3 and all(r.fullname for r in rows)


def test_errors_are_the_drivers_own(engine: sa.Engine) -> None:
    assert engine.dialect.dbapi is d365conn
    with engine.connect() as conn, pytest.raises(sa.exc.ProgrammingError) as info:
        conn.execute(sa.text("SELECT name FROM nosuchtable"))
    assert isinstance(info.value.orig, d365conn.ProgrammingError)
    assert "nosuchtable" in str(info.value)


def test_ping_and_pool_pre_ping(d365_sandbox: Any, url_for: Any) -> None:
    eng = sa.create_engine(url_for(d365_sandbox), pool_pre_ping=True)
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    with eng.connect() as conn:  # a pooled connection, pinged first
        assert conn.dialect.do_ping(conn.connection.dbapi_connection)
    eng.dispose()
    bad = sa.create_engine(url_for(d365_sandbox, ClientSecret="wrong-secret"))
    with bad.connect() as conn:
        with pytest.raises(d365conn.OperationalError) as ping_error:
            conn.dialect.do_ping(conn.connection.dbapi_connection)
        with pytest.raises(sa.exc.OperationalError) as info:  # wrapped by SQLAlchemy on execute
            conn.execute(sa.text("SELECT TOP 1 name FROM account"))
    assert isinstance(info.value.orig, d365conn.OperationalError)
    assert "AADSTS7000215" in str(ping_error.value) and "wrong-secret" not in str(info.value)
    bad.dispose()


def test_connect_args_carry_options_and_secrets(d365_sandbox: Any, url_for: Any) -> None:
    # The secret kept out of the URL: keyword options of d365conn.connect() through connect_args.
    url = url_for(d365_sandbox).replace(f"ClientSecret={d365_sandbox.client_secret}&", "")
    assert "ClientSecret" not in url
    eng = sa.create_engine(url, connect_args={"ClientSecret": d365_sandbox.client_secret})
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM account")).scalar_one() == 500
    assert d365_sandbox.client_secret not in repr(eng.url)
    eng.dispose()


def test_compiled_sql_reads_the_same_under_the_postgres_reading(
    d365_sandbox: Any, url_for: Any, account: sa.Table
) -> None:
    eng = sa.create_engine(url_for(d365_sandbox, SQLDialect="postgres"))
    query = (
        sa.select(account.c.name, sa.cast(account.c.numberofemployees, sa.String).label("n"))
        .where(account.c.name.ilike("a%"))
        .order_by(account.c.name)
        .limit(2)
        .offset(1)
    )
    with eng.connect() as conn:
        rows = conn.execute(query).all()
    assert len(rows) == 2 and all(isinstance(r.n, (str, type(None))) for r in rows)
    eng.dispose()


def test_statement_cache_and_no_warnings(engine: sa.Engine, account: sa.Table) -> None:
    assert D365Dialect.supports_statement_cache
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with engine.connect() as conn:
            for _ in range(2):
                conn.execute(sa.select(account.c.name).limit(1)).all()
