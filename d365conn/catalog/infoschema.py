"""INFORMATION_SCHEMA views of a Catalog, as plain rows the SQL layer loads into its engine.

Owns: the view definitions (``VIEW_COLUMNS``: ``TABLES``, ``COLUMNS``, ``TABLE_CONSTRAINTS``,
``KEY_COLUMN_USAGE``, ``REFERENTIAL_CONSTRAINTS``; ISO/SQL Server column names, then a few d365conn
columns at the end, each with the Edm type the planner plans it as), their rows, and the SQL type
each Edm type is shown as. Data types follow the SQL Server names the
Dataverse TDS endpoint uses (``nvarchar``, ``uniqueidentifier``, ``int``, ``decimal``, ``money``...).

Constraints: ``PK_<table>`` (primary key), ``AK_<table>_<n>`` (alternate keys, UNIQUE),
``FK_<table>_<navigation>_<target>`` (one per lookup target: a polymorphic lookup such as
``ownerid`` is one foreign key to each table it may point to).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from d365conn.catalog.model import Column, Table

if TYPE_CHECKING:
    from d365conn.catalog.catalog import Catalog

Rows = tuple[list[str], list[tuple[Any, ...]]]

#: Edm type -> (SQL type, numeric precision, radix, datetime precision)
SQL_TYPES: dict[str, tuple[str, int | None, int | None, int | None]] = {
    "Edm.String": ("nvarchar", None, None, None),
    "Edm.Guid": ("uniqueidentifier", None, None, None),
    "Edm.Boolean": ("bit", None, None, None),
    "Edm.Byte": ("tinyint", 3, 10, None),
    "Edm.SByte": ("smallint", 5, 10, None),
    "Edm.Int16": ("smallint", 5, 10, None),
    "Edm.Int32": ("int", 10, 10, None),
    "Edm.Int64": ("bigint", 19, 10, None),
    "Edm.Decimal": ("decimal", 38, 10, None),
    "Edm.Double": ("float", 53, 2, None),
    "Edm.Single": ("real", 24, 2, None),
    "Edm.Date": ("date", None, None, 0),
    "Edm.DateTimeOffset": ("datetimeoffset", None, None, 7),
    "Edm.TimeOfDay": ("time", None, None, 7),
    "Edm.Duration": ("nvarchar", None, None, None),
    "Edm.Binary": ("varbinary", None, None, None),
}

#: Columns that hold counts and positions; every other column of the views is text.
_INTEGER_COLUMNS = frozenset({
    "ORDINAL_POSITION", "CHARACTER_MAXIMUM_LENGTH", "CHARACTER_OCTET_LENGTH", "NUMERIC_PRECISION",
    "NUMERIC_PRECISION_RADIX", "NUMERIC_SCALE", "DATETIME_PRECISION", "POSITION_IN_UNIQUE_CONSTRAINT",
})


def _typed(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, "Edm.Int32" if name in _INTEGER_COLUMNS else "Edm.String") for name in names)


#: view -> ((column, Edm type), ...), in the order :func:`information_schema_rows` gives the values.
#: The planner plans against these (``planner/catalog_views.py``), so the two cannot disagree.
VIEW_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "TABLES": _typed("TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE", "ENTITY_SET_NAME"),
    "COLUMNS": _typed(
        "TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "COLUMN_NAME", "ORDINAL_POSITION", "COLUMN_DEFAULT",
        "IS_NULLABLE", "DATA_TYPE", "CHARACTER_MAXIMUM_LENGTH", "CHARACTER_OCTET_LENGTH",
        "NUMERIC_PRECISION", "NUMERIC_PRECISION_RADIX", "NUMERIC_SCALE", "DATETIME_PRECISION",
        "EDM_TYPE", "ODATA_PROPERTY", "COLUMN_ROLE", "ATTRIBUTE_TYPE", "IS_READ_ONLY",
    ),
    "TABLE_CONSTRAINTS": _typed(
        "CONSTRAINT_CATALOG", "CONSTRAINT_SCHEMA", "CONSTRAINT_NAME", "TABLE_CATALOG", "TABLE_SCHEMA",
        "TABLE_NAME", "CONSTRAINT_TYPE", "IS_DEFERRABLE", "INITIALLY_DEFERRED",
    ),
    "KEY_COLUMN_USAGE": _typed(
        "CONSTRAINT_CATALOG", "CONSTRAINT_SCHEMA", "CONSTRAINT_NAME", "TABLE_CATALOG", "TABLE_SCHEMA",
        "TABLE_NAME", "COLUMN_NAME", "ORDINAL_POSITION", "POSITION_IN_UNIQUE_CONSTRAINT",
    ),
    "REFERENTIAL_CONSTRAINTS": _typed(
        "CONSTRAINT_CATALOG", "CONSTRAINT_SCHEMA", "CONSTRAINT_NAME", "UNIQUE_CONSTRAINT_CATALOG",
        "UNIQUE_CONSTRAINT_SCHEMA", "UNIQUE_CONSTRAINT_NAME", "MATCH_OPTION", "UPDATE_RULE", "DELETE_RULE",
        "REFERENCED_TABLE_NAME",
    ),
}


def sql_type(col: Column) -> tuple[str, int | None, int | None, int | None, int | None]:
    """(data type, numeric precision, radix, scale, datetime precision) of a column."""
    if col.attribute_type == "Money" and col.role == "attribute":
        return "money", col.precision or 19, 10, 4 if col.scale is None else col.scale, None
    name, precision, radix, dt_precision = SQL_TYPES.get(col.edm_type, ("nvarchar", None, None, None))
    if col.edm_type == "Edm.Decimal":
        return name, col.precision or precision, radix, col.scale, None
    scale = 0 if radix == 10 else None
    return name, precision, radix, scale, dt_precision


def _columns_rows(catalog_name: str | None, schema: str, table: Table) -> list[tuple[Any, ...]]:
    rows = []
    for ordinal, col in enumerate(table.columns, start=1):
        data_type, precision, radix, scale, dt_precision = sql_type(col)
        text = data_type == "nvarchar"
        length = col.max_length if text else None
        if data_type == "varbinary":
            length = col.max_length
        rows.append((
            catalog_name, schema, table.name, col.name, ordinal, None,
            "YES" if col.nullable else "NO", data_type,
            -1 if (text or data_type == "varbinary") and length is None else length,
            (length * 2 if text and length is not None else -1 if text else length),
            precision, radix, scale, dt_precision,
            col.edm_type, col.property or col.name, col.role, col.attribute_type,
            "YES" if col.read_only else "NO",
        ))
    return rows


def information_schema_rows(
    catalog: Catalog,
    tables: Iterable[str] | None = None,
    *,
    catalog_name: str | None = None,
    schema: str = "dbo",
) -> dict[str, Rows]:
    """The views as ``{view: (column names, rows)}``.

    ``TABLES`` lists every table of the service (from the table list alone). The other views cover
    ``tables`` (names as the user wrote them; unknown ones are skipped) -- or, when ``tables`` is
    None, every table, which on a Dataverse org with thousands of tables means loading them all:
    pass the names a query filters on when you can.
    """
    entries = catalog.entries()
    tables_rows = [(catalog_name, schema, e.name, "BASE TABLE", e.entity_set) for e in entries]
    loaded = catalog.tables(tables)
    columns: list[tuple[Any, ...]] = []
    constraints: list[tuple[Any, ...]] = []
    usage: list[tuple[Any, ...]] = []
    referential: list[tuple[Any, ...]] = []

    def constraint(name: str, table: Table, kind: str) -> None:
        constraints.append((catalog_name, schema, name, catalog_name, schema, table.name, kind, "NO", "NO"))

    for table in loaded:
        columns.extend(_columns_rows(catalog_name, schema, table))
        if table.primary_key:
            pk = f"PK_{table.name}"
            constraint(pk, table, "PRIMARY KEY")
            for pos, col in enumerate(table.primary_key, start=1):
                usage.append((catalog_name, schema, pk, catalog_name, schema, table.name, col, pos, None))
        for n, key in enumerate(table.alternate_keys, start=1):
            ak = f"AK_{table.name}_{n}"
            constraint(ak, table, "UNIQUE")
            for pos, col in enumerate(key, start=1):
                usage.append((catalog_name, schema, ak, catalog_name, schema, table.name, col, pos, None))
        groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for fk in table.foreign_keys:
            groups.setdefault((fk.navigation, fk.target_table), []).append((fk.column, fk.target_column))
        for (navigation, target), pairs in groups.items():
            name = f"FK_{table.name}_{navigation}_{target}"
            constraint(name, table, "FOREIGN KEY")
            for pos, (col, _target_col) in enumerate(pairs, start=1):
                usage.append((catalog_name, schema, name, catalog_name, schema, table.name, col, pos, pos))
            referential.append((catalog_name, schema, name, catalog_name, schema, f"PK_{target}",
                                "SIMPLE", "NO ACTION", "NO ACTION", target))
    rows = {
        "TABLES": tables_rows,
        "COLUMNS": columns,
        "TABLE_CONSTRAINTS": constraints,
        "KEY_COLUMN_USAGE": usage,
        "REFERENTIAL_CONSTRAINTS": referential,
    }
    return {view: ([name for name, _ in VIEW_COLUMNS[view]], rows[view]) for view in VIEW_COLUMNS}
