"""The Dataverse loader: TDS-style columns from real table definitions, over real sockets.

Three sources: the real captured definitions mapped directly (every one of account's 248
attributes accounted for), the same served by the fixture server (the exact requests the loader
makes), and the sandbox (a running fake Dataverse: the columns' sources must exist in its rows).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests

from d365conn.catalog.dataverse import DataverseLoader, definition_path
from d365conn.catalog.dataverse_columns import build_table
from d365conn.catalog.loader import TableEntry
from d365conn.catalog.model import FORMATTED, LOOKUP_LOGICAL_NAME, ForeignKey, Table
from d365conn.exceptions import ProgrammingError
from d365conn.sandbox.launcher import Sandbox
from tests.catalog.conftest import FixtureService, HttpFetcher, account_definition, opportunity_definition

INDEX = {
    "contact": TableEntry("contact", "contacts", "contactid", "fullname"),
    "systemuser": TableEntry("systemuser", "systemusers", "systemuserid", "fullname"),
    "team": TableEntry("team", "teams", "teamid", "name"),
    "account": TableEntry("account", "accounts", "accountid", "name"),
}


@pytest.fixture(scope="module")
def account() -> Table:
    return build_table(account_definition(), INDEX).table


def col(table: Table, name: str) -> Any:
    found = table.column(name)
    assert found is not None, f"{table.name} has no column {name}"
    return found


def test_every_account_attribute_is_accounted_for() -> None:
    definition = account_definition()
    attributes = {a["LogicalName"] for a in definition["Attributes"]}
    assert len(attributes) == 248
    built = build_table(definition, INDEX)
    names = [c.name for c in built.table.columns]
    assert len(names) == len(set(names)), "duplicate column names"
    as_columns = attributes & set(names)
    excluded = set(built.excluded)
    # Each attribute is a column of its own name, or is excluded with a reason; derived columns
    # not in the metadata (lookups without a name companion) are the only extra columns.
    assert attributes == as_columns | excluded
    assert not as_columns & excluded
    assert all(reason for reason in built.excluded.values())
    extra = set(names) - attributes
    assert extra == {"owningteamname", "owningusername"}  # lookups whose name companion the org lacks
    assert {c for c in excluded if not c.endswith("yominame")} == set()
    roles = Counter(c.role for c in built.table.columns)
    assert roles == {
        "attribute": 121,
        "lookup": 27,
        "lookup_name": 27,
        "lookup_type": 1,
        "choice": 22,
        "choice_name": 22 + 14,
        "multichoice": 1,
        "multichoice_name": 1,
    }


def test_lookup_columns(account: Table) -> None:
    guid = col(account, "primarycontactid")
    assert (guid.role, guid.edm_type, guid.property, guid.source, guid.select) == (
        "lookup",
        "Edm.Guid",
        "_primarycontactid_value",
        "_primarycontactid_value",
        "_primarycontactid_value",
    )
    assert guid.targets == ("contact",) and dict(guid.navigation) == {"contact": "primarycontactid"}
    assert guid.filterable and not guid.sortable  # the service sorts a lookup by the related name
    name = col(account, "primarycontactidname")
    assert (name.role, name.edm_type, name.source) == (
        "lookup_name",
        "Edm.String",
        "_primarycontactid_value" + FORMATTED,
    )
    assert name.filter_path == "primarycontactid/fullname" and name.read_only
    assert name.sortable  # $orderby=_primarycontactid_value sorts by the contact's name
    assert ForeignKey("primarycontactid", "contact", "contactid", "primarycontactid") in account.foreign_keys
    # Navigation names are the service's, not the attribute's (from ManyToOneRelationships).
    assert dict(col(account, "slaid").navigation) == {"sla": "sla_account_sla"}
    assert dict(col(account, "createdbyexternalparty").navigation) == {
        "externalparty": "CreatedByExternalParty"
    }
    # Dataverse's own name for a lookup's display name wins over the <x>name convention.
    assert account.column("masteridname") is None
    assert col(account, "masteraccountidname").property == "_masterid_value"


def test_polymorphic_owner_lookup(account: Table) -> None:
    owner = col(account, "ownerid")
    assert owner.targets == ("systemuser", "team") and owner.attribute_type == "Owner"
    assert dict(owner.navigation) == {"systemuser": "ownerid", "team": "ownerid"}
    kind = col(account, "owneridtype")
    assert (kind.role, kind.source, kind.filterable) == (
        "lookup_type",
        "_ownerid_value" + LOOKUP_LOGICAL_NAME,
        False,
    )
    fks = {(fk.target_table, fk.target_column) for fk in account.foreign_keys if fk.column == "ownerid"}
    assert fks == {("systemuser", "systemuserid"), ("team", "teamid")}


def test_customer_lookup_of_opportunity_gets_a_type_column() -> None:
    built = build_table(opportunity_definition(), INDEX)
    customer = col(built.table, "customerid")
    assert customer.targets == ("account", "contact") and customer.attribute_type == "Customer"
    # No relationships in this definition: the Web API's convention for polymorphic navigation names.
    assert dict(customer.navigation) == {"account": "customerid_account", "contact": "customerid_contact"}
    assert col(built.table, "customeridtype").role == "lookup_type"
    assert col(built.table, "estimatedclosedate").edm_type == "Edm.Date"  # DateTimeBehavior DateOnly
    assert col(built.table, "createdon").edm_type == "Edm.DateTimeOffset"


def test_choice_boolean_and_multiselect_columns(account: Table) -> None:
    industry = col(account, "industrycode")
    assert (industry.role, industry.edm_type, len(industry.options)) == ("choice", "Edm.Int32", 33)
    assert industry.options[0].value == 1 and industry.options[0].label == "Accounting"
    label = col(account, "industrycodename")
    assert (label.role, label.source, label.filterable, label.sortable) == (
        "choice_name",
        "industrycode" + FORMATTED,
        False,
        False,
    )
    assert [o.label for o in col(account, "statecodename").options] == ["Active", "Inactive"]
    assert col(account, "creditonhold").edm_type == "Edm.Boolean"
    yes_no = col(account, "creditonholdname")
    assert yes_no.role == "choice_name" and [(o.value, o.label) for o in yes_no.options] == [
        (1, "Yes"),
        (0, "No"),
    ]
    assert col(account, "donotsendmarketingmaterialname").property == "donotsendmm"
    multi = col(account, "cdsify_multiselect")
    assert (multi.role, multi.edm_type, len(multi.options)) == ("multichoice", "Edm.String", 18)
    assert col(account, "cdsify_multiselectname").role == "multichoice_name"


def test_plain_columns(account: Table) -> None:
    key = col(account, "accountid")
    assert key.primary_key and not key.nullable and key.edm_type == "Edm.Guid"
    assert account.primary_key == ("accountid",) and account.primary_name == "name"
    assert account.entity_set == "accounts" and account.entity_type == "Microsoft.Dynamics.CRM.account"
    revenue = col(account, "revenue")
    assert (revenue.edm_type, revenue.attribute_type, revenue.precision, revenue.scale) == (
        "Edm.Decimal",
        "Money",
        19,
        4,
    )
    assert col(account, "exchangerate").edm_type == "Edm.Decimal"
    assert col(account, "versionnumber").edm_type == "Edm.Int64"
    assert col(account, "entityimage").edm_type == "Edm.Binary"  # an Image attribute is a real property
    # A DateOnly *format* with UserLocal behaviour is still a date-time in the Web API.
    assert col(account, "lastusedincampaign").edm_type == "Edm.DateTimeOffset"
    assert col(account, "address1_latitude").edm_type == "Edm.Double"
    assert account.description and account.description.startswith("Business that represents")


def test_loader_over_a_socket_makes_the_documented_requests(fixture_service: FixtureService) -> None:
    loader = DataverseLoader(HttpFetcher(fixture_service.service_url).fetch_json)
    entries = loader.list_tables()
    assert [e.name for e in entries][:2] == ["account", "opportunity"]
    assert not {"privatething", "nosetthing"} & {e.name for e in entries}
    index = {e.name: e for e in entries}
    built = loader.build("account", index)
    direct = build_table(account_definition(), index).table
    assert [c.name for c in built.table.columns] == [c.name for c in direct.columns]
    assert col(built.table, "industrycode").options == col(direct, "industrycode").options
    assert col(built.table, "ownerid").targets == ("systemuser", "team")  # Targets came from the cast
    requests_made = [r for r in fixture_service.requests if "account" in r]
    assert requests_made[0].startswith(
        "/api/data/v9.2/EntityDefinitions(LogicalName='account')?$select=LogicalName,EntitySetName,"
    )
    casts = sorted(r.split("Microsoft.Dynamics.CRM.")[1].split("?")[0] for r in requests_made[1:])
    assert casts == sorted(
        [
            "StringAttributeMetadata",
            "MemoAttributeMetadata",
            "MoneyAttributeMetadata",
            "DecimalAttributeMetadata",
            "DoubleAttributeMetadata",
            "DateTimeAttributeMetadata",
            "LookupAttributeMetadata",
            "PicklistAttributeMetadata",
            "StateAttributeMetadata",
            "StatusAttributeMetadata",
            "MultiSelectPicklistAttributeMetadata",
            "BooleanAttributeMetadata",
        ]
    )


def test_version_stamps_and_changes(fixture_service: FixtureService) -> None:
    loader = DataverseLoader(HttpFetcher(fixture_service.service_url).fetch_json)
    first = loader.changes_since(None)
    assert first.stamp == "1!11/22/2026 05:00:00" and first.tables is None
    unchanged = loader.changes_since(first.stamp)
    assert unchanged.tables == frozenset() and not unchanged.list_changed
    fixture_service.bump("account")
    changed = loader.changes_since(first.stamp)
    assert changed.tables == {"account"} and changed.stamp == "2!11/22/2026 05:00:00"
    # The stamp went out in a parameter alias, quoted and percent-encoded.
    assert fixture_service.requests[-1].endswith("&@s='1!11/22/2026 05:00:00'")
    fixture_service.oldest_valid = 2
    assert loader.changes_since(first.stamp).tables is None  # expired stamp: everything is stale


def test_bulk_action_probe_and_name_validation(fixture_service: FixtureService) -> None:
    loader = DataverseLoader(HttpFetcher(fixture_service.service_url).fetch_json)
    assert loader.supports_bulk_actions("account")
    assert not loader.supports_bulk_actions("opportunity")
    assert "sdkmessageid/name eq 'CreateMultiple'" in fixture_service.requests[-1]
    with pytest.raises(ProgrammingError, match="not a Dataverse logical name"):
        definition_path("account')/x?$expand=(")


# -- against the sandbox -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox_fetcher(sandbox: Sandbox) -> HttpFetcher:
    origin = sandbox.service_url.split("/api/")[0]
    verify: Any = sandbox.ca_path or True
    token = requests.post(
        sandbox.token_uri,
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "scope": f"{origin}/.default",
        },
        verify=verify,
        timeout=30,
    ).json()["access_token"]
    return HttpFetcher(sandbox.service_url.rstrip("/") + "/", {"Authorization": f"Bearer {token}"}, verify)


def test_sandbox_tables_match_the_rows_it_serves(sandbox_fetcher: HttpFetcher) -> None:
    loader = DataverseLoader(sandbox_fetcher.fetch_json)
    entries = loader.list_tables()
    index = {e.name: e for e in entries}
    assert {"account", "contact", "opportunity", "systemuser"} <= set(index)
    sandbox_fetcher.session.headers["Prefer"] = 'odata.include-annotations="*"'
    for name in ("account", "contact", "opportunity"):
        table = loader.load_table(index[name], index)
        rows = sandbox_fetcher.fetch_json(f"{table.entity_set}?$top=20")["value"]
        assert rows
        for column in table.columns:
            if column.role in ("attribute", "lookup", "choice", "multichoice"):
                assert all(column.source in row for row in rows), f"{name}.{column.name}: {column.source}"
            elif column.role in ("lookup_name", "choice_name", "multichoice_name", "lookup_type"):
                with_value = [row for row in rows if row.get(column.property) not in (None, "")]
                assert all(column.source in row for row in with_value), f"{name}.{column.name}"
        # And the converse: every property the service returns is some column's source.
        properties = {key for row in rows for key in row if "@" not in key}
        assert properties <= {c.property for c in table.columns}, f"{name}: uncovered properties"
    account = loader.load_table(index["account"], index)
    assert col(account, "primarycontactidname").filter_path == "primarycontactid/fullname"
    assert account.alternate_keys == (("accountnumber",),)


def test_attributes_the_web_api_does_not_carry_are_left_out_with_reasons() -> None:
    definition = account_definition()
    extra = [
        {
            "LogicalName": "new_document",
            "AttributeType": "Virtual",
            "AttributeTypeName": {"Value": "FileType"},
        },
        {"LogicalName": "new_hidden", "AttributeType": "String", "IsValidODataAttribute": False},
        {"LogicalName": "new_secret", "AttributeType": "String", "IsValidForRead": False},
        {"LogicalName": "new_attendees", "AttributeType": "PartyList"},
    ]
    built = build_table({**definition, "Attributes": [*definition["Attributes"], *extra]}, INDEX)
    assert built.excluded["new_document"] == "Virtual attribute (FileType): no plain value in the Web API"
    assert "IsValidODataAttribute" in built.excluded["new_hidden"]
    assert "IsValidForRead" in built.excluded["new_secret"]
    assert built.excluded["new_attendees"].startswith("PartyList attribute")
    assert not {e["LogicalName"] for e in extra} & {c.name for c in built.table.columns}
