"""Write statements -> row operations, against a hand-built catalog: golden cases, one line each."""

# ruff: noqa: E501 -- golden tables: one case per line, as in tests/planner

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from d365conn.exceptions import DataError, NotSupportedError, ProgrammingError
from d365conn.transport import encode_json
from d365conn.writes import Operation, WriteOptions, translate

from .catalog import HandCatalog

CAT = HandCatalog()
A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"


def render(op: Operation) -> str:
    parts = [op.method, op.path()]
    parts += [f"{k}: {v}" for k, v in op.headers().items()]
    body = op.json_body()
    if body:
        parts.append(encode_json(body).decode())
    return " ".join(parts)


def ops_of(sql: str, params: Any = None, **options: bool) -> list[str]:
    template = translate(sql, CAT, options=WriteOptions(**options))
    bound = template.bind(params)
    assert not bound.sources, "expected operations without a read"
    return [render(op) for op in bound.operations]


GOLDEN = [
    ("INSERT INTO account (name, revenue) VALUES (?, ?)", ("Contoso", Decimal("10.5")),
     ['POST accounts {"name":"Contoso","revenue":10.5}']),
    ("INSERT INTO accounts (name) VALUES ('a'), ('b')", None,
     ['POST accounts {"name":"a"}', 'POST accounts {"name":"b"}']),
    ("INSERT INTO account (name, industrycode, creditonhold) VALUES (:n, :i, :c)",
     {"n": "X", "i": "Consulting", "c": 1},
     ['POST accounts {"name":"X","industrycode":7,"creditonhold":true}']),
    ("INSERT INTO account (name, primarycontactid) VALUES ('x', ?)", (B,),
     [f'POST accounts {{"name":"x","primarycontactid@odata.bind":"/contacts({B})"}}']),
    ("INSERT INTO account (name, primarycontactid) VALUES ('x', NULL)", None,
     ['POST accounts {"name":"x"}']),  # a NULL lookup is left out of a create
    ("INSERT INTO account (ownerid, owneridtype) VALUES (?, 'team')", (A,),
     [f'POST accounts {{"ownerid@odata.bind":"/teams({A})"}}']),
    ("INSERT INTO contact (lastname, parentcustomerid, parentcustomeridtype) VALUES ('L', ?, 'accounts')", (A,),
     [f'POST contacts {{"lastname":"L","parentcustomerid_account@odata.bind":"/accounts({A})"}}']),
    ("INSERT INTO account (accountid, name) VALUES (?, 'with id')", (A,),
     [f'POST accounts {{"accountid":"{A}","name":"with id"}}']),
    ("UPDATE account SET name = ? WHERE accountid = ?", ("N", A),
     [f'PATCH accounts({A}) If-Match: * {{"name":"N"}}']),
    ("UPDATE account SET name = 'N' WHERE accountid IN (?, ?, ?)", (A, B, A),
     [f'PATCH accounts({A}) If-Match: * {{"name":"N"}}', f'PATCH accounts({B}) If-Match: * {{"name":"N"}}']),
    ("UPDATE account SET revenue = 1 WHERE accountnumber = 'O''Neil-1'", None,
     ["PATCH accounts(accountnumber='O''Neil-1') If-Match: * {\"revenue\":1}"]),
    ("DELETE FROM account WHERE accountnumber = ?", ("a b#c?/%",), ["DELETE accounts(accountnumber='a%20b%23c%3F%2F%25')"]),
    ("UPDATE account SET name = 'N' WHERE accountid = ? AND versionnumber = ?", (A, 123456),
     [f'PATCH accounts({A}) If-Match: W/"123456" {{"name":"N"}}']),
    ("UPDATE account SET name = 'N' WHERE accountid = ?", (None,), []),  # = NULL matches nothing
    ("UPDATE account SET name = 'N' WHERE accountid = ? AND versionnumber = ?", (A, None), []),
    ("UPDATE a SET name = 'N' FROM account a WHERE a.accountid = ?", (A,),
     [f'PATCH accounts({A}) If-Match: * {{"name":"N"}}']),
    ("UPDATE account SET primarycontactid = NULL WHERE accountid = ?", (A,),
     [f'PATCH accounts({A}) If-Match: * {{"primarycontactid@odata.bind":null}}']),
    ("DELETE FROM account WHERE accountid = ?", (A,), [f"DELETE accounts({A})"]),
    ("DELETE account WHERE accountnumber = ?", ("N-1",), ["DELETE accounts(accountnumber='N-1')"]),
    ("DELETE FROM account WHERE accountid = ? AND versionnumber = 7", (A,), [f'DELETE accounts({A}) If-Match: W/"7"']),
    ("MERGE INTO account AS t USING (VALUES (?, ?)) AS s (num, nm) ON t.accountnumber = s.num "
     "WHEN MATCHED THEN UPDATE SET name = s.nm WHEN NOT MATCHED THEN INSERT (accountnumber, name) VALUES (s.num, s.nm)",
     ("N-1", "Name"), ['PATCH accounts(accountnumber=\'N-1\') {"name":"Name"}']),
    ("MERGE INTO account t USING (VALUES (?, 5)) s (id, n) ON t.accountid = s.id "
     "WHEN NOT MATCHED THEN INSERT (accountid, numberofemployees) VALUES (s.id, s.n)",
     (A,), [f'PATCH accounts({A}) If-None-Match: * {{"numberofemployees":5}}']),
    ("MERGE INTO account t USING (VALUES (?)) s (id) ON t.accountid = s.id WHEN MATCHED THEN UPDATE SET name = 'z'",
     (A,), [f'PATCH accounts({A}) If-Match: * {{"name":"z"}}']),
    ("MERGE INTO account t USING (VALUES ('N-1'), ('N-2')) s (num) ON t.accountnumber = s.num WHEN MATCHED THEN DELETE",
     None, ["DELETE accounts(accountnumber='N-1')", "DELETE accounts(accountnumber='N-2')"]),
    ("INSERT INTO account (accountnumber, name) VALUES (?, ?) ON CONFLICT (accountnumber) "
     "DO UPDATE SET name = excluded.name", ("N-1", "x"), ['PATCH accounts(accountnumber=\'N-1\') {"name":"x"}']),
    ("INSERT INTO account (accountid, name) VALUES (?, ?) ON CONFLICT DO NOTHING", (A, "x"),
     [f'PATCH accounts({A}) If-None-Match: * {{"name":"x"}}']),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "params", "expected"), GOLDEN, ids=[g[0][:60] for g in GOLDEN])
