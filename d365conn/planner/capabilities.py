"""What each kind of service can evaluate, declared as data: one capability row per service kind.

Owns: :class:`Capabilities` and :func:`capabilities_for`. The planner never asks "is this Dataverse?";
it asks the row whether the service can do a thing (``in_list == "dataverse"``, ``apply``,
``skip``...) and runs whatever the row refuses in the embedded engine. A connection can adjust a row
with :func:`dataclasses.replace` (for example an accent-insensitive Dataverse org sets
``collation="nocase.noaccent"``; a CAP server that implements ``$apply`` sets ``apply=True``).

Sources: ``shared/reference/dynamics-365-facts.md`` sections 1 and 2, and Microsoft's pages
"Filter rows using OData", "Aggregate data using OData", "Join tables using OData",
"Use wildcard characters in conditions for string values" and "Dataverse language collations".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ServiceKind = Literal["dataverse", "businesscentral", "odata"]

#: The SQL scalar functions an OData v4 service evaluates in ``$filter`` (standard canonical
#: functions), as (sqlglot expression class name, OData function name).
_ODATA_V4_FUNCTIONS: tuple[tuple[str, str], ...] = (
    ("Lower", "tolower"),
    ("Upper", "toupper"),
    ("Length", "length"),
    ("Trim", "trim"),
    ("Year", "year"),
    ("Month", "month"),
    ("Day", "day"),
)


@dataclass(frozen=True)
class Capabilities:
    """One service kind's query abilities. Frozen and hashable: part of the plan cache key."""

    kind: ServiceKind
    #: How IN lists are pushed: Dataverse's ``Microsoft.Dynamics.CRM.In/NotIn`` functions, the OData
    #: 4.01 ``in`` operator, ``or``-chains of ``eq`` (OData 4.0 has no ``in``), or not at all.
    in_list: Literal["dataverse", "in", "or", "none"] = "or"
    #: BETWEEN as ``Microsoft.Dynamics.CRM.Between/NotBetween`` (else ``ge``/``le``).
    between_function: bool = False
    #: ``contains``/``startswith``/``endswith`` are available.
    string_predicates: bool = True
    #: The service reads ``% _ [ ]`` inside those predicates' values as T-SQL LIKE wildcards
    #: (Dataverse), so a literal one must be bracketed (``[%]``) and any LIKE pattern can be pushed.
    like_wildcards: bool = False
    #: SQL scalar functions pushable into ``$filter`` (sqlglot class name -> OData function).
    functions: tuple[tuple[str, str], ...] = ()
    #: Comparing two columns of the same row (``firstname eq lastname``).
    column_comparison: bool = True
    #: Filtering through single-valued navigation paths (``primarycontactid/fullname eq 'x'``).
    navigation_filter: bool = False
    #: OR between conditions on different fields (Business Central refuses it).
    or_across_fields: bool = True
    #: Comparisons follow SQL's three-valued logic (``ne`` and ``not`` never match NULL), as
    #: Dataverse's SQL Server backend does. Plain OData v4 is two-valued (``null ne 5`` is true),
    #: so the planner adds ``ne null`` guards or keeps such predicates local.
    sql_null_semantics: bool = False
    orderby: bool = True
    top: bool = True
    skip: bool = False
    #: ``$apply`` with groupby/aggregate/filter transformations.
    apply: bool = False
    apply_methods: frozenset[str] = frozenset()
    apply_groupby_datetime: bool = True
    apply_orderby_aggregate: bool = True
    #: ``$orderby`` on group keys after ``$apply``.
    apply_orderby_keys: bool = True
    #: Rows an aggregate may cover before the service refuses it (Dataverse: 50,000).
    apply_row_limit: int | None = None
    #: N:1 joins as ``$expand`` of single-valued navigation properties.
    expand: bool = False
    max_expand: int = 15
    #: ``<set>/$count`` gives an exact count (Dataverse caps it at 5,000, so it doesn't qualify).
    count_path: bool = False
    #: String comparisons are case-insensitive; ``collation`` is the DuckDB collation that gives
    #: local evaluation the same semantics (None: binary).
    case_insensitive: bool = False
    collation: str | None = None
    #: NULLs sort before every value ascending and after every value descending.
    nulls_low: bool = True
    #: How the service orders GUIDs: ``sqlserver`` is SQL Server's ``uniqueidentifier`` order (bytes
    #: 10-15, 8-9, 6-7, 4-5, 0-3 of the little-endian layout), which Dataverse uses for ``$orderby``
    #: and key comparisons; local ORDER BY on a GUID then sorts by the same key. ``binary`` is text order.
    guid_order: Literal["sqlserver", "binary"] = "binary"
    #: Lookups exposed as ``_x_value`` with formatted-value annotations (Dataverse).
    lookups: bool = False
    max_url_length: int = 8192
    max_page_size: int | None = None


