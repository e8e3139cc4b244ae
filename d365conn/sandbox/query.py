"""Answering reads of entity sets: collections, single rows, properties, `/$count`.

Owns: building the SQL of a read from parsed options (filter, order, key-set paging), the paging
rules (`odata.maxpagesize` capped at 5,000, `$top` ignored when a page size is preferred, 5,000
rows at most per response, an absolute `@odata.nextLink` with a `$skiptoken` cookie holding the
last row's sort values so every page is an index seek, never an OFFSET scan), `$count`, and
`$expand` of single-valued and collection-valued navigation properties. A page whose rows an
index picks out of order (a createdon range read in key order) is read in two steps, so SQLite
sorts row ids, not wide rows (`fetch_page`).
"""

# ruff: noqa: S608 - SQL is built from the table model's quoted identifiers; values are bound

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote as url_quote

from d365conn.sandbox.encode import Annotations, RowEncoder
from d365conn.sandbox.errors import ServiceError, not_found, unknown_property, unsupported
from d365conn.sandbox.guidorder import sql_key
from d365conn.sandbox.model import Column, Schema, Table
from d365conn.sandbox.options import Expand, Options, make_skiptoken, read_skiptoken, sort_column
from d365conn.sandbox.sqlfilter import FilterCompiler, Scope, to_sql_value
from d365conn.sandbox.store import pk_order_sql, polymorphic, quote, type_column

MAX_PAGE = 5000
COUNT_CAP = 5000
#: Pages from this many rows up are read in two steps when SQLite would sort them (fetch_page).
TWO_STEP_MIN_ROWS = 200


@dataclass
class ReadContext:
    """What every read needs besides its options."""

    schema: Schema
    connection: sqlite3.Connection
    service_url: str  # absolute, ending with '/'
    user_id: str
    business_unit_id: str
    annotations: Annotations
    #: Per table, the columns some row may fill (Store.filled_columns), read in the same read
    #: transaction as the rows; None: not known, read every column.
    filled: dict[str, frozenset[str]] | None = None


def selected_columns(table: Table, select: list[str] | None) -> list[Column]:
    if select is None:
        return list(table.columns.values())
    columns = [table.props[p] for p in select]
    if any(c.kind == "Money" for c in columns) and "transactioncurrencyid" in table.columns:
        currency = table.columns["transactioncurrencyid"]
        if currency not in columns:
            columns.append(currency)
    pk = table.columns[table.pk]
    if pk not in columns:
        columns.append(pk)
    return columns


def order_terms(
    ctx: ReadContext, table: Table, alias: str, orderby: list[tuple[str, bool]]
) -> list[tuple[str, bool]]:
    """(SQL expression, descending) per sort key, the primary key last as the tie breaker.
    A lookup sorts by the related row's primary name, as the real service does; GUIDs sort in
    SQL Server's uniqueidentifier order (see guidorder.py)."""
    terms = []
    for prop, descending in orderby:
        column = sort_column(table, prop)
        if column.is_lookup:
            targets = [t for t in column.targets if t in ctx.schema.tables]
            parts = []
            for target_name in targets:
                target = ctx.schema.tables[target_name]
                sub = (
                    f"(SELECT x.{quote(target.columns[target.primary_name].prop)} "
                    f"FROM {quote(target.logical)} x "
                    f"WHERE x.{quote(target.columns[target.pk].prop)} = {alias}.{quote(column.prop)})"
                )
                if polymorphic(column):
                    kind_sql = f"{alias}.{quote(type_column(column))}"
                    sub = f"(CASE WHEN {kind_sql} = '{target.logical}' THEN {sub} END)"
                parts.append(sub)
            expression = (
                parts[0]
                if len(parts) == 1
                else f"COALESCE({', '.join(parts)})"
                if parts
                else f"{alias}.{quote(column.prop)}"
            )
        elif column.edm == "Edm.Guid":  # SQL Server's uniqueidentifier order, not the text's
            expression = sql_key(f"{alias}.{quote(column.prop)}")
        else:
            expression = f"{alias}.{quote(column.prop)}"
        terms.append((expression, descending))
    terms.append((pk_order_sql(table, alias), False))
    return terms


