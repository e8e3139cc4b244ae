"""The planner's entry points: a SQL statement in, a printable :class:`Plan` out. No I/O.

Owns: :func:`plan_statement` (dispatch by statement kind: SELECT and set operations are planned,
EXPLAIN returns the inner statement's plan flagged ``explain``, writes and other statements are
refused with NotSupportedError), :func:`plan_tree` (the same for a parsed, bound tree) and
:func:`resolve_prerequisites` (an inner query's values written into the outer plan).

A statement is first offered to :mod:`.direct` (the service answers it alone); if that declines,
:mod:`.general` plans scans plus local DuckDB SQL. Writes (INSERT/UPDATE/DELETE/MERGE) will get a
planner of their own beside these two; until then they are refused here.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlglot import exp

from d365conn.catalog.model import CatalogView
from d365conn.exceptions import NotSupportedError, ProgrammingError
from d365conn.planner.capabilities import Capabilities
from d365conn.planner.context import PlanContext, SlotBook
from d365conn.planner.direct import plan_direct
from d365conn.planner.general import plan_general
from d365conn.planner.parse import bind_parameters, parse_statement
from d365conn.planner.plan import ODataQuery, Plan, Prerequisite, Scan
from d365conn.planner.shape import NotDirect
from d365conn.planner.values import Unpushable, json_element, odata_literal

_WRITES: dict[type[exp.Expr], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
}
_QUERIES = (exp.Select, exp.Union, exp.Intersect, exp.Except)
_EXPLICIT_NULLS = re.compile(r"\bNULLS\s+(FIRST|LAST)\b", re.IGNORECASE)


def plan_statement(
    sql: str | exp.Expr,
    params: Sequence[Any] | Mapping[str, Any] | None,
    catalog: CatalogView,
    capabilities: Capabilities,
    *,
    dialect: str = "tsql",
    page_size: int | None = None,
) -> Plan:
    """Plan one statement. Raises ProgrammingError (syntax, unknown names) or NotSupportedError."""
    if isinstance(sql, exp.Expr):
        tree, explain, read, text = sql.copy(), False, dialect, sql.sql(dialect)
    else:
        tree, explain, read = parse_statement(sql, dialect)
        text = sql
    bind_parameters(tree, params)
    ctx = new_context(catalog, capabilities, read, page_size, text)
    plan = plan_tree(tree, ctx)
    return dataclasses.replace(plan, is_explain=True) if explain else plan


def new_context(  # noqa: PLR0917
    catalog: CatalogView,
    capabilities: Capabilities,
    dialect: str,
    page_size: int | None,
    text: str,
    slots: SlotBook | None = None,
) -> PlanContext:
    return PlanContext(
        catalog=catalog,
        caps=capabilities,
        dialect=dialect,
        page_size=page_size,
        slots=slots,
        explicit_nulls=_EXPLICIT_NULLS.search(text) is not None,
        nonce=_nonce(text),
    )


def _nonce(text: str) -> str:
    # Placeholders carry a random tag that the statement's own text cannot contain.
    while True:
        tag = secrets.token_hex(4)
        if tag not in text:
            return tag


def _check_kind(tree: exp.Expr) -> None:
    for cls, name in _WRITES.items():
        if isinstance(tree, cls):
            raise NotSupportedError(f"{name} is a write: the query planner plans SELECT statements only")
    if not isinstance(tree, _QUERIES):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this).upper()
        raise NotSupportedError(f"{kind} statements are not supported; d365conn answers SELECT queries")


def plan_tree(tree: exp.Expr, ctx: PlanContext) -> Plan:
    """Plan a parsed statement whose parameters are bound (or left open for a template)."""
    _check_kind(tree)
    memo: list[Plan] = []

    def general() -> Plan:
        if not memo:
            fresh = dataclasses.replace(ctx, prerequisites=[], _aliases=set())
            memo.append(plan_general(tree, fresh))
        return memo[0]

    def subquery(node: exp.Expr) -> Plan:
        inner = dataclasses.replace(ctx, prerequisites=[], _aliases=set())
        return plan_tree(node.copy(), inner)

    ctx.plan_subquery = subquery
    try:
        return plan_direct(tree, ctx, general)
    except NotDirect:
        return general()


# --- prerequisites -------------------------------------------------------------------------------


def _in_filter(pre: Prerequisite, values: Sequence[Any]) -> str:
    """The OData test ``property [NOT] IN values`` for a prerequisite's values."""
    caps = pre.capabilities
    prop = pre.property
    if pre.negated and any(v is None for v in values):
        return f"({prop} eq null and {prop} ne null)"  # NOT IN (..., NULL) is never true
    seen: list[Any] = []
    for v in values:
        if v is not None and v not in seen:
            seen.append(v)
    if not seen:
        # IN () matches nothing; NOT IN () matches every row, NULLs included.
        joiner = "or" if pre.negated else "and"
        return f"({prop} eq null {joiner} {prop} ne null)"
    guard = "" if caps is None or caps.sql_null_semantics or not pre.nullable else f"{prop} ne null and "
    quoted = any(isinstance(v, str) and "'" in v for v in seen)
    if caps is not None and caps.in_list == "dataverse" and len(seen) > 1 and not quoted:
        items = ",".join(json_element(v, pre.edm_type, pre.name) for v in seen)
        func = "NotIn" if pre.negated else "In"
        return f"Microsoft.Dynamics.CRM.{func}(PropertyName='{pre.name}',PropertyValues=[{items}])"
    literals = [odata_literal(v, pre.edm_type, pre.name) for v in seen]
    if pre.negated:
        return "(" + guard + " and ".join(f"{prop} ne {lit}" for lit in literals) + ")"
    if caps is not None and caps.in_list == "in" and len(literals) > 1:
        return f"{prop} in ({','.join(literals)})"
    return "(" + " or ".join(f"{prop} eq {lit}" for lit in literals) + ")"


