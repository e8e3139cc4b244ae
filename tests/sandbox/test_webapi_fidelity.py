"""The sandbox answers in the real service's JSON shapes: compared structurally with captured responses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.webapi_client import Api

FIXTURES = Path(__file__).resolve().parents[1] / "captured" / "dataverse"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ETAG = re.compile(r'^W/"\d+"$')


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def kind(value: Any) -> str:
    """A value's JSON kind, with the string formats the service uses told apart."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        for name, pattern in (("guid", GUID), ("datetime", DATETIME), ("date", DATE), ("etag", ETAG)):
            if pattern.match(value):
                return name
        return "string"
    return type(value).__name__


def assert_same_shape(real: dict[str, Any], ours: dict[str, Any], allowed_extra: set[str]) -> None:
    missing = set(real) - set(ours)
    assert not missing, f"properties the real service returns but the sandbox does not: {sorted(missing)}"
    extra = set(ours) - set(real) - allowed_extra
    assert not extra, f"properties the sandbox invents: {sorted(extra)}"
    for key, value in real.items():
        if key == "@odata.context" or value is None or ours[key] is None:
            continue
        assert kind(ours[key]) == kind(value), f"{key}: real {kind(value)} {value!r}, sandbox {ours[key]!r}"


def first_row(api: Api, entity_set: str, condition: str) -> dict[str, Any]:
    body = api.get(f"{entity_set}?$filter={condition}&$top=1").json()
    key = {"accounts": "accountid", "contacts": "contactid"}[entity_set]
    return dict(api.get(f"{entity_set}({body['value'][0][key]})").json())


def test_account_row_matches_the_real_row(api: Api) -> None:
    real = fixture("account_record.json")
    ours = first_row(api, "accounts", "_primarycontactid_value ne null and revenue ne null")
    # The fixture's org has no Sales app; the metadata's org does: its extra columns are real ones.
    metadata = json.loads((FIXTURES / "retrieve-metadata-changes" / "account.json").read_text())
    names = {a["LogicalName"] for a in metadata["EntityMetadata"][0]["Attributes"]}
    allowed = {k for k in ours if k.strip("_").removesuffix("_value") in names}
    assert_same_shape(real, ours, allowed)
    assert ours["@odata.context"].endswith("/api/data/v9.2/$metadata#accounts/$entity")
    assert kind(ours["revenue"]) == "number" and kind(ours["revenue_base"]) == "number"


def test_contact_row_matches_the_real_row_including_date_only(api: Api) -> None:
    real = fixture("contact_record.json")
    ours = first_row(api, "contacts", "birthdate ne null")
    assert_same_shape(real, ours, set())
    assert kind(ours["birthdate"]) == "date" and kind(ours["createdon"]) == "datetime"


def test_whoami_has_the_real_keys(api: Api) -> None:
    real, ours = fixture("whoami.json"), api.get("WhoAmI").json()
    assert set(ours) == set(real)
    assert ours["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
    assert all(kind(ours[k]) == "guid" for k in ("UserId", "BusinessUnitId", "OrganizationId"))


def test_post_with_representation_matches_the_real_body(api: Api) -> None:
    real = fixture("post_account.json")
    response = api.request(
        "POST", "accounts?$select=name", {"name": "powerplatform_rest"}, Prefer="return=representation"
    )
    assert response.status_code == 201
    ours = response.json()
    assert list(ours) == list(real)
    assert ours["@odata.context"].split("$metadata")[1] == real["@odata.context"].split("$metadata")[1]
    assert kind(ours["@odata.etag"]) == "etag" and kind(ours["accountid"]) == "guid"


def test_filtered_collection_matches_the_real_shape(api: Api) -> None:
    real = fixture("contacts_filtered_collection.json")
    ours = api.get("contacts?$select=createdon&$filter=statecode eq 0&$top=1").json()
    assert list(ours) == list(real)
    assert ours["@odata.context"].split("$metadata")[1] == real["@odata.context"].split("$metadata")[1]
    assert list(ours["value"][0]) == list(real["value"][0])


def test_entity_definition_has_the_real_properties(api: Api) -> None:
    real = fixture("entitydefinition_account.json")
    for name in ("account", "contact"):
        ours = api.get(
            f"EntityDefinitions(LogicalName='{name}')?$expand=ManyToOneRelationships,"
            "OneToManyRelationships,ManyToManyRelationships"
        ).json()
        assert set(ours) == set(real)
        assert ours["LogicalName"] == name and ours["EntitySetName"] == f"{name}s"
        for relationship in ours["ManyToOneRelationships"]:
            assert set(relationship) <= set(real["ManyToOneRelationships"][0])


def test_attribute_listing_matches_the_real_shape(api: Api) -> None:
    real = fixture("entitydefinition_businessunit_attributes.json")
    ours = api.get("EntityDefinitions(LogicalName='businessunit')/Attributes?$select=LogicalName").json()
    assert ours["@odata.context"].endswith(
        "$metadata#EntityDefinitions('businessunit')/Attributes(LogicalName)"
    )
    real_shapes = {tuple(sorted(item)) for item in real["value"]}
    assert {tuple(sorted(item)) for item in ours["value"]} <= real_shapes
    types = {item.get("@odata.type") for item in ours["value"]}
    assert "#Microsoft.Dynamics.CRM.StringAttributeMetadata" in types


def test_real_option_sets_come_back_through_the_picklist_cast(api: Api) -> None:
    ours = api.get(
        "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM."
        "PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet"
    ).json()
    industry = next(a for a in ours["value"] if a["LogicalName"] == "industrycode")
    labels = {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in industry["OptionSet"]["Options"]}
    assert labels[1] == "Accounting"
    assert "@odata.type" not in industry
    attributes = api.get("EntityDefinitions(LogicalName='account')/Attributes").json()["value"]
    assert len(attributes) == 248  # every attribute of the real metadata, none trimmed


@pytest.mark.parametrize(
    "annotation",
    [
        "OData.Community.Display.V1.FormattedValue",
        "Microsoft.Dynamics.CRM.lookuplogicalname",
        "Microsoft.Dynamics.CRM.associatednavigationproperty",
    ],
)
def test_annotations_are_named_and_formatted_as_the_service_does(api: Api, annotation: str) -> None:
    body = api.get(
        "accounts?$select=name,revenue,industrycode,createdon,_ownerid_value,creditonhold"
        "&$filter=revenue ne null and industrycode ne null&$top=3",
        Prefer=f'odata.include-annotations="{annotation}"',
    ).json()
    row = body["value"][0]
    names = {k.split("@", 1)[1] for k in row if "@" in k[1:]}
    assert names == {annotation}
    if annotation.endswith("FormattedValue"):
        assert re.fullmatch(r"[$€£][\d,]+\.\d\d", row[f"revenue@{annotation}"])
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d [AP]M", row[f"createdon@{annotation}"])
        assert row[f"creditonhold@{annotation}"] in ("Yes", "No")
    if annotation.endswith("lookuplogicalname"):
        assert row[f"_ownerid_value@{annotation}"] in ("systemuser", "team")
