"""The BC sandbox answers in the shapes of the real captured Business Central responses.

Structural comparison: every JSON value is reduced to its kind (``guid``, ``etag``, ``date``,
``datetime``, ``number``, ``string``, ``bool``, nested objects and arrays by their members), and the
sandbox's answer must have exactly the keys and kinds of the fixture from a real tenant
(``shared/fixtures/business-central/``), plus ``@odata.context`` of the same form.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import requests

from d365conn.sandbox.bc import BCSandbox
from tests.bc.conftest import INTERNATIONAL

FIXTURES = Path(__file__).resolve().parents[1] / "captured" / "business-central"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ETAG = re.compile(r'^W/"[A-Za-z0-9+/]+=*"$')
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
GUID_IN_PATH = re.compile(r"\([0-9a-f-]{36}\)")


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("context" if k == "@odata.context" else shape(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    for kind, pattern in (("guid", GUID), ("etag", ETAG), ("date", DATE), ("datetime", DATETIME)):
        if pattern.match(value):
            return kind
    return "string"


def context_form(url: str) -> str:
    """``.../api/v2.0/$metadata#companies(<id>)/customers/$entity`` -> ``companies()/customers/$entity``."""
    return GUID_IN_PATH.sub("()", url.split("/api/v2.0/$metadata#", 1)[1])


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_companies(bc_sandbox: BCSandbox, http: requests.Session) -> None:
    real = fixture("companies.json")
    ours = http.get(bc_sandbox.service_url + "companies").json()
    assert set(ours) == set(real) == {"@odata.context", "value"}
    assert shape(ours["value"][0]) == shape(real["value"][1])  # no etag on company rows, as in the real one
    assert context_form(ours["@odata.context"]) == context_form(real["@odata.context"]) == "companies"


def test_one_customer(bc_sandbox: BCSandbox, http: requests.Session, usa_id: str) -> None:
    real = fixture("customer.json")
    base = f"{bc_sandbox.service_url}companies({usa_id})/customers"
    first = http.get(base, params={"$top": "1", "$select": "id"}).json()["value"][0]["id"]
    ours = http.get(f"{base}({first})").json()
    real_shape, our_shape = shape(real), shape(ours)
    # The generated customer has no tax area; the real one has. Both are GUIDs either way.
    assert our_shape == real_shape
    assert (
        context_form(ours["@odata.context"])
        == context_form(real["@odata.context"])
        == "companies()/customers/$entity"
    )


def test_sales_orders_with_expanded_customer_and_lines(
    bc_sandbox: BCSandbox, http: requests.Session, usa_id: str
) -> None:
    real = fixture("salesOrders.json")
    url = f"{bc_sandbox.service_url}companies({usa_id})/salesOrders"
    ours = http.get(url, params={"$top": "2", "$expand": "customer,salesOrderLines"}).json()
    real_row = {
        k: v for k, v in real["value"][0].items() if k != "pdfDocument"
    }  # a media entity, not generated
    our_row = ours["value"][0]
    assert list(shape(our_row)) == list(shape(real_row))  # same keys, same order
    for key, value in real_row.items():
        if key == "salesOrderLines":
            assert shape(our_row[key][0]) == shape(value[0])
        else:
            assert shape(our_row[key]) == shape(value), key
    assert (
        context_form(ours["@odata.context"])
        == context_form(real["@odata.context"])
        == "companies()/salesOrders"
    )


def test_batch_answer(bc_sandbox: BCSandbox, http: requests.Session) -> None:
    real = fixture("batch.json")
    base = f"companies({bc_sandbox.company_ids()[INTERNATIONAL]})"  # not the company other modules read
    order = http.get(f"{bc_sandbox.service_url}{base}/salesOrders", params={"$top": "1"}).json()["value"][0]
    item = http.get(f"{bc_sandbox.service_url}{base}/items", params={"$top": "1"}).json()["value"][0]
    requests_ = [
        {"id": f"r{i}", "method": "POST", "url": f"{base}/salesOrders({order['id']})/salesOrderLines",
         "headers": {"Content-Type": "application/json"}, "body": {"itemId": item["id"], "quantity": 2}}
        for i in (1, 2)
    ]  # fmt: skip
    answer = http.post(bc_sandbox.service_url + "$batch", json={"requests": requests_},
                       headers={"Isolation": "snapshot"})  # fmt: skip
    assert answer.status_code == 200
    ours = answer.json()
    assert set(ours) == set(real) == {"responses"}
    for mine, theirs in zip(ours["responses"], real["responses"], strict=True):
        assert (mine["id"], mine["status"]) == (theirs["id"], theirs["status"])
        assert set(mine["headers"]) == set(theirs["headers"])
        assert mine["headers"]["content-type"] == theirs["headers"]["content-type"]
        assert GUID_IN_PATH.sub(
            "()", mine["headers"]["location"].split("/api/v2.0/", 1)[1]
        ) == GUID_IN_PATH.sub("()", theirs["headers"]["location"].split("/api/v2.0/", 1)[1])
        assert shape(mine["body"]) == shape(theirs["body"])
        assert context_form(mine["body"]["@odata.context"]) == context_form(theirs["body"]["@odata.context"])


def test_error_bodies(bc_sandbox: BCSandbox, http: requests.Session, usa_id: str) -> None:
    answer = http.get(
        f"{bc_sandbox.service_url}companies({usa_id})/customers(00000000-0000-0000-0000-0000000000aa)"
    )
    assert answer.status_code == 404
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "BadRequest_NotFound"
    assert re.search(r"CorrelationId:\s+[0-9a-f-]{36}\.$", body["error"]["message"])
