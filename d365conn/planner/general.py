"""Statements the local engine finishes: one scan per table reference, the rest in DuckDB SQL.

Owns: :func:`plan_general`. Every table the statement names -- in FROM, joins, subqueries, CTEs,
set operations -- becomes a :class:`Scan` that selects exactly the columns the statement reads and
carries every WHERE/ON conjunct the service can evaluate for that table alone. The statement
itself, with each table replaced by its scan's relation and the pushed conjuncts removed, is
written in DuckDB's dialect as ``local_sql``.

Local SQL keeps the service's semantics: string comparisons use the plan's collation (the executor
sets DuckDB's ``default_collation``), LIKE becomes ILIKE (or a regular expression for T-SQL
``[...]`` sets) on a case-insensitive service, and every ORDER BY states its NULL placement
explicitly as the service sorts (NULL lowest).

Where a conjunct is pushed: WHERE conjuncts go to tables that no outer join can null-extend (the
FROM table and inner-joined tables, when the scope has no RIGHT/FULL join); ON conjuncts of an inner
or left join go to the joined table when they only read that table. A SELECT over a single table
with nothing left to filter, group or window also pushes its ORDER BY and LIMIT (as ``$top`` =
limit + offset), while the local SQL still applies them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from d365conn.catalog.model import Column, Table
from d365conn.exceptions import NotSupportedError, ProgrammingError
from d365conn.planner.aggtypes import cast_local_aggregates
from d365conn.planner.catalog_views import VIEWS, relation_for
from d365conn.planner.context import (
    ANNOTATED_ROLES,
    PlanContext,
    fits_url,
    json_key,
    output_column,
    select_property,
)
from d365conn.planner.filters import FilterWriter, ValueDependent, join_and
from d365conn.planner.like import local_like, parse_pattern
from d365conn.planner.names import Source, column_of, resolve_table, unknown
from d365conn.planner.orsplit import branch_alias, split_or, union_of
from d365conn.planner.outnames import mark_written, restore_written
from d365conn.planner.plan import GUID_KEY_MACRO, ODataQuery, Plan, ResultColumn, Scan
from d365conn.planner.shape import (
    NotDirect,
    display_name,
    nulls_as_asked,
    page_size_for,
    read_limit,
    service_nulls_first,
)
from d365conn.planner.tsqldates import localise_dates
from d365conn.planner.values import NotLiteral, Slot, Unpushable, literal_of

_SQL_TYPES = {
    "Edm.String": "VARCHAR",
    "Edm.Guid": "UUID",
    "Edm.Int16": "SMALLINT",
    "Edm.Int32": "INT",
    "Edm.Int64": "BIGINT",
    "Edm.Byte": "SMALLINT",
    "Edm.SByte": "SMALLINT",
    "Edm.Decimal": "DECIMAL(38, 10)",
    "Edm.Double": "DOUBLE",
    "Edm.Single": "FLOAT",
    "Edm.Boolean": "BOOLEAN",
    "Edm.DateTimeOffset": "TIMESTAMPTZ",
    "Edm.Date": "DATE",
    "Edm.TimeOfDay": "TIME",
    "Edm.Binary": "BLOB",
}
_EDM_OF: dict[Any, str] = {
    exp.DataType.Type.VARCHAR: "Edm.String",
    exp.DataType.Type.TEXT: "Edm.String",
    exp.DataType.Type.CHAR: "Edm.String",
    exp.DataType.Type.NVARCHAR: "Edm.String",
    exp.DataType.Type.UUID: "Edm.Guid",
    exp.DataType.Type.SMALLINT: "Edm.Int16",
    exp.DataType.Type.TINYINT: "Edm.Int16",
    exp.DataType.Type.INT: "Edm.Int32",
    exp.DataType.Type.BIGINT: "Edm.Int64",
    exp.DataType.Type.DECIMAL: "Edm.Decimal",
    exp.DataType.Type.DOUBLE: "Edm.Double",
    exp.DataType.Type.FLOAT: "Edm.Single",
    exp.DataType.Type.BOOLEAN: "Edm.Boolean",
    exp.DataType.Type.TIMESTAMPTZ: "Edm.DateTimeOffset",
    exp.DataType.Type.TIMESTAMP: "Edm.DateTimeOffset",
    exp.DataType.Type.DATETIME: "Edm.DateTimeOffset",
    exp.DataType.Type.DATE: "Edm.Date",
    exp.DataType.Type.TIME: "Edm.TimeOfDay",
    exp.DataType.Type.VARBINARY: "Edm.Binary",
    exp.DataType.Type.BINARY: "Edm.Binary",
}
_UNRESOLVED = re.compile(r"Column '([^']+)' could not be resolved|Unknown column: ([^\s,]+)")


@dataclass
class _ScanState:
    alias: str
    table: Table
    needed: dict[str, Column] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)
    orderby: tuple[str, ...] = ()
    top: int | None = None
    #: ``$filter`` of each branch of an OR the service refuses: one scan per branch, unioned locally.
    branches: tuple[str, ...] = ()


def _columns_of(table: Table) -> dict[str, str]:
    return {c.name: _SQL_TYPES.get(c.edm_type, "VARCHAR") for c in table.columns}


def plan_general(statement: exp.Expr, ctx: PlanContext) -> Plan:
    """Scans for every table and DuckDB SQL for the rest."""
    tree = statement.copy()
    original_names = _outer_names(tree, ctx.dialect)
    mark_written(tree, ctx.dialect)
    ctes = {cte.alias_or_name.casefold() for cte in tree.find_all(exp.CTE)}
    _mark_recursive(tree)
    scans: dict[str, _ScanState] = {}
    catalog_relations: list[str] = []
    schema: dict[str, object] = {}
    for node in list(tree.find_all(exp.Table)):
        if not node.name or isinstance(node.this, exp.Func):
            continue
        db = (node.db or "").lower()
        if not db and node.name.casefold() in ctes:
            continue
        alias = node.alias_or_name
        if db == "information_schema":
            relation = relation_for(node.name)
            if relation is None:
                views = [v.split("_", 2)[2] for v in VIEWS]
                raise unknown("table", node.name, views, shown=f"INFORMATION_SCHEMA.{node.name}")
            if relation not in catalog_relations:
                catalog_relations.append(relation)
            schema[relation] = {name: _SQL_TYPES[edm] for name, edm in VIEWS[relation]}
            node.replace(_table(relation, alias))
            continue
        table = resolve_table(ctx.catalog, node)
        name = ctx.scan_alias(table, reserved=ctes)
        scans[name] = _ScanState(name, table)
        schema[name] = _columns_of(table)
        node.replace(_table(name, alias))
    try:
        tree = qualify(
            tree,
            schema=schema,
            dialect=ctx.dialect,
            quote_identifiers=False,
            identify=False,
            validate_qualify_columns=True,
        )
    except OptimizeError as err:
        match = _UNRESOLVED.search(str(err))
        if match:
            pool = [c.name for s in scans.values() for c in s.table.columns]
            raise unknown("column", match.group(1) or match.group(2), pool) from None
        raise ProgrammingError(str(err)) from None
    for scope in traverse_scope(tree):
        if isinstance(scope.expression, exp.Select):
            _push_scope(scope, scans, ctx)
    # Columns are counted after pushdown: a column only the service filters on is not fetched.
    for scope in traverse_scope(tree):
        _collect_columns(scope, scans)
    cast_local_aggregates(tree, _scan_column_resolver(tree, scans))
    _localise(tree, ctx)
    if ctx.caps.guid_order == "sqlserver":
        _order_guids_as_service(tree, schema)
    for state in scans.values():
        if state.branches and not isinstance(tree, exp.Query):
            state.branches = ()  # no WITH to rebuild the relation in: one scan
        if state.branches and isinstance(tree, exp.Query):
            for name in state.table.primary_key:  # the key makes UNION keep distinct rows apart
                col = column_of(state.table, name)
                if col is not None:
                    state.needed.setdefault(col.name, col)
            tree = tree.with_(state.alias, as_=union_of(state.alias, len(state.branches)))
    restore_written(tree, {rel: {k.casefold(): k for k in cols} for rel, cols in _schema_items(schema)})
    local_sql = tree.sql(dialect="duckdb")
    scan_list = tuple(scan for state in scans.values() for scan in _build_scans(state, ctx))
    columns = _result_columns(tree, schema, original_names)
    notes = []
    if scan_list:
        notes.append("the local engine evaluates what the service cannot (joins, expressions, grouping...)")
    return Plan(
        scans=scan_list,
        columns=columns,
        local_sql=local_sql,
        notes=tuple(notes),
        catalog_relations=tuple(catalog_relations),
        catalog_tables=_catalog_tables(tree) if catalog_relations else None,
        collation=ctx.caps.collation,
    )


def _schema_items(schema: dict[str, object]) -> list[tuple[str, dict[str, str]]]:
    return [(rel, cols) for rel, cols in schema.items() if isinstance(cols, dict)]


def _mark_recursive(tree: exp.Expr) -> None:
    """T-SQL writes recursive CTEs without RECURSIVE; DuckDB needs the keyword."""
    for with_ in tree.find_all(exp.With):
        for cte in with_.expressions:
            name = cte.alias_or_name.casefold()
            if any(not t.db and t.name.casefold() == name for t in cte.this.find_all(exp.Table)):
                with_.set("recursive", True)


def _table(relation: str, alias: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(relation), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _outer_names(tree: exp.Expr, dialect: str) -> list[str] | None:
    """Result column names as the statement writes them (None when a * must be expanded)."""
    select = tree
    while isinstance(select, (exp.Union, exp.Intersect, exp.Except)):
        select = select.this
    if not isinstance(select, exp.Select):
        return None
    names: list[str] = []
    for node in select.expressions:
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            return None
        names.append(display_name(node, dialect))
    return names


def _source_of(scope: Scope, alias: str) -> tuple[Scope, object] | None:
    current: Scope | None = scope
    while current is not None:
        if alias in current.sources:
            return current, current.sources[alias]
        current = current.parent
    return None


def _collect_columns(scope: Scope, scans: dict[str, _ScanState]) -> None:
    for col in scope.columns:
        found = _source_of(scope, col.table)
        if found is None:
            continue
        source = found[1]
        if isinstance(source, exp.Table) and source.name in scans:
            state = scans[source.name]
            catalog_col = column_of(state.table, col.name)
            if catalog_col is not None:
                state.needed.setdefault(catalog_col.name, catalog_col)


def _scan_column_resolver(
    tree: exp.Expr, scans: dict[str, _ScanState]
) -> Callable[[exp.Column], Column | None]:
    """The catalog column each qualified column reference of ``tree`` reads, if it reads a scan --
    directly, or through derived tables and CTEs that pass the column on unchanged."""
    scope_of: dict[int, Scope] = {}
    for scope in traverse_scope(tree):
        for col in scope.columns:
            scope_of[id(col)] = scope

    def resolve(col: exp.Column, scope: Scope, depth: int) -> Column | None:
        found = _source_of(scope, col.table)
        if found is None or depth > 32:
            return None
        source = found[1]
        if isinstance(source, exp.Table):
            return column_of(scans[source.name].table, col.name) if source.name in scans else None
        if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
            for projection in source.expression.expressions:
                inner = projection.this if isinstance(projection, exp.Alias) else projection
                if projection.alias_or_name == col.name and isinstance(inner, exp.Column):
                    return resolve(inner, source, depth + 1)
        return None

    def column(node: exp.Column) -> Column | None:
        scope = scope_of.get(id(node))
        return None if scope is None else resolve(node, scope, 0)

    return column


def _scan_sources(scope: Scope, scans: dict[str, _ScanState]) -> dict[str, _ScanState]:
    """alias -> scan for the scan tables of this scope."""
    out: dict[str, _ScanState] = {}
    for alias, source in scope.sources.items():
        if isinstance(source, exp.Table) and source.name in scans:
            out[alias] = scans[source.name]
    return out


def _writer(ctx: PlanContext, alias: str, state: _ScanState) -> FilterWriter:
    src = Source(alias, state.table)

    def resolve(node: exp.Column) -> tuple[Source, Column] | None:
        if node.table != alias:
            return None
        col = column_of(state.table, node.name)
        return None if col is None else (src, col)

    return FilterWriter(
        ctx.caps,
        ctx.catalog,
        resolve,
        brackets=ctx.brackets,
        slot=ctx.slots.write if ctx.slots is not None else None,
    )


def _single_alias(node: exp.Expr) -> str | None:
    if node.find(exp.Subquery, exp.Select, exp.Window, exp.AggFunc):
        return None
    tables = {c.table for c in node.find_all(exp.Column)}
    return next(iter(tables)) if len(tables) == 1 else None


def _try_push(node: exp.Expr, alias: str, state: _ScanState, ctx: PlanContext) -> bool:
    """Push one conjunct into a scan; True when it need not run locally any more."""
    try:
        pushed = _writer(ctx, alias, state).write(node)
    except (Unpushable, ValueDependent):
        return False
    if not fits_url(" and ".join([*state.filters, pushed.text]), ctx):
        return False  # a long IN list that would not fit the request URL: evaluated locally
    state.filters.append(pushed.text)
    return pushed.exact


def _try_split(node: exp.Expr, alias: str, state: _ScanState, ctx: PlanContext) -> None:
    """An OR the service refuses: fetch its branches as separate scans (the OR still runs locally)."""
    if ctx.caps.or_across_fields or state.branches or not state.table.primary_key:
        return
    branches = split_or(node, _writer(ctx, alias, state).write)
    if branches is None or not all(fits_url(join_and([*state.filters, b]) or "", ctx) for b in branches):
        return
    state.branches = branches


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


def _rebuild(parts: list[exp.Expr]) -> exp.Expr | None:
    if not parts:
        return None
    return exp.and_(*parts, copy=False)


def _push_scope(scope: Scope, scans: dict[str, _ScanState], ctx: PlanContext) -> None:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    here = _scan_sources(scope, scans)
    if not here:
        return
    joins = select.args.get("joins") or []
    sides = [(j.args.get("side") or "").upper() for j in joins]
    preserved: set[str] = set()
    if not any(side in ("RIGHT", "FULL") for side in sides):
        from_ = select.args.get("from_")
        if from_ is not None and isinstance(from_.this, exp.Table):
            preserved.add(from_.this.alias_or_name)
        for join, side in zip(joins, sides, strict=False):
            if side == "" and isinstance(join.this, exp.Table):
                preserved.add(join.this.alias_or_name)
    where = select.args.get("where")
    if where is not None:
        keep: list[exp.Expr] = []
        for part in _conjuncts(where.this):
            alias = _single_alias(part)
            if alias in preserved and alias in here and _try_push(part, alias, here[alias], ctx):
                continue
            if alias in preserved and alias in here:
                _try_split(part, alias, here[alias], ctx)
            keep.append(part)
        rebuilt = _rebuild(keep)
        if rebuilt is None:
            select.set("where", None)
        else:
            where.set("this", rebuilt)
    for join, side in zip(joins, sides, strict=False):
        on = join.args.get("on")
        if on is None or side not in ("", "LEFT") or not isinstance(join.this, exp.Table):
            continue
        alias = join.this.alias_or_name
        if alias not in here:
            continue
        keep = []
        for part in _conjuncts(on):
            if _single_alias(part) == alias and _try_push(part, alias, here[alias], ctx):
                continue
            keep.append(part)
        join.set("on", _rebuild(keep) or exp.true())
    _push_order_limit(select, here, ctx)


def _push_order_limit(select: exp.Select, here: dict[str, _ScanState], ctx: PlanContext) -> None:
    """A single-table SELECT with nothing else left: the service may sort and stop early."""
    from_ = select.args.get("from_")
    if (
        len(here) != 1
        or select.args.get("joins")
        or from_ is None
        or not isinstance(from_.this, exp.Table)
        or select.args.get("where")
        or select.args.get("group")
        or select.args.get("having")
        or select.args.get("distinct")
        or select.args.get("qualify")
        or any(e.find(exp.AggFunc, exp.Window) for e in select.expressions)
    ):
        return
    alias, state = next(iter(here.items()))
    try:
        count, offset = read_limit(select)
    except (NotDirect, ValueDependent):
        return
    orderby: list[str] = []
    order = select.args.get("order")
    projections = {e.alias: e.this for e in select.expressions if isinstance(e, exp.Alias)}
    for ordered in order.expressions if order is not None else []:
        node = ordered.this
        if isinstance(node, exp.Column) and not node.table and node.name in projections:
            node = projections[node.name]
        if not isinstance(node, exp.Column) or node.table != alias:
            return
        col = column_of(state.table, node.name)
        desc = bool(ordered.args.get("desc"))
        if col is None or not col.sortable or not ctx.caps.orderby or not nulls_as_asked(ordered, ctx):
            return
        if col.role in ("attribute", "choice"):
            prop = col.property or col.name
        elif col.role == "lookup_name" and ctx.caps.lookups:
            prop = col.property
        else:
            return
        orderby.append(f"{prop} desc" if desc else prop)
    state.orderby = tuple(orderby)
    if count is not None and ctx.caps.top:
        state.top = count + (offset or 0)


def _localise(tree: exp.Expr, ctx: PlanContext) -> None:
    """Give the local SQL the service's semantics (LIKE, NULL ordering) and open parameter slots."""
    caps = ctx.caps
    for node in list(tree.find_all(exp.Escape, exp.Like, exp.ILike)):
        if isinstance(node, (exp.Like, exp.ILike)) and isinstance(node.parent, exp.Escape):
            continue
        escape: str | None = None
        like = node
        if isinstance(node, exp.Escape):
            try:
                esc = literal_of(node.expression)
            except NotLiteral:
                continue
            escape = esc if isinstance(esc, str) else None
            like = node.this
        if not isinstance(like, (exp.Like, exp.ILike)):
            continue
        try:
            pattern = literal_of(like.expression)
        except NotLiteral:
            pattern = None
        fold = caps.case_insensitive or isinstance(like, exp.ILike)
        negate = bool(like.args.get("negate"))
        if isinstance(pattern, str):
            tokens = parse_pattern(pattern, escape, ctx.brackets)
            node.replace(local_like(like.this, tokens, fold, negate))
        elif fold and isinstance(like, exp.Like):
            replacement: exp.Expr = exp.ILike(this=like.this, expression=like.expression)
            if escape is not None:
                replacement = exp.Escape(this=replacement, expression=exp.Literal.string(escape))
            node.replace(exp.Not(this=replacement) if negate else replacement)
    for ordered in tree.find_all(exp.Ordered):
        if not ctx.explicit_nulls:
            ordered.set("nulls_first", service_nulls_first(bool(ordered.args.get("desc")), ctx))
    if ctx.dialect == "tsql":
        localise_dates(tree)
    if ctx.slots is not None:
        for placeholder in list(tree.find_all(exp.Placeholder)):
            value = literal_of(placeholder)
            if isinstance(value, Slot):
                sentinel = ctx.slots.write(value, "sql", "")
                placeholder.replace(exp.Literal.string(sentinel))


