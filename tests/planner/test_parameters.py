"""Parameters bound as typed literals, and the plan cache that binds them into templates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from d365conn.planner import Plan, PlanCache, capabilities_for, plan_statement
from tests.planner.catalogs import DATAVERSE, ODATA

DV = capabilities_for("dataverse")
OD = capabilities_for("odata")
GUID = uuid.UUID("70bf4d48-34cb-ed11-b596-0022481d68cd")


def _filter(plan: Plan) -> str | None:
    return plan.scans[0].query.filter


@pytest.mark.parametrize(
    ("sql", "value", "expected"),
    [
        ("SELECT name FROM account WHERE primarycontactid = ?", GUID, f"_primarycontactid_value eq {GUID}"),
        (
            "SELECT name FROM account WHERE primarycontactid = ?",
            str(GUID).upper(),
            f"_primarycontactid_value eq {GUID}",
        ),
        ("SELECT name FROM account WHERE revenue > ?", Decimal("1234.5600"), "revenue gt 1234.5600"),
        ("SELECT name FROM account WHERE revenue > ?", Decimal("-1E+3"), "revenue gt -1000"),
        ("SELECT name FROM account WHERE revenue > ?", 10, "revenue gt 10"),
        ("SELECT name FROM account WHERE address1_latitude > ?", 1.25, "address1_latitude gt 1.25"),
        ("SELECT name FROM account WHERE creditonhold = ?", True, "creditonhold eq true"),
        (
            "SELECT name FROM account WHERE createdon > ?",
            dt.datetime(2024, 1, 2, 3, 4, 5),
            "createdon gt 2024-01-02T03:04:05Z",
        ),
        (
            "SELECT name FROM account WHERE createdon > ?",
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "createdon gt 2024-01-02T01:04:05Z",
        ),
        (
            "SELECT name FROM account WHERE createdon > ?",
            dt.date(2024, 1, 2),
            "createdon gt 2024-01-02T00:00:00Z",
        ),
        ("SELECT fullname FROM contact WHERE birthdate = ?", dt.date(2024, 4, 10), "birthdate eq 2024-04-10"),
        ("SELECT name FROM account WHERE industrycodename = ?", "Brokers", "industrycode eq 4"),
        ("SELECT name FROM account WHERE name LIKE ?", "Con%", "startswith(name,'Con')"),
    ],
)
def test_typed_parameters(sql: str, value: object, expected: str) -> None:
    plan = plan_statement(sql, [value], DATAVERSE, DV)
    assert _filter(plan) == expected
    cache = PlanCache()
    cache.plan(sql, [value], DATAVERSE, DV)
    assert _filter(cache.plan(sql, [value], DATAVERSE, DV)) == expected


def test_positional_markers_follow_the_text_not_the_tree() -> None:
    # TOP (?) sits in the LIMIT clause of the tree, after WHERE; the first value is still TOP's.
    sql = "SELECT TOP (?) name FROM account WHERE name = ? AND revenue > ?"
    plan = plan_statement(sql, [5, "x", 7], DATAVERSE, DV)
    assert plan.scans[0].query.top == 5 and plan.scans[0].limit == 5
    assert _filter(plan) == "name eq 'x' and revenue gt 7"


def test_named_and_at_parameters() -> None:
    plan = plan_statement(
        "SELECT name FROM account WHERE name = :n AND revenue > @r", {"n": "a", "r": 1}, DATAVERSE, DV
    )
    assert _filter(plan) == "name eq 'a' and revenue gt 1"


def test_null_parameter_is_never_eq_null() -> None:
    # SQL `x = NULL` matches nothing; OData `eq null` would match the NULL rows.
    plan = plan_statement("SELECT name FROM account WHERE revenue = ?", [None], DATAVERSE, DV)
    assert _filter(plan) is None
    assert plan.local_sql is not None and "= NULL" in plan.local_sql


def test_cache_reuses_a_template_across_values() -> None:
    cache = PlanCache()
    sql = "SELECT name, revenue FROM account WHERE revenue > ? AND name = ? ORDER BY name"
    first = cache.plan(sql, [1, "a"], DATAVERSE, DV)
    second = cache.plan(sql, [2, "b'c"], DATAVERSE, DV)
    assert _filter(first) == "revenue gt 1 and name eq 'a'"
    assert _filter(second) == "revenue gt 2 and name eq 'b''c'"
    assert (cache.hits, cache.misses) == (1, 1)
    assert second == plan_statement(sql, [2, "b'c"], DATAVERSE, DV)


def test_cache_replans_when_a_value_does_not_fit_its_slot() -> None:
    cache = PlanCache()
    sql = "SELECT name FROM account WHERE revenue > ?"
    cache.plan(sql, [1], DATAVERSE, DV)
    as_text = cache.plan(sql, ["12"], DATAVERSE, DV)  # a string for a number: evaluated locally
    assert _filter(as_text) is None and as_text.local_sql is not None
    assert _filter(cache.plan(sql, [None], DATAVERSE, DV)) is None


def test_cache_replans_statements_whose_values_shape_the_request() -> None:
    cache = PlanCache()
    sql = "SELECT name FROM account WHERE name LIKE ?"
    assert _filter(cache.plan(sql, ["a%"], DATAVERSE, DV)) == "startswith(name,'a')"
    assert _filter(cache.plan(sql, ["%a"], DATAVERSE, DV)) == "endswith(name,'a')"
    top = "SELECT TOP (?) name FROM account"
    assert cache.plan(top, [3], DATAVERSE, DV).scans[0].limit == 3
    assert cache.plan(top, [4], DATAVERSE, DV).scans[0].limit == 4


def test_cache_binds_local_sql_and_in_lists() -> None:
    cache = PlanCache()
    sql = "SELECT UPPER(name) AS u FROM account WHERE LEN(name) > ? AND numberofemployees IN (?, ?)"
    cache.plan(sql, [1, 2, 3], DATAVERSE, DV)
    plan = cache.plan(sql, [4, 5, 6], DATAVERSE, DV)
    assert (
        _filter(plan)
        == 'Microsoft.Dynamics.CRM.In(PropertyName=\'numberofemployees\',PropertyValues=["5","6"])'
    )
    assert plan.local_sql is not None and "> 4" in plan.local_sql
    assert cache.hits == 1


def test_cache_keys_on_capabilities_and_catalog() -> None:
    cache = PlanCache()
    sql = "SELECT title FROM Books WHERE stock IN (?, ?)"
    plain = cache.plan(sql, [1, 2], ODATA, OD)
    assert _filter(plain) == "(stock eq 1 or stock eq 2)"
    with_in = dataclasses.replace(OD, in_list="in")
    assert _filter(cache.plan(sql, [1, 2], ODATA, with_in)) == "stock in (1,2)"
    assert cache.misses == 2


def test_cache_without_parameters_returns_the_same_plan() -> None:
    cache = PlanCache(maxsize=2)
    sql = "SELECT name FROM account"
    assert cache.plan(sql, None, DATAVERSE, DV) is cache.plan(sql, None, DATAVERSE, DV)
    cache.plan("SELECT fullname FROM contact", None, DATAVERSE, DV)
    cache.plan("SELECT name FROM opportunity", None, DATAVERSE, DV)
    assert len(cache) == 2


def test_cache_keeps_explain() -> None:
    cache = PlanCache()
    plan = cache.plan("EXPLAIN SELECT name FROM account WHERE name = ?", ["x"], DATAVERSE, DV)
    assert plan.is_explain and _filter(plan) == "name eq 'x'"


def test_page_size_is_lowered_to_the_limit() -> None:
    # A pushed $top that fits in one page goes alone: with a maxpagesize Dataverse would ignore it.
    plan = plan_statement("SELECT TOP 10 name FROM account", None, DATAVERSE, DV, page_size=5000)
    assert plan.scans[0].query.top == 10 and plan.scans[0].page_size == 0
    # A limit the client enforces without a matching $top lowers the page size instead.
    plan = plan_statement(
        "SELECT DISTINCT TOP 5 name FROM account ORDER BY name", None, DATAVERSE, DV, page_size=5000
    )
    assert plan.scans[0].query.top is None and plan.scans[0].page_size == 5
    plan = plan_statement("SELECT TOP 9000 name FROM account", None, DATAVERSE, DV, page_size=5000)
    assert plan.scans[0].page_size == 5000
    assert (
        plan_statement("SELECT name FROM account", None, DATAVERSE, DV, page_size=500).scans[0].page_size
        == 500
    )
