"""SQL Server's `uniqueidentifier` order for the sandbox's GUID columns.

Owns: the order in which the real service sorts and compares GUIDs (`$orderby=accountid`, the
default primary-key order, `accountid gt <guid>`, paging cookies), as a text sort key that SQLite
compares with its plain binary collation.

SQL Server (and `System.Data.SqlTypes.SqlGuid.CompareTo`) compares the 16 bytes of a GUID in the
order 10-15, 8-9, 6-7, 4-5, 0-3, where the bytes are those of `Guid.ToByteArray()`: the first three
groups of the text form are little-endian there. For `aabbccdd-eeff-gghh-iijj-kkllmmnnoopp` the
bytes are `dd cc bb aa ff ee hh gg ii jj kk ll mm nn oo pp`, so the key is the text
`kkllmmnnoopp iijj hhgg ffee ddccbbaa` (without spaces): group 5 and group 4 as written, groups 3,
2 and 1 byte-reversed. GUIDs are stored lower-case (hex digits sort below hex letters in ASCII, as
byte values do), so comparing keys as text compares the GUIDs as SQL Server does.
"""

from __future__ import annotations

# (start, length) of the two-hex-digit (or longer) slices of the text form, most significant first;
# 1-based starts for SQLite's substr().
_SLICES = ((25, 12), (20, 4), (17, 2), (15, 2), (12, 2), (10, 2), (7, 2), (5, 2), (3, 2), (1, 2))


def sort_key(guid: str) -> str:
    """The sort key of one GUID (any case, with or without braces)."""
    text = guid.strip("{}").lower()
    return "".join(text[start - 1 : start - 1 + length] for start, length in _SLICES)


def sql_key(expression: str) -> str:
    """The sort key of a GUID-valued SQL expression, as SQL. For a plain column this is the exact
    expression of the tables' order index (see store.index_sql), so SQLite seeks and scans that
    index for `ORDER BY` and range comparisons on the key."""
    return "(" + " || ".join(f"substr({expression}, {start}, {length})" for start, length in _SLICES) + ")"
