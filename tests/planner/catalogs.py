"""Hand-built catalogs for the planner tests.

The Dataverse subset (account, contact, opportunity, systemuser) follows the real metadata in
shared/fixtures/dataverse/retrieve-metadata-changes/account.json and contact_record.json: lookups
as ``_x_value`` with ``<x>name`` (and ``<x>type`` for polymorphic customer/owner lookups), choices
with their labels, Money as Edm.Decimal, ``birthdate`` as Edm.Date. The plain OData catalog is a
CAP-style bookshop.
"""

from __future__ import annotations

from collections.abc import Iterable

from d365conn.catalog.model import FORMATTED, LOOKUP_LOGICAL_NAME, Column, Option, Table


class DictCatalog:
    """A CatalogView over a fixed list of tables (logical name or entity set, case-insensitive)."""

    def __init__(self, tables: Iterable[Table]) -> None:
        self.tables = list(tables)
        self._by_name = {}
        for t in self.tables:
            self._by_name[t.name.casefold()] = t
            self._by_name[t.entity_set.casefold()] = t

    def find_table(self, name: str) -> Table | None:
        return self._by_name.get(name.casefold())

    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]


def attr(name: str, edm: str, **kw: object) -> Column:
    return Column(name=name, edm_type=edm, property=name, source=name, **kw)  # type: ignore[arg-type]


def lookup(
    name: str, targets: dict[str, str], *, filter_path: str | None = None, with_type: bool = False
) -> list[Column]:
    prop = f"_{name}_value"
    cols = [
        Column(
            name=name,
            edm_type="Edm.Guid",
            role="lookup",
            property=prop,
            source=prop,
            select=prop,
            attribute_type="Lookup" if len(targets) == 1 else "Customer",
            targets=tuple(targets),
            navigation=dict(targets),
            read_only=True,
        ),
        Column(
            name=f"{name}name",
            edm_type="Edm.String",
            role="lookup_name",
            property=prop,
            source=prop + FORMATTED,
            select=prop,
            targets=tuple(targets),
            navigation=dict(targets),
            filterable=False,
            filter_path=filter_path,
            read_only=True,
        ),
    ]
    if with_type:
        cols.append(
            Column(
                name=f"{name}type",
                edm_type="Edm.String",
                role="lookup_type",
                property=prop,
                source=prop + LOOKUP_LOGICAL_NAME,
                select=prop,
                filterable=False,
                read_only=True,
            )
        )
    return cols


def choice(name: str, options: list[tuple[int, str]], kind: str = "Picklist") -> list[Column]:
    opts = tuple(Option(v, label) for v, label in options)
    return [
        Column(
            name=name,
            edm_type="Edm.Int32",
            role="choice",
            property=name,
            source=name,
            attribute_type=kind,
            options=opts,
        ),
        Column(
            name=f"{name}name",
            edm_type="Edm.String",
            role="choice_name",
            property=name,
            source=name + FORMATTED,
            select=name,
            options=opts,
            filterable=False,
            read_only=True,
        ),
    ]


STATE = [(0, "Active"), (1, "Inactive")]
INDUSTRY = [
    (1, "Accounting"),
    (2, "Agriculture and Non-petrol Natural Resource Extraction"),
    (3, "Broadcasting Printing and Publishing"),
    (4, "Brokers"),
    (5, "Building Supply Retail"),
    (6, "Business Services"),
    (33, "Consulting"),
]
CUSTOMER_TYPE = [
    (1, "Competitor"),
    (2, "Consultant"),
    (3, "Customer"),
    (4, "Investor"),
    (5, "Partner"),
    (6, "Influencer"),
]

ACCOUNT = Table(
    name="account",
    entity_set="accounts",
    primary_key=("accountid",),
    primary_name="name",
    entity_type="Microsoft.Dynamics.CRM.account",
    columns=(
        attr("accountid", "Edm.Guid", primary_key=True, nullable=False, attribute_type="Uniqueidentifier"),
        attr("name", "Edm.String", max_length=160, attribute_type="String"),
        attr("accountnumber", "Edm.String", max_length=20, attribute_type="String"),
        attr("revenue", "Edm.Decimal", precision=19, scale=4, attribute_type="Money"),
        attr("numberofemployees", "Edm.Int32", attribute_type="Integer"),
        attr("creditonhold", "Edm.Boolean", attribute_type="Boolean"),
        attr("createdon", "Edm.DateTimeOffset", attribute_type="DateTime", read_only=True),
        attr("modifiedon", "Edm.DateTimeOffset", attribute_type="DateTime", read_only=True),
        attr("emailaddress1", "Edm.String", max_length=100, attribute_type="String"),
        attr("telephone1", "Edm.String", max_length=50, attribute_type="String"),
        attr("address1_city", "Edm.String", max_length=80, attribute_type="String"),
        attr("address1_latitude", "Edm.Double", attribute_type="Double"),
        attr("description", "Edm.String", max_length=2000, attribute_type="Memo"),
        attr("exchangerate", "Edm.Decimal", precision=23, scale=10, attribute_type="Decimal"),
        attr("versionnumber", "Edm.Int64", attribute_type="BigInt", read_only=True),
        *lookup("primarycontactid", {"contact": "primarycontactid"}, filter_path="primarycontactid/fullname"),
        *lookup("parentaccountid", {"account": "parentaccountid"}),
        *lookup("ownerid", {"systemuser": "owninguser", "team": "owningteam"}, with_type=True),
        *choice("industrycode", INDUSTRY),
        *choice("customertypecode", CUSTOMER_TYPE),
        *choice("statecode", STATE, "State"),
        *choice("statuscode", [(1, "Active"), (2, "Inactive")], "Status"),
        Column(
            name="cdsify_multiselect",
            edm_type="Edm.String",
            role="multichoice",
            property="cdsify_multiselect",
            source="cdsify_multiselect",
            attribute_type="MultiSelectPicklist",
            options=(Option(5, "Cortana"), Option(9, "Email")),
        ),
    ),
)

