"""The client side of OData multipart ``$batch``: writing a request body, reading the response.

Owns: :func:`write_batch` (a ``multipart/mixed`` body of ``application/http`` parts; a list of
requests becomes one change set -- a nested ``multipart/mixed`` whose parts the service applies
atomically -- each part carrying a ``Content-ID``) and :func:`parse_batch_response` (the parts of
the answer, flattened, each with its status, headers, body, Content-ID and whether it came from a
change set). Written from the OData 4.0 specification (11.7 Batch Requests) and the Dataverse
examples; it shares no code with the sandbox's server side.

Shape of a request (CRLF line ends)::

    --batch_<id>
    Content-Type: multipart/mixed; boundary=changeset_<id>

    --changeset_<id>
    Content-Type: application/http
    Content-Transfer-Encoding: binary
    Content-ID: 1

    POST https://org.crm.dynamics.com/api/data/v9.2/accounts HTTP/1.1
    Content-Type: application/json; charset=utf-8

    {"name":"A"}
    --changeset_<id>--
    --batch_<id>--

A change set that fails is answered with the failing part's response alone (not a nested
multipart): the whole set was rolled back.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Dataverse accepts at most this many requests in one ``$batch`` (change set parts included).
MAX_BATCH_REQUESTS = 1000

_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";,\s]+)"?', re.IGNORECASE)
_STATUS = re.compile(r"^HTTP/\d(?:\.\d)?\s+(\d{3})\s*(.*)$")


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a batch. ``url`` is absolute (or relative to the service root)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_id: str | None = None


@dataclass
class BatchResponse:
    """One response part of a batch answer. Header names are lower-case."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None
    in_change_set: bool = False


class BatchFormatError(ValueError):
    """The batch answer is not the multipart document it claims to be."""


def _part(request: BatchRequest) -> bytes:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if request.content_id is not None:
        lines.append(f"Content-ID: {request.content_id}")
    lines += ["", f"{request.method.upper()} {request.url} HTTP/1.1"]
    headers = dict(request.headers)
    if request.body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json; charset=utf-8"
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + (request.body or b"")


def write_batch(
    items: Sequence[BatchRequest | Sequence[BatchRequest]], *, boundary: str | None = None
) -> tuple[str, bytes]:
    """``(Content-Type, body)`` of a batch. An item that is a sequence becomes one change set."""
    total = sum(1 if isinstance(i, BatchRequest) else len(i) for i in items)
    if total > MAX_BATCH_REQUESTS:
        raise ValueError(f"a batch holds at most {MAX_BATCH_REQUESTS} requests, got {total}")
    batch = boundary or f"batch_{uuid.uuid4()}"
    chunks: list[bytes] = []
    for item in items:
        chunks.append(f"--{batch}\r\n".encode())
        if isinstance(item, BatchRequest):
            chunks.append(_part(item) + b"\r\n")
            continue
        changeset = f"changeset_{uuid.uuid4()}"
        chunks.append(f"Content-Type: multipart/mixed; boundary={changeset}\r\n\r\n".encode())
        for request in item:
            chunks.append(f"--{changeset}\r\n".encode() + _part(request) + b"\r\n")
        chunks.append(f"--{changeset}--\r\n".encode())
    chunks.append(f"--{batch}--\r\n".encode())
    return f"multipart/mixed; boundary={batch}", b"".join(chunks)


def boundary_of(content_type: str) -> str:
    match = _BOUNDARY.search(content_type or "")
    if match is None or not content_type.lower().lstrip().startswith("multipart/"):
        raise BatchFormatError(f"not a multipart Content-Type: {content_type!r}")
    return match.group(1)


def _split(body: bytes, boundary: str) -> list[bytes]:
    """The parts between the delimiter lines ``--boundary`` (up to the close ``--boundary--``)."""
    delimiter = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary.encode()) + rb"(--)?[ \t]*(?:\r?\n|$)")
    parts: list[bytes] = []
    start: int | None = None
    closed = False
    for match in delimiter.finditer(body):
        if start is not None:
            parts.append(body[start : match.start()])
        if match.group(1):
            closed = True
            break
        start = match.end()
    if start is None:
        raise BatchFormatError("the batch answer holds no part")
    if not closed:
        raise BatchFormatError("the batch answer ends before its closing boundary (cut short?)")
    return parts


def _headers(block: bytes) -> tuple[dict[str, str], bytes]:
    """Header lines (lower-cased names) and what follows the blank line."""
    match = re.search(rb"\r?\n\r?\n", block)
    head, rest = (block[: match.start()], block[match.end() :]) if match else (block, b"")
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _http_response(part: bytes, content_id: str | None, in_change_set: bool) -> BatchResponse:
    outer, http = _headers(part)
    content_id = outer.get("content-id", content_id)
    http = http.lstrip(b"\r\n")
    first, _, rest = http.partition(b"\n")
    status_line = first.decode("utf-8", "replace").strip()
    match = _STATUS.match(status_line)
    if match is None:
        raise BatchFormatError(f"a batch part does not start with an HTTP status line: {status_line[:80]!r}")
    headers: dict[str, str]
    if rest.startswith((b"\r\n", b"\n")):  # no headers: the blank line follows the status line
        headers, body = {}, rest.split(b"\n", 1)[1]
    else:
        headers, body = _headers(rest)
    return BatchResponse(
        int(match.group(1)), match.group(2).strip(), headers, body, content_id, in_change_set
    )


def parse_batch_response(content_type: str, body: bytes) -> list[BatchResponse]:
    """Every response part, in order; change set parts are flattened (``in_change_set=True``)."""
    responses: list[BatchResponse] = []
    for part in _split(body, boundary_of(content_type)):
        headers, inner = _headers(part)
        kind = headers.get("content-type", "")
        if kind.lower().startswith("multipart/mixed"):
            for sub in _split(inner, boundary_of(kind)):
                responses.append(_http_response(sub, None, True))
        else:
            responses.append(_http_response(part, None, False))
    return responses


__all__ = [
    "MAX_BATCH_REQUESTS",
    "BatchFormatError",
    "BatchRequest",
    "BatchResponse",
    "boundary_of",
    "parse_batch_response",
    "write_batch",
]
