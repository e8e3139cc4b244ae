"""Plans kept for repeated statements, with parameter values bound separately.

Owns: :class:`PlanCache`. An entry is keyed by (statement text, dialect, catalog identity,
capability row, page size). A statement without parameters caches its plan. A statement with
parameters caches a *template*: the plan made with every marker left open, each open value standing
in the plan's text as a sentinel together with what it must be (an OData literal of the Edm type
of the column it meets, an element of a Dataverse JSON value list, or a DuckDB literal). Binding
checks every value against its slot and writes it in one pass. A value that does not fit its slot
(a NULL where ``eq null`` would change the meaning, a string for a GUID column...) and a
statement whose parameters decide the request's shape (a LIKE pattern, a choice label, TOP ?) are
planned afresh with the values bound, as :func:`plan_statement` does; correctness never depends on
the cache.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from d365conn.catalog.model import CatalogView
from d365conn.exceptions import ProgrammingError
from d365conn.planner.capabilities import Capabilities
from d365conn.planner.context import SLOT_CLOSE, SLOT_OPEN, SlotBook, SlotUse
from d365conn.planner.filters import ValueDependent
from d365conn.planner.parse import check_shape, marker_shape, open_parameters, parse_statement
from d365conn.planner.plan import Plan
from d365conn.planner.planner import map_odata_text, new_context, plan_statement, plan_tree
from d365conn.planner.values import Unpushable, json_element, odata_literal, sql_literal

_SENTINEL = re.compile(f"'?{SLOT_OPEN}[0-9a-f]+:([0-9]+){SLOT_CLOSE}'?")


@dataclass(frozen=True)
class _Template:
    plan: Plan
    uses: tuple[SlotUse, ...]
    #: (positional markers, names of named markers): checked against each call's parameters.
    shape: tuple[int, tuple[str, ...]]


class _Replan:
    """Marker entry: the statement's parameters shape its plan; plan it with the values each time."""


_REPLAN = _Replan()
_Entry = Plan | _Template | _Replan


class PlanCache:
    """A bounded LRU cache of plans and plan templates. Thread-safe."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[Any, ...], tuple[CatalogView, Capabilities, _Entry]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def plan(
        self,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any] | None,
        catalog: CatalogView,
        capabilities: Capabilities,
        *,
        dialect: str = "tsql",
        page_size: int | None = None,
    ) -> Plan:
        """The plan of ``sql`` with ``params``: from the cache when possible."""
        # Identity keys keep the lookup cheap; the entry remembers the objects to rule out reuse of ids.
        key = (sql, dialect, id(catalog), id(capabilities), page_size)
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] is catalog and found[1] is capabilities:
                self._entries.move_to_end(key)
                entry = found[2]
                self.hits += 1
            else:
                entry = None
        if entry is None:
            self.misses += 1
            entry = self._prepare(sql, params, catalog, capabilities, dialect, page_size)
            with self._lock:
                self._entries[key] = (catalog, capabilities, entry)
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        if isinstance(entry, Plan):
            if params:
                # A statement without markers but with parameters: let plan_statement complain.
                return plan_statement(
                    sql, params, catalog, capabilities, dialect=dialect, page_size=page_size
                )
            return entry
        if isinstance(entry, _Template):
            check_shape(*entry.shape, params)
            bound = _bind(entry, params)
            if bound is not None:
                return bound
        return plan_statement(sql, params, catalog, capabilities, dialect=dialect, page_size=page_size)

    def _prepare(  # noqa: PLR0917
        self,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any] | None,
        catalog: CatalogView,
        capabilities: Capabilities,
        dialect: str,
        page_size: int | None,
    ) -> _Entry:
        tree, explain, read = parse_statement(sql, dialect)
        shape = marker_shape(tree)
        if open_parameters(tree) == 0:
            return plan_statement(sql, None, catalog, capabilities, dialect=dialect, page_size=page_size)
        ctx = new_context(catalog, capabilities, read, page_size, sql)
        slots = SlotBook(nonce=ctx.nonce)
        ctx.slots = slots
        try:
            plan = plan_tree(tree, ctx)
        except ValueDependent:
            return _REPLAN
        if plan.catalog_tables is not None and any(SLOT_OPEN in name for name in plan.catalog_tables):
            # Which tables' metadata to load depends on the value: plan each call with its values.
            return _REPLAN
        if explain:
            plan = _replace_explain(plan)
        return _Template(plan, tuple(slots.uses.values()), shape)


def _replace_explain(plan: Plan) -> Plan:
    return dataclasses.replace(plan, is_explain=True)


def _value(params: Sequence[Any] | Mapping[str, Any] | None, key: int | str) -> Any:
    if params is None:
        raise KeyError(key)
    if isinstance(params, Mapping):
        return params[str(key)]
    return params[int(key)]


def _bind(template: _Template, params: Sequence[Any] | Mapping[str, Any] | None) -> Plan | None:
    """The template with every slot filled, or None when a value does not fit its slot."""
    texts: list[str] = []
    for use in template.uses:
        value = _value(params, use.key)
        if use.mode == "sql":
            texts.append(sql_literal(value))
            continue
        if value is None:
            return None  # `= NULL` is never true in SQL but `eq null` is in OData: re-plan instead
        try:
            if use.mode == "json":
                if isinstance(value, str) and "'" in value:
                    return None  # planned afresh: values with quotes go in an or-chain, not a JSON list
                texts.append(json_element(value, use.edm_type))
            else:
                texts.append(odata_literal(value, use.edm_type))
        except (Unpushable, ProgrammingError):
            return None  # not a value of the slot's type: plan with the value to decide

    def fill(text: str) -> str:
        return _SENTINEL.sub(lambda m: texts[int(m.group(1))], text) if SLOT_OPEN in text else text

    return _fill_plan(template.plan, fill)


def _fill_plan(plan: Plan, fill: Callable[[str], str]) -> Plan:
    out = map_odata_text(plan, fill)
    if (
        plan.fallback is None
        and not plan.prerequisites
        and (plan.local_sql is None or SLOT_OPEN not in plan.local_sql)
    ):
        return out
    prerequisites = tuple(
        dataclasses.replace(
            p,
            plan=_fill_plan(p.plan, fill),
            overflow=_fill_plan(p.overflow, fill) if p.overflow is not None else None,
        )
        for p in plan.prerequisites
    )
    return dataclasses.replace(
        out,
        local_sql=fill(plan.local_sql) if plan.local_sql is not None else None,
        fallback=_fill_plan(plan.fallback, fill) if plan.fallback is not None else None,
        prerequisites=prerequisites,
    )


__all__ = ["PlanCache"]
