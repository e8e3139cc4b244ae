"""Comparing the driver's rows with the reference's, value by value and type by type.

Owns: :func:`compare_rows`, which returns a list of differences (empty when the results agree).
- Types must match exactly: Decimal with Decimal (never float), UUID, aware datetimes in UTC, date,
  int, bool (a bool is not an int here). ``None`` matches only ``None``.
- Floats agree within a relative 1e-9 (sums of doubles depend on the order they are added in).
- Order: ``ordered`` compares row by row; ``multiset`` sorts both sides first (queries without ORDER BY);
  ``ordered_by`` takes the indexes of the ORDER BY columns: the sequence of those keys must be identical
  and the rows inside each run of equal keys (ties, whose order SQL leaves open) agree as multisets.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

Row = tuple[Any, ...]
Order = Literal["ordered", "multiset"] | tuple[int, ...]

SHOWN = 5  # differing rows shown in a report


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, datetime):
        return "datetime"  # before date: datetime is a date subclass
    for kind in (int, float, Decimal, str, uuid.UUID, date, bytes, timedelta):
        if isinstance(value, kind):
            return kind.__name__
    return type(value).__name__


def _sort_key(row: Row) -> tuple[Any, ...]:
    """A total order over rows of mixed, nullable values (near-equal floats coarsened to sort together)."""
    key: list[Any] = []
    for value in row:
        kind = _kind(value)
        comparable: Any = value
        if kind == "float":
            comparable = float(f"{value:.9g}") if math.isfinite(value) else value
        elif kind == "Decimal":
            comparable = float(value)
        elif kind == "null":
            comparable = 0
        elif kind == "UUID":
            comparable = str(value)
        elif kind == "datetime":
            comparable = value.timestamp()
        elif kind == "date":
            comparable = value.toordinal()
        key.append((kind, comparable))
    return tuple(key)


def _cell_difference(got: Any, want: Any) -> str | None:
    got_kind, want_kind = _kind(got), _kind(want)
    if got_kind != want_kind:
        return f"type {got_kind} ({got!r}) != {want_kind} ({want!r})"
    if got_kind == "float":
        if math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(got) and math.isnan(want)):
            return None
        return f"{got!r} != {want!r}"
    if got_kind == "datetime":
        for value in (got, want):
            if value.utcoffset() != timedelta(0):
                return f"datetime not in UTC: {value!r}"
    if got != want:
        return f"{got!r} != {want!r}"
    return None


def _row_difference(got: Row, want: Row) -> str | None:
    if len(got) != len(want):
        return f"width {len(got)} != {len(want)}"
    for index, (a, b) in enumerate(zip(got, want, strict=True)):
        problem = _cell_difference(a, b)
        if problem is not None:
            return f"column {index}: {problem}"
    return None


def _pairwise(got: Sequence[Row], want: Sequence[Row]) -> list[str]:
    problems: list[str] = []
    for position, (a, b) in enumerate(zip(got, want, strict=False)):
        problem = _row_difference(a, b)
        if problem is not None:
            problems.append(f"row {position}: {problem}\n    driver:    {a!r}\n    reference: {b!r}")
            if len(problems) >= SHOWN:
                break
    return problems


def compare_rows(got: Sequence[Row], want: Sequence[Row], order: Order = "multiset") -> list[str]:
    """The differences between the driver's rows (``got``) and the reference's (``want``)."""
    got, want = [tuple(r) for r in got], [tuple(r) for r in want]
    if len(got) != len(want):
        got_sorted, want_sorted = sorted(got, key=_sort_key), sorted(want, key=_sort_key)
        missing = [r for r in want_sorted if r not in got_sorted][:SHOWN]
        extra = [r for r in got_sorted if r not in want_sorted][:SHOWN]
        return [
            f"row count {len(got)} (driver) != {len(want)} (reference)",
            *(f"  only in reference: {r!r}" for r in missing),
            *(f"  only in driver: {r!r}" for r in extra),
        ]
    if order == "ordered":
        return _pairwise(got, want)
    if order == "multiset":
        return _pairwise(sorted(got, key=_sort_key), sorted(want, key=_sort_key))
    # ordered_by: the ORDER BY keys in sequence, ties as multisets.
    keys_got = [tuple(r[i] for i in order) for r in got]
    keys_want = [tuple(r[i] for i in order) for r in want]
    problems = _pairwise(keys_got, keys_want)
    if problems:
        return ["ORDER BY keys differ:", *problems]
    start = 0
    while start < len(got):
        end = start + 1
        while end < len(got) and _row_difference(keys_want[end], keys_want[start]) is None:
            end += 1
        problems += _pairwise(sorted(got[start:end], key=_sort_key), sorted(want[start:end], key=_sort_key))
        if len(problems) >= SHOWN:
            break
        start = end
    return problems
