"""The Business Central sandbox's schema: API v2.0 entity sets from the real ``$metadata``, plus pages.

Owns: reading ``data/api-v2.0-metadata.xml`` (the real API v2.0 ``$metadata`` captured from a
Business Central tenant, namespace ``Microsoft.NAV``, 87 entity sets) into :class:`EntitySet` s --
properties with their Edm or enum type, key, navigation properties with their referential
constraints -- and the definition of the few ``ODataV4/`` published pages (``Customer``, ``Item``,
``Vendor``, ``Company``) with the ``$metadata`` document of that surface. Server side only: the
driver reads the same XML with its own, separate code.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
NAMESPACE = "Microsoft.NAV"
METADATA_PATH = Path(__file__).with_name("data") / "api-v2.0-metadata.xml"


@dataclass(frozen=True)
class Prop:
    """One structural property. ``enum`` names the enum type (values travel as member names)."""

    name: str
    edm: str  # Edm.String ... or "enum"
    nullable: bool = True
    max_length: int | None = None
    enum: tuple[str, ...] = ()
    #: Stream and collection properties are never sent inside a row.
    in_rows: bool = True


@dataclass(frozen=True)
class Nav:
    """A navigation property: target entity type, collection or single, and its join columns."""

    name: str
    target: str  # entity type name
    collection: bool
    #: (property on this type, referenced property on the target)
    constraints: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class EntitySet:
    name: str
    type_name: str
    props: tuple[Prop, ...]
    key: tuple[str, ...]
    navs: tuple[Nav, ...] = ()
    insertable: bool = True
    updatable: bool = True
    deletable: bool = True
    #: Set on ODataV4 pages: the API set whose rows the page shows, and page field -> API property.
    source: str | None = None
    mapping: tuple[tuple[str, str], ...] = ()
    prop_index: dict[str, Prop] = field(default_factory=dict, compare=False, repr=False)

    def prop(self, name: str) -> Prop | None:
        if not self.prop_index:
            self.prop_index.update({p.name: p for p in self.props})
        return self.prop_index.get(name)

    def nav(self, name: str) -> Nav | None:
        return next((n for n in self.navs if n.name == name), None)


@dataclass(frozen=True)
class Schema:
    """Every entity set of one surface, by name (case-sensitive, as BC's URLs are)."""

    sets: dict[str, EntitySet]
    metadata_xml: bytes

    def by_type(self, type_name: str) -> EntitySet | None:
        return next((s for s in self.sets.values() if s.type_name == type_name), None)


def _short(type_name: str) -> str:
    return type_name.rsplit(".", maxsplit=1)[-1]


def _restriction(entity_set: ET.Element, term: str, prop: str) -> bool:
    for note in entity_set.findall(EDM + "Annotation"):
        if note.get("Term", "").endswith(term):
            for value in note.iter(EDM + "PropertyValue"):
                if value.get("Property") == prop:
                    return value.get("Bool", "true") == "true"
    return True


@cache
def api_schema() -> Schema:
    """The API v2.0 schema (parsed once per process)."""
    raw = METADATA_PATH.read_bytes()
    root = ET.fromstring(raw)  # noqa: S314 - the packaged file of this sandbox, not input
    enums: dict[str, tuple[str, ...]] = {}
    for enum in root.iter(EDM + "EnumType"):
        enums[enum.get("Name", "")] = tuple(m.get("Name", "") for m in enum.findall(EDM + "Member"))
    types: dict[str, ET.Element] = {t.get("Name", ""): t for t in root.iter(EDM + "EntityType")}
    sets: dict[str, EntitySet] = {}
    for element in root.iter(EDM + "EntitySet"):
        type_name = _short(element.get("EntityType", ""))
        entity = types[type_name]
        props: list[Prop] = []
        for p in entity.findall(EDM + "Property"):
            kind = p.get("Type", "")
            length = p.get("MaxLength")
            nullable = p.get("Nullable", "true") != "false"
            if kind.startswith("Edm."):
                in_rows = kind != "Edm.Stream"
                props.append(
                    Prop(p.get("Name", ""), kind, nullable, int(length) if length else None, in_rows=in_rows)
                )
            elif _short(kind) in enums:
                props.append(Prop(p.get("Name", ""), "enum", nullable, enum=enums[_short(kind)]))
            else:  # collections of complex types (entityDefinitions): not part of a row here
                props.append(Prop(p.get("Name", ""), kind, nullable, in_rows=False))
        key_element = entity.find(EDM + "Key")
        key = (
            tuple(r.get("Name", "") for r in key_element.findall(EDM + "PropertyRef"))
            if key_element is not None
            else ()
        )
        navs = []
        for n in entity.findall(EDM + "NavigationProperty"):
            kind = n.get("Type", "")
            collection = kind.startswith("Collection(")
            target = _short(kind[len("Collection(") : -1] if collection else kind)
            constraints = tuple(
                (c.get("Property", ""), c.get("ReferencedProperty", ""))
                for c in n.findall(EDM + "ReferentialConstraint")
            )
            navs.append(Nav(n.get("Name", ""), target, collection, constraints))
        sets[element.get("Name", "")] = EntitySet(
            element.get("Name", ""),
            type_name,
            tuple(props),
            key,
            tuple(navs),
            insertable=_restriction(element, "InsertRestrictions", "Insertable"),
            updatable=_restriction(element, "UpdateRestrictions", "Updatable"),
            deletable=_restriction(element, "DeleteRestrictions", "Deletable"),
        )
    return Schema(sets, raw)


# --- ODataV4 published pages --------------------------------------------------------------------

#: page name -> (source API set, key field, ((page field, Edm type, API property or "" ), ...)).
#: Field names follow BC's page web services: captions with spaces and dots become underscores.
_PAGES: dict[str, tuple[str, str, tuple[tuple[str, str, str], ...]]] = {
    "Company": (
        "companies",
        "Name",
        (
            ("Name", "Edm.String", "name"),
            ("Evaluation_Company", "Edm.Boolean", ""),
            ("Display_Name", "Edm.String", "displayName"),
            ("Id", "Edm.Guid", "id"),
            ("Business_Profile_Id", "Edm.String", "businessProfileId"),
        ),
    ),
    "Customer": (
        "customers",
        "No",
        (
            ("No", "Edm.String", "number"),
            ("Name", "Edm.String", "displayName"),
            ("Address", "Edm.String", "addressLine1"),
            ("City", "Edm.String", "city"),
            ("Country_Region_Code", "Edm.String", "country"),
            ("Phone_No", "Edm.String", "phoneNumber"),
            ("E_Mail", "Edm.String", "email"),
            ("Salesperson_Code", "Edm.String", "salespersonCode"),
            ("Balance_LCY", "Edm.Decimal", "balanceDue"),
            ("Credit_Limit_LCY", "Edm.Decimal", "creditLimit"),
            ("Blocked", "Edm.String", "blocked"),
            ("SystemId", "Edm.Guid", "id"),
            ("Last_Date_Modified", "Edm.Date", "lastModifiedDateTime"),
        ),
    ),
    "Item": (
        "items",
        "No",
        (
            ("No", "Edm.String", "number"),
            ("Description", "Edm.String", "displayName"),
            ("Type", "Edm.String", "type"),
            ("Inventory", "Edm.Decimal", "inventory"),
            ("Unit_Price", "Edm.Decimal", "unitPrice"),
            ("Unit_Cost", "Edm.Decimal", "unitCost"),
            ("Blocked", "Edm.Boolean", "blocked"),
            ("Base_Unit_of_Measure", "Edm.String", "baseUnitOfMeasureCode"),
            ("SystemId", "Edm.Guid", "id"),
        ),
    ),
    "Vendor": (
        "vendors",
        "No",
        (
            ("No", "Edm.String", "number"),
            ("Name", "Edm.String", "displayName"),
            ("City", "Edm.String", "city"),
            ("Country_Region_Code", "Edm.String", "country"),
            ("Balance_LCY", "Edm.Decimal", "balance"),
            ("SystemId", "Edm.Guid", "id"),
        ),
    ),
}


@cache
def pages_schema() -> Schema:
    """The ``ODataV4/`` surface: a few published pages over the API's rows, and its ``$metadata``."""
    sets: dict[str, EntitySet] = {}
    for name, (source, key, fields_) in _PAGES.items():
        props = tuple(Prop(f, edm, nullable=f != key) for f, edm, _ in fields_)
        mapping = tuple((f, api) for f, _, api in fields_)
        sets[name] = EntitySet(
            name,
            name,
            props,
            (key,),
            source=source,
            mapping=mapping,
            insertable=name != "Company",
            updatable=name != "Company",
            deletable=name != "Company",
        )
    return Schema(sets, _pages_metadata(sets))


def _pages_metadata(sets: dict[str, EntitySet]) -> bytes:
    """CSDL for the pages, in the ``NAV`` namespace as BC's ODataV4 endpoint writes it."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        "<edmx:DataServices>",
        '<Schema Namespace="NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    for entity in sets.values():
        lines.append(f'<EntityType Name="{entity.name}">')
        lines.append("<Key>" + "".join(f'<PropertyRef Name="{k}" />' for k in entity.key) + "</Key>")
        for p in entity.props:
            nullable = "" if p.nullable else ' Nullable="false"'
            lines.append(f'<Property Name="{p.name}" Type="{p.edm}"{nullable} />')
        lines.append("</EntityType>")
    lines.append('<EntityContainer Name="NAV">')
    for entity in sets.values():
        lines.append(f'<EntitySet Name="{entity.name}" EntityType="NAV.{entity.name}" />')
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"]
    return "\n".join(lines).encode("utf-8")


__all__ = ["EntitySet", "Nav", "Prop", "Schema", "api_schema", "pages_schema"]
