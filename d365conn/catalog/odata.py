"""The plain OData v4 loader: a ``$metadata`` CSDL document -> catalog Tables.

Owns: a streaming CSDL reader (``parse_csdl``) that keeps only what the catalog needs (entity,
enum and type-definition types, entity sets, the annotations that matter), and ``ODataLoader``,
which builds one Table per entity set on demand. Works for any OData v4 service: Business Central
(``Microsoft.NAV``), SAP CAP, or Dataverse's own ``$metadata``.

Decisions:
- Tables are entity sets (singletons and function imports are not tables), named by the set name.
- A type's properties are its base types' first (``BaseType`` chains), then its own; the key is
  the nearest one declared along the chain.
- Enum properties are text columns (the JSON value is the member name), ``enum_type`` and
  ``options`` record the enum; type definitions resolve to their underlying type.
- Complex-typed, collection-typed, stream and geo properties are left out deliberately: they are
  not scalar values a SQL column can hold, and ``$select`` cannot reach inside them in OData 4.0.
- A single-valued navigation property with ``ReferentialConstraint`` gives foreign keys (one per
  constrained property) to the entity set the navigation binds to (``NavigationPropertyBinding``,
  else the one set of the target type).
- ``Core.Computed`` -> neither insertable nor updatable; ``Core.Immutable`` -> not updatable;
  ``Capabilities`` Insert/Update/Delete/Sort/FilterRestrictions and ``OData.Community.Keys.V1.
  AlternateKeys`` are honoured, inline or as external ``Annotations`` elements, aliases resolved.
- The document comes from the service: a DTD (the vehicle of entity-expansion attacks) is refused
  before parsing, and expat never fetches external entities.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from d365conn.catalog.loader import Changes, FetchText, TableEntry
from d365conn.catalog.model import Column, ForeignKey, Option, Table
from d365conn.catalog.service import ServiceKind
from d365conn.exceptions import OperationalError

CORE = "Org.OData.Core.V1."
CAPABILITIES = "Org.OData.Capabilities.V1."
ALTERNATE_KEYS = "OData.Community.Keys.V1.AlternateKeys"
_UNSUPPORTED_TYPES = re.compile(r"^(Collection\(|Edm\.Stream$|Edm\.Geography|Edm\.Geometry|Edm\.Untyped$)")
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass
class CsdlProperty:
    name: str
    type: str
    nullable: bool = True
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None


@dataclass
class CsdlNavigation:
    name: str
    type: str
    constraints: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class CsdlEntityType:
    qname: str
    base: str | None = None
    key: list[str] | None = None
    properties: list[CsdlProperty] = field(default_factory=list)
    navigations: list[CsdlNavigation] = field(default_factory=list)


@dataclass
class CsdlEntitySet:
    name: str
    entity_type: str
    bindings: dict[str, str] = field(default_factory=dict)


@dataclass
class CsdlModel:
    """What the catalog keeps of a CSDL document."""

    entity_types: dict[str, CsdlEntityType] = field(default_factory=dict)
    enum_types: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: type definition -> its underlying type, with the facets it fixes (MaxLength, Precision, Scale)
    type_definitions: dict[str, CsdlProperty] = field(default_factory=dict)
    complex_types: set[str] = field(default_factory=set)
    entity_sets: dict[str, CsdlEntitySet] = field(default_factory=dict)
    #: annotation target (``NS.Type/prop``, ``NS.Type``, ``Container/Set``) -> {term: element}
    annotations: dict[str, dict[str, ET.Element]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    container: str = ""

    def resolve(self, name: str) -> str:
        """A qualified name with its alias (``mscrm.account``) replaced by the namespace."""
        if name.startswith("Collection(") and name.endswith(")"):
            return f"Collection({self.resolve(name[11:-1])})"
        head, _, tail = name.rpartition(".")
        return f"{self.aliases.get(head, head)}.{tail}" if head else name


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _int_attr(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _bool_attr(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() == "true"


def parse_csdl(document: str | bytes) -> CsdlModel:
    """Read a ``$metadata`` document incrementally; OperationalError if it is not usable CSDL."""
    data = document.encode("utf-8") if isinstance(document, str) else document
    if _DTD.search(data):
        raise OperationalError("the service's $metadata contains a DTD; refusing to parse it")
    model = CsdlModel()
    namespace = ""
    try:
        # S314: the DTD check above removes entity expansion; expat resolves no external entities.
        for event, elem in ET.iterparse(io.BytesIO(data), events=("start", "end")):  # noqa: S314
            tag = _local(elem.tag)
            if event == "start":
                if tag == "Schema":
                    namespace = elem.get("Namespace", "")
                    if elem.get("Alias"):
                        model.aliases[elem.get("Alias", "")] = namespace
                elif tag == "Include" and elem.get("Alias"):
                    model.aliases[elem.get("Alias", "")] = elem.get("Namespace", "")
                elif tag == "EntityContainer":
                    model.container = f"{namespace}.{elem.get('Name', '')}"
                continue
            reader = _READERS.get(tag)
            if reader is not None:
                reader(model, namespace, elem)
                # Keep only what the readers took: a tens-of-MB document never sits in memory whole.
                elem.clear()
    except ET.ParseError as err:
        raise OperationalError(f"the service's $metadata is not well-formed XML: {err}") from None
    return model


def _read_entity_type(model: CsdlModel, ns: str, elem: ET.Element) -> None:
    etype = CsdlEntityType(qname=f"{ns}.{elem.get('Name')}",
                           base=model.resolve(elem.get("BaseType", "")) or None)
    for child in elem:
        tag = _local(child.tag)
        if tag == "Key":
            etype.key = [ref.get("Name", "") for ref in child if _local(ref.tag) == "PropertyRef"]
        elif tag == "Property":
            scale = child.get("Scale")
            etype.properties.append(CsdlProperty(
                name=child.get("Name", ""), type=model.resolve(child.get("Type", "")),
                nullable=_bool_attr(child.get("Nullable"), True),
                max_length=_int_attr(child.get("MaxLength")), precision=_int_attr(child.get("Precision")),
                # Edm.Decimal without Scale has scale 0 in CSDL; "variable"/"floating" is no fixed scale.
                scale=_int_attr(scale) if scale else (0 if child.get("Type") == "Edm.Decimal" else None),
            ))
            _inline_annotations(model, f"{etype.qname}/{child.get('Name')}", child)
        elif tag == "NavigationProperty":
            etype.navigations.append(CsdlNavigation(
                name=child.get("Name", ""), type=model.resolve(child.get("Type", "")),
                constraints=[(c.get("Property", ""), c.get("ReferencedProperty", ""))
                             for c in child if _local(c.tag) == "ReferentialConstraint"],
            ))
    _inline_annotations(model, etype.qname, elem)
    model.entity_types[etype.qname] = etype


def _read_enum(model: CsdlModel, ns: str, elem: ET.Element) -> None:
    members, implicit = [], 0
    for member in elem:
        if _local(member.tag) == "Member":
            value = member.get("Value")
            implicit = int(value) if value is not None and re.match(r"^-?\d+$", value) else implicit
            members.append((_decode_name(member.get("Name", "")), implicit))
            implicit += 1
    model.enum_types[f"{ns}.{elem.get('Name')}"] = members


def _read_complex(model: CsdlModel, ns: str, elem: ET.Element) -> None:
    model.complex_types.add(f"{ns}.{elem.get('Name')}")


def _read_type_definition(model: CsdlModel, ns: str, elem: ET.Element) -> None:
    underlying = model.resolve(elem.get("UnderlyingType", ""))
    scale = elem.get("Scale")
    model.type_definitions[f"{ns}.{elem.get('Name')}"] = CsdlProperty(
        name="", type=underlying, max_length=_int_attr(elem.get("MaxLength")),
        precision=_int_attr(elem.get("Precision")),
        scale=_int_attr(scale) if scale else (0 if underlying == "Edm.Decimal" else None),
    )


def _read_entity_set(model: CsdlModel, ns: str, elem: ET.Element) -> None:
    name = elem.get("Name", "")
    eset = CsdlEntitySet(name=name, entity_type=model.resolve(elem.get("EntityType", "")))
    for child in elem:
        if _local(child.tag) == "NavigationPropertyBinding":
            eset.bindings[child.get("Path", "")] = child.get("Target", "").rpartition("/")[2]
    model.entity_sets[name] = eset
    _inline_annotations(model, f"{model.container or ns}/{name}", elem)


def _read_annotations(model: CsdlModel, ns: str, elem: ET.Element) -> None:
    target = elem.get("Target", "")
    head, sep, tail = target.partition("/")
    _inline_annotations(model, model.resolve(head) + sep + tail, elem)


def _inline_annotations(model: CsdlModel, target: str, elem: ET.Element) -> None:
    for child in elem:
        if _local(child.tag) == "Annotation" and child.get("Term"):
            term = model.resolve(child.get("Term", ""))
            model.annotations.setdefault(target, {})[term] = child


_READERS = {
    "EntityType": _read_entity_type, "EnumType": _read_enum, "ComplexType": _read_complex,
    "TypeDefinition": _read_type_definition, "EntitySet": _read_entity_set, "Annotations": _read_annotations,
}


def _decode_name(name: str) -> str:
    """``Non_x002D_Inventory`` -> ``Non-Inventory`` (XML name escaping, as BC uses it)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), name)


