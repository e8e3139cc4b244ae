"""SQL -> plan: the pure planning stage of d365conn (no I/O, printable).

``plan_statement`` turns one SQL statement into a :class:`Plan`: OData requests (:class:`Scan`)
plus, when the service cannot answer everything, DuckDB SQL over their rows. ``capabilities_for``
gives the capability row of a service kind, ``resolve_prerequisites`` binds an inner query's values
into its outer plan, ``PlanCache`` keeps plans of repeated statements (parameters bound separately).

How it decides, in order (modules in brackets):

1. Parse (:mod:`.parse`): T-SQL by default (``TOP n`` and ``LIMIT n``), DuckDB SQL if T-SQL can't
   read it, or the dialect asked for. ``EXPLAIN <sql>`` plans ``<sql>`` and flags the plan
   ``is_explain``. Parameters become typed literal nodes (:mod:`.values`), never text.
2. Direct (:mod:`.direct`): one table, N:1 joins along lookups as ``$expand``, and a WHERE, grouping,
   ORDER BY and TOP the service can do -> one request, ``local_sql is None``; only a final ORDER BY
   the service refuses (an aggregate) or an OFFSET without ``$skip`` runs as a one-line local tail.
   Aggregates carry a ``fallback`` plan for the 50,000-row aggregate limit.
3. General (:mod:`.general`): one scan per table reference with its pushable conjuncts and exactly
   the columns used; the rest in DuckDB SQL with the service's semantics (``Plan.collation``,
   NULLs lowest, LIKE as ILIKE or a regular expression for T-SQL ``[...]``), T-SQL's date functions
   with T-SQL's meaning (:mod:`.tsqldates`), and the result columns named as the statement writes
   them (:mod:`.outnames`: names resolve case-insensitively, but are reported as written).
4. Predicates (:mod:`.filters`, :mod:`.like`) follow the capability row (:mod:`.capabilities`);
   ``IN (SELECT ...)`` in a direct plan becomes a prerequisite run first.
5. Writes are refused (NotSupportedError) until the write path plans them beside these stages.
"""

from __future__ import annotations

from d365conn.planner.cache import PlanCache
from d365conn.planner.capabilities import Capabilities, capabilities_for
from d365conn.planner.catalog_views import VIEWS as CATALOG_VIEWS
from d365conn.planner.parse import SyntaxErrorAt, is_explain
from d365conn.planner.plan import ODataQuery, OutputColumn, Plan, Prerequisite, ResultColumn, Scan
from d365conn.planner.planner import plan_statement, resolve_prerequisites

__all__ = [
    "CATALOG_VIEWS",
    "Capabilities",
    "ODataQuery",
    "OutputColumn",
    "Plan",
    "PlanCache",
    "Prerequisite",
    "ResultColumn",
    "Scan",
    "SyntaxErrorAt",
    "capabilities_for",
    "is_explain",
    "plan_statement",
    "resolve_prerequisites",
]
