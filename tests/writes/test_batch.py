"""The multipart $batch writer and reader, checked against the shapes of Microsoft's published
examples ("Execute batch operations using the Web API") and an independent MIME parser (stdlib email)."""

from __future__ import annotations

import email
import email.policy

import pytest

from d365conn.writes.batch import (
    BatchFormatError,
    BatchRequest,
    boundary_of,
    parse_batch_response,
    write_batch,
)

ROOT = "https://org.crm.dynamics.com/api/data/v9.2/"
TASK = "a59c24d5-ceaa-ec11-983f-002248223ae9"


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


# The response of the documentation's example: a change set of two creates, then a GET.
DOC_RESPONSE = _crlf(f"""--batchresponse_c1bd45c1-dd81-470d-b897-e965846aad2f
Content-Type: multipart/mixed; boundary=changesetresponse_ff83b4f1-ab48-430c-b81c-926a2c596abc

--changesetresponse_ff83b4f1-ab48-430c-b81c-926a2c596abc
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: {ROOT}tasks({TASK})
OData-EntityId: {ROOT}tasks({TASK})


--changesetresponse_ff83b4f1-ab48-430c-b81c-926a2c596abc
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 204 No Content
OData-Version: 4.0
OData-EntityId: {ROOT}tasks(a69c24d5-ceaa-ec11-983f-002248223ae9)


--changesetresponse_ff83b4f1-ab48-430c-b81c-926a2c596abc--
--batchresponse_c1bd45c1-dd81-470d-b897-e965846aad2f
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal; odata.streaming=true
OData-Version: 4.0

{{
  "@odata.context": "{ROOT}$metadata#tasks(subject)",
  "value": [{{"subject": "Task 1 in batch"}}]
}}
--batchresponse_c1bd45c1-dd81-470d-b897-e965846aad2f--
""")

# A change set that failed: the failing part's response alone, not a nested multipart.
FAILED_CHANGESET = _crlf("""--batchresponse_7f8a2bc8-3a8f-4a2a-a1d8-2a8b0c5f1e33
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
REQ_ID: 5ecd1cb3-1730-4ffc-909c-d44c22270026
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{"error":{"code":"0x80044331","message":"A validation error occurred."}}
--batchresponse_7f8a2bc8-3a8f-4a2a-a1d8-2a8b0c5f1e33--
""")


def test_reads_the_documented_response() -> None:
    parts = parse_batch_response(
        "multipart/mixed; boundary=batchresponse_c1bd45c1-dd81-470d-b897-e965846aad2f", DOC_RESPONSE
    )
    assert [(p.status, p.content_id, p.in_change_set) for p in parts] == [
        (204, "1", True), (204, "2", True), (200, None, False),
    ]  # fmt: skip
    assert parts[0].headers["odata-entityid"] == f"{ROOT}tasks({TASK})"
    assert parts[0].reason == "No Content"
    assert parts[2].body.startswith(b"{") and parts[2].body.rstrip().endswith(b"}")
    assert b'"Task 1 in batch"' in parts[2].body


def test_reads_a_failed_change_set() -> None:
    [part] = parse_batch_response(
        'multipart/mixed; boundary="batchresponse_7f8a2bc8-3a8f-4a2a-a1d8-2a8b0c5f1e33"', FAILED_CHANGESET
    )
    assert (part.status, part.in_change_set, part.content_id) == (400, False, None)
    assert part.headers["req_id"] == "5ecd1cb3-1730-4ffc-909c-d44c22270026"
    assert part.body == b'{"error":{"code":"0x80044331","message":"A validation error occurred."}}'


def test_bare_lf_and_no_headers() -> None:
    body = b"--b\nContent-Type: application/http\n\nHTTP/1.1 204 No Content\n\n\n--b--\n"
    [part] = parse_batch_response("multipart/mixed; boundary=b", body)
    assert (part.status, part.headers, part.body.strip()) == (204, {}, b"")


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/json", b"{}", "not a multipart"),
        (
            "multipart/mixed; boundary=b",
            b"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No",
            "closing",
        ),
        ("multipart/mixed; boundary=b", b"nothing here", "no part"),
        (
            "multipart/mixed; boundary=b",
            b"--b\r\nContent-Type: application/http\r\n\r\ngarbage\r\n--b--",
            "status line",
        ),
    ],
)
def test_malformed_answers(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(BatchFormatError, match=message):
        parse_batch_response(content_type, body)


def _mime(content_type: str, body: bytes) -> email.message.Message:
    return email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )


def test_writes_a_change_set_and_a_single_part() -> None:
    create = [
        BatchRequest("POST", ROOT + "accounts", {}, b'{"name":"A"}', "1"),
        BatchRequest("PATCH", ROOT + "accounts(accountnumber='x')", {"If-Match": "*"}, b'{"name":"B"}', "2"),
    ]
    single = BatchRequest("DELETE", ROOT + f"accounts({TASK})", {"If-Match": 'W/"5"'})
    content_type, body = write_batch([create, single], boundary="batch_AAA")
    assert content_type == "multipart/mixed; boundary=batch_AAA"
    assert boundary_of(content_type) == "batch_AAA"
    assert body.startswith(b"--batch_AAA\r\n") and body.endswith(b"--batch_AAA--\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")  # CRLF line ends only
    outer = _mime(content_type, body)
    changeset, lone = outer.get_payload()
    assert changeset.get_content_type() == "multipart/mixed"
    first, second = changeset.get_payload()
    assert first["Content-ID"] == "1" and first["Content-Type"] == "application/http"
    assert first["Content-Transfer-Encoding"] == "binary"
    http = first.get_payload(decode=False)
    assert http.startswith(
        f"POST {ROOT}accounts HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n\r\n"
    )
    assert http.rstrip("\r\n").endswith('{"name":"A"}')
    assert "If-Match: *" in second.get_payload(decode=False)
    assert lone.get_payload(decode=False).startswith(
        f'DELETE {ROOT}accounts({TASK}) HTTP/1.1\r\nIf-Match: W/"5"'
    )


def test_round_trip_of_what_it_writes() -> None:
    """The reader reads the writer's framing (a response is framed like a request)."""
    content_type, body = write_batch([BatchRequest("GET", ROOT + "accounts", {})], boundary="b1")
    fake = body.replace(f"GET {ROOT}accounts HTTP/1.1".encode(), b"HTTP/1.1 200 OK\r\nX-A: 1")
    [part] = parse_batch_response(content_type, fake)
    assert (part.status, part.headers) == (200, {"x-a": "1"})


def test_batch_limit() -> None:
    with pytest.raises(ValueError, match="at most 1000"):
        write_batch([[BatchRequest("DELETE", f"x({i})") for i in range(1001)]])
