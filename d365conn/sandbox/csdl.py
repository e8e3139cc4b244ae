"""The `$metadata` document (OData 4.0 CSDL XML) in Dataverse's shape.

Owns: rendering the table model as the real service does: namespace `Microsoft.Dynamics.CRM`,
alias `mscrm`, every entity type deriving from the abstract `mscrm.crmbaseentity`, one key,
`_x_value` lookup properties, navigation properties with `ReferentialConstraint` and partners,
the WhoAmI function and the CreateMultiple / UpdateMultiple / UpsertMultiple actions, and the
`System` entity container with entity sets and navigation property bindings.
"""

from __future__ import annotations

from functools import lru_cache
from xml.sax.saxutils import quoteattr

from d365conn.sandbox.model import Schema, Table

EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"


def _entity_type(schema: Schema, table: Table) -> list[str]:
    base = "mscrm.principal" if table.logical in ("systemuser", "team") else "mscrm.crmbaseentity"
    lines = [
        f'<EntityType Name="{table.logical}" BaseType="{base}">',
        f'<Key><PropertyRef Name="{table.columns[table.pk].prop}" /></Key>',
    ]
    for column in table.columns.values():
        extra = ' Scale="Variable"' if column.edm == "Edm.Decimal" else ""
        lines.append(f'<Property Name="{column.prop}" Type="{column.edm}"{extra} />')
    for nav in table.navs.values():
        if nav.collection:
            partner = _single_partner(schema, nav.target, nav.name)
            partner_attr = f' Partner="{partner}"' if partner else ""
            lines.append(
                f'<NavigationProperty Name="{nav.name}" Type="Collection(mscrm.{nav.target})"'
                f"{partner_attr} />"
            )
            continue
        target = schema.tables.get(nav.target)
        referenced = target.columns[target.pk].prop if target is not None else "ownerid"
        partner_attr = (
            f' Partner="{nav.relationship}"' if target is not None and nav.relationship in target.navs else ""
        )
        lines.append(f'<NavigationProperty Name="{nav.name}" Type="mscrm.{nav.target}"{partner_attr}>')
        lines.append(
            f'<ReferentialConstraint Property="{table.columns[nav.column].prop}" '
            f'ReferencedProperty="{referenced}" />'
        )
        lines.append("</NavigationProperty>")
    lines.append("</EntityType>")
    return lines


def _single_partner(schema: Schema, table_name: str, relationship: str) -> str:
    table = schema.tables[table_name]
    for nav in table.navs.values():
        if not nav.collection and nav.relationship == relationship:
            return nav.name
    return ""


def _actions() -> list[str]:
    lines = []
    for name, returns in (
        ("CreateMultiple", "mscrm.CreateMultipleResponse"),
        ("UpdateMultiple", None),
        ("UpsertMultiple", "mscrm.UpsertMultipleResponse"),
    ):
        lines.append(f'<Action Name="{name}" IsBound="true">')
        lines.append('<Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false" />')
        lines.append('<Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false" />')
        if returns:
            lines.append(f'<ReturnType Type="{returns}" Nullable="false" />')
        lines.append("</Action>")
    return lines


@lru_cache(maxsize=4)
def render_csdl(schema: Schema) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<edmx:Edmx Version="4.0" xmlns:edmx="{EDMX}">',
        '<edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Keys.V1.xml">',
        '<edmx:Include Namespace="OData.Community.Keys.V1" Alias="Keys" />',
        '<edmx:IncludeAnnotations TermNamespace="OData.Community.Keys.V1" />',
        "</edmx:Reference>",
        '<edmx:Reference Uri="http://vocabularies.odata.org/OData.Community.Display.V1.xml">',
        '<edmx:Include Namespace="OData.Community.Display.V1" Alias="Display" />',
        '<edmx:IncludeAnnotations TermNamespace="OData.Community.Display.V1" />',
        "</edmx:Reference>",
        "<edmx:DataServices>",
        f'<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="{EDM}">',
        '<EntityType Name="crmbaseentity" Abstract="true" />',
        '<EntityType Name="principal" BaseType="mscrm.crmbaseentity" Abstract="true">',
        '<Property Name="ownerid" Type="Edm.Guid" />',
        "</EntityType>",
    ]
    for table in schema.tables.values():
        lines.extend(_entity_type(schema, table))
    lines += [
        '<ComplexType Name="WhoAmIResponse">',
        '<Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false" />',
        '<Property Name="UserId" Type="Edm.Guid" Nullable="false" />',
        '<Property Name="OrganizationId" Type="Edm.Guid" Nullable="false" />',
        "</ComplexType>",
        '<ComplexType Name="CreateMultipleResponse">',
        '<Property Name="Ids" Type="Collection(Edm.Guid)" Nullable="false" />',
        "</ComplexType>",
        '<ComplexType Name="UpsertResponse">',
        '<Property Name="RecordCreated" Type="Edm.Boolean" Nullable="false" />',
        '<Property Name="Id" Type="Edm.Guid" Nullable="false" />',
        "</ComplexType>",
        '<ComplexType Name="UpsertMultipleResponse">',
        '<Property Name="Results" Type="Collection(mscrm.UpsertResponse)" Nullable="false" />',
        "</ComplexType>",
        '<Function Name="WhoAmI">',
        '<ReturnType Type="mscrm.WhoAmIResponse" Nullable="false" />',
        "</Function>",
        *_actions(),
        '<EntityContainer Name="System">',
    ]
    for table in schema.tables.values():
        lines.append(
            f'<EntitySet Name="{table.set_name}" EntityType="Microsoft.Dynamics.CRM.{table.logical}">'
        )
        for nav in table.navs.values():
            target = schema.tables.get(nav.target)
            if target is not None:
                lines.append(f'<NavigationPropertyBinding Path="{nav.name}" Target="{target.set_name}" />')
        lines.append("</EntitySet>")
    lines += [
        f'<FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI" '
        f"IncludeInServiceDocument={quoteattr('false')} />",
        "</EntityContainer>",
        "</Schema>",
        "</edmx:DataServices>",
        "</edmx:Edmx>",
    ]
    return "\n".join(lines).encode("utf-8")
