"""HTTP failures -> the driver's exception classes.

Owns: reading an error response (Dataverse, Business Central and plain OData v4 bodies) and
choosing the exception class from the service's error code first and the HTTP status second.

Bodies understood::

    {"error": {"code": "0x80040217", "message": "account With Id = ... Does Not Exist"}}   Dataverse
    {"error": {"code": "BadRequest_NotFound", "message": "... CorrelationId: <id>."}}      Business Central
    {"odata.error": {"code": "...", "message": {"lang": "en-US", "value": "..."}}}         OData v3 style
    anything else: the first characters of the text, or the HTTP reason phrase

The request id comes from ``REQ_ID`` / ``x-ms-service-request-id`` (Dataverse), ``request-id``,
``ms-correlation-x``, or the ``CorrelationId`` Business Central writes into its messages.
Nothing here ever sees request headers, so no Authorization value can leak into a message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .. import exceptions as exc

#: Dataverse hex codes (compared case-insensitively) with a precise class.
_DATAVERSE_CODES: dict[str, type[exc.Error]] = {
    "0x80040217": exc.NotFoundError,  # ObjectDoesNotExist
    "0x80040237": exc.DuplicateRecordError,  # DuplicateRecord
    "0x80040333": exc.DuplicateRecordError,  # DuplicateRecordsFound (alternate key)
    "0x80044331": exc.ValidationError,  # a value the service refuses
    "0x80040203": exc.ValidationError,  # InvalidArgument
    "0x8004e023": exc.QueryLimitError,  # AggregateQueryRecordLimit exceeded (50,000 rows)
    "0x80060888": exc.NotSupportedError,  # query shape not supported
    "0x80072322": exc.ThrottledError,  # service protection: number of requests
    "0x80072321": exc.ThrottledError,  # service protection: execution time
    "0x80072326": exc.ThrottledError,  # service protection: concurrent requests
    "0x80060882": exc.ConcurrencyError,  # ConcurrencyVersionMismatch
    "0x80048d19": exc.ValidationError,  # "Error identified in Payload provided by the user" (HTTP 400)
    "0x80040220": exc.PermissionDeniedError,  # SecLib::AccessCheckEx failed
}

#: Business Central word codes with a precise class (checked before the prefix rules below).
_BC_CODES: dict[str, type[exc.Error]] = {
    "badrequest_notfound": exc.NotFoundError,
    "badrequest_resourcenotfound": exc.NotFoundError,
    "internal_recordnotfound": exc.NotFoundError,
    "request_entitychanged": exc.ConcurrencyError,
    "internal_entitywithsamekeyexists": exc.DuplicateRecordError,
    "badrequest_methodnotallowed": exc.NotSupportedError,
    "application_dialogexception": exc.ValidationError,
    "application_fieldvalidationexception": exc.ValidationError,
    "application_toomanyrequests": exc.ThrottledError,  # HTTP 429: the request limit, not the data
}

#: Business Central's code families (documented categories), for the codes not listed above.
_BC_PREFIXES: tuple[tuple[str, type[exc.Error]], ...] = (
    ("badrequest_", exc.ProgrammingError),
    ("authentication_", exc.AuthenticationError),
    ("authorization_", exc.PermissionDeniedError),
    ("application_", exc.ValidationError),
    ("internal_", exc.InternalError),
)

_BY_STATUS: dict[int, type[exc.Error]] = {
    400: exc.ProgrammingError,
    401: exc.AuthenticationError,
    403: exc.PermissionDeniedError,
    404: exc.NotFoundError,
    405: exc.NotSupportedError,
    408: exc.StatementTimeoutError,  # Business Central's 8-minute operation timeout
    409: exc.IntegrityError,
    412: exc.ConcurrencyError,
    413: exc.ProgrammingError,  # request too large: a smaller batch or shorter URL is needed
    414: exc.ProgrammingError,
    429: exc.ThrottledError,
    500: exc.InternalError,
    501: exc.NotSupportedError,
    502: exc.ServiceUnavailableError,
    503: exc.ServiceUnavailableError,
    504: exc.ServiceUnavailableError,
}

_REQUEST_ID_HEADERS = (
    "REQ_ID",
    "x-ms-service-request-id",
    "request-id",
    "x-ms-request-id",
    "ms-correlation-x",
)
_CORRELATION = re.compile(r"CorrelationId:\s*([0-9a-fA-F-]{8,})")
_MAX_TEXT = 500


def request_id(headers: Mapping[str, str], message: str = "") -> str | None:
    """The id the service gave the request, for support tickets."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value.split(",")[0].strip()
    match = _CORRELATION.search(message)
    return match.group(1) if match else None


def parse_error_body(body: bytes | str) -> tuple[str | None, str]:
    """``(code, message)`` from an error body; code None when the body has none."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.lstrip("\ufeff")
    try:
        document: Any = json.loads(text)
    except ValueError:
        return None, _shorten(text.strip())
    if isinstance(document, dict):
        error = document.get("error", document.get("odata.error"))
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("message")
            if isinstance(message, dict):  # OData v3: {"lang": ..., "value": ...}
                message = message.get("value")
            return (str(code) if code not in (None, "") else None), _shorten(str(message or ""))
        if isinstance(error, str):  # OAuth-style {"error": "invalid_token", "error_description": ...}
            return error, _shorten(str(document.get("error_description") or ""))
    return None, _shorten(text.strip())


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def error_class(status: int, code: str | None) -> type[exc.Error]:
    """The exception class for an HTTP status and service error code."""
    if code:
        folded = code.strip().casefold()
        if folded in _DATAVERSE_CODES:
            return _DATAVERSE_CODES[folded]
        if folded in _BC_CODES:
            return _BC_CODES[folded]
        for prefix, cls in _BC_PREFIXES:
            if folded.startswith(prefix):
                return cls
    if status == 412 and code and "duplicate" in code.casefold():
        return exc.DuplicateRecordError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 400 <= status < 500:
        return exc.ProgrammingError
    if status >= 500:
        return exc.InternalError
    return exc.OperationalError


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    url: str,
    reason: str = "",
    retry_after: float | None = None,
) -> exc.Error:
    """The exception for a failed response; its text names what failed and what the service said."""
    code, message = parse_error_body(body)
    cls = error_class(status, code)
    rid = request_id(headers, message)
    what = f"{method} {_path(url)} failed"
    text = f"{what}: {message}" if message else f"{what}: {reason or 'HTTP error'}"
    if cls is exc.ThrottledError:
        return exc.ThrottledError(text, retry_after=retry_after, status=status, code=code, request_id=rid)
    if cls is exc.AuthenticationError:
        challenge = headers.get("WWW-Authenticate", "")
        hint = "the service refused the access token even after renewing it; check the identity's access"
        if "authorization_uri" in challenge:
            hint += f" ({challenge.split(',')[0].strip()})"
        return exc.AuthenticationError(text, hint=hint, status=status, code=code, request_id=rid)
    return cls(text, status=status, code=code, request_id=rid)


def _path(url: str) -> str:
    """The URL without its query: queries can be long, and the path says enough in a message."""
    return url.split("?", 1)[0]


__all__ = ["error_class", "error_from_response", "parse_error_body", "request_id"]
