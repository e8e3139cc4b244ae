"""Cursor results as Arrow tables, Arrow record batches and pandas DataFrames.

Owns: the Arrow type of each result column (chosen once per column from ``cursor.description``)
and the column-wise conversion of fetched rows into Arrow arrays. ``Cursor.fetch_arrow_table``,
``fetch_record_batches`` and ``fetch_df`` are thin delegations to this module; it reads the
cursor through its PEP 249 surface (``description``, ``fetchmany``) plus two hooks for the
columnar path (``_take_arrow``, ``_arrow_rows``), so row counts and early closing behave exactly as
with ``fetchmany``.

Types: ``Edm.Decimal`` -> ``decimal128(precision, scale)`` with the column's scale (money keeps its
4 places); ``Edm.DateTimeOffset`` -> ``timestamp[us, tz=UTC]``; ``Edm.Date`` -> ``date32``;
``Edm.Guid`` -> ``string`` (the canonical 36-character form); booleans and integers are Arrow
booleans/integers, whose validity bitmap keeps NULLs (pandas gets nullable ``Int32``/``boolean``).

Two paths, one result (same schema, same values):

- **columnar** -- when no row was fetched as a tuple yet and the result offers batches
  (``Cursor._take_arrow``), the cursor hands its stream over: a pushed-down scan decodes each page
  straight into Arrow columns (:mod:`d365conn.values.columnar`; the first page, already read as
  tuples by ``execute()``, is converted as below), a local DuckDB plan hands DuckDB's own record
  batches, cast to this module's schema (:class:`d365conn.engine.LocalRows`). Batches are the
  service's pages or DuckDB's 65,536-row batches, cut to ``batch_size`` (never merged).
- **tuples** -- otherwise (partitioned scans, local results with a type DuckDB cannot export
  exactly, or once rows were fetched as tuples: the Arrow methods then continue from the tuple
  path), rows are fetched with ``fetchmany``, each batch is transposed with ``zip(*rows)`` and
  every column becomes one ``pa.array`` call (C loops).

``benchmarks/bench_arrow.py`` measures both against the time spent fetching and decoding the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .engine import ARROW_TYPES
from .exceptions import DataError, InterfaceError

if TYPE_CHECKING:
    from .cursor import Cursor

#: Rows per record batch unless the caller says otherwise: a few Dataverse pages.
DEFAULT_BATCH_ROWS = 65_536

#: Rows asked of the cursor at a time while a batch fills.
_FETCH_ROWS = 8192

#: When a decimal column reports no scale (some plain OData services), the local engine's default.
_DEFAULT_DECIMAL_SCALE = 10

#: The engine's table, plus durations: DuckDB is given them as text, a result column keeps its type.
_SIMPLE: dict[str, pa.DataType] = {**ARROW_TYPES, "Edm.Duration": pa.duration("us")}

DescriptionRow = Sequence[Any]


def decimal_type(precision: int | None, scale: int | None) -> pa.Decimal128Type:
    """``decimal128`` for a column: its scale kept, precision widened only when it cannot hold it."""
    s = _DEFAULT_DECIMAL_SCALE if scale is None else max(0, min(int(scale), 37))
    p = 38 if precision is None else max(s + 1, min(int(precision), 38))
    return pa.decimal128(p, s)


def arrow_type(type_code: str, precision: int | None = None, scale: int | None = None) -> pa.DataType:
    """The Arrow type of a result column with Edm type ``type_code``."""
    if type_code == "Edm.Decimal":
        return decimal_type(precision, scale)
    return _SIMPLE.get(type_code, pa.string())


def arrow_schema(description: Sequence[DescriptionRow]) -> pa.Schema:
    """An Arrow schema from a PEP 249 ``description`` (name, type code, ..., precision, scale, null_ok)."""
    fields = []
    for name, type_code, _display, _internal, precision, scale, null_ok in description:
        type_ = arrow_type(str(type_code), precision, scale)
        fields.append(pa.field(str(name), type_, nullable=null_ok is not False))
    return pa.schema(fields)


def _as_text(values: Sequence[Any]) -> list[str | None]:
    return [None if v is None else str(v) for v in values]


def _to_utc(values: Sequence[Any]) -> list[Any]:
    # Naive datetimes would be read as local wall-clock time; the driver's are UTC, so mark them.
    return [
        v.replace(tzinfo=dt.timezone.utc) if isinstance(v, dt.datetime) and v.tzinfo is None else v
        for v in values
    ]


def _preparer(type_code: str, field: pa.Field) -> Callable[[Sequence[Any]], Sequence[Any]] | None:
    """A per-column fix-up before ``pa.array`` (None: the values go in as they are)."""
    if type_code == "Edm.String":
        return None  # already str or None
    if pa.types.is_string(field.type):
        return _as_text  # GUIDs (uuid.UUID), and any type Arrow has no better column for
    if pa.types.is_timestamp(field.type):
        return _to_utc
    return None


class _BatchBuilder:
    """Rows (tuples) -> one RecordBatch, with the converters chosen once per column."""

    def __init__(self, description: Sequence[DescriptionRow]) -> None:
        self.schema = arrow_schema(description)
        self._prepare = [_preparer(str(d[1]), self.schema.field(i)) for i, d in enumerate(description)]

    def build(self, rows: Sequence[tuple[Any, ...]]) -> pa.RecordBatch:
        arrays = []
        for index, values in enumerate(zip(*rows, strict=True)):
            field = self.schema.field(index)
            prepare = self._prepare[index]
            try:
                arrays.append(pa.array(prepare(values) if prepare else values, type=field.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
                raise DataError(
                    f"column {field.name!r}: a value does not fit the Arrow type {field.type} ({err})"
                ) from None
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _description(cursor: Cursor) -> Sequence[DescriptionRow]:
    description = cursor.description
    if description is None:
        raise InterfaceError("no result set: the last statement returned no rows (or none was run)")
    return description


def iter_batches(
    cursor: Cursor,
    batch_size: int = DEFAULT_BATCH_ROWS,
    *,
    on_rows: Callable[[int], None] | None = None,
    fetch_rows: int = _FETCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The cursor's remaining rows as record batches of at most ``batch_size`` rows, lazily.

    Rows are fetched in slices of at most ``fetch_rows``; ``on_rows(n)`` is called after each
    slice, so a progress display moves while a big batch fills.
    """
    if batch_size <= 0:
        raise InterfaceError("batch_size must be a positive number of rows")
    builder = _BatchBuilder(_description(cursor))
    columnar = cursor._take_arrow(builder.schema, builder.build)
    if columnar is not None:
        yield from _sliced(cursor, columnar, batch_size, on_rows)
        return
    done = False
    while not done:
        rows: list[tuple[Any, ...]] = []
        while len(rows) < batch_size:
            want = min(batch_size - len(rows), max(1, fetch_rows))
            chunk = cursor.fetchmany(want)
            rows.extend(chunk)
            if on_rows is not None and chunk:
                on_rows(len(chunk))
            if len(chunk) < want:
                done = True
                break
        if rows:
            yield builder.build(rows)


