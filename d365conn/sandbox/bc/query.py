"""Query options as Business Central reads them: ``$filter $orderby $select $top $skip $count $expand``.

Owns: parsing the options of one request (server side), evaluating ``$filter`` on rows, sorting,
projecting and expanding, and the refusals the facts sheet lists for Business Central:

- ``$filter`` takes ``eq ne gt ge lt le and or not``, ``contains startswith endswith substring
  tolower toupper``; any other function is refused; ``in (...)`` only with ``$schemaversion=2.1``;
- **OR across different fields is refused** with the documented message ("The 'OR' operator is not
  supported on distinct fields on an OData filter.");
- lambda operators (``any``/``all``) are ignored, as Business Central documents;
- ``$apply`` (and ``$search``, ``$compute``) is refused; ``$skip`` works.

The tokenizer and recursive-descent grammar are the Dataverse sandbox's (``filterparse.Parser``),
with Business Central's function set and ``in`` operator; both are sandbox code, never the driver's.
String comparisons are binary here (see ``docs/business-central.md`` on collation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from d365conn.sandbox.bc.errors import BCError, bad_request
from d365conn.sandbox.bc.schema import EntitySet
from d365conn.sandbox.errors import ServiceError
from d365conn.sandbox.filterparse import Node, Parser, split_top_level

#: function -> allowed argument counts
FUNCTIONS: dict[str, tuple[int, ...]] = {
    "contains": (2,),
    "startswith": (2,),
    "endswith": (2,),
    "substring": (2, 3),
    "tolower": (1,),
    "toupper": (1,),
}
OR_ACROSS_FIELDS = (
    "An error occurred while processing this request. "
    "The 'OR' operator is not supported on distinct fields on an OData filter."
)
_SYSTEM_OPTIONS = frozenset(
    {
        "$filter",
        "$orderby",
        "$select",
        "$top",
        "$skip",
        "$count",
        "$expand",
        "$skiptoken",
        "$schemaversion",
        "company",
        "tenant",
    }
)
_REFUSED = ("$apply", "$search", "$compute", "$format")


class BCParser(Parser):
    """The Dataverse sandbox grammar with Business Central's functions and ``in``."""

    def __init__(self, text: str, *, allow_in: bool) -> None:
        super().__init__(text)
        self.allow_in = allow_in

    def parse_comparison(self) -> Node:
        left = self.parse_primary()
        kind, text, position = self.peek()
        if kind == "name" and text == "in":
            if not self.allow_in:
                raise bad_request(
                    f"Syntax error at position {position} in '{self.text}': "
                    "the 'in' operator needs $schemaversion=2.1."
                )
            self.take()
            self.expect("(")
            values = [self.parse_primary()]
            while self.peek()[1] == ",":
                self.take()
                values.append(self.parse_primary())
            self.expect(")")
            return ("in", left, values)
        if kind == "name" and text in ("eq", "ne", "gt", "ge", "lt", "le"):
            self.take()
            return ("cmp", text, left, self.parse_primary())
        if kind == "name" and text in ("add", "sub", "mul", "div", "mod", "has"):
            raise bad_request(f"The '{text}' operator is not supported.")
        return left

    def parse_call(self, name: str, position: int) -> Node:
        if name not in FUNCTIONS:
            raise bad_request(f"The function '{name}' is not supported by Business Central OData filters.")
        self.expect("(")
        args = [self.parse_or()]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.parse_or())
        self.expect(")")
        if len(args) not in FUNCTIONS[name]:
            raise bad_request(f"The function '{name}' was given {len(args)} argument(s).")
        return ("call", name, args)


def parse_filter(text: str, *, allow_in: bool) -> Node:
    try:
        node = BCParser(text, allow_in=allow_in).parse()
    except ServiceError as problem:  # the shared grammar's errors, in Business Central's words
        raise bad_request(problem.message) from None
    _check_or(node)
    return node


def _fields(node: Node) -> set[str]:
    kind = node[0]
    if kind == "path":
        return {node[1][0]}
    if kind in ("and", "or"):
        return _fields(node[1]) | _fields(node[2])
    if kind == "not":
        return _fields(node[1])
    if kind == "cmp":
        return _fields(node[2]) | _fields(node[3])
    if kind == "call":
        return set().union(*(_fields(a) for a in node[2]))
    if kind == "in":
        return _fields(node[1])
    return set()


