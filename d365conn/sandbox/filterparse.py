"""Parsing OData 4.0 `$filter` expressions as the Dataverse Web API accepts them.

Owns: the tokenizer and recursive-descent parser that turn a decoded `$filter` string into a small
AST (tuples), and refusing what the service refuses: 4.01 syntax (`in (...)`), functions other than
contains/startswith/endswith and the fully qualified `Microsoft.Dynamics.CRM.*` query functions.
Names are not resolved here; `sqlfilter.py` checks them against the table.

AST nodes:
  ("or"|"and", left, right)  ("not", expr)  ("cmp", op, left, right)
  ("lit", value, kind)        kind: string guid int decimal bool null datetime date
  ("path", [segments])        ("call", name, [args])
  ("dv", name, {param: value}) ("lambda", "any"|"all", [nav segments], var, expr | None)
"""

from __future__ import annotations

import re
from typing import Any

from d365conn.sandbox.errors import ServiceError, unsupported

Node = tuple[Any, ...]
COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
STRING_FUNCTIONS = frozenset({"contains", "startswith", "endswith"})
OTHER_ODATA_FUNCTIONS = frozenset(
    {
        "tolower",
        "toupper",
        "trim",
        "length",
        "indexof",
        "substring",
        "concat",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "date",
        "time",
        "now",
        "round",
        "floor",
        "ceiling",
        "cast",
        "isof",
        "fractionalseconds",
        "totaloffsetminutes",
        "mindatetime",
        "maxdatetime",
        "matchesPattern",
        "has",
    }
)
TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Za-z_]))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![0-9T]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDlLfF]?(?![A-Za-z_]))
  | (?P<name>[A-Za-z_@$][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<array>\[(?:[^\]"]|"(?:[^"\\]|\\.)*")*\])
  | (?P<punct>[()/,:=])
""",
    re.VERBOSE,
)


def syntax_error(text: str, position: int) -> ServiceError:
    return unsupported(f"Syntax error at position {position} in '{text}'.")


class Parser:
    def __init__(self, text: str, aliases: dict[str, str] | None = None) -> None:
        self.text = text
        self.aliases = aliases or {}
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = TOKEN.match(text, position)
            if match is None:
                raise syntax_error(text, position)
            kind = match.lastgroup or ""
            if kind != "ws":
                self.tokens.append((kind, match.group(), position))
            position = match.end()
        self.index = 0

    # -- token helpers -----------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", "", len(self.text))

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        self.index += 1
        return token

    def expect(self, value: str) -> None:
        _kind, text, position = self.take()
        if text != value:
            raise syntax_error(self.text, position)

    def at_word(self, word: str) -> bool:
        kind, text, _ = self.peek()
        return kind == "name" and text == word

    # -- grammar -----------------------------------------------------------------------------
    def parse(self) -> Node:
        if not self.tokens:
            raise syntax_error(self.text, 0)
        node = self.parse_or()
        kind, text, position = self.peek()
        if kind != "end":
            if text == "in":
                raise unsupported(
                    f"Syntax error at position {position} in '{self.text}': the 'in' operator "
                    "is not supported; use Microsoft.Dynamics.CRM.In."
                )
            raise syntax_error(self.text, position)
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.at_word("or"):
            self.take()
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.at_word("and"):
            self.take()
            node = ("and", node, self.parse_not())
        return node

    def parse_not(self) -> Node:
        if self.at_word("not"):
            self.take()
            return ("not", self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_primary()
        kind, text, _position = self.peek()
        if kind == "name" and text in COMPARISONS:
            self.take()
            return ("cmp", text, left, self.parse_primary())
        if kind == "name" and text in ("add", "sub", "mul", "div", "mod", "has"):
            raise unsupported(f"The '{text}' operator is not supported.")
        return left

    def parse_primary(self) -> Node:
        kind, text, position = self.take()
        if kind == "punct" and text == "(":
            node = self.parse_or()
            self.expect(")")
            return node
        if kind == "string":
            return ("lit", text[1:-1].replace("''", "'"), "string")
        if kind == "guid":
            return ("lit", text.lower(), "guid")
        if kind == "datetime":
            return ("lit", text, "datetime")
        if kind == "date":
            return ("lit", text, "date")
        if kind == "number":
            return number_literal(text)
        if kind != "name":
            raise syntax_error(self.text, position)
        if text in ("true", "false"):
            return ("lit", text == "true", "bool")
        if text == "null":
            return ("lit", None, "null")
        if text.startswith("@"):
            if text not in self.aliases:
                raise unsupported(f"The parameter alias '{text}' is not defined.")
            return Parser(self.aliases[text]).parse_primary()
        if self.peek()[1] == "(":
            return self.parse_call(text, position)
        return self.parse_path(text)

    def parse_call(self, name: str, position: int) -> Node:
        if name.startswith("Microsoft.Dynamics.CRM."):
            return self.parse_dataverse_function(name[len("Microsoft.Dynamics.CRM.") :])
        if name in STRING_FUNCTIONS:
            self.expect("(")
            args = [self.parse_or()]
            while self.peek()[1] == ",":
                self.take()
                args.append(self.parse_or())
            self.expect(")")
            if len(args) != 2:
                raise unsupported(f"The function '{name}' requires two arguments.")
            return ("call", name, args)
        if name in OTHER_ODATA_FUNCTIONS or name.lower() in OTHER_ODATA_FUNCTIONS:
            raise unsupported(f"The '{name}' function is not supported.")
        if "." not in name:
            raise unsupported(
                f"An unknown function with name '{name}' was found. This may also be a function "
                "import or a key lookup on a navigation property, which is not allowed."
            )
        raise unsupported(
            f"The function '{name}' is not supported; Dataverse query functions must be "
            "fully qualified as Microsoft.Dynamics.CRM.<name>."
        )

    def parse_dataverse_function(self, name: str) -> Node:
        self.expect("(")
        params: dict[str, Any] = {}
        while self.peek()[1] != ")":
            kind, key, position = self.take()
            if kind != "name":
                raise syntax_error(self.text, position)
            self.expect("=")
            kind, value, position = self.take()
            if kind == "array":
                params[key] = parse_value_list(value, self.text, position)
            elif kind == "string":
                params[key] = value[1:-1].replace("''", "'")
            elif kind in ("number", "guid", "date", "datetime"):
                params[key] = value
            elif kind == "name" and value.startswith("@") and value in self.aliases:
                params[key] = literal_text(self.aliases[value])
            else:
                raise syntax_error(self.text, position)
            if self.peek()[1] == ",":
                self.take()
        self.expect(")")
        return ("dv", name, params)

    def parse_path(self, first: str) -> Node:
        segments = [first]
        while self.peek()[1] == "/":
            self.take()
            kind, text, position = self.take()
            if kind != "name":
                raise syntax_error(self.text, position)
            if text in ("any", "all") and self.peek()[1] == "(":
                return self.parse_lambda(text, segments)
            segments.append(text)
        return ("path", segments)

    def parse_lambda(self, kind: str, navigation: list[str]) -> Node:
        self.expect("(")
        if self.peek()[1] == ")":
            self.take()
            if kind == "all":
                raise syntax_error(self.text, self.peek()[2])
            return ("lambda", kind, navigation, "", None)
        _, variable, _position = self.take()
        self.expect(":")
        body = self.parse_or()
        self.expect(")")
        return ("lambda", kind, navigation, variable, body)


def number_literal(text: str) -> Node:
    body = text.rstrip("mMdDlLfF")
    if re.fullmatch(r"-?\d+", body):
        return ("lit", int(body), "int")
    return ("lit", float(body), "decimal")


def parse_value_list(text: str, whole: str, position: int) -> list[str]:
    """`["a","b"]` as Dataverse query functions take PropertyValues (double-quoted strings)."""
    inner = text[1:-1].strip()
    if not inner:
        return []
    values = []
    for match in re.finditer(r'\s*"((?:[^"\\]|\\.)*)"\s*(,|$)', inner):
        values.append(match.group(1).replace('\\"', '"').replace("\\\\", "\\"))
    if not values:
        raise syntax_error(whole, position)
    return values


def literal_text(text: str) -> str:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    return text


def parse_filter(text: str, aliases: dict[str, str] | None = None) -> Node:
    return Parser(text, aliases).parse()


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on `separator` outside parentheses and quotes (for $select, $expand, $orderby)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]
