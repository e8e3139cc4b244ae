"""``IN (SELECT ...)``: the inner query runs first and its values are written into the outer request."""

from __future__ import annotations

import uuid

import pytest

from d365conn.exceptions import ProgrammingError
from d365conn.planner import PlanCache, capabilities_for, plan_statement, resolve_prerequisites
from tests.planner.catalogs import DATAVERSE, ODATA

DV = capabilities_for("dataverse")
OD = capabilities_for("odata")
A = uuid.UUID("78914942-34cb-ed11-b596-0022481d68cd")
B = uuid.UUID("7a914942-34cb-ed11-b596-0022481d68cd")
IN_SQL = (
    "SELECT name FROM account WHERE accountid IN "
    "(SELECT parentcustomerid FROM contact WHERE lastname = 'Smith')"
)
NOT_IN_SQL = (
    "SELECT name FROM account WHERE primarycontactid NOT IN "
    "(SELECT contactid FROM contact WHERE donotemail = 1)"
)


def test_inner_query_is_planned_to_run_first() -> None:
    plan = plan_statement(IN_SQL, None, DATAVERSE, DV)
    (pre,) = plan.prerequisites
    assert (
        pre.plan.scans[0].query.readable()
        == "contacts?$select=_parentcustomerid_value&$filter=lastname eq 'Smith'"
    )
    assert pre.plan.local_sql is None
    assert plan.scans[0].query.filter == pre.placeholder
    assert pre.overflow is not None and pre.overflow.local_sql is not None
    assert any(line.startswith("first, for") for line in plan.explain())


def test_values_become_a_dataverse_in_function() -> None:
    plan = plan_statement(IN_SQL, None, DATAVERSE, DV)
    resolved = resolve_prerequisites(plan, {plan.prerequisites[0].placeholder: [A, B, A, None]})
    assert resolved.prerequisites == ()
    assert resolved.scans[0].query.filter == (
        f'Microsoft.Dynamics.CRM.In(PropertyName=\'accountid\',PropertyValues=["{A}","{B}"])'
    )


def test_one_value_is_an_eq_and_no_value_matches_nothing() -> None:
    plan = plan_statement(IN_SQL, None, DATAVERSE, DV)
    key = plan.prerequisites[0].placeholder
    assert resolve_prerequisites(plan, {key: [A]}).scans[0].query.filter == f"(accountid eq {A})"
    assert (
        resolve_prerequisites(plan, {key: []}).scans[0].query.filter
        == "(accountid eq null and accountid ne null)"
    )


def test_not_in_uses_notin_and_a_null_value_matches_nothing() -> None:
    plan = plan_statement(NOT_IN_SQL, None, DATAVERSE, DV)
    key = plan.prerequisites[0].placeholder
    assert resolve_prerequisites(plan, {key: [A, B]}).scans[0].query.filter == (
        f'Microsoft.Dynamics.CRM.NotIn(PropertyName=\'primarycontactid\',PropertyValues=["{A}","{B}"])'
    )
    nothing = resolve_prerequisites(plan, {key: [A, None]}).scans[0].query.filter
    assert nothing == "(_primarycontactid_value eq null and _primarycontactid_value ne null)"
    everything = resolve_prerequisites(plan, {key: []}).scans[0].query.filter
    assert everything == "(_primarycontactid_value eq null or _primarycontactid_value ne null)"


def test_plain_odata_gets_or_chains_with_null_guards() -> None:
    sql = "SELECT title FROM Books WHERE author_ID NOT IN (SELECT ID FROM Authors WHERE name = 'Poe')"
    plan = plan_statement(sql, None, ODATA, OD)
    key = plan.prerequisites[0].placeholder
    resolved = resolve_prerequisites(plan, {key: [1, 2]})
    assert resolved.scans[0].query.filter == "(author_ID ne null and author_ID ne 1 and author_ID ne 2)"
    positive = plan_statement(sql.replace("NOT IN", "IN"), None, ODATA, OD)
    key = positive.prerequisites[0].placeholder
    assert (
        resolve_prerequisites(positive, {key: [1, 2]}).scans[0].query.filter
        == "(author_ID eq 1 or author_ID eq 2)"
    )


def test_values_with_quotes_avoid_the_json_list() -> None:
    sql = "SELECT name FROM account WHERE name IN (SELECT fullname FROM contact)"
    plan = plan_statement(sql, None, DATAVERSE, DV)
    key = plan.prerequisites[0].placeholder
    assert (
        resolve_prerequisites(plan, {key: ["O'Brian", "X"]}).scans[0].query.filter
        == "(name eq 'O''Brian' or name eq 'X')"
    )


def test_too_many_values_fall_back_to_local_evaluation() -> None:
    plan = plan_statement(IN_SQL, None, DATAVERSE, DV)
    key = plan.prerequisites[0].placeholder
    values = [uuid.UUID(int=i) for i in range(2000)]  # ~80,000 characters: over the 32,768 URL limit
    resolved = resolve_prerequisites(plan, {key: values})
    assert resolved is plan.prerequisites[0].overflow
    assert resolved.local_sql is not None and " IN (SELECT" in resolved.local_sql


def test_a_placeholder_inside_a_literal_is_left_alone() -> None:
    # A parameter that happens to spell the placeholder stays a string, inside its quotes.
    plan = plan_statement(IN_SQL.replace("'Smith'", "?"), ["x"], DATAVERSE, DV)
    key = plan.prerequisites[0].placeholder
    cache = PlanCache()
    sql = "SELECT name FROM account WHERE name = ? AND accountid IN (SELECT parentcustomerid FROM contact)"
    template = cache.plan(sql, ["x"], DATAVERSE, DV)
    tricky = cache.plan(sql, [template.prerequisites[0].placeholder], DATAVERSE, DV)
    resolved = resolve_prerequisites(tricky, {tricky.prerequisites[0].placeholder: [A]})
    literal = "'" + tricky.prerequisites[0].placeholder + "'"
    assert resolved.scans[0].query.filter == f"name eq {literal} and (accountid eq {A})"
    assert key


def test_missing_values_are_an_error() -> None:
    plan = plan_statement(IN_SQL, None, DATAVERSE, DV)
    with pytest.raises(ProgrammingError, match="no values for prerequisite"):
        resolve_prerequisites(plan, {})


def test_correlated_subqueries_run_locally() -> None:
    sql = (
        "SELECT name FROM account WHERE accountid IN "
        "(SELECT parentcustomerid FROM contact c WHERE c.parentcustomerid = account.accountid)"
    )
    plan = plan_statement(sql, None, DATAVERSE, DV)
    assert plan.prerequisites == () and plan.local_sql is not None
