"""Dataverse table definitions -> catalog Tables, named the way the TDS endpoint names columns.

Owns: the pure mapping (no I/O) from an ``EntityDefinitions`` entry (``Attributes``, ``Keys``,
``ManyToOneRelationships``, merged with the typed attribute details of the cast requests) to a
``Table``, and the account of every attribute that did not become a column of its own.

The rules, per attribute (``AttributeType`` / ``AttributeTypeName``):
- String, Memo, Integer, BigInt, Decimal, Money, Double, Boolean, DateTime, Uniqueidentifier,
  EntityName, Image: one column of the logical name. DateTime with DateTimeBehavior ``DateOnly`` is
  ``Edm.Date`` (that is how the Web API types it); Money is ``Edm.Decimal`` with its precision as
  scale (4 when the precision comes from the currency or the organisation); Image is ``Edm.Binary``.
- Lookup, Customer, Owner: ``<x>`` (Edm.Guid, property ``_<x>_value``) + the name column
  (``<x>name``, or the name Dataverse itself gives it: ``masterid`` -> ``masteraccountidname``)
  + for polymorphic lookups the type column (``owneridtype``).
- Picklist, State, Status: ``<x>`` (Edm.Int32) + ``<x>name`` (label). Boolean also gets ``<x>name``
  (its Yes/No label), as on the TDS endpoint. MultiSelectPicklist (a Virtual attribute): ``<x>``
  (the ``"1,2"`` text the service sends) + ``<x>name``.
- The ``*name`` / ``*yominame`` / ``*type`` attributes whose ``AttributeOf`` is such a lookup or
  choice are those companions: they are never Web API properties. Yomi (phonetic) names have no
  Web API source at all and are left out.
- Left out with a reason: ``IsValidForRead`` or ``IsValidODataAttribute`` false, ManagedProperty,
  CalendarRules, PartyList and other Virtual attributes (file columns...), which the Web API does
  not return as plain values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from d365conn.catalog.loader import TableEntry
from d365conn.catalog.model import (
    FORMATTED,
    LOOKUP_LOGICAL_NAME,
    Column,
    ColumnRole,
    ForeignKey,
    Option,
    Table,
)

LOOKUP_KINDS = frozenset({"Lookup", "Customer", "Owner"})
CHOICE_KINDS = frozenset({"Picklist", "State", "Status"})
#: Parents whose AttributeOf-companions are derived columns, not properties.
COMPANION_PARENTS = LOOKUP_KINDS | CHOICE_KINDS | {"Boolean", "MultiSelectPicklist"}
PLAIN_EDM = {
    "String": "Edm.String", "Memo": "Edm.String", "EntityName": "Edm.String",
    "Integer": "Edm.Int32", "BigInt": "Edm.Int64", "Decimal": "Edm.Decimal", "Money": "Edm.Decimal",
    "Double": "Edm.Double", "Boolean": "Edm.Boolean", "DateTime": "Edm.DateTimeOffset",
    "Uniqueidentifier": "Edm.Guid", "Image": "Edm.Binary",
}
DECIMAL_PRECISION = 23  # Dataverse decimals: up to 100,000,000,000 with 10 places
MONEY_PRECISION = 19  # money: SQL money range, 4 places stored


@dataclass
class Built:
    """A built table plus the attributes that are not columns of their own, with the reason."""

    table: Table
    excluded: dict[str, str] = field(default_factory=dict)
    #: companion attribute -> the derived column that carries it (``owneridname`` -> ``owneridname``).
    companions: dict[str, str] = field(default_factory=dict)


def label_of(label: Any) -> str | None:
    """The user's label of a Dataverse ``Label`` complex value, else the first localized one."""
    if not isinstance(label, Mapping):
        return None
    user = label.get("UserLocalizedLabel")
    if isinstance(user, Mapping) and user.get("Label") is not None:
        return str(user["Label"])
    for loc in label.get("LocalizedLabels") or ():
        if isinstance(loc, Mapping) and loc.get("Label") is not None:
            return str(loc["Label"])
    return None


