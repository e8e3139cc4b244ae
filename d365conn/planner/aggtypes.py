"""The result type of an aggregate: one rule, whichever side computes it.

Owns: :func:`aggregate_type` (COUNT, SUM, AVG, MIN, MAX over a column of a given Edm type ->
the Edm type, precision and scale of the result) and :func:`cast_local_aggregates`, which wraps
the local engine's aggregates in a ``CAST`` to that type. The grouped planner (``$apply``, the
service computes) and the general planner (DuckDB computes) both follow it, so
``cursor.description``, the Python value types and the Arrow types of an aggregate do not depend
on where it ran -- including when the service refuses an aggregate for its 50,000-row limit and
the fallback plan runs it locally.

The rule (SQL Server's where it suits Python users, the local engine's where it does not):

=================  ============================  =================================================
aggregate          over                          result
=================  ============================  =================================================
COUNT(*), COUNT(x),                              ``Edm.Int64`` (COUNT_BIG). T-SQL's COUNT is int;
COUNT(DISTINCT x)                                a local count over a join can pass 2**31, and
                                                 pandas/Arrow users get ``int64`` as DuckDB counts.
SUM(x)             Int16, Int32, Int64, Byte     ``Edm.Int64`` (T-SQL: bigint for bigint, int for
                                                 int -- widened, an int sum overflows quickly)
SUM(x)             Decimal(p, s) (money too)     ``Edm.Decimal(38, s)`` (T-SQL's SUM rule)
SUM(x)             Double, Single                ``Edm.Double``
AVG(x)             any number                    ``Edm.Double`` -- the local engine's type. Not
                                                 T-SQL's (int for an int column: truncated).
AVG(x)             Date, DateTimeOffset          ``Edm.DateTimeOffset``, the mean instant (the
                                                 local engine's; T-SQL refuses it; never pushed)
MIN(x), MAX(x)     Decimal(p, s)                 ``Edm.Decimal(p, s)``, the column's own type
MIN(x), MAX(x)     anything else                 the column's Edm type
=================  ============================  =================================================

A decimal column without a declared scale counts as scale 10 and one without a precision as 38,
the defaults the engine and ``arrow.py`` use for such columns.

Nullability is reported as "may be NULL" for every aggregate: the local engine cannot tell a
COUNT from a SUM in its result description, and both paths must describe the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from d365conn.catalog.model import Column

_INTEGERS = frozenset({"Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32", "Edm.Int64"})
_FLOATS = frozenset({"Edm.Double", "Edm.Single"})
NUMERIC_TYPES = _INTEGERS | _FLOATS | {"Edm.Decimal"}

#: Scale and precision of a decimal column that declares none (engine.py and arrow.py agree).
DEFAULT_DECIMAL_SCALE = 10
MAX_DECIMAL_PRECISION = 38

#: The Edm types the local engine's result types map back to unchanged (engine.py ``_FROM_DUCKDB``).
_DUCKDB_OF = {
    "Edm.Int64": "BIGINT",
    "Edm.Double": "DOUBLE",
    "Edm.DateTimeOffset": "TIMESTAMPTZ",
}
_INSTANTS = frozenset({"Edm.Date", "Edm.DateTimeOffset"})

AggregateName = str  # "count" | "sum" | "avg" | "min" | "max"


@dataclass(frozen=True)
class AggregateType:
    """The result type of an aggregate, as ``cursor.description`` reports it."""

    edm_type: str
    precision: int | None = None
    scale: int | None = None

    def duckdb(self) -> str | None:
        """The DuckDB type to CAST the local aggregate to, or None when its own type is already right."""
        if self.edm_type == "Edm.Decimal":
            return f"DECIMAL({self.precision},{self.scale})"
        return _DUCKDB_OF.get(self.edm_type)


def decimal_facets(precision: int | None, scale: int | None) -> tuple[int, int]:
    """(precision, scale) of a decimal column, defaults filled in and kept within 38 digits."""
    s = DEFAULT_DECIMAL_SCALE if scale is None else max(0, min(scale, MAX_DECIMAL_PRECISION - 1))
    p = MAX_DECIMAL_PRECISION if precision is None else max(s + 1, min(precision, MAX_DECIMAL_PRECISION))
    return p, s


def aggregate_type(
    name: AggregateName, edm_type: str | None, precision: int | None = None, scale: int | None = None
) -> AggregateType | None:
    """The result type of aggregate ``name`` over a column of ``edm_type`` (None for ``COUNT(*)``).

    None when the rule has nothing to say (SUM of a text column: an error wherever it runs).
    """
    if name == "count":
        return AggregateType("Edm.Int64")
    if edm_type is None:
        return None
    if name == "avg":
        if edm_type in _INSTANTS:
            return AggregateType("Edm.DateTimeOffset")
        return AggregateType("Edm.Double") if edm_type in NUMERIC_TYPES else None
    if name == "sum":
        if edm_type in _INTEGERS:
            return AggregateType("Edm.Int64")
        if edm_type in _FLOATS:
            return AggregateType("Edm.Double")
        if edm_type == "Edm.Decimal":
            _, s = decimal_facets(precision, scale)
            return AggregateType("Edm.Decimal", MAX_DECIMAL_PRECISION, s)
        return None
    if name in ("min", "max"):
        if edm_type == "Edm.Decimal":
            p, s = decimal_facets(precision, scale)
            return AggregateType("Edm.Decimal", p, s)
        return AggregateType(edm_type)
    return None


_LOCAL_NAMES: dict[type[exp.Expr], AggregateName] = {
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
}


def _argument(node: exp.Expr) -> exp.Expr | None:
    arg = node.this
    if isinstance(arg, exp.Distinct):
        return arg.expressions[0] if len(arg.expressions) == 1 else None
    return arg if isinstance(arg, exp.Expr) else None


def cast_local_aggregates(tree: exp.Expr, column_of: Callable[[exp.Column], Column | None]) -> None:
    """Wrap SUM/AVG/MIN/MAX of a scanned column in the local SQL in a CAST to :func:`aggregate_type`.

    ``column_of`` gives the catalog column a qualified column reference reads (None for anything
    else: a CTE's or a derived table's column, whose type the rule does not know). DuckDB's own
    types differ from the rule for integer sums (HUGEINT), decimals (MIN/MAX keep the width the
    engine loaded the column with, not the catalog's) and the mean of dates (a naive TIMESTAMP);
    COUNT is BIGINT and the AVG of a number DOUBLE already.
    A windowed aggregate is cast outside its OVER clause.
    """
    for node in list(tree.find_all(exp.Sum, exp.Avg, exp.Min, exp.Max)):
        arg = _argument(node)
        if not isinstance(arg, exp.Column):
            continue
        col = column_of(arg)
        if col is None:
            continue
        name = _LOCAL_NAMES[type(node)]
        rule = aggregate_type(name, col.edm_type, col.precision, col.scale)
        if rule is None or (name in ("min", "max") and rule.edm_type != "Edm.Decimal"):
            continue  # MIN/MAX keep the column's own type in DuckDB too, decimals aside
        if (name == "avg" and col.edm_type not in _INSTANTS) or rule.edm_type == "Edm.Double":
            continue  # DuckDB's AVG of a number, and its SUM of a float, are DOUBLE already
        target = rule.duckdb()
        if target is None:
            continue
        outer: exp.Expr = node
        while isinstance(outer.parent, (exp.Filter, exp.Window)) and outer.arg_key == "this":
            outer = outer.parent  # SUM(x) FILTER (WHERE ...) OVER (...): the cast goes outside
        if isinstance(outer.parent, exp.Cast):
            continue  # already cast by the statement itself: its type wins
        cast = exp.Cast(to=exp.DataType.build(target, dialect="duckdb"))
        outer.replace(cast)
        cast.set("this", outer)  # the node itself, not a copy: nested aggregates stay in the tree