def test_golden(sql: str, params: Any, expected: list[str]) -> None:
    assert ops_of(sql, params) == expected


def test_rows_are_numbered_for_error_reports() -> None:
    template = translate("INSERT INTO account (name) VALUES (?)", CAT)
    ops = [op for i, p in enumerate([("a",), ("b",)]) for op in template.bind(p, i).operations]
    assert [op.row for op in ops] == [0, 1]


def test_polymorphic_without_type_is_left_for_lookup() -> None:
    bound = translate("INSERT INTO contact (lastname, parentcustomerid) VALUES ('L', ?)", CAT).bind((A,))
    op = bound.operations[0]
    assert op.body == {"lastname": "L"}
    assert [(r.column.name, str(r.guid)) for r in op.pending] == [("parentcustomerid", A)]


READS = [
    ("UPDATE account SET name = 'x' WHERE name LIKE 'C%'", None,
     "SELECT account.accountid FROM account WHERE name LIKE 'C%'"),
    ("UPDATE account SET revenue = revenue * ? WHERE numberofemployees > ?", (2, 10),
     "SELECT account.accountid, revenue * 2 FROM account WHERE numberofemployees > 10"),
    ("DELETE FROM account WHERE accountid = ? OR name = 'x'", (A,),
     f"SELECT account.accountid FROM account WHERE accountid = '{A}' OR name = 'x'"),
    ("INSERT INTO account (name) SELECT lastname FROM contact WHERE lastname = ?", ("L",),
     "SELECT lastname FROM contact WHERE lastname = 'L'"),
    ("MERGE INTO account t USING (SELECT lastname AS n FROM contact) s ON t.accountnumber = s.n "
     "WHEN MATCHED THEN UPDATE SET name = s.n", None, "SELECT lastname AS n FROM contact"),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "params", "query"), READS, ids=[r[0][:60] for r in READS])
def test_reads_first(sql: str, params: Any, query: str) -> None:
    bound = translate(sql, CAT).bind(params)
    assert not bound.operations
    assert [s.query.sql("duckdb") for s in bound.sources] == [query]


def test_read_rows_become_operations() -> None:
    bound = translate("UPDATE account SET revenue = revenue * 2 WHERE name = 'x'", CAT).bind(None)
    ops = bound.sources[0].make(["accountid", "x"], [uuid.UUID(A), Decimal("3.5")], 4)
    assert [render(op) for op in ops] == [f'PATCH accounts({A}) If-Match: * {{"revenue":3.5}}']
    assert ops[0].row == 4 and ops[0].verified


def test_optimistic_concurrency_reads_versions() -> None:
    options = WriteOptions(optimistic_concurrency=True)
    bound = translate("DELETE FROM account WHERE name = 'x'", CAT, options=options).bind(None)
    assert (
        bound.sources[0].query.sql()
        == "SELECT account.accountid, account.versionnumber FROM account WHERE name = 'x'"
    )
    ops = bound.sources[0].make(["accountid", "versionnumber"], [uuid.UUID(A), 99], 0)
    assert [render(op) for op in ops] == [f'DELETE accounts({A}) If-Match: W/"99"']


