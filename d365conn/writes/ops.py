"""Row operations: what one changed row becomes on the wire (pure values, no I/O).

Owns: :class:`Operation` -- create (POST), update (PATCH with ``If-Match``), upsert (PATCH, optionally
``If-None-Match: *``) or delete (DELETE) of one row, addressed by :class:`Key` (the primary key
GUID or an alternate key's values) -- and the retry rule each one carries (:meth:`Operation.idempotent`).

Retry rules (the transport repeats a request after a lost answer only when ``idempotent``):

- POST (create) never: a second POST would create a second row. It is repeated only after a 429 or
  when the connection could not be opened -- the two cases where the service provably did not act.
- PATCH with ``If-Match: *`` (UPDATE by key) or without conditions (upsert) writes the same values
  to the same key: a repeat leaves the row as one application would. Repeated.
- PATCH with ``If-Match: <etag>`` is not repeated: if the first attempt applied, the repeat would
  fail with 412 and report a conflict that did not happen.
- PATCH with ``If-None-Match: *`` (insert if absent) is not repeated: a repeat would find the row
  it created and report it as already present.
- DELETE is repeated; a repeat of a delete that did apply answers 404, which the statement counts
  as "not found" (the row is gone either way: the data is right, the rowcount may say 0 for it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from ..catalog.model import Column, Table
from ..exceptions import DataError
from ..planner.values import Unpushable, odata_literal

OpKind = Literal["create", "update", "upsert", "delete"]
#: Characters left as they are in a key segment: OData key syntax and unreserved characters.
_KEY_SAFE = "'=,-._~:@!$*()"


@dataclass(frozen=True)
class Key:
    """How a row is addressed: its primary key, or the values of one alternate key."""

    columns: tuple[Column, ...]
    values: tuple[object, ...]

    def segment(self) -> str:
        """The key inside ``<set>(...)``: ``<guid>`` or ``accountnumber='A-1',x=2``."""
        if len(self.columns) == 1 and self.columns[0].primary_key and self.columns[0].edm_type == "Edm.Guid":
            return str(self.values[0])
        parts = []
        for col, value in zip(self.columns, self.values, strict=True):
            try:
                parts.append(f"{col.property or col.name}={odata_literal(value, col.edm_type, col.name)}")
            except Unpushable:
                raise DataError(
                    f"{col.name}: {value!r} cannot address a row (key column of {col.edm_type})"
                ) from None
        return ",".join(parts)

    def describe(self) -> str:
        return ", ".join(f"{c.name}={v}" for c, v in zip(self.columns, self.values, strict=True))


@dataclass(frozen=True)
class PolymorphicRef:
    """A lookup GUID whose target table must be found by looking the GUID up (no ``<name>type`` given)."""

    column: Column
    guid: uuid.UUID


@dataclass
class Operation:
    """One row to change. ``row`` is its 0-based index in the statement (the parameter set for
    ``executemany``, the VALUES row, or the n-th matched row), used in error reports."""

    kind: OpKind
    table: Table
    body: dict[str, Any] = field(default_factory=dict)
    key: Key | None = None
    if_match: str | None = None
    if_none_match: str | None = None
    row: int = 0
    #: A 404 (update/delete) or a 412 on ``If-None-Match`` means "no row matched": 0 rows, no error.
    absent_ok: bool = False
    #: The row was just read (it matched a WHERE), so no existence check is needed before batching.
    verified: bool = False
    #: Lookups whose target table is found by looking their GUID up before sending.
    pending: tuple[PolymorphicRef, ...] = ()

    @property
    def method(self) -> str:
        return {"create": "POST", "update": "PATCH", "upsert": "PATCH", "delete": "DELETE"}[self.kind]

    def path(self) -> str:
        """The resource below the service root."""
        if self.kind == "create" or self.key is None:
            return self.table.entity_set
        # Alternate-key values are text: percent-encode what would end the path (# ? / % &, spaces).
        return f"{self.table.entity_set}({quote(self.key.segment(), safe=_KEY_SAFE)})"

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.if_match is not None:
            headers["If-Match"] = self.if_match
        if self.if_none_match is not None:
            headers["If-None-Match"] = self.if_none_match
        return headers

    def json_body(self) -> dict[str, Any] | None:
        return None if self.kind == "delete" else self.body

    @property
    def idempotent(self) -> bool:
        """Whether repeating the request after a lost answer cannot apply the change twice."""
        if self.kind == "create":
            return False
        if self.kind == "delete":
            return True
        if self.if_none_match is not None:
            return False
        return self.if_match in (None, "*")

    def describe(self) -> str:
        where = f" ({self.key.describe()})" if self.key is not None else ""
        return f"row {self.row}: {self.method} {self.path()}{where}"


__all__ = ["Key", "OpKind", "Operation", "PolymorphicRef"]