def after_cursor(terms: list[tuple[str, bool]], values: list[Any]) -> tuple[str, list[Any]]:
    """Rows strictly after the cursor in (terms) order, with SQL Server's NULL placement (NULLs
    first ascending, last descending), which SQLite's ORDER BY shares."""
    disjuncts, params = [], []
    for i, (expression, descending) in enumerate(terms):
        clauses, clause_params = [], []
        for previous, value in zip(terms[:i], values[:i], strict=True):
            if value is None:
                clauses.append(f"{previous[0]} IS NULL")
            else:
                clauses.append(f"{previous[0]} = ?")
                clause_params.append(value)
        value = values[i]
        if not descending:
            if value is None:
                clauses.append(f"{expression} IS NOT NULL")
            else:
                clauses.append(f"{expression} > ?")
                clause_params.append(value)
        else:
            if value is None:
                continue  # nothing sorts after NULL when descending
            clauses.append(f"({expression} < ? OR {expression} IS NULL)")
            clause_params.append(value)
        disjuncts.append("(" + " AND ".join(clauses) + ")")
        params.extend(clause_params)
    if not disjuncts:
        return "0", []
    return "(" + " OR ".join(disjuncts) + ")", params


def where_clause(ctx: ReadContext, table: Table, alias: str, options: Options) -> tuple[str, list[Any]]:
    if options.filter is None:
        return "1", []
    scope = Scope(ctx.schema, table, alias, ctx.user_id, ctx.business_unit_id)
    return FilterCompiler(scope).compile(options.filter)


def context_select(table: Table, select: list[str] | None, expands: list[Expand]) -> str:
    """`(name,primarycontactid(fullname))`: the selection as asked (the real service does not add
    the primary key here, though every row carries it)."""
    parts = list(select or [])
    for expand in expands:
        parts.append(f"{expand.nav.name}({','.join(expand.select or [])})")
    return f"({','.join(parts)})" if select is not None or expands else ""


def read_collection(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
    ctx: ReadContext,
    table: Table,
    options: Options,
    max_page_size: int | None,
    request_path: str,
    request_query: list[tuple[str, str]],
) -> dict[str, Any]:
    alias = "t0"
    where, params = where_clause(ctx, table, alias, options)
    terms = order_terms(ctx, table, alias, options.orderby)
    page_size = min(max_page_size, MAX_PAGE) if max_page_size else MAX_PAGE
    limit_total = options.top if (options.top is not None and not max_page_size) else None
    page_number, returned_before = 1, 0
    cursor_sql, cursor_params = "1", list[Any]()
    if options.skiptoken is not None:
        page_number, cursor_values, returned_before = read_skiptoken(options.skiptoken)
        if len(cursor_values) != len(terms):
            raise unsupported("The $skiptoken value does not match this query.")
        cursor_sql, cursor_params = after_cursor(terms, cursor_values)
    take = page_size
    if limit_total is not None:
        take = min(take, max(0, limit_total - returned_before))
    filled = ctx.filled.get(table.logical) if ctx.filled is not None else None
    encoder = RowEncoder(ctx.schema, table, selected_columns(table, options.select), ctx.annotations, filled)
    order_sql = ", ".join(f"{e} {'DESC' if d else 'ASC'}" for e, d in terms)
    sort_sql = ", ".join(e for e, _ in terms)
    source = (
        f"FROM {quote(table.logical)} {alias} WHERE {where} AND {cursor_sql} ORDER BY {order_sql} LIMIT ?"
    )
    columns_sql = f"{encoder.select_sql(alias)}, {sort_sql}"
    arguments = [*params, *cursor_params, take + 1]
    rows = fetch_page(ctx.connection, table, alias, columns_sql, source, arguments) if take > 0 else []
    more = len(rows) > take
    rows = rows[:take]
    if limit_total is not None and returned_before + len(rows) >= limit_total:
        more = False  # $top reached: no further page
    body: dict[str, Any] = {
        "@odata.context": f"{ctx.service_url}$metadata#{table.set_name}"
        f"{context_select(table, options.select, options.expand)}"
    }
    if options.count:
        count_sql = (
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {quote(table.logical)} {alias} WHERE {where} LIMIT ?)"
        )
        body["@odata.count"] = min(
            ctx.connection.execute(count_sql, [*params, COUNT_CAP + 1]).fetchone()[0], COUNT_CAP
        )
    values = encoder.encode(rows, ctx.connection)
    if options.expand:
        apply_expands(ctx, table, values, options.expand)
    body["value"] = values
    if more and rows:
        width = len(terms)
        last = list(rows[-1][-width:])
        token = make_skiptoken(page_number + 1, last, returned_before + len(rows))
        kept = [(k, v) for k, v in request_query if k != "$skiptoken"]
        query = "&".join(f"{url_quote(k, safe='$@')}={url_quote(v, safe='')}" for k, v in kept)
        prefix = query + "&" if query else ""
        link = f"{ctx.service_url}{request_path}?{prefix}$skiptoken={url_quote(token, safe='')}"
        body["@odata.nextLink"] = link
    return body


