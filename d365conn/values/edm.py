"""One converter per Edm type: a JSON value (as decoded) -> the Python value a cursor returns.

Owns: the meaning of each OData primitive type on the client side, written once:

======================  ===========================  =========================================
Edm type                JSON value                   Python value
======================  ===========================  =========================================
Edm.Guid                "92dc7147-..."               uuid.UUID
Edm.String              "text"                       str
Edm.Int16/32/64,        42 (Int64 may be "42" under  int, range-checked
Edm.Byte, Edm.SByte     IEEE754Compatible)
Edm.Decimal (money)     12.50 (exact text) or "12.5" decimal.Decimal, never via float
Edm.Double/Single       1.5, or "NaN"/"INF"/"-INF"   float
Edm.Boolean             true/false                   bool
Edm.DateTimeOffset      "2024-06-12T14:13:25Z"       datetime aware, in UTC
Edm.Date                "2024-06-12"                 datetime.date
Edm.TimeOfDay           "14:13:25.5"                 datetime.time
Edm.Duration            "P1DT2H"                     datetime.timedelta
Edm.Binary              base64 or base64url          bytes
anything else           as decoded                   unchanged
======================  ===========================  =========================================

A converter is called only for non-null values and raises :class:`ConversionFailure` (a reason,
never the table or row: the row decoder adds those) when a value does not fit. Decimal exactness
relies on the page decoder handing JSON numbers over as ``Decimal`` (``parse_float=Decimal``), so
``12.50`` never passes through a binary float.

These converters are the reference semantics. The msgspec fast path in :mod:`.jsonpage` must give
identical results or fall back to them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

Converter = Callable[[Any], Any]

UTC = dt.timezone.utc

#: Inclusive integer ranges of the integral Edm types.
INT_RANGES: dict[str, tuple[int, int]] = {
    "Edm.Byte": (0, 255),
    "Edm.SByte": (-128, 127),
    "Edm.Int16": (-(2**15), 2**15 - 1),
    "Edm.Int32": (-(2**31), 2**31 - 1),
    "Edm.Int64": (-(2**63), 2**63 - 1),
}

# Other spellings a catalog may hand over (Dataverse AttributeType names, unqualified Edm names).
_ALIASES = {
    "money": "Edm.Decimal",
    "decimal": "Edm.Decimal",
    "uniqueidentifier": "Edm.Guid",
    "lookup": "Edm.Guid",
    "customer": "Edm.Guid",
    "owner": "Edm.Guid",
    "bigint": "Edm.Int64",
    "integer": "Edm.Int32",
    "picklist": "Edm.Int32",
    "state": "Edm.Int32",
    "status": "Edm.Int32",
    "datetime": "Edm.DateTimeOffset",
    "edm.datetime": "Edm.DateTimeOffset",  # OData v3 name, still seen in old services
    "memo": "Edm.String",
}


class ConversionFailure(ValueError):
    """A value does not fit its column's type; ``reason`` says how (no table/row: added later)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_edm_type(edm_type: str) -> str:
    """``"edm.int32"``, ``"Int32"``, ``"Money"`` -> the canonical ``"Edm.Int32"``/``"Edm.Decimal"``."""
    folded = edm_type.strip().casefold()
    if folded in _ALIASES:
        return _ALIASES[folded]
    name = folded[4:] if folded.startswith("edm.") else folded
    for known in _CONVERTERS:
        if known[4:].casefold() == name:
            return known
    return edm_type


