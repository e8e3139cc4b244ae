"""The BC sandbox's own behaviour over plain HTTP (d365conn/sandbox/bc/): surfaces, companies, query
options, write rules and JSON $batch -- what a client of the real service would see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from d365conn.sandbox.bc import BCSandbox
from d365conn.sandbox.bc.schema import api_schema

INTERNATIONAL = "CRONUS International Ltd."


@pytest.fixture(scope="module")
def sb() -> Iterator[BCSandbox]:
    """A small sandbox of this module's own (its tests write)."""
    with BCSandbox(rows=40, ledger_rows=50, seed=5, max_page_size=30) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def api(sb: BCSandbox) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.headers.update({"Authorization": "Bearer " + sb.access_token()})
    yield session
    session.close()


@pytest.fixture(scope="module")
def company(sb: BCSandbox) -> str:
    return f"{sb.service_url}companies({sb.company_ids()['CRONUS USA, Inc.']})/"


def test_a_token_is_required(sb: BCSandbox) -> None:
    assert requests.get(sb.service_url + "companies", timeout=10).status_code == 401


def test_every_entity_set_of_the_real_metadata_is_queryable(api: requests.Session, company: str) -> None:
    sets = api_schema().sets
    assert len(sets) == 87
    for name in sets:
        if name == "companies":
            continue
        answer = api.get(company + name, params={"$top": "1"})
        assert answer.status_code == 200, (name, answer.text[:200])
        assert "value" in answer.json()


def test_the_metadata_is_the_captured_document(api: requests.Session, sb: BCSandbox) -> None:
    answer = api.get(sb.service_url + "$metadata")
    assert answer.status_code == 200 and b'Namespace="Microsoft.NAV"' in answer.content
    assert answer.content.count(b"<EntitySet ") == 87


@pytest.mark.parametrize("path", ["api/v2.0/customers", "ODataV4/Customer"])
def test_without_a_company_the_service_asks_for_one(api: requests.Session, sb: BCSandbox, path: str) -> None:
    answer = api.get(sb.origin + sb.prefix + path)
    assert answer.status_code == 400 and "company=[name]" in answer.json()["error"]["message"]


def test_unknown_company_and_segment(api: requests.Session, sb: BCSandbox, company: str) -> None:
    missing = api.get(sb.service_url + "companies(00000000-0000-0000-0000-000000000009)/customers")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "BadRequest_NotFound"
    segment = api.get(company + "nonsense")
    assert segment.status_code == 404 and "segment 'nonsense'" in segment.json()["error"]["message"]


def test_server_paging_and_top_across_pages(api: requests.Session, company: str) -> None:
    url = company + "generalLedgerEntries"
    seen: list[int] = []
    page: dict[str, Any] = api.get(url, params={"$select": "entryNumber", "$top": "45"}).json()
    while True:
        seen += [r["entryNumber"] for r in page["value"]]
        if "@odata.nextLink" not in page:
            break
        page = api.get(page["@odata.nextLink"]).json()
    assert seen == list(range(1, 46))  # 30 + 15: the page size, then what is left of $top


def test_query_options(api: requests.Session, company: str) -> None:
    url = company + "customers"
    counted = api.get(url, params={"$count": "true", "$top": "2", "$filter": "country eq 'US'"}).json()
    plain = api.get(url + "/$count", params={"$filter": "country eq 'US'"})
    assert counted["@odata.count"] == int(plain.text) and len(counted["value"]) == 2
    ordered = api.get(url, params={"$orderby": "balanceDue desc,number", "$select": "number,balanceDue",
                                   "$skip": "3", "$top": "4"}).json()["value"]  # fmt: skip
    balances = [r["balanceDue"] for r in ordered]
    assert balances == sorted(balances, reverse=True) and set(ordered[0]) == {
        "@odata.etag",
        "number",
        "balanceDue",
    }
    sub = api.get(url, params={"$filter": "substring(number,0,3) eq 'C10' and endswith(email,'.example')"})
    assert sub.status_code == 200 and len(sub.json()["value"]) == 30  # a full page: 40 rows match
    lambda_ignored = api.get(
        url, params={"$filter": "country eq 'US' and defaultDimensions/any(d: d/code eq 'X')"}
    )
    assert lambda_ignored.status_code == 200  # Business Central ignores lambda operators


def test_nested_expand_options(api: requests.Session, company: str) -> None:
    params = {
        "$top": "1",
        "$select": "number",
        "$expand": "salesOrderLines($select=sequence;$orderby=sequence desc)",
    }
    order = api.get(company + "salesOrders", params=params).json()["value"][0]
    sequences = [line["sequence"] for line in order["salesOrderLines"]]
    assert sequences == sorted(sequences, reverse=True) and set(order["salesOrderLines"][0]) == {
        "@odata.etag",
        "sequence",
    }


