"""The differential suite: every query of ``queries.py`` through ``d365conn.connect()`` against the
sandbox, compared row for row with the reference engine loaded from the same service independently;
and, for the queries that declare it, the pushdown their EXPLAIN must show."""

from __future__ import annotations

import pytest

import d365conn
from differential.queries import QUERIES, Q
from differential.reference import ReferenceEngine
from differential.runner import differences, explain, pushdown_problems


def test_the_suite_is_large_and_ids_are_unique() -> None:
    ids = [q.id for q in QUERIES]
    assert len(ids) >= 100
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("q", QUERIES, ids=[q.id for q in QUERIES])
def test_query_matches_reference(q: Q, driver: d365conn.Connection, reference: ReferenceEngine) -> None:
    report = differences(q, driver, reference)
    assert report is None, "\n" + report


PUSHDOWN = [q for q in QUERIES if q.remote is not None or q.pushed]


@pytest.mark.parametrize("q", PUSHDOWN, ids=[q.id for q in PUSHDOWN])
def test_pushdown(q: Q, driver: d365conn.Connection, reference: ReferenceEngine) -> None:
    problems = pushdown_problems(q, driver, reference)
    assert not problems, "\n".join(problems)


def test_a_join_pushes_each_sides_filter(driver: d365conn.Connection) -> None:
    plan = explain(
        driver,
        "SELECT a.name, u.fullname FROM account a JOIN systemuser u ON a.owninguser = u.systemuserid "
        "WHERE a.address1_city = 'Seattle' AND u.title = 'Sales Director'",
    )
    requests = "\n".join(line for line in plan if not line.strip().lower().startswith("locally"))
    # Whether the join runs locally or as an $expand, each side's own filter goes to the service.
    assert "'Seattle'" in requests
    assert "'Sales Director'" in requests
