"""The golden-file format of the planner tests: one case per line, ``SQL  =>  expected plan``.

A plan renders as `` | ``-separated parts: ``pre: GET ...`` for each prerequisite's requests,
``GET <resource>?<options>`` for each scan (options unencoded, in the canonical order), followed by
``[limit N]`` when the client stops after N rows without a matching ``$top``, ``[page N]`` for a
lowered page size (``[top only]`` when a pushed ``$top`` is sent without one) and
``[annotations]`` when formatted values are requested; ``local: <DuckDB SQL>`` when the engine
runs; ``fallback`` when a fallback plan exists; ``catalog: <relation>`` for INFORMATION_SCHEMA
relations (``[tables: ...]`` when the statement names the tables it needs).
An expected error is written ``!ClassName: message``.
Lines starting with ``#`` are comments (they cite the Microsoft doc example a case mirrors).
"""

from __future__ import annotations

from d365conn.exceptions import Error
from d365conn.planner import Plan, capabilities_for, plan_statement
from tests.planner.catalogs import DATAVERSE, ODATA

SEPARATOR = "  =>  "


def render(plan: Plan | Exception) -> str:
    if isinstance(plan, Exception):
        return f"!{type(plan).__name__}: {plan}"
    parts: list[str] = []
    # Prerequisite placeholders carry a random tag: show them by position.
    names = {pre.placeholder: f"<pre{i}>" for i, pre in enumerate(plan.prerequisites)}
    for pre in plan.prerequisites:
        parts.extend(f"pre: GET {s.query.readable()}" for s in pre.plan.scans)
        if pre.plan.local_sql:
            parts.append(f"pre: local: {pre.plan.local_sql}")
    for scan in plan.scans:
        text = f"GET {scan.query.readable()}"
        for placeholder, name in names.items():
            text = text.replace(placeholder, name)
        if scan.limit is not None and scan.limit != scan.query.top:
            text += f" [limit {scan.limit}]"
        if scan.page_size == 0:
            text += " [top only]"
        elif scan.page_size is not None:
            text += f" [page {scan.page_size}]"
        if scan.annotations:
            text += " [annotations]"
        parts.append(text)
    tables = f" [tables: {', '.join(plan.catalog_tables)}]" if plan.catalog_tables is not None else ""
    parts.extend(f"catalog: {rel}{tables}" for rel in plan.catalog_relations)
    if plan.local_sql is not None:
        parts.append(f"local: {plan.local_sql}")
    if plan.fallback is not None:
        parts.append("fallback")
    return " | ".join(parts)


def plan_for(sql: str, kind: str) -> Plan | Exception:
    catalog = DATAVERSE if kind == "dataverse" else ODATA
    try:
        return plan_statement(sql, None, catalog, capabilities_for(kind))  # type: ignore[arg-type]
    except Error as err:
        return err


def cases(path: str) -> list[tuple[int, str, str]]:
    out = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\n")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            sql, _, expected = text.partition(SEPARATOR)
            out.append((number, sql.strip(), expected.strip()))
    return out