CONTACT = Table(
    name="contact",
    entity_set="contacts",
    primary_key=("contactid",),
    primary_name="fullname",
    columns=(
        attr("contactid", "Edm.Guid", primary_key=True, nullable=False),
        attr("fullname", "Edm.String", max_length=160, read_only=True),
        attr("firstname", "Edm.String", max_length=50),
        attr("lastname", "Edm.String", max_length=50),
        attr("emailaddress1", "Edm.String", max_length=100),
        attr("jobtitle", "Edm.String", max_length=100),
        attr("birthdate", "Edm.Date"),
        attr("annualincome", "Edm.Decimal", precision=19, scale=4, attribute_type="Money"),
        attr("numberofchildren", "Edm.Int32"),
        attr("donotemail", "Edm.Boolean"),
        attr("createdon", "Edm.DateTimeOffset", read_only=True),
        *lookup(
            "parentcustomerid",
            {"account": "parentcustomerid_account", "contact": "parentcustomerid_contact"},
            with_type=True,
        ),
        *choice("statecode", STATE, "State"),
    ),
)

OPPORTUNITY = Table(
    name="opportunity",
    entity_set="opportunities",
    primary_key=("opportunityid",),
    primary_name="name",
    columns=(
        attr("opportunityid", "Edm.Guid", primary_key=True, nullable=False),
        attr("name", "Edm.String", max_length=300),
        attr("estimatedvalue", "Edm.Decimal", precision=19, scale=4, attribute_type="Money"),
        attr("closeprobability", "Edm.Int32"),
        attr("estimatedclosedate", "Edm.Date"),
        *lookup("parentaccountid", {"account": "parentaccountid"}, filter_path="parentaccountid/name"),
        *lookup(
            "customerid", {"account": "customerid_account", "contact": "customerid_contact"}, with_type=True
        ),
        *choice("opportunityratingcode", [(1, "Hot"), (2, "Warm"), (3, "Cold")]),
        *choice("statecode", [(0, "Open"), (1, "Won"), (2, "Lost")], "State"),
    ),
)

SYSTEMUSER = Table(
    name="systemuser",
    entity_set="systemusers",
    primary_key=("systemuserid",),
    primary_name="fullname",
    columns=(
        attr("systemuserid", "Edm.Guid", primary_key=True, nullable=False),
        attr("fullname", "Edm.String", max_length=200),
        attr("domainname", "Edm.String", max_length=1024),
        attr("isdisabled", "Edm.Boolean"),
    ),
)

DATAVERSE = DictCatalog([ACCOUNT, CONTACT, OPPORTUNITY, SYSTEMUSER])

BOOKS = Table(
    name="Books",
    entity_set="Books",
    primary_key=("ID",),
    primary_name="title",
    columns=(
        attr("ID", "Edm.Int32", primary_key=True, nullable=False),
        attr("title", "Edm.String", max_length=111),
        attr("descr", "Edm.String", max_length=1111),
        attr("stock", "Edm.Int32"),
        attr("price", "Edm.Decimal", precision=9, scale=2),
        attr("currency_code", "Edm.String", max_length=3),
        attr("author_ID", "Edm.Int32"),
        attr("published", "Edm.Date"),
        attr("createdAt", "Edm.DateTimeOffset"),
        attr("isbn", "Edm.Guid"),
        attr("available", "Edm.Boolean"),
    ),
)
AUTHORS = Table(
    name="Authors",
    entity_set="Authors",
    primary_key=("ID",),
    primary_name="name",
    columns=(
        attr("ID", "Edm.Int32", primary_key=True, nullable=False),
        attr("name", "Edm.String", max_length=111, nullable=False),
        attr("dateOfBirth", "Edm.Date"),
    ),
)

ODATA = DictCatalog([BOOKS, AUTHORS])
