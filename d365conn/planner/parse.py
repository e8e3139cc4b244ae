"""SQL text to one sqlglot statement, and parameters into it as typed literals.

Owns: :func:`parse_statement` (dialect choice, ``EXPLAIN``, syntax errors as ProgrammingError with
line and column), :func:`bind_parameters` (``?`` by position, ``:name``/``@name`` by name; every
value becomes a typed literal node, never text) and :func:`open_parameters` (the template form used
by the plan cache). Positional markers are named ``#0``, ``#1``... in textual order at parse time.

The default reading is T-SQL, which takes both ``TOP n`` and ``LIMIT n``; a statement T-SQL cannot
read is tried once more as DuckDB SQL (double-quoted identifiers, ``::`` casts) before the T-SQL
syntax error is reported.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from d365conn.exceptions import ProgrammingError
from d365conn.planner.values import to_sql_node

_EXPLAIN = re.compile(r"^\s*EXPLAIN\b", re.IGNORECASE)
_SQLGLOT_LOG = logging.getLogger("sqlglot")


class SyntaxErrorAt(ProgrammingError):
    """A syntax error, with the 1-based ``line`` and ``column`` where the parser stopped."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def is_explain(sql: str) -> bool:
    """Whether ``sql`` is ``EXPLAIN <statement>``."""
    return _EXPLAIN.match(sql) is not None


def _read(sql: str, dialect: str) -> list[exp.Expr | None]:
    level = _SQLGLOT_LOG.level
    _SQLGLOT_LOG.setLevel(logging.ERROR)  # sqlglot warns when it falls back to a Command
    try:
        return sqlglot.parse(sql, read=dialect)
    finally:
        _SQLGLOT_LOG.setLevel(level)


def _syntax_error(err: ParseError | TokenError) -> SyntaxErrorAt:
    if isinstance(err, ParseError) and err.errors:
        first = err.errors[0]
        line, col = first.get("line"), first.get("col")
        desc = first.get("description") or "invalid syntax"
        near = first.get("highlight") or ""
        where = f" near '{near}'" if near else ""
        return SyntaxErrorAt(f"syntax error at line {line}, column {col}{where}: {desc}", line, col)
    return SyntaxErrorAt(f"syntax error: {err}", None, None)


def parse_statement(sql: str, dialect: str = "tsql") -> tuple[exp.Expr, bool, str]:
    """(statement, is EXPLAIN, dialect it was read in). Raises ProgrammingError on bad syntax."""
    explain = False
    match = _EXPLAIN.match(sql)
    if match:
        explain = True
        sql = " " * match.end() + sql[match.end() :]  # blanks keep error columns right
    read = dialect or "tsql"
    try:
        statements = _read(sql, read)
    except (ParseError, TokenError) as err:
        if read != "tsql":
            raise _syntax_error(err) from None
        try:
            statements = _read(sql, "duckdb")
            read = "duckdb"
        except (ParseError, TokenError):
            raise _syntax_error(err) from None
    found = [s for s in statements if s is not None]
    if not found:
        raise ProgrammingError("empty statement")
    if len(found) > 1:
        raise ProgrammingError("one statement at a time: execute() takes a single SQL statement")
    return _number_positional(found[0], sql, read), explain, read


def _positional(node: exp.Expr) -> bool:
    return isinstance(node, exp.Placeholder) and (not node.this or str(node.this).startswith("#"))


def _markers(tree: exp.Expr) -> list[exp.Expr]:
    return [
        n
        for n in tree.dfs()
        if isinstance(n, (exp.Placeholder, exp.Parameter)) and not isinstance(n.parent, exp.Parameter)
    ]


def _name(node: exp.Expr) -> str | None:
    """The parameter name of a marker, None for a positional one."""
    if isinstance(node, exp.Parameter):
        return node.name
    return None if _positional(node) else str(node.this)


def _index(node: exp.Expr) -> int:
    return int(str(node.this)[1:])


def _number_positional(tree: exp.Expr, sql: str, dialect: str) -> exp.Expr:
    """Name the ``?`` markers ``#0``, ``#1``... in the order they appear in the text.

    The tree's own order is not the text's (``TOP (?)`` sits in the LIMIT clause, after WHERE), so
    with several markers the statement is tokenized, each ``?`` token renamed, and parsed again.
    """
    bare = [n for n in _markers(tree) if isinstance(n, exp.Placeholder) and not n.this]
    if len(bare) == 1:
        bare[0].replace(exp.Placeholder(this="#0"))
        return tree
    if not bare:
        return tree
    tokens = [
        t
        for t in Dialect.get_or_raise(dialect).tokenize(sql)
        if t.token_type.name == "PLACEHOLDER" and t.text == "?"
    ]
    text = sql
    for i in range(len(tokens) - 1, -1, -1):
        tok = tokens[i]
        text = text[: tok.start] + f":__pos_{i}" + text[tok.end + 1 :]
    renumbered = _read(text, dialect)[0]
    if renumbered is None:
        raise ProgrammingError("cannot number the parameter markers")
    for node in _markers(renumbered):
        name = str(node.this or "")
        if isinstance(node, exp.Placeholder) and name.startswith("__pos_"):
            node.replace(exp.Placeholder(this="#" + name[6:]))
    return renumbered


Params = Sequence[Any] | Mapping[str, Any] | None


def check_parameters(tree: exp.Expr, params: Params) -> list[exp.Expr]:
    """The markers, after checking that ``params`` fits them; raises ProgrammingError otherwise."""
    markers = _markers(tree)
    names = [_name(m) for m in markers]
    positional = [n for n in names if n is None]
    named = [n for n in names if n is not None]
    if positional and named:
        raise ProgrammingError("a statement cannot mix ? markers with named parameters")
    if params is None:
        if markers:
            raise ProgrammingError(
                f"the statement has {len(markers)} parameter marker(s) but no parameters were given"
            )
        return markers
    if isinstance(params, Mapping):
        if positional:
            raise ProgrammingError("? markers take a sequence of parameters, not a mapping")
        missing = sorted({n for n in named if n not in params})
        if missing:
            raise ProgrammingError("no value for parameter(s) " + ", ".join(f":{m}" for m in missing))
        return markers
    if isinstance(params, (str, bytes)):
        raise ProgrammingError("parameters must be a sequence or a mapping, not a string")
    if named:
        raise ProgrammingError("named parameters take a mapping of values")
    if len(params) != len(positional):
        raise ProgrammingError(
            f"the statement has {len(positional)} parameter marker(s) "
            f"but {len(params)} parameter(s) were given"
        )
    return markers


def bind_parameters(tree: exp.Expr, params: Sequence[Any] | Mapping[str, Any] | None) -> exp.Expr:
    """Replace every marker with its value as a typed literal node (in place)."""
    markers = check_parameters(tree, params)
    if not markers or params is None:
        return tree
    for marker in markers:
        name = _name(marker)
        value = params[name or ""] if isinstance(params, Mapping) else params[_index(marker)]
        marker.replace(to_sql_node(value))
    return tree


def open_parameters(tree: exp.Expr) -> int:
    """Leave the markers open as placeholders (the template form); returns how many there are."""
    markers = _markers(tree)
    for marker in markers:
        if isinstance(marker, exp.Parameter):
            marker.replace(exp.Placeholder(this=marker.name))
    return len(markers)
