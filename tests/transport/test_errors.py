"""Error responses -> exception classes: each service's real body shapes, over a real socket."""

from __future__ import annotations

from typing import Any

import pytest

from d365conn import exceptions as exc
from d365conn.transport.errors import error_class, parse_error_body, request_id

from .conftest import FakeService, Reply, make_transport

CORRELATION = "5f1f4b9d-1c4a-4a43-9d56-0a1e6b1e2f3c"


def _dv(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


# status, body, expected class, expected code
CASES: list[tuple[int, Any, type[exc.Error], str | None]] = [
    (400, _dv("0x80060888", "Invalid URI: The Uri string is too long."), exc.NotSupportedError, "0x80060888"),
    (400, _dv("0x8004E023", "AggregateQueryRecordLimit exceeded. Cannot perform this operation."),
     exc.QueryLimitError, "0x8004E023"),
    (400, _dv("0x80044331", "A validation error occurred. The value of 'name' is out of range."),
     exc.ValidationError, "0x80044331"),
    (400, _dv("0x80040203", "Invalid argument."), exc.ValidationError, "0x80040203"),
    (400, _dv("0x0", "Could not find a property named 'nmae' on type 'Microsoft.Dynamics.CRM.account'."),
     exc.ProgrammingError, "0x0"),
    (400, _dv("", "Syntax error at position 9"), exc.ProgrammingError, None),
    (403, _dv("0x80040220", "Principal user is missing prvReadAccount privilege"),
     exc.PermissionDeniedError, "0x80040220"),
    (403, b"", exc.PermissionDeniedError, None),
    (404, _dv("0x80040217", "account With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist"),
     exc.NotFoundError, "0x80040217"),
    (404, _dv("0x8006088a", "Resource not found for the segment 'acounts'."),
     exc.NotFoundError, "0x8006088a"),
    (405, _dv("0x8006088a", "The requested resource does not support http method 'PUT'."),
     exc.NotSupportedError, "0x8006088a"),
    (412, _dv("0x80060882", "The version of the existing record doesn't match the RowVersion property."),
     exc.ConcurrencyError, "0x80060882"),
    (412, _dv("0x80040237", "A record with matching key values already exists."),
     exc.DuplicateRecordError, "0x80040237"),
    (412, _dv("", "Precondition failed"), exc.ConcurrencyError, None),
    (413, b"Request Entity Too Large", exc.ProgrammingError, None),
    (500, _dv("0x80040216", "An unexpected error occurred."), exc.InternalError, "0x80040216"),
    (501, _dv("0x8006088a", "Not implemented"), exc.NotSupportedError, "0x8006088a"),
    # Business Central: word codes, CorrelationId inside the message
    (400, _dv("BadRequest_NotFound", f"Bad Request - Error in query syntax.  CorrelationId:  {CORRELATION}."),
     exc.NotFoundError, "BadRequest_NotFound"),
    (404, _dv("BadRequest_ResourceNotFound", f"No segment 'custmers'. CorrelationId: {CORRELATION}."),
     exc.NotFoundError, "BadRequest_ResourceNotFound"),
    (409, _dv("Request_EntityChanged", f"Another user has changed the record. CorrelationId: {CORRELATION}."),
     exc.ConcurrencyError, "Request_EntityChanged"),
    (412, _dv("Request_EntityChanged", "Could not save the changes because the entity has changed."),
     exc.ConcurrencyError, "Request_EntityChanged"),
    (400, _dv("Internal_EntityWithSameKeyExists", "The record already exists."),
     exc.DuplicateRecordError, "Internal_EntityWithSameKeyExists"),
    (400, _dv("BadRequest_InvalidFilterExpression", "OR across different fields is not supported."),
     exc.ProgrammingError, "BadRequest_InvalidFilterExpression"),
    (400, _dv("Application_DialogException", "Name must have a value in Customer: No.=10000."),
     exc.ValidationError, "Application_DialogException"),
    (401, _dv("Authentication_InvalidCredentials", "The server has rejected the client credentials."),
     exc.AuthenticationError, "Authentication_InvalidCredentials"),
    (403, _dv("Authorization_Forbidden", "You do not have permission."), exc.PermissionDeniedError,
     "Authorization_Forbidden"),
    (408, _dv("Internal_ServerError", "The operation has timed out."),
     exc.InternalError, "Internal_ServerError"),
    (408, b"", exc.StatementTimeoutError, None),
    # plain OData v3-style body
    (400, {"odata.error": {"code": "", "message": {"lang": "en-US", "value": "Bad query"}}},
     exc.ProgrammingError, None),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "expected", "code"), CASES)
def test_error_mapping_over_http(
    service: FakeService, status: int, body: Any, expected: type[exc.Error], code: str | None
) -> None:
    transport = make_transport(service.url, retries=0)
    service.handler = lambda request: Reply(status, body, {"x-ms-service-request-id": "req-123"})
    with pytest.raises(exc.Error) as info:
        transport.get_json(service.url + "accounts?$select=name")
    error = info.value
    assert type(error) is expected
    assert error.status == status
    assert error.code == code
    assert error.request_id == "req-123"
    assert "GET " in str(error) and "/accounts" in str(error) and "$select" not in str(error)


def test_dataverse_and_bc_request_ids() -> None:
    assert request_id({"REQ_ID": "abc, def"}) == "abc"
    assert request_id({}, f"Boom. CorrelationId:  {CORRELATION}.") == CORRELATION
    assert request_id({}, "no id here") is None


def test_parse_error_body_shapes() -> None:
    assert parse_error_body(b'{"error":{"code":"0x80040217","message":"missing"}}') == (
        "0x80040217",
        "missing",
    )
    assert parse_error_body(b'\xef\xbb\xbf{"error":{"code":"","message":"m"}}') == (None, "m")
    assert parse_error_body(b'{"error":"invalid_token","error_description":"expired"}') == (
        "invalid_token",
        "expired",
    )
    assert parse_error_body(b"<html>Bad Gateway</html>") == (None, "<html>Bad Gateway</html>")
    code, message = parse_error_body(b"x" * 5000)
    assert code is None and len(message) == 500


def test_throttle_codes_map_to_throttled() -> None:
    for code in ("0x80072322", "0x80072321", "0x80072326"):
        assert error_class(429, code) is exc.ThrottledError
    assert error_class(418, None) is exc.ProgrammingError
    assert error_class(599, None) is exc.InternalError


def test_401_hint_mentions_the_authority(service: FakeService) -> None:
    transport = make_transport(service.url, retries=0)
    challenge = "Bearer authorization_uri=https://login.microsoftonline.com/t/oauth2/authorize, resource_id=x"
    service.handler = lambda request: Reply(401, b"", {"WWW-Authenticate": challenge})
    with pytest.raises(exc.AuthenticationError) as info:
        transport.get_json(service.url + "accounts")
    assert "authorization_uri=https://login.microsoftonline.com/t/oauth2/authorize" in str(info.value)