def _annotation_bool(elem: ET.Element | None, prop: str | None = None, default: bool = True) -> bool | None:
    """The boolean an annotation states (``Bool=`` on the term, or on its record's PropertyValue)."""
    if elem is None:
        return None
    if prop is None:
        stated = elem.get("Bool")
        return _bool_attr(stated, default) if stated is not None or not list(elem) else default
    for pv in elem.iter():
        if _local(pv.tag) == "PropertyValue" and pv.get("Property") == prop:
            if pv.get("Bool") is not None:
                return _bool_attr(pv.get("Bool"), default)
            for b in pv:
                if _local(b.tag) == "Bool" and b.text:
                    return b.text.strip() == "true"
    return None


def _resolved(prop: CsdlProperty, model: CsdlModel) -> CsdlProperty:
    """A property typed by a type definition, as its underlying type with the definition's facets
    (unless the property restates them)."""
    typedef = model.type_definitions.get(prop.type)
    if typedef is None:
        return prop
    return CsdlProperty(
        name=prop.name, type=typedef.type, nullable=prop.nullable,
        max_length=prop.max_length or typedef.max_length, precision=prop.precision or typedef.precision,
        scale=typedef.scale if prop.scale in (None, 0) else prop.scale,
    )


def _restriction(notes: Mapping[str, ET.Element], term: str, prop: str) -> bool:
    return _annotation_bool(notes.get(CAPABILITIES + term), prop) is not False


