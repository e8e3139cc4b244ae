"""Upserts: ``MERGE`` (T-SQL, Oracle, PostgreSQL 15+) and ``INSERT ... ON CONFLICT`` (PostgreSQL,
SQLite) -> the service's upsert, a ``PATCH`` addressed by the primary key or an alternate key.

Owns: reading both statements into operations, and refusing the shapes the service's upsert
cannot express exactly. The service applies one body whether the row exists or not, so:

- ``WHEN MATCHED THEN UPDATE SET`` + ``WHEN NOT MATCHED THEN INSERT`` (or ``ON CONFLICT (key) DO
  UPDATE SET c = excluded.c``) must write the same non-key columns with the same values in both
  branches -> ``PATCH <set>(<key>)``.
- ``WHEN NOT MATCHED THEN INSERT`` alone (or ``ON CONFLICT DO NOTHING``) -> ``PATCH`` with
  ``If-None-Match: *``: created when absent, left alone (0 rows) when present.
- ``WHEN MATCHED THEN UPDATE`` alone -> ``PATCH`` with ``If-Match: *``: never creates.
- ``WHEN MATCHED THEN DELETE`` alone -> ``DELETE <set>(<key>)``.
- The ON condition (or conflict target) must be equality on every column of the primary key or of
  one alternate key; extra WHEN conditions and ``NOT MATCHED BY SOURCE`` are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from ..catalog.model import CatalogView, Column, Table
from ..exceptions import DataError, NotSupportedError, ProgrammingError
from ..planner.names import resolve_table
from .columns import BodyBuilder, check_columns, resolve
from .ops import Key, Operation
from .statements import (
    Bound,
    Params,
    RowSource,
    WriteTemplate,
    bind_copy,
    conjuncts,
    constant,
    insert_target,
    key_value,
    match_key,
    values_rows,
)

Row = Mapping[str, Any]
#: Evaluates one expression of the statement for one source row.
Eval = Callable[[Row, Params], object]


@dataclass
class _Shape:
    """What each source row becomes."""

    table: Table
    key: tuple[Column, ...]
    key_exprs: list[Eval]
    kind: str  # "upsert" | "insert_only" | "update_only" | "delete"
    columns: list[Column]
    values: list[Eval]
    builder: BodyBuilder

    def operations(self, row: Row, params: Params, index: int) -> list[Operation]:
        raw = [e(row, params) for e in self.key_exprs]
        if any(v is None for v in raw):
            raise DataError(
                f"row {index}: the key ({', '.join(c.name for c in self.key)}) of an upsert is NULL"
            )
        key = Key(self.key, tuple(key_value(self.table, c, v) for c, v in zip(self.key, raw, strict=True)))
        if self.kind == "delete":
            return [Operation("delete", self.table, {}, key, row=index, absent_ok=True)]
        body, pending = self.builder.body(
            [(c, e(row, params)) for c, e in zip(self.columns, self.values, strict=True)]
        )
        if self.kind == "upsert":
            return [Operation("upsert", self.table, body, key, row=index, pending=pending)]
        if self.kind == "insert_only":
            return [
                Operation(
                    "upsert",
                    self.table,
                    body,
                    key,
                    if_none_match="*",
                    row=index,
                    absent_ok=True,
                    pending=pending,
                )
            ]
        return [
            Operation(
                "update", self.table, body, key, if_match="*", row=index, absent_ok=True, pending=pending
            )
        ]


def _same(a: exp.Expr, b: exp.Expr) -> bool:
    return a.sql(normalize=True).casefold() == b.sql(normalize=True).casefold()


def _template(shape: _Shape, tree: exp.Expr, source: exp.Expr) -> WriteTemplate:
    """Bind VALUES rows directly; run a SELECT source first."""
    if isinstance(source, exp.Values):
        names = shape_names(source)
        rows = values_rows(source, len(names))

        def bind_values(params: Params, first: int) -> Bound:
            ops: list[Operation] = []
            for getters in rows:
                row = {n: g(params) for n, g in zip(names, getters, strict=True)}
                ops.extend(shape.operations(row, params, first + len(ops)))
            return Bound(operations=ops)

        return WriteTemplate("UPSERT", shape.table, tree, (), bind_values)
    query = source.this if isinstance(source, exp.Subquery) else source

    def bind_query(params: Params, _first: int) -> Bound:
        def make(names: Sequence[str], values: Sequence[Any], index: int) -> list[Operation]:
            row = {n.casefold(): v for n, v in zip(names, values, strict=True)}
            row.update({f"#{i}": v for i, v in enumerate(values)})  # ON CONFLICT reads by position
            return shape.operations(row, params, index)

        return Bound(sources=[RowSource(bind_copy(query, params), make)])

    return WriteTemplate("UPSERT", shape.table, tree, (), bind_query)


def shape_names(source: exp.Values) -> list[str]:
    alias = source.args.get("alias")
    columns = alias.columns if isinstance(alias, exp.TableAlias) else []
    return [c.name.casefold() for c in columns]


# --- INSERT ... ON CONFLICT -----------------------------------------------------------------------


def translate_on_conflict(tree: exp.Insert, catalog: CatalogView) -> WriteTemplate:
    table, columns = insert_target(tree, catalog)
    conflict = tree.args["conflict"]
    if conflict.args.get("duplicate"):
        raise NotSupportedError(
            "ON DUPLICATE KEY UPDATE is not supported; use ON CONFLICT (key) DO UPDATE or MERGE"
        )
    if conflict.args.get("constraint") is not None or conflict.args.get("where") is not None:
        raise NotSupportedError("ON CONFLICT takes a column list, without ON CONSTRAINT or WHERE")
    action = str(conflict.args.get("action").this if conflict.args.get("action") is not None else "").upper()
    names = [
        o.this.name if isinstance(o, exp.Ordered) else o.name
        for o in conflict.args.get("conflict_keys") or []
    ]
    by_name = {c.name.casefold(): i for i, c in enumerate(columns)}
    if names:
        key = match_key(table, names)
        if key is None:
            raise ProgrammingError(_key_hint(table, "ON CONFLICT"))
    else:
        candidates = [
            k
            for k in (table.primary_key, *table.alternate_keys)
            if k and all(n.casefold() in by_name for n in k)
        ]
        if not candidates:
            raise ProgrammingError(_key_hint(table, "ON CONFLICT DO NOTHING (the inserted columns)"))
        key = tuple(resolve(table, n) for n in candidates[0])
    missing = [c.name for c in key if c.name.casefold() not in by_name]
    if missing:
        raise ProgrammingError(
            f"ON CONFLICT key column(s) {', '.join(missing)} must be among the inserted columns"
        )
    keyset = {c.name.casefold() for c in key}
    rest = [c for c in columns if c.name.casefold() not in keyset]
    if action == "DO UPDATE":
        set_names = []
        for item in conflict.expressions:
            value = item.expression if isinstance(item, exp.EQ) else None
            if (
                not isinstance(item, exp.EQ)
                or not isinstance(item.this, exp.Column)
                or not isinstance(value, exp.Column)
                or value.table.casefold() != "excluded"
                or value.name.casefold() != item.this.name.casefold()
            ):
                raise NotSupportedError(
                    "ON CONFLICT DO UPDATE maps to the service's upsert only as "
                    f"col = excluded.col for every inserted non-key column; {item.sql()} differs"
                )
            set_names.append(item.this.name.casefold())
        if sorted(set_names) != sorted(c.name.casefold() for c in rest):
            raise NotSupportedError(
                "ON CONFLICT DO UPDATE must assign exactly the inserted non-key columns "
                f"({', '.join(c.name for c in rest)}) to excluded.<column>: the service's upsert writes one "
                "body whether the row exists or not"
            )
        kind = "upsert"
    elif action == "DO NOTHING":
        kind = "insert_only"
    else:
        raise NotSupportedError(f"ON CONFLICT {action} is not supported")
    check_columns(table, rest, "upsert" if kind == "upsert" else "insert")
    positions = {c.name.casefold(): i for i, c in enumerate(columns)}

    def by_position(i: int) -> Eval:
        return lambda row, _params: row[f"#{i}"]

    shape = _Shape(
        table, key, [by_position(positions[c.name.casefold()]) for c in key], kind,
        rest, [by_position(positions[c.name.casefold()]) for c in rest], BodyBuilder(catalog, table),
    )  # fmt: skip
    source = tree.expression
    if isinstance(source, exp.Values):
        numbered = source.copy()
        numbered.set(
            "alias",
            exp.TableAlias(
                this=exp.to_identifier("v"), columns=[exp.to_identifier(f"#{i}") for i in range(len(columns))]
            ),
        )
        return _template(shape, tree, numbered)

    return _template(shape, tree, source)


def _key_hint(table: Table, where: str) -> str:
    keys = [", ".join(k) for k in (table.primary_key, *table.alternate_keys) if k]
    return f"{where} must name the primary key or an alternate key of {table.name}: " + " | ".join(
        f"({k})" for k in keys
    )


# --- MERGE ----------------------------------------------------------------------------------------


def translate_merge(tree: exp.Merge, catalog: CatalogView) -> WriteTemplate:
    target = tree.this
    if not isinstance(target, exp.Table):
        raise NotSupportedError("MERGE INTO names one table")
    table = resolve_table(catalog, target)
    talias = target.alias_or_name.casefold()
    source = tree.args.get("using")
    if isinstance(source, exp.Values):
        names = shape_names(source)
        salias = source.alias.casefold()
        if not names:
            raise ProgrammingError("MERGE USING (VALUES ...) needs column names: AS s (col1, col2)")
    elif isinstance(source, exp.Subquery):
        names = []
        salias = source.alias.casefold()
    else:
        raise NotSupportedError("MERGE USING takes (VALUES ...) AS s (cols) or (SELECT ...) AS s")
    if not salias:
        raise ProgrammingError("MERGE USING needs an alias: USING (...) AS s")

    def evaluator(node: exp.Expr) -> Eval:
        if isinstance(node, exp.Column) and (
            node.table.casefold() == salias or (not node.table and node.name.casefold() in names)
        ):
            name = node.name.casefold()
            if names and name not in names:
                raise ProgrammingError(f"the MERGE source has no column {node.name}")

            def from_row(row: Row, _params: Params) -> object:
                if name not in row:
                    raise ProgrammingError(f"the MERGE source has no column {node.name}")
                return row[name]

            return from_row
        getter = constant(node)
        if getter is None:
            raise NotSupportedError(
                f"MERGE values must be source columns, constants or parameters; {node.sql()} is not"
            )
        return lambda _row, params: getter(params)

    on_exprs: dict[str, exp.Expr] = {}
    for part in conjuncts(tree.args["on"]):
        if isinstance(part, exp.EQ):
            for left, right in ((part.this, part.expression), (part.expression, part.this)):
                if isinstance(left, exp.Column) and left.table.casefold() == talias:
                    on_exprs[left.name.casefold()] = right
                    break
            else:
                raise NotSupportedError(
                    f"MERGE ON takes target.key = source.column equalities; {part.sql()} is not one"
                )
        else:
            raise NotSupportedError(
                f"MERGE ON takes target.key = source.column equalities; {part.sql()} is not one"
            )
    key = match_key(table, list(on_exprs))
    if key is None:
        raise ProgrammingError(_key_hint(table, "MERGE ON"))
    keyset = {c.name.casefold() for c in key}
    update: list[tuple[Column, exp.Expr]] | None = None
    insert: list[tuple[Column, exp.Expr]] | None = None
    delete = False
    whens = tree.args.get("whens")
    for when in whens.expressions if whens is not None else []:
        if when.args.get("source") or when.args.get("condition") is not None:
            raise NotSupportedError(
                "MERGE: WHEN ... AND <condition> and WHEN NOT MATCHED BY SOURCE are not supported"
            )
        then = when.args.get("then")
        if when.args.get("matched"):
            if isinstance(then, exp.Update):
                update = [(resolve(table, e.this.name), e.expression) for e in then.expressions]
            elif isinstance(then, exp.Var) and str(then.this).upper() == "DELETE":
                delete = True
            else:
                raise NotSupportedError("WHEN MATCHED takes THEN UPDATE SET ... or THEN DELETE")
        elif (
            isinstance(then, exp.Insert)
            and isinstance(then.this, exp.Tuple)
            and isinstance(then.expression, exp.Tuple)
        ):
            cols = [resolve(table, c.name) for c in then.this.expressions]
            if len(cols) != len(then.expression.expressions):
                raise ProgrammingError("MERGE INSERT names a different number of columns and values")
            insert = list(zip(cols, then.expression.expressions, strict=True))
        else:
            raise NotSupportedError("WHEN NOT MATCHED takes THEN INSERT (cols) VALUES (...)")
    if delete and (update is not None or insert is not None):
        raise NotSupportedError("MERGE with DELETE cannot also UPDATE or INSERT in one service request")
    if insert is not None:
        for col, expr in insert:
            if col.name.casefold() in keyset and not _same(expr, on_exprs[col.name.casefold()]):
                raise ProgrammingError(
                    f"MERGE INSERT gives key column {col.name} a value other than the ON condition's"
                )
        insert = [(c, e) for c, e in insert if c.name.casefold() not in keyset]
    if update is not None and any(c.name.casefold() in keyset for c, _ in update):
        raise ProgrammingError("MERGE UPDATE cannot change the key it matches on")
    if update is not None and insert is not None:
        u = {c.name.casefold(): e for c, e in update}
        i = {c.name.casefold(): e for c, e in insert}
        if set(u) != set(i) or any(not _same(u[n], i[n]) for n in u):
            raise NotSupportedError(
                "MERGE maps to the service's upsert only when UPDATE SET and INSERT write the same non-key "
                "columns with the same values: the service applies one body whether the row exists or not"
            )
        kind, pairs = "upsert", insert
    elif insert is not None:
        kind, pairs = "insert_only", insert
    elif update is not None:
        kind, pairs = "update_only", update
    elif delete:
        kind, pairs = "delete", []
    else:
        raise ProgrammingError("MERGE needs WHEN MATCHED and/or WHEN NOT MATCHED clauses")
    action = {"upsert": "upsert", "insert_only": "insert", "update_only": "update"}.get(kind)
    if action == "upsert":
        check_columns(table, [c for c, _ in pairs], "upsert")
    elif action == "insert":
        check_columns(table, [c for c, _ in pairs], "insert")
    elif action == "update":
        check_columns(table, [c for c, _ in pairs], "update")
    shape = _Shape(
        table, key, [evaluator(on_exprs[c.name.casefold()]) for c in key], kind,
        [c for c, _ in pairs], [evaluator(e) for _, e in pairs], BodyBuilder(catalog, table),
    )  # fmt: skip
    return _template(shape, tree, source)


__all__ = ["translate_merge", "translate_on_conflict"]
