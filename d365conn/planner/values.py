"""Literal values: from SQL trees and Python parameters to typed values, and from typed values to text.

Owns: reading a literal out of a sqlglot node (:func:`literal_of`), turning a Python parameter into
a typed sqlglot literal (:func:`to_sql_node`), and writing a value as an OData literal for a
column of a given Edm type (:func:`odata_literal`), as an element of a Dataverse query function's
JSON value list (:func:`json_element`) or as a DuckDB SQL literal (:func:`sql_literal`).

Values never become OData text by pasting: every value is checked against the Edm type of the
column it meets (a GUID must parse as a GUID, a number must be a number), strings have their quotes
doubled, and URL encoding happens later, once, in ``ODataQuery.url()``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlglot import exp

from d365conn.exceptions import ProgrammingError


@dataclass(frozen=True)
class Slot:
    """A statement parameter left open in a cached plan template (``?`` by position, ``:name``)."""

    key: int | str


class NotLiteral(Exception):
    """The node is not a constant the planner can read (internal signal, never escapes)."""


class Unpushable(Exception):
    """The value cannot be written for that column type (internal: the predicate stays local)."""


_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
_INT_TYPES = frozenset({"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"})
_NUM_TYPES = frozenset({"Edm.Decimal", "Edm.Double", "Edm.Single"})
_DATE_CASTS = frozenset({exp.DataType.Type.DATE})
_TS_CASTS = frozenset(
    {
        exp.DataType.Type.DATETIME,
        exp.DataType.Type.DATETIME2,
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.SMALLDATETIME,
        exp.DataType.Type.TIMESTAMPNTZ,
    }
)
_TSTZ_CASTS = frozenset({exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ})


def literal_of(node: exp.Expr) -> object:
    """The constant a node denotes (str, int, Decimal, float, bool, None, date, datetime, UUID, Slot).

    Raises :class:`NotLiteral` for anything that is not a constant.
    """
    if isinstance(node, exp.Literal):
        text = node.this
        if node.is_string:
            return str(text)
        return _number(str(text))
    if isinstance(node, exp.National):
        return str(node.this)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Placeholder):
        name = str(node.this or "")
        if not name:
            raise NotLiteral  # positional markers are numbered (#0, #1...) before planning
        return Slot(int(name[1:]) if name.startswith("#") else name)
    if isinstance(node, exp.Paren):
        return literal_of(node.this)
    if isinstance(node, exp.Neg):
        inner = literal_of(node.this)
        if isinstance(inner, (int, float, Decimal)) and not isinstance(inner, bool):
            return -inner
        raise NotLiteral
    if isinstance(node, exp.Convert) and _iso_convert(node):
        # CONVERT(DATETIME, '2020-01-01T00:00:00', 126): how Superset writes its time-range bounds.
        return literal_of(exp.Cast(this=node.expression, to=node.this))
    if isinstance(node, exp.Cast) and isinstance(node.this, (exp.Literal, exp.National)):
        raw = str(node.this.this)
        kind = node.to.this
        if kind in _DATE_CASTS:
            return _parse_date(raw)
        if kind in _TS_CASTS or kind in _TSTZ_CASTS:
            return _parse_datetime(raw)
        if kind == exp.DataType.Type.UUID:
            return _parse_guid(raw, "CAST")
        raise NotLiteral
    raise NotLiteral


#: CONVERT styles of ISO-like text (yyyy-mm-dd[ T]hh:mi:ss[.mmm]), read as a CAST reads them.
_ISO_STYLES = frozenset({"20", "21", "23", "120", "121", "126", "127"})


def _iso_convert(node: exp.Convert) -> bool:
    style = node.args.get("style")
    return (
        isinstance(node.this, exp.DataType)
        and isinstance(node.expression, (exp.Literal, exp.National))
        and (style is None or (isinstance(style, exp.Literal) and str(style.this) in _ISO_STYLES))
    )


def _number(text: str) -> int | Decimal | float:
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    if "e" in text.lower():
        return float(text)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise NotLiteral from None


def _parse_date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise ProgrammingError(f"'{raw}' is not a valid date") from None


def _parse_datetime(raw: str) -> dt.datetime:
    text = raw.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ProgrammingError(f"'{raw}' is not a valid date and time") from None


def _parse_guid(raw: str, column: str) -> uuid.UUID:
    match = _GUID.match(raw.strip())
    if match is None:
        raise ProgrammingError(f"'{raw}' is not a valid GUID (compared with {column})")
    return uuid.UUID(match.group(1))


def to_sql_node(value: object) -> exp.Expr:
    """A Python parameter as a typed sqlglot literal (never as SQL text)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value) if value >= 0 else exp.Neg(this=exp.Literal.number(-value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProgrammingError(f"parameter value {value!r} has no SQL literal")
        text = repr(abs(value))
        node: exp.Expr = exp.Literal.number(text)
        return exp.Neg(this=node) if value < 0 else node
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ProgrammingError(f"parameter value {value!r} has no SQL literal")
        node = exp.Literal.number(format(abs(value), "f"))
        return exp.Neg(this=node) if value < 0 else node
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, uuid.UUID):
        return exp.Cast(this=exp.Literal.string(str(value)), to=exp.DataType.build("UUID"))
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build(kind))
    if isinstance(value, dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    raise ProgrammingError(f"parameters of type {type(value).__name__} are not supported")


def _utc(value: dt.datetime) -> dt.datetime:
    # Naive datetimes are read as UTC: the service stores and returns DateTimeOffset in UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _iso_utc(value: dt.datetime) -> str:
    moment = _utc(value)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return moment.strftime(fmt)


def _as_number(value: object) -> int | Decimal | float:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        raise Unpushable
    if isinstance(value, float) and not math.isfinite(value):
        raise Unpushable
    return value


def value_text(value: object, edm_type: str, column: str = "") -> str:
    """The value as the service spells it, without quotes (shared by OData and JSON forms)."""
    if edm_type == "Edm.String":
        if not isinstance(value, str):
            raise Unpushable
        return value
    if edm_type == "Edm.Guid":
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, str):
            return str(_parse_guid(value, column or "a GUID column"))
        raise Unpushable
    if edm_type in _INT_TYPES:
        number = _as_number(value)
        if isinstance(number, int):
            return str(number)
        if number == int(number):
            return str(int(number))
        raise Unpushable
    if edm_type in _NUM_TYPES:
        number = _as_number(value)
        if isinstance(number, float):
            return repr(number) if edm_type != "Edm.Decimal" else format(Decimal(repr(number)), "f")
        return format(number, "f") if isinstance(number, Decimal) else str(number)
    if edm_type == "Edm.Boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int) and value in (0, 1):
            return "true" if value else "false"
        raise Unpushable
    if edm_type == "Edm.DateTimeOffset":
        if isinstance(value, dt.datetime):
            return _iso_utc(value)
        if isinstance(value, dt.date):
            return _iso_utc(dt.datetime(value.year, value.month, value.day))
        if isinstance(value, str):
            return _iso_utc(_parse_datetime(value))
        raise Unpushable
    if edm_type == "Edm.Date":
        if isinstance(value, dt.datetime):
            if value.time() != dt.time(0):
                raise Unpushable
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            return _parse_date(value).isoformat()
        raise Unpushable
    raise Unpushable


