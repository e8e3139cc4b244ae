"""Writing result rows: an aligned table, CSV, JSON lines or Parquet, to stdout or a file.

Owns: the formats and the output target. A file is written under a temporary name next to it and
renamed into place only when every row is written, so an interrupted or failed query never
leaves a file that looks complete. CSV and JSON lines stream; Parquet streams record batches
(``d365conn.arrow``); the aligned table needs all rows to size its columns.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ..exceptions import ConfigurationError

FORMATS = ("table", "csv", "jsonl", "parquet")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)  # exact: a JSON number would round a decimal through float
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def write_rows(names: Sequence[str], rows: Iterator[tuple[Any, ...]], fmt: str, out: IO[str]) -> int:
    """Write rows in ``fmt`` (table, csv, jsonl); return how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_text(v) for v in row])
            count += 1
        return count
    if fmt == "jsonl":
        for row in rows:
            record = {n: _json_value(v) for n, v in zip(names, row, strict=True)}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    out.write("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    out.write(f"({len(cells)} row{'s' if len(cells) != 1 else ''})\n")
    return len(cells)


def write_parquet(batches: Iterator[Any], schema: Any, out: IO[bytes] | str) -> int:
    """Write Arrow record batches to a Parquet file (or binary stream); return the row count."""
    import pyarrow.parquet as pq

    count = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_batch(batch)
            count += batch.num_rows
    return count


@contextlib.contextmanager
def text_target(output: str | None) -> Iterator[IO[str]]:
    """stdout, or a file that appears only when the block finishes without an exception."""
    if output in (None, "-"):
        yield sys.stdout
        sys.stdout.flush()
        return
    with _atomic(Path(str(output)), "w") as fh:
        yield fh


@contextlib.contextmanager
def binary_target(output: str | None) -> Iterator[IO[bytes]]:
    """A binary target for Parquet: a file (atomically), or stdout when it is not a terminal."""
    if output in (None, "-"):
        if sys.stdout.isatty():
            raise ConfigurationError("Parquet is binary: use --output FILE (or redirect standard output)")
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with _atomic(Path(str(output)), "wb") as fh:
        yield fh


@contextlib.contextmanager
def _atomic(path: Path, mode: str) -> Iterator[IO[Any]]:
    directory = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    text = "b" not in mode
    try:
        with open(fd, mode, encoding="utf-8" if text else None, newline="" if text else None) as fh:
            yield fh
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
