"""Statements the service answers by itself: one request, rows streamed straight to the cursor.

Owns: :func:`plan_direct`. A SELECT over one table -- optionally with N:1 joins along lookups,
written as ``$expand`` -- whose WHERE, grouping, aggregates, DISTINCT, ORDER BY and TOP all have
an OData form becomes a single :class:`Scan` with ``local_sql is None``. When only the final
ORDER BY or OFFSET is beyond the service (ordering by an aggregate, OFFSET on Dataverse), the scan
is still pushed whole and a one-line local tail orders or skips its rows.

Anything else raises :class:`NotDirect`, and the general planner (:mod:`.general`) takes over.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from d365conn.catalog.model import Column
from d365conn.exceptions import ProgrammingError
from d365conn.planner.context import (
    ANNOTATED_ROLES,
    PlanContext,
    fits_url,
    json_key,
    output_column,
    select_property,
)
from d365conn.planner.filters import FilterWriter, Term, ValueDependent, _wrap
from d365conn.planner.names import Source, resolve_column, resolve_table, source_alias
from d365conn.planner.plan import ODataQuery, OutputColumn, Plan, Prerequisite, ResultColumn, Scan
from d365conn.planner.values import NotLiteral, Slot, Unpushable, literal_of

_UNSUPPORTED_ARGS = (
    "having",
    "qualify",
    "windows",
    "laterals",
    "pivots",
    "into",
    "locks",
    "sample",
    "prewhere",
)
_AGG_METHODS: dict[type[exp.Expr], str] = {
    exp.Sum: "sum",
    exp.Avg: "average",
    exp.Min: "min",
    exp.Max: "max",
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DATETIME_TYPES = frozenset({"Edm.DateTimeOffset", "Edm.Date"})


class NotDirect(Exception):
    """The statement needs the local engine (internal signal)."""


@dataclass(frozen=True)
class _Item:
    """One output column: its SQL name, the source/column it reads, or an aggregate."""

    name: str
    source: Source | None
    column: Column | None
    expr: exp.Expr


def display_name(node: exp.Expr, dialect: str) -> str:
    """The result column name of a projection: alias, column name, else the expression's text."""
    if isinstance(node, exp.Alias):
        return node.alias
    if isinstance(node, exp.Column):
        return node.name
    return node.sql(dialect)


def read_limit(select: exp.Expr) -> tuple[int | None, int | None]:
    """(count, offset) of LIMIT/TOP/FETCH and OFFSET as integers."""
    count: int | None = None
    limit = select.args.get("limit")
    if isinstance(limit, exp.Limit):
        opts = limit.args.get("limit_options")
        if opts is not None and (opts.args.get("percent") or opts.args.get("with_ties")):
            raise NotDirect("TOP PERCENT / WITH TIES")
        count = _int(limit.expression)
    elif isinstance(limit, exp.Fetch):
        opts = limit.args.get("limit_options")
        if opts is not None and (opts.args.get("percent") or opts.args.get("with_ties")):
            raise NotDirect("FETCH PERCENT / WITH TIES")
        count = _int(limit.args.get("count")) if limit.args.get("count") is not None else None
    offset_node = select.args.get("offset")
    offset = _int(offset_node.expression) if isinstance(offset_node, exp.Offset) else None
    return count, offset


def _int(node: exp.Expr | None) -> int:
    if node is None:
        raise NotDirect("no count")
    try:
        value = literal_of(node)
    except NotLiteral:
        raise NotDirect("LIMIT is not a constant") from None
    if isinstance(value, Slot):
        raise ValueDependent
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProgrammingError(f"LIMIT/TOP/OFFSET must be a non-negative integer, not {value!r}")
    return value


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


def _projection(select: exp.Select, sources: list[Source], ctx: PlanContext) -> list[_Item]:
    items: list[_Item] = []
    for node in select.expressions:
        if isinstance(node, exp.Star):
            for src in sources:
                items.extend(_Item(c.name, src, c, node) for c in src.table.columns)
            continue
        if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            matches = [s for s in sources if s.alias.casefold() == node.table.casefold()]
            if not matches:
                raise ProgrammingError(f"unknown table alias '{node.table}'")
            items.extend(_Item(c.name, matches[0], c, node) for c in matches[0].table.columns)
            continue
        inner = node.this if isinstance(node, exp.Alias) else node
        if isinstance(inner, exp.Column):
            src, col = resolve_column(inner, sources)
            items.append(_Item(display_name(node, ctx.dialect), src, col, inner))
        else:
            items.append(_Item(display_name(node, ctx.dialect), None, None, inner))
    return items


def _path(item_source: Source, col: Column) -> tuple[str, ...]:
    key = json_key(col)
    return (item_source.navigation, key) if item_source.navigation else (key,)


