"""JSON pages -> typed rows, exactly and fast.

Owns: reading an OData response body -- splitting the envelope (``value``, ``@odata.nextLink``,
``@odata.count``) from the rows, and decoding the rows of a page into tuples for a column set.

Two paths, one meaning:

- **reference path** (always available): ``json.loads(..., parse_float=Decimal)`` -- every JSON
  number with a fraction or exponent stays exact -- then the generated row decoder of
  :mod:`.rows` and the converters of :mod:`.edm`.
- **fast path** (when msgspec is installed, :mod:`.typed`): the page is decoded straight into typed
  structs in C (``uuid.UUID``, ``Decimal`` from the number's text, ``datetime``, ``date``,
  ``bytes``, range-checked ints), one struct type generated per column set, then read into tuples
  by a generated comprehension; columns whose values repeat share them. Whenever msgspec refuses
  a page (an Int64 sent as a string, ``"NaN"`` in a Double, base64url binary, a value that really
  does not fit...), the page is decoded again by the reference path, which either accepts it or
  raises the DataError naming table, column and row.
  So the fast path can only ever be faster, never different.

The envelope split is cheap with msgspec (``value`` is only skipped over and kept as a
:class:`RowsJSON`: a zero-copy view into the response body), so the transport's prefetch thread can
learn the next link without decoding the rows, and the consumer decodes page N while page N+1
downloads. Not copying the 5 MB array matters for memory as much as for time: a copy made in the
prefetch thread was alive at the same time as the page being decoded.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Optional, TypeAlias

from ..planner.plan import OutputColumn
from .edm import ConversionFailure
from .rows import RowDecoder

if TYPE_CHECKING:
    from .typed import TypedDecoder

try:
    import msgspec  # type: ignore[import-not-found,unused-ignore]  # (optional: see HAVE_MSGSPEC)
except ImportError:  # pragma: no cover -- exercised by the tests through HAVE_MSGSPEC=False
    msgspec = None  # type: ignore[assignment,unused-ignore]

#: Whether the msgspec fast path is available (tests switch it off to run the reference path).
HAVE_MSGSPEC = msgspec is not None


class MalformedJSON(ValueError):
    """A body is not complete JSON (truncated, cut off, or not JSON at all)."""


class RowsJSON:
    """The rows of a page, not yet decoded: the JSON array's text.

    ``array`` is the ``[...]`` of rows -- a read-only view into the response body, not a copy.
    ``document`` is the whole body when the array is the ``value`` of a collection object (the
    Arrow JSON reader parses the body in place, see :mod:`.columnar`); None otherwise.
    """

    __slots__ = ("array", "document")

    def __init__(self, array: bytes | memoryview, document: bytes | None = None) -> None:
        self.array = array
        self.document = document

    def __bytes__(self) -> bytes:
        return bytes(self.array)

    def __len__(self) -> int:
        """Bytes of JSON text (not rows)."""
        return len(self.array)

    def __repr__(self) -> str:
        return f"<RowsJSON {len(self.array):,} bytes>"


#: What a page decoder accepts: raw JSON of the rows array, or rows already decoded into dicts.
PageRows: TypeAlias = "bytes | RowsJSON | list[Any]"


@dataclass(frozen=True)
class Envelope:
    """An OData response body split into its parts.

    ``rows`` is either the JSON text of the array of rows (:class:`RowsJSON`, fast path) or the
    decoded list. A single-entity response (``GET accounts(<id>)``) becomes a one-row collection.
    """

    rows: RowsJSON | list[Any]
    next_link: str | None
    count: int | None


class _GCPause:
    """Nesting, thread-safe pauses of the cyclic garbage collector."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._was_enabled:
                    gc.enable()


#: Pause the cyclic garbage collector while a page's objects are built. A page allocates tens of
#: thousands of objects, none in a reference cycle: the collector would run dozens of times per
#: page for nothing -- and as a ``fetchall()`` result grows, every full collection walks all the
#: rows read so far, which made a 200,000-row extract several times slower. Pauses nest across
#: threads (the prefetch thread and the consumer); the collector is re-enabled only if it was
#: enabled when the first pause began.
gc_paused = _GCPause()


