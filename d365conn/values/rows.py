"""Row decoding: one JSON row (a decoded dict) -> one tuple of typed values, in column order.

Owns: :func:`make_row_decoder`. For each column set it generates, once, a small Python function
that reads every column with ``row.get`` (following ``path`` into expanded lookups), checks the
common case inline (a ``str`` for a string column, an in-range ``int`` for an integer column...)
and calls the column's converter only when it must. No per-row dict is built and no converter is
looked up per row.

Errors: the generated function does no error handling of its own (that keeps it fast); when it
raises, the row is decoded again column by column to find the offender, and a
:class:`~d365conn.exceptions.DataError` names the table, the column and the 1-based row number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..exceptions import DataError
from ..planner.plan import OutputColumn
from .edm import INT_RANGES, ConversionFailure, converter_for, describe, identity, normalize_edm_type

RowFunction = Callable[[Mapping[str, Any]], tuple[Any, ...]]


def read_path(row: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` (keys into nested expanded objects); None when any level is null."""
    value: Any = row
    for key in path:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConversionFailure(f"expected an object at {'/'.join(path)}, got {describe(value)}")
        value = value.get(key)
    return value


class RowDecoder:
    """Turns decoded JSON rows into tuples for one column set; create with :func:`make_row_decoder`.

    Calling it decodes one row; :meth:`decode_rows` decodes a page with row numbers for errors.
    """

    def __init__(self, columns: Sequence[OutputColumn], table: str = "") -> None:
        self.columns = tuple(columns)
        self.table = table
        self._converters = [converter_for(col.edm_type) for col in self.columns]
        self._fast = _generate(self.columns)

    def __call__(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        try:
            return self._fast(row)
        except Exception:  # any failure is re-diagnosed precisely below
            return self._checked(row, None)

    def decode_rows(self, rows: Sequence[Mapping[str, Any]], first_row: int = 1) -> list[tuple[Any, ...]]:
        """Every row of a page; ``first_row`` is the scan-wide number of ``rows[0]`` (for errors)."""
        fast = self._fast
        try:
            return [fast(row) for row in rows]
        except Exception:  # find the offending row and say which one
            return [self._checked(row, first_row + index) for index, row in enumerate(rows)]

    def _checked(self, row: Any, row_number: int | None) -> tuple[Any, ...]:
        """Decode one row column by column, raising a DataError that names the offender."""
        values: list[Any] = []
        for col, convert in zip(self.columns, self._converters, strict=True):
            try:
                if not isinstance(row, Mapping):
                    raise ConversionFailure(f"expected a JSON object for the row, got {describe(row)}")
                value = read_path(row, col.path)
                values.append(None if value is None else convert(value))
            except ConversionFailure as failure:
                raise self.error(col.name, row_number, failure.reason) from None
        return tuple(values)

    def error(self, column: str, row_number: int | None, reason: str) -> DataError:
        """The DataError for a value of ``column`` that does not fit."""
        where = f"table {self.table!r}, " if self.table else ""
        row = f", row {row_number}" if row_number is not None else ""
        return DataError(f"cannot read {where}column {column!r}{row}: {reason}")


def make_row_decoder(columns: Sequence[OutputColumn], *, table: str = "") -> RowDecoder:
    """A decoder for rows of ``columns``: ``decoder(row_dict) -> tuple`` (see :class:`RowDecoder`)."""
    return RowDecoder(columns, table)


# --- code generation ------------------------------------------------------------------------------


def _generate(columns: Sequence[OutputColumn]) -> RowFunction:
    """Compile ``def decode(row): ...; return (v0, v1, ...)`` specialised for ``columns``."""
    namespace: dict[str, Any] = {"Decimal": Decimal, "read_path": read_path}
    lines = ["def decode(row):", "    get = row.get"]
    names: list[str] = []
    for index, col in enumerate(columns):
        var = f"v{index}"
        conv = f"c{index}"
        namespace[conv] = converter_for(col.edm_type)
        if len(col.path) == 1:
            lines.append(f"    {var} = get({col.path[0]!r})")
        elif not col.path:
            lines.append(f"    {var} = None")
        else:
            namespace[f"p{index}"] = tuple(col.path)
            lines.append(f"    {var} = read_path(row, p{index})")
        lines.append(f"    if {var} is not None{_inline_check(col.edm_type, var)}:")
        lines.append(f"        {var} = {conv}({var})")
        names.append(var)
    lines.append(f"    return ({', '.join(names)}{',' if len(names) == 1 else ''})")
    exec(compile("\n".join(lines), "<d365conn row decoder>", "exec"), namespace)  # noqa: S102 -- our code
    function: RowFunction = namespace["decode"]
    return function


def _inline_check(edm_type: str, var: str) -> str:
    """An extra condition under which the value needs its converter (empty: always convert).

    It lets the common, already-right value skip the function call.
    """
    edm = normalize_edm_type(edm_type)
    if edm == "Edm.String":
        return f" and {var}.__class__ is not str"
    if edm == "Edm.Boolean":
        return f" and {var} is not True and {var} is not False"
    if edm in INT_RANGES:
        low, high = INT_RANGES[edm]
        return f" and ({var}.__class__ is not int or not {low} <= {var} <= {high})"
    if edm == "Edm.Decimal":
        return f" and ({var}.__class__ is not Decimal or not {var}.is_finite())"
    if edm in ("Edm.Double", "Edm.Single"):
        return f" and {var}.__class__ is not float"
    if converter_for(edm) is identity:
        return " and False"
    return ""


__all__ = ["RowDecoder", "make_row_decoder", "read_path"]
