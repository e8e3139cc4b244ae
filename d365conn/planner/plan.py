"""The plan: what the planner decides and the executor carries out. Pure values, printable.

Owns: the shape of a plan. A :class:`Plan` is a list of :class:`Scan` s -- each one OData query
(followed through every ``@odata.nextLink`` page) whose rows are converted to typed columns -- and,
when the service cannot answer the whole statement, a ``local_sql`` statement that the embedded
engine (DuckDB) runs over the scans, each scan visible as a relation named by its ``alias``.

A statement the service answers entirely has exactly one scan and ``local_sql is None``: its rows
stream to the cursor and never pass through the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from d365conn.planner.capabilities import Capabilities

# Characters left unescaped in query option values: OData syntax that is not URL-reserved in a
# query component. Everything else (``& # + % ? =`` and non-ASCII) is percent-encoded, so a
# literal can never end an option early or start a new one.
_SAFE = "()',/:@$*-._~!"


#: The local engine's macro giving a GUID's sort key in the service's order (see engine.py); the
#: planner writes it into local SQL when ``Capabilities.guid_order == "sqlserver"``.
GUID_KEY_MACRO = "d365_guid_key"


def encode_option(value: str) -> str:
    """Percent-encode one query option value for a URL."""
    return quote(value, safe=_SAFE)


@dataclass(frozen=True)
class ODataQuery:
    """One request to the service (and the pages that follow it).

    ``resource`` is the path below the service root: an entity set (``accounts``), a single row
    (``accounts(00000000-...)``), a count (``accounts/$count``) or a company-scoped path for
    Business Central. Options are kept unencoded; :meth:`query_string` encodes them.
    """

    resource: str
    select: tuple[str, ...] = ()
    filter: str | None = None
    orderby: tuple[str, ...] = ()
    top: int | None = None
    #: Rows to skip (plain OData and Business Central; Dataverse has no ``$skip``).
    skip: int | None = None
    count: bool = False
    expand: tuple[str, ...] = ()
    apply: str | None = None
    #: Other query parameters, in order (parameter aliases ``@p1``, ``company``, ``$schemaversion``...).
    extra: tuple[tuple[str, str], ...] = ()

    def options(self) -> list[tuple[str, str]]:
        """The query options in the canonical order the golden tests use."""
        opts: list[tuple[str, str]] = []
        if self.apply is not None:
            opts.append(("$apply", self.apply))
        if self.select:
            opts.append(("$select", ",".join(self.select)))
        if self.expand:
            opts.append(("$expand", ",".join(self.expand)))
        if self.filter is not None:
            opts.append(("$filter", self.filter))
        if self.orderby:
            opts.append(("$orderby", ",".join(self.orderby)))
        if self.top is not None:
            opts.append(("$top", str(self.top)))
        if self.skip is not None:
            opts.append(("$skip", str(self.skip)))
        if self.count:
            opts.append(("$count", "true"))
        opts.extend(self.extra)
        return opts

    def query_string(self) -> str:
        """The encoded query string, without the leading ``?``."""
        return "&".join(f"{name}={encode_option(value)}" for name, value in self.options())

    def readable(self) -> str:
        """Resource and options unencoded, for EXPLAIN and the golden tests."""
        opts = "&".join(f"{name}={value}" for name, value in self.options())
        return f"{self.resource}?{opts}" if opts else self.resource

    def url(self, service_root: str) -> str:
        """The absolute, encoded URL below ``service_root`` (which ends in ``/``)."""
        qs = self.query_string()
        return f"{service_root}{self.resource}" + (f"?{qs}" if qs else "")


@dataclass(frozen=True)
class OutputColumn:
    """One column a scan produces: where its value is in the JSON row, and its type.

    ``path`` is the JSON key, or several keys for values inside an expanded lookup
    (``("primarycontactid", "fullname")``) or an aggregate alias. ``edm_type`` picks the converter.
    A missing key, or a null object on the way (an expanded lookup that is empty), reads as NULL:
    Dataverse omits null group keys from ``$apply`` results.
    """

    name: str
    edm_type: str
    path: tuple[str, ...]
    nullable: bool = True
    precision: int | None = None
    scale: int | None = None
    max_length: int | None = None


ScanKind = Literal["rows", "count"]


@dataclass(frozen=True)
class Scan:
    """Rows from the service: one query, every page, typed columns.

    ``limit`` is enforced by the client (Dataverse ignores ``$top`` when a page size is preferred).
    ``kind == "count"`` reads a bare number (``/$count``) as one row with one column.
    ``page_size`` is the ``odata.maxpagesize`` to prefer (None: the connection's default; 0: none,
    because a pushed ``$top`` that fits in one page bounds the response alone); the planner lowers
    it to ``limit`` when fewer rows are wanted, so no page carries unused rows.
    """

    alias: str
    table: str
    query: ODataQuery
    columns: tuple[OutputColumn, ...]
    limit: int | None = None
    kind: ScanKind = "rows"
    #: Ask for formatted values / lookup annotations (needed for ``<x>name`` and ``<x>type`` columns).
    annotations: bool = False
    page_size: int | None = None


@dataclass(frozen=True)
class ResultColumn:
    """A column of the statement's result, for ``cursor.description``."""

    name: str
    edm_type: str
    nullable: bool = True
    precision: int | None = None
    scale: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class Plan:
    """A complete plan for one SELECT (or EXPLAIN).

    - ``scans``: what to fetch from the service.
    - ``local_sql``: DuckDB SQL over the scans (each an relation named ``scan.alias``), or None when
      the single scan is the answer.
    - ``columns``: the result's columns in order.
    - ``fallback``: a plan to run instead if the service refuses ``scans`` for a limit it enforces
      (the 50,000-row aggregate limit: aggregate locally over a streamed scan).
    - ``notes``: why each piece runs where it runs, for EXPLAIN.
    - ``prerequisites``: plans whose results must be known first (``IN (SELECT ...)`` run inner-first);
      the executor runs each, then calls ``planner.resolve_prerequisites`` with their values.
    - ``collation``: the DuckDB collation the executor sets as ``default_collation`` on the engine
      connection before running ``local_sql`` (``"nocase"`` for Dataverse, whose string comparisons,
      grouping and ordering are case-insensitive), so that local evaluation has the service's
      semantics. LIKE is already written as ILIKE where that applies. None: binary.
    - ``is_explain``: the statement was ``EXPLAIN <sql>``; this is the plan of ``<sql>``, to be shown
      (``explain()``) rather than run.
    - ``catalog_relations``: relations answered from the catalog (``information_schema_tables``...),
      see ``planner.catalog_views`` for their columns; the executor loads them before ``local_sql``.
    - ``catalog_tables``: the tables those relations need rows for, when the statement restricts
      ``TABLE_NAME`` to constants (``WHERE TABLE_NAME = 'account'``); None means every table, which
      on a Dataverse org means loading the metadata of thousands of tables.
    - The local SQL relies on DuckDB's default ``preserve_insertion_order = true`` where it applies
      LIMIT/OFFSET to a scan the service already ordered.
    """

    scans: tuple[Scan, ...]
    columns: tuple[ResultColumn, ...]
    local_sql: str | None = None
    fallback: Plan | None = None
    notes: tuple[str, ...] = ()
    prerequisites: tuple[Prerequisite, ...] = ()
    #: For INFORMATION_SCHEMA and other catalog queries answered without the service.
    catalog_relations: tuple[str, ...] = field(default_factory=tuple)
    catalog_tables: tuple[str, ...] | None = None
    collation: str | None = None
    is_explain: bool = False

    def explain(self, service_root: str = "") -> list[str]:
        """Human-readable lines: every request URL and what runs locally."""
        lines: list[str] = []
        # Placeholders carry private-use characters and a random tag: show them by number.
        shown = {pre.placeholder: f"<values of subquery {i}>" for i, pre in enumerate(self.prerequisites, 1)}
        for pre in self.prerequisites:
            lines.append(f"first, for {shown[pre.placeholder]}:")
            lines.extend("  " + line for line in pre.plan.explain(service_root))
        for scan in self.scans:
            cap = f" (client stops after {scan.limit} rows)" if scan.limit is not None else ""
            request = scan.query.readable()
            for placeholder, name in shown.items():
                request = request.replace(placeholder, name)
            lines.append(f"GET {service_root}{request}{cap}  -> {scan.alias}")
        for rel in self.catalog_relations:
            which = f" for {', '.join(self.catalog_tables)}" if self.catalog_tables is not None else ""
            lines.append(f"catalog relation {rel} (answered from metadata{which})")
        if self.local_sql is not None:
            lines.append(f"locally: {self.local_sql}")
        else:
            lines.append("locally: nothing (the service answers the whole statement)")
        lines.extend(f"note: {note}" for note in self.notes)
        if self.fallback is not None:
            lines.append("if the service refuses (aggregate limit):")
            lines.extend("  " + line for line in self.fallback.explain(service_root))
        return lines


@dataclass(frozen=True)
class Prerequisite:
    """A subquery run before the main plan; its single column's values replace ``placeholder``.

    The planner writes the main plan with ``placeholder`` where the IN test belongs in a scan's
    ``$filter``; ``planner.resolve_prerequisites`` writes the test for the values found
    (``property``/``name``/``edm_type`` say how) or, when the values would not fit in a URL,
    returns ``overflow``: the same statement with the subquery evaluated locally.
    """

    placeholder: str
    plan: Plan
    edm_type: str
    #: The filtered property path (``_parentcustomerid_value``) and the attribute's logical name
    #: (``parentcustomerid``, what Dataverse query functions take as PropertyName).
    property: str = ""
    name: str = ""
    nullable: bool = True
    negated: bool = False
    capabilities: Capabilities | None = None
    overflow: Plan | None = None
