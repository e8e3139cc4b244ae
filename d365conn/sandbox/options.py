"""Reading the OData system query options of one request, as Dataverse accepts them.

Owns: which options exist (`$select $filter $orderby $top $count $expand $apply $skiptoken`, and
parameter aliases), refusing the rest (`$skip`, `$search`, `$format`, unknown `$x`), the shapes of
`$select`, `$orderby` and `$expand` (with nested options), and the opaque paging cookie carried
by `$skiptoken`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote as url_quote

from d365conn.sandbox.errors import unknown_property, unsupported
from d365conn.sandbox.filterparse import Node, parse_filter, split_top_level
from d365conn.sandbox.model import Column, Nav, Table

TOP_LEVEL = frozenset({"$select", "$filter", "$orderby", "$top", "$count", "$expand", "$apply", "$skiptoken"})
REFUSED = {
    "$skip": "The query parameter $skip is not supported",
    "$search": "The query parameter $search is not supported",
    "$format": "The query parameter $format is not supported",
    "$compute": "The query parameter $compute is not supported",
    "$index": "The query parameter $index is not supported",
}
IN_EXPAND = frozenset({"$select", "$filter", "$orderby", "$top", "$expand"})
MAX_EXPANDS = 15


@dataclass
class Expand:
    nav: Nav
    select: list[str] | None = None
    filter: Node | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    top: int | None = None
    expand: list[Expand] = field(default_factory=list)


@dataclass
class Options:
    select: list[str] | None = None
    filter: Node | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    top: int | None = None
    count: bool = False
    expand: list[Expand] = field(default_factory=list)
    apply: str | None = None
    skiptoken: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)


def parse_options(params: list[tuple[str, str]], table: Table, tables: dict[str, Table]) -> Options:
    options = Options()
    raw: dict[str, str] = {}
    for key, value in params:
        if key.startswith("@"):
            options.aliases[key] = value
            continue
        if key in REFUSED:
            raise unsupported(REFUSED[key])
        if key.startswith("$"):
            if key not in TOP_LEVEL:  # names are case-sensitive: `$Top` is refused like `$foo`
                raise unsupported(f"The query parameter {key} is not supported")
            if key in raw:
                raise unsupported(
                    f"Query option '{key}' was specified more than once, but it must be "
                    "specified at most once."
                )
            raw[key] = value
    if "$select" in raw:
        options.select = parse_select(raw["$select"], table)
    if "$filter" in raw:
        options.filter = parse_filter(raw["$filter"], options.aliases)
    if "$orderby" in raw:
        # After $apply the order names properties of the aggregated result (aliases included): the
        # parser accepts them, and run_apply refuses what Dataverse cannot order by.
        options.orderby = parse_orderby(raw["$orderby"], None if "$apply" in raw else table, options.aliases)
    if "$top" in raw:
        options.top = parse_top(raw["$top"])
    if "$count" in raw:
        if raw["$count"] not in ("true", "false"):
            raise unsupported(f"'{raw['$count']}' is not a valid count option.")
        options.count = raw["$count"] == "true"
    if "$expand" in raw:
        options.expand = parse_expand(raw["$expand"], table, tables)
        if count_expands(options.expand) > MAX_EXPANDS:
            raise unsupported(f"Number of expands in query exceeds the maximum limit of {MAX_EXPANDS}.")
    options.apply = raw.get("$apply")
    options.skiptoken = raw.get("$skiptoken")
    return options


def parse_top(text: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise unsupported(
            f"Invalid value '{text}' for $top query option found. The $top query option "
            "requires a non-negative integer value."
        )
    return int(text)


def parse_select(text: str, table: Table) -> list[str]:
    names = []
    for name in split_top_level(text):
        if name == "*":
            return [c.prop for c in table.columns.values()]
        if table.column_for_prop(name) is None:
            raise unknown_property(name, table.logical)
        if name not in names:
            names.append(name)
    return names


def sort_column(table: Table, prop: str) -> Column:
    column = table.column_for_prop(prop)
    if column is None:
        if prop in table.navs or "/" in prop:
            raise unsupported(
                f"The $orderby property '{prop}' is not supported; order by a column of '{table.logical}'."
            )
        raise unknown_property(prop, table.logical)
    return column


def parse_orderby(
    text: str, table: Table | None, aliases: dict[str, str] | None = None
) -> list[tuple[str, bool]]:
    """(property, descending) per item; each a column of `table` unless `table` is None."""
    items = []
    for part in split_top_level(text):
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise unsupported(f"Syntax error at position {len(words[0]) + 1} in '{part}'.")
        prop = words[0]
        if aliases and prop in aliases:
            prop = aliases[prop]
        if table is not None:
            sort_column(table, prop)
        items.append((prop, len(words) == 2 and words[1] == "desc"))
    return items


def count_expands(expands: list[Expand]) -> int:
    return sum(1 + count_expands(e.expand) for e in expands)


def parse_expand(text: str, table: Table, tables: dict[str, Table]) -> list[Expand]:
    expands = []
    for item in split_top_level(text):
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?", item, re.DOTALL)
        if match is None:
            raise unsupported(f"Syntax error in $expand: '{item}'.")
        name, inner = match.group(1), match.group(2)
        nav = table.navs.get(name)
        if nav is None:
            raise unknown_property(name, table.logical)
        target = tables["systemuser" if nav.target == "principal" else nav.target]
        expand = Expand(nav)
        for option in split_top_level(inner or "", ";"):
            key, _, value = option.partition("=")
            key = key.strip()
            if key not in IN_EXPAND:
                raise unsupported(f"The query option '{key}' is not supported inside $expand.")
            if key == "$select":
                expand.select = (
                    parse_select(value, target)
                    if nav.target != "principal"
                    else [s for s in split_top_level(value)]
                )
            elif key == "$filter":
                expand.filter = parse_filter(value)
            elif key == "$orderby":
                expand.orderby = parse_orderby(value, target)
            elif key == "$top":
                expand.top = parse_top(value)
            elif key == "$expand":
                expand.expand = parse_expand(value, target, tables)
        if expand.expand and (expand.top is not None or expand.orderby) and nav.collection:
            raise unsupported(
                "The $top and $orderby options are not supported on an expanded collection "
                "that has a nested $expand."
            )
        if not nav.collection and (expand.filter is not None or expand.top is not None or expand.orderby):
            raise unsupported(
                f"The $filter, $orderby and $top options are only supported on collection-valued "
                f"navigation properties; '{name}' is single-valued."
            )
        expands.append(expand)
    return expands


# -- the paging cookie ---------------------------------------------------------------------------


def make_skiptoken(page: int, values: list[Any], returned: int) -> str:
    """An opaque token shaped like Dataverse's `<cookie pagenumber=... pagingcookie=... />`."""
    state = base64.urlsafe_b64encode(json.dumps({"v": values, "n": returned}).encode()).decode().rstrip("=")
    inner = url_quote(
        url_quote(f'<cookie page="{page - 1}"><state value="{state}" /></cookie>', safe=""), safe=""
    )
    return f'<cookie pagenumber="{page}" pagingcookie="{inner}" istracking="False" />'


def read_skiptoken(token: str) -> tuple[int, list[Any], int]:
    from urllib.parse import unquote

    match = re.fullmatch(
        r'<cookie pagenumber="(\d+)" pagingcookie="([^"]*)" istracking="False" />', token.strip()
    )
    if match is None:
        raise unsupported("The $skiptoken value is not a valid paging cookie.")
    inner = unquote(unquote(match.group(2)))
    state = re.search(r'<state value="([A-Za-z0-9_-]*)" />', inner)
    if state is None:
        raise unsupported("The $skiptoken value is not a valid paging cookie.")
    encoded = state.group(1)
    try:
        data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        return int(match.group(1)), list(data["v"]), int(data["n"])
    except (ValueError, KeyError, TypeError) as error:
        raise unsupported("The $skiptoken value is not a valid paging cookie.") from error
