"""The embedded SQL engine (DuckDB) that finishes what the service cannot do.

Owns: loading scanned rows into DuckDB relations, running the plan's local SQL over them,
mapping DuckDB's result types back to Edm type codes for ``cursor.description``, and handing the
result out as tuples or as Arrow record batches.

Rows enter DuckDB as Arrow record batches (a few thousand rows at a time): DuckDB ingests Arrow
~75x faster than parameterised inserts, which is why pyarrow is a runtime dependency.

Results leave as a :class:`LocalRows` in one of two forms, chosen by the cursor's first fetch:

- **tuples** -- DuckDB's own Python values (``uuid.UUID``, aware ``datetime``, ``Decimal``...),
  read ``_FETCH_ROWS`` at a time from the DB-API result ``query()`` started; DuckDB runs a query
  until its first rows are ready inside ``execute()``, so errors there surface in ``execute()``.
- **Arrow** -- if the first fetch is an Arrow one (``arrow_batches``), that DB-API result is
  aborted and the statement re-run as a relation streaming DuckDB's own record batches (DuckDB's
  Arrow export of a DB-API result copies every remaining row first; the relation streams). Each
  batch is cast to the schema ``arrow.py`` gives the description; only result types whose export
  casts to exactly the values the tuple path gives (``_arrow_safe``) go this way, others stay tuples.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from .exceptions import DataError, NotSupportedError, OperationalError, ProgrammingError
from .planner.plan import GUID_KEY_MACRO
from .result import ColumnInfo, display_size_for

_BATCH_ROWS = 8192
_FETCH_ROWS = 4096
#: Rows per record batch DuckDB streams out (``arrow.py`` cuts them smaller when asked to).
_ARROW_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class LocalColumn:
    """A column of a relation loaded into the engine."""

    name: str
    edm_type: str
    precision: int | None = None
    scale: int | None = None
    max_length: int | None = None
    nullable: bool = True


def _decimal_type(precision: int | None, scale: int | None) -> tuple[int, int]:
    # Dataverse money has precision up to 4 decimals; DuckDB decimals hold at most 38 digits.
    s = 10 if scale is None else max(0, min(scale, 37))
    p = 38 if precision is None else max(s + 1, min(precision, 38))
    # Dataverse reports precision as decimal places for some attributes; keep room for the integer part.
    p = max(p, min(38, s + 18))
    return p, s


def duckdb_type(col: LocalColumn) -> str:
    edm = col.edm_type
    if edm == "Edm.Decimal":
        p, s = _decimal_type(col.precision, col.scale)
        return f"DECIMAL({p},{s})"
    return _DUCKDB_TYPES.get(edm, "VARCHAR")


def arrow_type(col: LocalColumn) -> pa.DataType:
    edm = col.edm_type
    if edm == "Edm.Decimal":
        p, s = _decimal_type(col.precision, col.scale)
        return pa.decimal128(p, s)
    return ARROW_TYPES.get(edm, pa.string())


_DUCKDB_TYPES = {
    "Edm.String": "VARCHAR",
    "Edm.Guid": "UUID",
    "Edm.Boolean": "BOOLEAN",
    "Edm.Byte": "UTINYINT",
    "Edm.SByte": "TINYINT",
    "Edm.Int16": "SMALLINT",
    "Edm.Int32": "INTEGER",
    "Edm.Int64": "BIGINT",
    "Edm.Double": "DOUBLE",
    "Edm.Single": "FLOAT",
    "Edm.DateTimeOffset": "TIMESTAMPTZ",
    "Edm.Date": "DATE",
    "Edm.TimeOfDay": "TIME",
    "Edm.Binary": "BLOB",
}

#: Edm type -> Arrow type of the batches loaded into DuckDB (``arrow.py`` starts from the same table).
#: Decimals take their precision and scale per column; anything not listed (Edm.Duration) is text.
ARROW_TYPES: dict[str, pa.DataType] = {
    "Edm.String": pa.string(),
    "Edm.Guid": pa.string(),  # cast to UUID inside DuckDB
    "Edm.Boolean": pa.bool_(),
    "Edm.Byte": pa.uint8(),
    "Edm.SByte": pa.int8(),
    "Edm.Int16": pa.int16(),
    "Edm.Int32": pa.int32(),
    "Edm.Int64": pa.int64(),
    "Edm.Double": pa.float64(),
    "Edm.Single": pa.float32(),
    "Edm.DateTimeOffset": pa.timestamp("us", tz="UTC"),
    "Edm.Date": pa.date32(),
    "Edm.TimeOfDay": pa.time64("us"),
    "Edm.Binary": pa.binary(),
}

# DuckDB result type -> Edm type code (what cursor.description reports).
_FROM_DUCKDB = {
    "VARCHAR": "Edm.String",
    "UUID": "Edm.Guid",
    "BOOLEAN": "Edm.Boolean",
    "TINYINT": "Edm.SByte",
    "UTINYINT": "Edm.Byte",
    "SMALLINT": "Edm.Int16",
    "USMALLINT": "Edm.Int32",
    "INTEGER": "Edm.Int32",
    "UINTEGER": "Edm.Int64",
    "BIGINT": "Edm.Int64",
    "UBIGINT": "Edm.Decimal",
    "HUGEINT": "Edm.Decimal",
    "UHUGEINT": "Edm.Decimal",
    "DOUBLE": "Edm.Double",
    "FLOAT": "Edm.Single",
    "TIMESTAMP WITH TIME ZONE": "Edm.DateTimeOffset",
    "TIMESTAMP": "Edm.DateTimeOffset",
    "DATE": "Edm.Date",
    "TIME": "Edm.TimeOfDay",
    "BLOB": "Edm.Binary",
    "NULL": "Edm.String",
    '"NULL"': "Edm.String",
}

_DECIMAL_RE = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


# SQL Server's uniqueidentifier order, as a text key: for the canonical form
# aabbccdd-eeff-gghh-iijj-kkllmmnnoopp the bytes are compared in the order 10-15 (kk..pp), 8-9 (iijj),
# 6-7, 4-5, 0-3 of the little-endian layout -- that is, the last two groups as written, then the
# first three groups with their bytes reversed (hhgg, ffee, ddccbbaa). Lower-case hex text compares
# as the bytes do.
_GUID_KEY_PARTS = ((25, 12), (20, 4), (17, 2), (15, 2), (12, 2), (10, 2), (7, 2), (5, 2), (3, 2), (1, 2))
GUID_KEY_MACRO_SQL = (
    f"CREATE MACRO {GUID_KEY_MACRO}(g) AS "
    + " || ".join(f"substr(lower(CAST(g AS VARCHAR)), {s}, {n})" for s, n in _GUID_KEY_PARTS)
)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class LocalEngine:
    """One DuckDB database per statement: load relations, run SQL, stream the result."""

    def __init__(self, collation: str | None = None) -> None:
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone='UTC'")
        self._con.execute(GUID_KEY_MACRO_SQL)
        if collation is not None:
            # The service's string semantics (Dataverse compares case-insensitively) must hold for
            # what runs here too: =, ORDER BY, DISTINCT, GROUP BY and set operations follow it.
            if not re.fullmatch(r"[a-z_.]+", collation):
                raise ProgrammingError(f"invalid collation {collation!r}")
            self._con.execute(f"SET default_collation='{collation}'")
        self._lock = threading.Lock()
        self._closed = False
        self._reader: Any = None  # the Arrow reader of the result, once one was asked for

    def load(
        self,
        name: str,
        columns: Sequence[LocalColumn],
        rows: Iterable[tuple[Any, ...]],
        *,
        schema: str | None = None,
    ) -> int:
        """Create relation ``name`` with ``columns`` and fill it from ``rows``; returns the row count."""
        target = quote_ident(name) if schema is None else f"{quote_ident(schema)}.{quote_ident(name)}"
        if schema is not None:
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        ddl = ", ".join(f"{quote_ident(c.name)} {duckdb_type(c)}" for c in columns)
        self._con.execute(f"CREATE TABLE {target} ({ddl})")
        arrow_schema = pa.schema([pa.field(f"c{i}", arrow_type(c)) for i, c in enumerate(columns)])
        count = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= _BATCH_ROWS:
                count += self._insert(target, columns, arrow_schema, batch)
                batch = []
        if batch:
            count += self._insert(target, columns, arrow_schema, batch)
        return count

    def _insert(
        self, target: str, columns: Sequence[LocalColumn], schema: pa.Schema, batch: list[tuple[Any, ...]]
    ) -> int:
        arrays = []
        for i, col in enumerate(columns):
            values = [row[i] for row in batch]
            if col.edm_type == "Edm.Guid":
                values = [None if v is None else str(v) for v in values]
            try:
                arrays.append(pa.array(values, type=schema.field(i).type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
                raise DataError(f"column {col.name}: a value does not fit {col.edm_type} ({err})") from None
        _arrow_batch = pa.Table.from_arrays(arrays, schema=schema)
        self._con.execute(f"INSERT INTO {target} SELECT * FROM _arrow_batch")  # noqa: S608 -- target is a quoted identifier
        return len(batch)

    def query(self, sql: str) -> tuple[list[ColumnInfo], LocalRows]:
        """Run ``sql``; return its columns and its rows (lazy: tuples, or Arrow batches on request)."""
        try:
            cur = self._con.execute(sql)
        except duckdb.Error as err:
            raise _query_error(err) from None
        description = cur.description or []
        columns = [_column_info(name, type_) for name, type_, *_ in description]
        arrow_ok = _STREAMS_ARROW and all(_arrow_safe(type_) for _, type_, *_ in description)
        return columns, LocalRows(self, sql, arrow=arrow_ok)

    def _fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._con.fetchmany(size)
        return rows

    def _arrow_reader(self, sql: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The result of ``sql`` as a stream of DuckDB's record batches, instead of the DB-API result."""
        with self._lock:
            if self._closed:
                raise OperationalError("the local engine was closed before its result was read")
            try:
                self._con.abort()  # the DB-API result query() started: its rows are not wanted
                reader = self._con.sql(sql).to_arrow_reader(batch_rows)
            except duckdb.Error as err:
                raise _query_error(err) from None
            self._reader = reader
        batches: Iterator[pa.RecordBatch] = iter(reader)
        return batches

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._reader is not None:
                    self._reader.close()  # a reader holds the connection until it is closed
                self._con.close()


