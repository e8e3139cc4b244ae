"""Statements the service answers by itself: one request, rows streamed straight to the cursor.

Owns: :func:`plan_direct`. A SELECT over one table -- optionally with N:1 joins along lookups,
written as ``$expand`` -- whose WHERE, grouping, aggregates, DISTINCT, ORDER BY and TOP all have
an OData form becomes a single :class:`Scan` with ``local_sql is None`` (grouping, aggregates and
DISTINCT are written by :mod:`.aggregate`). When only the final ORDER BY or OFFSET is beyond the
service (ordering by an aggregate, OFFSET on Dataverse), the scan is still pushed whole and a
one-line local tail orders or skips its rows.

Anything else raises :class:`NotDirect`, and the general planner (:mod:`.general`) takes over.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from d365conn.catalog.model import Column
from d365conn.exceptions import ProgrammingError
from d365conn.planner.aggregate import plan_grouped
from d365conn.planner.context import (
    ANNOTATED_ROLES,
    PRE_CLOSE,
    PRE_OPEN,
    PlanContext,
    fits_url,
    json_key,
    output_column,
    select_property,
)
from d365conn.planner.filters import FilterWriter, Term, join_and
from d365conn.planner.names import Source, resolve_column, resolve_table, source_alias
from d365conn.planner.plan import ODataQuery, OutputColumn, Plan, Prerequisite
from d365conn.planner.shape import (
    Item,
    NotDirect,
    display_name,
    nulls_as_asked,
    order_target,
    order_term,
    read_limit,
    scan_alias,
    single_scan_plan,
    tail_sql,
)
from d365conn.planner.values import Unpushable

# HAVING is absent: a grouped statement answers it in its local tail (aggregate.py).
_UNSUPPORTED_ARGS = (
    "qualify",
    "windows",
    "laterals",
    "pivots",
    "into",
    "locks",
    "sample",
    "prewhere",
)


def _expand_sources(select: exp.Select, base: Source, ctx: PlanContext) -> list[tuple[Source, bool]]:
    """The joins as ``$expand``-able sources, with whether each is an inner join."""
    out: list[tuple[Source, bool]] = []
    for join in select.args.get("joins") or []:
        side = (join.args.get("side") or "").upper()
        kind = (join.args.get("kind") or "").upper()
        if not ctx.caps.expand or side not in ("", "LEFT") or kind in ("CROSS", "SEMI", "ANTI"):
            raise NotDirect("join kind")
        node = join.this
        on = join.args.get("on")
        if not isinstance(node, exp.Table) or not isinstance(on, exp.EQ) or join.args.get("using"):
            raise NotDirect("join shape")
        table = resolve_table(ctx.catalog, node)
        target = Source(source_alias(node), table)
        pair = [on.this, on.expression]
        if not all(isinstance(p, exp.Column) for p in pair):
            raise NotDirect("join condition")
        bound = [resolve_column(p, [base, target]) for p in pair if isinstance(p, exp.Column)]
        bound.sort(key=lambda b: b[0] is target)
        (src_a, lookup), (src_b, key) = bound
        if src_a is not base or src_b is not target or lookup.role != "lookup":
            raise NotDirect("join is not along a lookup")
        if table.primary_key != (key.name,) or table.name not in lookup.targets:
            raise NotDirect("join is not to the target's primary key")
        nav = lookup.navigation.get(table.name)
        inner = side == ""
        if nav is None or (inner and len(lookup.targets) > 1):
            raise NotDirect("no single navigation property")
        if any(s.navigation == nav for s, _ in out):
            raise NotDirect("the same lookup expanded twice")
        out.append((Source(target.alias, table, navigation=nav, via=lookup), inner))
    if len(out) > ctx.caps.max_expand:
        raise NotDirect("too many expands")
    return out


def _projection(select: exp.Select, sources: list[Source], ctx: PlanContext) -> list[Item]:
    items: list[Item] = []
    for node in select.expressions:
        if isinstance(node, exp.Star):
            for src in sources:
                items.extend(Item(c.name, src, c, node) for c in src.table.columns)
            continue
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            matches = [s for s in sources if s.alias.casefold() == node.table.casefold()]
            if not matches:
                raise ProgrammingError(f"unknown table alias '{node.table}'")
            items.extend(Item(c.name, matches[0], c, node) for c in matches[0].table.columns)
            continue
        inner = node.this if isinstance(node, exp.Alias) else node
        if isinstance(inner, exp.Column):
            src, col = resolve_column(inner, sources)
            items.append(Item(display_name(node, ctx.dialect), src, col, inner))
        else:
            items.append(Item(display_name(node, ctx.dialect), None, None, inner))
    return items


def _path(item_source: Source, col: Column) -> tuple[str, ...]:
    key = json_key(col)
    return (item_source.navigation, key) if item_source.navigation else (key,)


def plan_direct(select: exp.Expr, ctx: PlanContext, fallback: Callable[[], Plan]) -> Plan:
    """A one-request plan for ``select``, or raise :class:`NotDirect`."""
    if not isinstance(select, exp.Select) or select.args.get("with_"):
        raise NotDirect("not a plain SELECT")
    if any(select.args.get(a) for a in _UNSUPPORTED_ARGS):
        raise NotDirect("clause")
    from_ = select.args.get("from_")
    if (
        from_ is None
        or not isinstance(from_.this, exp.Table)
        or (from_.this.db or "").lower() == "information_schema"
    ):
        raise NotDirect("FROM")
    nested = (
        ()
        if select.meta.get("d365conn_simple")
        else select.find_all(exp.Window, exp.Subquery, exp.Select, exp.Lateral, exp.Unnest)
    )
    for node in nested:
        if node is select:
            continue
        parent = node.parent
        if isinstance(node, exp.Select) and isinstance(parent, exp.Subquery):
            continue
        if isinstance(node, exp.Subquery) and isinstance(parent, exp.In) and parent.args.get("query") is node:
            continue
        raise NotDirect("subquery or window")
    base_table = resolve_table(ctx.catalog, from_.this)
    base = Source(source_alias(from_.this), base_table)
    expands = _expand_sources(select, base, ctx)
    sources = [base, *(s for s, _ in expands)]
    items = _projection(select, sources, ctx)
    prerequisites: list[Prerequisite] = []
    writer = FilterWriter(
        ctx.caps,
        ctx.catalog,
        lambda node: resolve_column(node, sources),
        brackets=ctx.brackets,
        slot=ctx.slots.write if ctx.slots is not None else None,
        subquery=lambda node, term, negate: _prerequisite(node, term, negate, ctx, prerequisites, fallback),
    )
    # An inner join drops rows whose lookup is empty: the expanded form must do the same.
    conjuncts = [f"{s.via.property} ne null" for s, inner in expands if inner and s.via is not None]
    where = select.args.get("where")
    if where is not None:
        for part in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
            try:
                pushed = writer.write(part)
            except Unpushable:
                raise NotDirect("WHERE") from None
            if not pushed.exact:
                raise NotDirect("inexact WHERE")
            conjuncts.append(pushed.text)
    filter_text = join_and(conjuncts)
    if filter_text is not None and not fits_url(filter_text, ctx):
        raise NotDirect("the filter would not fit the request URL")
    aggregated = bool(select.args.get("group")) or any(i.column is None for i in items)
    if select.args.get("having") is not None and not aggregated:
        raise NotDirect("HAVING without an aggregate")
    if aggregated or select.args.get("distinct"):
        plan = plan_grouped(select, ctx, base, expands, items, filter_text, fallback)
    else:
        plan = _plan_rows(select, ctx, base, expands, items, filter_text)
    if prerequisites:
        plan = Plan(
            scans=plan.scans,
            columns=plan.columns,
            local_sql=plan.local_sql,
            fallback=plan.fallback,
            notes=plan.notes,
            prerequisites=tuple(prerequisites),
            collation=plan.collation,
        )
    return plan


def _prerequisite(  # noqa: PLR0917
    node: exp.In,
    term: Term,
    negate: bool,
    ctx: PlanContext,
    out: list[Prerequisite],
    fallback: Callable[[], Plan],
) -> str:
    """``col IN (SELECT ...)``: plan the subquery to run first; its values fill the placeholder."""
    if ctx.plan_subquery is None or term.source.navigation is not None:
        raise Unpushable
    query = node.args["query"]
    inner = query.this if isinstance(query, exp.Subquery) else query
    try:
        inner_plan = ctx.plan_subquery(inner)
    except ProgrammingError:
        raise Unpushable from None  # correlated or otherwise not standalone: evaluate locally
    if len(inner_plan.columns) != 1:
        raise ProgrammingError("a subquery used with IN must return exactly one column")
    placeholder = f"{PRE_OPEN}{ctx.nonce}:pre{len(out)}{PRE_CLOSE}"
    out.append(
        Prerequisite(
            placeholder=placeholder,
            plan=inner_plan,
            edm_type=term.edm_type,
            property=term.text,
            name=term.column.name if term.column.role == "lookup" else term.text,
            nullable=term.nullable,
            negated=negate,
            capabilities=ctx.caps,
            overflow=fallback(),
        )
    )
    return placeholder


def _plan_rows(  # noqa: PLR0917
    select: exp.Select,
    ctx: PlanContext,
    base: Source,
    expands: list[tuple[Source, bool]],
    items: list[Item],
    filter_text: str | None,
) -> Plan:
    caps = ctx.caps
    columns: list[OutputColumn] = []
    selects: dict[str | None, list[str]] = {}
    annotations = False
    for item in items:
        if item.source is None or item.column is None:
            raise NotDirect("expression in the projection")
        columns.append(output_column(item.name, item.column, _path(item.source, item.column)))
        props = selects.setdefault(item.source.navigation, [])
        prop = select_property(item.column)
        if prop not in props:
            props.append(prop)
        annotations = annotations or item.column.role in ANNOTATED_ROLES
    base_props = selects.get(None) or list(base.table.primary_key[:1]) or [base.table.columns[0].name]
    expand = tuple(
        f"{s.navigation}($select={','.join(selects[s.navigation])})"
        for s, _ in expands
        if s.navigation in selects
    )
    # ORDER BY: pushed when every term is a property the service sorts the same way.
    names = [c.name for c in columns]
    pushed_order: list[str] = []
    tail_order: list[str] = []
    order = select.args.get("order")
    for ordered in order.expressions if order is not None else []:
        target = order_target(ordered.this, items, select)
        desc = bool(ordered.args.get("desc"))
        src: Source | None
        col: Column | None
        name: str | None
        if isinstance(target, Item):
            src, col, name = target.source, target.column, target.name
        elif isinstance(target, exp.Column):
            src, col = resolve_column(target, [base, *(s for s, _ in expands)])
            name = next((i.name for i in items if i.column is col and i.source is src), None)
        else:
            raise NotDirect("ORDER BY expression")
        if src is None or col is None:
            raise NotDirect("ORDER BY expression")
        nulls_ok = nulls_as_asked(ordered, ctx)
        sort_prop: str | None = None
        if caps.orderby and nulls_ok and src.navigation is None and col.sortable:
            if col.role in ("attribute", "choice"):
                sort_prop = col.property or col.name
            elif col.role == "lookup_name" and caps.lookups:
                sort_prop = col.property  # "$orderby on a lookup sorts by the related row's primary name"
        if sort_prop is not None:
            pushed_order.append(f"{sort_prop} desc" if desc else sort_prop)
        if name is None or names.count(name) != 1:
            tail_order.append("\x00")  # not reorderable locally
        else:
            tail_order.append(order_term(ordered, name, ctx, col.edm_type))
    count, offset = read_limit(select)
    order_pushed = len(pushed_order) == len(tail_order)
    if not order_pushed and "\x00" in tail_order:
        raise NotDirect("ORDER BY")
    top: int | None = None
    skip: int | None = None
    limit: int | None = None
    local: str | None = None
    notes: list[str] = []
    if order_pushed:
        if offset and not caps.skip:
            top = limit = None if count is None else count + offset
            if len(set(names)) != len(names):
                raise NotDirect("duplicate names under a local OFFSET")
            local = tail_sql(scan_alias(ctx, base), [], count, offset)
            notes.append("OFFSET runs locally: the service has no $skip")
        else:
            top = limit = count
            skip = offset or None
        orderby = tuple(pushed_order)
    else:
        if len(set(names)) != len(names):
            raise NotDirect("duplicate names under a local ORDER BY")
        orderby = ()
        local = tail_sql(scan_alias(ctx, base), tail_order, count, offset)
        notes.append("ORDER BY runs locally: the service cannot sort by these terms")
    if top is not None and not caps.top:
        top = None
    query = ODataQuery(
        resource=base.table.entity_set,
        select=tuple(base_props),
        filter=filter_text,
        orderby=orderby,
        top=top,
        skip=skip,
        expand=expand,
    )
    return single_scan_plan(
        ctx, base, query, columns, limit=limit, local=local, notes=notes, annotations=annotations
    )
