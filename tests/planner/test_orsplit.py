"""OR across different fields on Business Central: one scan per branch, unioned by primary key.

The plans are checked for their requests, then run: each branch scan is filled with the rows the
service would answer for its ``$filter`` (computed here in Python, independently of the planner),
and the local SQL must give exactly the rows SQL's ``WHERE`` keeps -- each once, duplicates of
values with distinct keys kept, a row matching several branches not repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import duckdb

from d365conn.planner import Plan, capabilities_for, plan_statement
from d365conn.planner.orsplit import MAX_BRANCHES
from tests.planner.catalogs import BOOKS, DATAVERSE, ODATA, DictCatalog

BC = capabilities_for("businesscentral")
Row = dict[str, Any]

BOOK_ROWS: list[Row] = [
    {"ID": 1, "title": "A", "stock": 1, "price": Decimal("2")},  # both branches
    {"ID": 2, "title": "B", "stock": 1, "price": Decimal("9")},
    {"ID": 3, "title": "C", "stock": 5, "price": Decimal("2")},
    {"ID": 4, "title": "B", "stock": 1, "price": Decimal("9")},  # same values as 2, another key
    {"ID": 5, "title": "D", "stock": 5, "price": Decimal("9")},  # neither
    {"ID": 6, "title": None, "stock": None, "price": Decimal("2")},  # NULLs, second branch
]


def run(plan: Plan, branches: dict[str, Callable[[Row], bool]]) -> list[tuple[Any, ...]]:
    """Fill every scan with the rows its branch selects, then run the local SQL."""
    con = duckdb.connect()
    for scan in plan.scans:
        cols = ", ".join(f'"{c.name}" VARCHAR' if c.edm_type == "Edm.String" else f'"{c.name}" DOUBLE'
                         for c in scan.columns)  # fmt: skip
        con.execute(f'CREATE TABLE "{scan.alias}" ({cols})')
        assert scan.query.filter is not None
        keep = branches[scan.query.filter]
        for row in filter(keep, BOOK_ROWS):
            values = [row.get(c.name) for c in scan.columns]
            con.execute(f'INSERT INTO "{scan.alias}" VALUES ({", ".join("?" for _ in values)})', values)
    assert plan.local_sql is not None
    return sorted(con.execute(plan.local_sql).fetchall(), key=repr)


def test_branches_are_fetched_separately_and_merged_once_per_row() -> None:
    plan = plan_statement("SELECT title, stock FROM Books WHERE stock = 1 OR price = 2", None, ODATA, BC)
    filters = [s.query.filter for s in plan.scans]
    assert filters == ["stock eq 1", "price eq 2"]
    assert all("ID" in s.query.select for s in plan.scans)  # the key is always fetched
    rows = run(plan, {"stock eq 1": lambda r: r["stock"] == 1, "price eq 2": lambda r: r["price"] == 2})
    expected = [(r["title"], r["stock"]) for r in BOOK_ROWS if r["stock"] == 1 or r["price"] == 2]
    assert rows == sorted([(t, None if s is None else float(s)) for t, s in expected], key=repr)
    assert len(rows) == 5  # 1 once (both branches), 2 and 4 both (equal values), 3, 6 (NULLs)


def test_other_conditions_go_into_every_branch() -> None:
    plan = plan_statement(
        "SELECT ID FROM Books WHERE title = 'B' AND (stock = 5 OR price = 9)", None, ODATA, BC
    )
    assert [s.query.filter for s in plan.scans] == [
        "title eq 'B' and stock eq 5",
        "title eq 'B' and price eq 9",
    ]
    rows = run(
        plan,
        {
            "title eq 'B' and stock eq 5": lambda r: r["title"] == "B" and r["stock"] == 5,
            "title eq 'B' and price eq 9": lambda r: r["title"] == "B" and r["price"] == 9,
        },
    )
    assert rows == [(2.0,), (4.0,)]


def test_an_unpushable_or_inexact_branch_keeps_one_scan() -> None:
    for where in ("stock = 1 OR LENGTH(title) = 3", "stock = 1 OR title LIKE 'A%b%'"):
        plan = plan_statement(f"SELECT title FROM Books WHERE {where}", None, ODATA, BC)
        assert len(plan.scans) == 1 and plan.scans[0].query.filter is None, where


def test_too_many_branches_keep_one_scan() -> None:
    where = " OR ".join(f"{'stock' if i % 2 else 'price'} = {i}" for i in range(MAX_BRANCHES + 1))
    plan = plan_statement(f"SELECT title FROM Books WHERE {where}", None, ODATA, BC)
    assert len(plan.scans) == 1


def test_a_table_without_primary_key_is_not_split() -> None:
    keyless = DictCatalog([replace(BOOKS, primary_key=())])
    plan = plan_statement("SELECT title FROM Books WHERE stock = 1 OR price = 2", None, keyless, BC)
    assert len(plan.scans) == 1 and plan.scans[0].query.filter is None


def test_services_that_take_the_or_are_unchanged() -> None:
    plan = plan_statement(
        "SELECT name FROM account WHERE name = 'x' OR revenue > 5",
        None,
        DATAVERSE,
        capabilities_for("dataverse"),
    )
    assert len(plan.scans) == 1 and plan.local_sql is None
