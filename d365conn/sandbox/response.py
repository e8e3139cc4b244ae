"""The one response value every sandbox handler returns.

Owns: the shape of an HTTP answer inside the sandbox (status, headers, body) and the helpers
that build the common kinds (JSON, Dataverse-shaped errors). The HTTP server turns it into bytes
on the socket; handlers never touch the socket themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Response:
    """An HTTP response produced by a sandbox handler."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: Set by fault injection: close the connection without answering.
    drop: bool = False
    #: Set by fault injection: send only this many bytes of the body, then close.
    truncate_at: int | None = None


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the OData headers the real service sends."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    merged = {
        "Content-Type": "application/json; odata.metadata=minimal",
        "OData-Version": "4.0",
    }
    if headers:
        merged.update(headers)
    return Response(status, merged, body)


def dataverse_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in the body shape Dataverse uses: {"error": {"code", "message"}}."""
    return json_response(status, {"error": {"code": code, "message": message}}, headers)
