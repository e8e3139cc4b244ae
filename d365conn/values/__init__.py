"""Typed values: JSON as the service sends it -> the Python values a cursor returns.

Owns: the Edm type converters (:mod:`.edm`), the row decoder generated per column set
(:mod:`.rows`) and page decoding with its msgspec fast path (:mod:`.jsonpage`), plus the columnar
page decoder for Arrow (:mod:`.columnar`, imported on use: it needs pyarrow). Nothing here does
I/O; the transport hands over response bodies and gets tuples (or record batches) back.
"""

from __future__ import annotations

from .edm import ConversionFailure, Converter, converter_for, normalize_edm_type
from .encode import encode_json
from .jsonpage import (
    HAVE_MSGSPEC,
    Envelope,
    MalformedJSON,
    PageDecoder,
    gc_paused,
    loads_exact,
    split_envelope,
)
from .rows import RowDecoder, make_row_decoder, read_path

__all__ = [
    "HAVE_MSGSPEC",
    "ConversionFailure",
    "Converter",
    "Envelope",
    "MalformedJSON",
    "PageDecoder",
    "RowDecoder",
    "converter_for",
    "encode_json",
    "gc_paused",
    "loads_exact",
    "make_row_decoder",
    "normalize_edm_type",
    "read_path",
    "split_envelope",
]
