"""OR across different fields, for services that refuse it (Business Central): one scan per branch.

Owns: deciding whether a WHERE conjunct ``a OR b OR ...`` can be fetched as several requests -- one
per branch, each with the branch's own ``$filter`` plus the scan's other pushed conditions -- and
the local relation that unions them back into the table the rest of the statement reads.

Rows are merged with SQL ``UNION`` over the scan's columns, which always include the primary key:
a row matching several branches arrives once per branch with the same key and the same values, so
``UNION`` keeps it once, while two distinct rows differ at least in their key. ``UNION`` compares
NULLs as equal, so a row with NULLs is still deduplicated. Tables without a primary key are not
split (``UNION`` would merge genuinely duplicate rows). The OR itself stays in the local WHERE as
well: the split only narrows what is read, it never decides the result.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from d365conn.planner.filters import Pushed, ValueDependent
from d365conn.planner.values import Unpushable

#: More branches than this: one wide scan is cheaper than many requests.
MAX_BRANCHES = 8


def _branches(node: exp.Expr) -> list[exp.Expr]:
    while isinstance(node, exp.Paren):
        node = node.this
    if not isinstance(node, exp.Or):
        return [node]
    return _branches(node.left) + _branches(node.right)


def split_or(node: exp.Expr, write: Callable[[exp.Expr], Pushed]) -> tuple[str, ...] | None:
    """The ``$filter`` of each branch of a top-level OR, or None when any branch is not pushable.

    Every branch must be pushed exactly (not as a pre-filter), otherwise a row matching that branch
    could be missed by its request and the union would lose it.
    """
    parts = _branches(node)
    if len(parts) < 2 or len(parts) > MAX_BRANCHES:
        return None
    texts: list[str] = []
    for part in parts:
        try:
            pushed = write(part)
        except (Unpushable, ValueDependent):
            return None
        if not pushed.exact:
            return None
        if pushed.text not in texts:
            texts.append(pushed.text)
    return tuple(texts) if len(texts) > 1 else None


def branch_alias(alias: str, index: int) -> str:
    """The relation name of branch ``index`` (1-based) of the scan ``alias``."""
    return f"{alias}__or{index}"


def union_of(alias: str, count: int) -> exp.Query:
    """The relation ``alias`` rebuilt from its ``count`` branch scans (``UNION``, duplicates removed)."""
    query: exp.Query = exp.select("*").from_(branch_alias(alias, 1))
    for i in range(2, count + 1):
        query = exp.union(query, exp.select("*").from_(branch_alias(alias, i)), distinct=True)
    return query