def fetch_page(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
    connection: sqlite3.Connection, table: Table, alias: str, columns_sql: str, source: str, params: list[Any]
) -> list[Any]:
    """The rows of `SELECT <columns_sql> <source>` (source: FROM ... ORDER BY ... LIMIT ?, the limit
    the last parameter), in order.

    When SQLite would have to sort (an index picks the rows, but not in the page's order: a date
    range read in key order), sorting whole wide rows costs more than reading them. Then the page is
    read in two steps inside the caller's read transaction: the rowids in order (the sort holds
    rowid and sort key only, often straight from a covering index), then those rows by rowid,
    put back in that order. Same rows, same order; only the work differs."""
    limit = params[-1]
    sql = f"SELECT {columns_sql} {source}"
    if limit < TWO_STEP_MIN_ROWS or not connection.in_transaction or not _sorts_rows(connection, sql, params):
        return connection.execute(sql, params).fetchall()
    ids = [row[0] for row in connection.execute(f"SELECT {alias}.rowid {source}", params)]
    position = {rowid: index for index, rowid in enumerate(ids)}
    rows: list[Any] = [None] * len(ids)
    # Looked up in rowid order (neighbouring rows share pages), then put back in the page's order.
    for row in connection.execute(
        f"SELECT {columns_sql}, {alias}.rowid FROM json_each(?) AS page "
        f"CROSS JOIN {quote(table.logical)} {alias} ON {alias}.rowid = page.value",
        [json.dumps(sorted(ids))],
    ):
        rows[position[row[-1]]] = row[:-1]
    return rows


def _sorts_rows(connection: sqlite3.Connection, sql: str, params: list[Any]) -> bool:
    """Whether SQLite's plan for `sql` sorts its result rows (a temp B-tree for the ORDER BY)."""
    plan = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return any(
        str(step[-1]).startswith("USE TEMP B-TREE FOR") and "ORDER BY" in str(step[-1]) for step in plan
    )


def count_only(ctx: ReadContext, table: Table, options: Options) -> int:
    where, params = where_clause(ctx, table, "t0", options)
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {quote(table.logical)} t0 WHERE {where} LIMIT ?)"
    return int(min(ctx.connection.execute(sql, [*params, COUNT_CAP + 1]).fetchone()[0], COUNT_CAP))


