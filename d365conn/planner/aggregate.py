"""Grouping, aggregates and DISTINCT answered by the service with ``$apply``.

Owns: :func:`plan_grouped`. ``GROUP BY`` keys, ``COUNT(*)``, ``COUNT(DISTINCT x)``, ``SUM``,
``AVG``, ``MIN`` and ``MAX`` of one table become ``$apply=[filter(...)/]groupby((keys),aggregate(...))``
as in Microsoft's "Aggregate data using OData" examples, within the capability row's limits (no
grouping by datetime on Dataverse; ordering by an aggregate runs in a local tail). A service
without ``$apply`` but with an exact ``/$count`` answers ``COUNT(*)`` alone. Every ``$apply`` plan
carries a ``fallback`` -- the same statement aggregated locally over a streamed scan -- for the
service's aggregate row limit (50,000 on Dataverse).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from sqlglot import exp

from d365conn import exceptions as exc
from d365conn.catalog.model import Column
from d365conn.planner.aggtypes import NUMERIC_TYPES, AggregateType, aggregate_type
from d365conn.planner.context import PlanContext, output_column
from d365conn.planner.names import Source, resolve_column
from d365conn.planner.plan import ODataQuery, OutputColumn, Plan, Scan
from d365conn.planner.shape import (
    Item,
    NotDirect,
    nulls_as_asked,
    order_target,
    order_term,
    read_limit,
    result_columns,
    scan_alias,
    single_scan_plan,
    tail_sql,
)

_AGG_METHODS: dict[type[exp.Expr], str] = {
    exp.Sum: "sum",
    exp.Avg: "average",
    exp.Min: "min",
    exp.Max: "max",
}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

_DATETIME_TYPES = frozenset({"Edm.DateTimeOffset", "Edm.Date"})


def plan_grouped(  # noqa: PLR0917
    select: exp.Select,
    ctx: PlanContext,
    base: Source,
    expands: list[tuple[Source, bool]],
    items: list[Item],
    filter_text: str | None,
    fallback: Callable[[], Plan],
) -> Plan:
    caps = ctx.caps
    if expands:
        raise NotDirect("aggregate over a join")
    distinct = select.args.get("distinct")
    if distinct is not None and (distinct.args.get("on") or any(i.column is None for i in items)):
        raise NotDirect("DISTINCT ON / DISTINCT aggregate")
    group = select.args.get("group")
    keys: list[Column] = []
    if group is not None:
        if any(group.args.get(k) for k in ("grouping_sets", "cube", "rollup", "totals")):
            raise NotDirect("grouping sets")
        for node in group.expressions:
            if not isinstance(node, exp.Column):
                raise NotDirect("GROUP BY expression")
            _, col = resolve_column(node, [base])
            keys.append(col)
    elif distinct is not None:
        keys = [i.column for i in items if i.column is not None]
    # COUNT(*) alone, without $apply: the exact count from <set>/$count where it is exact.
    if not keys and len(items) == 1 and _is_count_star(items[0].expr) and not caps.apply and caps.count_path:
        query = ODataQuery(resource=f"{base.table.entity_set}/$count", filter=filter_text)
        # Nullable as every aggregate is described (see planner/aggtypes.py): the local engine's
        # description cannot say otherwise, and the two must agree.
        out = OutputColumn(items[0].name, "Edm.Int64", ("$count",))
        scan = Scan(
            alias=scan_alias(ctx, base), table=base.table.name, query=query, columns=(out,), kind="count"
        )
        return Plan(scans=(scan,), columns=result_columns(scan.columns), notes=("count from /$count",))
    if not caps.apply:
        raise NotDirect("no $apply")
    key_props: list[str] = []
    for col in keys:
        if col.role not in ("attribute", "choice", "lookup") or not col.filterable:
            raise NotDirect("group key")
        if not caps.apply_groupby_datetime and col.edm_type in _DATETIME_TYPES:
            raise NotDirect("groupby on a datetime")
        prop = col.property or col.name
        if prop not in key_props:
            key_props.append(prop)
    columns: list[OutputColumn] = []
    aggs: list[str] = []
    used = {c.name.lower() for c in base.table.columns} | {p.lower() for p in key_props}
    for item in items:
        if item.column is not None:
            if item.column not in keys:
                raise NotDirect("column neither grouped nor aggregated")
            key = output_column(item.name, item.column, (item.column.property or item.column.name,))
            # Described as nullable as the fallback (the local engine) describes every column, so the
            # description does not change when the service refuses the aggregate.
            columns.append(dataclasses.replace(key, nullable=True))
            continue
        alias = _agg_alias(item.name, used, len(aggs))
        used.add(alias.lower())
        text, rule = _aggregate(item.expr, base, alias, ctx)
        aggs.append(text)
        columns.append(
            OutputColumn(item.name, rule.edm_type, (alias,), precision=rule.precision, scale=rule.scale)
        )
    steps: list[str] = []
    if filter_text is not None:
        steps.append(f"filter({filter_text})")
    aggregate = f"aggregate({','.join(aggs)})" if aggs else ""
    if key_props:
        inner = f",{aggregate}" if aggregate else ""
        steps.append(f"groupby(({','.join(key_props)}){inner})")
    else:
        steps.append(aggregate)
    apply = "/".join(steps)
    # ORDER BY: group keys in $orderby; aggregates (refused by Dataverse) in a local tail.
    names = [c.name for c in columns]
    pushed: list[str] = []
    tail: list[str] = []
    order = select.args.get("order")
    for ordered in order.expressions if order is not None else []:
        target = order_target(ordered.this, items, select)
        desc = bool(ordered.args.get("desc"))
        hit: Item | None = target if isinstance(target, Item) else None
        if hit is None and isinstance(target, exp.Column):
            _, key_col = resolve_column(target, [base])
            hit = next((i for i in items if i.column is key_col), None)
        if hit is None:
            hit = next((i for i in items if i.column is None and i.expr == target), None)
        if hit is None or names.count(hit.name) != 1:
            raise NotDirect("ORDER BY not in the result")
        edm_type = hit.column.edm_type if hit.column is not None else None
        tail.append(order_term(ordered, hit.name, ctx, edm_type))
        nulls_ok = nulls_as_asked(ordered, ctx)
        if hit.column is not None and caps.apply_orderby_keys and nulls_ok and hit.column.sortable:
            key_prop = hit.column.property or hit.column.name
            pushed.append(f"{key_prop} desc" if desc else key_prop)
        elif hit.column is None and caps.apply_orderby_aggregate and nulls_ok:
            alias_text = columns[names.index(hit.name)].path[0]
            pushed.append(f"{alias_text} desc" if desc else alias_text)
    count, offset = read_limit(select)
    order_pushed = len(pushed) == len(tail)
    having = _having_sql(select, items, columns, base)
    local: str | None = None
    limit: int | None = None
    notes = []
    if caps.apply_row_limit:
        notes.append(
            f"aggregated by the service; over {caps.apply_row_limit} rows it refuses and the fallback runs"
        )
    if having is not None:
        # The service groups; the grouped rows (few) are filtered locally. Order and limit apply
        # after the filter, so they join the tail too (the service may still sort: harmless).
        if len(set(names)) != len(names):
            raise NotDirect("duplicate names under a local tail")
        orderby = tuple(pushed) if order_pushed else ()
        local = tail_sql(scan_alias(ctx, base), tail, count, offset, where=having, columns=columns)
        notes.append("HAVING of the aggregate runs locally")
    elif order_pushed and not offset:
        limit = count  # $top is not sent with $apply: only the client stops early
        orderby = tuple(pushed)
    else:
        if len(set(names)) != len(names):
            raise NotDirect("duplicate names under a local tail")
        orderby = () if not order_pushed else tuple(pushed)
        local = tail_sql(scan_alias(ctx, base), [] if order_pushed else tail, count, offset, columns=columns)
        notes.append("ORDER BY/OFFSET of the aggregate runs locally")
    query = ODataQuery(resource=base.table.entity_set, apply=apply, orderby=orderby)
    return single_scan_plan(
        ctx,
        base,
        query,
        columns,
        limit=limit,
        local=local,
        notes=notes,
        fallback=fallback() if caps.apply_row_limit else None,
    )


def _having_sql(
    select: exp.Select, items: list[Item], columns: list[OutputColumn], base: Source
) -> str | None:
    """HAVING as a condition over the grouped rows' result columns (DuckDB SQL), or None.

    Every aggregate and column in it must be one of the result columns (by expression, alias or
    group key); anything else -- an aggregate not selected, a parameter marker -- is NotDirect, and
    the general planner groups the whole scan locally as before.
    """
    having = select.args.get("having")
    if having is None:
        return None
    condition: exp.Expr = having.this.copy()
    if condition.find(exp.Placeholder, exp.Parameter, exp.Subquery, exp.Select, exp.Window):
        raise NotDirect("HAVING with a parameter or subquery")
    names = [c.name for c in columns]
    by_alias = {i.name.lower(): i.name for i in items}

    def result_name(node: exp.Expr) -> str:
        hit: str | None = None
        if isinstance(node, exp.AggFunc):
            hit = next((i.name for i in items if i.column is None and i.expr == node), None)
        elif isinstance(node, exp.Column):
            try:
                _, col = resolve_column(node, [base])
            except (NotDirect, exc.ProgrammingError):
                col = None
            by_key = next((i.name for i in items if i.column is col), None) if col is not None else None
            by_name = None if node.table else by_alias.get(node.name.lower())
            if col is not None and by_name is not None and by_key != by_name:
                raise NotDirect("HAVING name is both a column and a result alias")
            hit = by_key or by_name
        if hit is None or names.count(hit) != 1:
            raise NotDirect("HAVING term not in the result")
        return hit

    # Outermost aggregates and columns only (a column inside an aggregate goes with it), all
    # resolved before any is replaced, so a new name is never resolved a second time.
    terms = [
        node
        for node in condition.find_all(exp.AggFunc, exp.Column)
        if node.find_ancestor(exp.AggFunc) is None
    ]
    if isinstance(condition, (exp.AggFunc, exp.Column)):
        return exp.column(result_name(condition), quoted=True).sql(dialect="duckdb")
    for node, name in [(node, result_name(node)) for node in terms]:
        node.replace(exp.column(name, quoted=True))
    return condition.sql(dialect="duckdb")


def _is_count_star(node: exp.Expr) -> bool:
    return isinstance(node, exp.Count) and isinstance(node.this, exp.Star)


def _agg_alias(name: str, used: set[str], n: int) -> str:
    if _IDENT.match(name) and name.lower() not in used:
        return name
    alias = f"agg{n}"
    while alias.lower() in used:
        alias += "_"
    return alias


def _aggregate(node: exp.Expr, base: Source, alias: str, ctx: PlanContext) -> tuple[str, AggregateType]:
    """One aggregate as ``$apply`` text and the type of its result (the rule of planner/aggtypes.py,
    which the local engine's fallback follows too)."""
    count = AggregateType("Edm.Int64")
    if _is_count_star(node):
        return f"$count as {alias}", count
    if isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct):
        args = node.this.expressions
        if (
            len(args) != 1
            or not isinstance(args[0], exp.Column)
            or "countdistinct" not in (ctx.caps.apply_methods)
        ):
            raise NotDirect("COUNT(DISTINCT ...)")
        _, col = resolve_column(args[0], [base])
        if col.role not in ("attribute", "choice", "lookup"):
            raise NotDirect("aggregate column")
        return f"{col.property or col.name} with countdistinct as {alias}", count
    method = _AGG_METHODS.get(type(node))
    if method is None or method not in ctx.caps.apply_methods or not isinstance(node.this, exp.Column):
        raise NotDirect("aggregate")
    _, col = resolve_column(node.this, [base])
    if col.role not in ("attribute", "choice"):
        raise NotDirect("aggregate column")
    if method in ("sum", "average") and col.edm_type not in NUMERIC_TYPES:
        raise NotDirect("sum/average of a non-number")
    rule = aggregate_type("avg" if method == "average" else method, col.edm_type, col.precision, col.scale)
    if rule is None:
        raise NotDirect("aggregate of this type")
    return f"{col.property or col.name} with {method} as {alias}", rule
