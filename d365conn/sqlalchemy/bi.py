"""What BI tools need to know about d365conn's SQL, apart from SQLAlchemy: time grains and type names.

Owns: :data:`TIME_GRAINS` (the SQL that truncates a timestamp to a grain, keyed by ISO 8601 duration
as Apache Superset keys them), :data:`EPOCH_SECONDS_TO_DATETIME`, and :func:`native_type_name` (the
SQL type name for a ``cursor.description`` type code). ``superset.py`` builds Superset's engine spec
from these; they import nothing from Superset so that the project's own tests check every
expression against the sandbox.

The expressions are written for the connection's default reading, T-SQL, and also read the same
under the postgres and duckdb readings. ``DATE_TRUNC('<unit>', col)`` is used rather than SQL Server's
``DATEADD(unit, DATEDIFF(unit, 0, col), 0)`` idiom (Superset's MSSQL spec): the integer 0 as "1900-01-01"
is a SQL Server quirk that the driver's local engine does not have. Weeks start on Monday (ISO 8601).
"""

from __future__ import annotations

#: Superset's time grain (an ISO 8601 duration; ``None`` is "no grain") -> SQL with ``{col}``.
TIME_GRAINS: dict[str | None, str] = {
    None: "{col}",
    "PT1S": "DATE_TRUNC('second', {col})",
    "PT1M": "DATE_TRUNC('minute', {col})",
    "PT1H": "DATE_TRUNC('hour', {col})",
    "P1D": "DATE_TRUNC('day', {col})",
    "P1W": "DATE_TRUNC('week', {col})",
    "P1M": "DATE_TRUNC('month', {col})",
    "P3M": "DATE_TRUNC('quarter', {col})",
    "P1Y": "DATE_TRUNC('year', {col})",
}

#: An integer column of seconds since 1970-01-01 UTC as a timestamp (Superset's "epoch_s" format).
EPOCH_SECONDS_TO_DATETIME = "DATEADD(SECOND, {col}, '1970-01-01')"

# cursor.description's type codes are Edm type names ("Edm.DateTimeOffset"); BI tools recognise
# columns by SQL type names ("DATETIME...", "VARCHAR"), so they are translated for them.
_NATIVE_TYPE_NAMES = {
    "edm.string": "VARCHAR",
    "edm.guid": "UNIQUEIDENTIFIER",
    "edm.boolean": "BOOLEAN",
    "edm.byte": "SMALLINT",
    "edm.sbyte": "SMALLINT",
    "edm.int16": "SMALLINT",
    "edm.int32": "INTEGER",
    "edm.int64": "BIGINT",
    "edm.decimal": "DECIMAL",
    "edm.double": "DOUBLE",
    "edm.single": "FLOAT",
    "edm.datetimeoffset": "DATETIMEOFFSET",
    "edm.date": "DATE",
    "edm.timeofday": "TIME",
    "edm.binary": "VARBINARY",
    "edm.duration": "VARCHAR",  # ISO 8601 durations ("P1DT2H") are text
}


def native_type_name(type_code: object) -> str | None:
    """The SQL type name for a ``cursor.description`` type code (``None`` when there is none).

    Unknown Edm types (an enum or a complex type of a plain OData service) are text to the driver.
    """
    if not isinstance(type_code, str) or not type_code:
        return None
    name = _NATIVE_TYPE_NAMES.get(type_code.casefold())
    if name is not None:
        return name
    return "VARCHAR" if type_code.casefold().startswith("edm.") else type_code.upper()


__all__ = ["EPOCH_SECONDS_TO_DATETIME", "TIME_GRAINS", "native_type_name"]
