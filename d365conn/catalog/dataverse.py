"""The Dataverse metadata loader: table list, table definitions, change tracking, bulk-action probe.

Owns: the Web API metadata requests (their exact URLs are below) and the merging of their
answers into one definition per table, which ``dataverse_columns.build_table`` maps to a Table.
All I/O goes through the ``fetch_json`` callable it is given.

Requests (paths relative to the service root ``.../api/data/v9.2/``):
- table list (once): ``EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute,
  PrimaryNameAttribute,IsPrivate`` (MetadataId always comes back). Private tables and tables
  without an entity set are not reachable through the Web API and are left out.
- per table, lazily: ``EntityDefinitions(LogicalName='x')?$select=<table props>&$expand=
  Attributes($select=<base attribute props>),Keys(...),ManyToOneRelationships(...)``; then, only
  for the attribute kinds the table has and only when the base answer lacks the detail, the typed
  casts ``EntityDefinitions(LogicalName='x')/Attributes/Microsoft.Dynamics.CRM.<Type>?$select=...``
  for String/Memo (MaxLength), Money/Decimal/Double (Precision), DateTime (DateTimeBehavior),
  Lookup (Targets) and, with ``$expand=OptionSet(...)``, Picklist/State/Status/MultiSelectPicklist/
  Boolean (labels). Derived-type properties cannot be named in ``$select`` on the base type, hence
  the casts (Microsoft's "Query table definitions using the Web API").
- metadata version: ``RetrieveMetadataChanges(Query=@q[,ClientVersionStamp=@s])`` with a query
  that asks only for LogicalName. Its ``ServerVersionStamp`` is the version; given the previous
  stamp it lists only the tables changed since (attribute changes included) and the deleted ones.
  An expired stamp (error 0x80044352) or a service without the function makes every cached table
  stale: correct, just slower.
- CreateMultiple support (lazily, per table, only the writer asks): ``sdkmessagefilters`` joined
  to ``sdkmessageid/name eq 'CreateMultiple'`` for the table's logical name — how Microsoft's
  bulk-operation docs say to tell which tables have the message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from d365conn.catalog.dataverse_columns import Built, attribute_kind, build_table
from d365conn.catalog.loader import Changes, FetchJson, TableEntry
from d365conn.catalog.model import Table
from d365conn.catalog.service import ServiceKind
from d365conn.exceptions import Error, ProgrammingError

_LOGICAL_NAME = re.compile(r"^[A-Za-z0-9_]+$")

TABLE_LIST = ("EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute,"
              "PrimaryNameAttribute,IsPrivate")
TABLE_PROPS = "LogicalName,EntitySetName,SchemaName,PrimaryIdAttribute,PrimaryNameAttribute,Description"
ATTRIBUTE_PROPS = ("LogicalName,AttributeType,AttributeTypeName,AttributeOf,IsValidForRead,"
                   "IsValidODataAttribute,IsValidForCreate,IsValidForUpdate,IsPrimaryId,IsPrimaryName,"
                   "RequiredLevel")
KEY_PROPS = "LogicalName,KeyAttributes,EntityKeyIndexStatus"
RELATIONSHIP_PROPS = ("ReferencingAttribute,ReferencedEntity,ReferencedAttribute,"
                      "ReferencingEntityNavigationPropertyName")
_OPTIONS = "$select=LogicalName&$expand=OptionSet($select=Options)"
#: (cast type, the attribute kinds it covers, the details it brings, its query).
CASTS: tuple[tuple[str, frozenset[str], tuple[str, ...], str], ...] = (
    ("StringAttributeMetadata", frozenset({"String"}), ("MaxLength",),
     "$select=LogicalName,MaxLength,Format"),
    ("MemoAttributeMetadata", frozenset({"Memo"}), ("MaxLength",), "$select=LogicalName,MaxLength"),
    ("MoneyAttributeMetadata", frozenset({"Money"}), ("Precision",),
     "$select=LogicalName,Precision,PrecisionSource"),
    ("DecimalAttributeMetadata", frozenset({"Decimal"}), ("Precision",), "$select=LogicalName,Precision"),
    ("DoubleAttributeMetadata", frozenset({"Double"}), ("Precision",), "$select=LogicalName,Precision"),
    ("DateTimeAttributeMetadata", frozenset({"DateTime"}), ("DateTimeBehavior",),
     "$select=LogicalName,Format,DateTimeBehavior"),
    ("LookupAttributeMetadata", frozenset({"Lookup", "Customer", "Owner"}), ("Targets",),
     "$select=LogicalName,Targets"),
    ("PicklistAttributeMetadata", frozenset({"Picklist"}), ("OptionSet",), _OPTIONS),
    ("StateAttributeMetadata", frozenset({"State"}), ("OptionSet",), _OPTIONS),
    ("StatusAttributeMetadata", frozenset({"Status"}), ("OptionSet",), _OPTIONS),
    ("MultiSelectPicklistAttributeMetadata", frozenset({"MultiSelectPicklist"}), ("OptionSet",), _OPTIONS),
    ("BooleanAttributeMetadata", frozenset({"Boolean"}), ("OptionSet",),
     "$select=LogicalName&$expand=OptionSet($select=TrueOption,FalseOption)"),
)


def definition_path(logical_name: str) -> str:
    """``EntityDefinitions(LogicalName='x')`` for a validated logical name."""
    if not _LOGICAL_NAME.match(logical_name):
        raise ProgrammingError(f"not a Dataverse logical name: {logical_name!r}")
    return f"EntityDefinitions(LogicalName='{logical_name}')"


def table_query(logical_name: str) -> str:
    """The one request for a table's definition with its attributes, keys and N:1 relationships."""
    return (f"{definition_path(logical_name)}?$select={TABLE_PROPS}"
            f"&$expand=Attributes($select={ATTRIBUTE_PROPS}),Keys($select={KEY_PROPS}),"
            f"ManyToOneRelationships($select={RELATIONSHIP_PROPS})")


