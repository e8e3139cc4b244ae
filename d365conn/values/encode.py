"""Python values -> JSON request bodies, exactly.

Owns: :func:`encode_json`, the inverse of the page decoders for writes: ``Decimal`` as an exact
JSON number (never via float), ``UUID`` as its text, aware datetimes as UTC ``...Z``, dates and
times in ISO 8601, bytes as base64 -- the forms Dataverse and Business Central accept.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from ..exceptions import DataError


def encode_json(value: Any) -> bytes:
    """JSON for a request body: Decimal as an exact number, UUID/date/datetime as OData text,
    bytes as base64."""
    placeholders: dict[str, str] = {}
    # Decimals go through json as unique placeholder strings, then their exact text replaces them;
    # the random nonce makes a clash with a real string value impossible in practice.
    nonce = uuid.uuid4().hex

    def default(obj: Any) -> Any:
        if isinstance(obj, Decimal):
            if not obj.is_finite():
                raise DataError(f"cannot send the decimal {obj}: only finite numbers exist in OData")
            token = f"\u0000{nonce}{len(placeholders)}\u0000"
            placeholders[token] = str(obj)  # always a valid JSON number for a finite Decimal
            return token
        if isinstance(obj, uuid.UUID):
            return str(obj)
        if isinstance(obj, dt.datetime):
            if obj.tzinfo is None:
                obj = obj.replace(tzinfo=dt.timezone.utc)
            return obj.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        if isinstance(obj, (dt.date, dt.time)):
            return obj.isoformat()
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(obj)).decode("ascii")
        raise DataError(f"cannot send a value of type {type(obj).__name__} to the service")

    text = json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":"))
    for token, number in placeholders.items():
        text = text.replace(json.dumps(token), number)
    return text.encode("utf-8")


__all__ = ["encode_json"]
