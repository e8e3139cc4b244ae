"""PEP 249 compliance against a live sandbox: the parts of the compliance suite that need rows.

Everything goes through the public interface (``d365conn.connect``) over real sockets.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator

import pytest

import d365conn
from d365conn.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=1200, seed=7) as sb:
        yield sb


@pytest.fixture
def conn(sandbox: Sandbox) -> Iterator[d365conn.Connection]:
    with d365conn.connect(sandbox.connection_string) as c:
        yield c


def test_description_and_type_codes(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT accountid, name, revenue, numberofemployees, createdon, donotemail FROM account")
    assert cur.description is not None
    names = [d[0] for d in cur.description]
    assert names == ["accountid", "name", "revenue", "numberofemployees", "createdon", "donotemail"]
    types = [d[1] for d in cur.description]
    assert types[0] == d365conn.ROWID
    assert types[1] == d365conn.STRING
    assert types[2] == d365conn.NUMBER and types[3] == d365conn.NUMBER
    assert types[4] == d365conn.DATETIME
    for d in cur.description:
        assert len(d) == 7
    row = cur.fetchone()
    assert row is not None
    assert isinstance(row[0], uuid.UUID)
    assert row[2] is None or isinstance(row[2], decimal.Decimal)
    assert row[4] is None or (isinstance(row[4], dt.datetime) and row[4].utcoffset() == dt.timedelta(0))


def test_rowcount_is_known_once_rows_are_exhausted(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT TOP 7 accountid FROM account")
    assert cur.rowcount == -1
    assert len(cur.fetchall()) == 7
    assert cur.rowcount == 7


def test_fetchmany_arraysize_and_iteration(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT accountid FROM account ORDER BY accountid")
    assert len(cur.fetchmany()) == 1  # arraysize defaults to 1
    cur.arraysize = 10
    assert len(cur.fetchmany()) == 10
    assert len(cur.fetchmany(25)) == 25
    rest = list(cur)
    assert len(rest) == 1200 - 36
    assert cur.fetchone() is None
    assert cur.fetchmany(5) == []
    assert cur.rowcount == 1200


def test_all_rows_of_a_large_table_across_pages(sandbox: Sandbox) -> None:
    with d365conn.connect(sandbox.connection_string, WSFetchSize=100) as c:
        cur = c.cursor()
        cur.execute("SELECT accountid FROM account")
        ids = [r[0] for r in cur.fetchall()]
    assert len(ids) == 1200 and len(set(ids)) == 1200


def test_qmark_and_named_parameters(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT TOP 1 accountid, name FROM account ORDER BY name")
    account_id, name = cur.fetchone() or (None, None)
    cur.execute("SELECT name FROM account WHERE accountid = ?", [account_id])
    assert cur.fetchall() == [(name,)]
    cur.execute("SELECT name FROM account WHERE accountid = :id", {"id": account_id})
    assert cur.fetchall() == [(name,)]
    cur.execute("SELECT name FROM account WHERE name = ? AND accountid = ?", (name, account_id))
    assert cur.fetchall() == [(name,)]


def test_statement_errors_are_programming_errors(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(d365conn.ProgrammingError, match="account"):
        cur.execute("SELECT name FROM acount")
    with pytest.raises(d365conn.ProgrammingError, match="name"):
        cur.execute("SELECT nmae FROM account")
    with pytest.raises(d365conn.ProgrammingError):
        cur.execute("SELEC name FROM account")
    # the cursor is still usable after an error
    cur.execute("SELECT TOP 1 name FROM account")
    assert len(cur.fetchall()) == 1


def test_closing_a_cursor_mid_stream_stops_paging(sandbox: Sandbox) -> None:
    with d365conn.connect(sandbox.connection_string, WSFetchSize=50) as c:
        cur = c.cursor()
        cur.execute("SELECT accountid FROM account")
        assert len(cur.fetchmany(10)) == 10
        cur.close()
        with pytest.raises(d365conn.InterfaceError):
            cur.fetchone()


def test_explain_returns_the_plan_as_rows(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    cur.execute("EXPLAIN SELECT name FROM account WHERE name = 'x'")
    lines = [r[0] for r in cur.fetchall()]
    assert cur.description is not None and cur.description[0][0] == "plan"
    assert any("accounts?" in line and "$filter" in line for line in lines)


def test_ddl_is_refused_with_not_supported_error(conn: d365conn.Connection) -> None:
    cur = conn.cursor()
    with pytest.raises(d365conn.NotSupportedError):
        cur.execute("CREATE TABLE x (a int)")


def test_information_schema_answers_from_the_catalog(conn: d365conn.Connection) -> None:
    # The rows load in the order the planner planned the view's columns: names and types line up.
    cur = conn.cursor()
    cur.execute(
        "SELECT COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, NUMERIC_PRECISION FROM INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_NAME = 'account' AND COLUMN_NAME IN ('accountid', 'numberofemployees') "
        "ORDER BY ORDINAL_POSITION"
    )
    assert cur.description is not None and cur.description[1][1] == d365conn.NUMBER
    rows = cur.fetchall()
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("accountid", "uniqueidentifier", None),
        ("numberofemployees", "int", 10),
    ]
    assert all(isinstance(r[1], int) and r[1] > 0 for r in rows)
    cur.execute(
        "SELECT k.COLUMN_NAME FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS t "
        "JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE k ON k.CONSTRAINT_NAME = t.CONSTRAINT_NAME "
        "WHERE t.TABLE_NAME = 'account' AND t.CONSTRAINT_TYPE = 'PRIMARY KEY'"
    )
    assert cur.fetchall() == [("accountid",)]
