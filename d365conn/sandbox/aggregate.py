"""`$apply` as Dataverse supports it: filter(...), groupby((...)[,aggregate(...)]), aggregate(...).

Owns: parsing the transformation sequence, the aggregate methods (sum, average, min, max,
countdistinct, `$count`), grouping by columns and by single-valued navigation paths (nested keys
in the result), the limits the real service enforces (AggregateQueryRecordLimit of 50,000 rows,
error 0x8004E023; no grouping on date-time columns; no ordering by an aggregate), and the JSON.
"""

# ruff: noqa: S608 - SQL is built from the table model's quoted identifiers; values are bound

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from d365conn.sandbox.encode import FORMATTED, formatter
from d365conn.sandbox.errors import AGGREGATE_LIMIT, ServiceError, unsupported
from d365conn.sandbox.filterparse import Node, parse_filter, split_top_level
from d365conn.sandbox.model import Column, Table
from d365conn.sandbox.query import MAX_PAGE, ReadContext
from d365conn.sandbox.sqlfilter import FilterCompiler, Scope, guid_key

AGGREGATE_RECORD_LIMIT = 50_000
METHODS = {"sum": "SUM", "average": "AVG", "min": "MIN", "max": "MAX", "countdistinct": "COUNT(DISTINCT"}


@dataclass
class Aggregation:
    method: str  # sum average min max countdistinct count
    prop: str
    alias: str


@dataclass
class Apply:
    filters: list[Node] = field(default_factory=list)
    groupby: list[str] = field(default_factory=list)
    aggregates: list[Aggregation] = field(default_factory=list)
    grouped: bool = False


def split_transformations(text: str) -> list[str]:
    """The `/`-separated transformations of an `$apply` value (outside parentheses and quotes)."""
    return split_top_level(text, "/")


def parse_aggregations(text: str) -> list[Aggregation]:
    result = []
    for item in split_top_level(text):
        match = re.fullmatch(r"\$count\s+as\s+([A-Za-z_][A-Za-z0-9_]*)", item)
        if match:
            result.append(Aggregation("count", "", match.group(1)))
            continue
        match = re.fullmatch(
            r"([A-Za-z_][A-Za-z0-9_/]*)\s+with\s+([A-Za-z]+)\s+as\s+([A-Za-z_][A-Za-z0-9_]*)", item
        )
        if match is None:
            raise unsupported(f"Syntax error in aggregate expression '{item}'.")
        if match.group(2) not in METHODS:
            raise unsupported(f"The aggregate method '{match.group(2)}' is not supported.")
        result.append(Aggregation(match.group(2), match.group(1), match.group(3)))
    return result


def _aggregate_format(column: Column | None) -> Callable[[Any], str] | None:
    """FormattedValue of a group key or aggregate: choice labels, money with the base currency's
    symbol (aggregates add up `_base`-comparable amounts across currencies, as the service does)."""
    if column is None or column.is_lookup:
        return None
    if column.kind == "Money":
        return lambda v: f"-${-float(v):,.2f}" if float(v) < 0 else f"${float(v):,.2f}"
    return formatter(column)


def parse_apply(text: str, aliases: dict[str, str]) -> Apply:
    apply = Apply()
    for step in split_transformations(text):
        match = re.fullmatch(r"(filter|groupby|aggregate)\((.*)\)", step, re.DOTALL)
        if match is None:
            raise unsupported(f"The $apply transformation '{step}' is not supported.")
        kind, body = match.groups()
        if kind == "filter":
            if apply.grouped or apply.aggregates:
                raise unsupported("A filter transformation after groupby or aggregate is not supported.")
            apply.filters.append(parse_filter(body, aliases))
        elif kind == "aggregate":
            apply.aggregates = parse_aggregations(body)
        else:
            parts = split_top_level(body)
            if not parts or not (parts[0].startswith("(") and parts[0].endswith(")")):
                raise unsupported("groupby requires a parenthesised list of properties.")
            apply.groupby = split_top_level(parts[0][1:-1])
            apply.grouped = True
            for extra in parts[1:]:
                inner = re.fullmatch(r"aggregate\((.*)\)", extra, re.DOTALL)
                if inner is None:
                    raise unsupported(f"Unsupported groupby argument '{extra}'.")
                apply.aggregates = parse_aggregations(inner.group(1))
    return apply


