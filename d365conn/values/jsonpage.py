"""JSON pages -> typed rows, exactly and fast.

Owns: reading an OData response body -- splitting the envelope (``value``, ``@odata.nextLink``,
``@odata.count``) from the rows, and decoding the rows of a page into tuples for a column set.

Two paths, one meaning:

- **reference path** (always available): ``json.loads(..., parse_float=Decimal)`` -- every JSON
  number with a fraction or exponent stays exact -- then the generated row decoder of
  :mod:`.rows` and the converters of :mod:`.edm`.
- **fast path** (when msgspec is installed): the page is decoded straight into typed structs in C
  (``uuid.UUID``, ``Decimal`` from the number's text, ``datetime``, ``date``, ``bytes``, range-
  checked ints), one struct type generated per column set, then read into tuples by a generated
  comprehension. Whenever msgspec refuses a page (an Int64 sent as a string, ``"NaN"`` in a Double,
  base64url binary, a value that really does not fit...), the page is decoded again by the
  reference path, which either accepts it or raises the DataError naming table, column and row.
  So the fast path can only ever be faster, never different.

The envelope split is cheap with msgspec (``value`` is kept as raw bytes, only skipped over), so
the transport's prefetch thread can learn the next link without decoding the rows, and the
consumer decodes page N while page N+1 downloads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Optional

from ..planner.plan import OutputColumn
from .edm import INT_RANGES, UTC, ConversionFailure, converter_for, normalize_edm_type
from .rows import RowDecoder

try:
    import msgspec  # type: ignore[import-not-found,unused-ignore]  # (optional: see HAVE_MSGSPEC)
except ImportError:  # pragma: no cover -- exercised by the tests through HAVE_MSGSPEC=False
    msgspec = None  # type: ignore[assignment,unused-ignore]

#: Whether the msgspec fast path is available (tests switch it off to run the reference path).
HAVE_MSGSPEC = msgspec is not None


class MalformedJSON(ValueError):
    """A body is not complete JSON (truncated, cut off, or not JSON at all)."""


@dataclass(frozen=True)
class Envelope:
    """An OData response body split into its parts.

    ``rows`` is either the raw bytes of the JSON array of rows (fast path) or the decoded list.
    A single-entity response (``GET accounts(<id>)``) becomes a one-row collection.
    """

    rows: bytes | list[Any]
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


def loads_exact(data: bytes | str) -> Any:
    """Decode JSON with every non-integral number as an exact ``Decimal``."""
    try:
        with gc_paused():
            if _EXACT is not None:
                return _EXACT.decode(data)
            return json.loads(data, parse_float=Decimal)
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
            raw = bytes(env.value)
            if raw[:1] == b"[":
                return Envelope(raw, env.next_link, env.count)
            if not raw:  # no "value": a single entity
                return Envelope(b"[" + body + b"]", None, None)
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
        self._typed = _TypedDecoder.build(self.columns) if fast and msgspec is not None else None

    @property
    def fast(self) -> bool:
        """Whether pages of this column set are decoded by msgspec."""
        return self._typed is not None

    def decode(self, rows: bytes | list[Any], first_row: int = 1) -> list[tuple[Any, ...]]:
        """Typed tuples for a page's rows; ``first_row`` numbers ``rows[0]`` for error messages."""
        with gc_paused():
            return self._decode(rows, first_row)

    def _decode(self, rows: bytes | list[Any], first_row: int) -> list[tuple[Any, ...]]:
        if isinstance(rows, list):
            return self.rows.decode_rows(rows, first_row)
        if self._typed is not None and msgspec is not None:
            try:
                return self._typed.decode(rows)
            except (msgspec.ValidationError, _Refused, ConversionFailure):
                pass  # the reference path decides: an accepted edge case, or a precise DataError
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


def _msgspec_type(edm_type: str) -> Any:
    """The type msgspec decodes a column into, or Any when the reference converter must run."""
    edm = normalize_edm_type(edm_type)
    if edm in INT_RANGES:
        low, high = INT_RANGES[edm]
        return Annotated[int, msgspec.Meta(ge=low, le=high)]
    return {
        "Edm.String": str,
        "Edm.Guid": uuid.UUID,
        "Edm.Boolean": bool,
        "Edm.Decimal": Decimal,
        "Edm.Double": float,
        "Edm.Single": float,
        "Edm.DateTimeOffset": dt.datetime,
        "Edm.Date": dt.date,
        "Edm.Binary": bytes,
    }.get(edm, Any)


def _to_utc(value: dt.datetime) -> dt.datetime:
    # msgspec keeps the offset it read; DateTimeOffset values are returned in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _refuse(value: Any) -> Any:
    # Sends the page to the reference path, which raises the DataError naming table, column, row.
    raise _Refused