def _order_guids_as_service(tree: exp.Expr, schema: dict[str, object]) -> None:
    """Sort GUID columns locally the way the service sorts them (``Capabilities.guid_order``).

    DuckDB orders UUIDs by their text; SQL Server orders ``uniqueidentifier`` by another byte order.
    Every ORDER BY term (window ORDER BYs included) that is a GUID column of a scan is wrapped in the
    engine's ``d365_guid_key()`` macro (see ``engine.py``), so ties and ranges agree with the service's.
    """

    def is_guid(node: exp.Expr) -> bool:
        columns = schema.get(node.table) if isinstance(node, exp.Column) and node.table else None
        return isinstance(columns, dict) and columns.get(node.name) == "UUID"

    for ordered in tree.find_all(exp.Ordered):
        term = ordered.this
        if not isinstance(term, exp.Column):
            continue
        guid = is_guid(term)
        if not term.table:  # an output name of the SELECT: look at what it names
            select = ordered.find_ancestor(exp.Select)
            named = [
                e.this
                for e in (select.expressions if select is not None else [])
                if isinstance(e, exp.Alias) and e.alias == term.name
            ]
            guid = len(named) == 1 and is_guid(named[0])
        if guid:
            ordered.set("this", exp.Anonymous(this=GUID_KEY_MACRO, expressions=[term.copy()]))