def _annotation_paths(elem: ET.Element | None, prop: str) -> list[str]:
    if elem is None:
        return []
    out: list[str] = []
    for pv in elem.iter():
        if _local(pv.tag) == "PropertyValue" and pv.get("Property") == prop:
            out.extend(p.text.strip() for p in pv.iter() if _local(p.tag) == "PropertyPath" and p.text)
    return out


def _alternate_keys(elem: ET.Element | None) -> tuple[tuple[str, ...], ...]:
    if elem is None:
        return ()
    keys = []
    for record in elem.iter():
        if _local(record.tag) == "Record" and (record.get("Type") or "").endswith("AlternateKey"):
            names = [pv.get("PropertyPath", "") for pv in record.iter()
                     if _local(pv.tag) == "PropertyValue" and pv.get("Property") == "Name"]
            if names:
                keys.append(tuple(names))
    return tuple(keys)


class ODataLoader:
    """Loads tables from a service's ``$metadata`` (fetched once per loader through ``fetch_text``)."""

    kind: ServiceKind = "odata"

    def __init__(self, fetch_text: FetchText, *, kind: ServiceKind = "odata") -> None:
        self._fetch = fetch_text
        self.kind = kind  # "businesscentral" also reads its tables from $metadata
        self._text: str | None = None
        self._model: CsdlModel | None = None
        self._lock = threading.Lock()  # the Catalog loads tables from several threads

    def document(self) -> str:
        with self._lock:
            if self._text is None:
                self._text = self._fetch("$metadata")
            return self._text

    @property
    def model(self) -> CsdlModel:
        model = self._model
        if model is None:
            text = self.document()
            with self._lock:
                if self._model is None:
                    self._model = parse_csdl(text)
                model = self._model
        return model

    def list_tables(self) -> list[TableEntry]:
        out = []
        for eset in self.model.entity_sets.values():
            etype = self.model.entity_types.get(eset.entity_type)
            key = self._key(etype) if etype else None
            out.append(TableEntry(name=eset.name, entity_set=eset.name,
                                  primary_id=key[0] if key and len(key) == 1 else None,
                                  entity_type=eset.entity_type))
        return out

    def changes_since(self, stamp: str | None) -> Changes:
        # $metadata has no cheap version: its digest is the version, and it is fetched once per
        # connection. An unchanged digest keeps every cached table (and skips the parse).
        digest = hashlib.sha256(self.document().encode("utf-8")).hexdigest()[:32]
        if stamp == digest:
            return Changes(stamp=digest, tables=frozenset(), list_changed=False)
        return Changes(stamp=digest, tables=None)

    def _chain(self, etype: CsdlEntityType) -> Iterator[CsdlEntityType]:
        """The type and its bases, most basic first."""
        chain, seen = [], set()
        current: CsdlEntityType | None = etype
        while current is not None and current.qname not in seen:
            seen.add(current.qname)
            chain.append(current)
            current = self.model.entity_types.get(current.base) if current.base else None
        return reversed(chain)

    def _key(self, etype: CsdlEntityType) -> list[str] | None:
        key = None
        for t in self._chain(etype):
            key = t.key if t.key is not None else key
        return key

    def load_table(self, entry: TableEntry, index: Mapping[str, TableEntry]) -> Table:
        model = self.model
        eset = model.entity_sets[entry.name]
        etype = model.entity_types.get(eset.entity_type)
        if etype is None:
            raise OperationalError(f"$metadata: entity set {eset.name} has unknown type {eset.entity_type}")
        set_target = f"{model.container}/{eset.name}"
        set_notes = model.annotations.get(set_target, {})
        type_notes = model.annotations.get(etype.qname, {})
        sort = set_notes.get(CAPABILITIES + "SortRestrictions")
        flt = set_notes.get(CAPABILITIES + "FilterRestrictions")
        sortable = _annotation_bool(sort, "Sortable") is not False
        filterable = _annotation_bool(flt, "Filterable") is not False
        non_sortable = set(_annotation_paths(sort, "NonSortableProperties"))
        non_filterable = set(_annotation_paths(flt, "NonFilterableProperties"))
        key = self._key(etype) or []
        columns: list[Column] = []
        fks: list[ForeignKey] = []
        fk_targets: dict[str, tuple[str, str]] = {}
        for t in self._chain(etype):
            for nav in t.navigations:
                if nav.type.startswith("Collection(") or not nav.constraints:
                    continue
                bound = eset.bindings.get(nav.name) or self._set_of(nav.type)
                if bound is None:
                    continue
                for local, referenced in nav.constraints:
                    fks.append(ForeignKey(column=local, target_table=bound, target_column=referenced,
                                          navigation=nav.name))
                    fk_targets.setdefault(local, (bound, nav.name))
        for t in self._chain(etype):
            for declared in t.properties:
                prop = _resolved(declared, model)
                ptype = prop.type
                if _UNSUPPORTED_TYPES.match(ptype) or ptype in model.complex_types:
                    continue
                notes = model.annotations.get(f"{t.qname}/{prop.name}", {})
                computed = _annotation_bool(notes.get(CORE + "Computed")) is True
                immutable = _annotation_bool(notes.get(CORE + "Immutable")) is True
                enum = model.enum_types.get(ptype)
                fk_target = fk_targets.get(prop.name)
                columns.append(Column(
                    name=prop.name, edm_type="Edm.String" if enum is not None else ptype,
                    property=prop.name, source=prop.name, select=prop.name,
                    nullable=prop.nullable and prop.name not in key, primary_key=prop.name in key,
                    max_length=prop.max_length, precision=prop.precision,
                    scale=prop.scale if ptype == "Edm.Decimal" else None,
                    insertable=not computed, updatable=not computed and not immutable,
                    read_only=computed, enum_type=ptype if enum is not None else None,
                    options=tuple(Option(v, n) for n, v in enum) if enum else (),
                    targets=(fk_target[0],) if fk_target else (),
                    navigation={fk_target[0]: fk_target[1]} if fk_target else {},
                    filterable=filterable and prop.name not in non_filterable,
                    sortable=sortable and prop.name not in non_sortable,
                ))
        alternate = _alternate_keys(type_notes.get(ALTERNATE_KEYS) or set_notes.get(ALTERNATE_KEYS))
        return Table(
            name=eset.name, entity_set=eset.name, columns=tuple(columns), primary_key=tuple(key),
            alternate_keys=alternate, foreign_keys=tuple(fks), entity_type=etype.qname,
            insertable=_restriction(set_notes, "InsertRestrictions", "Insertable"),
            updatable=_restriction(set_notes, "UpdateRestrictions", "Updatable"),
            deletable=_restriction(set_notes, "DeleteRestrictions", "Deletable"),
        )

    def _set_of(self, qname: str) -> str | None:
        """The one entity set whose type is ``qname`` (first if several)."""
        return next((s.name for s in self.model.entity_sets.values() if s.entity_type == qname), None)
