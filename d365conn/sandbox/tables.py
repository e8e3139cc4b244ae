"""The sandbox's tables: real `account` / `opportunity` metadata plus hand-written neighbours.

Owns: `build_schema()`, which turns the packaged RetrieveMetadataChanges output into `Table`s and
adds `contact` (its columns are those of a real contact row), `systemuser`, `team`, `businessunit`
and `transactioncurrency` (their usual key, name and lookup columns), then derives navigation
properties with the relationship names the real service uses where we know them.
"""

from __future__ import annotations

from functools import lru_cache

from d365conn.sandbox.model import (
    Column,
    Nav,
    Schema,
    Table,
    column_from_metadata,
    label_of,
    load_json_resource,
    real_table_metadata,
)

STATE_ACTIVE = {0: "Active", 1: "Inactive"}
STATUS_ACTIVE = {1: "Active", 2: "Inactive"}
YES_NO = {0: "No", 1: "Yes"}
ALLOW = {0: "Allow", 1: "Do Not Allow"}

# Relationship (1:N) names the real service uses, keyed by (referencing table, lookup, target).
KNOWN_RELATIONSHIPS = {
    ("contact", "parentcustomerid", "account"): "contact_customer_accounts",
    ("contact", "parentcustomerid", "contact"): "contact_customer_contacts",
    ("contact", "createdby", "systemuser"): "lk_contactbase_createdby",
    ("contact", "modifiedby", "systemuser"): "lk_contactbase_modifiedby",
    ("contact", "owningbusinessunit", "businessunit"): "business_unit_contacts",
    ("contact", "transactioncurrencyid", "transactioncurrency"): "transactioncurrency_contact",
    ("contact", "owninguser", "systemuser"): "contact_owning_user",
    ("contact", "owningteam", "team"): "team_contacts",
    ("contact", "masterid", "contact"): "contact_master_contact",
    ("contact", "msa_managingpartnerid", "account"): "msa_contact_managingpartner",
    ("opportunity", "parentaccountid", "account"): "opportunity_parent_account",
    ("opportunity", "parentcontactid", "contact"): "opportunity_parent_contact",
    ("opportunity", "customerid", "account"): "opportunity_customer_accounts",
    ("opportunity", "customerid", "contact"): "opportunity_customer_contacts",
    ("opportunity", "createdby", "systemuser"): "lk_opportunitybase_createdby",
    ("opportunity", "modifiedby", "systemuser"): "lk_opportunitybase_modifiedby",
    ("opportunity", "owningbusinessunit", "businessunit"): "business_unit_opportunities",
    ("opportunity", "transactioncurrencyid", "transactioncurrency"): "transactioncurrency_opportunity",
    ("opportunity", "owninguser", "systemuser"): "user_opportunity",
    ("opportunity", "owningteam", "team"): "team_opportunities",
    ("systemuser", "businessunitid", "businessunit"): "business_unit_system_users",
    ("systemuser", "parentsystemuserid", "systemuser"): "user_parent_user",
    ("team", "businessunitid", "businessunit"): "business_unit_teams",
    ("team", "administratorid", "systemuser"): "lk_teambase_administratorid",
    ("businessunit", "parentbusinessunitid", "businessunit"): "business_unit_parent_business_unit",
}
DERIVED_LOOKUPS = frozenset(
    {("contact", "accountid"), ("opportunity", "accountid"), ("opportunity", "contactid")}
)
OBJECT_TYPE_CODES = {
    "account": 1,
    "contact": 2,
    "opportunity": 3,
    "systemuser": 8,
    "team": 9,
    "businessunit": 10,
    "transactioncurrency": 9105,
}
#: Not part of the real org: alternate keys the sandbox defines so `accounts(accountnumber='x')` works.
ALTERNATE_KEYS: dict[str, list[tuple[str, ...]]] = {
    "account": [("accountnumber",)],
    "contact": [("emailaddress1",)],
}

