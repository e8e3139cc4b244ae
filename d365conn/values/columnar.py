"""JSON pages -> Arrow record batches, column by column, without building row tuples.

Owns: :class:`ColumnarDecoder`, the columnar sibling of :class:`~.jsonpage.PageDecoder`.

Three tiers, one meaning (the tuple path's):

1. **Arrow's JSON reader** (most column sets): the response body is parsed in C++ by
   ``pyarrow.json.read_json`` with an explicit schema -- ``value`` as a list of one struct whose
   fields are the selected keys, other keys ignored -- so no Python object is made per value.
   Numbers go straight into integers (range-checked), doubles and ``decimal128`` (exact, from the
   number's text: Arrow refuses a value that would lose a digit). GUIDs, timestamps and dates are
   read as text and checked against the exact wire forms the tuple path reads identically before
   Arrow parses them (a date-time without seconds or with a 7th fraction digit, a non-canonical
   GUID... are left to the tuple path, not guessed).
2. **msgspec structs** (column sets the reader does not type: binary, single-precision floats):
   the page is decoded into one flat struct per row whose fields keep the wire form where Arrow
   parses it better than Python does; each column is gathered with ``operator.attrgetter`` (a C
   loop) into one ``pa.array`` call.
3. **the tuple path**: ``PageDecoder`` then the caller's tuple -> batch builder.

Anything a tier is not certain about -- a column set with expanded (nested) or computed values, a
page the parser refuses, a value that would parse differently (a negative zero read from ``-0``,
a year outside 1..9999, a null row) -- sends the page to the next tier, and the tuple path
accepts it or raises the exact DataError. So the columnar tiers can only be faster, never different.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Annotated, Any, Optional

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from ..planner.plan import OutputColumn
from .edm import INT_RANGES, normalize_edm_type
from .jsonpage import HAVE_MSGSPEC, PageDecoder, PageRows, RowsJSON, gc_paused

if HAVE_MSGSPEC:
    import msgspec  # type: ignore[import-not-found,unused-ignore]

#: Canonical GUIDs (what ``str(uuid.UUID(...))`` gives for a GUID the service sent).
_GUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_GUID_ANY_CASE = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

#: The date-times Arrow parses exactly as ``edm.to_datetime`` does: seconds present, at most 6
#: fraction digits (more are rounded by the tuple path, refused by Arrow), an explicit offset of
#: less than a day (Arrow refuses none: the tuple path reads it as UTC).
_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$"
)
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

#: Python's datetime range in microseconds and days since 1970 (Arrow reads year 0 and
#: 10000-01-01 in UTC; the tuple path cannot). Plain ints: a ``pa.scalar`` from a datetime would
#: import pandas, 40 MB the tuple path must not pay for.
_EPOCH = dt.datetime(1970, 1, 1)
_TS_RANGE = (
    (dt.datetime(1, 1, 1) - _EPOCH) // dt.timedelta(microseconds=1),
    (dt.datetime(9999, 12, 31, 23, 59, 59, 999999) - _EPOCH) // dt.timedelta(microseconds=1),
)
_MIN_DAY = (dt.date(1, 1, 1) - _EPOCH.date()).days

_UTC_US = pa.timestamp("us", tz="UTC")

#: Edm types read as the wire's strings and parsed by Arrow.
_PARSED_BY_ARROW = ("Edm.Guid", "Edm.DateTimeOffset", "Edm.Date")

#: Edm types Arrow's JSON reader reads exactly like the tuple path (see the module docstring).
_JSON_READER_TYPES = frozenset(
    {"Edm.String", "Edm.Boolean", "Edm.Decimal", "Edm.Double", *INT_RANGES, *_PARSED_BY_ARROW}
)

#: The bit pattern of -0.0: Arrow reads the JSON integer ``-0`` as -0.0, the tuple path as 0.0.
_NEGATIVE_ZERO_BITS = -(2**63)

#: Pages in a row a columnar tier may leave alone before it is not tried again in a scan.
_GIVE_UP = 3

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
    """A page a tier leaves to the next one."""


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask).as_py() is not False)


def _guids(text: pa.Array, type_: pa.DataType) -> pa.Array:
    """GUID text as the tuple path writes it (lower case, canonical); refuses any other form."""
    if not _all(pc.match_substring_regex(text, _GUID)):
        if not _all(pc.match_substring_regex(text, _GUID_ANY_CASE)):
            raise _Refused  # braces, no hyphens...: uuid.UUID accepts more than this
        text = pc.utf8_lower(text)  # str(uuid.UUID(...)) is lower case
    return text if type_ == pa.string() else text.cast(type_)


def _timestamps(text: pa.Array, type_: pa.DataType) -> pa.Array:
    if not _all(pc.match_substring_regex(text, _TIMESTAMP)):
        raise _Refused
    values = text.cast(type_)
    if values.null_count < len(values) and type_ == _UTC_US:
        bounds = pc.min_max(values.view(pa.int64())).as_py()
        if bounds["min"] < _TS_RANGE[0] or bounds["max"] > _TS_RANGE[1]:
            raise _Refused
    elif values.null_count < len(values):
        raise _Refused  # another unit or zone: not what the tuple path builds
    return values


def _dates(text: pa.Array, type_: pa.DataType) -> pa.Array:
    if not _all(pc.match_substring_regex(text, _DATE)):
        raise _Refused
    values = text.cast(pa.date32())
    if values.null_count < len(values) and pc.min(values.view(pa.int32())).as_py() < _MIN_DAY:
        raise _Refused
    return values if type_ == pa.date32() else values.cast(type_)


def _negative_zero(values: pa.Array) -> bool:
    if values.null_count == len(values):
        return False
    return bool(pc.any(pc.equal(values.view(pa.int64()), _NEGATIVE_ZERO_BITS)).as_py())


def _from_text(edm: str, text: pa.Array, type_: pa.DataType) -> pa.Array:
    if edm == "Edm.Guid":
        return _guids(text, type_)
    if edm == "Edm.DateTimeOffset":
        return _timestamps(text, type_)
    return _dates(text, type_)


class _JSONReader:
    """Arrow's JSON reader set up for one column set: the wire schema and the fix-ups after it."""

    def __init__(self, columns: Sequence[OutputColumn], schema: pa.Schema) -> None:
        fields = []
        self.edm: list[str] = []
        for col, field in zip(columns, schema, strict=True):
            edm = normalize_edm_type(col.edm_type)
            self.edm.append(edm)
            wire = pa.string() if edm in _PARSED_BY_ARROW else field.type
            fields.append(pa.field(col.path[0], wire))
        self.schema = schema
        self.parse = pa_json.ParseOptions(
            explicit_schema=pa.schema([pa.field("value", pa.list_(pa.struct(fields)))]),
            unexpected_field_behavior="ignore",  # "@odata.etag", annotations, "@odata.nextLink"...
            newlines_in_values=True,  # a pretty-printed page is one document, not one per line
        )

    def read(self, document: bytes | memoryview) -> pa.RecordBatch:
        # One document, one block: use_threads would only add a thread hand-off.
        options = pa_json.ReadOptions(use_threads=False, block_size=max(len(document) + 1, 1 << 16))
        table = pa_json.read_json(pa.py_buffer(document), read_options=options, parse_options=self.parse)
        if table.num_rows != 1:
            raise _Refused  # not one collection object
        pages = table.column(0)
        lists = pages.chunk(0) if pages.num_chunks == 1 else pa.concat_arrays(pages.chunks)
        if lists.null_count:
            raise _Refused  # "value": null
        rows = lists.flatten()
        if rows.null_count:
            raise _Refused  # a null row: the tuple path names it
        arrays: list[pa.Array] = []
        for index, edm in enumerate(self.edm):
            values = rows.field(index)
            if edm in _PARSED_BY_ARROW:
                values = _from_text(edm, values, self.schema.field(index).type)
            elif edm == "Edm.Double" and _negative_zero(values):
                raise _Refused
            arrays.append(values)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


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
        flat = len(self.columns) == len(schema) and _flat_keys(self.columns)
        self._edm = [normalize_edm_type(col.edm_type) for col in self.columns]
        readable = flat and all(edm in _JSON_READER_TYPES for edm in self._edm)
        self._reader = _JSONReader(self.columns, schema) if readable else None
        self._decode = self._build() if flat else None
        self._reader_misses = self._decode_misses = 0
        #: Pages decoded column by column (by either columnar tier), of them by Arrow's JSON reader,
        #: and pages left to the tuple path (for tests, tuning).
        self.columnar_pages = 0
        self.reader_pages = 0
        self.fallback_pages = 0

    @property
    def columnar(self) -> bool:
        """Whether this column set is decoded column by column at all."""
        return self._reader is not None or self._decode is not None

    def _build(self) -> Callable[[bytes | memoryview], Any] | None:
        if not HAVE_MSGSPEC or not self._tuples.fast:
            return None
        spec: list[tuple[str, Any, Any]] = []
        rename: dict[str, str] = {}
        self._getters: list[Callable[[Any], Any]] = []
        for index, col in enumerate(self.columns):
            wire = _wire_type(self._edm[index])
            if wire is None:
                return None
            name = f"f{index}"
            spec.append((name, Optional[wire], None))  # noqa: UP045 -- a runtime type for msgspec
            rename[name] = col.path[0]
            self._getters.append(attrgetter(name))
        row_type = msgspec.defstruct("_ColumnarRow", spec, rename=rename, gc=False)
        decoder = msgspec.json.Decoder(list[row_type])  # type: ignore[valid-type]
        decode: Callable[[bytes | memoryview], Any] = decoder.decode
        return decode

    def decode(self, rows: PageRows, first_row: int = 1) -> pa.RecordBatch:
        """One record batch for a page's rows; ``first_row`` numbers ``rows[0]`` for error messages."""
        batch = self.decode_columnar(rows)
        if batch is not None:
            return batch
        self.fallback_pages += 1
        return self._fallback(self._tuples.decode(rows, first_row))

    def decode_columnar(self, rows: PageRows) -> pa.RecordBatch | None:
        """The page decoded column by column, or None when both columnar tiers leave it alone.

        A tier that left ``_GIVE_UP`` pages in a row alone is not tried again for this scan: a
        service that always sends, say, Int64 as strings would otherwise pay for three decodes a page.
        """
        if isinstance(rows, list):
            return None
        if self._reader is not None:
            document = rows.document if isinstance(rows, RowsJSON) else None
            try:
                batch = self._reader.read(document or b'{"value":' + bytes(rows) + b"}")
            except (_Refused, pa.ArrowException):
                self._reader_misses += 1
                if self._reader_misses >= _GIVE_UP:
                    self._reader = None
            else:
                self._reader_misses = 0
                self.columnar_pages += 1
                self.reader_pages += 1
                return batch
        if self._decode is not None:
            try:
                batch = self._columns(rows.array if isinstance(rows, RowsJSON) else rows)
            except (_Refused, ValueError, TypeError, OverflowError, pa.ArrowException):
                # msgspec.ValidationError is a ValueError: the tuple path decides
                self._decode_misses += 1
                if self._decode_misses >= _GIVE_UP:
                    self._decode = None
            else:
                self._decode_misses = 0
                self.columnar_pages += 1
                return batch
        return None

    def _columns(self, raw: bytes | memoryview) -> pa.RecordBatch:
        with gc_paused():
            structs = self._decode(raw)  # type: ignore[misc]  # only called when set
        arrays: list[pa.Array] = []
        for index, edm in enumerate(self._edm):
            type_ = self.schema.field(index).type
            values = list(map(self._getters[index], structs))
            if edm in _PARSED_BY_ARROW:
                arrays.append(_from_text(edm, pa.array(values, pa.string()), type_))
            else:
                arrays.append(pa.array(values, type_))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _flat_keys(columns: Sequence[OutputColumn]) -> bool:
    """Every column is one top-level key, none read twice (expanded values: the tuple path)."""
    keys = [col.path[0] for col in columns if len(col.path) == 1]
    return len(keys) == len(columns) and len(set(keys)) == len(keys)