class LocalRows:
    """The rows of a local result, streamed from DuckDB in one of two forms (the first fetch decides).

    Iterating gives typed tuples; ``arrow_batches`` -- set only while no tuple was taken and every
    column has an exact Arrow export -- gives the rows as record batches of a given schema instead
    (the protocol of :attr:`d365conn.result.Result.batches`). Either way the engine closes when the
    rows run out, or on :meth:`close`.
    """

    def __init__(self, engine: LocalEngine, sql: str, *, arrow: bool) -> None:
        self._engine = engine
        self._sql = sql
        self._arrow = arrow
        self._taken = False  # a tuple was asked for, or the batches were: one stream feeds one form
        self._rows: Iterator[tuple[Any, ...]] = self._tuples()
        self._batches: Iterator[pa.RecordBatch] | None = None

    def _tuples(self) -> Iterator[tuple[Any, ...]]:
        self._taken = True
        try:
            while True:
                chunk = self._engine._fetchmany(_FETCH_ROWS)
                if not chunk:
                    return
                yield from chunk
        except duckdb.Error as err:
            raise DataError(f"local engine error while reading results: {err}") from None
        finally:
            self._engine.close()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # The generator itself, so islice() and list() in the cursor run at C speed.
        return self._rows

    def __next__(self) -> tuple[Any, ...]:
        return next(self._rows)

    @property
    def arrow_batches(self) -> Callable[[pa.Schema, Any], Iterator[pa.RecordBatch]] | None:
        """``arrow_batches(schema, build)``, or None when the rows must be read as tuples."""
        if not self._arrow or self._taken:
            return None
        return self._take_batches

    def _take_batches(self, schema: pa.Schema, build: Any) -> Iterator[pa.RecordBatch]:
        # ``build`` (tuples -> batch) is not needed: every column has an exact Arrow export.
        self._taken = True
        self._rows = iter(())
        self._batches = self._arrow_stream(schema)
        return self._batches

    def _arrow_stream(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._engine._arrow_reader(self._sql, _ARROW_BATCH_ROWS):
                yield conform(batch, schema)
        except (duckdb.Error, pa.ArrowException, OSError) as err:
            # DuckDB errors raised while the reader runs reach Python as pyarrow's (OSError) ones.
            raise DataError(f"local engine error while reading results: {err}") from None
        finally:
            self._engine.close()

    def close(self) -> None:
        """Stop reading: no more rows are produced and the engine is closed."""
        for stream in (self._rows, self._batches):
            close = getattr(stream, "close", None)  # a started generator: runs its finally
            if close is not None:
                close()
        self._engine.close()


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A DuckDB record batch as ``schema`` says (names and types), column by column, by position."""
    if batch.num_columns != len(schema):
        raise OperationalError(f"the local engine returned {batch.num_columns} columns, not {len(schema)}")
    arrays = []
    for index, field in enumerate(schema):
        column = batch.column(index)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise DataError(
                    f"column {field.name!r}: a value does not fit the Arrow type {field.type} ({err})"
                ) from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _query_error(err: duckdb.Error) -> Exception:
    """The PEP 249 error for a DuckDB error raised while a statement starts."""
    if isinstance(err, duckdb.ParserException):
        return ProgrammingError(f"local SQL could not be parsed: {err}")
    if isinstance(err, duckdb.BinderException):
        return ProgrammingError(f"local SQL refers to something unknown: {err}")
    if isinstance(err, duckdb.ConversionException):
        return DataError(f"a value could not be converted: {err}")
    if isinstance(err, duckdb.NotImplementedException):
        return NotSupportedError(f"the local engine cannot run this statement: {err}")
    return OperationalError(f"local engine error: {err}")


def _arrow_safe(duck_type: Any) -> bool:
    """Whether DuckDB's Arrow export of this result type casts to exactly the tuple path's values.

    The types of ``_FROM_DUCKDB`` and decimals: UUID is exported as its canonical text, HUGEINT and
    UBIGINT as decimal128/uint64 (cast to the description's decimal128), TIMESTAMP as a naive
    timestamp (cast to UTC, as the tuple path marks naive datetimes). Lists, structs, intervals,
    enums, TIMESTAMP_NS and the like have no exact counterpart and are read as tuples.
    """
    text = str(duck_type).upper()
    return text in _FROM_DUCKDB or _DECIMAL_RE.fullmatch(text) is not None


#: DuckDB >= 2 streams a relation as Arrow (``to_arrow_reader``) and aborts a DB-API result
#: (``abort``); without both, local results are always read as tuples.
_STREAMS_ARROW = hasattr(duckdb.DuckDBPyRelation, "to_arrow_reader") and hasattr(
    duckdb.DuckDBPyConnection, "abort"
)


def _column_info(name: str, duck_type: Any) -> ColumnInfo:
    text = str(duck_type).upper()
    match = _DECIMAL_RE.fullmatch(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        return ColumnInfo(
            name,
            "Edm.Decimal",
            display_size_for("Edm.Decimal", None, precision),
            None,
            precision,
            scale,
            True,
        )
    edm = _FROM_DUCKDB.get(text, "Edm.String")
    return ColumnInfo(name, edm, display_size_for(edm, None, None), None, None, None, True)
