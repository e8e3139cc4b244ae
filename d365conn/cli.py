"""The ``d365conn`` command line.

Owns: argument parsing, choosing the connection (``--connection``, ``$D365CONN_CONNECTION_STRING``
or ``--sandbox``), output formatting and exit codes. Subcommands that belong to another room
(``sandbox``, ``login``, ``test``) are defined there and only registered here.

Exit codes: 0 success; 1 a statement or service error (the message says which); 2 bad usage or
bad connection options; 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import decimal
import json
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import IO, Any

from . import __version__
from .config import CONNECTION_STRING_ENV
from .exceptions import ConfigurationError, Error

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_connection_argument(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-c", "--connection", help=f"connection string (default: ${CONNECTION_STRING_ENV})")
    group.add_argument("--sandbox", action="store_true",
                       help="start the embedded sandbox (a local Dataverse-compatible service) and use it")
    parser.add_argument("--sandbox-rows", type=int, default=1000, help="accounts in the --sandbox (default 1000)")


@contextlib.contextmanager
def _connection_string(args: argparse.Namespace) -> Iterator[str]:
    if getattr(args, "sandbox", False):
        from .sandbox import Sandbox

        with Sandbox(rows=args.sandbox_rows) as sb:
            yield sb.connection_string
        return
    text = args.connection or os.environ.get(CONNECTION_STRING_ENV)
    if not text:
        raise ConfigurationError(
            f"no connection: pass --connection \"ServiceURL=...;...\", set ${CONNECTION_STRING_ENV}, or use --sandbox"
        )
    yield text


def _read_sql(args: argparse.Namespace) -> str:
    if args.file:
        with open(args.file, encoding="utf-8") as fh:
            return fh.read()
    if args.sql and args.sql != "-":
        return str(args.sql)
    return sys.stdin.read()


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
        return str(value)
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
            out.write(json.dumps({n: _json_value(v) for n, v in zip(names, row)}, ensure_ascii=False) + "\n")
            count += 1
        return count
    # Aligned table: needs every row to size the columns.
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    out.write("  ".join(n.ljust(w) for n, w in zip(names, widths)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
    out.write(f"({len(cells)} row{'s' if len(cells) != 1 else ''})\n")
    return len(cells)


def _run_query(args: argparse.Namespace) -> int:
    from . import connect

    sql = _read_sql(args)
    if args.command == "explain":
        sql = "EXPLAIN " + sql
    with _connection_string(args) as text, connect(text) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        if cur.description is None:
            print(f"{cur.rowcount} row(s) affected")
            return EXIT_OK
        names = [d[0] for d in cur.description]
        fmt = "plain" if args.command == "explain" else args.format
        if fmt == "plain":
            for (line,) in cur:
                print(line)
            return EXIT_OK
        write_rows(names, iter(cur), fmt, sys.stdout)
    return EXIT_OK


def _run_tables(args: argparse.Namespace) -> int:
    from . import connect

    with _connection_string(args) as text, connect(text) as conn:
        for name in sorted(conn.service.catalog.table_names()):
            print(name)
    return EXIT_OK


def _run_describe(args: argparse.Namespace) -> int:
    from . import connect

    with _connection_string(args) as text, connect(text) as conn:
        cur = conn.cursor()
        cur.execute(
            "SELECT column_name, data_type, is_nullable FROM INFORMATION_SCHEMA.COLUMNS "
            "WHERE table_name = ? ORDER BY ordinal_position",
            [args.table],
        )
        write_rows([d[0] for d in cur.description or ()], iter(cur), "table", sys.stdout)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="d365conn", description="SQL for Microsoft Dynamics 365.")
    parser.add_argument("--version", action="version", version=f"d365conn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, help_text in (("query", "run a SQL statement and print its rows"),
                            ("explain", "show the OData requests and local steps of a statement")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("sql", nargs="?", help="the SQL text; '-' or nothing reads standard input")
        p.add_argument("-f", "--file", help="read the SQL from this file")
        if name == "query":
            p.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
        _add_connection_argument(p)
        p.set_defaults(func=_run_query)

    p = sub.add_parser("tables", help="list the tables of the service")
    _add_connection_argument(p)
    p.set_defaults(func=_run_tables)

    p = sub.add_parser("describe", help="list the columns of a table")
    p.add_argument("table")
    _add_connection_argument(p)
    p.set_defaults(func=_run_describe)

    from .sandbox import cli as sandbox_cli

    p = sub.add_parser("sandbox", help="serve the local Dataverse-compatible sandbox")
    sandbox_cli.add_arguments(p)
    p.set_defaults(func=sandbox_cli.run)

    from .auth import cli as auth_cli

    p = sub.add_parser("login", help="sign in through the browser and print a connection string with RefreshToken")
    auth_cli.add_login_arguments(p)
    p.set_defaults(func=auth_cli.run_login)
    p = sub.add_parser("test", help="check a connection string: get a token and call the service")
    auth_cli.add_test_arguments(p)
    p.set_defaults(func=auth_cli.run_test)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ConfigurationError as err:
        print(f"d365conn: {err}", file=sys.stderr)
        return EXIT_USAGE
    except Error as err:
        print(f"d365conn: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # Output closed early (e.g. piped into head): not an error.
        with contextlib.suppress(OSError):
            sys.stdout.close()
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