def run_apply(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
    ctx: ReadContext,
    table: Table,
    text: str,
    options_filter: Node | None,
    orderby: list[tuple[str, bool]],
    top: int | None,
    aliases: dict[str, str],
) -> dict[str, Any]:
    apply = parse_apply(text, aliases)
    scope = Scope(ctx.schema, table, "t0", ctx.user_id, ctx.business_unit_id)
    compiler = FilterCompiler(scope)
    conditions, params = [], []
    for node in apply.filters + ([options_filter] if options_filter is not None else []):
        sql, node_params = compiler.compile(node)
        conditions.append(sql)
        params.extend(node_params)
    where = " AND ".join(conditions) or "1"
    source = f'FROM "{table.logical}" t0 WHERE {where}'
    if apply.aggregates:
        over = ctx.connection.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 {source} LIMIT ?)", [*params, AGGREGATE_RECORD_LIMIT + 1]
        ).fetchone()[0]
        if over > AGGREGATE_RECORD_LIMIT:
            raise ServiceError(
                400, AGGREGATE_LIMIT, "AggregateQueryRecordLimit exceeded. Cannot perform this operation."
            )
    select, names, group_sql, sort_sql = [], [], [], []
    key_columns: list[Column | None] = []
    for prop in apply.groupby:
        operand = compiler.path(prop.split("/"))
        column = operand.column
        if column is not None and column.edm in ("Edm.DateTimeOffset", "Edm.Date"):
            raise unsupported(
                f"Grouping on the date and time column '{prop}' is not supported; use a "
                "date grouping in FetchXML instead."
            )
        select.append(operand.sql)
        group_sql.append(operand.sql)
        # GUID keys (lookups grouped by) order as SQL Server's uniqueidentifier does.
        is_guid = column is not None and column.edm == "Edm.Guid"
        sort_sql.append(guid_key(operand.sql) if is_guid else operand.sql)
        names.append(prop)
        key_columns.append(column)
    for aggregation in apply.aggregates:
        if aggregation.method == "count":
            select.append("COUNT(*)")
        else:
            operand = compiler.path(aggregation.prop.split("/"))
            function = METHODS[aggregation.method]
            summed = f"{function}({operand.sql})"
            if function == "SUM" and operand.column is not None and operand.column.edm == "Edm.Decimal":
                # Decimals are stored as SQLite REALs; SQL Server adds them exactly at the column's
                # scale (money: 4 places), without the float noise a REAL sum would carry.
                # Each value is read as a whole number of 10^-places units (exact below 2^53) and the
                # integers are added exactly; one division gives the nearest double to the true sum.
                places = 4 if operand.column.kind == "Money" else operand.column.precision
                unit = 10**places
                summed = f"CAST(SUM(CAST(ROUND({operand.sql} * {unit}) AS INTEGER)) AS REAL) / {unit}"
            select.append(f"{function}({operand.sql}))" if function.endswith("DISTINCT") else summed)
        names.append(aggregation.alias)
    if not select:
        raise unsupported("The $apply option needs a groupby or an aggregate transformation.")
    aliases_set = {a.alias for a in apply.aggregates}
    order_parts = []
    for prop, descending in orderby:
        if prop in aliases_set:
            raise unsupported("Ordering by an aggregated value is not supported.")
        if prop not in apply.groupby:
            raise unsupported(f"The $orderby property '{prop}' must be one of the groupby properties.")
        order_parts.append(f"{sort_sql[apply.groupby.index(prop)]} {'DESC' if descending else 'ASC'}")
    if not order_parts:
        order_parts = list(sort_sql)
    sql = f"SELECT {', '.join(select)} {source}"
    if group_sql:
        sql += f" GROUP BY {', '.join(group_sql)}"
    if order_parts:
        sql += f" ORDER BY {', '.join(order_parts)}"
    sql += f" LIMIT {min(top or MAX_PAGE, MAX_PAGE)}"
    rows = ctx.connection.execute(sql, params).fetchall()
    value_columns = key_columns + [
        None if a.method in ("count", "countdistinct") else compiler.path(a.prop.split("/")).column
        for a in apply.aggregates
    ]
    formats = [
        _aggregate_format(column) if ctx.annotations.wants(FORMATTED) else None for column in value_columns
    ]
    values = []
    for row in rows:
        item: dict[str, Any] = {}
        for name, raw, column, format_value in zip(names, row, value_columns, formats, strict=True):
            value = (
                bool(raw) if column is not None and column.edm == "Edm.Boolean" and raw is not None else raw
            )
            if "/" in name:
                head, tail = name.split("/", 1)
                item.setdefault(head, {})[tail] = value
                continue
            if format_value is not None and value is not None:
                item[f"{name}@{FORMATTED}"] = format_value(value)
            item[name] = value
        values.append(item)
    context_names = ",".join(n.split("/")[0] for n in names)
    return {
        "@odata.context": f"{ctx.service_url}$metadata#{table.set_name}({context_names})",
        "value": values,
    }
