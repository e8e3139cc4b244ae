"""INFORMATION_SCHEMA views answered from the catalog, never from the service.

Owns: the relations a plan may name in ``Plan.catalog_relations``. A statement reading
``INFORMATION_SCHEMA.COLUMNS`` is planned as local SQL over the relation
``information_schema_columns``; the executor loads that relation from
``catalog.information_schema_rows(...)["COLUMNS"]`` (the view and column definitions live in
:mod:`d365conn.catalog.infoschema`) before it runs the local SQL. The relation names carry an
``information_schema_`` prefix because DuckDB has an ``information_schema`` of its own that must
not answer instead.
"""

from __future__ import annotations

from d365conn.catalog import infoschema

_INTEGER_COLUMNS = frozenset(
    {
        "ORDINAL_POSITION",
        "CHARACTER_MAXIMUM_LENGTH",
        "CHARACTER_OCTET_LENGTH",
        "NUMERIC_PRECISION",
        "NUMERIC_PRECISION_RADIX",
        "NUMERIC_SCALE",
        "DATETIME_PRECISION",
        "POSITION_IN_UNIQUE_CONSTRAINT",
    }
)

_DEFINITIONS: dict[str, list[str]] = {
    "TABLES": infoschema.TABLES_COLUMNS,
    "COLUMNS": infoschema.COLUMNS_COLUMNS,
    "TABLE_CONSTRAINTS": infoschema.TABLE_CONSTRAINTS_COLUMNS,
    "KEY_COLUMN_USAGE": infoschema.KEY_COLUMN_USAGE_COLUMNS,
    "REFERENTIAL_CONSTRAINTS": infoschema.REFERENTIAL_CONSTRAINTS_COLUMNS,
}

#: relation name -> ((column, Edm type), ...), in the order ``information_schema_rows`` gives them.
VIEWS: dict[str, tuple[tuple[str, str], ...]] = {
    f"information_schema_{view.lower()}": tuple(
        (name, "Edm.Int32" if name in _INTEGER_COLUMNS else "Edm.String") for name in columns
    )
    for view, columns in _DEFINITIONS.items()
}


def relation_for(view: str) -> str | None:
    """The relation answering ``INFORMATION_SCHEMA.<view>``, or None if there is no such view."""
    name = f"information_schema_{view.lower()}"
    return name if name in VIEWS else None


def view_of(relation: str) -> str:
    """The ``information_schema_rows`` key (``COLUMNS``...) a relation is loaded from."""
    return relation.removeprefix("information_schema_").upper()
