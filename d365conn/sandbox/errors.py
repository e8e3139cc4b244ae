"""Errors the sandbox's Web API answers with, in Dataverse's codes.

Owns: `ServiceError` (raised anywhere in request handling, turned into the real error body by
the Web API) and the codes Dataverse uses for each kind of failure.
"""

from __future__ import annotations

from d365conn.sandbox.response import Response, dataverse_error

NOT_FOUND = "0x80040217"
DUPLICATE = "0x80040237"
UNSUPPORTED_QUERY = "0x80060888"
AGGREGATE_LIMIT = "0x8004E023"
VALIDATION = "0x80044331"
PAYLOAD = "0x80048d19"
CONCURRENCY = "0x80060882"
BAD_REQUEST = "0x80040203"
BATCH_LIMIT = "0x80060890"
#: What Dataverse answers when the OData URI parser meets a name the model lacks ("Could not find a
#: property named 'Name' on type 'Microsoft.Dynamics.CRM.account'."): HTTP 400 with code 0x0, not
#: a Dataverse hex code (Microsoft Learn, "Troubleshoot Dataverse Web API client errors").
ODATA_URI_ERROR = "0x0"


class ServiceError(Exception):
    """A request the service refuses: HTTP status, Dataverse error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> Response:
        return dataverse_error(self.status, self.code, self.message)


def unsupported(message: str) -> ServiceError:
    return ServiceError(400, UNSUPPORTED_QUERY, message)


def unknown_property(name: str, table: str) -> ServiceError:
    return unknown_name(name, f"Microsoft.Dynamics.CRM.{table}")


def unknown_name(name: str, type_name: str) -> ServiceError:
    """A property or navigation the URI names but the type lacks (see ODATA_URI_ERROR)."""
    return ServiceError(
        400, ODATA_URI_ERROR, f"Could not find a property named '{name}' on type '{type_name}'."
    )


def not_found(table: str, key: str) -> ServiceError:
    return ServiceError(404, NOT_FOUND, f"{table} With Id = {key} Does Not Exist")
