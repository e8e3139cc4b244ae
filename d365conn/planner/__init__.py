"""SQL -> plan: the pure planning stage of d365conn (no I/O).

``plan_statement`` turns one SQL statement into a :class:`Plan` (OData requests plus, when needed,
DuckDB SQL over their rows); ``capabilities_for`` gives the capability row of a service kind;
``resolve_prerequisites`` binds an inner query's values into its outer plan; ``PlanCache`` keeps
plans of repeated statements. See the modules for the details of each stage.
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
