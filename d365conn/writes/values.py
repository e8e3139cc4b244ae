"""SQL values -> the JSON a write sends, one column at a time, exactly.

Owns: :func:`json_value`, the conversion of one Python value (a bound parameter or a literal read
from the statement) into the JSON value the service expects for a catalog column, and the checks
that happen before any request: types, lengths, choice values and labels, GUID syntax.

Exactness rules (why each is what it is):

- Money and decimals stay :class:`~decimal.Decimal` all the way to the wire (``encode_json`` writes
  them as exact JSON numbers). A float parameter is taken at its shortest ``repr`` -- ``0.1`` means
  ``0.1``, not ``0.1000000000000000055...`` -- and digits beyond the column's scale are refused, not
  rounded, so a value never changes silently.
- ``Edm.Date`` takes a date (or a midnight datetime / ISO text) and sends ``YYYY-MM-DD``.
- ``Edm.DateTimeOffset`` takes an aware datetime (sent in UTC) or a naive one, read as UTC as the
  service stores it; a bare date means midnight UTC.
- GUIDs are validated and sent in the canonical lower-case form.
- Choices take the integer or the label (case-insensitive), checked against the option set;
  multi-select choices take ``"1,2"``, a list of integers/labels, or ``"a; b"`` labels.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ..catalog.model import Column, Option, Table
from ..exceptions import DataError

_GUID = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
_INT_RANGES = {
    "Edm.Byte": (0, 255),
    "Edm.SByte": (-128, 127),
    "Edm.Int16": (-(2**15), 2**15 - 1),
    "Edm.Int32": (-(2**31), 2**31 - 1),
    "Edm.Int64": (-(2**63), 2**63 - 1),
}


def _bad(table: Table, col: Column, value: object, expected: str) -> DataError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return DataError(f"{table.name}.{col.name}: {shown} is not {expected}")


def guid_of(value: object, what: str) -> uuid.UUID:
    """A GUID from a UUID or its text (braces allowed); DataError otherwise."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        match = _GUID.match(value.strip())
        if match:
            return uuid.UUID(match.group(1))
    raise DataError(f"{what}: {value!r} is not a GUID")


def decimal_of(value: object) -> Decimal | None:
    """An exact Decimal for a number (floats by their shortest repr); None if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _integer(table: Table, col: Column, value: object) -> int:
    number = decimal_of(value)
    if number is None or number != number.to_integral_value():
        raise _bad(table, col, value, "a whole number")
    low, high = _INT_RANGES.get(col.edm_type, _INT_RANGES["Edm.Int64"])
    result = int(number)
    if not low <= result <= high:
        raise _bad(table, col, value, f"within {col.edm_type}'s range {low}..{high}")
    return result


def _decimal(table: Table, col: Column, value: object) -> Decimal:
    number = decimal_of(value)
    if number is None:
        raise _bad(table, col, value, "a number")
    exponent = number.as_tuple().exponent
    if col.scale is not None and isinstance(exponent, int) and -exponent > col.scale:
        trimmed = number.normalize()
        trimmed_exp = trimmed.as_tuple().exponent
        if isinstance(trimmed_exp, int) and -trimmed_exp > col.scale:
            raise _bad(
                table, col, value, f"a number with at most {col.scale} decimal places (it is not rounded)"
            )
        number = trimmed
    return number


def _datetime(table: Table, col: Column, value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _bad(table, col, value, "a date and time (ISO 8601)") from None
    else:
        raise _bad(table, col, value, "a date and time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)  # Dataverse stores UTC; naive means UTC
    return moment.astimezone(dt.timezone.utc)


def _date(table: Table, col: Column, value: object) -> str:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise _bad(table, col, value, "a date (it has a time of day)")
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise _bad(table, col, value, "a date (YYYY-MM-DD)") from None
    raise _bad(table, col, value, "a date")


def _option(table: Table, col: Column, options: Sequence[Option], value: object) -> int:
    """A choice's integer from its integer or its label."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        folded = value.strip().casefold()
        matches = [o.value for o in options if o.label.casefold() == folded]
        if len(matches) == 1:
            return matches[0]
        labels = ", ".join(repr(o.label) for o in options[:12]) + (", ..." if len(options) > 12 else "")
        if matches:
            raise _bad(
                table, col, value, f"an unambiguous label (several options are labelled so: {matches})"
            )
        raise _bad(table, col, value, f"a value or label of the choice (labels: {labels})")
    number = _integer(table, col, value)
    if options and number not in {o.value for o in options}:
        accepted = ", ".join(f"{o.value} ({o.label})" for o in options[:12])
        raise _bad(table, col, value, f"one of the choice's values: {accepted}")
    return number


def _multichoice(table: Table, col: Column, value: object) -> str:
    if isinstance(value, str):
        separator = ";" if ";" in value else ","
        items: list[object] = [v.strip() for v in value.split(separator) if v.strip()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        items = [value]
    numbers = [_option(table, col, col.options, item) for item in items]
    return ",".join(str(n) for n in numbers)


def json_value(table: Table, col: Column, value: object) -> Any:
    """The JSON value for ``col`` (lookups are handled by the caller: they become ``@odata.bind``)."""
    if value is None:
        return None
    edm = col.edm_type
    if col.role == "multichoice":
        return _multichoice(table, col, value)
    if col.role == "choice" or col.enum_type is not None:
        number = _option(table, col, col.options, value)
        if col.enum_type is not None:
            names = {o.value: o.label for o in col.options}
            return names.get(number, str(number))
        return number
    if edm == "Edm.String":
        if not isinstance(value, str):
            if isinstance(value, (int, Decimal, uuid.UUID)) and not isinstance(value, bool):
                value = str(value)
            else:
                raise _bad(table, col, value, "text")
        if col.max_length and len(value) > col.max_length:
            raise DataError(
                f"{table.name}.{col.name}: the value has {len(value)} characters; the column holds at most "
                f"{col.max_length} (nothing was sent)"
            )
        return value
    if edm == "Edm.Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise _bad(table, col, value, "true/false (or 1/0)")
    if edm in _INT_RANGES:
        return _integer(table, col, value)
    if edm == "Edm.Decimal":
        return _decimal(table, col, value)
    if edm in ("Edm.Double", "Edm.Single"):
        double = decimal_of(value)
        if double is None:
            raise _bad(table, col, value, "a number")
        return double  # exact text on the wire; the service parses it as a double
    if edm == "Edm.Guid":
        return str(guid_of(value, f"{table.name}.{col.name}"))
    if edm == "Edm.DateTimeOffset":
        return _datetime(table, col, value).isoformat().replace("+00:00", "Z")
    if edm == "Edm.Date":
        return _date(table, col, value)
    if edm == "Edm.TimeOfDay":
        if isinstance(value, dt.time):
            return value.isoformat()
        if isinstance(value, str):
            return value
        raise _bad(table, col, value, "a time of day")
    if edm == "Edm.Binary":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(value)).decode("ascii")
        raise _bad(table, col, value, "bytes")
    return value


__all__ = ["decimal_of", "guid_of", "json_value"]