CONTACT_CHOICES: dict[str, dict[int, str]] = {
    "gendercode": {1: "Male", 2: "Female"},
    "familystatuscode": {1: "Single", 2: "Married", 3: "Divorced", 4: "Widowed"},
    "haschildrencode": {1: "Default Value"},
    "educationcode": {1: "Default Value"},
    "leadsourcecode": {1: "Default Value"},
    "accountrolecode": {1: "Decision Maker", 2: "Employee", 3: "Influencer"},
    "customertypecode": {1: "Default Value"},
    "preferredappointmenttimecode": {1: "Morning", 2: "Afternoon", 3: "Evening"},
    "statecode": STATE_ACTIVE,
    "statuscode": STATUS_ACTIVE,
}
CONTACT_LOOKUPS = {
    "accountid": ("Lookup", ("account",)),
    "parentcustomerid": ("Customer", ("account", "contact")),
    "ownerid": ("Owner", ("systemuser", "team")),
    "owninguser": ("Lookup", ("systemuser",)),
    "owningteam": ("Lookup", ("team",)),
    "owningbusinessunit": ("Lookup", ("businessunit",)),
    "transactioncurrencyid": ("Lookup", ("transactioncurrency",)),
    "masterid": ("Lookup", ("contact",)),
    "parentcontactid": ("Lookup", ("contact",)),
    "msa_managingpartnerid": ("Lookup", ("account",)),
    "preferredsystemuserid": ("Lookup", ("systemuser",)),
    "createdby": ("Lookup", ("systemuser",)),
    "modifiedby": ("Lookup", ("systemuser",)),
    "createdonbehalfby": ("Lookup", ("systemuser",)),
    "modifiedonbehalfby": ("Lookup", ("systemuser",)),
    "slaid": ("Lookup", ("sla",)),
    "slainvokedid": ("Lookup", ("sla",)),
    "createdbyexternalparty": ("Lookup", ("externalparty",)),
    "modifiedbyexternalparty": ("Lookup", ("externalparty",)),
}
CONTACT_INTEGERS = {
    "adx_identity_accessfailedcount",
    "numberofchildren",
    "importsequencenumber",
    "timezoneruleversionnumber",
    "utcconversiontimezonecode",
    "onholdtime",
    "adx_preferredlcid",
    "mspp_userpreferredlcid",
    "adx_timezone",
}
CONTACT_DATETIMES = {
    "createdon",
    "modifiedon",
    "lastonholdtime",
    "overriddencreatedon",
    "adx_identity_lastsuccessfullogin",
    "adx_identity_lockoutenddate",
    "adx_profilealertdate",
    "adx_profilelastactivity",
    "adx_profilemodifiedon",
    "msdyn_portaltermsagreementdate",
    "lastusedincampaign",
}
CONTACT_MEMOS = {"description", "adx_profilealertinstructions", "adx_publicprofilecopy"}
CONTACT_GUIDS = {"contactid", "entityimageid", "processid", "stageid", "subscriptionid"}


def _contact_column(prop: str, account: Table) -> Column:
    """Type a property of the real contact row by the conventions Dataverse column names follow."""
    if prop.startswith("_") and prop.endswith("_value"):
        logical = prop[1:-6]
        kind, targets = CONTACT_LOOKUPS[logical]
        # contact.accountid is a logical attribute derived from parentcustomerid: no nav property of its own.
        return Column(logical, kind, targets=targets, meta={"IsLogical": logical == "accountid"})
    same = account.columns.get(prop)
    if same is not None and prop not in CONTACT_CHOICES:
        return Column(
            prop,
            same.kind,
            date_only=same.date_only,
            date_format_only=same.date_format_only,
            options=dict(same.options),
            precision=same.precision,
            meta=same.meta,
        )
    if prop in ("birthdate", "anniversary"):
        return Column(prop, "DateTime", date_only=True, date_format_only=True)
    if prop in CONTACT_DATETIMES:
        return Column(
            prop, "DateTime", date_format_only=prop in ("overriddencreatedon", "lastusedincampaign")
        )
    if prop in CONTACT_CHOICES:
        kind = {"statecode": "State", "statuscode": "Status"}.get(prop, "Picklist")
        return Column(prop, kind, options=CONTACT_CHOICES[prop])
    if prop.endswith("_addressid") or prop in CONTACT_GUIDS:
        return Column(prop, "Uniqueidentifier")
    if prop.endswith(("_latitude", "_longitude")):
        return Column(prop, "Double", precision=5)
    if prop.endswith("_utcoffset") or prop in CONTACT_INTEGERS:
        return Column(prop, "Integer")
    if prop.endswith("code"):
        return Column(prop, "Picklist", options={1: "Default Value"})
    if prop.startswith(("aging", "creditlimit", "annualincome")):
        return Column(prop, "Money")
    if prop in ("versionnumber", "entityimage_timestamp"):
        return Column(prop, "BigInt")
    if prop == "entityimage":
        return Column(prop, "Image")
    if prop == "exchangerate":
        return Column(prop, "Decimal", precision=10)
    if prop.endswith("_composite") or prop in CONTACT_MEMOS:
        return Column(prop, "Memo")
    if (
        prop.startswith(("donot", "is", "msdyn_is", "adx_identity_", "adx_profileis"))
        or prop
        in (
            "merged",
            "marketingonly",
            "creditonhold",
            "followemail",
            "participatesinworkflow",
            "adx_profilealert",
            "adx_confirmremovepassword",
            "msdyn_disablewebtracking",
            "adx_identity_logonenabled",
        )
    ) and (not prop.startswith("adx_identity_") or prop.endswith(("enabled", "confirmed", "disabled"))):
        return Column(prop, "Boolean", options=ALLOW if prop.startswith("donot") else YES_NO)
    return Column(prop, "String")