def odata_literal(value: object, edm_type: str, column: str = "") -> str:
    """``value`` as an OData literal for a column of ``edm_type``; raises :class:`Unpushable`."""
    if value is None:
        return "null"
    text = value_text(value, edm_type, column)
    if edm_type == "Edm.String":
        return "'" + text.replace("'", "''") + "'"
    return text


def json_element(value: object, edm_type: str, column: str = "") -> str:
    """One element of a Dataverse query function's ``PropertyValues`` list: a JSON string."""
    if value is None:
        raise Unpushable
    return json.dumps(value_text(value, edm_type, column), ensure_ascii=False)


def sql_literal(value: object) -> str:
    """``value`` as a DuckDB SQL literal (for local SQL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProgrammingError(f"parameter value {value!r} has no SQL literal")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, uuid.UUID):
        return f"'{value}'"
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return f"CAST('{value.isoformat()}' AS {kind})"
    if isinstance(value, dt.date):
        return f"CAST('{value.isoformat()}' AS DATE)"
    raise ProgrammingError(f"parameters of type {type(value).__name__} are not supported")


def accepts(value: object, edm_type: str) -> bool:
    """Whether a parameter value can fill an OData slot typed ``edm_type`` in a cached template."""
    if value is None:
        return False  # `= NULL` is never true in SQL but `eq null` is in OData: re-plan instead
    try:
        value_text(value, edm_type)
    except (Unpushable, ProgrammingError):
        return False
    return True
