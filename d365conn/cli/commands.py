"""The data commands: ``query``, ``explain``, ``tables``, ``describe``.

Owns: reading the SQL (argument, ``--file`` or standard input), running it on a connection,
and streaming the rows to the chosen output with a progress line on a terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .connection import connection_string
from .output import binary_target, text_target, write_parquet, write_rows
from .progress import Progress

EXIT_OK = 0
#: Rows taken from the cursor at a time: small, so the progress line moves page by page.
_FETCH_ROWS = 100
_PARQUET_BATCH_ROWS = 50_000


def read_sql(args: argparse.Namespace) -> str:
    if args.file:
        with open(args.file, encoding="utf-8") as fh:
            return fh.read()
    if args.sql and args.sql != "-":
        return str(args.sql)
    return sys.stdin.read()


def output_format(args: argparse.Namespace) -> str:
    """``--format``, else inferred from ``--output``'s extension, else an aligned table."""
    if args.format:
        return str(args.format)
    suffix = Path(args.output).suffix.lower() if args.output and args.output != "-" else ""
    return {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix, "table")


def _progress(args: argparse.Namespace, conn: Any, fmt: str) -> Progress:
    mode = getattr(args, "progress", "auto")
    # Rows streaming to the same terminal would be torn by the line: auto draws it only when the
    # rows go elsewhere (a file, a pipe), or are printed after the read (the aligned table).
    to_terminal = args.output in (None, "-") and sys.stdout.isatty() and fmt != "table"
    enabled = mode == "always" or (mode == "auto" and sys.stderr.isatty() and not to_terminal)
    return Progress(sys.stderr, enabled=enabled, transport=conn.service.transport)


def _rows(cur: Any, progress: Progress) -> Iterator[tuple[Any, ...]]:
    while True:
        batch = cur.fetchmany(_FETCH_ROWS)
        if not batch:
            return
        yield from batch
        progress.add(len(batch))


def _batches(cur: Any, progress: Progress) -> Iterator[Any]:
    from ..arrow import iter_batches

    yield from iter_batches(cur, _PARQUET_BATCH_ROWS, on_rows=progress.add, fetch_rows=_FETCH_ROWS)


def run_query(args: argparse.Namespace) -> int:
    from .. import connect

    sql = read_sql(args)
    fmt = output_format(args)
    with connection_string(args) as text, connect(text) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        if cur.description is None:
            print(f"{cur.rowcount} row(s) affected")
            return EXIT_OK
        names = [d[0] for d in cur.description]
        progress = _progress(args, conn, fmt)
        try:
            if fmt == "parquet":
                from ..arrow import arrow_schema

                with binary_target(args.output) as out:
                    write_parquet(_batches(cur, progress), arrow_schema(cur.description), out)
            elif fmt == "table":
                rows = list(_rows(cur, progress))  # the table needs every row to size its columns
                progress.clear()
                with text_target(args.output) as out:
                    write_rows(names, iter(rows), fmt, out)
            else:
                with text_target(args.output) as out:
                    write_rows(names, _rows(cur, progress), fmt, out)
        finally:
            progress.clear()
        if progress.was_shown:
            print(progress.summary(), file=sys.stderr)
    return EXIT_OK


def run_explain(args: argparse.Namespace) -> int:
    from .. import connect

    sql = "EXPLAIN " + read_sql(args)
    with connection_string(args) as text, connect(text) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        for (line,) in cur:
            print(line)
    return EXIT_OK


def run_tables(args: argparse.Namespace) -> int:
    from .. import connect

    with connection_string(args) as text, connect(text) as conn:
        names = sorted(conn.service.catalog.table_names())
        if args.format == "plain":
            for name in names:
                print(name)
        else:
            write_rows(["table_name"], iter([(n,) for n in names]), args.format, sys.stdout)
    return EXIT_OK


def run_describe(args: argparse.Namespace) -> int:
    from .. import connect
    from ..exceptions import NotFoundError

    with connection_string(args) as text, connect(text) as conn:
        catalog = conn.service.catalog
        table = catalog.find_table(args.table)
        if table is None:
            hint = catalog.suggest_table(args.table)
            raise NotFoundError(f"no table {args.table!r}" + (f"; did you mean {hint!r}?" if hint else ""))
        cur = conn.cursor()
        cur.execute(
            "SELECT column_name, data_type, is_nullable, edm_type, column_role "
            "FROM INFORMATION_SCHEMA.COLUMNS WHERE table_name = ? ORDER BY ordinal_position",
            [table.name],
        )
        keys = set(table.primary_key)
        lookups: dict[str, list[str]] = {}
        for fk in table.foreign_keys:
            lookups.setdefault(fk.column, []).append(fk.target_table)
        rows = []
        for name, data_type, nullable, edm, role in cur:
            key = "PK" if name in keys else (f"FK -> {', '.join(lookups[name])}" if name in lookups else "")
            rows.append((name, data_type, nullable, edm, role, key))
        names = ["column_name", "data_type", "is_nullable", "edm_type", "role", "key"]
        write_rows(names, iter(rows), args.format, sys.stdout)
    return EXIT_OK
