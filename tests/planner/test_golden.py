"""Golden SQL -> OData cases (one per line), and every local SQL statement checked by DuckDB itself."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from d365conn.engine import GUID_KEY_MACRO_SQL
from d365conn.planner import Plan
from d365conn.planner.catalog_views import VIEWS
from tests.planner.golden import cases, plan_for, render

HERE = Path(__file__).parent
FILES = {
    "dataverse": HERE / "golden_dataverse.txt",
    "odata": HERE / "golden_odata.txt",
    "businesscentral": HERE / "golden_businesscentral.txt",
}
ALL = [
    (kind, number, sql, expected)
    for kind, path in FILES.items()
    for number, sql, expected in cases(str(path))
]

_DUCK_TYPES = {
    "Edm.String": "VARCHAR",
    "Edm.Guid": "UUID",
    "Edm.Int16": "SMALLINT",
    "Edm.Int32": "INTEGER",
    "Edm.Int64": "BIGINT",
    "Edm.Decimal": "DECIMAL(38,10)",
    "Edm.Double": "DOUBLE",
    "Edm.Boolean": "BOOLEAN",
    "Edm.DateTimeOffset": "TIMESTAMPTZ",
    "Edm.Date": "DATE",
}


def test_enough_cases() -> None:
    assert sum(1 for case in ALL if case[0] == "dataverse") >= 150
    assert sum(1 for case in ALL if case[0] == "odata") >= 40


@pytest.mark.parametrize(("kind", "number", "sql", "expected"), ALL, ids=[f"{c[0]}:{c[1]}" for c in ALL])
def test_golden(kind: str, number: int, sql: str, expected: str) -> None:
    assert render(plan_for(sql, kind)) == expected


def _engine(plan: Plan) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection holding an empty relation for every scan and catalog view of ``plan``."""
    con = duckdb.connect()
    con.execute(GUID_KEY_MACRO_SQL)  # the engine defines it on every connection
    if plan.collation:
        con.execute(f"SET default_collation = '{plan.collation}'")
    for scan in plan.scans:
        cols = ", ".join(f'"{c.name}" {_DUCK_TYPES.get(c.edm_type, "VARCHAR")}' for c in scan.columns)
        con.execute(f'CREATE TABLE "{scan.alias}" ({cols})')
    for relation in plan.catalog_relations:
        cols = ", ".join(f'"{name}" {_DUCK_TYPES[edm]}' for name, edm in VIEWS[relation])
        con.execute(f'CREATE TABLE "{relation}" ({cols})')
    return con


LOCAL = [case for case in ALL if " | local: " in case[3] or case[3].startswith("local: ")]


@pytest.mark.parametrize(("kind", "number", "sql", "expected"), LOCAL, ids=[f"{c[0]}:{c[1]}" for c in LOCAL])
def test_local_sql_runs_in_duckdb(kind: str, number: int, sql: str, expected: str) -> None:
    plan = plan_for(sql, kind)
    assert isinstance(plan, Plan)
    for candidate in (plan, plan.fallback):
        if candidate is None or candidate.local_sql is None:
            continue
        con = _engine(candidate)
        if "SUM(name)" in sql:
            # Not a planning error: the engine refuses to sum text, as SQL Server would.
            with pytest.raises(duckdb.BinderException):
                con.execute(candidate.local_sql)
            continue
        result = con.execute(candidate.local_sql)
        assert len(result.description or []) == len(candidate.columns)
