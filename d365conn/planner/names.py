"""Names: SQL table and column references resolved against the catalog, with "did you mean" hints.

Owns: :func:`resolve_table`, :class:`Source` (a table as one FROM item sees it: alias, table, and
for an ``$expand`` join the navigation property it is reached through), :func:`resolve_column`
and :func:`unknown`, the one way every "no such table/column" error is worded.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlglot import exp

from d365conn.catalog.model import CatalogView, Column, Table
from d365conn.exceptions import ProgrammingError

#: Schema names accepted in front of a table name (the TDS endpoint calls its schema ``dbo``).
_TRANSPARENT_SCHEMAS = frozenset({"", "dbo"})


def unknown(
    kind: str, name: str, candidates: Iterable[str], where: str = "", shown: str | None = None
) -> ProgrammingError:
    """A ProgrammingError naming the unknown thing (as ``shown``) and the nearest known names."""
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in pool], n=3, cutoff=0.6)
    by_lower = {c.lower(): c for c in pool}
    hint = ""
    if close:
        hint = "; did you mean " + " or ".join(f"'{by_lower[c]}'" for c in close) + "?"
    place = f" in {where}" if where else ""
    return ProgrammingError(f"unknown {kind} '{shown or name}'{place}{hint}")


def table_parts(node: exp.Table) -> tuple[str, str]:
    """(schema, name) of a table reference, lower-cased schema."""
    return (node.db or "").lower(), node.name


def resolve_table(catalog: CatalogView, node: exp.Table) -> Table:
    """The catalog table a FROM item names (logical name or entity set name, optional ``dbo.``)."""
    schema, name = table_parts(node)
    if schema not in _TRANSPARENT_SCHEMAS or node.catalog:
        full = ".".join(p for p in (node.catalog, node.db, name) if p)
        raise unknown("table", full, catalog.table_names())
    table = catalog.find_table(name)
    if table is None:
        raise unknown("table", name, catalog.table_names())
    return table


_COLUMN_INDEX: dict[int, tuple[Table, dict[str, Column]]] = {}


def column_of(table: Table, name: str) -> Column | None:
    """``table.column(name)`` through a per-table index (a wide table has hundreds of columns)."""
    entry = _COLUMN_INDEX.get(id(table))
    if entry is None or entry[0] is not table:
        if len(_COLUMN_INDEX) > 4096:
            _COLUMN_INDEX.clear()
        index: dict[str, Column] = {}
        for col in table.columns:
            index.setdefault(col.name.casefold(), col)
        entry = (table, index)
        _COLUMN_INDEX[id(table)] = entry
    return entry[1].get(name.casefold())


@dataclass(frozen=True)
class Source:
    """One table in a FROM clause: its alias, catalog table and (for $expand joins) navigation."""

    alias: str
    table: Table
    navigation: str | None = None
    #: The lookup column of the base table this expanded source hangs from.
    via: Column | None = None


def source_alias(node: exp.Table) -> str:
    return node.alias_or_name


def resolve_column(node: exp.Column, sources: Sequence[Source]) -> tuple[Source, Column]:
    """The source and catalog column a column reference names; errors name the nearest match."""
    qualifier = node.table
    name = node.name
    if qualifier:
        folded = qualifier.casefold()
        matches = [s for s in sources if s.alias.casefold() == folded]
        if not matches:
            raise unknown("table alias", qualifier, [s.alias for s in sources])
        source = matches[0]
        col = column_of(source.table, name)
        if col is None:
            raise unknown("column", name, [c.name for c in source.table.columns], source.table.name)
        return source, col
    found: list[tuple[Source, Column]] = []
    for source in sources:
        col = column_of(source.table, name)
        if col is not None:
            found.append((source, col))
    if len(found) == 1:
        return found[0]
    if not found:
        where = ", ".join(s.table.name for s in sources)
        raise unknown("column", name, [c.name for s in sources for c in s.table.columns], where)
    raise ProgrammingError(
        f"ambiguous column name '{name}': it is in " + " and ".join(s.alias for s, _ in found)
    )