def attribute_kind(attr: Mapping[str, Any]) -> str:
    """AttributeType, refined where the Web API needs the type name (multi-select, image)."""
    type_name = (attr.get("AttributeTypeName") or {}).get("Value") if isinstance(
        attr.get("AttributeTypeName"), Mapping) else None
    odata_type = str(attr.get("@odata.type") or "")
    if type_name == "MultiSelectPicklistType" or odata_type.endswith("MultiSelectPicklistAttributeMetadata"):
        return "MultiSelectPicklist"
    if type_name == "ImageType" or odata_type.endswith("ImageAttributeMetadata"):
        return "Image"
    return str(attr.get("AttributeType") or "")


def options_of(attr: Mapping[str, Any]) -> tuple[Option, ...]:
    """The options of a choice / multi-select / boolean attribute (expanded ``OptionSet``)."""
    option_set = attr.get("OptionSet")
    if not isinstance(option_set, Mapping):
        return ()
    if "TrueOption" in option_set or "FalseOption" in option_set:
        pairs = [(1, option_set.get("TrueOption")), (0, option_set.get("FalseOption"))]
        return tuple(Option(value, label_of(opt.get("Label")) or str(value))
                     for value, opt in pairs if isinstance(opt, Mapping))
    out = []
    for opt in option_set.get("Options") or ():
        if isinstance(opt, Mapping) and isinstance(opt.get("Value"), int):
            out.append(Option(int(opt["Value"]), label_of(opt.get("Label")) or str(opt["Value"])))
    return tuple(out)


def _date_only(attr: Mapping[str, Any]) -> bool:
    behavior = attr.get("DateTimeBehavior")
    value = behavior.get("Value") if isinstance(behavior, Mapping) else behavior
    if value:
        return str(value) == "DateOnly"
    # Definitions from before DateTimeBehavior existed: the format is all there is to go on.
    return attr.get("Format") == "DateOnly" and "DateTimeBehavior" not in attr


