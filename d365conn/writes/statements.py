"""INSERT / UPDATE / DELETE / MERGE / INSERT ... ON CONFLICT -> row operations. Pure: no I/O.

Owns: :func:`translate`, which reads one write statement once into a :class:`WriteTemplate`, and
:meth:`WriteTemplate.bind`, which turns one parameter set into :class:`~.ops.Operation` s -- or,
when the rows to change are only known after a read, into a :class:`RowSource`: a SELECT (planned
and run by the read path, so WHERE -> ``$filter`` has one translator) whose rows become operations.

- ``UPDATE``/``DELETE`` whose WHERE is ``pk = v`` (or ``pk IN (...)``, or equalities on every column
  of an alternate key; optionally ``AND versionnumber = v``, sent as ``If-Match``) are one request
  per row, no read. Any other WHERE reads the matching keys first. No WHERE is refused unless
  ``AllowUnfilteredWrites``.
- ``INSERT ... VALUES`` rows are creates; ``INSERT ... SELECT`` runs the SELECT first.
- Upserts are in :mod:`.upserts` (MERGE and ON CONFLICT).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlglot import exp

from ..catalog.model import CatalogView, Column, Table
from ..exceptions import NotSupportedError, ProgrammingError
from ..planner.names import resolve_table
from ..planner.parse import check_parameters, open_parameters, parse_statement
from ..planner.values import NotLiteral, Slot, literal_of, to_sql_node
from .columns import BodyBuilder, check_columns, resolve
from .ops import Key, Operation
from .values import guid_of, json_value

StatementKind = Literal["INSERT", "UPDATE", "DELETE", "UPSERT"]
Params = Sequence[Any] | Mapping[str, Any] | None
Getter = Callable[[Params], object]
#: Makes the operations for one row a RowSource read: (column names, row, index of its first op).
RowMaker = Callable[[Sequence[str], Sequence[Any], int], list[Operation]]


@dataclass(frozen=True)
class WriteOptions:
    optimistic_concurrency: bool = False
    allow_unfiltered_writes: bool = False


@dataclass
class RowSource:
    """Rows to read first (``query``, a SELECT with its parameters bound) and how each becomes operations."""

    query: exp.Expr
    make: RowMaker


@dataclass
class Bound:
    """One parameter set's share of a statement."""

    operations: list[Operation] = field(default_factory=list)
    sources: list[RowSource] = field(default_factory=list)


@dataclass
class WriteTemplate:
    """A write statement read once; :meth:`bind` applies it to each parameter set."""

    kind: StatementKind
    table: Table
    tree: exp.Expr
    #: Columns of RETURNING / OUTPUT inserted.x (only the primary key is supported).
    returning: tuple[Column, ...]
    binder: Callable[[Params, int], Bound]
    #: Parameter shapes already checked against the markers (executemany sends thousands alike).
    _checked: set[object] = field(default_factory=set)

    def bind(self, params: Params, first_row: int = 0) -> Bound:
        shape = _shape(params)
        if shape is None or shape not in self._checked:
            check_parameters(self.tree, params)
            if shape is not None:
                self._checked.add(shape)
        return self.binder(params, first_row)


def _shape(params: Params) -> object:
    """What decides whether parameters fit the markers: their kind and count (or names)."""
    if params is None:
        return ("none",)
    if isinstance(params, Mapping):
        return ("names", frozenset(params))
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        return None
    return ("count", len(params))


# --- constants and parameters --------------------------------------------------------------------


def param_value(params: Params, key: int | str) -> object:
    if isinstance(params, Mapping):
        return params[str(key)]
    if params is None:
        raise ProgrammingError("the statement has parameter markers but no parameters were given")
    return params[int(key)]


def constant(node: exp.Expr) -> Getter | None:
    """A getter for a literal or parameter node; None when the node is an expression over columns."""
    try:
        value = literal_of(node)
    except NotLiteral:
        return None
    if isinstance(value, Slot):
        key = value.key
        return lambda params: param_value(params, key)
    return lambda _params: value


