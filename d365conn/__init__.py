"""d365conn: SQL for Microsoft Dynamics 365 -- a PEP 249 (DB-API 2.0) driver.

Owns: the module's public surface -- ``connect()``, the PEP 249 globals, exceptions, type objects
and constructors. Everything here is re-exported from the module that owns it.

``threadsafety = 1``: threads may share the module, not connections. A connection holds one HTTP
session, one plan cache and at most one queued transaction; sharing it between threads would
interleave transactions. Token sources, on the other hand, are shared process-wide per set of
credentials, so many connections in many threads cause one token request, not many.
"""

from __future__ import annotations

from .config import CONNECTION_STRING_ENV, Config, ConnectionOptions, build_config, parse_connection_string
from .connection import Connection, connect
from .cursor import Cursor
from .exceptions import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from .types import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)

__version__ = "0.1.0"

apilevel = "2.0"
threadsafety = 1
#: ``?`` placeholders; ``:name`` placeholders with a mapping are accepted as well.
paramstyle = "qmark"

__all__ = [
    "BINARY",
    "CONNECTION_STRING_ENV",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Config",
    "Connection",
    "ConnectionOptions",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "__version__",
    "apilevel",
    "build_config",
    "connect",
    "paramstyle",
    "parse_connection_string",
    "threadsafety",
]