def _from_metadata(logical: str, set_name: str, pk: str, primary_name: str) -> Table:
    meta = real_table_metadata(logical)
    table = Table(
        logical,
        set_name,
        pk,
        primary_name,
        str(meta["SchemaName"]),
        attribute_meta=list(meta["Attributes"]),
        object_type_code=OBJECT_TYPE_CODES[logical],
    )
    table.display_name = logical.capitalize()
    table.display_collection_name = {"account": "Accounts", "opportunity": "Opportunities"}[logical]
    for attribute in meta["Attributes"]:
        column = column_from_metadata(attribute)
        if column is not None:
            table.columns[column.logical] = column
    return table


def _hand(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
    logical: str,
    set_name: str,
    pk: str,
    primary_name: str,
    schema_name: str,
    columns: list[Column],
    display: tuple[str, str],
) -> Table:
    base = [
        Column(pk, "Uniqueidentifier"),
        *columns,
        Column("createdon", "DateTime"),
        Column("modifiedon", "DateTime"),
        Column("createdby", "Lookup", targets=("systemuser",)),
        Column("modifiedby", "Lookup", targets=("systemuser",)),
        Column("versionnumber", "BigInt"),
    ]
    table = Table(
        logical,
        set_name,
        pk,
        primary_name,
        schema_name,
        object_type_code=OBJECT_TYPE_CODES[logical],
        display_name=display[0],
        display_collection_name=display[1],
    )
    table.columns = {c.logical: c for c in base}
    return table


def _contact(account: Table) -> Table:
    props: list[str] = load_json_resource("contact_columns.json")
    table = Table(
        "contact",
        "contacts",
        "contactid",
        "fullname",
        "Contact",
        object_type_code=2,
        display_name="Contact",
        display_collection_name="Contacts",
    )
    for prop in props:
        column = _contact_column(prop, account)
        table.columns[column.logical] = column
    return table


