"""`EntityDefinitions`: table and attribute metadata in the real JSON shape.

Owns: the metadata resources — `EntityDefinitions` (list, `$select`, `$filter` on its properties),
`EntityDefinitions(LogicalName='x')` (with `$expand` of Attributes / relationships / Keys),
`.../Attributes`, `.../Attributes(LogicalName='y')` and the type casts such as
`.../Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet`.
account and opportunity answer with the real captured attribute metadata; the hand-written
tables with attribute metadata built from their columns in the same shape.
"""

from __future__ import annotations

import copy
import re
import uuid
from functools import lru_cache
from typing import Any

from d365conn.sandbox.errors import ODATA_URI_ERROR, ServiceError, unknown_name, unsupported
from d365conn.sandbox.filterparse import Node, parse_filter, split_top_level
from d365conn.sandbox.model import Column, Schema, Table, load_json_resource

TYPE_NAMES = {"Image": "ImageType", "MultiSelectPicklist": "MultiSelectPicklistType"}
METADATA_CLASS = {
    "String": "String",
    "Memo": "Memo",
    "Integer": "Integer",
    "BigInt": "BigInt",
    "Decimal": "Decimal",
    "Double": "Double",
    "Money": "Money",
    "Boolean": "Boolean",
    "DateTime": "DateTime",
    "Lookup": "Lookup",
    "Customer": "Lookup",
    "Owner": "Lookup",
    "Picklist": "Picklist",
    "State": "State",
    "Status": "Status",
    "EntityName": "EntityName",
    "Image": "Image",
    "MultiSelectPicklist": "MultiSelectPicklist",
}
NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def _label(text: str) -> dict[str, Any]:
    label = {"Label": text, "LanguageCode": 1033, "IsManaged": True, "MetadataId": None, "HasChanged": None}
    return {"LocalizedLabels": [label], "UserLocalizedLabel": label}


def _metadata_id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


@lru_cache(maxsize=1)
def _account_definition() -> dict[str, Any]:
    result: dict[str, Any] = load_json_resource("account_entitydefinition.json.gz")
    return result


def entity_definition(schema: Schema, table: Table) -> dict[str, Any]:
    """The table-level properties, with the real account definition as the template."""
    base = {
        k: v
        for k, v in _account_definition().items()
        if not k.startswith("@")
        and k not in ("OneToManyRelationships", "ManyToManyRelationships", "ManyToOneRelationships")
    }
    if table.logical == "account":
        return copy.deepcopy(base)
    result = copy.deepcopy(base)
    result.update(
        {
            "MetadataId": _metadata_id("entity", table.logical),
            "LogicalName": table.logical,
            "SchemaName": table.schema_name,
            "EntitySetName": table.set_name,
            "LogicalCollectionName": table.set_name,
            "CollectionSchemaName": table.schema_name + "s",
            "PrimaryIdAttribute": table.pk,
            "PrimaryNameAttribute": table.primary_name,
            "ObjectTypeCode": table.object_type_code,
            "ReportViewName": f"Filtered{table.schema_name}",
            "PrimaryImageAttribute": "entityimage" if "entityimage" in table.columns else None,
            "OwnershipType": "UserOwned" if "ownerid" in table.columns else "BusinessOwned",
            "DisplayName": _label(table.display_name),
            "DisplayCollectionName": _label(table.display_collection_name),
            "Description": _label(f"{table.display_name} records."),
            "MobileOfflineFilters": None,
            "IsActivityParty": table.logical in ("contact", "systemuser"),
        }
    )
    return result


def _attribute_from_column(table: Table, column: Column) -> dict[str, Any]:
    kind = column.kind
    cls = METADATA_CLASS.get(kind)
    item: dict[str, Any] = {}
    if cls is not None:
        item["@odata.type"] = f"#Microsoft.Dynamics.CRM.{cls}AttributeMetadata"
    item.update(
        {
            "LogicalName": column.logical,
            "SchemaName": column.logical.capitalize(),
            "AttributeType": "Virtual" if kind in ("Image", "MultiSelectPicklist") else kind,
            "AttributeTypeName": {"Value": TYPE_NAMES.get(kind, f"{kind}Type")},
            "MetadataId": _metadata_id("attribute", table.logical, column.logical),
            "HasChanged": None,
            "AttributeOf": None,
            "EntityLogicalName": table.logical,
            "DisplayName": _label(column.logical),
            "Description": _label(""),
            "RequiredLevel": {
                "Value": "SystemRequired" if column.logical == table.primary_name else "None",
                "CanBeChanged": True,
                "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
            },
        }
    )
    if column.is_lookup:
        item["Targets"] = list(column.targets)
        item["Format"] = None
    if kind in ("String", "Memo"):
        item["MaxLength"] = column.max_length
        item["Format"] = "TextArea" if kind == "Memo" else "Text"
    if kind == "DateTime":
        item["Format"] = "DateOnly" if column.date_only or column.date_format_only else "DateAndTime"
        item["DateTimeBehavior"] = {"Value": "DateOnly" if column.date_only else "UserLocal"}
    if kind in ("Picklist", "State", "Status", "Boolean", "MultiSelectPicklist"):
        item["OptionSet"] = _option_set(table, column)
    return item


