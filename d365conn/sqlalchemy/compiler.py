"""The SQL that SQLAlchemy writes for d365conn, and the SQLAlchemy type of each Edm type.

Owns: the statement compiler, the type compiler, the identifier preparer and :func:`sqla_type`.

Which SQL to emit: d365conn reads SQL as T-SQL by default (``SQLDialect=tsql``) and accepts the
ANSI forms as well -- double-quoted identifiers, ``LIMIT n OFFSET m``, ``FETCH FIRST``, ``||``,
``CAST``, ``EXTRACT``, ``true``/``false``. SQLAlchemy's generic ANSI compiler emits exactly that
subset, and that subset reads the same under the ``postgres`` and ``duckdb`` readings, so the
dialect does not change the connection's ``SQLDialect``: text that users pass through the engine
(``pandas.read_sql("SELECT TOP 5 ...", engine)``, ``text()``) is read exactly as the DB-API would
read it. The one change to the generic compiler: ``OFFSET`` without ``LIMIT`` is written without
SQLite's ``LIMIT -1``.

Both SQLAlchemy 2.x and 1.4 are supported, because Apache Superset (up to 6.1 at least) still runs on
1.4. 1.4 has no generic ``Uuid`` or ``Double`` type: there a GUID is :class:`UNIQUEIDENTIFIER` (upper
case, so that 1.4 prints the type by that name) and a double is ``Float(53)``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy
import sqlalchemy.types as sqltypes
from sqlalchemy.sql import compiler

SQLALCHEMY_1 = sqlalchemy.__version__.startswith("1.")

if TYPE_CHECKING:
    _TypeBase = sqltypes.TypeEngine[uuid.UUID]
else:
    _TypeBase = sqltypes.TypeEngine  # not subscriptable on SQLAlchemy 1.4


class UNIQUEIDENTIFIER(_TypeBase):
    """A GUID on SQLAlchemy 1.4, which lacks ``sqltypes.Uuid``: the driver already returns and takes
    :class:`uuid.UUID` values, so no conversion; ``CAST(... AS UNIQUEIDENTIFIER)`` like 2.x's Uuid."""

    __visit_name__ = "uuid"

    def __init__(self, as_uuid: bool = True) -> None:
        self.as_uuid = as_uuid

    @property
    def python_type(self) -> type[uuid.UUID]:
        return uuid.UUID


# Edm type -> SQLAlchemy type class (sizes added by sqla_type).
_TYPES: dict[str, type[sqltypes.TypeEngine[Any]]] = {
    "Edm.String": sqltypes.String,
    "Edm.Guid": UNIQUEIDENTIFIER if SQLALCHEMY_1 else sqltypes.Uuid,
    "Edm.Boolean": sqltypes.Boolean,
    "Edm.Byte": sqltypes.SmallInteger,
    "Edm.SByte": sqltypes.SmallInteger,
    "Edm.Int16": sqltypes.SmallInteger,
    "Edm.Int32": sqltypes.Integer,
    "Edm.Int64": sqltypes.BigInteger,
    "Edm.Decimal": sqltypes.Numeric,
    "Edm.Double": sqltypes.Float if SQLALCHEMY_1 else sqltypes.Double,
    "Edm.Single": sqltypes.Float,
    "Edm.DateTimeOffset": sqltypes.DateTime,
    "Edm.Date": sqltypes.Date,
    "Edm.TimeOfDay": sqltypes.Time,
    "Edm.Binary": sqltypes.LargeBinary,
    "Edm.Duration": sqltypes.String,  # ISO 8601 durations ("P1DT2H") have no portable SQL type
}


def sqla_type(
    edm_type: str, *, max_length: int | None = None, precision: int | None = None, scale: int | None = None
) -> sqltypes.TypeEngine[Any]:
    """The SQLAlchemy type for a column of ``edm_type`` (unknown types read as strings)."""
    cls = _TYPES.get(edm_type, sqltypes.String)
    if cls is sqltypes.String:
        return sqltypes.String(max_length)
    if cls is sqltypes.Numeric:
        return sqltypes.Numeric(precision, scale, asdecimal=True)
    if cls is sqltypes.DateTime:
        return sqltypes.DateTime(timezone=True)  # Dataverse stores UTC; the driver returns aware values
    if cls is UNIQUEIDENTIFIER:
        return UNIQUEIDENTIFIER()
    if not SQLALCHEMY_1 and cls is sqltypes.Uuid:
        return sqltypes.Uuid(as_uuid=True)
    if SQLALCHEMY_1 and edm_type == "Edm.Double":
        return sqltypes.Float(precision=53)
    return cls()


class D365Compiler(compiler.SQLCompiler):
    """SQLAlchemy's ANSI statement compiler, with d365conn's OFFSET form."""

    def limit_clause(self, select: Any, **kw: Any) -> str:
        text = ""
        if select._limit_clause is not None:
            text += "\n LIMIT " + self.process(select._limit_clause, **kw)
        if select._offset_clause is not None:
            text += "\n OFFSET " + self.process(select._offset_clause, **kw)
        return text


class D365TypeCompiler(compiler.GenericTypeCompiler):
    """Type names for CAST: the generic ANSI names, and T-SQL's name for a GUID."""

    def visit_uuid(self, type_: Any, **kw: Any) -> str:
        return "UNIQUEIDENTIFIER"


class D365IdentifierPreparer(compiler.IdentifierPreparer):
    """ANSI double quotes; names are compared case-insensitively by the service anyway."""


__all__ = [
    "SQLALCHEMY_1",
    "UNIQUEIDENTIFIER",
    "D365Compiler",
    "D365IdentifierPreparer",
    "D365TypeCompiler",
    "sqla_type",
]
