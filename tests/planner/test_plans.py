"""Plan properties beyond the golden lines: what the executor needs, limits, EXPLAIN, capability rows."""

from __future__ import annotations

import dataclasses
import uuid

from d365conn.catalog.model import FORMATTED
from d365conn.planner import capabilities_for, plan_statement
from tests.planner.catalogs import DATAVERSE, ODATA

DV = capabilities_for("dataverse")
OD = capabilities_for("odata")


def test_scan_columns_carry_types_and_json_paths() -> None:
    plan = plan_statement(
        "SELECT a.name, a.revenue, a.primarycontactid, a.primarycontactidname, a.industrycodename, "
        "c.fullname FROM account a LEFT JOIN contact c ON a.primarycontactid = c.contactid",
        None,
        DATAVERSE,
        DV,
    )
    (scan,) = plan.scans
    by_name = {c.name: c for c in scan.columns}
    assert by_name["revenue"].edm_type == "Edm.Decimal" and by_name["revenue"].scale == 4
    assert by_name["primarycontactid"].path == ("_primarycontactid_value",)
    assert by_name["primarycontactidname"].path == ("_primarycontactid_value" + FORMATTED,)
    assert by_name["industrycodename"].path == ("industrycode" + FORMATTED,)
    assert by_name["fullname"].path == ("primarycontactid", "fullname")
    assert scan.annotations
    assert [c.name for c in plan.columns] == [
        "name",
        "revenue",
        "primarycontactid",
        "primarycontactidname",
        "industrycodename",
        "fullname",
    ]


def test_aggregate_columns_read_their_aliases() -> None:
    plan = plan_statement(
        "SELECT statuscode, COUNT(*) AS n, AVG(numberofemployees) AS a FROM account GROUP BY statuscode",
        None,
        DATAVERSE,
        DV,
    )
    (scan,) = plan.scans
    assert [(c.name, c.edm_type, c.path) for c in scan.columns] == [
        ("statuscode", "Edm.Int32", ("statuscode",)),
        ("n", "Edm.Int64", ("n",)),  # COUNT is BIGINT wherever it runs (planner/aggtypes.py)
        ("a", "Edm.Double", ("a",)),
    ]
    assert plan.fallback is not None and plan.fallback.local_sql is not None
    assert [c.name for c in plan.fallback.columns] == ["statuscode", "n", "a"]


def test_general_plans_describe_their_result() -> None:
    plan = plan_statement(
        "SELECT UPPER(name) AS u, revenue * 2 AS r, COUNT(*) OVER () AS n, createdon FROM account",
        None,
        DATAVERSE,
        DV,
    )
    assert [(c.name, c.edm_type) for c in plan.columns] == [
        ("u", "Edm.String"),
        ("r", "Edm.Decimal"),
        ("n", "Edm.Int64"),
        ("createdon", "Edm.DateTimeOffset"),
    ]


def test_a_long_in_list_is_evaluated_locally() -> None:
    ids = ", ".join(f"'{uuid.UUID(int=i)}'" for i in range(1500))
    plan = plan_statement(
        f"SELECT name FROM account WHERE statecode = 0 AND accountid IN ({ids})", None, DATAVERSE, DV
    )
    (scan,) = plan.scans
    assert scan.query.filter == "statecode eq 0"
    assert plan.local_sql is not None and "IN (" in plan.local_sql
    assert len(scan.query.url("https://org.crm.dynamics.com/api/data/v9.2/")) < DV.max_url_length
    short = plan_statement(f"SELECT name FROM account WHERE accountid IN ({ids[:400]})", None, DATAVERSE, DV)
    assert short.local_sql is None


def test_catalog_queries_name_the_tables_they_need() -> None:
    plan = plan_statement(
        "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME IN ('account', 'contact')",
        None,
        DATAVERSE,
        DV,
    )
    assert plan.scans == () and plan.catalog_relations == ("information_schema_columns",)
    assert plan.catalog_tables == ("account", "contact")
    everything = plan_statement("SELECT * FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE", None, DATAVERSE, DV)
    assert everything.catalog_tables is None


