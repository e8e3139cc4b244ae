"""Dataverse's bulk actions: CreateMultiple and UpsertMultiple (many rows in one request).

Owns: which operations a bulk action can carry (:func:`bulk_action_for`), the request
(``POST <set>/Microsoft.Dynamics.CRM.<Action>`` with ``{"Targets": [...]}``, each target typed
with ``@odata.type``) and reading the created ids from the answer.

A bulk call is all-or-nothing: the service rolls the whole call back on any error, and its error
does not say which target failed. Rows that must be reported one by one (``ContinueOnError``), or
that carry conditions (``If-Match``/``If-None-Match``, "0 rows when absent"), go through
``$batch`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..catalog.model import Table
from .ops import Operation


def bulk_action_for(ops: Sequence[Operation]) -> str | None:
    """``"CreateMultiple"`` / ``"UpsertMultiple"`` when every operation fits it, else None."""
    if not ops:
        return None
    table = ops[0].table
    if any(op.table is not table or op.if_match or op.if_none_match or op.absent_ok for op in ops):
        return None
    if all(op.kind == "create" for op in ops):
        return "CreateMultiple"
    pk = table.primary_key
    if len(pk) == 1 and all(
        op.kind == "upsert" and op.key is not None and op.key.columns[0].primary_key for op in ops
    ):
        return "UpsertMultiple"
    return None


def entity_type(table: Table) -> str:
    name = table.entity_type or f"Microsoft.Dynamics.CRM.{table.name}"
    return name.lstrip("#")


def bulk_request(action: str, ops: Sequence[Operation]) -> tuple[str, dict[str, Any]]:
    """``(path below the service root, JSON body)`` of one bulk call."""
    table = ops[0].table
    kind = entity_type(table)
    targets: list[dict[str, Any]] = []
    for op in ops:
        target: dict[str, Any] = {"@odata.type": kind, **op.body}
        if action == "UpsertMultiple" and op.key is not None:
            target[op.key.columns[0].property or op.key.columns[0].name] = str(op.key.values[0])
        targets.append(target)
    return f"{table.entity_set}/Microsoft.Dynamics.CRM.{action}", {"Targets": targets}


def created_ids(action: str, document: Any, count: int) -> list[str | None]:
    """The id of each target, in order, from a CreateMultiple / UpsertMultiple answer."""
    if not isinstance(document, dict):
        return [None] * count
    if action == "CreateMultiple":
        ids = document.get("Ids")
        return [str(i) for i in ids] if isinstance(ids, list) and len(ids) == count else [None] * count
    results = document.get("Results")
    if isinstance(results, list) and len(results) == count:
        return [str(r.get("Id")) if isinstance(r, dict) and r.get("Id") else None for r in results]
    return [None] * count


__all__ = ["bulk_action_for", "bulk_request", "created_ids", "entity_type"]
