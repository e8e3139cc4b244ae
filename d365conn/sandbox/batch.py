"""Multipart `$batch` as the Dataverse Web API implements it.

Owns: parsing a `multipart/mixed` batch body (operations and nested change sets of
`application/http` parts), executing the parts in order through the Web API, change sets as
atomic units (one database transaction; any failure rolls the whole set back and answers with
the failing response alone), `Content-ID` references (`$1`) to rows created earlier in the same
change set, stopping at the first failure unless `Prefer: odata.continue-on-error`, the limit of
1,000 requests per batch, and writing the multipart response.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from d365conn.sandbox.errors import BATCH_LIMIT, ServiceError
from d365conn.sandbox.response import Response

if TYPE_CHECKING:
    from d365conn.sandbox.webapi import WebApi

MAX_REQUESTS = 1000


@dataclass
class Part:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    parts: list[Part] = field(default_factory=list)


class _Rollback(Exception):
    def __init__(self, response: Response, content_id: str | None) -> None:
        super().__init__("change set failed")
        self.response = response
        self.content_id = content_id


def _boundary(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if match is None:
        raise ServiceError(
            400, "0x80060888", "The batch request must have a multipart/mixed Content-Type with a boundary."
        )
    return match.group(1)


def _split(body: bytes, boundary: str) -> list[bytes]:
    delimiter = b"--" + boundary.encode()
    chunks = body.split(delimiter)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(chunk.strip(b"\r\n") if chunk.strip() else b"")
    return [p for p in parts if p]


def _headers_and_body(raw: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers = {}
    for line in head.decode("utf-8").split("\n"):
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return headers, body


def _request(raw: bytes, content_id: str | None) -> Part:
    outer_headers, http = _headers_and_body(raw)
    content_id = outer_headers.get("content-id", content_id)
    text = http.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    lines = head.decode("utf-8").split("\n")
    request_line = lines[0].split(" ")
    if len(request_line) < 2:
        raise ServiceError(400, "0x80060888", "A batch part does not hold a valid HTTP request line.")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
            if name.strip().lower() == "content-id":
                content_id = value.strip()
    return Part(request_line[0].upper(), request_line[1], headers, body.strip(b"\n"), content_id)


def parse_batch(body: bytes, content_type: str) -> list[Part | ChangeSet]:
    items: list[Part | ChangeSet] = []
    for raw in _split(body, _boundary(content_type)):
        headers, inner = _headers_and_body(raw)
        kind = headers.get("content-type", "")
        if kind.startswith("multipart/mixed"):
            change_set = ChangeSet()
            for sub in _split(inner, _boundary(kind)):
                change_set.parts.append(_request(sub, None))
            items.append(change_set)
        else:
            items.append(_request(raw, headers.get("content-id")))
    return items


def _relative(api: WebApi, url: str, content_ids: dict[str, str]) -> tuple[str, str]:
    """(path relative to the service root, query string) of a part's URL."""
    if url.startswith("$"):
        reference, _, rest = url.partition("/")
        target = content_ids.get(reference)
        if target is None:
            raise ServiceError(400, "0x80060888", f"The Content-ID reference '{reference}' is not defined.")
        url = target + ("/" + rest if rest else "")
    split = urlsplit(url)
    path = split.path
    marker = "/api/data/v9.2/"
    if marker in path:
        path = path.split(marker, 1)[1]
    return path.lstrip("/"), split.query


def _run(api: WebApi, part: Part, content_ids: dict[str, str]) -> Response:
    try:
        path, query = _relative(api, part.url, content_ids)
    except ServiceError as error:
        return error.response()
    response = api.handle(part.method, path, query, part.headers, part.body, content_ids)
    entity_id = response.headers.get("OData-EntityId")
    if part.content_id and entity_id:
        content_ids["$" + part.content_id] = entity_id.split("/api/data/v9.2/", 1)[-1]
    return response


def _http_part(response: Response, content_id: str | None) -> bytes:
    reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    lines += ["", f"HTTP/1.1 {response.status} {reason}"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + response.body + b"\r\n"


def handle_batch(api: WebApi, headers: dict[str, str], body: bytes) -> Response:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    prefer = next((v for k, v in headers.items() if k.lower() == "prefer"), "")
    continue_on_error = "odata.continue-on-error" in prefer.lower()
    items = parse_batch(body, content_type)
    for item in items:
        if isinstance(item, ChangeSet) and any(part.method == "GET" for part in item.parts):
            raise ServiceError(400, "0x80060888", "A GET request cannot be part of a change set.")
    total = sum(len(i.parts) if isinstance(i, ChangeSet) else 1 for i in items)
    if total > MAX_REQUESTS:
        raise ServiceError(
            400,
            BATCH_LIMIT,
            f"Number of requests in a batch ({total}) exceeds the maximum of {MAX_REQUESTS}.",
        )
    boundary = f"batchresponse_{uuid.uuid4()}"
    out: list[bytes] = []
    for item in items:
        failed = False
        if isinstance(item, Part):
            response = _run(api, item, {})
            out.append(f"--{boundary}\r\n".encode() + _http_part(response, item.content_id))
            failed = response.status >= 400
        else:
            content_ids: dict[str, str] = {}
            responses: list[tuple[Response, str | None]] = []
            try:
                with api.store.write():
                    for part in item.parts:
                        response = _run(api, part, content_ids)
                        if response.status >= 400:
                            raise _Rollback(response, part.content_id)
                        responses.append((response, part.content_id))
            except _Rollback as rollback:
                out.append(f"--{boundary}\r\n".encode() + _http_part(rollback.response, rollback.content_id))
                failed = True
            else:
                change_boundary = f"changesetresponse_{uuid.uuid4()}"
                inner = b"".join(
                    f"--{change_boundary}\r\n".encode() + _http_part(r, cid) for r, cid in responses
                )
                inner += f"--{change_boundary}--\r\n".encode()
                out.append(
                    f"--{boundary}\r\nContent-Type: multipart/mixed; "
                    f"boundary={change_boundary}\r\n\r\n".encode()
                    + inner
                )
        if failed and not continue_on_error:
            break
    payload = b"".join(out) + f"--{boundary}--\r\n".encode()
    response_headers = {"Content-Type": f"multipart/mixed; boundary={boundary}", "OData-Version": "4.0"}
    if continue_on_error:
        response_headers["Preference-Applied"] = "odata.continue-on-error"
    return Response(200, response_headers, payload)
