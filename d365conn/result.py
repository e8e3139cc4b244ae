"""The outcome of one statement, as the cursor consumes it.

Owns: :class:`Result` -- the description columns, a lazy iterator of typed row tuples, and the
counts a write produces. The service builds it; the cursor only reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .types import BINARY, DATETIME, NUMBER, STRING

DescriptionRow = tuple[str, str, int | None, int | None, int | None, int | None, bool | None]

_EMPTY: Iterator[tuple[Any, ...]] = iter(())


@dataclass(frozen=True)
class ColumnInfo:
    """One result column: name, Edm type code and sizes, for ``cursor.description``."""

    name: str
    type_code: str
    display_size: int | None = None
    internal_size: int | None = None
    precision: int | None = None
    scale: int | None = None
    null_ok: bool | None = True

    def description(self) -> DescriptionRow:
        return (
            self.name,
            self.type_code,
            self.display_size,
            self.internal_size,
            self.precision,
            self.scale,
            self.null_ok,
        )


def display_size_for(type_code: str, max_length: int | None, precision: int | None) -> int | None:
    """A display size in characters, as PEP 249 suggests, from the type and its sizes."""
    if type_code == STRING:
        return max_length
    if type_code == "Edm.Guid":
        return 36
    if type_code in ("Edm.Decimal",) and precision is not None:
        return precision + 2  # sign and decimal point
    if type_code == NUMBER:
        return {"Edm.Int16": 6, "Edm.Int32": 11, "Edm.Int64": 20, "Edm.Boolean": 5}.get(type_code, 24)
    if type_code == DATETIME:
        return {"Edm.Date": 10}.get(type_code, 32)
    if type_code == BINARY:
        return max_length
    return None


@dataclass
class Result:
    """Rows (lazy) and counts of one executed statement."""

    columns: Sequence[ColumnInfo] = ()
    rows: Iterator[tuple[Any, ...]] = field(default_factory=lambda: _EMPTY)
    #: Rows affected by a write; None for a SELECT until its rows are exhausted.
    rowcount: int | None = None
    lastrowid: Any = None
    #: Called when the cursor is done with the rows early (close, new execute): stops page fetches.
    on_close: Callable[[], None] | None = None

    @property
    def batches(self) -> Callable[[Any, Any], Iterator[Any]] | None:
        """``batches(schema, build)``: the rows as Arrow record batches of ``schema`` without
        Python tuples, else None. Two sources offer it: a pushed-down scan (pages decoded straight
        into columns, :class:`d365conn.execute._DualRows`) and a local DuckDB plan whose result
        types DuckDB exports exactly (its own record batches, :class:`d365conn.engine.LocalRows`).
        ``build(tuples)`` makes a batch from typed tuples, for pages the columnar decoder leaves
        to the tuple path. Only valid before any row was fetched as a tuple: both read one stream.
        """
        batches: Callable[[Any, Any], Iterator[Any]] | None = getattr(self.rows, "arrow_batches", None)
        return batches

    @property
    def has_rows(self) -> bool:
        return bool(self.columns)
