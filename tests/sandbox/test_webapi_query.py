"""Reads over real sockets: paging, filters, ordering, expand, aggregation, and what the service refuses."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from d365conn.sandbox import aggregate
from tests.sandbox.webapi_client import ROWS, Api


def names(api: Api, query: str) -> list[str]:
    body = api.get(f"accounts?$select=name&{query}").json()
    assert "value" in body, body
    return [row["name"] for row in body["value"]]


def total(api: Api, entity_set: str) -> int:
    """The real row count (other test modules add rows), beyond the 5,000 cap of $count."""
    return int(api.get(f"{entity_set}?$apply=aggregate($count as n)").json()["value"][0]["n"])


def test_paging_follows_next_links_through_every_row(api: Api) -> None:
    expected = total(api, "contacts")
    seen: list[str] = []
    url = api.url + "contacts?$select=fullname"
    pages = 0
    while url:
        response = api.session.get(url, headers={"Prefer": "odata.maxpagesize=2000"})
        assert response.headers["Preference-Applied"] == "odata.maxpagesize=2000"
        body = response.json()
        assert len(body["value"]) <= 2000
        seen += [row["contactid"] for row in body["value"]]
        url = body.get("@odata.nextLink", "")
        assert not url or (url.startswith(api.url) and "$skiptoken=" in url)
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == expected


def test_ordered_paging_with_nulls_is_complete_and_in_order(api: Api) -> None:
    expected = total(api, "accounts")
    url = api.url + "accounts?$select=revenue&$orderby=revenue desc,name"
    values: list[float | None] = []
    while url:
        body = api.session.get(url, headers={"Prefer": "odata.maxpagesize=5000"}).json()
        values += [row["revenue"] for row in body["value"]]
        url = body.get("@odata.nextLink", "")
    assert len(values) == expected >= ROWS
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=True)
    assert values[len(present) :] == [None] * (expected - len(present))  # NULLs last when descending


def test_page_size_is_capped_and_top_is_ignored_with_a_page_size(api: Api) -> None:
    capped = api.get("accounts?$select=name", Prefer="odata.maxpagesize=9000")
    assert capped.headers["Preference-Applied"] == "odata.maxpagesize=5000"
    assert len(capped.json()["value"]) == 5000
    with_top = api.get("accounts?$select=name&$top=3", Prefer="odata.maxpagesize=10").json()
    assert len(with_top["value"]) == 10 and "@odata.nextLink" in with_top
    plain = api.get("accounts?$select=name").json()
    assert len(plain["value"]) == 5000 and "@odata.nextLink" in plain
    top = api.get("accounts?$select=name&$top=7").json()
    assert len(top["value"]) == 7 and "@odata.nextLink" not in top


def test_counts_are_capped_at_5000(api: Api) -> None:
    body = api.get("accounts?$select=name&$count=true&$top=1").json()
    assert body["@odata.count"] == 5000
    response = api.get("accounts/$count")
    assert response.headers["Content-Type"].startswith("text/plain") and response.text == "5000"
    assert api.get("accounts/$count?$filter=" + quote("accountnumber eq 'ACC-0000001'")).text == "1"


@pytest.mark.parametrize(
    ("condition", "check"),
    [
        ("contains(name,'CONTOSO')", lambda n: "contoso" in n.lower()),
        (
            "startswith(name,'alpine') and not endswith(name,'Inc.')",
            lambda n: n.startswith("Alpine") and not n.endswith("Inc."),
        ),
        ("startswith(name,'a%o')", lambda n: n.lower().startswith("a") and "o" in n.lower()),
        (
            "name eq 'NORTHWIND litware llc' or (name ge 'Y' and name lt 'Z')",
            lambda n: n == "Northwind Litware LLC" or n.lower().startswith("y"),
        ),
    ],
)
def test_string_filters_are_case_insensitive_with_like_wildcards(
    api: Api, condition: str, check: object
) -> None:
    found = names(api, "$filter=" + quote(condition))
    assert found and all(check(n) for n in found)  # type: ignore[operator]


def test_dataverse_query_functions(api: Api) -> None:
    numbers = '["ACC-0000001","ACC-0000002","ACC-0000003"]'
    found = api.get(
        "accounts?$select=accountnumber&$filter="
        + quote(f"Microsoft.Dynamics.CRM.In(PropertyName='accountnumber',PropertyValues={numbers})")
    ).json()["value"]
    assert sorted(r["accountnumber"] for r in found) == ["ACC-0000001", "ACC-0000002", "ACC-0000003"]
    between = api.get(
        "accounts?$select=numberofemployees&$filter="
        + quote(
            'Microsoft.Dynamics.CRM.Between(PropertyName=\'numberofemployees\',PropertyValues=["5","2000"])'
        )
    ).json()
    assert between["value"] and all(5 <= r["numberofemployees"] <= 2000 for r in between["value"])
    recent = api.get(
        "accounts?$select=name&$filter="
        + quote("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=3650)")
    ).json()
    assert recent["value"]
    mine = api.get(
        "accounts?$select=_ownerid_value&$top=5&$filter="
        + quote("Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')")
    ).json()["value"]
    user = api.get("WhoAmI").json()["UserId"]
    assert mine and all(r["_ownerid_value"] == user for r in mine)


def test_navigation_paths_and_lambdas(api: Api) -> None:
    contact = api.get("contacts?$select=fullname,_parentcustomerid_value&$top=1").json()["value"][0]
    through = api.get(
        "accounts?$select=name&$filter=" + quote(f"primarycontactid/fullname eq '{contact['fullname']}'")
    ).json()["value"]
    assert through
    with_children = api.get(
        "accounts?$select=name&$top=5&$filter="
        + quote(f"contact_customer_accounts/any(c:c/contactid eq {contact['contactid']})")
    ).json()["value"]
    assert [r["accountid"] for r in with_children] == [contact["_parentcustomerid_value"]]
    none_inactive = api.get(
        "accounts?$select=name&$top=5&$filter=" + quote("contact_customer_accounts/all(c:c/statecode eq 0)")
    ).json()["value"]
    assert none_inactive


def test_expand_single_and_collection_with_nested_options(api: Api) -> None:
    body = api.get(
        "accounts?$select=name&$top=3&$filter=_primarycontactid_value ne null&$expand="
        + quote(
            "primarycontactid($select=fullname),contact_customer_accounts($select=fullname;"
            "$orderby=fullname desc;$top=1)"
        )
    ).json()
    row = body["value"][0]
    assert set(row["primarycontactid"]) == {"@odata.etag", "fullname", "contactid"}
    assert isinstance(row["contact_customer_accounts"], list) and len(row["contact_customer_accounts"]) <= 1
    owner = api.get("accounts?$select=name&$top=1&$expand=ownerid").json()["value"][0]["ownerid"]
    assert owner["@odata.type"] in ("#Microsoft.Dynamics.CRM.systemuser", "#Microsoft.Dynamics.CRM.team")


def test_orderby_lookup_sorts_by_the_related_name(api: Api) -> None:
    body = api.get(
        "accounts?$select=name,_primarycontactid_value&$filter=_primarycontactid_value ne null"
        "&$orderby=_primarycontactid_value&$top=20",
        Prefer='odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
    ).json()
    labels = [r["_primarycontactid_value@OData.Community.Display.V1.FormattedValue"] for r in body["value"]]
    assert [s.lower() for s in labels] == sorted(s.lower() for s in labels)


def test_apply_groupby_and_aggregate(api: Api) -> None:
    grouped = api.get(
        "opportunities?$apply="
        + quote(
            "filter(statecode eq 0)/groupby((statuscode),aggregate($count as n,"
            "estimatedvalue with sum as total,estimatedvalue with average as mean,"
            "estimatedvalue with countdistinct as kinds))"
        )
    ).json()
    assert grouped["@odata.context"].endswith("$metadata#opportunities(statuscode,n,total,mean,kinds)")
    assert {r["statuscode"] for r in grouped["value"]} <= {1, 2}
    total = api.get("opportunities?$apply=aggregate($count as n)").json()["value"][0]["n"]
    assert total == ROWS // 2


def test_sums_of_decimals_are_exact_at_the_columns_scale(api: Api) -> None:
    # SQL Server adds decimals exactly; the sandbox stores them as floats and must not leak the noise.
    from decimal import Decimal

    rows: list[dict[str, float | None]] = []
    url: str | None = api.url + "accounts?$select=exchangerate,revenue"
    while url:
        page = api.session.get(url).json()
        rows += page["value"]
        url = page.get("@odata.nextLink")
    body = api.get(
        "accounts?$apply=" + quote("aggregate(exchangerate with sum as rates,revenue with sum as money)")
    ).content
    summed = json.loads(body, parse_float=Decimal)["value"][0]
    rates = sum(Decimal(repr(r["exchangerate"])) for r in rows if r["exchangerate"] is not None)
    money = sum(Decimal(repr(r["revenue"])) for r in rows if r["revenue"] is not None)
    assert summed["rates"] == rates.quantize(Decimal("1e-10"))
    assert summed["money"] == money.quantize(Decimal("1e-4"))


def test_aggregate_limit_answers_0x8004E023(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 50,000 rows; lowered here so the test needs no 50,000-row data set.
    monkeypatch.setattr(aggregate, "AGGREGATE_RECORD_LIMIT", 1000)
    response = api.get("accounts?$apply=aggregate($count as n)")
    assert response.status_code == 400 and response.json()["error"]["code"] == "0x8004E023"


@pytest.mark.parametrize(
    "query",
    [
        "$skip=10",
        "$search=contoso",
        "$format=json",
        "$filter=" + quote("name eq"),
        "$filter=" + quote("name in ('a','b')"),
        "$filter=" + quote("tolower(name) eq 'a'"),
        "$filter=" + quote("name eq 5"),
        "$Top=1",
        "$apply=" + quote("groupby((createdon))"),
        "$apply=" + quote("groupby((industrycode),aggregate($count as n))") + "&$orderby=n",
    ],
)
def test_refusals_use_the_real_error_shape(api: Api, query: str) -> None:
    response = api.get("accounts?" + query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80060888"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("$select=Name", "Name"),  # names are case-sensitive: Microsoft Learn's own example
        ("$select=nosuchcolumn", "nosuchcolumn"),
        ("$orderby=nosuch", "nosuch"),
        ("$filter=" + quote("nosuch eq 1"), "nosuch"),
        ("$expand=nosuchnav", "nosuchnav"),
    ],
)
def test_unknown_names_answer_as_the_odata_parser_does(api: Api, query: str, name: str) -> None:
    # "Troubleshoot Dataverse Web API client errors": GET accounts?$select=Name -> 400, code "0x0".
    response = api.get("accounts?" + query)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "0x0",
            "message": f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.account'.",
        }
    }


def test_rows_by_key_alternate_key_and_property(api: Api) -> None:
    row = api.get("accounts?$select=name,accountnumber&$top=1").json()["value"][0]
    by_key = api.get(f"accounts({row['accountid']})?$select=name").json()
    assert by_key["name"] == row["name"] and by_key["@odata.context"].endswith("accounts(name)/$entity")
    by_alternate = api.get(f"accounts(accountnumber='{row['accountnumber']}')?$select=name").json()
    assert by_alternate["accountid"] == row["accountid"]
    prop = api.get(f"accounts({row['accountid']})/name").json()
    assert prop["value"] == row["name"]
    missing = api.get("accounts(00000000-0000-0000-0000-000000000000)")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"


def test_web_api_requires_a_valid_bearer_token(api: Api) -> None:
    response = api.session.get(api.url + "WhoAmI", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")


def test_case_insensitive_beyond_ascii_and_like_character_classes(api: Api) -> None:
    exact = api.get("contacts?$select=lastname&$filter=" + quote("lastname eq 'MÜLLER'")).json()["value"]
    assert exact and {r["lastname"] for r in exact} == {"Müller"}
    cities = api.get(
        "accounts?$select=address1_city&$filter=" + quote("startswith(address1_city,'MÜN')")
    ).json()
    assert cities["value"] and {r["address1_city"] for r in cities["value"]} == {"München"}
    classes = names(api, "$filter=" + quote("startswith(name,'[a-c]') and address1_city eq 'paris'"))
    assert classes and all(n[0] in "ABC" for n in classes)
    negated = names(api, "$filter=" + quote("startswith(name,'[^a-y]')"))
    assert negated == [] or all(n[0] in "Zz" or not n[0].isalpha() for n in negated)


def test_apply_results_carry_formatted_values_when_preferred(api: Api) -> None:
    body = api.get(
        "accounts?$apply=" + quote("groupby((industrycode),aggregate(revenue with sum as total))"),
        Prefer='odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
    ).json()
    row = next(r for r in body["value"] if r["industrycode"] == 1)
    assert row["industrycode@OData.Community.Display.V1.FormattedValue"] == "Accounting"
    assert row["total@OData.Community.Display.V1.FormattedValue"].startswith("$")
