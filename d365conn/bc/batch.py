"""Business Central's JSON ``$batch``: writing the request body, reading the answer. No I/O.

Owns: :func:`batch_request` and :func:`parse_batch_answer`. Business Central takes OData's JSON
batch format (facts sheet section 2), not Dataverse's multipart one::

    POST <surface root>$batch              Content-Type: application/json
    Isolation: snapshot                    (all or nothing: one transaction for the whole batch)
    {"requests": [{"id": "1", "method": "PATCH", "url": "<absolute url>",
                   "headers": {"Content-Type": "application/json", "If-Match": "W/\\"...\\""},
                   "body": {...}}, ...]}

and answers ``{"responses": [{"id", "status", "headers", "body"}]}`` (the real shape is in
``shared/fixtures/business-central/batch.json``). At most 100 requests go in one batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from d365conn.exceptions import ProgrammingError

#: Business Central's limit on operations per ``$batch``.
MAX_OPERATIONS = 100


@dataclass(frozen=True)
class BatchItem:
    """One request inside a JSON batch. ``body`` is the JSON value (None: no body)."""

    id: str
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class BatchReply:
    """One answer inside a JSON batch: header names lower-case, the body re-encoded as bytes (so the
    transport's error mapping reads it as it reads any response body)."""

    id: str
    status: int
    headers: dict[str, str]
    body: bytes
    document: Any = None


class BatchAnswerError(ValueError):
    """The batch answer is not the JSON document Business Central sends."""


def batch_request(
    items: Sequence[BatchItem], *, atomic: bool, continue_on_error: bool = False
) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and JSON body for one ``$batch``. ``atomic``: ``Isolation: snapshot``."""
    if not items:
        raise ProgrammingError("a $batch needs at least one request")
    if len(items) > MAX_OPERATIONS:
        raise ProgrammingError(
            f"a Business Central $batch holds at most {MAX_OPERATIONS} requests, not {len(items)}"
        )
    requests = []
    for item in items:
        entry: dict[str, Any] = {"id": item.id, "method": item.method, "url": item.url}
        headers = dict(item.headers)
        if item.body is not None:
            headers.setdefault("Content-Type", "application/json")
            entry["body"] = item.body
        if headers:
            entry["headers"] = headers
        requests.append(entry)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if atomic:
        headers["Isolation"] = "snapshot"
    elif continue_on_error:
        headers["Prefer"] = "odata.continue-on-error"
    return headers, {"requests": requests}


def parse_batch_answer(document: Any) -> list[BatchReply]:
    """The replies of a ``$batch`` answer, in the order the service sent them."""
    responses = document.get("responses") if isinstance(document, dict) else None
    if not isinstance(responses, list):
        raise BatchAnswerError("the $batch answer holds no 'responses' array")
    replies = []
    for entry in responses:
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), int):
            raise BatchAnswerError("a $batch response has no numeric 'status'")
        headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        body = entry.get("body")
        raw = (
            b""
            if body is None
            else (body.encode("utf-8") if isinstance(body, str) else json.dumps(body, default=str).encode())
        )
        replies.append(BatchReply(str(entry.get("id", "")), int(entry["status"]), headers, raw, body))
    return replies


__all__ = [
    "MAX_OPERATIONS",
    "BatchAnswerError",
    "BatchItem",
    "BatchReply",
    "batch_request",
    "parse_batch_answer",
]