def values_rows(source: exp.Values, width: int) -> list[list[Getter]]:
    """A getter per cell of each VALUES row; every row must have ``width`` cells, all constants."""
    rows: list[list[Getter]] = []
    for tup in source.expressions:
        cells = tup.expressions if isinstance(tup, exp.Tuple) else [tup]
        if len(cells) != width:
            raise ProgrammingError(f"the statement names {width} columns but a row has {len(cells)} values")
        getters = []
        for cell in cells:
            getter = constant(cell)
            if getter is None:
                raise NotSupportedError(
                    f"VALUES rows take constants and parameters; {cell.sql()} is an expression"
                )
            getters.append(getter)
        rows.append(getters)
    return rows


def bind_copy(node: exp.Expr, params: Params) -> exp.Expr:
    """A copy of ``node`` with every parameter marker replaced by its value as a typed literal."""
    copy = node.copy()
    for marker in list(copy.find_all(exp.Placeholder)):
        name = str(marker.this or "")
        key: int | str = int(name[1:]) if name.startswith("#") else name
        marker.replace(to_sql_node(param_value(params, key)))
    return copy


def conjuncts(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.And):
        return conjuncts(node.this) + conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return conjuncts(node.this)
    return [node]


def etag_of(version: object) -> str:
    return f'W/"{version}"'


def key_value(table: Table, col: Column, value: object) -> object:
    if col.primary_key and col.edm_type == "Edm.Guid":
        return guid_of(value, f"{table.name}.{col.name}")
    return json_value(table, col, value)


def match_key(table: Table, names: Sequence[str]) -> tuple[Column, ...] | None:
    """The primary key or the alternate key made of exactly ``names`` (case-insensitive)."""
    wanted = {n.casefold() for n in names}
    for key in (table.primary_key, *table.alternate_keys):
        if key and {k.casefold() for k in key} == wanted:
            return tuple(resolve(table, k) for k in key)
    return None


# --- entry point ----------------------------------------------------------------------------------


def translate(
    sql: str, catalog: CatalogView, *, dialect: str = "tsql", options: WriteOptions | None = None
) -> WriteTemplate:
    """Read one write statement. Raises ProgrammingError / NotSupportedError before any request."""
    tree, explain, _ = parse_statement(sql, dialect)
    if explain:
        raise NotSupportedError("EXPLAIN of a write statement is not supported")
    open_parameters(tree)
    opts = options or WriteOptions()
    if isinstance(tree, exp.Insert):
        if tree.args.get("conflict") is not None:
            from .upserts import translate_on_conflict

            return translate_on_conflict(tree, catalog)
        return _insert(tree, catalog)
    if isinstance(tree, exp.Update):
        return _update(tree, catalog, opts)
    if isinstance(tree, exp.Delete):
        return _delete(tree, catalog, opts)
    if isinstance(tree, exp.Merge):
        from .upserts import translate_merge

        return translate_merge(tree, catalog)
    raise NotSupportedError(f"{tree.key.upper()} is not a write statement d365conn runs")


# --- INSERT ---------------------------------------------------------------------------------------


def insert_target(tree: exp.Insert, catalog: CatalogView) -> tuple[Table, list[Column]]:
    target = tree.this
    if not isinstance(target, exp.Schema) or not isinstance(target.this, exp.Table):
        raise ProgrammingError("INSERT needs a column list: INSERT INTO account (name, revenue) VALUES (...)")
    table = resolve_table(catalog, target.this)
    columns = [resolve(table, ident.name) for ident in target.expressions]
    return table, columns