ERRORS = [
    ("UPDATE account SET name = 'x'", ProgrammingError, "AllowUnfilteredWrites"),
    ("DELETE FROM account", ProgrammingError, "without WHERE"),
    ("INSERT INTO account (createdon) VALUES ('2020-01-01')", ProgrammingError, "read-only"),
    ("INSERT INTO account (industrycodename) VALUES ('Consulting')", ProgrammingError,
     "write industrycode instead .it takes the label"),
    ("INSERT INTO account (primarycontactidname) VALUES ('x')", ProgrammingError, "write primarycontactid"),
    ("INSERT INTO account (owneridtype) VALUES ('team')", ProgrammingError, "only be written together with ownerid"),
    ("UPDATE account SET accountid = ? WHERE name = 'x'", ProgrammingError, "primary key"),
    ("INSERT INTO account (nmae) VALUES ('x')", ProgrammingError, "did you mean 'name'"),
    ("INSERT INTO acount (name) VALUES ('x')", ProgrammingError, "did you mean 'account'"),
    ("INSERT INTO account VALUES ('x')", ProgrammingError, "column list"),
    ("INSERT INTO account (name, name) VALUES ('x', 'y')", ProgrammingError, "given twice"),
    ("INSERT INTO account (name) VALUES (upper('x'))", NotSupportedError, "constants and parameters"),
    ("INSERT INTO account (name) OUTPUT inserted.name VALUES ('x')", NotSupportedError, "primary key"),
    ("UPDATE account SET name = 'x' FROM account a JOIN contact c ON 1 = 1 WHERE a.name = 'x'",
     NotSupportedError, "joins"),
    ("MERGE INTO account t USING (VALUES ('x')) s (n) ON t.name = s.n WHEN MATCHED THEN DELETE", ProgrammingError,
     "alternate key of account"),
    ("MERGE INTO account t USING (VALUES (?, ?)) s (k, n) ON t.accountnumber = s.k "
     "WHEN MATCHED THEN UPDATE SET name = s.n WHEN NOT MATCHED THEN INSERT (accountnumber, name) VALUES (s.k, 'other')",
     NotSupportedError, "same non-key columns with the same values"),
    ("MERGE INTO account t USING (VALUES (?)) s (k) ON t.accountnumber = s.k "
     "WHEN MATCHED AND t.name = 'x' THEN DELETE", NotSupportedError, "AND <condition>"),
    ("INSERT INTO account (accountnumber, name) VALUES ('k', 'n') ON CONFLICT (name) DO NOTHING", ProgrammingError,
     "primary key or an alternate key"),
    ("INSERT INTO account (accountnumber, name) VALUES ('k', 'n') ON CONFLICT (accountnumber) "
     "DO UPDATE SET name = 'fixed'", NotSupportedError, "excluded.col"),
    ("EXPLAIN DELETE FROM account WHERE accountid = 1", NotSupportedError, "EXPLAIN"),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "error", "message"), ERRORS, ids=[e[0][:60] for e in ERRORS])
def test_refused_before_any_request(sql: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        translate(sql, CAT).bind(("k", "n") if "?" in sql else None)


BAD_VALUES = [
    ("INSERT INTO account (industrycode) VALUES (?)", ("Farming",), "labels"),
    ("INSERT INTO account (primarycontactid) VALUES (?)", ("nope",), "not a GUID"),
    ("INSERT INTO account (ownerid, owneridtype) VALUES (?, 'account')", (A,), "targets are systemuser, team"),
    ("UPDATE account SET name = ? WHERE accountid = ?", ("x", "123"), "not a GUID"),
    ("MERGE INTO account t USING (VALUES (?)) s (k) ON t.accountnumber = s.k WHEN MATCHED THEN DELETE", (None,),
     "NULL"),
]  # fmt: skip


@pytest.mark.parametrize(("sql", "params", "message"), BAD_VALUES, ids=[b[2] for b in BAD_VALUES])
def test_bad_values(sql: str, params: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        translate(sql, CAT).bind(params)


def test_wrong_parameter_count() -> None:
    with pytest.raises(ProgrammingError, match="2 parameter marker"):
        translate("INSERT INTO account (name, revenue) VALUES (?, ?)", CAT).bind(("only one",))


def test_json_is_exact() -> None:
    [line] = ops_of("INSERT INTO account (revenue) VALUES (?)", (Decimal("12345678901234567.1234"),))
    assert json.loads(line.split(" ", 2)[2], parse_float=Decimal) == {
        "revenue": Decimal("12345678901234567.1234")
    }
    assert "12345678901234567.1234" in line


def test_on_conflict_from_a_select_reads_by_position() -> None:
    sql = (
        "INSERT INTO account (accountnumber, name) SELECT lastname, lastname FROM contact "
        "ON CONFLICT (accountnumber) DO UPDATE SET name = excluded.name"
    )
    bound = translate(sql, CAT).bind(None)
    ops = bound.sources[0].make(["lastname", "lastname"], ["K-1", "Name"], 0)
    assert [render(op) for op in ops] == ['PATCH accounts(accountnumber=\'K-1\') {"name":"Name"}']
