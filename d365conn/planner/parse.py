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

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

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


_MARKER_TOKENS = frozenset({TokenType.PLACEHOLDER, TokenType.PARAMETER, TokenType.COLON})
_NESTING_TOKENS = frozenset(
    {TokenType.OVER, TokenType.WINDOW, TokenType.LATERAL, TokenType.UNNEST, TokenType.VALUES, TokenType.WITH}
)


def _read(sql: str, dialect: str) -> list[exp.Expr | None]:
    """Tokenize once, name each ``?`` by its position in the text, parse the tokens.

    A ``?`` token becomes the tokens of ``:#0``, ``:#1``... so the parser builds named placeholders
    numbered in textual order (the tree's own order is not the text's: ``TOP (?)`` sits in the LIMIT
    clause, after WHERE). The new tokens keep the ``?``'s position, so syntax errors still point
    at the user's text. Whether any marker exists is noted on the tree, so that statements without
    parameters are never walked in search of them.
    """
    level = _SQLGLOT_LOG.level
    _SQLGLOT_LOG.setLevel(logging.ERROR)  # sqlglot warns when it falls back to a Command
    try:
        dialect_obj = Dialect.get_or_raise(dialect)
        tokens = dialect_obj.tokenize(sql)
        markers = False
        if any(t.token_type in _MARKER_TOKENS for t in tokens):
            markers = True
            renamed: list[Token] = []
            n = 0
            for tok in tokens:
                if tok.token_type == TokenType.PLACEHOLDER and tok.text == "?":
                    renamed.append(Token(TokenType.COLON, ":", tok.line, tok.col, tok.start, tok.end))
                    renamed.append(Token(TokenType.VAR, f"#{n}", tok.line, tok.col, tok.start, tok.end))
                    n += 1
                else:
                    renamed.append(tok)
            tokens = renamed
        statements = dialect_obj.parser().parse(tokens, sql)
    finally:
        _SQLGLOT_LOG.setLevel(level)
    # One SELECT keyword and no window keyword: the statement has no subquery and no window, and
    # the planner can skip walking the tree to look for them.
    selects = sum(1 for t in tokens if t.token_type == TokenType.SELECT)
    simple = selects <= 1 and not any(t.token_type in _NESTING_TOKENS for t in tokens)
    for statement in statements:
        if statement is not None:
            statement.meta["d365conn_markers"] = markers
            statement.meta["d365conn_simple"] = simple
    return statements


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
    return found[0], explain, read


def _positional(node: exp.Expr) -> bool:
    return isinstance(node, exp.Placeholder) and (not node.this or str(node.this).startswith("#"))


def _markers(tree: exp.Expr) -> list[exp.Expr]:
    """The parameter markers in the tree's pre-order (a plain recursion: cheaper than ``dfs``)."""
    if tree.meta.get("d365conn_markers") is False:
        return []
    found: list[exp.Expr] = []
    _collect_markers(tree, found)
    return found


def _collect_markers(node: exp.Expr, found: list[exp.Expr]) -> None:
    for value in node.args.values():
        for child in value if isinstance(value, list) else (value,):
            if isinstance(child, (exp.Placeholder, exp.Parameter)):
                found.append(child)
            elif isinstance(child, exp.Expr):
                _collect_markers(child, found)


def _name(node: exp.Expr) -> str | None:
    """The parameter name of a marker, None for a positional one."""
    if isinstance(node, exp.Parameter):
        return node.name
    return None if _positional(node) else str(node.this)


def _index(node: exp.Expr) -> int:
    return int(str(node.this)[1:])


Params = Sequence[Any] | Mapping[str, Any] | None


def marker_shape(tree: exp.Expr) -> tuple[int, tuple[str, ...]]:
    """(number of positional markers, names of named markers in order) of a statement."""
    names = [_name(m) for m in _markers(tree)]
    return sum(1 for n in names if n is None), tuple(n for n in names if n is not None)


def check_shape(positional: int, named: tuple[str, ...], params: Params) -> None:
    """Check that ``params`` fits the markers; raises ProgrammingError otherwise."""
    if positional and named:
        raise ProgrammingError("a statement cannot mix ? markers with named parameters")
    count = positional + len(named)
    if params is None:
        if count:
            raise ProgrammingError(
                f"the statement has {count} parameter marker(s) but no parameters were given"
            )
        return
    if isinstance(params, Mapping):
        if positional:
            raise ProgrammingError("? markers take a sequence of parameters, not a mapping")
        missing = sorted({n for n in named if n not in params})
        if missing:
            raise ProgrammingError("no value for parameter(s) " + ", ".join(f":{m}" for m in missing))
        return
    if isinstance(params, (str, bytes)):
        raise ProgrammingError("parameters must be a sequence or a mapping, not a string")
    if named:
        raise ProgrammingError("named parameters take a mapping of values")
    if len(params) != positional:
        raise ProgrammingError(
            f"the statement has {positional} parameter marker(s) but {len(params)} parameter(s) were given"
        )


def check_parameters(tree: exp.Expr, params: Params) -> list[exp.Expr]:
    """The markers, after checking that ``params`` fits them; raises ProgrammingError otherwise."""
    markers = _markers(tree)
    names = [_name(m) for m in markers]
    check_shape(sum(1 for n in names if n is None), tuple(n for n in names if n is not None), params)
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
