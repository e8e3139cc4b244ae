"""The ``d365conn`` command line.

Owns: the argument parser, the exit codes and the error messages a shell script relies on.
The data commands are in ``commands.py``, the choice of connection in ``connection.py`` (with
named profiles in ``profiles.py``), output formats in ``output.py`` and the progress line in
``progress.py``. Subcommands that belong to another room (``sandbox``, ``login``, ``test``) are
defined there and only registered here.

Exit codes (also in docs/cli.md):

====  =========================================================================================
0     success (also when standard output was closed early, e.g. piped into ``head``)
1     the statement or the service failed (bad SQL, unknown table, refused value, an I/O error)
2     bad usage or bad connection options (unknown option, missing connection, bad profile)
3     sign-in or permission failed (AADSTS errors, expired refresh token, HTTP 401/403)
4     the service is busy or unavailable beyond the retries (HTTP 429/5xx, timeouts): retry later
130   interrupted (Ctrl-C); any ``--output`` file is left untouched
====  =========================================================================================

Errors are one line on standard error: ``d365conn: <ExceptionClass>: <message>``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..exceptions import (
    AuthenticationError,
    ConfigurationError,
    Error,
    PermissionDeniedError,
    ServiceUnavailableError,
    StatementTimeoutError,
    ThrottledError,
)
from .commands import run_describe, run_explain, run_query, run_tables
from .connection import add_connection_arguments, chosen_connection_string
from .output import FORMATS, write_rows

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

Runner = Callable[[argparse.Namespace], int]


def exit_code(err: Error) -> int:
    """The exit code for a driver error."""
    if isinstance(err, ConfigurationError):
        return EXIT_USAGE
    if isinstance(err, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH
    if isinstance(err, (ThrottledError, ServiceUnavailableError, StatementTimeoutError)):
        return EXIT_UNAVAILABLE
    return EXIT_ERROR


def _with_profiles(run: Runner) -> Runner:
    """Give ``login``/``test`` (which take a positional connection string) profiles and the environment."""

    def wrapped(args: argparse.Namespace) -> int:
        if not getattr(args, "connection_string", None):
            try:
                args.connection = chosen_connection_string(args)
            except ConfigurationError as err:
                print(f"d365conn: {err}", file=sys.stderr)
                return EXIT_USAGE
        return run(args)

    return wrapped


def _sql_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", nargs="?", help="the SQL text; '-' or nothing reads standard input")
    parser.add_argument("-f", "--file", help="read the SQL from this file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="d365conn", description="SQL for Microsoft Dynamics 365.",
        epilog="Exit codes: 0 ok, 1 statement/service error, 2 usage/options, 3 sign-in/permission, "
               "4 service busy/unavailable, 130 interrupted. See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"d365conn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("query", help="run a SQL statement and print its rows")
    _sql_arguments(p)
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="table (default), csv, jsonl or parquet (default: from --output's extension)")
    p.add_argument("-o", "--output", help="write to this file (created only when the query completes)")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                   help="progress line on standard error: auto = on a terminal, for reads over half a second")
    add_connection_arguments(p)
    p.set_defaults(func=run_query)

    p = sub.add_parser("explain", help="show the OData requests and local steps of a statement")
    _sql_arguments(p)
    add_connection_arguments(p)
    p.set_defaults(func=run_explain)

    p = sub.add_parser("tables", help="list the tables of the service")
    p.add_argument("--format", choices=("plain", "table", "csv", "jsonl"), default="plain")
    add_connection_arguments(p)
    p.set_defaults(func=run_tables)

    p = sub.add_parser("describe", help="list the columns of a table, with keys and lookups")
    p.add_argument("table")
    p.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
    add_connection_arguments(p)
    p.set_defaults(func=run_describe)

    from ..sandbox import cli as sandbox_cli

    p = sub.add_parser("sandbox", help="serve the local Dataverse-compatible sandbox")
    sandbox_cli.add_arguments(p)
    p.set_defaults(func=sandbox_cli.run)

    from ..auth import cli as auth_cli

    p = sub.add_parser(
        "login", help="sign in through the browser and print a connection string with RefreshToken"
    )
    auth_cli.add_login_arguments(p)
    add_connection_arguments(p, sandbox=False)
    p.set_defaults(func=_with_profiles(auth_cli.run_login))
    p = sub.add_parser("test", help="check a connection string: get a token and call the service")
    auth_cli.add_test_arguments(p)
    add_connection_arguments(p, sandbox=False)
    p.set_defaults(func=_with_profiles(auth_cli.run_test))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        print("d365conn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Error as err:
        name = "" if isinstance(err, ConfigurationError) else f"{type(err).__name__}: "
        print(f"d365conn: {name}{err}", file=sys.stderr)
        return exit_code(err)
    except BrokenPipeError:
        # Output closed early (e.g. piped into head): not an error.
        with contextlib.suppress(OSError):
            sys.stdout.close()
        return EXIT_OK
    except OSError as err:
        print(f"d365conn: {err.strerror or err}: {err.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

__all__ = ["EXIT_AUTH", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNAVAILABLE", "EXIT_USAGE",
           "build_parser", "exit_code", "main", "write_rows"]
