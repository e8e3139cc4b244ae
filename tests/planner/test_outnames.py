"""d365conn.planner.outnames: local plans name their result columns as the statement writes them.

Each statement is planned against the test catalog and its ``local_sql`` run in a real DuckDB over
empty relations shaped like the plan's scans (and catalog relations); the names DuckDB reports --
what ``cursor.description`` shows for a local plan -- must be the plan's own column names, which
are the statement's: aliases as written (quoted or not), column references as spelled, ``*`` as the
catalog spells its columns.
"""

from __future__ import annotations

import duckdb
import pytest

from d365conn.planner import CATALOG_VIEWS, Plan, PlanCache, capabilities_for, plan_statement
from d365conn.planner.general import _SQL_TYPES
from d365conn.planner.plan import GUID_KEY_MACRO
from tests.planner.catalogs import DATAVERSE, ODATA


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def engine_names(plan: Plan) -> list[str]:
    """The column names DuckDB reports for the plan's local SQL."""
    assert plan.local_sql is not None
    con = duckdb.connect()
    con.execute(f"CREATE MACRO {GUID_KEY_MACRO}(x) AS x")
    for scan in plan.scans:
        cols = ", ".join(f"{_q(c.name)} {_SQL_TYPES.get(c.edm_type, 'VARCHAR')}" for c in scan.columns)
        con.execute(f"CREATE TABLE {_q(scan.alias)} ({cols})")
    for rel in plan.catalog_relations:
        cols = ", ".join(f"{_q(n)} {_SQL_TYPES[e]}" for n, e in CATALOG_VIEWS[rel])
        con.execute(f"CREATE TABLE {_q(rel)} ({cols})")
    description = con.execute(plan.local_sql).description or []
    return [d[0] for d in description]


def plan(sql: str, kind: str = "dataverse") -> Plan:
    catalog = DATAVERSE if kind == "dataverse" else ODATA
    return plan_statement(sql, None, catalog, capabilities_for(kind))  # type: ignore[arg-type]


CASES = [
    # local tail over one table: GROUP BY/HAVING, expressions with OFFSET/FETCH
    (
        'SELECT statecode AS "Total", SUM(revenue) AS "SUM(revenue)" FROM account '
        "GROUP BY statecode HAVING COUNT(*) > 1",
        ["Total", "SUM(revenue)"],
    ),
    (
        'SELECT upper(name) AS "BigName", name AS "Name" FROM account ORDER BY name '
        "OFFSET 1 ROWS FETCH NEXT 2 ROWS ONLY",
        ["BigName", "Name"],
    ),
    ("SELECT upper(name) AS [BigName], name AS Nm FROM account WHERE LEN(name) > 3", ["BigName", "Nm"]),
    ("SELECT NAME, Revenue FROM account WHERE upper(name) = 'X'", ["NAME", "Revenue"]),
    ("SELECT DISTINCT UPPER(Name) AS Up, StateCode FROM account", ["Up", "StateCode"]),
    ("SELECT COUNT(*), MAX(Revenue) FROM account WHERE upper(name) = 'X'", ["COUNT(*)", "MAX(Revenue)"]),
    # joins the service cannot expand, derived tables, CTEs, set operations
    (
        'SELECT a.name AS "AccountName", c.fullname AS FullName FROM account a '
        "LEFT JOIN contact c ON upper(a.name) = upper(c.fullname)",
        ["AccountName", "FullName"],
    ),
    ("SELECT t.Total FROM (SELECT statecode AS Total FROM account) t WHERE t.Total > 0", ["Total"]),
    ("SELECT * FROM (SELECT statecode AS Total, name AS [Name X] FROM account) t", ["Total", "Name X"]),
    (
        "WITH c AS (SELECT name AS AccountName FROM account) SELECT * FROM c ORDER BY AccountName",
        ["AccountName"],
    ),
    ('SELECT name AS "N" FROM account UNION SELECT fullname FROM contact', ["N"]),
    ('SELECT name AS "N" FROM account UNION ALL SELECT fullname AS "Other" FROM contact ORDER BY 1', ["N"]),
    # window functions
    (
        'SELECT name AS "Name", ROW_NUMBER() OVER (ORDER BY revenue DESC) AS "Rank" FROM account',
        ["Name", "Rank"],
    ),
    # * names the catalog's spelling; INFORMATION_SCHEMA names are upper case
    ("SELECT DISTINCT * FROM Authors", ["ID", "name", "dateOfBirth"]),
    ("SELECT TABLE_NAME, column_name AS Col FROM INFORMATION_SCHEMA.COLUMNS", ["TABLE_NAME", "Col"]),
    (
        "SELECT * FROM INFORMATION_SCHEMA.TABLES",
        ["TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE", "ENTITY_SET_NAME"],
    ),
]


@pytest.mark.parametrize(("sql", "names"), CASES)
def test_local_names_are_the_statements(sql: str, names: list[str]) -> None:
    kind = "odata" if "Authors" in sql else "dataverse"
    planned = plan(sql, kind)
    assert planned.local_sql is not None, "the case must run locally"
    assert [c.name for c in planned.columns] == names
    assert engine_names(planned) == names


def test_names_resolve_case_insensitively() -> None:
    planned = plan('SELECT t.TOTAL AS "x" FROM (SELECT StateCode AS "Total" FROM ACCOUNT) AS T ORDER BY "X"')
    assert engine_names(planned) == ["x"]


def test_pushed_and_expanded_plans_keep_names() -> None:
    direct = plan('SELECT name AS "Name", Revenue FROM account')
    assert direct.local_sql is None
    assert [c.name for c in direct.columns] == ["Name", "Revenue"]
    joined = plan(
        'SELECT a.name AS "AccountName", c.fullname AS FullName FROM account a '
        "JOIN contact c ON a.primarycontactid = c.contactid"
    )
    assert [c.name for c in joined.columns] == ["AccountName", "FullName"]


def test_cache_keys_keep_the_case_of_the_text() -> None:
    cache = PlanCache()
    caps = capabilities_for("dataverse")
    upper = cache.plan('SELECT name AS "A" FROM account WHERE LEN(name) > 1', None, DATAVERSE, caps)
    lower = cache.plan('SELECT name AS "a" FROM account WHERE LEN(name) > 1', None, DATAVERSE, caps)
    assert engine_names(upper) == ["A"]
    assert engine_names(lower) == ["a"]
