"""The shape of a SELECT as the planners read it: projection items, LIMIT/OFFSET, local tails.

Owns: :class:`NotDirect` (the signal that the local engine is needed), :class:`Item` (one output
column: a catalog column or an aggregate), reading LIMIT/TOP/FETCH/OFFSET as integers, ORDER BY
terms by position or alias, the one-line local "tail" (``SELECT * FROM scan ORDER BY ... LIMIT
... OFFSET ...``) that finishes a pushed scan when only its final ordering or offset is beyond the
service, and the one-scan plan the direct and grouped planners end with. Shared by :mod:`.direct`,
:mod:`.aggregate` and :mod:`.general`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from d365conn.catalog.model import Column
from d365conn.exceptions import ProgrammingError
from d365conn.planner.context import PlanContext
from d365conn.planner.filters import ValueDependent
from d365conn.planner.names import Source
from d365conn.planner.plan import GUID_KEY_MACRO, ODataQuery, OutputColumn, Plan, ResultColumn, Scan
from d365conn.planner.values import NotLiteral, Slot, literal_of


class NotDirect(Exception):
    """The statement needs the local engine (internal signal)."""


@dataclass(frozen=True)
class Item:
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


def order_target(node: exp.Expr, items: list[Item], select: exp.Select) -> exp.Expr | Item:
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


def service_nulls_first(desc: bool, ctx: PlanContext) -> bool:
    return (not desc) if ctx.caps.nulls_low else desc


def nulls_as_asked(ordered: exp.Ordered, ctx: PlanContext) -> bool:
    """Whether the service sorts NULLs where the term asks (always so when the statement names no
    NULLS FIRST/LAST: the service's order is then the statement's)."""
    desc = bool(ordered.args.get("desc"))
    return not ctx.explicit_nulls or bool(ordered.args.get("nulls_first")) == service_nulls_first(desc, ctx)


def order_term(ordered: exp.Ordered, name: str, ctx: PlanContext, edm_type: str | None = None) -> str:
    """One local ORDER BY term over a scan column, sorting NULLs and GUIDs as the service does."""
    desc = bool(ordered.args.get("desc"))
    if ctx.explicit_nulls:
        nulls_first = bool(ordered.args.get("nulls_first"))
    else:
        nulls_first = service_nulls_first(desc, ctx)
    quoted = '"' + name.replace('"', '""') + '"'
    if edm_type == "Edm.Guid" and ctx.caps.guid_order == "sqlserver":
        quoted = f"{GUID_KEY_MACRO}({quoted})"
    return f"{quoted}{' DESC' if desc else ''} NULLS {'FIRST' if nulls_first else 'LAST'}"


def tail_sql(  # noqa: PLR0917
    alias: str,
    order: list[str],
    count: int | None,
    offset: int | None,
    where: str | None = None,
    columns: list[OutputColumn] | None = None,
) -> str | None:
    """The local statement finishing a pushed scan, or None when nothing is left to do.

    With ``columns`` (unique names), decimals are cast back to their declared precision and scale:
    the engine loads a decimal wider than declared, and a tail passing it through would describe
    the wider type (an aggregate's type must not depend on whether a tail ran).
    """
    if not order and count is None and not offset and where is None:
        return None
    projection = "*"
    if columns is not None and any(_declared_decimal(c) for c in columns):
        projection = ", ".join(_tail_column(c) for c in columns)
    sql = f'SELECT {projection} FROM "{alias}"'  # noqa: S608 -- alias is the planner's own relation name
    if where is not None:
        sql += f" WHERE {where}"
    if order:
        sql += " ORDER BY " + ", ".join(order)
    if count is not None:
        sql += f" LIMIT {count}"
    if offset:
        sql += f" OFFSET {offset}"
    return sql


def _declared_decimal(col: OutputColumn) -> bool:
    return col.edm_type == "Edm.Decimal" and col.precision is not None and col.scale is not None


def _tail_column(col: OutputColumn) -> str:
    quoted = '"' + col.name.replace('"', '""') + '"'
    if _declared_decimal(col):
        return f"CAST({quoted} AS DECIMAL({col.precision},{col.scale})) AS {quoted}"
    return quoted


def page_size_for(ctx: PlanContext, limit: int | None, top: int | None = None) -> int | None:
    """The ``odata.maxpagesize`` a scan prefers; 0 means none at all.

    A pushed ``$top`` that fits in one page is sent alone: Dataverse ignores ``$top`` when a
    maxpagesize comes with it and would answer with a page plus a ``$skiptoken`` nextLink (about
    700 bytes of paging cookie) that the LIMIT never follows.
    """
    cap = ctx.caps.max_page_size
    if top is not None and top > 0 and (cap is None or top <= cap):
        return 0
    size = ctx.page_size
    if limit is not None and limit > 0 and (size is None or limit < size):
        return limit if cap is None or limit <= cap else size
    return size


def result_columns(columns: tuple[OutputColumn, ...]) -> tuple[ResultColumn, ...]:
    return tuple(
        ResultColumn(c.name, c.edm_type, c.nullable, c.precision, c.scale, c.max_length) for c in columns
    )


def scan_alias(ctx: PlanContext, base: Source) -> str:
    # One scan per direct plan: its relation is named after its table.
    return base.table.name.lower()


def single_scan_plan(
    ctx: PlanContext,
    base: Source,
    query: ODataQuery,
    columns: list[OutputColumn],
    *,
    limit: int | None,
    local: str | None,
    notes: list[str],
    annotations: bool = False,
    fallback: Plan | None = None,
) -> Plan:
    """A plan of one scan of ``base`` (direct or grouped), finished by the local tail ``local`` if any."""
    scan = Scan(
        alias=scan_alias(ctx, base),
        table=base.table.name,
        query=query,
        columns=tuple(columns),
        limit=limit,
        annotations=annotations,
        page_size=page_size_for(ctx, limit, query.top),
    )
    return Plan(
        scans=(scan,),
        columns=result_columns(scan.columns),
        local_sql=local,
        fallback=fallback,
        notes=tuple(notes),
        collation=ctx.caps.collation if local else None,
    )
