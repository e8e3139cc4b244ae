"""LIKE patterns: read once into tokens, then written for the service or for the local engine.

Owns: :func:`parse_pattern`, :func:`odata_like` (a pattern as ``contains``/``startswith``/
``endswith``/``eq``) and :func:`local_like` (the same test in DuckDB with the service's semantics).

Dataverse reads ``% _ [..] [^..]`` inside the values of ``contains/startswith/endswith`` as T-SQL
LIKE wildcards (Microsoft: "Use wildcard characters in conditions for string values"), so on
Dataverse every pattern can be pushed: the leading/trailing ``%`` choose the function, inner
wildcards pass through, and a literal ``% _ [`` is bracketed (``[%]``) as T-SQL does. Plain OData
treats those values literally, so only patterns made of text plus outer ``%`` are pushed there.

Brackets are pattern syntax only when the statement is read as T-SQL; in other dialects a ``[`` in a
LIKE pattern is an ordinary character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

TokenKind = Literal["text", "any", "one", "set"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str = ""


def parse_pattern(pattern: str, escape: str | None, brackets: bool) -> list[Token]:
    """Split a LIKE pattern into literal text, ``%``, ``_`` and ``[set]`` tokens."""
    tokens: list[Token] = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if escape is not None and ch == escape and i + 1 < n:
            tokens.append(Token("text", pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            if not tokens or tokens[-1].kind != "any":  # %% is %
                tokens.append(Token("any"))
        elif ch == "_":
            tokens.append(Token("one"))
        elif ch == "[" and brackets:
            end = pattern.find("]", i + 2 if i + 1 < n and pattern[i + 1] == "]" else i + 1)
            if end == -1:
                tokens.append(Token("text", ch))  # an unclosed [ is an ordinary character
            else:
                body = pattern[i + 1 : end]
                if len(body) == 1 and body != "^":
                    tokens.append(Token("text", body))  # [%] is the literal %
                else:
                    tokens.append(Token("set", body))
                i = end + 1
                continue
        else:
            tokens.append(Token("text", ch))
        i += 1
    return tokens


def _dataverse_text(tokens: list[Token]) -> str:
    out: list[str] = []
    for tok in tokens:
        if tok.kind == "any":
            out.append("%")
        elif tok.kind == "one":
            out.append("_")
        elif tok.kind == "set" or tok.text in "%_[":
            out.append(f"[{tok.text}]")
        else:
            out.append(tok.text)
    return "".join(out)


@dataclass(frozen=True)
class LikeShape:
    """How a pattern maps to OData: ``function`` is contains/startswith/endswith/eq/notnull.

    ``exact`` is False when the OData test is only a necessary condition (a pre-filter) and the
    LIKE must still be checked locally.
    """

    function: Literal["contains", "startswith", "endswith", "eq", "notnull"]
    value: str
    exact: bool = True


def odata_like(tokens: list[Token], wildcards: bool) -> LikeShape | None:
    """The OData form of a pattern, or None when the service cannot test it."""
    lead = bool(tokens) and tokens[0].kind == "any"
    trail = len(tokens) > int(lead) and tokens[-1].kind == "any"
    core = tokens[int(lead) : len(tokens) - int(trail)]
    if not core:
        return LikeShape("notnull", "") if lead else LikeShape("eq", "")
    plain = all(tok.kind == "text" for tok in core)
    if plain:
        text = "".join(tok.text for tok in core)
        if wildcards:
            text = _dataverse_text(core)
    elif wildcards:
        text = _dataverse_text(core)
    else:
        return None
    if lead and trail:
        return LikeShape("contains", text)
    if trail:
        return LikeShape("startswith", text)
    if lead:
        return LikeShape("endswith", text)
    if plain:
        return LikeShape("eq", "".join(tok.text for tok in core))
    # Inner wildcards but anchored at both ends: startswith is necessary, not sufficient.
    return LikeShape("startswith", text, exact=False)


def _regex(tokens: list[Token]) -> str:
    out: list[str] = []
    for tok in tokens:
        if tok.kind == "any":
            out.append(".*")
        elif tok.kind == "one":
            out.append(".")
        elif tok.kind == "set":
            body = tok.text
            negate = body.startswith("^")
            if negate:
                body = body[1:]
            escaped = "".join("\\" + c if c in "\\]^[" else c for c in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
        else:
            out.append(re.escape(tok.text))
    return "".join(out)


def local_like(subject: exp.Expr, tokens: list[Token], case_insensitive: bool, negate: bool) -> exp.Expr:
    """The LIKE test as a DuckDB expression with the service's semantics."""
    if any(tok.kind == "set" for tok in tokens):
        flags = "(?s" + ("i)" if case_insensitive else ")")
        test: exp.Expr = exp.Anonymous(
            this="regexp_full_match",
            expressions=[subject, exp.Literal.string(flags + _regex(tokens))],
        )
    else:
        pattern = []
        for tok in tokens:
            if tok.kind == "any":
                pattern.append("%")
            elif tok.kind == "one":
                pattern.append("_")
            elif tok.text in "%_\\":
                pattern.append("\\" + tok.text)
            else:
                pattern.append(tok.text)
        like_cls = exp.ILike if case_insensitive else exp.Like
        test = exp.Escape(
            this=like_cls(this=subject, expression=exp.Literal.string("".join(pattern))),
            expression=exp.Literal.string("\\"),
        )
    return exp.Not(this=test) if negate else test