def _returning(tree: exp.Expr, table: Table) -> tuple[Column, ...]:
    node = tree.args.get("returning")
    if node is None:
        return ()
    cols = []
    for item in node.expressions:
        inner = item.this if isinstance(item, exp.Alias) else item
        if not isinstance(inner, exp.Column) or (inner.table and inner.table.casefold() != "inserted"):
            raise NotSupportedError(
                "RETURNING / OUTPUT takes the primary key column only (e.g. OUTPUT inserted.accountid)"
            )
        col = resolve(table, inner.name)
        if not col.primary_key:
            raise NotSupportedError(
                f"RETURNING / OUTPUT takes the primary key column only ({', '.join(table.primary_key)}), "
                f"not {col.name}: read other columns with a SELECT by that key"
            )
        cols.append(col)
    return tuple(cols)


def _insert(tree: exp.Insert, catalog: CatalogView) -> WriteTemplate:
    table, columns = insert_target(tree, catalog)
    check_columns(table, columns, "insert")
    builder = BodyBuilder(catalog, table)
    returning = _returning(tree, table)
    source = tree.expression
    if isinstance(source, exp.Values):
        rows = values_rows(source, len(columns))

        def bind_values(params: Params, first: int) -> Bound:
            ops = []
            for i, getters in enumerate(rows):
                body, pending = builder.body(
                    [(c, g(params)) for c, g in zip(columns, getters, strict=True)], creating=True
                )
                ops.append(Operation("create", table, body, row=first + i, pending=pending))
            return Bound(operations=ops)

        return WriteTemplate("INSERT", table, tree, returning, bind_values)
    if isinstance(source, (exp.Select, exp.Union, exp.Subquery)):
        query = source.this if isinstance(source, exp.Subquery) else source

        def make(_names: Sequence[str], row: Sequence[Any], index: int) -> list[Operation]:
            if len(row) != len(columns):
                raise ProgrammingError(
                    f"INSERT names {len(columns)} columns but the SELECT returns {len(row)}"
                )
            body, pending = builder.body(list(zip(columns, row, strict=True)), creating=True)
            return [Operation("create", table, body, row=index, pending=pending)]

        def bind_select(params: Params, _first: int) -> Bound:
            return Bound(sources=[RowSource(bind_copy(query, params), make)])

        return WriteTemplate("INSERT", table, tree, returning, bind_select)
    raise NotSupportedError("INSERT takes VALUES (...) or a SELECT")


# --- UPDATE and DELETE ----------------------------------------------------------------------------


@dataclass
class _Target:
    table: Table
    node: exp.Table  # the FROM item to read matching rows from (alias kept)
    alias: str


def _target(tree: exp.Expr, node: exp.Expr | None, catalog: CatalogView, verb: str) -> _Target:
    if not isinstance(node, exp.Table):
        raise NotSupportedError(f"{verb} names one table")
    from_ = tree.args.get("from_") or tree.args.get("from")
    joined = bool(tree.args.get("joins") or node.args.get("joins"))
    if from_ is not None or joined or tree.args.get("using"):
        sources = [from_.this] if from_ is not None else []
        if (
            len(sources) != 1
            or joined
            or tree.args.get("using")
            or not isinstance(sources[0], exp.Table)
            or sources[0].args.get("joins")
        ):
            raise NotSupportedError(
                f"{verb} with joins (FROM/USING other tables) is not supported; "
                "use a WHERE on the table itself"
            )
        item = sources[0]
        if node.name.casefold() not in (item.alias_or_name.casefold(), item.name.casefold()):
            raise NotSupportedError(f"{verb} ... FROM must name the table being changed")
        return _Target(resolve_table(catalog, item), item.copy(), item.alias_or_name)
    return _Target(resolve_table(catalog, node), node.copy(), node.alias_or_name)


@dataclass
class _KeyWhere:
    keys: list[list[Getter]]  # one getter list (aligned with columns) per addressed row
    columns: tuple[Column, ...]
    version: Getter | None


def _own_column(node: exp.Expr, target: _Target) -> Column | None:
    if not isinstance(node, exp.Column) or (node.table and node.table.casefold() != target.alias.casefold()):
        return None
    return target.table.column(node.name)