def describe(value: Any) -> str:
    """A short, safe rendering of an offending value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- one function per type ------------------------------------------------------------------------


def to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ConversionFailure(f"expected a string, got {describe(value)}")


def to_bool(value: Any) -> bool:
    if value is True or value is False:
        return bool(value)
    raise ConversionFailure(f"expected true or false, got {describe(value)}")


def _make_int(edm_type: str) -> Converter:
    low, high = INT_RANGES[edm_type]

    def to_int(value: Any) -> int:
        if type(value) is int:
            result = value
        elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            result = int(value)
        elif isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
            # IEEE754Compatible=true sends Int64 as a string.
            result = int(value)
        else:
            raise ConversionFailure(f"expected a whole number for {edm_type}, got {describe(value)}")
        if not low <= result <= high:
            raise ConversionFailure(f"{result} is out of range for {edm_type} ({low}..{high})")
        return result

    to_int.__name__ = f"to_{edm_type[4:].lower()}"
    return to_int


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        if value.is_finite():
            return value
    elif type(value) is int:
        return Decimal(value)
    elif isinstance(value, str):
        # IEEE754Compatible=true sends decimals as strings; parse the text, never a float.
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            pass
        else:
            if result.is_finite():
                return result
    # A float here means the page was decoded without parse_float=Decimal: refuse rather than
    # return an inexact value.
    raise ConversionFailure(f"expected an exact decimal number, got {describe(value)}")


_SPECIAL_FLOATS = {"NaN": float("nan"), "INF": float("inf"), "-INF": float("-inf")}


def to_float(value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    raise ConversionFailure(f"expected a floating-point number, got {describe(value)}")


def to_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, str) and len(value) in (32, 36):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise ConversionFailure(f"expected a GUID, got {describe(value)}")


_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"(Z|z|[+-][0-9]{2}:?[0-9]{2})?"
)
_DATETIME_Z = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def to_datetime(value: Any) -> dt.datetime:
    """ISO 8601 / RFC 3339 text -> aware datetime in UTC.

    Fractions beyond microseconds are rounded half up (what msgspec does, so both paths agree);
    a value without an offset is taken as UTC, as OData's DateTimeOffset always means UTC there.
    """
    if not isinstance(value, str):
        raise ConversionFailure(f"expected a date-time string, got {describe(value)}")
    if len(value) == 20 and _DATETIME_Z.fullmatch(value):
        # The shape Dataverse sends for every date-time: slice it instead of the general parser.
        try:
            return dt.datetime(
                int(value[0:4]), int(value[5:7]), int(value[8:10]),
                int(value[11:13]), int(value[14:16]), int(value[17:19]), tzinfo=UTC,
            )  # fmt: skip
        except ValueError:
            pass  # fall through to the general parser for the precise message
    match = _DATETIME.fullmatch(value.strip())
    if match is None:
        raise ConversionFailure(f"expected an ISO 8601 date-time, got {describe(value)}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro, carry = 0, 0
    if fraction:
        digits = (fraction + "000000")[:7]
        micro = int(digits[:6]) + (1 if digits[6] >= "5" else 0)
        if micro == 1_000_000:
            micro, carry = 0, 1
    try:
        tz = UTC
        if offset and offset not in ("Z", "z"):
            sign = -1 if offset[0] == "-" else 1
            hh, mm = int(offset[1:3]), int(offset[-2:])
            tz = dt.timezone(sign * dt.timedelta(hours=hh, minutes=mm))
        result = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=tz
        )
    except ValueError as exc:
        raise ConversionFailure(f"not a valid date-time: {describe(value)} ({exc})") from None
    try:
        if carry:
            result += dt.timedelta(seconds=carry)
        return result if tz is UTC else result.astimezone(UTC)
    except OverflowError:
        raise ConversionFailure(f"not a valid date-time: {describe(value)} (out of range in UTC)") from None


def to_date(value: Any) -> dt.date:
    if isinstance(value, str) and len(value) == 10 and _DATE.fullmatch(value):
        try:
            return dt.date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
        except ValueError:
            pass
    raise ConversionFailure(f"expected a date YYYY-MM-DD, got {describe(value)}")


_TIME = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?")


def to_time(value: Any) -> dt.time:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ConversionFailure(f"expected a time of day hh:mm:ss, got {describe(value)}")
    hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return dt.time(int(hour), int(minute), int(second or 0), micro)
    except ValueError as exc:
        raise ConversionFailure(f"not a valid time of day: {describe(value)} ({exc})") from None


_DURATION = re.compile(r"(-)?P(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:\.[0-9]+)?)S)?)?")


def to_timedelta(value: Any) -> dt.timedelta:
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None or value.rstrip("-P") == "" or value.endswith("T"):
        raise ConversionFailure(f"expected an ISO 8601 duration like P1DT2H, got {describe(value)}")
    sign, days, hours, minutes, seconds = match.groups()
    delta = dt.timedelta(
        days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
        microseconds=int(Decimal(seconds or 0) * 1_000_000),
    )  # fmt: skip
    return -delta if sign else delta


def to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        # OData JSON specifies base64url; Dataverse sends standard base64. Accept both.
        text = value.replace("-", "+").replace("_", "/")
        text += "=" * (-len(text) % 4)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise ConversionFailure(f"expected base64 binary data, got {describe(value)}")


def identity(value: Any) -> Any:
    return value


_CONVERTERS: dict[str, Converter] = {
    "Edm.String": to_str,
    "Edm.Guid": to_uuid,
    "Edm.Boolean": to_bool,
    "Edm.Decimal": to_decimal,
    "Edm.Double": to_float,
    "Edm.Single": to_float,
    "Edm.DateTimeOffset": to_datetime,
    "Edm.Date": to_date,
    "Edm.TimeOfDay": to_time,
    "Edm.Duration": to_timedelta,
    "Edm.Binary": to_bytes,
    **{name: _make_int(name) for name in INT_RANGES},
}


def converter_for(edm_type: str) -> Converter:
    """The converter for ``edm_type`` (any spelling); unknown types pass values through unchanged."""
    return _CONVERTERS.get(normalize_edm_type(edm_type), identity)


__all__ = [
    "INT_RANGES",
    "UTC",
    "ConversionFailure",
    "Converter",
    "converter_for",
    "describe",
    "normalize_edm_type",
]
