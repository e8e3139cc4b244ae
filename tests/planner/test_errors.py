"""Bad input: syntax errors with their position, unknown names with the nearest match, refusals."""

from __future__ import annotations

import pytest

from d365conn.exceptions import NotSupportedError, ProgrammingError
from d365conn.planner import SyntaxErrorAt, capabilities_for, is_explain, plan_statement
from tests.planner.catalogs import DATAVERSE, ODATA

DV = capabilities_for("dataverse")


def plan(sql: str, params: object = None) -> object:
    return plan_statement(sql, params, DATAVERSE, DV)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sql", "line", "column"),
    [
        ("SELECT name FROM account WHERE (revenue > 1", 1, 43),
        ("SELECT name\nFROM account\nWHERE revenue = = 1", 3, 17),
        ("EXPLAIN SELECT name FROM account WHERE (revenue > 1", 1, 51),
    ],
)
def test_syntax_error_has_the_position(sql: str, line: int, column: int) -> None:
    with pytest.raises(SyntaxErrorAt) as info:
        plan(sql)
    err = info.value
    assert isinstance(err, ProgrammingError)
    assert (err.line, err.column) == (line, column)
    assert f"line {line}, column {column}" in str(err)


def test_unterminated_string_is_a_syntax_error() -> None:
    with pytest.raises(ProgrammingError, match="syntax error"):
        plan("SELECT name FROM account WHERE name = 'abc")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT name FROM acounts", "unknown table 'acounts'; did you mean 'account'"),
        ("SELECT name FROM contacs", "did you mean 'contact'"),
        ("SELECT nmae FROM account", "unknown column 'nmae' in account; did you mean 'name'"),
        (
            "SELECT name FROM account WHERE revenu > 5",
            "unknown column 'revenu' in account; did you mean 'revenue'",
        ),
        ("SELECT name FROM account ORDER BY createdn", "did you mean 'createdon'"),
        ("SELECT UPPER(nam) FROM account", "unknown column 'nam'; did you mean 'name'"),
        (
            "SELECT a.fulname FROM contact a JOIN account b ON a.parentcustomerid = b.accountid",
            "did you mean 'fullname'",
        ),
        ("SELECT x.name FROM account a", "unknown table alias 'x'"),
        ("SELECT zzzz FROM account", "unknown column 'zzzz'"),
        ("SELECT * FROM INFORMATION_SCHEMA.COLUMS", "did you mean 'columns'"),
    ],
)
def test_unknown_names_name_the_nearest_match(sql: str, message: str) -> None:
    with pytest.raises(ProgrammingError) as info:
        plan(sql)
    assert message in str(info.value)


def test_ambiguous_column() -> None:
    with pytest.raises(ProgrammingError, match="ambiguous column name 'createdon'"):
        plan("SELECT createdon FROM account a JOIN contact c ON a.primarycontactid = c.contactid")


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("INSERT INTO account (name) VALUES ('x')", "INSERT"),
        ("UPDATE account SET name = 'x' WHERE accountid = '00000000-0000-0000-0000-000000000001'", "UPDATE"),
        ("DELETE FROM account", "DELETE"),
        ("MERGE INTO account USING contact ON 1 = 1 WHEN MATCHED THEN DELETE", "MERGE"),
        ("CREATE TABLE t (x INT)", "CREATE"),
        ("DROP TABLE account", "DROP"),
        ("EXEC sp_who", "EXEC"),
    ],
)
def test_unsupported_statements_name_the_construct(sql: str, construct: str) -> None:
    with pytest.raises(NotSupportedError) as info:
        plan(sql)
    assert str(info.value).startswith(construct)


def test_writes_say_when_they_arrive() -> None:
    with pytest.raises(NotSupportedError, match="is a write: the query planner plans SELECT statements only"):
        plan("DELETE FROM account")


def test_one_statement_at_a_time() -> None:
    with pytest.raises(ProgrammingError, match="one statement"):
        plan("SELECT name FROM account; SELECT name FROM contact")


def test_empty_statement() -> None:
    with pytest.raises(ProgrammingError, match="empty"):
        plan("   ")


@pytest.mark.parametrize(
    ("sql", "params", "message"),
    [
        ("SELECT name FROM account WHERE name = ?", None, "1 parameter marker"),
        ("SELECT name FROM account WHERE name = ?", ["a", "b"], "but 2 parameter"),
        ("SELECT name FROM account WHERE name = ? AND name = :n", ["a"], "cannot mix"),
        ("SELECT name FROM account WHERE name = :n", {"m": 1}, "no value for parameter(s) :n"),
        ("SELECT name FROM account WHERE name = :n", ["a"], "named parameters take a mapping"),
        ("SELECT name FROM account WHERE name = ?", {"n": 1}, "take a sequence"),
        ("SELECT name FROM account WHERE name = ?", "a", "not a string"),
        ("SELECT name FROM account WHERE name = ?", [object()], "parameters of type object"),
        ("SELECT name FROM account WHERE revenue = ?", [float("nan")], "no SQL literal"),
    ],
)
def test_parameter_mismatches(sql: str, params: object, message: str) -> None:
    with pytest.raises(ProgrammingError) as info:
        plan(sql, params)
    assert message in str(info.value)


def test_limit_must_be_a_non_negative_integer() -> None:
    with pytest.raises(ProgrammingError, match="non-negative integer"):
        plan("SELECT TOP (?) name FROM account", [-1])


def test_subquery_for_in_must_have_one_column() -> None:
    with pytest.raises(ProgrammingError, match="exactly one column"):
        plan("SELECT name FROM account WHERE accountid IN (SELECT contactid, fullname FROM contact)")


def test_unknown_table_on_plain_odata() -> None:
    with pytest.raises(ProgrammingError, match="did you mean 'Books'"):
        plan_statement("SELECT title FROM Boks", None, ODATA, capabilities_for("odata"))


def test_explain_detection() -> None:
    assert is_explain("  explain SELECT 1")
    assert not is_explain("SELECT 'explain'")
    explained = plan("EXPLAIN SELECT name FROM account")
    assert explained.is_explain is True


def test_unknown_service_kind() -> None:
    with pytest.raises(ValueError, match="unknown service kind"):
        capabilities_for("sap")  # type: ignore[arg-type]
