"""Running one differential query on both sides and describing any disagreement.

Owns: :func:`differences` (driver rows vs reference rows for a :class:`~differential.queries.Q`),
:func:`explain` (the plan lines of ``EXPLAIN <sql>`` through the cursor) and the report text a failing
test prints: the SQL, the differences, and both sides' first rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

import d365conn
from differential.compare import Row, compare_rows
from differential.queries import FromReference, Q
from differential.reference import ReferenceEngine


def bind(q: Q, reference: ReferenceEngine) -> list[Any]:
    """The query's parameters, with values taken from the reference resolved."""
    return [reference.query(p.sql)[0][0] if isinstance(p, FromReference) else p for p in q.params]


def run_driver(connection: d365conn.Connection, sql: str, params: Sequence[Any]) -> list[Row]:
    cursor = connection.cursor()
    try:
        if params:
            cursor.execute(sql, list(params))
        else:
            cursor.execute(sql)
        return [tuple(r) for r in cursor.fetchall()]
    finally:
        cursor.close()


def differences(q: Q, connection: d365conn.Connection, reference: ReferenceEngine) -> str | None:
    """None when both sides agree, else a report naming the query, the SQL and what differs."""
    params = bind(q, reference)
    want = reference.query(q.reference_sql, params)
    try:
        got = run_driver(connection, q.sql, params)
    except d365conn.Error as error:
        return _report(q, params, [f"driver raised {type(error).__name__}: {error}"], None, want)
    problems = compare_rows(got, want, q.order)
    return _report(q, params, problems, got, want) if problems else None


def _report(q: Q, params: Sequence[Any], problems: list[str], got: list[Row] | None, want: list[Row]) -> str:
    lines = [f"[{q.id}] {q.sql}"]
    if q.ref is not None:
        lines.append(f"  reference SQL: {q.ref}")
    if params:
        lines.append(f"  params: {list(params)!r}")
    lines += [f"  {p}" for p in problems]
    if got is not None:
        lines.append(f"  driver rows ({len(got)}): {got[:3]!r}")
    lines.append(f"  reference rows ({len(want)}): {want[:3]!r}")
    return "\n".join(lines)


def explain(connection: d365conn.Connection, sql: str, params: Sequence[Any] = ()) -> list[str]:
    """The plan lines of ``EXPLAIN <sql>``, URL-decoded."""
    rows = run_driver(connection, "EXPLAIN " + sql, params)
    return [unquote(str(row[0])) for row in rows]


def runs_locally(plan: Sequence[str]) -> bool:
    """Whether a plan has a step the embedded engine runs: a "locally: <sql>" line other than
    "locally: nothing (the service answers the whole statement)"."""
    # Indented lines describe a fallback plan (e.g. after an aggregate-limit refusal), not this one.
    steps = [line.lower() for line in plan if line.lower().startswith("locally")]
    return any(not step.startswith("locally: nothing") for step in steps)


def pushdown_problems(q: Q, connection: d365conn.Connection, reference: ReferenceEngine) -> list[str]:
    """What the EXPLAIN of ``q`` lacks of the pushdown the query list expects."""
    plan = explain(connection, q.sql, bind(q, reference))
    text = "\n".join(line for line in plan if not line[:1].isspace())
    problems: list[str] = []
    if q.remote is True and runs_locally(plan):
        problems.append("expected the service to answer it all, but part runs locally")
    if q.remote is False and not runs_locally(plan):
        problems.append("expected a local step, the plan has none")
    problems += [f"expected {fragment!r} in the requests" for fragment in q.pushed if fragment not in text]
    if problems:
        problems = [f"[{q.id}] {q.sql}", *problems, "plan:", *plan]
    return problems
