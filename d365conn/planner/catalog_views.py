"""INFORMATION_SCHEMA views answered from the catalog, never from the service.

Owns: the relations a plan may name in ``Plan.catalog_relations``. A statement reading
``INFORMATION_SCHEMA.COLUMNS`` is planned as local SQL over the relation
``information_schema_columns``; the executor loads that relation from
``catalog.information_schema_rows(...)["COLUMNS"]`` before it runs the local SQL. The views, their
columns and Edm types are defined once, in :mod:`d365conn.catalog.infoschema` (constants, no I/O);
this module only names them as relations. The relation names carry an
``information_schema_`` prefix because DuckDB has an ``information_schema`` of its own that must
not answer instead.
"""

from __future__ import annotations

from d365conn.catalog.infoschema import VIEW_COLUMNS

#: relation name -> ((column, Edm type), ...), in the order ``information_schema_rows`` gives them.
VIEWS: dict[str, tuple[tuple[str, str], ...]] = {
    f"information_schema_{view.lower()}": columns for view, columns in VIEW_COLUMNS.items()
}


def relation_for(view: str) -> str | None:
    """The relation answering ``INFORMATION_SCHEMA.<view>``, or None if there is no such view."""
    name = f"information_schema_{view.lower()}"
    return name if name in VIEWS else None


def view_of(relation: str) -> str:
    """The ``information_schema_rows`` key (``COLUMNS``...) a relation is loaded from."""
    return relation.removeprefix("information_schema_").upper()