_DATAVERSE = Capabilities(
    kind="dataverse",
    in_list="dataverse",
    between_function=True,
    like_wildcards=True,
    functions=(),  # facts sheet 1: no tolower, year, length... in Dataverse $filter
    column_comparison=True,
    navigation_filter=True,
    sql_null_semantics=True,
    skip=False,  # facts sheet 1: $skip is not supported
    apply=True,
    apply_methods=frozenset({"sum", "average", "min", "max", "countdistinct"}),
    apply_groupby_datetime=False,  # "groupby with datetime values is not supported"
    apply_orderby_aggregate=False,  # "$orderby with aggregate values is not supported"
    apply_orderby_keys=True,
    apply_row_limit=50_000,
    expand=True,
    max_expand=15,
    count_path=False,  # /$count is capped at 5,000
    case_insensitive=True,
    # Every Dataverse collation is _CI; most (English included) are also _AI. The conservative
    # default only folds case; an accent-insensitive org can replace it with "nocase.noaccent".
    collation="nocase",
    nulls_low=True,  # SQL Server sorts NULL as the lowest value
    guid_order="sqlserver",  # Dataverse runs on SQL Server: uniqueidentifier order
    lookups=True,
    max_url_length=32_768,
    max_page_size=5_000,
)

_BUSINESS_CENTRAL = Capabilities(
    kind="businesscentral",
    in_list="or",  # `in` needs $schemaversion=2.1; or-chains on one field are accepted
    # facts sheet 2: contains/startswith/endswith plus substring, tolower, toupper (no length, year...)
    functions=(("Lower", "tolower"), ("Upper", "toupper"), ("Substring", "substring")),
    column_comparison=False,
    navigation_filter=False,
    or_across_fields=False,  # facts sheet 2: OR across different fields is rejected
    sql_null_semantics=False,
    skip=True,
    apply=False,  # $apply is not documented: assume unsupported
    expand=False,
    count_path=True,
    case_insensitive=False,
    collation=None,
    max_url_length=32_768,
    max_page_size=20_000,
)

_ODATA = Capabilities(
    kind="odata",
    in_list="or",  # OData 4.0 has no `in` operator
    functions=_ODATA_V4_FUNCTIONS,
    column_comparison=True,
    navigation_filter=False,
    sql_null_semantics=False,
    skip=True,
    apply=False,  # an extension; servers that implement it opt in with replace(apply=True)
    apply_methods=frozenset({"sum", "average", "min", "max", "countdistinct"}),
    expand=False,
    count_path=True,
    case_insensitive=False,
    collation=None,
    nulls_low=True,  # OData v4 URL conventions: null sorts before all values ascending
    max_url_length=8_192,
)

_TABLE: dict[str, Capabilities] = {
    "dataverse": _DATAVERSE,
    "businesscentral": _BUSINESS_CENTRAL,
    "odata": _ODATA,
}


def capabilities_for(service_kind: ServiceKind) -> Capabilities:
    """The capability row of a service kind."""
    try:
        return _TABLE[service_kind]
    except KeyError:
        raise ValueError(f"unknown service kind {service_kind!r}; expected one of {sorted(_TABLE)}") from None