def _order_target(node: exp.Expr, items: list[_Item], select: exp.Select) -> exp.Expr | _Item:
    """An ORDER BY term as a projection item (position or alias) or the expression itself."""
    if isinstance(node, exp.Literal) and not node.is_string:
        index = int(node.this) - 1
        if not 0 <= index < len(items) or any(isinstance(e, exp.Star) for e in select.expressions):
            raise NotDirect("ORDER BY position")
        return items[index]
    if isinstance(node, exp.Column) and not node.table:
        for item, proj in zip(items, select.expressions, strict=False):
            if isinstance(proj, exp.Alias) and proj.alias.casefold() == node.name.casefold():
                return item
    return node


def _service_nulls_first(desc: bool, ctx: PlanContext) -> bool:
    return (not desc) if ctx.caps.nulls_low else desc


def _tail_order(ordered: exp.Ordered, name: str, ctx: PlanContext) -> str:
    desc = bool(ordered.args.get("desc"))
    if ctx.explicit_nulls:
        nulls_first = bool(ordered.args.get("nulls_first"))
    else:
        nulls_first = _service_nulls_first(desc, ctx)
    quoted = '"' + name.replace('"', '""') + '"'
    return f"{quoted}{' DESC' if desc else ''} NULLS {'FIRST' if nulls_first else 'LAST'}"


def _tail(alias: str, order: list[str], count: int | None, offset: int | None) -> str | None:
    if not order and count is None and not offset:
        return None
    sql = f'SELECT * FROM "{alias}"'  # noqa: S608 -- alias is the planner's own relation name
    if order:
        sql += " ORDER BY " + ", ".join(order)
    if count is not None:
        sql += f" LIMIT {count}"
    if offset:
        sql += f" OFFSET {offset}"
    return sql


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
    filter_text = " and ".join(_wrap(c, "and") for c in conjuncts) if conjuncts else None
    if filter_text is not None and not fits_url(filter_text, ctx):
        raise NotDirect("the filter would not fit the request URL")
    aggregated = bool(select.args.get("group")) or any(i.column is None for i in items)
    if aggregated or select.args.get("distinct"):
        plan = _plan_grouped(select, ctx, base, expands, items, filter_text, fallback)
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
    placeholder = f"\ue002{ctx.nonce}:pre{len(out)}\ue003"
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


def _page(ctx: PlanContext, limit: int | None) -> int | None:
    size = ctx.page_size
    if limit is not None and limit > 0 and (size is None or limit < size):
        cap = ctx.caps.max_page_size
        return limit if cap is None or limit <= cap else size
    return size


def _result(columns: tuple[OutputColumn, ...]) -> tuple[ResultColumn, ...]:
    return tuple(
        ResultColumn(c.name, c.edm_type, c.nullable, c.precision, c.scale, c.max_length) for c in columns
    )


