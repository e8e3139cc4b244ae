"""The sandbox's table model: tables, columns and navigation properties.

Owns: the in-memory description of every table the sandbox serves, built once from the real
metadata in `schema/` (account, opportunity) and the hand-written definitions in `tables.py`
(contact, systemuser, team, businessunit, transactioncurrency). Everything else (SQLite layout,
query translation, JSON encoding, CSDL) reads this model; nothing writes it after `build_schema()`.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

#: AttributeType -> Edm type of the Web API property.
EDM_TYPES = {
    "String": "Edm.String",
    "Memo": "Edm.String",
    "EntityName": "Edm.String",
    "Integer": "Edm.Int32",
    "Picklist": "Edm.Int32",
    "State": "Edm.Int32",
    "Status": "Edm.Int32",
    "BigInt": "Edm.Int64",
    "Decimal": "Edm.Decimal",
    "Money": "Edm.Decimal",
    "Double": "Edm.Double",
    "Boolean": "Edm.Boolean",
    "DateTime": "Edm.DateTimeOffset",
    "Uniqueidentifier": "Edm.Guid",
    "Lookup": "Edm.Guid",
    "Customer": "Edm.Guid",
    "Owner": "Edm.Guid",
    "Image": "Edm.Binary",
    "MultiSelectPicklist": "Edm.String",
}
LOOKUP_KINDS = frozenset({"Lookup", "Customer", "Owner"})
CHOICE_KINDS = frozenset({"Picklist", "State", "Status"})
#: Columns the platform maintains; a client may not write them.
SYSTEM_READ_ONLY = frozenset(
    {
        "createdon",
        "modifiedon",
        "createdby",
        "modifiedby",
        "createdonbehalfby",
        "modifiedonbehalfby",
        "versionnumber",
        "owningbusinessunit",
        "owninguser",
        "owningteam",
        "exchangerate",
        "fullname",
        "address1_composite",
        "address2_composite",
        "address3_composite",
        "entityimage_url",
        "entityimage_timestamp",
        "createdbyexternalparty",
        "modifiedbyexternalparty",
        "merged",
        "opendeals",
        "opendeals_date",
        "opendeals_state",
        "openrevenue",
        "openrevenue_base",
        "openrevenue_date",
        "openrevenue_state",
        "yomifullname",
        "timespentbymeonemailandmeetings",
    }
)
#: Attributes the real service does not return on a row (not valid for read).
NOT_READABLE = frozenset({"isprivate"})


@dataclass(eq=False)
class Column:
    """One Web API property of a table (a real column, not a *name/*yominame companion)."""

    logical: str
    kind: str  # AttributeType, or "Image" / "MultiSelectPicklist" for those virtual kinds
    prop: str = ""  # Web API property name: `_x_value` for lookups
    edm: str = ""
    date_only: bool = False  # DateTimeBehavior DateOnly -> Edm.Date
    date_format_only: bool = False  # Format DateOnly (shown without a time)
    targets: tuple[str, ...] = ()
    options: dict[int, str] = field(default_factory=dict)
    read_only: bool = False
    max_length: int = 0
    precision: int = 2
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.prop:
            self.prop = f"_{self.logical}_value" if self.kind in LOOKUP_KINDS else self.logical
        if not self.edm:
            self.edm = "Edm.Date" if self.date_only else EDM_TYPES[self.kind]
        self.read_only = self.read_only or self.logical in SYSTEM_READ_ONLY or self.logical.endswith("_base")
        if self.kind in ("String", "Memo") and not self.max_length:
            self.max_length = 2000 if self.kind == "Memo" else (160 if self.logical == "name" else 100)

    @property
    def is_lookup(self) -> bool:
        return self.kind in LOOKUP_KINDS

    @property
    def is_string(self) -> bool:
        return self.edm == "Edm.String"


@dataclass
class Nav:
    """A navigation property. Single-valued: `column` is this table's lookup. Collection: it is the
    lookup on `target` that points back here (and, when polymorphic, must name this table)."""

    name: str
    source: str
    target: str
    column: str
    collection: bool
    relationship: str


@dataclass(eq=False)
class Table:
    logical: str
    set_name: str
    pk: str
    primary_name: str
    schema_name: str
    columns: dict[str, Column] = field(default_factory=dict)  # by logical name, in metadata order
    alternate_keys: list[tuple[str, ...]] = field(default_factory=list)
    navs: dict[str, Nav] = field(default_factory=dict)
    attribute_meta: list[dict[str, Any]] = field(default_factory=list)  # all attributes incl. virtual
    entity_meta: dict[str, Any] = field(default_factory=dict)
    object_type_code: int = 0
    display_name: str = ""
    display_collection_name: str = ""

    def __post_init__(self) -> None:
        self.props: dict[str, Column] = {}

    def index(self) -> None:
        self.props = {c.prop: c for c in self.columns.values()}

    def column_for_prop(self, prop: str) -> Column | None:
        return self.props.get(prop)


@dataclass(eq=False)
class Schema:
    tables: dict[str, Table]

    def __post_init__(self) -> None:
        self.by_set = {t.set_name: t for t in self.tables.values()}


def load_json_resource(name: str) -> Any:
    data = resources.files("d365conn.sandbox.schema").joinpath(name).read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    return json.loads(data)


def label_of(label: dict[str, Any] | None) -> str:
    if not label:
        return ""
    user = label.get("UserLocalizedLabel")
    if user:
        return str(user.get("Label", ""))
    localized = label.get("LocalizedLabels") or []
    return str(localized[0]["Label"]) if localized else ""


def options_of(meta: dict[str, Any]) -> dict[int, str]:
    option_set = meta.get("OptionSet") or {}
    if option_set.get("OptionSetType") == "Boolean" or "TrueOption" in option_set:
        return {
            0: label_of(option_set["FalseOption"]["Label"]),
            1: label_of(option_set["TrueOption"]["Label"]),
        }
    return {int(o["Value"]): label_of(o.get("Label")) for o in option_set.get("Options") or []}


def column_from_metadata(meta: dict[str, Any]) -> Column | None:
    """The Web API property for one attribute, or None when the service returns no such property
    (companion *name / *yominame attributes, EntityName, plain virtual ones)."""
    logical = str(meta["LogicalName"])
    kind = str(meta["AttributeType"])
    type_name = (meta.get("AttributeTypeName") or {}).get("Value", "")
    attribute_of = meta.get("AttributeOf")
    if logical in NOT_READABLE or kind == "EntityName":
        return None
    if kind == "Virtual":
        if type_name == "ImageType":
            kind = "Image"
        elif type_name == "MultiSelectPicklistType":
            kind = "MultiSelectPicklist"
        else:
            return None
    elif attribute_of is not None and not str(attribute_of).endswith("imageid"):
        return None
    behaviour = (meta.get("DateTimeBehavior") or {}).get("Value")
    return Column(
        logical=logical,
        kind=kind,
        date_only=kind == "DateTime" and behaviour == "DateOnly",
        date_format_only=kind == "DateTime" and meta.get("Format") == "DateOnly",
        targets=tuple(meta.get("Targets") or ()),
        options=options_of(meta)
        if kind in CHOICE_KINDS or kind in ("Boolean", "MultiSelectPicklist")
        else {},
        precision=10 if logical == "exchangerate" else (5 if kind == "Double" else 2),
        meta=meta,
    )


@cache
def real_table_metadata(logical: str) -> dict[str, Any]:
    result: dict[str, Any] = load_json_resource(f"{logical}.json.gz")
    return result
