"""PEP 249 type objects and constructors.

Owns: ``STRING``, ``BINARY``, ``NUMBER``, ``DATETIME``, ``ROWID`` (each compares equal to the
type codes d365conn puts in ``cursor.description``), and the constructors ``Date``, ``Time``,
``Timestamp``, ``*FromTicks`` and ``Binary``.

A type code in ``cursor.description`` is the Edm type name of the column (``"Edm.String"``,
``"Edm.Decimal"``...), so it is readable as well as comparable: ``desc[1] == NUMBER``.
"""

from __future__ import annotations

import datetime as _dt
import time as _time


class DBAPITypeObject:
    """A PEP 249 type object: equal to every type code of its group."""

    def __init__(self, name: str, *type_codes: str) -> None:
        self.name = name
        self.type_codes = frozenset(type_codes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return self.type_codes == other.type_codes
        return other in self.type_codes

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.type_codes)

    def __repr__(self) -> str:
        return f"<DBAPITypeObject {self.name}>"


STRING = DBAPITypeObject("STRING", "Edm.String")
BINARY = DBAPITypeObject("BINARY", "Edm.Binary")
NUMBER = DBAPITypeObject(
    "NUMBER",
    "Edm.Byte",
    "Edm.SByte",
    "Edm.Int16",
    "Edm.Int32",
    "Edm.Int64",
    "Edm.Decimal",
    "Edm.Double",
    "Edm.Single",
    "Edm.Boolean",
)
DATETIME = DBAPITypeObject(
    "DATETIME", "Edm.DateTimeOffset", "Edm.Date", "Edm.TimeOfDay", "Edm.DateTime", "Edm.Duration"
)
ROWID = DBAPITypeObject("ROWID", "Edm.Guid")

Date = _dt.date
Time = _dt.time
Timestamp = _dt.datetime


def DateFromTicks(ticks: float) -> _dt.date:
    """The local date of a POSIX timestamp."""
    return Date(*_time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> _dt.time:
    """The local time of day of a POSIX timestamp."""
    return Time(*_time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> _dt.datetime:
    """The local date and time of a POSIX timestamp."""
    return Timestamp(*_time.localtime(ticks)[:6])


def Binary(value: bytes | bytearray | memoryview | str) -> bytes:
    """A binary value; a str is encoded as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "DBAPITypeObject",
    "Date",
    "DateFromTicks",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
]