def key_condition(table: Table, key: str, alias: str = "t0") -> tuple[str, list[Any]]:
    """`<guid>` or `k1='a',k2=2` (alternate key) as SQL."""
    text = key.strip()
    if "=" not in text:
        guid = text.strip("{}").lower()
        if len(guid) != 36:
            raise ServiceError(
                400, "0x80060888", f"Bad Request - Error in query syntax: '{key}' is not a valid key."
            )
        return f"{alias}.{quote(table.columns[table.pk].prop)} = ?", [guid]
    parts = {}
    from d365conn.sandbox.filterparse import split_top_level

    for item in split_top_level(text):
        name, _, value = item.partition("=")
        column = table.column_for_prop(name.strip())
        if column is None:
            raise unknown_property(name.strip(), table.logical)
        value = value.strip()
        literal: Any = value[1:-1].replace("''", "'") if value.startswith("'") else value
        parts[column.prop] = to_sql_value(column, literal)
    names = tuple(sorted(table.props[p].logical for p in parts))
    if names != (table.pk,) and names not in [tuple(sorted(k)) for k in table.alternate_keys]:
        raise ServiceError(
            400,
            "0x80060888",
            f"The key '{key}' does not match a key defined for the entity '{table.logical}'.",
        )
    return " AND ".join(f"{alias}.{quote(p)} = ?" for p in parts), list(parts.values())


def read_one(ctx: ReadContext, table: Table, key: str, options: Options) -> dict[str, Any]:
    condition, params = key_condition(table, key)
    encoder = RowEncoder(ctx.schema, table, selected_columns(table, options.select), ctx.annotations)
    row = ctx.connection.execute(
        f"SELECT {encoder.select_sql('t0')} FROM {quote(table.logical)} t0 WHERE {condition}", params
    ).fetchone()
    if row is None:
        raise not_found(table.logical, key.strip("{}"))
    body: dict[str, Any] = {
        "@odata.context": f"{ctx.service_url}$metadata#{table.set_name}"
        f"{context_select(table, options.select, options.expand)}/$entity"
    }
    item = encoder.encode([row], ctx.connection)[0]
    if options.expand:
        apply_expands(ctx, table, [item], options.expand)
    body.update(item)
    return body


def apply_expands(ctx: ReadContext, table: Table, items: list[dict[str, Any]], expands: list[Expand]) -> None:
    for expand in expands:
        if expand.nav.collection:
            expand_collection(ctx, table, items, expand)
        else:
            expand_single(ctx, table, items, expand)


def expand_single(ctx: ReadContext, table: Table, items: list[dict[str, Any]], expand: Expand) -> None:
    nav = expand.nav
    lookup = table.columns[nav.column]
    type_by_item: list[str | None] = []
    wanted: dict[str, set[str]] = {}
    ids = _lookup_values(ctx, table, items, lookup)
    for value, kind in ids:
        wanted_table = kind if nav.target == "principal" else nav.target
        if value is None or (polymorphic(lookup) and kind != wanted_table):
            type_by_item.append(None)
            continue
        type_by_item.append(wanted_table)
        wanted.setdefault(str(wanted_table), set()).add(value)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for target_name, keys in wanted.items():
        target = ctx.schema.tables[target_name]
        select = expand.select
        if select is not None and nav.target == "principal":
            select = [s for s in select if target.column_for_prop(s) is not None]
        encoder = RowEncoder(ctx.schema, target, selected_columns(target, select), ctx.annotations)
        rows = _rows_by(ctx, target, encoder, target.columns[target.pk].prop, list(keys), expand.filter)
        for row, encoded in zip(rows, encoder.encode(rows, ctx.connection), strict=True):
            if nav.target == "principal":
                encoded = {"@odata.type": f"#Microsoft.Dynamics.CRM.{target.logical}", **encoded}  # noqa: PLW2901
            found[(target_name, encoder.key_of(row))] = encoded
    for item, (value, _), child_table in zip(items, ids, type_by_item, strict=True):
        child = found.get((child_table, str(value))) if child_table else None
        if child is not None and expand.expand:
            apply_expands(ctx, ctx.schema.tables[str(child_table)], [child], expand.expand)
        item[nav.name] = child