def _option_set(table: Table, column: Column) -> dict[str, Any]:
    def option(value: int, text: str) -> dict[str, Any]:
        return {
            "Value": value,
            "Color": None,
            "IsManaged": True,
            "ExternalValue": None,
            "ParentValues": [],
            "Tag": None,
            "IsHidden": False,
            "MetadataId": None,
            "HasChanged": None,
            "Label": _label(text),
            "Description": _label(""),
        }

    base = {
        "Name": f"{table.logical}_{column.logical}",
        "IsCustomOptionSet": False,
        "IsGlobal": False,
        "IsManaged": True,
        "MetadataId": _metadata_id("optionset", table.logical, column.logical),
        "HasChanged": None,
        "ExternalTypeName": None,
        "IntroducedVersion": "5.0.0.0",
        "ParentOptionSetName": None,
    }
    if column.kind == "Boolean":
        return {
            **base,
            "OptionSetType": "Boolean",
            "TrueOption": option(1, column.options.get(1, "Yes")),
            "FalseOption": option(0, column.options.get(0, "No")),
        }
    kind = {"State": "State", "Status": "Status"}.get(column.kind, "Picklist")
    return {
        **base,
        "OptionSetType": kind,
        "Options": [option(v, t) for v, t in sorted(column.options.items())],
    }


@lru_cache(maxsize=16)
def _attributes_cached(schema_id: int, table_name: str, schema: Schema) -> tuple[dict[str, Any], ...]:
    table = schema.tables[table_name]
    primary = {table.pk, table.primary_name}
    if table.attribute_meta:
        result = []
        for meta in table.attribute_meta:
            item = {k: v for k, v in meta.items()}
            odata_type = item.pop("@odata.type", None)
            out: dict[str, Any] = {}
            if odata_type:
                out["@odata.type"] = odata_type.replace(".Complex", ".")
            out.update(item)
            out["EntityLogicalName"] = table.logical
            out["IsPrimaryId"] = meta["LogicalName"] == table.pk
            out["IsPrimaryName"] = meta["LogicalName"] == table.primary_name
            column = table.columns.get(meta["LogicalName"])
            out["IsValidForRead"] = column is not None
            out["IsValidForCreate"] = column is not None and not column.read_only
            out["IsValidForUpdate"] = (
                column is not None and not column.read_only and column.logical != table.pk
            )
            out["IsValidODataAttribute"] = column is not None
            if out["LogicalName"] in primary and out.get("RequiredLevel"):
                out["RequiredLevel"] = dict(out["RequiredLevel"], Value="SystemRequired")
            result.append(out)
        return tuple(result)
    built = []
    for column in table.columns.values():
        item = _attribute_from_column(table, column)
        item.update(
            {
                "IsPrimaryId": column.logical == table.pk,
                "IsPrimaryName": column.logical == table.primary_name,
                "IsValidForRead": True,
                "IsValidForCreate": not column.read_only,
                "IsValidForUpdate": not column.read_only and column.logical != table.pk,
                "IsValidODataAttribute": True,
            }
        )
        built.append(item)
    return tuple(built)


def attributes(schema: Schema, table: Table) -> list[dict[str, Any]]:
    return list(_attributes_cached(id(schema), table.logical, schema))


def relationships(schema: Schema, table: Table, kind: str) -> list[dict[str, Any]]:
    if table.logical == "account":
        return copy.deepcopy(_account_definition().get(kind, []))
    result = []
    for nav in table.navs.values():
        single = not nav.collection
        if kind == "ManyToManyRelationships" or (kind == "ManyToOneRelationships") != single:
            continue
        referencing = table.logical if single else nav.target
        referenced = nav.target if single else table.logical
        if referenced == "principal":
            continue
        referenced_table = schema.tables[referenced]
        result.append(
            {
                "MetadataId": _metadata_id("relationship", nav.relationship),
                "HasChanged": None,
                "IsCustomRelationship": False,
                "IsValidForAdvancedFind": True,
                "SchemaName": nav.relationship,
                "SecurityTypes": "Append",
                "IsManaged": True,
                "RelationshipType": "OneToManyRelationship",
                "IntroducedVersion": "5.0.0.0",
                "ReferencedAttribute": referenced_table.pk,
                "ReferencedEntity": referenced,
                "ReferencingAttribute": nav.column,
                "ReferencingEntity": referencing,
                "IsHierarchical": False,
                "EntityKey": None,
                "IsRelationshipAttributeDenormalized": False,
                "ReferencedEntityNavigationPropertyName": nav.relationship,
                "ReferencingEntityNavigationPropertyName": nav.name if single else nav.column,
                "RelationshipBehavior": 0,
                "IsDenormalizedLookup": None,
                "DenormalizedAttributeName": None,
            }
        )
    return result