def replace_outside_literals(text: str, mapping: Mapping[str, str]) -> str:
    """Replace placeholders that stand outside OData string literals ('...' with '' escapes)."""
    if not any(key in text for key in mapping):
        return text
    out: list[str] = []
    i = 0
    quoted = False
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted:
            for key, value in mapping.items():
                if text.startswith(key, i):
                    out.append(value)
                    i += len(key)
                    break
            else:
                out.append(ch)
                i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def map_odata_text(plan: Plan, edit: Callable[[str], str]) -> Plan:
    """``plan`` with ``edit`` applied to every scan's filter, apply and expand text."""

    def query(q: ODataQuery) -> ODataQuery:
        filter_ = edit(q.filter) if q.filter is not None else None
        apply = edit(q.apply) if q.apply is not None else None
        expand = tuple(edit(e) for e in q.expand)
        if filter_ == q.filter and apply == q.apply and expand == q.expand:
            return q
        return dataclasses.replace(q, filter=filter_, apply=apply, expand=expand)

    scans = []
    changed = False
    for scan in plan.scans:
        edited = query(scan.query)
        changed = changed or edited is not scan.query
        scans.append(scan if edited is scan.query else dataclasses.replace(scan, query=edited))
    return dataclasses.replace(plan, scans=tuple(scans)) if changed else plan


def resolve_prerequisites(plan: Plan, values: Mapping[str, Sequence[Any]]) -> Plan:
    """Bind each prerequisite's values (keyed by placeholder) into the plan. Pure.

    When the values would make a request URL longer than the service accepts, the prerequisite's
    ``overflow`` plan (the same statement with the subquery evaluated locally) is returned instead.
    """
    if not plan.prerequisites:
        return plan
    mapping: dict[str, str] = {}
    for pre in plan.prerequisites:
        if pre.placeholder not in values:
            raise ProgrammingError(f"no values for prerequisite {pre.placeholder!r}")
        try:
            mapping[pre.placeholder] = _in_filter(pre, list(values[pre.placeholder]))
        except Unpushable:
            return _overflow(plan, pre)
    resolved = map_odata_text(plan, lambda t: replace_outside_literals(t, mapping))
    resolved = dataclasses.replace(resolved, prerequisites=())
    for pre in plan.prerequisites:
        limit = pre.capabilities.max_url_length if pre.capabilities else 8192
        if any(_too_long(s, limit) for s in resolved.scans):
            return _overflow(plan, pre)
    return resolved


def _too_long(scan: Scan, limit: int) -> bool:
    # The service root is not known here: keep a margin of 1,024 characters for it.
    return len(scan.query.resource) + len(scan.query.query_string()) + 1024 > limit


def _overflow(plan: Plan, pre: Prerequisite) -> Plan:
    if pre.overflow is None:
        raise NotSupportedError("the subquery's values do not fit in a request URL")
    return pre.overflow
