"""Column names of a write -> the properties of a JSON body, with the same naming as reads.

Owns: checking that each named column may be written (read-only, derived ``<x>name`` columns,
columns not valid for create or update -- all refused before any request) and building a row's
body: plain values through :func:`~d365conn.writes.values.json_value`, lookups as
``<navigation>@odata.bind: "/<set>(<guid>)"``.

A polymorphic lookup (customer, owner) has one navigation property per target table
(``parentcustomerid_account``, ``parentcustomerid_contact``). Its target comes from the
``<name>type`` column written in the same statement (``parentcustomeridtype = 'contact'``); without
it, the GUID is looked up in each target table by the executor (:class:`~.ops.PolymorphicRef`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..catalog.model import CatalogView, Column, Table
from ..exceptions import DataError, ProgrammingError
from ..planner.names import unknown
from .ops import PolymorphicRef
from .values import guid_of, json_value

Action = Literal["insert", "update", "upsert"]

_DERIVED = {"lookup_name": "lookup", "choice_name": "choice", "multichoice_name": "multi-select choice"}


def resolve(table: Table, name: str) -> Column:
    col = table.column(name)
    if col is None:
        raise unknown("column", name, [c.name for c in table.columns], table.name)
    return col


def check_writable(table: Table, col: Column, action: Action, companions: Sequence[Column]) -> None:
    """Refuse a column that the service would refuse, with a message saying what to write instead."""
    if col.role in _DERIVED:
        base = next(
            (
                c
                for c in table.columns
                if c.property == col.property
                and c.role != col.role
                and c.role in ("lookup", "choice", "multichoice", "attribute")
            ),
            None,
        )
        hint = f"; write {base.name} instead" if base is not None else ""
        if col.role == "choice_name" and base is not None:
            hint += " (it takes the label as well as the number)"
        raise ProgrammingError(
            f"{table.name}.{col.name} is read-only: it is the label of a {_DERIVED[col.role]}{hint}"
        )
    if col.role == "lookup_type":
        if not any(c.role == "lookup" and c.property == col.property for c in companions):
            lookup = next(
                (c.name for c in table.columns if c.role == "lookup" and c.property == col.property), ""
            )
            raise ProgrammingError(
                f"{table.name}.{col.name} names the target table of {lookup}; it can only be written "
                f"together with {lookup}"
            )
        return
    if col.read_only:
        raise ProgrammingError(f"{table.name}.{col.name} is read-only (the service computes it)")
    if action in ("insert", "upsert") and not col.insertable:
        raise ProgrammingError(f"{table.name}.{col.name} cannot be set when a row is created")
    if action in ("update", "upsert") and not col.updatable:
        if col.primary_key:
            raise ProgrammingError(f"{table.name}.{col.name} is the primary key: it cannot be changed")
        raise ProgrammingError(f"{table.name}.{col.name} cannot be changed once a row exists")
    if action == "insert" and not table.insertable:
        raise ProgrammingError(f"the service does not allow inserting into {table.name}")
    if action in ("update", "upsert") and not table.updatable:
        raise ProgrammingError(f"the service does not allow updating {table.name}")


def check_columns(table: Table, columns: Sequence[Column], action: Action) -> None:
    seen: set[str] = set()
    for col in columns:
        if col.name.casefold() in seen:
            raise ProgrammingError(f"column {col.name} is given twice")
        seen.add(col.name.casefold())
        check_writable(table, col, action, columns)


@dataclass
class BodyBuilder:
    """Builds row bodies for one table; remembers entity sets of lookup targets."""

    catalog: CatalogView
    table: Table
    _sets: dict[str, str] = field(default_factory=dict)

    def entity_set(self, logical: str) -> str:
        found = self._sets.get(logical)
        if found is None:
            target = self.catalog.find_table(logical)
            if target is None:
                raise ProgrammingError(f"the lookup target table {logical!r} is not in the catalog")
            found = self._sets[logical] = target.entity_set
        return found

    def bind_entry(self, col: Column, target: str, guid: object) -> tuple[str, str]:
        """``("<nav>@odata.bind", "/<set>(<guid>)")`` for a lookup pointing at ``target``."""
        nav = col.navigation.get(target)
        if nav is None:
            raise DataError(
                f"{self.table.name}.{col.name} cannot point to a {target} (targets: {', '.join(col.targets)})"
            )
        return f"{nav}@odata.bind", f"/{self.entity_set(target)}({guid})"

    def _target_of(self, col: Column, type_value: object) -> str:
        if not isinstance(type_value, str):
            raise DataError(f"{self.table.name}.{col.name}type must name a table, got {type_value!r}")
        folded = type_value.strip().casefold()
        for target in col.targets:
            if folded == target.casefold() or folded == self.entity_set(target).casefold():
                return target
        raise DataError(
            f"{self.table.name}.{col.name} cannot point to {type_value!r}; "
            f"its targets are {', '.join(col.targets)}"
        )

    def body(
        self, pairs: Sequence[tuple[Column, object]], *, creating: bool = False
    ) -> tuple[dict[str, Any], tuple[PolymorphicRef, ...]]:
        """The JSON body for column values (in statement order) and lookups still to be resolved.

        When ``creating``, a NULL lookup is left out: a new row's lookup is empty anyway, and a
        null ``@odata.bind`` names a navigation property the service may not expose (a lookup to a
        table outside the org's metadata), which it refuses with 0x80048d19.
        """
        types = {c.property: v for c, v in pairs if c.role == "lookup_type"}
        body: dict[str, Any] = {}
        pending: list[PolymorphicRef] = []
        for col, value in pairs:
            if col.role == "lookup_type":
                continue
            if col.role != "lookup":
                body[col.property or col.name] = json_value(self.table, col, value)
                continue
            if value is None:
                if creating:
                    continue
                nav = col.navigation.get(col.targets[0]) if col.targets else None
                if nav is None:
                    raise DataError(f"{self.table.name}.{col.name}: no navigation property to clear it by")
                body[f"{nav}@odata.bind"] = None
                continue
            guid = guid_of(value, f"{self.table.name}.{col.name}")
            type_value = types.get(col.property)
            if type_value is not None:
                target = self._target_of(col, type_value)
            elif len(col.targets) == 1:
                target = col.targets[0]
            else:
                pending.append(PolymorphicRef(col, guid))
                continue
            name, ref = self.bind_entry(col, target, guid)
            body[name] = ref
        return body, tuple(pending)


__all__ = ["BodyBuilder", "check_columns", "check_writable", "resolve"]