class _Refused(Exception):
    """A value the fast path accepted but OData does not allow."""


class _Node:
    """One JSON object level of the struct tree: key -> leaf edm type or child node."""

    def __init__(self) -> None:
        self.leaves: dict[str, str] = {}
        self.children: dict[str, _Node] = {}


class _TypedDecoder:
    """A generated msgspec struct type for a column set and the comprehension that reads it."""

    def __init__(
        self, decode: Callable[[bytes], Any], extract: Callable[[Any], list[tuple[Any, ...]]]
    ) -> None:
        self._decode = decode
        self._extract = extract

    def decode(self, raw: bytes) -> list[tuple[Any, ...]]:
        return self._extract(self._decode(raw))

    @classmethod
    def build(cls, columns: Sequence[OutputColumn]) -> _TypedDecoder | None:
        """None when the column set cannot be typed (a key used both as a value and an object)."""
        root = _Node()
        for col in columns:
            if not col.path:
                continue
            node = root
            for key in col.path[:-1]:
                if key in node.leaves:
                    return None
                node = node.children.setdefault(key, _Node())
            leaf = col.path[-1]
            edm = normalize_edm_type(col.edm_type)
            if leaf in node.children or node.leaves.get(leaf, edm) != edm:
                return None
            node.leaves[leaf] = edm
        counter = itertools.count()
        fields: dict[tuple[str, ...], str] = {}  # JSON path -> attribute name in its struct
        row_type = _define(root, (), fields, counter)
        decoder = msgspec.json.Decoder(list[row_type], float_hook=Decimal)  # type: ignore[valid-type,unused-ignore]
        return cls(decoder.decode, _generate_extract(columns, fields))


def _define(node: _Node, prefix: tuple[str, ...], fields: dict[tuple[str, ...], str], counter: Any) -> Any:
    spec: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for key, edm in node.leaves.items():
        name = f"f{next(counter)}"
        path = (*prefix, key)
        fields[path] = name
        spec.append((name, Optional[_msgspec_type(edm)], None))  # noqa: UP045 -- runtime type
        rename[name] = key
    for key, child in node.children.items():
        name = f"f{next(counter)}"
        path = (*prefix, key)
        fields[path] = name
        child_type = _define(child, path, fields, counter)
        spec.append((name, Optional[child_type], None))  # noqa: UP045 -- runtime type
        rename[name] = key
    return msgspec.defstruct(f"_Row{next(counter)}", spec, rename=rename, gc=False)


def _generate_extract(
    columns: Sequence[OutputColumn], fields: dict[tuple[str, ...], str]
) -> Callable[[Any], list[tuple[Any, ...]]]:
    """``def extract(rows): return [(r.f0, ..., ) for r in rows]`` for this column set."""
    namespace: dict[str, Any] = {"UTC": UTC, "to_utc": _to_utc, "refuse": _refuse}
    items: list[str] = []
    for index, col in enumerate(columns):
        if not col.path:
            items.append("None")
            continue
        # Walk the nested structs: None as soon as an expanded object is null.
        expr = "r"
        guards: list[str] = []
        for depth in range(1, len(col.path)):
            var = f"n{index}_{depth}"
            guards.append(f"({var} := {expr}.{fields[col.path[:depth]]}) is None")
            expr = var
        expr = f"{expr}.{fields[col.path]}"
        edm = normalize_edm_type(col.edm_type)
        value = f"v{index}"
        if edm == "Edm.DateTimeOffset":
            expr = f"({value} if ({value} := {expr}) is None or {value}.tzinfo is UTC else to_utc({value}))"
        elif edm == "Edm.Decimal":
            # msgspec also reads the strings "NaN"/"Infinity" as decimals; OData has no such values.
            expr = f"({value} if ({value} := {expr}) is None or {value}.is_finite() else refuse({value}))"
        elif _msgspec_type(edm) is Any and converter_for(edm).__name__ != "identity":
            namespace[f"c{index}"] = converter_for(edm)
            expr = f"(None if ({value} := {expr}) is None else c{index}({value}))"
        for guard in reversed(guards):
            expr = f"(None if {guard} else {expr})"
        items.append(expr)
    body = ", ".join(items) + ("," if len(items) == 1 else "")
    source = f"def extract(rows):\n    return [({body}) for r in rows]\n"
    exec(compile(source, "<d365conn page extractor>", "exec"), namespace)  # noqa: S102 -- our code
    extract: Callable[[Any], list[tuple[Any, ...]]] = namespace["extract"]
    return extract


__all__ = [
    "HAVE_MSGSPEC",
    "Envelope",
    "MalformedJSON",
    "PageDecoder",
    "gc_paused",
    "loads_exact",
    "split_envelope",
]
