"""String comparison the way Dataverse's SQL Server collation does it, for SQLite.

Owns: the SQL functions every sandbox connection registers: `dv_fold(text)` (case-insensitive
comparison beyond ASCII, where SQLite's NOCASE stops: 'MÜLLER' = 'Müller') and
`dv_like(text, pattern)` (T-SQL LIKE: `%`, `_`, `[abc]`, `[a-c]`, `[^a]`, case-insensitive), used
when a literal is not plain ASCII or a pattern has a character class, and `dv_guidkey(guid)` (SQL
Server's uniqueidentifier sort key, see guidorder.py) for GUID comparisons on computed operands.
Plain ASCII cases stay on SQLite's own NOCASE and LIKE, which can use indexes.
"""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache

from d365conn.sandbox import guidorder


def fold(value: object) -> str | None:
    return None if value is None else str(value).casefold()


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 2) if pattern[i + 1] == "]" else pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            parts = []
            j = 0
            while j < len(body):
                if j + 2 < len(body) and body[j + 1] == "-":
                    parts.append(f"{re.escape(body[j])}-{re.escape(body[j + 2])}")
                    j += 3
                else:
                    parts.append(re.escape(body[j]))
                    j += 1
            out.append(f"[{'^' if negate else ''}{''.join(parts)}]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def like(value: object, pattern: object) -> int | None:
    if value is None or pattern is None:
        return None
    return 1 if _compile(str(pattern)).fullmatch(str(value)) else 0


def needs_python(text: str) -> bool:
    """True when SQLite's ASCII-only NOCASE / LIKE would get `text` wrong."""
    return not text.isascii()


def guid_key(value: object) -> str | None:
    return None if value is None else guidorder.sort_key(str(value))


def register(connection: sqlite3.Connection) -> None:
    connection.create_function("dv_fold", 1, fold, deterministic=True)
    connection.create_function("dv_guidkey", 1, guid_key, deterministic=True)
    connection.create_function("dv_like", 2, like, deterministic=True)
