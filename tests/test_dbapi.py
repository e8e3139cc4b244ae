"""PEP 249 compliance: the parts that need no server.

Adapted from the checks of the classic DB-API 2.0 compliance suite (module globals, exception
hierarchy, exceptions on the connection, type objects and constructors, cursor protocol on
closed objects). The parts that need rows run against the sandbox in tests/test_dbapi_sandbox.py.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

import d365conn

URL = "ServiceURL=https://contoso.crm.dynamics.com/api/data/v9.2/;AuthenticationMethod=None"


def test_module_globals() -> None:
    assert d365conn.apilevel == "2.0"
    assert d365conn.threadsafety in (0, 1, 2, 3)
    assert d365conn.paramstyle == "qmark"


def test_exception_hierarchy() -> None:
    m = d365conn
    assert issubclass(m.Warning, Exception)
    assert issubclass(m.Error, Exception)
    assert not issubclass(m.Warning, m.Error)
    for cls in (m.InterfaceError, m.DatabaseError):
        assert issubclass(cls, m.Error)
    for cls in (
        m.DataError,
        m.OperationalError,
        m.IntegrityError,
        m.InternalError,
        m.ProgrammingError,
        m.NotSupportedError,
    ):
        assert issubclass(cls, m.DatabaseError)


def test_service_errors_subclass_pep249_classes() -> None:
    from d365conn import exceptions as e

    assert issubclass(e.ThrottledError, d365conn.OperationalError)
    assert issubclass(e.AuthenticationError, d365conn.OperationalError)
    assert issubclass(e.ConcurrencyError, d365conn.IntegrityError)
    assert issubclass(e.ConfigurationError, d365conn.ProgrammingError)
    err = e.NotFoundError(
        "account With Id = 1 Does Not Exist", status=404, code="0x80040217", request_id="r1"
    )
    assert str(err) == "account With Id = 1 Does Not Exist (HTTP 404, code 0x80040217, request id r1)"


def test_exceptions_as_connection_attributes() -> None:
    conn = d365conn.connect(URL)
    for name in (
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert getattr(conn, name) is getattr(d365conn, name)
    conn.close()


def test_connection_methods_without_a_request() -> None:
    conn = d365conn.connect(URL)
    conn.commit()  # nothing queued: a no-op
    conn.rollback()
    cur = conn.cursor()
    assert cur.connection is conn
    assert cur.description is None and cur.rowcount == -1 and cur.arraysize == 1
    cur.setinputsizes([10])
    cur.setoutputsize(10)
    cur.setoutputsize(10, 0)
    cur.close()
    conn.close()


def test_closed_connection_raises_interface_error() -> None:
    conn = d365conn.connect(URL)
    cur = conn.cursor()
    conn.close()
    conn.close()  # closing twice is harmless
    with pytest.raises(d365conn.InterfaceError):
        conn.cursor()
    with pytest.raises(d365conn.InterfaceError):
        conn.commit()
    with pytest.raises(d365conn.InterfaceError):
        conn.rollback()
    with pytest.raises(d365conn.InterfaceError):
        cur.execute("SELECT 1")
    with pytest.raises(d365conn.Error):
        cur.fetchone()


def test_closed_cursor_raises_interface_error() -> None:
    conn = d365conn.connect(URL)
    cur = conn.cursor()
    cur.close()
    for call in (
        lambda: cur.execute("SELECT 1"),
        cur.fetchone,
        cur.fetchall,
        lambda: cur.fetchmany(2),
        lambda: cur.executemany("SELECT 1", []),
        lambda: cur.setinputsizes(1),
        lambda: cur.callproc("x"),
    ):
        with pytest.raises(d365conn.InterfaceError):
            call()
    conn.close()


def test_fetch_without_a_result_is_a_programming_error() -> None:
    with d365conn.connect(URL) as conn, conn.cursor() as cur:
        with pytest.raises(d365conn.ProgrammingError, match="no result set"):
            cur.fetchone()
        with pytest.raises(d365conn.ProgrammingError):
            cur.fetchall()


def test_bad_statement_and_parameter_types() -> None:
    with d365conn.connect(URL) as conn:
        cur = conn.cursor()
        with pytest.raises(d365conn.ProgrammingError, match="must be a str"):
            cur.execute(b"SELECT 1")  # type: ignore[arg-type]
        with pytest.raises(d365conn.ProgrammingError, match=r"sequence .* or a mapping"):
            cur.execute("SELECT ?", "abc")
        with pytest.raises(d365conn.ProgrammingError, match=r"sequence .* or a mapping"):
            cur.execute("SELECT ?", 5)  # type: ignore[arg-type]


def test_context_managers_close() -> None:
    with d365conn.connect(URL) as conn:
        with conn.cursor() as cur:
            pass
        assert cur.closed
    assert conn.closed


def test_type_objects() -> None:
    assert d365conn.STRING == "Edm.String"
    assert (
        d365conn.NUMBER == "Edm.Decimal"
        and d365conn.NUMBER == "Edm.Int32"
        and d365conn.NUMBER == "Edm.Double"
    )
    assert d365conn.DATETIME == "Edm.DateTimeOffset" and d365conn.DATETIME == "Edm.Date"
    assert d365conn.BINARY == "Edm.Binary"
    assert d365conn.ROWID == "Edm.Guid"
    assert d365conn.STRING != "Edm.Int32" and d365conn.NUMBER != "Edm.String"
    assert d365conn.STRING == "Edm.String"  # the comparison works from either side
    assert len({d365conn.STRING, d365conn.NUMBER, d365conn.DATETIME, d365conn.BINARY, d365conn.ROWID}) == 5


def test_constructors() -> None:
    assert d365conn.Date(2024, 2, 29) == dt.date(2024, 2, 29)
    assert d365conn.Time(13, 45, 1) == dt.time(13, 45, 1)
    assert d365conn.Timestamp(2024, 2, 29, 13, 45, 1) == dt.datetime(2024, 2, 29, 13, 45, 1)
    ticks = time.mktime((2002, 12, 25, 13, 45, 30, 0, 0, -1))
    assert d365conn.DateFromTicks(ticks) == dt.date(2002, 12, 25)
    assert d365conn.TimeFromTicks(ticks) == dt.time(13, 45, 30)
    assert d365conn.TimestampFromTicks(ticks) == dt.datetime(2002, 12, 25, 13, 45, 30)
    assert d365conn.Binary(b"\x00\xff") == b"\x00\xff"
    assert d365conn.Binary(bytearray(b"ab")) == b"ab"
    assert d365conn.Binary("é") == "é".encode()