def _values(payload: Any) -> list[Mapping[str, Any]]:
    if isinstance(payload, Mapping):
        value = payload.get("value")
        if isinstance(value, list):
            return [v for v in value if isinstance(v, Mapping)]
    if isinstance(payload, list):
        return [v for v in payload if isinstance(v, Mapping)]
    return []


def merge_casts(
    definition: Mapping[str, Any], cast_results: Mapping[str, list[Mapping[str, Any]]],
) -> dict[str, Any]:
    """The definition with each attribute's typed details (from the cast answers) merged in."""
    details: dict[str, dict[str, Any]] = {}
    for rows in cast_results.values():
        for row in rows:
            name = str(row.get("LogicalName"))
            details.setdefault(name, {}).update({k: v for k, v in row.items() if not k.startswith("@")})
    merged = dict(definition)
    attributes = definition.get("Attributes") or ()
    merged["Attributes"] = [{**attr, **details.get(str(attr.get("LogicalName")), {})} for attr in attributes]
    return merged


def needed_casts(definition: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(cast type, query) for the attribute kinds present whose details the base answer lacks."""
    attrs = [a for a in definition.get("Attributes") or () if isinstance(a, Mapping)]
    out = []
    for cast, kinds, brings, query in CASTS:
        of_kind = [a for a in attrs if attribute_kind(a) in kinds and not a.get("AttributeOf")]
        if any(any(key not in a for key in brings) for a in of_kind):
            out.append((cast, query))
    return out


class DataverseLoader:
    """Loads Dataverse metadata through ``fetch_json`` (GET relative to the service root)."""

    kind: ServiceKind = "dataverse"

    def __init__(self, fetch_json: FetchJson) -> None:
        self._fetch = fetch_json

    def list_tables(self) -> list[TableEntry]:
        entries = []
        for row in _values(self._fetch(TABLE_LIST)):
            name, entity_set = row.get("LogicalName"), row.get("EntitySetName")
            if not name or not entity_set or row.get("IsPrivate") is True:
                continue
            entries.append(TableEntry(
                name=str(name), entity_set=str(entity_set),
                primary_id=row.get("PrimaryIdAttribute"), primary_name=row.get("PrimaryNameAttribute"),
                metadata_id=row.get("MetadataId"), entity_type=f"Microsoft.Dynamics.CRM.{name}",
            ))
        return entries

    def fetch_definition(self, logical_name: str) -> dict[str, Any]:
        """The table's definition, typed attribute details merged in (the requests above)."""
        definition = self._fetch(table_query(logical_name))
        if not isinstance(definition, Mapping):
            raise Error(f"EntityDefinitions(LogicalName='{logical_name}') did not return an object")
        casts: dict[str, list[Mapping[str, Any]]] = {}
        for cast, query in needed_casts(definition):
            path = f"{definition_path(logical_name)}/Attributes/Microsoft.Dynamics.CRM.{cast}?{query}"
            casts[cast] = _values(self._fetch(path))
        return merge_casts(definition, casts)

    def build(self, logical_name: str, index: Mapping[str, TableEntry]) -> Built:
        """The table and the account of its attributes that are not columns of their own."""
        return build_table(self.fetch_definition(logical_name), index)

    def load_table(self, entry: TableEntry, index: Mapping[str, TableEntry]) -> Table:
        return self.build(entry.name, index).table

    def changes_since(self, stamp: str | None) -> Changes:
        names_only = {"Properties": {"AllProperties": False, "PropertyNames": ["LogicalName"]}}
        query: dict[str, Any] = dict(names_only)
        if stamp:
            # With a stamp, ask for attributes too, so that a changed column marks its table.
            query["AttributeQuery"] = names_only
        path = "RetrieveMetadataChanges(Query=@q" + (",ClientVersionStamp=@s)" if stamp else ")")
        path += "?@q=" + quote(json.dumps(query, separators=(",", ":")), safe="")
        if stamp:
            path += "&@s=" + quote("'" + stamp.replace("'", "''") + "'", safe="")
        try:
            payload = self._fetch(path)
        except Error:
            # Expired stamp (0x80044352) or no such function: nothing is known, all is stale.
            return Changes(stamp=None, tables=None)
        if not isinstance(payload, Mapping):
            return Changes(stamp=None, tables=None)
        new_stamp = payload.get("ServerVersionStamp")
        if not stamp:
            return Changes(stamp=str(new_stamp) if new_stamp else None, tables=None)
        changed = {str(e["LogicalName"]) for e in payload.get("EntityMetadata") or () if e.get("LogicalName")}
        deleted = payload.get("DeletedMetadata") or {}
        has_deleted = bool(isinstance(deleted, Mapping) and deleted.get("Count"))
        return Changes(
            stamp=str(new_stamp) if new_stamp else None,
            tables=frozenset(changed),
            list_changed=bool(changed) or has_deleted,
        )

    def supports_bulk_actions(self, logical_name: str) -> bool:
        """Whether the table has the CreateMultiple message (an sdkmessagefilter row for it)."""
        definition_path(logical_name)  # validates the name
        flt = f"primaryobjecttypecode eq '{logical_name}' and sdkmessageid/name eq 'CreateMultiple'"
        path = "sdkmessagefilters?$select=sdkmessagefilterid&$filter=" + quote(flt, safe="'/") + "&$top=1"
        try:
            return bool(_values(self._fetch(path)))
        except Error:
            return False
