"""T-SQL date functions in local SQL, with T-SQL's meaning rather than DuckDB's.

Owns: :func:`localise_dates`, run over the qualified tree of a statement read as T-SQL before it is
written as DuckDB SQL. sqlglot's T-SQL reading already turns most date functions into portable
nodes; these are the places where the DuckDB text it writes would fail or mean something else:

- An integer where T-SQL expects a date is that many days after 1900-01-01 (``DATEADD(MONTH,
  DATEDIFF(MONTH, 0, col), 0)``, the time-grain idiom BI tools emit): DuckDB refuses
  ``0 + INTERVAL``. Integer literals become the timestamp they stand for.
- ``DATEDIFF`` counts boundaries crossed. DuckDB's ``date_diff`` does so for every unit but the
  week; T-SQL weeks start on Sunday (whatever ``DATEFIRST`` says), so weeks are counted between the
  Sundays on or before each date. ``weekday``/``dayofyear`` count days, as in T-SQL.
- ``DATEPART(weekday, x)`` is 1 (Sunday) .. 7 under the default ``DATEFIRST 7``; ``DATEPART(week,
  x)`` numbers weeks from the one holding 1 January (week starting Sunday), not ISO weeks;
  ``millisecond``/``microsecond`` are the fraction of the second only.
- ``DATENAME`` gives the part's number as text except for month and weekday names.
- ``GETUTCDATE()``/``SYSUTCDATETIME()`` are the current timestamp (the engine runs in UTC).
- A string literal as a date is read as a timestamp (sqlglot would cast it to DATE, dropping a time).
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

_EPOCH = dt.datetime(1900, 1, 1)
#: T-SQL datepart names and abbreviations -> the unit written for DuckDB.
_UNITS = {
    "year": "YEAR", "yy": "YEAR", "yyyy": "YEAR",
    "quarter": "QUARTER", "qq": "QUARTER", "q": "QUARTER",
    "month": "MONTH", "mm": "MONTH", "m": "MONTH",
    "dayofyear": "DAYOFYEAR", "dy": "DAYOFYEAR", "y": "DAYOFYEAR",
    "day": "DAY", "dd": "DAY", "d": "DAY",
    "week": "WEEK", "wk": "WEEK", "ww": "WEEK",
    "weekday": "WEEKDAY", "dw": "WEEKDAY", "w": "WEEKDAY", "dayofweek": "WEEKDAY",
    "hour": "HOUR", "hh": "HOUR",
    "minute": "MINUTE", "mi": "MINUTE", "n": "MINUTE",
    "second": "SECOND", "ss": "SECOND", "s": "SECOND",
    "millisecond": "MILLISECOND", "ms": "MILLISECOND",
    "microsecond": "MICROSECOND", "mcs": "MICROSECOND",
    "nanosecond": "NANOSECOND", "ns": "NANOSECOND",
    "iso_week": "ISO_WEEK", "isowk": "ISO_WEEK", "isoww": "ISO_WEEK",
}  # fmt: skip
#: DATENAME formats as sqlglot's T-SQL reading writes them -> the datepart they came from.
_DATENAME_FORMATS = {
    "%j": "DAYOFYEAR", "%d": "DAY", "%W": "WEEK", "%h": "HOUR", "%M": "MINUTE", "%S": "SECOND",
    "%f": "MILLISECOND", "%V": "ISO_WEEK", "%Y": "YEAR", "quarter": "QUARTER", "qq": "QUARTER",
    "q": "QUARTER",
}  # fmt: skip
_UTC_NOW = frozenset({"GETUTCDATE", "SYSUTCDATETIME"})
_DATETIME_TYPES = frozenset(
    {exp.DataType.Type.DATETIME, exp.DataType.Type.DATETIME2, exp.DataType.Type.SMALLDATETIME}
)


def _unit(node: exp.Expr | None) -> str | None:
    if node is None:
        return None
    return _UNITS.get(node.name.casefold(), node.name.upper())


def _int_literal(node: exp.Expr) -> int | None:
    """The integer a literal (or a negated literal) states, else None."""
    sign = 1
    if isinstance(node, exp.Neg):
        sign, node = -1, node.this
    if isinstance(node, exp.Paren):
        return _int_literal(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return sign * int(node.this)
        except ValueError:
            return None
    return None


def _timestamp(value: dt.datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)


def _as_datetime(node: exp.Expr) -> exp.Expr:
    """A date argument as T-SQL reads it: an integer is days after 1900-01-01, a string a datetime."""
    days = _int_literal(node)
    if days is not None:
        return _timestamp(_EPOCH + dt.timedelta(days=days))
    if isinstance(node, exp.Literal) and node.is_string:
        return exp.cast(node.copy(), exp.DataType.Type.TIMESTAMP)
    if isinstance(node, (exp.TimeStrToTime, exp.TsOrDsToDate)):
        inner = node.this
        if _int_literal(inner) is not None or (isinstance(inner, exp.Literal) and inner.is_string):
            return _as_datetime(inner)
    return node


def _sql(text: str, **args: exp.Expr) -> exp.Expr:
    """A DuckDB expression from ``text`` with ``{name}`` replaced by the (copied) nodes ``args``."""
    tree: exp.Expr = exp.maybe_parse(text.format(**{k: f"__arg_{k}" for k in args}), dialect="duckdb")
    for column in list(tree.find_all(exp.Column)):
        if column.name.startswith("__arg_"):
            column.replace(args[column.name[len("__arg_") :]].copy())
    return tree


def _sunday(node: exp.Expr) -> exp.Expr:
    """The date of the Sunday on or before ``node`` (DuckDB's dayofweek: Sunday is 0)."""
    return _sql("CAST({x} AS DATE) - CAST(DAYOFWEEK({x}) AS INTEGER)", x=node)


def _weeks(start: exp.Expr, end: exp.Expr) -> exp.Expr:
    return _sql("DATE_DIFF('day', {a}, {b}) // 7", a=_sunday(start), b=_sunday(end))


def _date_add(node: exp.DateAdd) -> exp.Expr:
    unit = _unit(node.args.get("unit")) or "DAY"
    if unit in ("WEEKDAY", "DAYOFYEAR"):
        unit = "DAY"
    return exp.DateAdd(this=_as_datetime(node.this), expression=node.expression, unit=exp.var(unit))


def _date_diff(node: exp.DateDiff) -> exp.Expr:
    unit = _unit(node.args.get("unit")) or "DAY"
    end, start = _as_datetime(node.this), _as_datetime(node.expression)
    if unit == "WEEK":
        return exp.paren(_weeks(start, end))
    if unit in ("WEEKDAY", "DAYOFYEAR"):
        unit = "DAY"
    return exp.DateDiff(this=end, expression=start, unit=exp.var(unit))


def _datepart(unit: str, value: exp.Expr) -> exp.Expr:
    """DATEPART(unit, value) with T-SQL's numbering."""
    if unit == "WEEKDAY":
        return _sql("(DAYOFWEEK({x}) + 1)", x=value)
    if unit == "WEEK":
        jan1 = _sql("DATE_TRUNC('year', {x})", x=value)
        return exp.paren(_sql("{w} + 1", w=_weeks(jan1, value)))
    if unit == "ISO_WEEK":
        return _sql("WEEKOFYEAR({x})", x=value)
    if unit == "MILLISECOND":
        return _sql("(EXTRACT(millisecond FROM {x}) % 1000)", x=value)
    if unit == "MICROSECOND":
        return _sql("(EXTRACT(microsecond FROM {x}) % 1000000)", x=value)
    if unit == "NANOSECOND":
        return _sql("(EXTRACT(microsecond FROM {x}) % 1000000 * 1000)", x=value)
    return exp.Extract(this=exp.var(unit), expression=value)


def _extract(node: exp.Extract) -> exp.Expr:
    return _datepart(_unit(node.this) or "DAY", _as_datetime(node.expression))


def _datename(node: exp.TimeToStr) -> exp.Expr | None:
    """DATENAME as sqlglot reads it: ``TimeToStr(CAST(x AS DATETIME2), format)``."""
    cast = node.this
    fmt = node.args.get("format")
    if not isinstance(cast, exp.Cast) or not cast.to.is_type(exp.DataType.Type.DATETIME2):
        return None
    if not isinstance(fmt, exp.Literal) or fmt.this not in _DATENAME_FORMATS:
        return None
    part = _datepart(_DATENAME_FORMATS[fmt.this], _as_datetime(cast.this))
    return exp.cast(part, exp.DataType.Type.VARCHAR)


def _is_int(node: exp.Expr) -> bool:
    """Whether ``node`` is an integer for certain without typing the tree: an integer literal, a
    DATEDIFF or DATEPART (already rewritten), or arithmetic over those."""
    if isinstance(node, exp.Paren):
        return _is_int(node.this)
    if _int_literal(node) is not None or isinstance(node, (exp.DateDiff, exp.IntDiv)):
        return True
    if isinstance(node, exp.Extract):
        return node.name.upper() != "EPOCH"
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Mod)):
        return _is_int(node.this) and _is_int(node.expression)
    return False


