"""The contract between the Catalog and a metadata loader.

Owns: ``TableEntry`` (one line of a service's table list: enough to resolve a name and to build
foreign keys without loading the target table), the ``Loader`` protocol that the Dataverse and
plain-OData loaders implement, and the I/O callables a loader receives. Loaders do their I/O only
through ``fetch_json``/``fetch_text`` (the transport's methods, passed in by the connection), so
this package holds no HTTP code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from d365conn.catalog.model import Table
from d365conn.catalog.service import ServiceKind

#: GET a path relative to the service root (``EntityDefinitions?$select=...``), parsed JSON back.
FetchJson = Callable[[str], Any]
#: GET a path relative to the service root, the body as text (``$metadata``).
FetchText = Callable[[str], str]


@dataclass(frozen=True)
class TableEntry:
    """A table as listed by the service, before its columns are loaded."""

    name: str
    entity_set: str
    primary_id: str | None = None
    primary_name: str | None = None
    #: Dataverse MetadataId (stable across renames; DeletedMetadata reports these ids).
    metadata_id: str | None = None
    entity_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TableEntry:
        return cls(
            name=str(data["name"]), entity_set=str(data["entity_set"]),
            primary_id=data.get("primary_id"), primary_name=data.get("primary_name"),
            metadata_id=data.get("metadata_id"), entity_type=data.get("entity_type"),
        )


@dataclass(frozen=True)
class Changes:
    """What changed in the service's metadata since a version stamp.

    ``tables`` is None when the service cannot say (no stamp yet, the stamp expired, or the
    service offers no change tracking): every cached table must then be treated as stale.
    ``list_changed`` says whether the table list itself may have changed (tables added/removed).
    """

    stamp: str | None
    tables: frozenset[str] | None
    list_changed: bool = True


class Loader(Protocol):
    """Reads a service's metadata; the Catalog decides when (laziness, cache, refresh policy)."""

    kind: ServiceKind

    def list_tables(self) -> list[TableEntry]:
        """The service's tables (cheap: no columns)."""

    def load_table(self, entry: TableEntry, index: Mapping[str, TableEntry]) -> Table:
        """One table with its columns and keys; ``index`` (logical name -> entry, casefolded keys)
        names the other tables, for foreign keys and lookup name paths."""

    def changes_since(self, stamp: str | None) -> Changes:
        """The current metadata version stamp and what changed since ``stamp``."""
