"""State shared by the pieces of one planning run, and the parameter slots of plan templates.

Owns: :class:`PlanContext` (catalog, capability row, dialect facts, scan naming, prerequisites)
and :class:`SlotBook`, which stands a sentinel in the plan's text for every parameter a cached
template leaves open, with what the value must be to fill it (an OData literal of an Edm type, an
element of a JSON value list, or a DuckDB literal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp

from d365conn.catalog.model import CatalogView, Column, Table
from d365conn.planner.capabilities import Capabilities
from d365conn.planner.plan import OutputColumn, Plan, Prerequisite, encode_option
from d365conn.planner.values import Slot

#: Private-use characters delimit sentinels; a statement containing them is never templated.
SLOT_OPEN = "\ue000"
SLOT_CLOSE = "\ue001"
PRE_OPEN = "\ue002"
PRE_CLOSE = "\ue003"


@dataclass(frozen=True)
class SlotUse:
    key: int | str
    mode: str  # "odata" | "json" | "sql"
    edm_type: str


@dataclass
class SlotBook:
    """The open parameters of a template: sentinel text -> how to fill it."""

    nonce: str = ""
    uses: dict[str, SlotUse] = field(default_factory=dict)

    def write(self, slot: Slot, mode: str, edm_type: str) -> str:
        sentinel = f"{SLOT_OPEN}{self.nonce}:{len(self.uses)}{SLOT_CLOSE}"
        self.uses[sentinel] = SlotUse(slot.key, mode, edm_type)
        return sentinel


@dataclass
class PlanContext:
    """One planning run."""

    catalog: CatalogView
    caps: Capabilities
    dialect: str
    page_size: int | None = None
    slots: SlotBook | None = None
    #: The statement spelled NULLS FIRST/LAST somewhere: honour the parsed null ordering instead
    #: of the service's.
    explicit_nulls: bool = False
    #: Plans a subquery (an ``IN (SELECT ...)``) with the same context: set by the entry point.
    plan_subquery: Callable[[exp.Expr], Plan] | None = None
    prerequisites: list[Prerequisite] = field(default_factory=list)
    #: A random tag that placeholders carry and the statement's text does not contain.
    nonce: str = ""
    _aliases: set[str] = field(default_factory=set)

    @property
    def brackets(self) -> bool:
        """``[...]`` in LIKE patterns is a character set (T-SQL) rather than text."""
        return self.dialect in ("tsql", "")

    def scan_alias(self, table: Table, reserved: set[str] | None = None) -> str:
        """A unique relation name for a scan of ``table`` (readable in EXPLAIN)."""
        taken = self._aliases | {r.casefold() for r in (reserved or set())}
        base = table.name.lower()
        name = base
        n = 2
        while name in taken:
            name = f"{base}_{n}"
            n += 1
        self._aliases.add(name)
        return name


def output_column(name: str, col: Column, path: tuple[str, ...]) -> OutputColumn:
    """The scan column carrying ``col`` from JSON ``path`` under the SQL name ``name``."""
    return OutputColumn(
        name=name,
        edm_type=col.edm_type,
        path=path,
        nullable=col.nullable,
        precision=col.precision,
        scale=col.scale,
        max_length=col.max_length,
    )


def json_key(col: Column) -> str:
    """The JSON key of a column's value in a row (annotation suffix included)."""
    return col.source or col.property or col.name


def select_property(col: Column) -> str:
    """What goes into ``$select`` to receive ``col`` (``_x_value`` for a lookup's name too)."""
    return col.select or col.property or col.name


def fits_url(filter_text: str, ctx: PlanContext) -> bool:
    """Whether a ``$filter`` leaves room in the service's URL limit for the rest of a request.

    The margin (2,048 characters) covers the service root, the resource, ``$select`` of a few
    dozen columns and the other options; filters longer than that are split off to run locally.
    """
    return len(encode_option(filter_text)) + 2048 <= ctx.caps.max_url_length


ANNOTATED_ROLES = frozenset({"lookup_name", "lookup_type", "choice_name", "multichoice_name"})