def keys(table: Table) -> list[dict[str, Any]]:
    return [
        {
            "MetadataId": _metadata_id("key", table.logical, *key),
            "LogicalName": f"{table.logical}_{'_'.join(key)}",
            "SchemaName": f"{table.logical}_{'_'.join(key)}",
            "KeyAttributes": list(key),
            "EntityLogicalName": table.logical,
            "EntityKeyIndexStatus": "Active",
            "DisplayName": _label(key[0]),
        }
        for key in table.alternate_keys
    ]


# -- a small evaluator for $filter over metadata properties --------------------------------------


def matches(node: Node | None, item: dict[str, Any]) -> bool:
    if node is None:
        return True
    kind = node[0]
    if kind == "and":
        return matches(node[1], item) and matches(node[2], item)
    if kind == "or":
        return matches(node[1], item) or matches(node[2], item)
    if kind == "not":
        return not matches(node[1], item)
    if kind == "cmp":
        left, right = _value(node[2], item), _value(node[3], item)
        if isinstance(left, str) and isinstance(right, str):
            left, right = left.lower(), right.lower()
        op = node[1]
        if op == "eq":
            return bool(left == right)
        if op == "ne":
            return bool(left != right)
        if left is None or right is None:
            return False
        return bool({"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op])
    raise unsupported("Only comparisons, and, or and not are supported when filtering metadata.")


def _value(node: Node, item: dict[str, Any]) -> Any:
    if node[0] == "lit":
        return node[1]
    if node[0] == "path":
        value: Any = item
        for segment in node[1]:
            if not isinstance(value, dict) or segment not in value:
                raise ServiceError(
                    400, ODATA_URI_ERROR, f"Could not find a property named '{segment}' on the metadata type."
                )
            value = value[segment]
        return value
    raise unsupported("Unsupported operand when filtering metadata.")


def project(
    item: dict[str, Any], select: list[str] | None, always: tuple[str, ...] = ("MetadataId",)
) -> dict[str, Any]:
    if select is None:
        return item
    out = {k: v for k, v in item.items() if k.startswith("@")}
    for name in select:
        if name in item:
            out[name] = item[name]
    for name in always:
        if name in item:
            out[name] = item[name]
    return out


def parse_metadata_options(params: list[tuple[str, str]]) -> tuple[list[str] | None, Node | None, str | None]:
    select = filter_node = expand = None
    for key, value in params:
        if key == "$select":
            select = split_top_level(value)
        elif key == "$filter":
            filter_node = parse_filter(value)
        elif key == "$expand":
            expand = value
        elif key.startswith("$") and key not in ("$count",):
            raise unsupported(f"The query parameter {key} is not supported")
    return select, filter_node, expand


def strip_option_sets(item: dict[str, Any], expand_option_set: bool) -> dict[str, Any]:
    if expand_option_set:
        return item
    return {k: v for k, v in item.items() if k not in ("OptionSet", "GlobalOptionSet")}


def expand_entity(schema: Schema, table: Table, entity: dict[str, Any], expand: str | None) -> None:
    for item in split_top_level(expand or ""):
        match = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", item, re.DOTALL)
        if match is None:
            raise unsupported(f"Syntax error in $expand: '{item}'.")
        name, inner = match.group(1), match.group(2) or ""
        select = filter_node = None
        for option in split_top_level(inner, ";"):
            key, _, value = option.partition("=")
            if key.strip() == "$select":
                select = split_top_level(value)
            elif key.strip() == "$filter":
                filter_node = parse_filter(value)
        if name == "Attributes":
            rows = [strip_option_sets(a, False) for a in attributes(schema, table)]
        elif name in ("OneToManyRelationships", "ManyToOneRelationships", "ManyToManyRelationships"):
            rows = relationships(schema, table, name)
        elif name == "Keys":
            rows = keys(table)
        else:
            raise unknown_name(name, "Microsoft.Dynamics.CRM.EntityMetadata")
        entity[name] = [project(r, select) for r in rows if matches(filter_node, r)]