def _catalog_tables(tree: exp.Expr) -> tuple[str, ...] | None:
    """The table names a catalog query restricts itself to, if every catalog relation is restricted.

    Only the simple, common shape counts: a SELECT whose sources are all catalog relations and whose
    WHERE has a top-level ``TABLE_NAME = 'x'`` or ``TABLE_NAME IN ('x', 'y')`` on each of them.
    """
    if not isinstance(tree, exp.Select) or tree.args.get("joins") or tree.find(exp.Subquery):
        return None
    where = tree.args.get("where")
    if where is None:
        return None
    for part in _conjuncts(where.this):
        values: list[object] = []
        if isinstance(part, exp.EQ) and isinstance(part.this, exp.Column):
            values = [_constant(part.expression)]
        elif isinstance(part, exp.In) and isinstance(part.this, exp.Column) and not part.args.get("query"):
            values = [_constant(v) for v in part.expressions]
        else:
            continue
        if part.this.name.casefold() == "table_name" and values and all(isinstance(v, str) for v in values):
            return tuple(str(v) for v in values)
    return None


def _constant(node: exp.Expr) -> object:
    try:
        return literal_of(node)
    except NotLiteral:
        return None


def _build_scans(state: _ScanState, ctx: PlanContext) -> list[Scan]:
    """The scan of ``state``, or one scan per OR branch, each with the other pushed conditions."""
    if not state.branches:
        return [_build_scan(state, ctx)]
    out: list[Scan] = []
    for i, branch in enumerate(state.branches, 1):
        part = _ScanState(branch_alias(state.alias, i), state.table, state.needed, [*state.filters, branch])
        out.append(_build_scan(part, ctx))
    return out


