"""The catalog's data model: tables and columns as SQL sees them, and how each maps to OData.

Owns: the frozen values that the catalog loaders produce and the planner, executor, writer and
SQLAlchemy dialect consume. No I/O here.

Naming follows the Dataverse TDS endpoint so queries port between the two:
- a plain attribute is a column of its logical name (``name``, ``revenue``);
- a lookup ``primarycontactid`` is the GUID column ``primarycontactid`` (OData property
  ``_primarycontactid_value``) plus ``primarycontactidname`` (the display name, from the
  FormattedValue annotation) and, for polymorphic lookups, ``<name>type`` (the target table,
  from the ``lookuplogicalname`` annotation);
- a choice ``industrycode`` is the integer column ``industrycode`` plus ``industrycodename`` (the label).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

#: Where a column's value comes from in an OData row.
ColumnRole = Literal[
    "attribute",  # a plain property: value = row[property]
    "lookup",  # a lookup's GUID: value = row["_x_value"]
    "lookup_name",  # a lookup's display name: row["_x_value@OData.Community.Display.V1.FormattedValue"]
    # a polymorphic lookup's target table: row["_x_value@Microsoft.Dynamics.CRM.lookuplogicalname"]
    "lookup_type",
    "choice",  # a choice's integer value (choice, state, status)
    "choice_name",  # a choice's label: row["x@OData.Community.Display.V1.FormattedValue"]
    "multichoice",  # multi-select choice: the service sends "1,2,3"; exposed as that text
    "multichoice_name",  # labels of a multi-select choice, "; "-separated as the service formats them
]

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL_NAME = "@Microsoft.Dynamics.CRM.lookuplogicalname"


@dataclass(frozen=True)
class Option:
    """One value of a choice (option set)."""

    value: int
    label: str


@dataclass(frozen=True)
class Column:
    """A column as SQL sees it.

    ``property`` is the OData property the value lives in (``_x_value`` for lookups), ``source`` the
    JSON key to read from a row (the property itself, or the property plus an annotation suffix).
    ``filterable``/``sortable`` say whether the service can use the column in $filter/$orderby
    (derived columns such as ``<lookup>name`` are not filterable by that name; the planner may use
    a navigation path instead, recorded in ``filter_path``).
    """

    name: str
    edm_type: str
    role: ColumnRole = "attribute"
    property: str = ""
    source: str = ""
    nullable: bool = True
    read_only: bool = False
    primary_key: bool = False
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    #: Dataverse AttributeType (String, Money, Lookup, Picklist...) or None for plain OData.
    attribute_type: str | None = None
    #: For lookups: the tables the lookup may point to (several for customer/owner lookups).
    targets: tuple[str, ...] = ()
    #: For lookups: target table -> navigation property used for $expand and @odata.bind.
    navigation: Mapping[str, str] = field(default_factory=dict)
    #: For choices: the options with their labels.
    options: tuple[Option, ...] = ()
    filterable: bool = True
    sortable: bool = True
    #: A path the service can filter/sort by instead of ``property`` (e.g. ``primarycontactid/fullname``).
    filter_path: str | None = None
    #: The column's select-able OData property: what goes into $select to get this column's value.
    select: str | None = None
    description: str | None = None
    #: Whether a value may be given on INSERT / UPDATE (Dataverse IsValidForCreate / IsValidForUpdate;
    #: for plain OData, Core.Computed/Immutable and the entity set's restrictions).
    insertable: bool = True
    updatable: bool = True
    #: For OData enum properties: the qualified enum type (``Microsoft.NAV.contactType``); the JSON
    #: value is the member name as a string, ``options`` hold the members.
    enum_type: str | None = None

    # ``builtins.property``: the field named ``property`` above shadows the builtin in this class body.
    @builtins.property
    def display_size(self) -> int | None:
        return self.max_length


@dataclass(frozen=True)
class ForeignKey:
    """A lookup column seen as a foreign key (one per possible target table)."""

    column: str
    target_table: str
    target_column: str
    navigation: str


@dataclass(frozen=True)
class Table:
    """A table: a Dataverse table, a Business Central page/API entity, or an OData entity set."""

    name: str  # logical name (``account``); for plain OData the entity set name
    entity_set: str  # URL segment (``accounts``)
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    primary_name: str | None = None
    alternate_keys: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    #: Entity type name as the service knows it (``Microsoft.Dynamics.CRM.account``).
    entity_type: str | None = None
    description: str | None = None
    #: Supports the CreateMultiple/UpdateMultiple/UpsertMultiple actions.
    bulk_actions: bool = False
    #: A version stamp of the metadata this came from (for cache refresh decisions).
    version: str | None = None
    #: What the service allows on the entity set (Capabilities Insert/Update/DeleteRestrictions).
    insertable: bool = True
    updatable: bool = True
    deletable: bool = True

    def column(self, name: str) -> Column | None:
        """The column named ``name`` (case-insensitive), or None."""
        folded = name.casefold()
        for col in self.columns:
            if col.name.casefold() == folded:
                return col
        return None


class CatalogView(Protocol):
    """What the planner sees of a catalog: pure lookups (the loader behind it may fetch lazily)."""

    def find_table(self, name: str) -> Table | None:
        """The table by logical name or entity set name (case-insensitive), or None."""

    def table_names(self) -> list[str]:
        """All table names known, for 'did you mean' hints and INFORMATION_SCHEMA."""