def test_explain_lists_requests_and_local_work() -> None:
    plan = plan_statement(
        "EXPLAIN SELECT industrycode, COUNT(*) AS n FROM account WHERE name = 'a&b' GROUP BY industrycode "
        "ORDER BY n DESC",
        None,
        DATAVERSE,
        DV,
    )
    assert plan.is_explain
    lines = plan.explain("https://org.crm.dynamics.com/api/data/v9.2/")
    assert lines[0] == (
        "GET https://org.crm.dynamics.com/api/data/v9.2/accounts?$apply=filter(name eq 'a&b')/"
        "groupby((industrycode),aggregate($count as n))  -> account"
    )
    assert any(line.startswith('locally: SELECT * FROM "account" ORDER BY "n" DESC') for line in lines)
    assert any(line.startswith("if the service refuses") for line in lines)


def test_only_answered_entirely_by_the_service_skips_the_engine() -> None:
    direct = plan_statement(
        "SELECT TOP 5 name FROM account WHERE revenue > 1 ORDER BY name", None, DATAVERSE, DV
    )
    assert direct.local_sql is None and len(direct.scans) == 1 and direct.collation is None
    local = plan_statement("SELECT name FROM account ORDER BY UPPER(name)", None, DATAVERSE, DV)
    assert local.local_sql is not None and local.collation == "nocase"


def test_capability_rows_are_data() -> None:
    assert DV.in_list == "dataverse" and not DV.skip and DV.apply and DV.apply_row_limit == 50_000
    assert OD.in_list == "or" and OD.skip and not OD.apply and OD.count_path
    bc = capabilities_for("businesscentral")
    assert not bc.or_across_fields and not bc.apply and bc.max_page_size == 20_000
    assert ("Lower", "tolower") in bc.functions
    # A connection adjusts a row with dataclasses.replace, and the plan follows.
    accent_blind = dataclasses.replace(DV, collation="nocase.noaccent")
    plan = plan_statement("SELECT name FROM account ORDER BY UPPER(name)", None, DATAVERSE, accent_blind)
    assert plan.collation == "nocase.noaccent"
    with_apply = dataclasses.replace(OD, apply=True)
    grouped = plan_statement(
        "SELECT author_ID, COUNT(*) AS n FROM Books GROUP BY author_ID", None, ODATA, with_apply
    )
    assert grouped.scans[0].query.apply == "groupby((author_ID),aggregate($count as n))"
    assert grouped.fallback is None  # no row limit declared: nothing to fall back from


def test_other_dialects() -> None:
    pg = plan_statement(
        "SELECT \"name\" FROM account WHERE name ILIKE 'a%' ORDER BY name LIMIT 3",
        None,
        DATAVERSE,
        DV,
        dialect="postgres",
    )
    assert (
        pg.scans[0].query.readable()
        == "accounts?$select=name&$filter=startswith(name,'a')&$orderby=name&$top=3"
    )
    mysql = plan_statement(
        "SELECT `name` FROM account WHERE name LIKE '%[x]%' LIMIT 2", None, DATAVERSE, DV, dialect="mysql"
    )
    # Outside T-SQL a [ in a LIKE pattern is text: Dataverse must see it bracketed.
    assert mysql.scans[0].query.filter == "contains(name,'[[]x]')"
    duck = plan_statement("SELECT name FROM account WHERE revenue::INT > 5", None, DATAVERSE, DV)
    assert duck.local_sql is not None  # read as DuckDB SQL after T-SQL could not


def test_a_parsed_expression_is_accepted() -> None:
    import sqlglot

    tree = sqlglot.parse_one("SELECT name FROM account WHERE name = 'x'", read="tsql")
    plan = plan_statement(tree, None, DATAVERSE, DV)
    assert plan.scans[0].query.readable() == "accounts?$select=name&$filter=name eq 'x'"
    assert tree.sql() == "SELECT name FROM account WHERE name = 'x'"  # the caller's tree is untouched