class SwitchableDecoder:
    """Decodes a scan's pages as tuples until :meth:`to_arrow` is called, then as record batches.

    One page stream serves both fetch styles of a cursor: whichever the first fetch asks for
    consumes it, and nothing is fetched twice.

    With ``keep_first``, the first page's JSON is kept next to its tuples until the tuples are
    taken (:meth:`tuples_taken`) or the second page is decoded, so that an Arrow fetch that comes
    first decodes it again column by column (:meth:`first_batch`: ~5x cheaper than converting
    5,000 tuples to Arrow) -- at the price of holding one page of JSON in between.
    """

    def __init__(self, columns: Sequence[OutputColumn], *, table: str = "", keep_first: bool = False) -> None:
        self.columns = tuple(columns)
        self.table = table
        self._tuples = PageDecoder(self.columns, table=table)
        self.arrow: ColumnarDecoder | None = None
        self._fallback: TupleBuilder | None = None
        self._keep_first = keep_first
        self._first_json: PageRows | None = None
        self._pages = 0

    def to_arrow(self, schema: pa.Schema, fallback: TupleBuilder) -> None:
        """From the next page on, return record batches of ``schema``."""
        self.arrow = ColumnarDecoder(self.columns, schema, fallback, table=self.table)
        self._fallback = fallback

    def decode(self, rows: PageRows, first_row: int = 1) -> list[tuple[Any, ...]] | pa.RecordBatch:
        self._pages += 1
        self._first_json = None
        if self.arrow is not None:
            return self.arrow.decode(rows, first_row)
        if self._keep_first and self._pages == 1 and not isinstance(rows, list):
            self._first_json = rows
        return self._tuples.decode(rows, first_row)

    def tuples_taken(self) -> None:
        """The first page's rows went out as tuples: its JSON is not needed any more."""
        self._first_json = None

    def first_batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        """The first page, already decoded as ``rows``, as a record batch (after :meth:`to_arrow`):
        from its JSON when still kept and a columnar tier takes it, else from the tuples."""
        if self.arrow is None or self._fallback is None:
            raise RuntimeError("first_batch() before to_arrow()")
        document, self._first_json = self._first_json, None
        batch = self.arrow.decode_columnar(document) if document is not None else None
        return batch if batch is not None else self._fallback(rows)

    def count(self, n: int) -> list[tuple[Any, ...]] | pa.RecordBatch:
        """The one page of a ``/$count`` scan."""
        return [(n,)] if self._fallback is None else self._fallback([(n,)])


__all__ = ["ColumnarDecoder", "SwitchableDecoder", "TupleBuilder"]