#: CONVERT styles of ISO-like text, which DuckDB's CAST reads as they are (126: ``yyyy-mm-ddThh:mi:ss``
#: with optional milliseconds -- sqlglot's format for it requires the fraction).
_ISO_STYLES = frozenset({20, 21, 23, 120, 121, 126, 127})


def _convert(node: exp.Convert) -> exp.Expr | None:
    """``CONVERT(DATETIME, '2020-01-01T00:00:00', 126)`` (how Superset writes time bounds)."""
    to, value, style = node.this, node.expression, node.args.get("style")
    if not isinstance(to, exp.DataType) or not isinstance(value, exp.Literal) or not value.is_string:
        return None
    if style is not None and _int_literal(style) not in _ISO_STYLES:
        return None
    if to.is_type(exp.DataType.Type.DATE):
        return exp.cast(value.copy(), exp.DataType.Type.DATE)
    if to.is_type(*_DATETIME_TYPES):
        return exp.cast(value.copy(), exp.DataType.Type.TIMESTAMP)
    return None


def _replacement(node: exp.Expr) -> exp.Expr | None:
    typed_div = isinstance(node, exp.Div) and bool(node.args.get("typed"))
    if typed_div and _is_int(node.this) and _is_int(node.expression):
        return exp.IntDiv(this=node.this, expression=node.expression)  # T-SQL int / int truncates
    if isinstance(node, exp.Convert):
        return _convert(node)
    if isinstance(node, exp.DateAdd):
        return _date_add(node)
    if isinstance(node, exp.DateDiff):
        return _date_diff(node)
    if isinstance(node, exp.Extract):
        return _extract(node)
    if isinstance(node, exp.TimeToStr):
        return _datename(node)
    if isinstance(node, exp.Anonymous) and node.name.upper() in _UTC_NOW and not node.expressions:
        return exp.CurrentTimestamp()
    if isinstance(node, exp.TsOrDsToDate):
        days = _int_literal(node.this)
        if days is not None:
            return exp.cast(_as_datetime(node.this), exp.DataType.Type.DATE)
    if (
        isinstance(node, exp.Cast)
        and node.to.is_type(*_DATETIME_TYPES)
        and _int_literal(node.this) is not None
    ):
        return _as_datetime(node.this)
    return None


def localise_dates(tree: exp.Expr) -> exp.Expr:
    """Rewrite T-SQL date functions in ``tree`` (in place where possible); returns the tree."""
    # Innermost first: a replacement copies its arguments, which must already be rewritten.
    nodes = [n for n in tree.walk(bfs=False) if isinstance(n, exp.Expr)]
    for node in reversed(nodes):
        new = _replacement(node)
        if new is None:
            continue
        new.meta.update(node.meta)  # the written name of a projection (see outnames.py) stays on it
        if node is tree:
            tree = new
        else:
            node.replace(new)
    return tree