def _lookup_values(
    ctx: ReadContext, table: Table, items: list[dict[str, Any]], lookup: Column
) -> list[tuple[str | None, str | None]]:
    """(lookup value, target table) per item: read from the database, since the selection may not
    include the lookup column (the real service expands regardless of $select)."""
    pk = table.columns[table.pk].prop
    keys = [item[pk] for item in items]
    type_sql = quote(type_column(lookup)) if polymorphic(lookup) else f"'{(lookup.targets or ('',))[0]}'"
    result: dict[str, tuple[str | None, str | None]] = {}
    for start in range(0, len(keys), 900):
        chunk = keys[start : start + 900]
        sql = (
            f"SELECT {quote(pk)}, {quote(lookup.prop)}, {type_sql} FROM {quote(table.logical)} "
            f"WHERE {quote(pk)} IN ({', '.join('?' for _ in chunk)})"
        )
        for key, value, kind in ctx.connection.execute(sql, chunk):
            result[str(key)] = (value, kind)
    return [result.get(str(k), (None, None)) for k in keys]


def _rows_by(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
    ctx: ReadContext,
    target: Table,
    encoder: RowEncoder,
    column: str,
    keys: list[Any],
    node: Any,
    extra: str = "",
    extra_params: list[Any] | None = None,
    order: str = "",
) -> list[Any]:
    rows: list[Any] = []
    filter_sql, filter_params = "1", list[Any]()
    if node is not None:
        filter_sql, filter_params = FilterCompiler(
            Scope(ctx.schema, target, "t0", ctx.user_id, ctx.business_unit_id)
        ).compile(node)
    for start in range(0, len(keys), 900):
        chunk = keys[start : start + 900]
        sql = (
            f"SELECT {encoder.select_sql('t0')}, t0.{quote(column)} FROM {quote(target.logical)} t0 "
            f"WHERE t0.{quote(column)} IN ({', '.join('?' for _ in chunk)}) AND {filter_sql}{extra}"
            f"{' ORDER BY ' + order if order else ''}"
        )
        rows.extend(ctx.connection.execute(sql, chunk + filter_params + (extra_params or [])).fetchall())
    return rows


def expand_collection(ctx: ReadContext, table: Table, items: list[dict[str, Any]], expand: Expand) -> None:
    nav = expand.nav
    target = ctx.schema.tables[nav.target]
    lookup = target.columns[nav.column]
    pk = table.columns[table.pk].prop
    keys = [item[pk] for item in items]
    encoder = RowEncoder(ctx.schema, target, selected_columns(target, expand.select), ctx.annotations)
    extra, extra_params = "", []
    if polymorphic(lookup):
        extra, extra_params = f" AND t0.{quote(type_column(lookup))} = ?", [table.logical]
    terms = order_terms(ctx, target, "t0", expand.orderby)
    order = ", ".join(f"{e} {'DESC' if d else 'ASC'}" for e, d in terms)
    rows = _rows_by(ctx, target, encoder, lookup.prop, keys, expand.filter, extra, extra_params, order)
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(str(row[-1]), []).append(row[:-1])
    limit = min(expand.top, MAX_PAGE) if expand.top is not None else MAX_PAGE
    for item in items:
        children = grouped.get(str(item[pk]), [])
        encoded = encoder.encode(children[:limit], ctx.connection)
        if expand.expand:
            apply_expands(ctx, target, encoded, expand.expand)
        item[nav.name] = encoded
        if len(children) > limit and expand.top is None:
            item[f"{nav.name}@odata.nextLink"] = (
                f"{ctx.service_url}{table.set_name}({item[pk]})/{nav.name}"
                f"?$select={','.join(c.prop for c in selected_columns(target, expand.select))}"
            )


def read_property(ctx: ReadContext, table: Table, key: str, prop: str) -> tuple[Any, Column]:
    column = table.column_for_prop(prop)
    if column is None:
        raise unknown_property(prop, table.logical)
    condition, params = key_condition(table, key)
    row = ctx.connection.execute(
        f"SELECT t0.{quote(column.prop)} FROM {quote(table.logical)} t0 WHERE {condition}", params
    ).fetchone()
    if row is None:
        raise not_found(table.logical, key.strip("{}"))
    value = row[0]
    if column.edm == "Edm.Boolean" and value is not None:
        value = bool(value)
    return value, column