def test_read_only_sets_refuse_writes(api: requests.Session, company: str) -> None:
    answer = api.post(company + "generalLedgerEntries", json={"description": "x"})
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "BadRequest_MethodNotAllowed"


def test_delete_needs_if_match_and_takes_the_lines_with_the_order(
    api: requests.Session, company: str
) -> None:
    order = api.get(company + "salesOrders", params={"$top": "1"}).json()["value"][0]
    url = company + f"salesOrders({order['id']})"
    assert api.delete(url).status_code == 428
    assert api.delete(url, headers={"If-Match": order["@odata.etag"]}).status_code == 204
    lines = api.get(company + "salesOrderLines", params={"$filter": f"documentId eq {order['id']}"}).json()
    assert lines["value"] == [] and api.get(url).status_code == 404


def _batch(api: requests.Session, sb: BCSandbox, requests_: list[dict[str, Any]], **headers: str) -> Any:
    return api.post(sb.service_url + "$batch", json={"requests": requests_}, headers=headers)


def test_batch_limit_and_snapshot_rollback(api: requests.Session, sb: BCSandbox, company: str) -> None:
    base = company.split("/api/v2.0/", 1)[1]
    create = {"method": "POST", "url": base + "vendors", "headers": {"Content-Type": "application/json"}}
    too_many = _batch(api, sb, [{**create, "id": str(i), "body": {"number": f"L{i}"}} for i in range(101)])
    assert too_many.status_code == 400
    requests_ = [
        {**create, "id": "1", "body": {"number": "SNAP-1"}},
        {**create, "id": "2", "body": {"nope": 1}},
        {**create, "id": "3", "body": {"number": "SNAP-3"}},
    ]
    atomic = _batch(api, sb, requests_, Isolation="snapshot").json()["responses"]
    assert [r["status"] for r in atomic] == [201, 400]  # stopped at the failure ...
    left = api.get(company + "vendors", params={"$filter": "startswith(number,'SNAP')"}).json()["value"]
    assert left == []  # ... and the first insert was undone
    loose = _batch(api, sb, requests_, Prefer="odata.continue-on-error").json()["responses"]
    assert [r["status"] for r in loose] == [201, 400, 201]
    kept = api.get(company + "vendors", params={"$filter": "startswith(number,'SNAP')", "$select": "number"})
    assert sorted(r["number"] for r in kept.json()["value"]) == ["SNAP-1", "SNAP-3"]


def test_odatav4_pages(api: requests.Session, sb: BCSandbox) -> None:
    companies = api.get(sb.odata_url + "Company").json()["value"]
    assert {c["Name"] for c in companies} == set(sb.company_ids())
    scoped = sb.odata_url + "Company('CRONUS%20International%20Ltd.')/"
    item = api.get(scoped + "Item('1000')").json()
    assert item["No"] == "1000" and item["@odata.etag"].startswith('W/"')
    changed = api.patch(
        scoped + "Item('1000')", json={"Description": "Renamed"}, headers={"If-Match": item["@odata.etag"]}
    )
    assert changed.status_code == 200 and changed.json()["Description"] == "Renamed"
    via_api = api.get(sb.service_url + f"companies({sb.company_ids()[INTERNATIONAL]})/items",
                      params={"$filter": "number eq '1000'"}).json()["value"][0]  # fmt: skip
    assert via_api["displayName"] == "Renamed" and via_api["@odata.etag"] == changed.json()["@odata.etag"]
    metadata = api.get(sb.odata_url + "$metadata").text
    assert '<EntitySet Name="Customer" EntityType="NAV.Customer" />' in metadata


def test_one_company_on_either_surface(api: requests.Session, sb: BCSandbox) -> None:
    ident = sb.company_ids()[INTERNATIONAL]
    by_id = api.get(sb.service_url + f"companies({ident})").json()
    assert by_id["name"] == INTERNATIONAL and "@odata.etag" not in by_id
    page = api.get(sb.odata_url + "Company('CRONUS%20International%20Ltd.')").json()
    assert (page["Name"], page["Id"]) == (INTERNATIONAL, ident)
    assert api.post(sb.service_url + "companies", json={"name": "x"}).status_code == 405


def test_five_requests_are_processed_at_once_the_others_queue(sb: BCSandbox, company: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    assert sb.dispatcher is not None
    token = sb.access_token()

    def read(_: int) -> int:
        with requests.Session() as session:
            session.trust_env = False
            answer = session.get(company + "customers", params={"$filter": "contains(email,'example')"},
                                 headers={"Authorization": "Bearer " + token})  # fmt: skip
            return answer.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(read, range(48)))
    assert statuses == [200] * 48  # queued, not refused
    assert 1 <= sb.dispatcher.max_in_flight <= 5