def _key_where(where: exp.Expr, target: _Target) -> _KeyWhere | None:
    """The rows a WHERE addresses by key, or None when it is any other condition."""
    equal: dict[str, Getter] = {}
    listed: dict[str, list[Getter]] = {}
    for part in conjuncts(where):
        if isinstance(part, exp.EQ):
            for col_node, value_node in ((part.this, part.expression), (part.expression, part.this)):
                col = _own_column(col_node, target)
                getter = constant(value_node)
                if col is not None and getter is not None and col.name.casefold() not in equal:
                    equal[col.name.casefold()] = getter
                    break
            else:
                return None
        elif isinstance(part, exp.In) and not part.args.get("query"):
            col = _own_column(part.this, target)
            getters = [constant(e) for e in part.expressions]
            if col is None or any(g is None for g in getters) or listed:
                return None
            listed[col.name.casefold()] = [g for g in getters if g is not None]
        else:
            return None
    version = equal.pop("versionnumber", None) if target.table.column("versionnumber") is not None else None
    names = list(equal) + list(listed)
    key = match_key(target.table, names)
    if key is None or (listed and (len(key) != 1 or version is not None)):
        return None
    if listed:
        return _KeyWhere([[g] for g in next(iter(listed.values()))], key, None)
    return _KeyWhere([[equal[c.name.casefold()] for c in key]], key, version)


def _key_ops(
    kw: _KeyWhere, table: Table, params: Params, make: Callable[[Key, str], Operation]
) -> list[Operation]:
    ops: list[Operation] = []
    seen: set[tuple[object, ...]] = set()
    version = kw.version(params) if kw.version is not None else None
    if kw.version is not None and version is None:
        return ops  # `versionnumber = NULL` matches no row
    for getters in kw.keys:
        values = [g(params) for g in getters]
        if any(v is None for v in values):
            continue  # `key = NULL` matches no row
        converted = tuple(key_value(table, c, v) for c, v in zip(kw.columns, values, strict=True))
        if converted in seen:
            continue
        seen.add(converted)
        ops.append(make(Key(kw.columns, converted), etag_of(version) if version is not None else "*"))
    return ops


def _check_filtered(where: exp.Expr | None, verb: str, table: Table, opts: WriteOptions) -> None:
    if where is None and not opts.allow_unfiltered_writes:
        raise ProgrammingError(
            f"{verb} without WHERE would change every row of {table.name}; add a WHERE clause, or set "
            "AllowUnfilteredWrites=true to allow it"
        )


def _matched_query(
    target: _Target, where: exp.Expr | None, extra: Sequence[exp.Expr], with_version: bool
) -> exp.Select:
    pk = target.table.primary_key
    if len(pk) != 1:
        raise NotSupportedError(f"{target.table.name} has no single-column primary key to address rows by")
    projections: list[exp.Expr] = [exp.column(pk[0], table=target.alias)]
    if with_version:
        projections.append(exp.column("versionnumber", table=target.alias))
    projections.extend(e.copy() for e in extra)
    query = exp.select(*projections).from_(target.node.copy())
    return query.where(where.copy()) if where is not None else query


