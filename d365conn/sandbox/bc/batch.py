"""JSON ``$batch`` on the Business Central sandbox.

Owns: answering ``POST <surface>/$batch`` with a body ``{"requests":[{"id","method","url","headers",
"body"}]}`` as Business Central does (facts sheet section 2; the real answer's shape is the fixture
``batch.json``: ``{"responses":[{"id","status","headers","body"}]}`` with lower-case header names):

- at most 100 requests per batch (400 otherwise);
- with ``Isolation: snapshot`` the whole batch is one transaction: the first failing request stops
  it and every change made by earlier requests is undone; its answer lists the requests run, the
  failed one last;
- without it each request stands alone; processing stops at the first failure unless
  ``Prefer: odata.continue-on-error`` is sent.
Request URLs may be relative to the surface root, absolute, or absolute paths.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from d365conn.sandbox.bc.errors import bad_request
from d365conn.sandbox.bc.rows import json_answer
from d365conn.sandbox.response import Response

if TYPE_CHECKING:
    from d365conn.sandbox.bc.service import BCService

MAX_REQUESTS = 100


class _RolledBack(Exception):
    """Raised inside the snapshot to undo a failed transactional batch."""


def _entry(request_id: str, answer: Response) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": request_id,
        "status": answer.status,
        "headers": {k.lower(): v for k, v in answer.headers.items()},
    }
    if answer.body:
        try:
            entry["body"] = json.loads(answer.body)
        except ValueError:
            entry["body"] = answer.body.decode("utf-8", "replace")
    return entry


def _relative(service: BCService, surface: str, url: str) -> tuple[str, str]:
    """(path below the environment prefix, query) of a request URL inside the batch."""
    surface_path = "api/v2.0/" if surface == "api" else "ODataV4/"
    parts = urlsplit(url)
    path = parts.path
    if parts.scheme or path.startswith("/"):
        marker = service.prefix + surface_path
        if not path.startswith(marker):
            raise bad_request(f"The request URL '{url}' is not below this service's root.")
        path = path[len(marker) :]
    return surface_path + path, parts.query


def run_batch(service: BCService, surface: str, headers: dict[str, str], body: bytes) -> Response:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise bad_request("The $batch request body is not valid JSON.") from None
    requests = document.get("requests") if isinstance(document, dict) else None
    if not isinstance(requests, list):
        raise bad_request("The $batch request body must hold a 'requests' array.")
    if len(requests) > MAX_REQUESTS:
        raise bad_request(f"The batch holds {len(requests)} requests; at most {MAX_REQUESTS} are allowed.")
    folded = {k.lower(): v for k, v in headers.items()}
    snapshot = folded.get("isolation", "").strip().lower() == "snapshot"
    go_on = "continue-on-error" in folded.get("prefer", "")
    authorization = folded.get("authorization")
    answers: list[dict[str, Any]] = []

    def run_all() -> None:
        for request in requests:
            if not isinstance(request, dict) or "method" not in request or "url" not in request:
                raise bad_request("Every batch request needs 'id', 'method' and 'url'.")
            inner = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
            if authorization is not None:
                inner.setdefault("Authorization", authorization)
            payload = request.get("body")
            raw = json.dumps(payload).encode("utf-8") if payload is not None else b""
            rest, query = _relative(service, surface, str(request["url"]))
            answer = service.handle(str(request["method"]).upper(), rest, query, inner, raw)
            answers.append(_entry(str(request.get("id", len(answers) + 1)), answer))
            if answer.status >= 400:
                if snapshot:
                    raise _RolledBack
                if not go_on:
                    return

    if snapshot:
        try:
            with service.store.snapshot():
                run_all()
        except _RolledBack:
            pass
    else:
        run_all()
    return json_answer(200, {"responses": answers})


__all__ = ["MAX_REQUESTS", "run_batch"]