def _plan_rows(  # noqa: PLR0917
    select: exp.Select,
    ctx: PlanContext,
    base: Source,
    expands: list[tuple[Source, bool]],
    items: list[_Item],
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
        target = _order_target(ordered.this, items, select)
        desc = bool(ordered.args.get("desc"))
        src: Source | None
        col: Column | None
        name: str | None
        if isinstance(target, _Item):
            src, col, name = target.source, target.column, target.name
        elif isinstance(target, exp.Column):
            src, col = resolve_column(target, [base, *(s for s, _ in expands)])
            name = next((i.name for i in items if i.column is col and i.source is src), None)
        else:
            raise NotDirect("ORDER BY expression")
        if src is None or col is None:
            raise NotDirect("ORDER BY expression")
        nulls_ok = not ctx.explicit_nulls or bool(ordered.args.get("nulls_first")) == _service_nulls_first(
            desc, ctx
        )
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
            tail_order.append(_tail_order(ordered, name, ctx))
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
            local = _tail(_alias(ctx, base), [], count, offset)
            notes.append("OFFSET runs locally: the service has no $skip")
        else:
            top = limit = count
            skip = offset or None
        orderby = tuple(pushed_order)
    else:
        if len(set(names)) != len(names):
            raise NotDirect("duplicate names under a local ORDER BY")
        orderby = ()
        local = _tail(_alias(ctx, base), tail_order, count, offset)
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
    scan = Scan(
        alias=_alias(ctx, base),
        table=base.table.name,
        query=query,
        columns=tuple(columns),
        limit=limit,
        annotations=annotations,
        page_size=_page(ctx, limit),
    )
    return Plan(
        scans=(scan,),
        columns=_result(scan.columns),
        local_sql=local,
        notes=tuple(notes),
        collation=ctx.caps.collation if local else None,
    )


def _alias(ctx: PlanContext, base: Source) -> str:
    # One scan per direct plan: its relation is named after its table.
    return base.table.name.lower()


def _plan_grouped(  # noqa: PLR0917
    select: exp.Select,
    ctx: PlanContext,
    base: Source,
    expands: list[tuple[Source, bool]],
    items: list[_Item],
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
        out = OutputColumn(items[0].name, "Edm.Int64", ("$count",), nullable=False)
        scan = Scan(alias=_alias(ctx, base), table=base.table.name, query=query, columns=(out,), kind="count")
        return Plan(scans=(scan,), columns=_result(scan.columns), notes=("count from /$count",))
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
            columns.append(output_column(item.name, item.column, (item.column.property or item.column.name,)))
            continue
        alias = _agg_alias(item.name, used, len(aggs))
        used.add(alias.lower())
        text, edm = _aggregate(item.expr, base, alias, ctx)
        aggs.append(text)
        columns.append(OutputColumn(item.name, edm, (alias,), nullable=not text.startswith("$count")))
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
        target = _order_target(ordered.this, items, select)
        desc = bool(ordered.args.get("desc"))
        hit: _Item | None = target if isinstance(target, _Item) else None
        if hit is None and isinstance(target, exp.Column):
            _, key_col = resolve_column(target, [base])
            hit = next((i for i in items if i.column is key_col), None)
        if hit is None:
            hit = next((i for i in items if i.column is None and i.expr == target), None)
        if hit is None or names.count(hit.name) != 1:
            raise NotDirect("ORDER BY not in the result")
        tail.append(_tail_order(ordered, hit.name, ctx))
        nulls_ok = not ctx.explicit_nulls or bool(ordered.args.get("nulls_first")) == _service_nulls_first(
            desc, ctx
        )
        if hit.column is not None and caps.apply_orderby_keys and nulls_ok and hit.column.sortable:
            key_prop = hit.column.property or hit.column.name
            pushed.append(f"{key_prop} desc" if desc else key_prop)
        elif hit.column is None and caps.apply_orderby_aggregate and nulls_ok:
            alias_text = columns[names.index(hit.name)].path[0]
            pushed.append(f"{alias_text} desc" if desc else alias_text)
    count, offset = read_limit(select)
    order_pushed = len(pushed) == len(tail)
    local: str | None = None
    limit: int | None = None
    notes = []
    if caps.apply_row_limit:
        notes.append(
            f"aggregated by the service; over {caps.apply_row_limit} rows it refuses and the fallback runs"
        )
    if order_pushed and not offset:
        limit = count  # $top is not sent with $apply: only the client stops early
        orderby = tuple(pushed)
    else:
        if len(set(names)) != len(names):
            raise NotDirect("duplicate names under a local tail")
        orderby = () if not order_pushed else tuple(pushed)
        local = _tail(_alias(ctx, base), [] if order_pushed else tail, count, offset)
        notes.append("ORDER BY/OFFSET of the aggregate runs locally")
    query = ODataQuery(resource=base.table.entity_set, apply=apply, orderby=orderby)
    scan = Scan(
        alias=_alias(ctx, base),
        table=base.table.name,
        query=query,
        columns=tuple(columns),
        limit=limit,
        page_size=_page(ctx, limit),
    )
    return Plan(
        scans=(scan,),
        columns=_result(scan.columns),
        local_sql=local,
        fallback=fallback() if caps.apply_row_limit else None,
        notes=tuple(notes),
        collation=caps.collation if local else None,
    )


def _is_count_star(node: exp.Expr) -> bool:
    return isinstance(node, exp.Count) and isinstance(node.this, exp.Star)


def _agg_alias(name: str, used: set[str], n: int) -> str:
    if _IDENT.match(name) and name.lower() not in used:
        return name
    alias = f"agg{n}"
    while alias.lower() in used:
        alias += "_"
    return alias


def _aggregate(node: exp.Expr, base: Source, alias: str, ctx: PlanContext) -> tuple[str, str]:
    """One aggregate as ``$apply`` text and the Edm type of its result."""
    if _is_count_star(node):
        return f"$count as {alias}", "Edm.Int32"
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
        return f"{col.property or col.name} with countdistinct as {alias}", "Edm.Int32"
    method = _AGG_METHODS.get(type(node))
    if method is None or method not in ctx.caps.apply_methods or not isinstance(node.this, exp.Column):
        raise NotDirect("aggregate")
    _, col = resolve_column(node.this, [base])
    if col.role not in ("attribute", "choice"):
        raise NotDirect("aggregate column")
    numeric = col.edm_type in (
        "Edm.Int16",
        "Edm.Int32",
        "Edm.Int64",
        "Edm.Decimal",
        "Edm.Double",
        "Edm.Single",
    )
    if method in ("sum", "average") and not numeric:
        raise NotDirect("sum/average of a non-number")
    if method == "sum":
        edm = "Edm.Int64" if col.edm_type.startswith("Edm.Int") else col.edm_type
    elif method == "average":
        # An average is a double, as the local engine (the fallback) computes it: one result type
        # whichever side answers.
        edm = "Edm.Double"
    else:
        edm = col.edm_type
    return f"{col.property or col.name} with {method} as {alias}", edm