def _small_tables() -> list[Table]:
    return [
        _hand(
            "systemuser",
            "systemusers",
            "systemuserid",
            "fullname",
            "SystemUser",
            [
                Column("fullname", "String", read_only=True),
                Column("firstname", "String"),
                Column("lastname", "String"),
                Column("domainname", "String"),
                Column("internalemailaddress", "String"),
                Column("title", "String"),
                Column("isdisabled", "Boolean", options={0: "Enabled", 1: "Disabled"}),
                Column(
                    "accessmode",
                    "Picklist",
                    options={
                        0: "Read-Write",
                        1: "Administrative",
                        2: "Read",
                        3: "Support User",
                        4: "Non-interactive",
                        5: "Delegated Admin",
                    },
                ),
                Column("businessunitid", "Lookup", targets=("businessunit",)),
                Column("parentsystemuserid", "Lookup", targets=("systemuser",)),
                Column("azureactivedirectoryobjectid", "Uniqueidentifier"),
            ],
            ("User", "Users"),
        ),
        _hand(
            "team",
            "teams",
            "teamid",
            "name",
            "Team",
            [
                Column("name", "String"),
                Column(
                    "teamtype",
                    "Picklist",
                    options={0: "Owner", 1: "Access", 2: "Security Group", 3: "Office Group"},
                ),
                Column("isdefault", "Boolean", options=YES_NO),
                Column("description", "Memo"),
                Column("emailaddress", "String"),
                Column("businessunitid", "Lookup", targets=("businessunit",)),
                Column("administratorid", "Lookup", targets=("systemuser",)),
            ],
            ("Team", "Teams"),
        ),
        _hand(
            "businessunit",
            "businessunits",
            "businessunitid",
            "name",
            "BusinessUnit",
            [
                Column("name", "String"),
                Column("divisionname", "String"),
                Column("emailaddress", "String"),
                Column("websiteurl", "String"),
                Column("address1_city", "String"),
                Column("costcenter", "String"),
                Column("creditlimit", "Double", precision=2),
                Column("isdisabled", "Boolean", options={0: "Enabled", 1: "Disabled"}),
                Column("parentbusinessunitid", "Lookup", targets=("businessunit",)),
                Column("transactioncurrencyid", "Lookup", targets=("transactioncurrency",)),
            ],
            ("Business Unit", "Business Units"),
        ),
        _hand(
            "transactioncurrency",
            "transactioncurrencies",
            "transactioncurrencyid",
            "currencyname",
            "TransactionCurrency",
            [
                Column("currencyname", "String"),
                Column("isocurrencycode", "String"),
                Column("currencysymbol", "String"),
                Column("exchangerate", "Decimal", precision=10),
                Column("currencyprecision", "Integer"),
                Column("statecode", "State", options=STATE_ACTIVE),
                Column("statuscode", "Status", options=STATUS_ACTIVE),
            ],
            ("Currency", "Currencies"),
        ),
    ]


def _relationship_names() -> dict[tuple[str, str, str], tuple[str, str]]:
    """(table, lookup, target) -> (relationship schema name, single-valued nav name) for account,
    from the real EntityDefinitions output."""
    definition = load_json_resource("account_entitydefinition.json.gz")
    names: dict[tuple[str, str, str], tuple[str, str]] = {}
    for rel in definition["ManyToOneRelationships"] + definition["OneToManyRelationships"]:
        key = (rel["ReferencingEntity"], rel["ReferencingAttribute"], rel["ReferencedEntity"])
        names[key] = (rel["SchemaName"], rel["ReferencingEntityNavigationPropertyName"])
    return names


def _add_navs(schema: Schema) -> None:
    real = _relationship_names()
    for table in schema.tables.values():
        for column in table.columns.values():
            # Logical lookups derived from a customer lookup have no relationship of their own;
            # other logical ones (owninguser, owningteam) do.
            if not column.is_lookup or (table.logical, column.logical) in DERIVED_LOOKUPS:
                continue
            targets = [t for t in column.targets if t in schema.tables]
            if column.kind == "Owner":
                # One nav property typed mscrm.principal; the row's owner type picks the table.
                table.navs["ownerid"] = Nav(
                    "ownerid", table.logical, "principal", "ownerid", False, f"owner_{table.set_name}"
                )
                continue
            for target in targets:
                key = (table.logical, column.logical, target)
                relationship, nav_name = real.get(key, ("", ""))
                relationship = relationship or KNOWN_RELATIONSHIPS.get(
                    key, f"lk_{table.logical}_{column.logical}"
                )
                if not nav_name:
                    nav_name = f"{column.logical}_{target}" if len(column.targets) > 1 else column.logical
                table.navs[nav_name] = Nav(
                    nav_name, table.logical, target, column.logical, False, relationship
                )
                back = schema.tables[target]
                back.navs.setdefault(
                    relationship, Nav(relationship, target, table.logical, column.logical, True, relationship)
                )


@lru_cache(maxsize=1)
def build_schema() -> Schema:
    account = _from_metadata("account", "accounts", "accountid", "name")
    opportunity = _from_metadata("opportunity", "opportunities", "opportunityid", "name")
    tables = [account, _contact(account), opportunity, *_small_tables()]
    for table in tables:
        table.alternate_keys = ALTERNATE_KEYS.get(table.logical, [])
        table.index()
    schema = Schema({t.logical: t for t in tables})
    _add_navs(schema)
    return schema


def display_label(table: Table, logical: str) -> str:
    for attribute in table.attribute_meta:
        if attribute["LogicalName"] == logical:
            return label_of(attribute.get("DisplayName"))
    return logical