def _sliced(
    cursor: Cursor, batches: Iterator[pa.RecordBatch], batch_size: int, on_rows: Callable[[int], None] | None
) -> Iterator[pa.RecordBatch]:
    """Page batches cut to at most ``batch_size`` rows (zero-copy slices), counted on the cursor."""
    for batch in batches:
        for start in range(0, batch.num_rows, batch_size):
            piece = batch.slice(start, batch_size)
            cursor._arrow_rows(piece.num_rows)
            if on_rows is not None:
                on_rows(piece.num_rows)
            yield piece
    cursor._arrow_rows(0, done=True)


def record_batch_reader(cursor: Cursor, batch_size: int = DEFAULT_BATCH_ROWS) -> pa.RecordBatchReader:
    """A ``pyarrow.RecordBatchReader`` over the remaining rows: pages are fetched as it is read."""
    schema = arrow_schema(_description(cursor))
    return pa.RecordBatchReader.from_batches(schema, iter_batches(cursor, batch_size))


def arrow_table(cursor: Cursor, batch_size: int = DEFAULT_BATCH_ROWS) -> pa.Table:
    """All remaining rows as one ``pyarrow.Table`` (an empty table with the schema when none remain)."""
    schema = arrow_schema(_description(cursor))
    return pa.Table.from_batches(list(iter_batches(cursor, batch_size)), schema=schema)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise InterfaceError(
            "fetch_df() needs pandas: pip install 'd365conn[pandas]' (or pip install pandas)"
        ) from None
    return pandas


def _nullable_mapper(pd: Any) -> Callable[[pa.DataType], Any]:
    mapping = {
        pa.bool_(): pd.BooleanDtype(),
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.float32(): pd.Float32Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.string(): pd.StringDtype(),
    }
    return mapping.get


def to_pandas(table: pa.Table, dtype_backend: str = "numpy_nullable") -> Any:
    """A DataFrame from an Arrow table of results.

    ``numpy_nullable`` (default): integers and booleans as pandas nullable dtypes (``Int32``,
    ``boolean``: NULL stays ``<NA>``, not a float NaN), text as ``string``, decimals as
    ``decimal.Decimal`` objects, timestamps as ``datetime64[us, UTC]``, dates as ``datetime.date``.
    ``pyarrow``: every column as a ``pd.ArrowDtype`` (decimals stay ``decimal128``, dates ``date32``).
    """
    pd = _pandas()
    if dtype_backend == "pyarrow":
        return table.to_pandas(types_mapper=pd.ArrowDtype)
    if dtype_backend != "numpy_nullable":
        raise InterfaceError("dtype_backend must be 'numpy_nullable' or 'pyarrow'")
    return table.to_pandas(types_mapper=_nullable_mapper(pd))


def dataframe(cursor: Cursor, dtype_backend: str = "numpy_nullable") -> Any:
    """All remaining rows as a pandas DataFrame (see :func:`to_pandas` for the dtypes)."""
    _pandas()  # fail before fetching anything when pandas is missing
    return to_pandas(arrow_table(cursor), dtype_backend)


__all__ = [
    "DEFAULT_BATCH_ROWS",
    "arrow_schema",
    "arrow_table",
    "arrow_type",
    "dataframe",
    "decimal_type",
    "iter_batches",
    "record_batch_reader",
    "to_pandas",
]
