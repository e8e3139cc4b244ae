"""JSON pages -> Arrow record batches, column by column, without building row tuples.

Owns: :class:`ColumnarDecoder`, the columnar sibling of :class:`~.jsonpage.PageDecoder`.

A page is decoded by msgspec into one flat struct per row whose fields keep the wire form where
Arrow parses it better than Python does: GUIDs, timestamps and dates stay strings, decimals are
read exactly from the number's text, integers are range-checked. Each column is then gathered with
``operator.attrgetter`` (a C loop) and handed to one ``pa.array`` call; Arrow parses the strings
(``cast`` to ``timestamp[us, UTC]`` / ``date32``) and checks GUIDs with one regular expression.

One meaning with the tuple path: anything the columnar path is not certain about -- a column set
with expanded (nested) or computed values or an Edm type it does not handle, a page msgspec
refuses, a value Arrow will not parse or that would lose digits -- sends the page through the tuple path
(``PageDecoder`` then the caller's tuple -> batch builder), which accepts it or raises the exact
DataError. So the columnar path can only be faster, never different.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Annotated, Any, Optional

import pyarrow as pa
import pyarrow.compute as pc

from ..planner.plan import OutputColumn
from .edm import INT_RANGES, normalize_edm_type
from .jsonpage import HAVE_MSGSPEC, PageDecoder, gc_paused

if HAVE_MSGSPEC:
    import msgspec  # type: ignore[import-not-found,unused-ignore]

#: Canonical GUIDs (what ``str(uuid.UUID(...))`` gives for a GUID the service sent).
_GUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

#: Edm types read as the wire's strings and parsed by Arrow.
_PARSED_BY_ARROW = ("Edm.Guid", "Edm.DateTimeOffset", "Edm.Date")

TupleBuilder = Callable[[list[tuple[Any, ...]]], pa.RecordBatch]


def _wire_type(edm: str) -> Any:
    """The msgspec type a column is read as, or None when the columnar path does not handle it."""
    if edm in INT_RANGES:
        low, high = INT_RANGES[edm]
        return Annotated[int, msgspec.Meta(ge=low, le=high)]
    return {
        "Edm.String": str,
        "Edm.Guid": str,
        "Edm.DateTimeOffset": str,
        "Edm.Date": str,
        "Edm.Boolean": bool,
        "Edm.Decimal": Decimal,
        "Edm.Double": float,
        "Edm.Single": float,
        "Edm.Binary": bytes,  # base64 decoded by msgspec (base64url is refused: the tuple path reads it)
    }.get(edm)


class _Refused(Exception):
    """A page the columnar path leaves to the tuple path."""


class ColumnarDecoder:
    """Decodes the rows of pages for one column set into record batches of ``schema``.

    ``fallback`` turns typed tuples into a batch of the same schema (the tuple path's builder).
    """

    def __init__(
        self,
        columns: Sequence[OutputColumn],
        schema: pa.Schema,
        fallback: TupleBuilder,
        *,
        table: str = "",
    ) -> None:
        self.columns = tuple(columns)
        self.schema = schema
        self._fallback = fallback
        self._tuples = PageDecoder(self.columns, table=table)
        self._decode = self._build() if len(self.columns) == len(schema) else None
        #: Pages the columnar path decoded, and pages it left to the tuple path (for tests, tuning).
        self.columnar_pages = 0
        self.fallback_pages = 0

    @property
    def columnar(self) -> bool:
        """Whether this column set is decoded column by column at all."""
        return self._decode is not None

    def _build(self) -> Callable[[bytes], Any] | None:
        if not HAVE_MSGSPEC or not self._tuples.fast:
            return None
        spec: list[tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        seen: set[str] = set()
        self._getters: list[Callable[[Any], Any]] = []
        for index, col in enumerate(self.columns):
            if len(col.path) != 1 or col.path[0] in seen:
                return None  # expanded values, or a key read twice: the tuple path knows these
            wire = _wire_type(normalize_edm_type(col.edm_type))
            if wire is None:
                return None
            seen.add(col.path[0])
            name = f"f{index}"
            spec.append((name, Optional[wire], None))  # noqa: UP045 -- a runtime type for msgspec
            rename[name] = col.path[0]
            self._getters.append(attrgetter(name))
        row_type = msgspec.defstruct("_ColumnarRow", spec, rename=rename, gc=False)
        decode: Callable[[bytes], Any] = msgspec.json.Decoder(list[row_type]).decode  # type: ignore[valid-type]
        return decode

    def decode(self, rows: bytes | list[Any], first_row: int = 1) -> pa.RecordBatch:
        """One record batch for a page's rows; ``first_row`` numbers ``rows[0]`` for error messages."""
        if self._decode is not None and isinstance(rows, bytes):
            try:
                batch = self._columns(rows)
            except (_Refused, ValueError, TypeError, OverflowError, pa.ArrowException):
                pass  # msgspec.ValidationError is a ValueError: the tuple path decides
            else:
                self.columnar_pages += 1
                return batch
        self.fallback_pages += 1
        return self._fallback(self._tuples.decode(rows, first_row))

    def _columns(self, raw: bytes) -> pa.RecordBatch:
        with gc_paused():
            structs = self._decode(raw)  # type: ignore[misc]  # only called when set
        arrays: list[pa.Array] = []
        for index, col in enumerate(self.columns):
            type_ = self.schema.field(index).type
            values = list(map(self._getters[index], structs))
            edm = normalize_edm_type(col.edm_type)
            if edm in _PARSED_BY_ARROW:
                text = pa.array(values, pa.string())
                if edm == "Edm.Guid":
                    text = pc.utf8_lower(text)  # str(uuid.UUID(...)) is lower case
                    if pc.any(pc.invert(pc.match_substring_regex(text, _GUID))).as_py():
                        raise _Refused  # braces, no hyphens...: uuid.UUID accepts more than this
                    arrays.append(text if type_ == pa.string() else text.cast(type_))
                else:
                    arrays.append(text.cast(type_))
                continue
            arrays.append(pa.array(values, type_))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class SwitchableDecoder:
    """Decodes a scan's pages as tuples until :meth:`to_arrow` is called, then as record batches.

    One page stream serves both fetch styles of a cursor: whichever the first fetch asks for
    consumes it, and nothing is fetched twice.
    """

    def __init__(self, columns: Sequence[OutputColumn], *, table: str = "") -> None:
        self.columns = tuple(columns)
        self.table = table
        self._tuples = PageDecoder(self.columns, table=table)
        self.arrow: ColumnarDecoder | None = None
        self._fallback: TupleBuilder | None = None

    def to_arrow(self, schema: pa.Schema, fallback: TupleBuilder) -> None:
        """From the next page on, return record batches of ``schema``."""
        self.arrow = ColumnarDecoder(self.columns, schema, fallback, table=self.table)
        self._fallback = fallback

    def decode(self, rows: bytes | list[Any], first_row: int = 1) -> list[tuple[Any, ...]] | pa.RecordBatch:
        if self.arrow is not None:
            return self.arrow.decode(rows, first_row)
        return self._tuples.decode(rows, first_row)

    def count(self, n: int) -> list[tuple[Any, ...]] | pa.RecordBatch:
        """The one page of a ``/$count`` scan."""
        return [(n,)] if self._fallback is None else self._fallback([(n,)])


__all__ = ["ColumnarDecoder", "SwitchableDecoder", "TupleBuilder"]