def loads_exact(data: bytes | str | RowsJSON) -> Any:
    """Decode JSON with every non-integral number as an exact ``Decimal``."""
    text: bytes | str | memoryview = data.array if isinstance(data, RowsJSON) else data
    try:
        with gc_paused():
            if _EXACT is not None:
                return _EXACT.decode(text)
            return json.loads(bytes(text) if isinstance(text, memoryview) else text, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:  # msgspec.DecodeError and JSONDecodeError
        raise MalformedJSON(str(exc)) from None


def split_envelope(body: bytes, *, use_fast: bool | None = None) -> Envelope:
    """Split a response body; raises MalformedJSON when it is not one complete JSON document."""
    if (HAVE_MSGSPEC if use_fast is None else use_fast) and msgspec is not None:
        try:
            env = _ENVELOPE.decode(body)
        except msgspec.ValidationError:
            pass  # not the usual shape (a bare array, "value" not a list...): the general path
        except msgspec.DecodeError as exc:
            raise MalformedJSON(str(exc)) from None
        else:
            # A view, not bytes(...): the 5 MB array is not copied (the view keeps the body alive).
            array = memoryview(env.value)
            if array[:1].tobytes() == b"[":
                return Envelope(RowsJSON(array, body), env.next_link, env.count)
            if not array:  # no "value": a single entity
                return Envelope(RowsJSON(b"[" + body + b"]"), None, None)
    document = loads_exact(body)
    if isinstance(document, list):
        return Envelope(document, None, None)
    if not isinstance(document, dict):
        raise MalformedJSON(f"expected a JSON object or array, got {type(document).__name__}")
    value = document.get("value")
    next_link = document.get("@odata.nextLink")
    count = document.get("@odata.count")
    if isinstance(value, list):
        return Envelope(
            value,
            next_link if isinstance(next_link, str) else None,
            count if isinstance(count, int) else None,
        )
    return Envelope([document], None, None)


class PageDecoder:
    """Decodes the rows of pages for one column set; build once per scan."""

    def __init__(
        self, columns: Sequence[OutputColumn], *, table: str = "", use_fast: bool | None = None
    ) -> None:
        self.columns = tuple(columns)
        self.rows = RowDecoder(self.columns, table)
        fast = HAVE_MSGSPEC if use_fast is None else use_fast
        self._typed: TypedDecoder | None = None
        if fast and msgspec is not None:
            from .typed import TypedDecoder

            self._typed = TypedDecoder.build(self.columns)
        self._tuned = False

    @property
    def fast(self) -> bool:
        """Whether pages of this column set are decoded by msgspec."""
        return self._typed is not None

    def decode(self, rows: PageRows, first_row: int = 1) -> list[tuple[Any, ...]]:
        """Typed tuples for a page's rows; ``first_row`` numbers ``rows[0]`` for error messages."""
        with gc_paused():
            return self._decode(rows, first_row)

    def _decode(self, rows: PageRows, first_row: int) -> list[tuple[Any, ...]]:
        if isinstance(rows, list):
            return self.rows.decode_rows(rows, first_row)
        if self._typed is not None and msgspec is not None:
            from .typed import Refused

            try:
                result = self._typed.decode(rows.array if isinstance(rows, RowsJSON) else rows)
            except (msgspec.ValidationError, Refused, ConversionFailure):
                pass  # the reference path decides: an accepted edge case, or a precise DataError
            else:
                if not self._tuned and result:
                    # Once, on the first page: which columns repeat their values (see .typed).
                    self._tuned = True
                    self._typed = self._typed.tuned(result)
                return result
        document = loads_exact(rows)
        if not isinstance(document, list):
            raise MalformedJSON("expected a JSON array of rows")
        return self.rows.decode_rows(document, first_row)


# --- the msgspec fast path ------------------------------------------------------------------------

_EXACT: Any = None
_ENVELOPE: Any = None
if msgspec is not None:
    _EXACT = msgspec.json.Decoder(float_hook=Decimal)
    _Envelope = msgspec.defstruct(
        "_Envelope",
        [
            ("value", msgspec.Raw, msgspec.Raw()),
            ("next_link", Optional[str], None),  # noqa: UP045 -- a runtime type for msgspec
            ("count", Optional[int], None),  # noqa: UP045
        ],
        rename={"next_link": "@odata.nextLink", "count": "@odata.count"},
        gc=False,
    )
    _ENVELOPE = msgspec.json.Decoder(_Envelope)


__all__ = [
    "HAVE_MSGSPEC",
    "Envelope",
    "MalformedJSON",
    "PageDecoder",
    "PageRows",
    "RowsJSON",
    "gc_paused",
    "loads_exact",
    "split_envelope",
]
