"""The embedded SQL engine (DuckDB) that finishes what the service cannot do.

Owns: loading scanned rows into DuckDB relations, running the plan's local SQL over them, and
mapping DuckDB's result types back to Edm type codes for ``cursor.description``.

Rows enter DuckDB as Arrow record batches (a few thousand rows at a time): DuckDB ingests Arrow
~75x faster than parameterised inserts, which is why pyarrow is a runtime dependency. Results
leave in chunks, so a large local result streams to the cursor like a pushed-down one does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from .exceptions import DataError, NotSupportedError, OperationalError, ProgrammingError
from .planner.plan import GUID_KEY_MACRO
from .result import ColumnInfo, display_size_for

_BATCH_ROWS = 8192
_FETCH_ROWS = 4096


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

    def query(self, sql: str) -> tuple[list[ColumnInfo], Iterator[tuple[Any, ...]]]:
        """Run ``sql``; return its columns and a lazy iterator over its rows."""
        try:
            cur = self._con.execute(sql)
        except duckdb.ParserException as err:
            raise ProgrammingError(f"local SQL could not be parsed: {err}") from None
        except duckdb.BinderException as err:
            raise ProgrammingError(f"local SQL refers to something unknown: {err}") from None
        except duckdb.ConversionException as err:
            raise DataError(f"a value could not be converted: {err}") from None
        except duckdb.NotImplementedException as err:
            raise NotSupportedError(f"the local engine cannot run this statement: {err}") from None
        except duckdb.Error as err:
            raise OperationalError(f"local engine error: {err}") from None
        columns = [_column_info(name, type_) for name, type_, *_ in (cur.description or [])]

        def rows() -> Iterator[tuple[Any, ...]]:
            try:
                while True:
                    chunk = cur.fetchmany(_FETCH_ROWS)
                    if not chunk:
                        return
                    yield from chunk
            except duckdb.Error as err:
                raise DataError(f"local engine error while reading results: {err}") from None
            finally:
                self.close()

        return columns, rows()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._con.close()


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
