"""The JSON $batch format (d365conn/bc/batch.py), against the real answer captured from Business Central."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import d365conn
from d365conn.bc.batch import MAX_OPERATIONS, BatchAnswerError, BatchItem, batch_request, parse_batch_answer
from d365conn.bc.sender import created_id
from d365conn.transport.errors import error_from_response

FIXTURES = Path(__file__).resolve().parents[1] / "captured" / "business-central"


def test_a_request_body_in_business_centrals_json_format() -> None:
    items = [
        BatchItem("1", "POST", "https://x/api/v2.0/companies(1)/customers", {}, {"displayName": "A"}),
        BatchItem("2", "DELETE", "https://x/api/v2.0/companies(1)/customers(2)", {"If-Match": "*"}),
    ]
    headers, body = batch_request(items, atomic=True)
    assert headers == {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Isolation": "snapshot",
    }
    assert body == {"requests": [
        {"id": "1", "method": "POST", "url": "https://x/api/v2.0/companies(1)/customers",
         "headers": {"Content-Type": "application/json"}, "body": {"displayName": "A"}},
        {"id": "2", "method": "DELETE", "url": "https://x/api/v2.0/companies(1)/customers(2)",
         "headers": {"If-Match": "*"}},
    ]}  # fmt: skip
    loose, _ = batch_request(items, atomic=False, continue_on_error=True)
    assert "Isolation" not in loose and loose["Prefer"] == "odata.continue-on-error"


def test_at_most_100_operations() -> None:
    item = BatchItem("1", "DELETE", "u", {"If-Match": "*"})
    assert len(batch_request([item] * MAX_OPERATIONS, atomic=True)[1]["requests"]) == 100
    with pytest.raises(d365conn.ProgrammingError, match="at most 100"):
        batch_request([item] * 101, atomic=True)
    with pytest.raises(d365conn.ProgrammingError):
        batch_request([], atomic=True)


def test_the_captured_answer_is_read() -> None:
    document = json.loads((FIXTURES / "batch.json").read_text(encoding="utf-8"))
    replies = parse_batch_answer(document)
    assert [(r.id, r.status) for r in replies] == [("r1", 201), ("r2", 201)]
    first = replies[0]
    assert first.headers["content-type"].startswith("application/json")
    assert created_id(first.document, first.headers["location"]) == "32d80403-e236-f011-9a4a-7ced8d0ee6e7"
    # without a body, the id comes from Location
    assert created_id(None, first.headers["location"]) == "32d80403-e236-f011-9a4a-7ced8d0ee6e7"


def test_a_failed_reply_maps_to_the_pep249_class_by_its_word_code() -> None:
    message = (
        "Another user has already changed the record.  CorrelationId:  1b2c3d4e-0000-4000-8000-000000000000."
    )
    error_body = {"error": {"code": "Request_EntityChanged", "message": message}}
    document = {"responses": [{"id": "1", "status": 412, "headers": {}, "body": error_body}]}
    reply = parse_batch_answer(document)[0]
    error = error_from_response(reply.status, reply.headers, reply.body, method="PATCH", url="u")
    assert isinstance(error, d365conn.exceptions.ConcurrencyError)
    assert error.request_id == "1b2c3d4e-0000-4000-8000-000000000000"


@pytest.mark.parametrize("bad", [{}, {"responses": {}}, {"responses": [{"id": "1"}]}, []])
def test_a_malformed_answer_is_refused(bad: object) -> None:
    with pytest.raises(BatchAnswerError):
        parse_batch_answer(bad)