def _build_scan(state: _ScanState, ctx: PlanContext) -> Scan:
    needed = list(state.needed.values())
    if not needed:
        key = column_of(state.table, state.table.primary_key[0]) if state.table.primary_key else None
        needed = [key or state.table.columns[0]]
    order = {c.name: i for i, c in enumerate(state.table.columns)}
    needed.sort(key=lambda c: order.get(c.name, 0))
    select: list[str] = []
    for col in needed:
        prop = select_property(col)
        if prop not in select:
            select.append(prop)
    query = ODataQuery(
        resource=state.table.entity_set,
        select=tuple(select),
        filter=join_and(state.filters),
        orderby=state.orderby,
        top=state.top,
    )
    return Scan(
        alias=state.alias,
        table=state.table.name,
        query=query,
        columns=tuple(output_column(c.name, c, (json_key(c),)) for c in needed),
        limit=state.top,
        annotations=any(c.role in ANNOTATED_ROLES for c in needed),
        page_size=page_size_for(ctx, state.top, query.top),
    )


def _result_columns(
    tree: exp.Expr, schema: dict[str, object], names: list[str] | None
) -> tuple[ResultColumn, ...]:
    try:
        typed = annotate_types(tree.copy(), schema=schema, dialect="duckdb")
    except Exception:  # sqlglot's typing is best effort: unannotated columns are reported Edm.Untyped
        typed = tree
    select = typed
    while isinstance(select, (exp.Union, exp.Intersect, exp.Except)):
        select = select.this
    if not isinstance(select, exp.Select):
        raise NotSupportedError(f"cannot describe the result of {type(select).__name__}")
    out: list[ResultColumn] = []
    for i, node in enumerate(select.expressions):
        dtype = node.type
        edm = _EDM_OF.get(dtype.this, "Edm.Untyped") if isinstance(dtype, exp.DataType) else "Edm.Untyped"
        inner = node.this if isinstance(node, exp.Alias) else node
        if isinstance(inner, exp.Count) or (
            isinstance(inner, exp.Window) and isinstance(inner.this, exp.Count)
        ):
            edm = "Edm.Int64"  # DuckDB counts in BIGINT
        name = names[i] if names is not None and i < len(names) else node.alias_or_name
        precision = scale = None
        if edm == "Edm.Decimal" and isinstance(dtype, exp.DataType) and len(dtype.expressions) == 2:
            try:
                precision = int(dtype.expressions[0].name)
                scale = int(dtype.expressions[1].name)
            except ValueError:
                precision = scale = None
        out.append(ResultColumn(name, edm, True, precision, scale))
    return tuple(out)
