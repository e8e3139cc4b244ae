"""Errors of the Business Central sandbox, in Business Central's body shape and word codes.

Owns: :class:`BCError` (raised anywhere while a request is handled) and its response:
``{"error":{"code":"BadRequest_NotFound","message":"...  CorrelationId:  <guid>."}}`` -- the
message ends with a correlation id as the real service writes it (facts sheet section 2).
"""

from __future__ import annotations

import uuid

from d365conn.sandbox.response import Response, json_response

NOT_FOUND = "BadRequest_NotFound"
BAD_REQUEST = "BadRequest"
METHOD_NOT_ALLOWED = "BadRequest_MethodNotAllowed"
ENTITY_CHANGED = "Request_EntityChanged"
SAME_KEY = "Internal_EntityWithSameKeyExists"
PRECONDITION = "BadRequest_PreconditionRequired"
INVALID_TOKEN = "BadRequest_InvalidToken"
INTERNAL = "Internal_ServerError"


class BCError(Exception):
    """A request the sandbox refuses: HTTP status, Business Central error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, dict[str, str]]:
        correlation = uuid.uuid4()
        return {"error": {"code": self.code, "message": f"{self.message}  CorrelationId:  {correlation}."}}

    def response(self) -> Response:
        return json_response(self.status, self.body())


def bad_request(message: str) -> BCError:
    return BCError(400, BAD_REQUEST, message)


def not_found(message: str) -> BCError:
    return BCError(404, NOT_FOUND, message)


def segment_not_found(segment: str) -> BCError:
    return not_found(f"Resource not found for the segment '{segment}'.")


__all__ = ["BCError", "bad_request", "not_found", "segment_not_found"]