def _update(tree: exp.Update, catalog: CatalogView, opts: WriteOptions) -> WriteTemplate:
    target = _target(tree, tree.this, catalog, "UPDATE")
    table = target.table
    assigns: list[tuple[Column, exp.Expr]] = []
    for item in tree.expressions:
        if not isinstance(item, exp.EQ) or not isinstance(item.this, exp.Column):
            raise ProgrammingError(f"UPDATE SET takes column = value, not {item.sql()}")
        assigns.append((resolve(table, item.this.name), item.expression))
    columns = [c for c, _ in assigns]
    check_columns(table, columns, "update")
    where_node = tree.args.get("where")
    where = where_node.this if where_node is not None else None
    _check_filtered(where, "UPDATE", table, opts)
    builder = BodyBuilder(catalog, table)
    getters = [constant(e) for _, e in assigns]
    computed = [e for (_, e), g in zip(assigns, getters, strict=True) if g is None]
    kw = _key_where(where, target) if where is not None else None
    if kw is not None and not computed:

        def bind_keys(params: Params, first: int) -> Bound:
            body, pending = builder.body([(c, g(params)) for c, g in zip(columns, getters, strict=True) if g])

            def make(key: Key, if_match: str) -> Operation:
                return Operation(
                    "update", table, dict(body), key, if_match=if_match, absent_ok=True, pending=pending
                )

            ops = _key_ops(kw, table, params, make)
            for i, op in enumerate(ops):
                op.row = first + i
            return Bound(operations=ops)

        return WriteTemplate("UPDATE", table, tree, (), bind_keys)
    with_version = opts.optimistic_concurrency and table.column("versionnumber") is not None

    def bind_read(params: Params, _first: int) -> Bound:
        fixed = [(c, g(params)) for c, g in zip(columns, getters, strict=True) if g is not None]
        late = [c for c, g in zip(columns, getters, strict=True) if g is None]
        skip = 2 if with_version else 1

        def make(_names: Sequence[str], row: Sequence[Any], index: int) -> list[Operation]:
            body, pending = builder.body(fixed + list(zip(late, row[skip:], strict=True)))
            key = Key((resolve(table, table.primary_key[0]),), (row[0],))
            if_match = etag_of(row[1]) if with_version else "*"
            return [
                Operation(
                    "update",
                    table,
                    body,
                    key,
                    if_match=if_match,
                    row=index,
                    absent_ok=True,
                    verified=True,
                    pending=pending,
                )
            ]

        query = bind_copy(_matched_query(target, where, computed, with_version), params)
        return Bound(sources=[RowSource(query, make)])

    return WriteTemplate("UPDATE", table, tree, (), bind_read)


def _delete(tree: exp.Delete, catalog: CatalogView, opts: WriteOptions) -> WriteTemplate:
    node = tree.this or (tree.args.get("tables") or [None])[0]
    target = _target(tree, node, catalog, "DELETE")
    table = target.table
    if not table.deletable:
        raise ProgrammingError(f"the service does not allow deleting from {table.name}")
    where_node = tree.args.get("where")
    where = where_node.this if where_node is not None else None
    _check_filtered(where, "DELETE", table, opts)
    kw = _key_where(where, target) if where is not None else None
    if kw is not None:

        def bind_keys(params: Params, first: int) -> Bound:
            def make(key: Key, if_match: str) -> Operation:
                return Operation(
                    "delete", table, {}, key, if_match=None if if_match == "*" else if_match, absent_ok=True
                )

            ops = _key_ops(kw, table, params, make)
            for i, op in enumerate(ops):
                op.row = first + i
            return Bound(operations=ops)

        return WriteTemplate("DELETE", table, tree, (), bind_keys)
    with_version = opts.optimistic_concurrency and table.column("versionnumber") is not None

    def bind_read(params: Params, _first: int) -> Bound:
        def make(_names: Sequence[str], row: Sequence[Any], index: int) -> list[Operation]:
            key = Key((resolve(table, table.primary_key[0]),), (row[0],))
            return [
                Operation(
                    "delete",
                    table,
                    {},
                    key,
                    if_match=etag_of(row[1]) if with_version else None,
                    row=index,
                    absent_ok=True,
                    verified=True,
                )
            ]

        query = bind_copy(_matched_query(target, where, (), with_version), params)
        return Bound(sources=[RowSource(query, make)])

    return WriteTemplate("DELETE", table, tree, (), bind_read)


__all__ = [
    "Bound",
    "RowSource",
    "StatementKind",
    "WriteOptions",
    "WriteTemplate",
    "bind_copy",
    "constant",
    "match_key",
    "translate",
]