def _required(attr: Mapping[str, Any]) -> bool:
    level = attr.get("RequiredLevel")
    value = level.get("Value") if isinstance(level, Mapping) else level
    return value == "SystemRequired"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def build_table(
    definition: Mapping[str, Any],
    index: Mapping[str, TableEntry],
) -> Built:
    """Build the Table of one ``EntityDefinitions`` entry whose ``Attributes`` carry the typed details
    (MaxLength, Precision, Targets, DateTimeBehavior, OptionSet) merged in."""
    logical = str(definition["LogicalName"])
    attrs: dict[str, Mapping[str, Any]] = {}
    for attr in definition.get("Attributes") or ():
        attrs[str(attr["LogicalName"])] = attr
    kinds = {name: attribute_kind(a) for name, a in attrs.items()}
    primary_id = definition.get("PrimaryIdAttribute") or next(
        (n for n, a in attrs.items() if a.get("IsPrimaryId")), None) or (
        f"{logical}id" if f"{logical}id" in attrs else None)
    built = Built(table=Table(name=logical, entity_set="", columns=()))
    companions: dict[str, list[str]] = {}
    regular: list[str] = []
    for name in sorted(attrs):
        parent = attrs[name].get("AttributeOf")
        if parent and kinds.get(str(parent)) in COMPANION_PARENTS:
            companions.setdefault(str(parent), []).append(name)
        else:
            regular.append(name)
    relationships: dict[str, list[Mapping[str, Any]]] = {}
    for rel in definition.get("ManyToOneRelationships") or ():
        relationships.setdefault(str(rel.get("ReferencingAttribute")), []).append(rel)

    columns: list[Column] = []
    foreign_keys: list[ForeignKey] = []
    used = set(regular)
    for name in regular:
        attr, kind = attrs[name], kinds[name]
        if attr.get("IsValidForRead") is False:
            built.excluded[name] = "not valid for read (IsValidForRead false)"
            continue
        if attr.get("IsValidODataAttribute") is False:
            built.excluded[name] = "not a Web API property (IsValidODataAttribute false)"
            continue
        if kind not in PLAIN_EDM and kind not in LOOKUP_KINDS and kind not in CHOICE_KINDS \
                and kind != "MultiSelectPicklist":
            type_name = attr.get("AttributeTypeName")
            detail = type_name.get("Value") if isinstance(type_name, Mapping) else None
            built.excluded[name] = (f"{kind or 'untyped'} attribute{f' ({detail})' if detail else ''}: "
                                    "no plain value in the Web API")
            continue
        own = {c: kinds[c] for c in sorted(companions.get(name, ()))}
        insertable = attr.get("IsValidForCreate") is not False
        updatable = attr.get("IsValidForUpdate") is not False
        common: dict[str, Any] = {
            "attribute_type": kind, "insertable": insertable, "updatable": updatable,
            "read_only": not insertable and not updatable,
            "nullable": not (name == primary_id or _required(attr)),
            "primary_key": name == primary_id,
        }
        if kind in LOOKUP_KINDS:
            cols, fks = _lookup_columns(name, attr, own=own, rels=relationships.get(name, []), index=index,
                                        common=common, built=built, used=used)
            columns.extend(cols)
            foreign_keys.extend(fks)
            continue
        if kind in CHOICE_KINDS or kind in ("MultiSelectPicklist", "Boolean"):
            columns.extend(_choice_columns(name, attr, kind=kind, own=own, common=common,
                                           built=built, used=used))
            continue
        edm = "Edm.Date" if kind == "DateTime" and _date_only(attr) else PLAIN_EDM[kind]
        precision = scale = None
        if kind == "Money":
            source = _int(attr.get("PrecisionSource"))
            scale = _int(attr.get("Precision")) if source in (0, None) else 4
            precision, scale = MONEY_PRECISION, 4 if scale is None else scale
        elif kind == "Decimal":
            precision, scale = DECIMAL_PRECISION, _int(attr.get("Precision"))
        columns.append(Column(
            name=name, edm_type=edm, property=name, source=name, select=name,
            max_length=_int(attr.get("MaxLength")) if kind in ("String", "Memo") else None,
            precision=precision, scale=scale, **common,
        ))
    for parent, names in companions.items():
        for name in names:
            if name not in built.companions and name not in built.excluded:
                reason = ("yomi (phonetic) name: no Web API source" if name.endswith("yominame")
                          else f"companion of {parent}, which is not a column")
                built.excluded[name] = reason
    listed = index.get(logical.casefold())
    built.table = Table(
        name=logical,
        entity_set=str(definition.get("EntitySetName") or (listed.entity_set if listed else logical)),
        columns=tuple(columns),
        primary_key=(primary_id,) if primary_id else (),
        primary_name=definition.get("PrimaryNameAttribute"),
        alternate_keys=_alternate_keys(definition),
        foreign_keys=tuple(foreign_keys),
        entity_type=f"Microsoft.Dynamics.CRM.{logical}",
        description=label_of(definition.get("Description")),
    )
    return built


