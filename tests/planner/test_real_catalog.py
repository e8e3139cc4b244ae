"""Planning against tables built by the catalog's Dataverse loader from the real captured metadata.

``account`` and ``opportunity`` come from shared/fixtures/dataverse (EntityDefinitions plus the
RetrieveMetadataChanges attributes, 248 attributes of account), built by
``d365conn.catalog.dataverse_columns.build_table`` exactly as a live connection builds them;
``contact`` (a lookup target) is the hand-built subset.
"""

from __future__ import annotations

import pytest

from d365conn.catalog.dataverse_columns import build_table
from d365conn.catalog.loader import TableEntry
from d365conn.planner import Plan, capabilities_for, plan_statement
from tests.catalog.conftest import account_definition, opportunity_definition
from tests.planner.catalogs import CONTACT, SYSTEMUSER, DictCatalog

INDEX = {
    "contact": TableEntry("contact", "contacts", "contactid", "fullname"),
    "systemuser": TableEntry("systemuser", "systemusers", "systemuserid", "fullname"),
    "team": TableEntry("team", "teams", "teamid", "name"),
    "account": TableEntry("account", "accounts", "accountid", "name"),
}
DV = capabilities_for("dataverse")


@pytest.fixture(scope="module")
def catalog() -> DictCatalog:
    # The catalog tests own how the captured files are read into definitions: share their reading.
    account = build_table(account_definition(), INDEX)
    opportunity = build_table(opportunity_definition(), INDEX)
    return DictCatalog([account.table, opportunity.table, CONTACT, SYSTEMUSER])


def readable(plan: Plan) -> list[str]:
    return [s.query.readable() for s in plan.scans]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT name, revenue FROM account WHERE revenue > 1000",
            "accounts?$select=name,revenue&$filter=revenue gt 1000",
        ),
        (
            "SELECT name FROM account WHERE primarycontactidname = 'Susanna Stubberod (sample)'",
            "accounts?$select=name&$filter=primarycontactid/fullname eq 'Susanna Stubberod (sample)'",
        ),
        (
            "SELECT name FROM account WHERE industrycodename = 'Consulting'",
            "accounts?$select=name&$filter=industrycode eq 7",
        ),
        (
            "SELECT name FROM account WHERE creditonholdname = 'Yes'",
            "accounts?$select=name&$filter=creditonhold eq true",
        ),
        ("SELECT owneridname, owneridtype FROM account", "accounts?$select=_ownerid_value"),
        (
            "SELECT statuscode, COUNT(*) AS count FROM account GROUP BY statuscode",
            "accounts?$apply=groupby((statuscode),aggregate($count as count))",
        ),
        (
            "SELECT a.name, c.fullname FROM account a JOIN contact c ON a.primarycontactid = c.contactid",
            "accounts?$select=name&$expand=primarycontactid($select=fullname)"
            "&$filter=_primarycontactid_value ne null",
        ),
        (
            "SELECT name FROM opportunity WHERE customeridname LIKE 'Con%' AND estimatedvalue > 5",
            "opportunities?$select=_customerid_value,name&$filter=estimatedvalue gt 5",
        ),
    ],
)
def test_plans_against_real_metadata(catalog: DictCatalog, sql: str, expected: str) -> None:
    plan = plan_statement(sql, None, catalog, DV)
    assert readable(plan)[0] == expected


def test_every_real_account_column_can_be_selected(catalog: DictCatalog) -> None:
    plan = plan_statement("SELECT * FROM account", None, catalog, DV)
    (scan,) = plan.scans
    account = catalog.find_table("account")
    assert account is not None
    assert len(scan.columns) == len(account.columns) > 200
    assert scan.annotations
    # Every output column carries the JSON key the row decoder reads and its Edm type.
    for out, col in zip(scan.columns, account.columns, strict=True):
        assert out.path == (col.source,) and out.edm_type == col.edm_type
    assert all(not p.startswith("_") or p.endswith("_value") for p in scan.query.select)


def test_lookup_ordering_uses_the_name_column(catalog: DictCatalog) -> None:
    plan = plan_statement(
        "SELECT name, primarycontactidname FROM account ORDER BY primarycontactidname", None, catalog, DV
    )
    assert readable(plan) == [
        "accounts?$select=name,_primarycontactid_value&$orderby=_primarycontactid_value"
    ]
    local = plan_statement(
        "SELECT name, primarycontactid FROM account ORDER BY primarycontactid", None, catalog, DV
    )
    assert local.local_sql is not None  # GUID order is not the service's (it sorts lookups by name)
