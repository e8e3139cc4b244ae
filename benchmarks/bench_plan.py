"""Micro benchmark: SQL -> plan translation, cold and through the plan cache (issue 9, case 4).

Targets: a 10-column query with filters and ordering plans in under 1 ms cold and under 50 us from
the plan cache. The catalog is ``account`` built from the real captured metadata (248 attributes)
by the catalog's own Dataverse builder. Figures are medians of several runs of many iterations, in
CPU time of this process (wall time on a shared machine also counts waits for a core); the baseline
is sqlglot's parse of the same text alone (the floor a cold plan cannot go below), and the ratio
column is baseline time / our time.

Run: ``python benchmarks/bench_plan.py [--runs 7] [--iterations 2000]``. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlglot

from d365conn.catalog.dataverse_columns import build_table
from d365conn.catalog.loader import TableEntry
from d365conn.catalog.model import Table
from d365conn.planner import PlanCache, capabilities_for, plan_statement

SQL = (
    "SELECT TOP 50 accountid, name, revenue, numberofemployees, primarycontactid, industrycode, statecode, "
    "createdon, emailaddress1, telephone1 FROM account "
    "WHERE revenue > 1000 AND name LIKE 'Contoso%' AND statecode = 0 AND createdon >= '2024-01-01' "
    "ORDER BY name, createdon DESC"
)
SQL_PARAMS = (
    "SELECT TOP 50 accountid, name, revenue, numberofemployees, primarycontactid, industrycode, statecode, "
    "createdon, emailaddress1, telephone1 FROM account "
    "WHERE revenue > ? AND statecode = ? AND primarycontactid = ? ORDER BY name, createdon DESC"
)
PARAMS = [1000, 0, "70bf4d48-34cb-ed11-b596-0022481d68cd"]


def _fixtures() -> Path:
    found = Path(__file__).resolve().parents[1] / "tests" / "captured" / "dataverse"
    if not found.is_dir():
        raise SystemExit(f"{found} not found: run the benchmark from a checkout of the repository")
    return found


class _Catalog:
    def __init__(self, tables: list[Table]) -> None:
        self._tables = {t.name: t for t in tables} | {t.entity_set: t for t in tables}

    def find_table(self, name: str) -> Table | None:
        return self._tables.get(name.lower())

    def table_names(self) -> list[str]:
        return sorted({t.name for t in self._tables.values()})


def _catalog() -> _Catalog:
    root = _fixtures()
    with (root / "entitydefinition_account.json").open(encoding="utf-8") as fh:
        definition: dict[str, Any] = json.load(fh)
    with (root / "retrieve-metadata-changes" / "account.json").open(encoding="utf-8") as fh:
        entity = json.load(fh)["EntityMetadata"][0]
    index = {
        "account": TableEntry("account", "accounts", "accountid", "name"),
        "contact": TableEntry("contact", "contacts", "contactid", "fullname"),
    }
    # The capture filled properties it was not asked for with defaults (IsValidODataAttribute false on
    # every attribute): they are not metadata (see tests/catalog/conftest.py), so drop them.
    attributes = [{k: v for k, v in a.items() if k != "IsValidODataAttribute"} for a in entity["Attributes"]]
    account = build_table({**definition, "Attributes": attributes, "Keys": entity["Keys"]}, index).table
    return _Catalog([account])


def _median_us(fn: Callable[[], object], runs: int, iterations: int) -> float:
    for _ in range(min(iterations, 200)):
        fn()  # warm up imports and caches of sqlglot itself
    samples = []
    for _ in range(runs):
        # CPU time of this process: on a busy machine wall time also counts the waits for a core.
        start = time.process_time()
        for _ in range(iterations):
            fn()
        samples.append((time.process_time() - start) / iterations * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    catalog = _catalog()
    caps = capabilities_for("dataverse")
    cache = PlanCache()
    cache.plan(SQL, None, catalog, caps)
    cache.plan(SQL_PARAMS, PARAMS, catalog, caps)
    cold_iterations = max(args.iterations // 10, 50)
    parse = _median_us(lambda: sqlglot.parse_one(SQL, read="tsql"), args.runs, cold_iterations)
    rows = [
        (
            "cold plan, literals",
            _median_us(lambda: plan_statement(SQL, None, catalog, caps), args.runs, cold_iterations),
            1000.0,
        ),
        (
            "cold plan, 3 parameters",
            _median_us(lambda: plan_statement(SQL_PARAMS, PARAMS, catalog, caps), args.runs, cold_iterations),
            1000.0,
        ),
        (
            "cached plan, literals",
            _median_us(lambda: cache.plan(SQL, None, catalog, caps), args.runs, args.iterations),
            50.0,
        ),
        (
            "cached plan, 3 parameters bound",
            _median_us(lambda: cache.plan(SQL_PARAMS, PARAMS, catalog, caps), args.runs, args.iterations),
            50.0,
        ),
    ]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{platform.python_implementation()}, sqlglot {sqlglot.__version__}"
    )
    print(f"baseline: sqlglot.parse_one alone {parse:8.1f} us (median of {args.runs} runs)")
    print(f"{'case':34} {'median us':>10} {'target us':>10} {'vs parse':>9} {'met':>4}")
    for name, median, target in rows:
        met = "yes" if median < target else "no"
        print(f"{name:34} {median:10.1f} {target:10.0f} {parse / median:8.2f}x {met:>4}")
    cold = rows[0][1]
    cached = rows[2][1]
    print(f"cache speed-up (cold / cached, literals): {cold / cached:.0f}x")
    print("plan:")
    for line in plan_statement(SQL, None, catalog, caps).explain():
        print("  " + line)


if __name__ == "__main__":
    main()
