"""A hand-built catalog modelled on the captured RetrieveMetadataChanges output of ``account``
(shared/fixtures/dataverse/retrieve-metadata-changes/account.json): the same logical names,
attribute types, option values and labels, lengths and read-only flags, for pure translation tests."""

# ruff: noqa: E501 -- golden tables: one case per line, as in tests/planner

from __future__ import annotations

from d365conn.catalog.model import Column, Option, Table

INDUSTRY = (
    Option(1, "Accounting"),
    Option(2, "Agriculture and Non-petrol Natural Resource Extraction"),
    Option(3, "Broadcasting Printing and Publishing"),
    Option(7, "Consulting"),
)
CATEGORY = (Option(1, "Preferred Customer"), Option(2, "Standard"))
MULTI = (Option(1, "One"), Option(2, "Two"), Option(3, "Three"))


def _account() -> Table:
    cols = (
        Column("accountid", "Edm.Guid", property="accountid", primary_key=True, nullable=False,
               attribute_type="Uniqueidentifier", updatable=False),
        Column("name", "Edm.String", property="name", max_length=160, attribute_type="String"),
        Column("accountnumber", "Edm.String", property="accountnumber", max_length=20, attribute_type="String"),
        Column("revenue", "Edm.Decimal", property="revenue", precision=23, scale=4, attribute_type="Money"),
        Column("revenue_base", "Edm.Decimal", property="revenue_base", read_only=True, attribute_type="Money",
               insertable=False, updatable=False),
        Column("exchangerate", "Edm.Decimal", property="exchangerate", scale=10, read_only=True,
               insertable=False, updatable=False, attribute_type="Decimal"),
        Column("numberofemployees", "Edm.Int32", property="numberofemployees", attribute_type="Integer"),
        Column("creditonhold", "Edm.Boolean", property="creditonhold", attribute_type="Boolean"),
        Column("lastusedincampaign", "Edm.DateTimeOffset", property="lastusedincampaign", attribute_type="DateTime"),
        Column("createdon", "Edm.DateTimeOffset", property="createdon", read_only=True, insertable=False,
               updatable=False, attribute_type="DateTime"),
        Column("industrycode", "Edm.Int32", role="choice", property="industrycode", options=INDUSTRY,
               attribute_type="Picklist"),
        Column("industrycodename", "Edm.String", role="choice_name", property="industrycode",
               source="industrycode@OData.Community.Display.V1.FormattedValue", read_only=True,
               insertable=False, updatable=False, options=INDUSTRY, attribute_type="Picklist"),
        Column("accountcategorycode", "Edm.Int32", role="choice", property="accountcategorycode",
               options=CATEGORY, attribute_type="Picklist"),
        Column("cdsify_multiselect", "Edm.String", role="multichoice", property="cdsify_multiselect",
               options=MULTI, attribute_type="MultiSelectPicklist"),
        Column("primarycontactid", "Edm.Guid", role="lookup", property="_primarycontactid_value",
               targets=("contact",), navigation={"contact": "primarycontactid"}, attribute_type="Lookup"),
        Column("primarycontactidname", "Edm.String", role="lookup_name", property="_primarycontactid_value",
               read_only=True, insertable=False, updatable=False, targets=("contact",),
               navigation={"contact": "primarycontactid"}, attribute_type="Lookup"),
        Column("ownerid", "Edm.Guid", role="lookup", property="_ownerid_value", targets=("systemuser", "team"),
               navigation={"systemuser": "ownerid", "team": "ownerid"}, attribute_type="Owner"),
        Column("owneridtype", "Edm.String", role="lookup_type", property="_ownerid_value", read_only=True,
               insertable=False, updatable=False, targets=("systemuser", "team"),
               navigation={"systemuser": "ownerid", "team": "ownerid"}, attribute_type="Owner"),
        Column("versionnumber", "Edm.Int64", property="versionnumber", read_only=True, insertable=False,
               updatable=False, attribute_type="BigInt"),
    )  # fmt: skip
    return Table(
        "account",
        "accounts",
        cols,
        primary_key=("accountid",),
        primary_name="name",
        alternate_keys=(("accountnumber",),),
        entity_type="Microsoft.Dynamics.CRM.account",
    )


def _contact() -> Table:
    cols = (
        Column("contactid", "Edm.Guid", property="contactid", primary_key=True, updatable=False),
        Column("lastname", "Edm.String", property="lastname", max_length=50),
        Column("birthdate", "Edm.Date", property="birthdate", attribute_type="DateTime"),
        Column("parentcustomerid", "Edm.Guid", role="lookup", property="_parentcustomerid_value",
               targets=("account", "contact"),
               navigation={"account": "parentcustomerid_account", "contact": "parentcustomerid_contact"},
               attribute_type="Customer"),
        Column("parentcustomeridtype", "Edm.String", role="lookup_type", property="_parentcustomerid_value",
               read_only=True, insertable=False, updatable=False, targets=("account", "contact"),
               navigation={"account": "parentcustomerid_account", "contact": "parentcustomerid_contact"}),
    )  # fmt: skip
    return Table("contact", "contacts", cols, primary_key=("contactid",), alternate_keys=())


def _simple(name: str, entity_set: str) -> Table:
    return Table(
        name,
        entity_set,
        (Column(f"{name}id", "Edm.Guid", property=f"{name}id", primary_key=True),),
        primary_key=(f"{name}id",),
    )


class HandCatalog:
    """A CatalogView over fixed tables."""

    def __init__(self) -> None:
        tables = [_account(), _contact(), _simple("systemuser", "systemusers"), _simple("team", "teams")]
        self.tables = {t.name: t for t in tables}

    def find_table(self, name: str) -> Table | None:
        folded = name.casefold()
        for table in self.tables.values():
            if folded in (table.name, table.entity_set):
                return table
        return None

    def table_names(self) -> list[str]:
        return sorted(self.tables)
