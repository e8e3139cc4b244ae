"""LIKE patterns: the OData shapes, and the local form checked in DuckDB against a reference matcher."""

from __future__ import annotations

import duckdb
import pytest
from sqlglot import exp

from d365conn.planner.like import LikeShape, local_like, odata_like, parse_pattern

SAMPLES = [
    "abc",
    "ABC",
    "aXc",
    "ac",
    "abbc",
    "a%c",
    "a_c",
    "a[c",
    "100%",
    "100 percent",
    "x[y]z",
    "",
    "b",
    "Abc def",
    "a\nc",
    "añc",
    "[",
    "]",
    "^",
    "a-c",
    "a]c",
]
PATTERNS = [
    "a%",
    "%c",
    "%b%",
    "a_c",
    "a%c",
    "%",
    "_",
    "abc",
    "a[b-d]c",
    "a[^b]c",
    "%[%]%",
    "100[%]",
    "a[_]c",
    "[[]",
    "[]]",
    "[a-c]%",
    "%[0-9]%",
    "a[bX]c",
    "%e_",
    "a!%c",
    "A%",
    "[^a]%",
]


def reference(value: str, pattern: str, escape: str | None = None, fold: bool = True) -> bool:
    """T-SQL LIKE semantics, written independently of the planner (case-insensitive by default)."""
    if fold:
        value, pattern = value.lower(), pattern.lower()

    def match(i: int, j: int) -> bool:
        if j == len(pattern):
            return i == len(value)
        ch = pattern[j]
        if escape is not None and ch == escape and j + 1 < len(pattern):
            return i < len(value) and value[i] == pattern[j + 1] and match(i + 1, j + 2)
        if ch == "%":
            return any(match(k, j + 1) for k in range(i, len(value) + 1))
        if ch == "_":
            return i < len(value) and match(i + 1, j + 1)
        if ch == "[":
            close = pattern.find("]", j + 2)
            if close != -1:
                body = pattern[j + 1 : close]
                negate = body.startswith("^") and len(body) > 1
                if negate:
                    body = body[1:]
                chars: set[str] = set()
                k = 0
                while k < len(body):
                    if k + 2 < len(body) and body[k + 1] == "-":
                        chars.update(chr(c) for c in range(ord(body[k]), ord(body[k + 2]) + 1))
                        k += 3
                    else:
                        chars.add(body[k])
                        k += 1
                ok = i < len(value) and ((value[i] in chars) != negate)
                return ok and match(i + 1, close + 1)
        return i < len(value) and value[i] == ch and match(i + 1, j + 1)

    return match(0, 0)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("CREATE TABLE t (s VARCHAR)")
    c.executemany("INSERT INTO t VALUES (?)", [[s] for s in SAMPLES])
    return c


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("negate", [False, True])
def test_local_like_matches_tsql_semantics(
    con: duckdb.DuckDBPyConnection, pattern: str, negate: bool
) -> None:
    escape = "!" if "!" in pattern else None
    tokens = parse_pattern(pattern, escape, brackets=True)
    condition = local_like(exp.column("s"), tokens, case_insensitive=True, negate=negate)
    got = {row[0] for row in con.execute(f"SELECT s FROM t WHERE {condition.sql('duckdb')}").fetchall()}
    want = {s for s in SAMPLES if reference(s, pattern, escape) != negate}
    assert got == want


def test_case_sensitive_local_like(con: duckdb.DuckDBPyConnection) -> None:
    condition = local_like(
        exp.column("s"), parse_pattern("a%", None, True), case_insensitive=False, negate=False
    )
    got = {row[0] for row in con.execute(f"SELECT s FROM t WHERE {condition.sql('duckdb')}").fetchall()}
    assert got == {s for s in SAMPLES if reference(s, "a%", fold=False)}


def test_brackets_are_text_outside_tsql() -> None:
    tokens = parse_pattern("%[ab]%", None, brackets=False)
    assert odata_like(tokens, wildcards=False) == LikeShape("contains", "[ab]")
    assert odata_like(tokens, wildcards=True) == LikeShape("contains", "[[]ab]")


@pytest.mark.parametrize(
    ("pattern", "wildcards", "shape"),
    [
        ("abc%", True, LikeShape("startswith", "abc")),
        ("%abc", True, LikeShape("endswith", "abc")),
        ("%abc%", True, LikeShape("contains", "abc")),
        ("%%abc%%", True, LikeShape("contains", "abc")),
        ("abc", True, LikeShape("eq", "abc")),
        ("%", True, LikeShape("notnull", "")),
        ("a_c%", True, LikeShape("startswith", "a_c")),
        ("a_c", True, LikeShape("startswith", "a_c", exact=False)),
        ("a%c", True, LikeShape("startswith", "a%c", exact=False)),
        ("%5[%]%", True, LikeShape("contains", "5[%]")),
        ("%5[%]%", False, LikeShape("contains", "5%")),
        ("a_c%", False, None),
        ("%[a-c]%", False, None),
        ("%[a-c]%", True, LikeShape("contains", "[a-c]")),
    ],
)
def test_odata_shapes(pattern: str, wildcards: bool, shape: LikeShape | None) -> None:
    assert odata_like(parse_pattern(pattern, None, brackets=True), wildcards) == shape


def test_pushed_dataverse_pattern_is_the_same_pattern() -> None:
    # What Dataverse evaluates inside contains() is LIKE '%<value>%': it must match as the SQL did.
    for pattern in PATTERNS:
        shape = odata_like(parse_pattern(pattern, "!", brackets=True), wildcards=True)
        assert shape is not None
        if shape.function == "contains" and shape.exact:
            service = "%" + shape.value + "%"
            for sample in SAMPLES:
                assert reference(sample, service) == reference(sample, pattern, "!"), (pattern, sample)