def _check_or(node: Node) -> None:
    kind = node[0]
    if kind == "or" and len(_fields(node)) > 1:
        raise bad_request(OR_ACROSS_FIELDS)
    if kind in ("and", "or"):
        _check_or(node[1])
        _check_or(node[2])
    elif kind == "not":
        _check_or(node[1])


# --- evaluation ---------------------------------------------------------------------------------


def _as_datetime(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _comparable(value: Any, edm: str | None) -> Any:
    if value is None:
        return None
    if edm == "Edm.DateTimeOffset" and isinstance(value, str):
        return _as_datetime(value)
    if edm == "Edm.Guid" and isinstance(value, str):
        return value.lower()
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Decimal(value)
    return value


class Evaluator:
    """Evaluates a parsed ``$filter`` against rows of one entity set."""

    def __init__(self, entity: EntitySet) -> None:
        self.entity = entity

    def _edm(self, node: Node) -> str | None:
        if node[0] == "path":
            prop = self.entity.prop(node[1][0])
            return prop.edm if prop else None
        return None

    def value(self, node: Node, row: dict[str, Any]) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "path":
            name = node[1][0]
            prop = self.entity.prop(name)
            if prop is None or not prop.in_rows or len(node[1]) > 1:
                raise bad_request(
                    f"Could not find a property named '{'/'.join(node[1])}' on type "
                    f"'Microsoft.NAV.{self.entity.type_name}'."
                )
            return row.get(name)
        if kind == "call":
            return self._call(node[1], [self.value(a, row) for a in node[2]])
        return self.test(node, row)

    def _call(self, name: str, args: list[Any]) -> Any:
        if any(a is None for a in args):
            return None
        if name == "contains":
            return str(args[1]) in str(args[0])
        if name == "startswith":
            return str(args[0]).startswith(str(args[1]))
        if name == "endswith":
            return str(args[0]).endswith(str(args[1]))
        if name == "tolower":
            return str(args[0]).lower()
        if name == "toupper":
            return str(args[0]).upper()
        start = int(args[1])
        text = str(args[0])
        return text[start:] if len(args) == 2 else text[start : start + int(args[2])]

    def test(self, node: Node, row: dict[str, Any]) -> bool:
        kind = node[0]
        if kind == "and":
            return self.test(node[1], row) and self.test(node[2], row)
        if kind == "or":
            return self.test(node[1], row) or self.test(node[2], row)
        if kind == "not":
            return not self.test(node[1], row)
        if kind == "lambda":
            return True  # Business Central ignores lambda operators
        if kind == "in":
            edm = self._edm(node[1])
            left = _comparable(self.value(node[1], row), edm)
            return any(left == _comparable(self.value(v, row), edm) for v in node[2])
        if kind == "cmp":
            edm = self._edm(node[2]) or self._edm(node[3])
            left = _comparable(self.value(node[2], row), edm)
            right = _comparable(self.value(node[3], row), edm)
            return _compare(node[1], left, right)
        result = self.value(node, row)
        if isinstance(result, bool):
            return result
        raise bad_request("The $filter expression must evaluate to a boolean.")


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        raise bad_request(f"A binary operator with incompatible types was detected: '{op}'.") from None


# --- the options of one request -----------------------------------------------------------------


@dataclass
class Options:
    """The query options of one request, parsed and checked against the entity set."""

    filter: Node | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    select: list[str] | None = None
    top: int | None = None
    skip: int = 0
    count: bool = False
    expand: list[tuple[str, Options]] = field(default_factory=list)
    skiptoken: int = 0
    company: str | None = None


def parse_options(query: str, entity: EntitySet, navigation: dict[str, EntitySet] | None = None) -> Options:
    """Options from a raw query string (``$select=a,b&$top=5``)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return options_from_pairs(pairs, entity, navigation or {})


def options_from_pairs(
    pairs: list[tuple[str, str]], entity: EntitySet, navigation: dict[str, EntitySet]
) -> Options:
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in _REFUSED:
            raise bad_request(f"The query parameter '{name}' is not supported.")
        if name.startswith("$") and name not in _SYSTEM_OPTIONS:
            raise bad_request(f"The query parameter '{name}' is not supported.")
        if name in found and name.startswith("$"):
            raise bad_request(
                f"Query option '{name}' was specified more than once, but it must be specified at most once."
            )
        found[name] = value
    options = Options(company=found.get("company"))
    allow_in = found.get("$schemaversion") in ("2.1",)
    if "$filter" in found:
        options.filter = parse_filter(found["$filter"], allow_in=allow_in)
        _check_names(options.filter, entity)
    if "$orderby" in found:
        for part in split_top_level(found["$orderby"]):
            words = part.split()
            name = words[0]
            descending = len(words) > 1 and words[1].lower() == "desc"
            if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
                raise bad_request(f"Syntax error in $orderby: '{part}'.")
            _require(entity, name)
            options.orderby.append((name, descending))
    if "$select" in found:
        options.select = []
        for name in split_top_level(found["$select"]):
            _require(entity, name)
            options.select.append(name)
    options.top = _number(found, "$top")
    options.skip = _number(found, "$skip") or 0
    options.skiptoken = _number(found, "$skiptoken") or 0
    options.count = found.get("$count", "false").lower() == "true"
    if "$expand" in found:
        for item in split_top_level(found["$expand"]):
            name, _, inner = item.partition("(")
            name = name.strip()
            nav = entity.nav(name)
            target = navigation.get(name)
            if nav is None or target is None:
                raise bad_request(
                    f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity.type_name}'."
                )
            inner_pairs: list[tuple[str, str]] = []
            for part in split_top_level(inner[:-1], ";") if inner.endswith(")") else []:
                option, equals, value = part.partition("=")
                if not equals:
                    raise bad_request(f"Syntax error in $expand: '{item}'.")
                inner_pairs.append((option.strip(), value))
            options.expand.append((name, options_from_pairs(inner_pairs, target, {})))
    return options


def _require(entity: EntitySet, name: str) -> None:
    prop = entity.prop(name)
    if prop is None or not prop.in_rows:
        raise bad_request(
            f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity.type_name}'."
        )


def _check_names(node: Node, entity: EntitySet) -> None:
    kind = node[0]
    if kind == "path":
        if len(node[1]) > 1:
            raise bad_request(f"Navigation paths are not supported in $filter: '{'/'.join(node[1])}'.")
        _require(entity, node[1][0])
    elif kind in ("and", "or"):
        _check_names(node[1], entity)
        _check_names(node[2], entity)
    elif kind == "not":
        _check_names(node[1], entity)
    elif kind == "cmp":
        _check_names(node[2], entity)
        _check_names(node[3], entity)
    elif kind == "call":
        for arg in node[2]:
            _check_names(arg, entity)
    elif kind == "in":
        _check_names(node[1], entity)


def _number(found: dict[str, str], name: str) -> int | None:
    if name not in found:
        return None
    text = found[name].strip("'")
    if not text.isdigit():
        raise bad_request(f"Invalid value '{found[name]}' for {name} query option found.")
    return int(text)


def apply(rows: list[dict[str, Any]], options: Options, entity: EntitySet) -> list[dict[str, Any]]:
    """Filter, sort, skip and top (in that order), as an OData service applies them."""
    return window(matching(rows, options, entity), options)


def window(rows: list[dict[str, Any]], options: Options) -> list[dict[str, Any]]:
    """``$skip`` then ``$top`` of rows already filtered and sorted."""
    if options.skip:
        rows = rows[options.skip :]
    if options.top is not None:
        rows = rows[: options.top]
    return rows


def matching(rows: list[dict[str, Any]], options: Options, entity: EntitySet) -> list[dict[str, Any]]:
    """The rows ``$filter`` keeps, in ``$orderby`` order (what ``$count`` counts)."""
    if options.filter is not None:
        evaluator = Evaluator(entity)
        rows = [r for r in rows if evaluator.test(options.filter, r)]
    for name, descending in reversed(options.orderby):
        edm = entity.prop(name).edm if entity.prop(name) else None  # type: ignore[union-attr]
        present = [r for r in rows if r.get(name) is not None]
        missing = [r for r in rows if r.get(name) is None]
        present.sort(key=lambda r: _comparable(r.get(name), edm), reverse=descending)
        rows = present + missing if descending else missing + present
    return rows


__all__ = ["OR_ACROSS_FIELDS", "BCError", "Evaluator", "Options", "apply", "parse_filter", "parse_options"]
