"""Result column names of local SQL: the names the statement wrote, not the resolver's lower case.

Owns: :func:`mark_written` and :func:`restore_written`. Names are resolved case-insensitively
(Dataverse and SQL Server compare identifiers under a case-insensitive collation), so the qualifier
normalises every identifier -- in the T-SQL dialect even quoted ones (``AS "Total"`` becomes
``"total"``). The engine reports a result's columns by their aliases in ``local_sql``, so without
this module a local plan would describe ``total`` where the service (and a pushed plan) says
``Total``.

Before qualification, :func:`mark_written` notes on each projection of every SELECT the name as
written: the alias text (quoted or not, ``"x"`` or ``[x]``), else a column reference's name as the
statement spells it, else the expression's text. After it, :func:`restore_written` puts those names
back as quoted aliases. Projections the qualifier made itself (a ``*`` expanded) take the name of
what they read: a catalog column's name as the catalog spells it, or the (restored) name of a
derived table's or CTE's column. Inside the statement only the case changes, and the engine matches
identifiers case-insensitively, so no reference breaks; only the outermost SELECT also gets the
statement's text in place of the generated ``_col_N`` aliases of unnamed expressions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from d365conn.planner.shape import display_name

_WRITTEN = "d365conn_written"
_GENERATED_ALIAS = re.compile(r"_col_\d+")


def mark_written(tree: exp.Expr, dialect: str) -> None:
    """Note the written name of every projection of every SELECT in ``tree`` (in its ``meta``)."""
    for select in tree.find_all(exp.Select):
        for node in select.expressions:
            star = isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
            if star or isinstance(node, exp.Star):
                continue
            node.meta[_WRITTEN] = display_name(node, dialect)


def _written(node: exp.Expr) -> str | None:
    name = node.meta.get(_WRITTEN)
    inner = node.this if isinstance(node, exp.Alias) else None
    while name is None and inner is not None:
        name = inner.meta.get(_WRITTEN)
        # A local aggregate may have been wrapped in a CAST to its service type (aggtypes.py).
        inner = inner.this if isinstance(inner, exp.Cast) else None
    return name if isinstance(name, str) else None


def _leftmost(node: exp.Expr) -> exp.Expr:
    while isinstance(node, (exp.Union, exp.Intersect, exp.Except)):
        node = node.this
    return node


def _read_name(col: exp.Column, scope: Scope, relations: Mapping[str, Mapping[str, str]]) -> str | None:
    """The written name of the column a qualifier-made projection reads (a ``*`` expansion)."""
    current: Scope | None = scope
    while current is not None and col.table not in current.sources:
        current = current.parent
    if current is None:
        return None
    source = current.sources[col.table]
    folded = col.name.casefold()
    if isinstance(source, exp.Table):
        return relations.get(source.name, {}).get(folded)
    if isinstance(source, Scope):
        select = _leftmost(source.expression)
        if isinstance(select, exp.Select):
            for projection in select.expressions:
                name: str = projection.alias_or_name
                if name.casefold() == folded:
                    return name
    return None


def restore_written(tree: exp.Expr, relations: Mapping[str, Mapping[str, str]]) -> None:
    """Give the projections of the qualified ``tree`` their written names (see the module doc).

    ``relations`` maps each relation the local SQL reads (scans, catalog views) to its columns,
    casefolded name -> name as the catalog spells it.
    """
    outer = _leftmost(tree)
    for scope in traverse_scope(tree):  # inner scopes first: a * over a derived table reads them restored
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        for node in select.expressions:
            if not isinstance(node, exp.Alias):
                continue
            name = _written(node)
            if name is None and isinstance(node.this, exp.Column):
                name = _read_name(node.this, scope, relations)
            if name is None or name == node.alias:
                continue
            if name.casefold() == node.alias.casefold():
                node.set("alias", exp.to_identifier(name, quoted=True))
            elif select is outer and _GENERATED_ALIAS.fullmatch(node.alias):
                _rename_generated(tree, select, node, name)


def _rename_generated(tree: exp.Expr, select: exp.Select, node: exp.Alias, name: str) -> None:
    """Name an unnamed outer expression (``SUM(x)``) by its text, and ORDER BY references with it --
    unless the name is not unique and a reference would become ambiguous."""
    owners: list[exp.Expr] = [tree]
    current = tree
    while isinstance(current, (exp.Union, exp.Intersect, exp.Except)):
        current = current.this
        owners.append(current)
    old = node.alias
    refs = [
        ref
        for owner in owners
        if isinstance(owner.args.get("order"), exp.Order)
        for ref in owner.args["order"].find_all(exp.Column)
        if not ref.table and ref.name == old
    ]
    folded = name.casefold()
    if refs and sum(1 for e in select.expressions if (_written(e) or "").casefold() == folded) > 1:
        return
    node.set("alias", exp.to_identifier(name, quoted=True))
    for ref in refs:
        ref.replace(exp.column(name, quoted=True))
