"""Local SQL keeps the service's semantics: case-insensitive strings on Dataverse, NULLs sorted lowest.

Each plan's scans are filled with rows in DuckDB (as the executor does, with ``default_collation``
set from ``Plan.collation``), its local SQL is run, and the answer compared with what Dataverse
(SQL Server, case-insensitive collation) would return for the same rows.
"""

from __future__ import annotations

from typing import Any

import duckdb

from d365conn.planner import Plan, capabilities_for, plan_statement
from tests.planner.catalogs import DATAVERSE, ODATA

DV = capabilities_for("dataverse")
OD = capabilities_for("odata")
TYPES = {
    "Edm.String": "VARCHAR",
    "Edm.Guid": "VARCHAR",
    "Edm.Int32": "INTEGER",
    "Edm.Int64": "BIGINT",
    "Edm.Decimal": "DECIMAL(19,4)",
}


def run(plan: Plan, data: dict[str, list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    if plan.collation:
        con.execute(f"SET default_collation = '{plan.collation}'")
    for scan in plan.scans:
        cols = ", ".join(f'"{c.name}" {TYPES.get(c.edm_type, "VARCHAR")}' for c in scan.columns)
        con.execute(f'CREATE TABLE "{scan.alias}" ({cols})')
        for row in data[scan.table]:
            values = [row.get(c.name) for c in scan.columns]
            con.execute(f'INSERT INTO "{scan.alias}" VALUES ({", ".join("?" for _ in values)})', values)
    assert plan.local_sql is not None
    return con.execute(plan.local_sql).fetchall()


ACCOUNTS: list[dict[str, Any]] = [
    {"accountid": "1", "name": "Contoso", "revenue": 10, "primarycontactid": "c1"},
    {"accountid": "2", "name": "contoso", "revenue": None, "primarycontactid": "c2"},
    {"accountid": "3", "name": "Fabrikam", "revenue": 5, "primarycontactid": None},
    {"accountid": "4", "name": None, "revenue": 7, "primarycontactid": "c1"},
]
CONTACTS: list[dict[str, Any]] = [
    {"contactid": "c1", "fullname": "CONTOSO", "parentcustomerid": "1"},
    {"contactid": "c2", "fullname": "Adams", "parentcustomerid": "3"},
]
DATA: dict[str, list[dict[str, Any]]] = {"account": ACCOUNTS, "contact": CONTACTS}


def test_join_on_strings_is_case_insensitive() -> None:
    plan = plan_statement(
        "SELECT a.accountid, c.contactid FROM account a JOIN contact c ON a.name = c.fullname ORDER BY 1",
        None,
        DATAVERSE,
        DV,
    )
    assert plan.collation == "nocase"
    assert run(plan, DATA) == [("1", "c1"), ("2", "c1")]


def test_group_by_and_distinct_fold_case() -> None:
    plan = plan_statement(
        "SELECT COUNT(*) FROM (SELECT DISTINCT UPPER(name) AS u FROM account) t", None, DATAVERSE, DV
    )
    assert run(plan, DATA) == [(3,)]
    # COUNT(accountid) is not a result column, so the grouping itself runs locally (HAVING over
    # selected aggregates is pushed as $apply: see test_having_filters_the_service_groups).
    grouped = plan_statement(
        "SELECT name, COUNT(*) AS n FROM account GROUP BY name HAVING COUNT(accountid) > 1",
        None,
        DATAVERSE,
        DV,
    )
    assert grouped.scans[0].query.apply is None
    rows = run(grouped, DATA)
    assert len(rows) == 1 and rows[0][0].lower() == "contoso" and rows[0][1] == 2


def test_having_filters_the_service_groups() -> None:
    plan = plan_statement(
        "SELECT name, COUNT(*) AS n FROM account GROUP BY name HAVING COUNT(*) > 1 AND name <> 'x' "
        "ORDER BY n DESC",
        None,
        DATAVERSE,
        DV,
    )
    assert plan.scans[0].query.apply == "groupby((name),aggregate($count as n))"
    assert plan.fallback is not None
    # The grouped rows as Dataverse returns them (case folded by its collation).
    # NULL <> 'x' is unknown and 'X' equals 'x' under the case-insensitive collation: both go.
    grouped: list[dict[str, Any]] = [
        {"name": "Contoso", "n": 2},
        {"name": "Fabrikam", "n": 1},
        {"name": "X", "n": 3},
        {"name": None, "n": 4},
        {"name": "Adams", "n": 5},
    ]
    assert run(plan, {"account": grouped}) == [("Adams", 5), ("Contoso", 2)]
    # The fallback groups the raw rows locally and answers the same for the rows it sees.
    assert run(plan.fallback, DATA) == [("Contoso", 2)]


def test_local_like_is_case_insensitive_and_reads_brackets() -> None:
    plan = plan_statement(
        "SELECT name FROM account WHERE UPPER(name) LIKE 'C%' OR name LIKE 'f[a-c]b%'", None, DATAVERSE, DV
    )
    assert sorted(r[0] for r in run(plan, DATA)) == ["Contoso", "Fabrikam", "contoso"]


def test_nulls_sort_first_ascending_and_last_descending() -> None:
    asc = plan_statement("SELECT revenue FROM account ORDER BY revenue * 1", None, DATAVERSE, DV)
    assert [r[0] for r in run(asc, DATA)] == [None, 5, 7, 10]
    desc = plan_statement("SELECT revenue FROM account ORDER BY revenue * 1 DESC", None, DATAVERSE, DV)
    assert [r[0] for r in run(desc, DATA)] == [10, 7, 5, None]


def test_explicit_nulls_last_is_honoured() -> None:
    plan = plan_statement("SELECT revenue FROM account ORDER BY revenue NULLS LAST", None, DATAVERSE, DV)
    assert [r[0] for r in run(plan, DATA)] == [5, 7, 10, None]


def test_case_sensitive_service_compares_exactly() -> None:
    plan = plan_statement("SELECT b.title FROM Books b JOIN Authors a ON b.title = a.name", None, ODATA, OD)
    assert plan.collation is None
    rows = run(plan, {"Books": [{"title": "Poe"}, {"title": "poe"}], "Authors": [{"ID": 1, "name": "Poe"}]})
    assert rows == [("Poe",)]


def test_left_join_keeps_unmatched_rows_after_pushing_the_on_filter() -> None:
    plan = plan_statement(
        "SELECT a.accountid, c.fullname FROM account a LEFT JOIN contact c "
        "ON c.parentcustomerid = a.accountid AND c.fullname LIKE 'A%' ORDER BY 1",
        None,
        DATAVERSE,
        DV,
    )
    contact_scan = next(s for s in plan.scans if s.table == "contact")
    assert contact_scan.query.filter == "startswith(fullname,'A')"
    # The service would filter the contacts; feed the scan what the service would return.
    rows = run(
        plan, {"account": ACCOUNTS, "contact": [c for c in CONTACTS if c["fullname"].lower().startswith("a")]}
    )
    assert rows == [("1", None), ("2", None), ("3", "Adams"), ("4", None)]