def _alternate_keys(definition: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    keys = []
    for key in definition.get("Keys") or ():
        status = key.get("EntityKeyIndexStatus")
        if status not in (None, "Active"):
            continue  # a key whose index is still being built (or failed) cannot be used yet
        attributes = tuple(str(a) for a in key.get("KeyAttributes") or ())
        if attributes:
            keys.append(attributes)
    return tuple(keys)


def _pick(own: Mapping[str, str], base: str) -> tuple[str | None, str | None]:
    """The companions Dataverse defines for ``base``: (name column, type column), yomi names aside.

    ``own`` maps companion logical name -> its kind. The type column is the EntityName companion;
    the name column is ``<base>name`` when it exists, else the one other companion
    (``masterid`` -> ``masteraccountidname``, ``donotsendmm`` -> ``donotsendmarketingmaterialname``).
    """
    type_col = next((c for c, k in own.items() if k == "EntityName"), None)
    names = [c for c, k in own.items() if k != "EntityName" and not c.endswith("yominame")]
    name_col = f"{base}name" if f"{base}name" in names else (names[0] if names else None)
    return name_col, type_col


def _lookup_columns(
    name: str, attr: Mapping[str, Any], *, own: Mapping[str, str], rels: list[Mapping[str, Any]],
    index: Mapping[str, TableEntry], common: dict[str, Any], built: Built, used: set[str],
) -> tuple[list[Column], list[ForeignKey]]:
    prop = f"_{name}_value"
    targets = tuple(str(t) for t in attr.get("Targets") or ()) or tuple(
        dict.fromkeys(str(r.get("ReferencedEntity")) for r in rels))
    navigation: dict[str, str] = {}
    for rel in rels:
        ent, nav = str(rel.get("ReferencedEntity")), rel.get("ReferencingEntityNavigationPropertyName")
        if ent in targets and nav:
            navigation[ent] = str(nav)
    # Owner lookups relate to the abstract ``owner`` table through one navigation property that
    # accepts every target (systemuser, team).
    nav_key = "ReferencingEntityNavigationPropertyName"
    shared = [str(r[nav_key]) for r in rels
              if str(r.get("ReferencedEntity")) not in targets and r.get(nav_key)]
    for target in targets:
        if target not in navigation:
            if len(shared) == 1:
                navigation[target] = shared[0]
            elif not rels:
                # No relationships in the definition: the Web API's naming convention.
                navigation[target] = name if len(targets) == 1 else f"{name}_{target}"
    name_col, type_col = _pick(own, name)
    name_col = name_col or f"{name}name"
    polymorphic = len(targets) > 1
    if polymorphic:
        type_col = type_col or f"{name}type"
    name_path = None
    if len(targets) == 1 and targets[0] in navigation:
        entry = index.get(targets[0].casefold())
        if entry is not None and entry.primary_name:
            name_path = f"{navigation[targets[0]]}/{entry.primary_name}"
    columns = [Column(
        name=name, edm_type="Edm.Guid", role="lookup", property=prop, source=prop, select=prop,
        targets=targets, navigation=navigation,
        # $orderby on a lookup sorts by the related row's primary name, not by the GUID.
        sortable=False, **common,
    )]
    derived = {"attribute_type": common["attribute_type"], "read_only": True, "insertable": False,
               "updatable": False, "targets": targets, "navigation": navigation}
    if name_col not in used:
        used.add(name_col)
        columns.append(Column(
            name=name_col, edm_type="Edm.String", role="lookup_name", property=prop,
            source=prop + FORMATTED, select=prop, filterable=name_path is not None,
            # ``$orderby=_x_value`` sorts by the related row's primary name: this column's order.
            filter_path=name_path, sortable=True, **derived,
        ))
        built.companions[name_col] = name_col
    if type_col and type_col not in used:
        used.add(type_col)
        columns.append(Column(
            name=type_col, edm_type="Edm.String", role="lookup_type", property=prop,
            source=prop + LOOKUP_LOGICAL_NAME, select=prop, filterable=False, sortable=False, **derived,
        ))
        built.companions[type_col] = type_col
    fks = []
    for target in targets:
        entry = index.get(target.casefold())
        referenced = next((str(r["ReferencedAttribute"]) for r in rels
                           if r.get("ReferencedEntity") == target and r.get("ReferencedAttribute")), None)
        fks.append(ForeignKey(
            column=name, target_table=target,
            target_column=(entry.primary_id if entry and entry.primary_id else referenced or f"{target}id"),
            navigation=navigation.get(target, name),
        ))
    return columns, fks


def _choice_columns(
    name: str, attr: Mapping[str, Any], *, kind: str, own: Mapping[str, str], common: dict[str, Any],
    built: Built, used: set[str],
) -> list[Column]:
    options = options_of(attr)
    role: ColumnRole
    name_role: ColumnRole
    if kind == "MultiSelectPicklist":
        base_edm, role, name_role = "Edm.String", "multichoice", "multichoice_name"
    elif kind == "Boolean":
        base_edm, role, name_role = "Edm.Boolean", "attribute", "choice_name"
    else:
        base_edm, role, name_role = "Edm.Int32", "choice", "choice_name"
    columns = [Column(name=name, edm_type=base_edm, role=role, property=name, source=name, select=name,
                      options=options, **common)]
    name_col, _ = _pick(own, name)
    name_col = name_col or f"{name}name"
    if name_col not in used:
        used.add(name_col)
        columns.append(Column(
            name=name_col, edm_type="Edm.String", role=name_role, property=name,
            source=name + FORMATTED, select=name, options=options, attribute_type=kind,
            read_only=True, insertable=False, updatable=False,
            # Labels are not stored: the service can neither filter nor sort by them directly
            # (the planner may translate a label comparison through ``options``).
            filterable=False, sortable=False,
        ))
        built.companions[name_col] = name_col
    return columns
