"""Translating a parsed `$filter` (see filterparse.py) into SQLite SQL over the sandbox's tables.

Owns: name resolution against the table model (unknown properties are refused as the real service
refuses them), literal conversion per Edm type, navigation paths through lookups (correlated
sub-queries), `any`/`all` lambdas (EXISTS), the string functions with Dataverse's LIKE wildcard
behaviour, and the `Microsoft.Dynamics.CRM.*` query functions.
"""

# ruff: noqa: S608 - SQL is built from the table model's quoted identifiers; values are bound

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from d365conn.sandbox import collation
from d365conn.sandbox.errors import unknown_property, unsupported
from d365conn.sandbox.filterparse import Node
from d365conn.sandbox.guidorder import sort_key, sql_key
from d365conn.sandbox.model import Column, Nav, Schema, Table
from d365conn.sandbox.store import DATE_INDEXED, quote, type_column

SQL_OPS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
OP_NAMES = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
NUMERIC = frozenset({"Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double"})
RANGE_OPS = frozenset({"gt", "ge", "lt", "le"})
PLAIN_COLUMN = re.compile(r'[a-z][a-z0-9_]*\."(?:[^"]|"")+"')


def guid_key(sql: str) -> str:
    """The uniqueidentifier sort key of a GUID-valued SQL operand: the index's own expression for a
    plain column (so a range on the primary key is an index seek), a function call otherwise (a
    navigation sub-query is not repeated once per slice)."""
    return sql_key(sql) if PLAIN_COLUMN.fullmatch(sql) else f"dv_guidkey({sql})"


@dataclass
class Scope:
    """Where names resolve: a table under an SQL alias, plus lambda variables in reach."""

    schema: Schema
    table: Table
    alias: str
    user_id: str = ""
    business_unit_id: str = ""
    variables: dict[str, tuple[Table, str]] = field(default_factory=dict)
    counter: list[int] = field(default_factory=lambda: [0])

    def new_alias(self) -> str:
        self.counter[0] += 1
        return f"t{self.counter[0]}"

    def child(self, table: Table, alias: str) -> Scope:
        return Scope(
            self.schema, table, alias, self.user_id, self.business_unit_id, dict(self.variables), self.counter
        )


@dataclass
class Operand:
    sql: str
    params: list[Any]
    column: Column | None = None  # set when the operand is a property
    literal: Node | None = None


def to_sql_value(column: Column, value: Any, kind: str = "") -> Any:
    """A literal (parsed or from a PropertyValues list) as stored for `column`."""
    if value is None:
        return None
    edm = column.edm
    try:
        if edm == "Edm.Boolean":
            if isinstance(value, str):
                return 1 if value.lower() in ("true", "1") else 0
            return 1 if value else 0
        if edm in ("Edm.Int32", "Edm.Int64"):
            return int(value)
        if edm in ("Edm.Decimal", "Edm.Double"):
            return float(value)
        if edm == "Edm.Guid":
            return str(value).strip("{}").lower()
        if edm == "Edm.DateTimeOffset":
            return normalise_datetime(str(value))
        if edm == "Edm.Date":
            return str(value)[:10]
    except ValueError as error:
        raise unsupported(f"The value '{value}' is not valid for the property '{column.prop}'.") from error
    return str(value)


def normalise_datetime(text: str) -> str:
    if len(text) == 10:
        return text + "T00:00:00Z"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def like_pattern(value: str, mode: str) -> str:
    """Dataverse passes `%` and `_` through as LIKE wildcards; `[x]` escapes one literal character."""
    out = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "[" and i + 2 < len(value) and value[i + 2] == "]":
            literal = value[i + 1]
            out.append("\\" + literal if literal in "%_\\" else literal)
            i += 3
            continue
        out.append("\\\\" if char == "\\" else char)
        i += 1
    body = "".join(out)
    return {"contains": f"%{body}%", "startswith": f"{body}%", "endswith": f"%{body}"}[mode]


class FilterCompiler:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def compile(self, node: Node) -> tuple[str, list[Any]]:
        kind = node[0]
        if kind in ("or", "and"):
            left, left_params = self.compile(node[1])
            right, right_params = self.compile(node[2])
            return f"({left} {kind.upper()} {right})", left_params + right_params
        if kind == "not":
            inner, params = self.compile(node[1])
            # SQL's three-valued NOT, as the service's SQL translation gives: `not (revenue gt 5)`
            # does not match rows whose revenue is null.
            return f"(NOT {inner})", params
        if kind == "cmp":
            return self.comparison(node[1], node[2], node[3])
        if kind == "call":
            return self.string_function(node[1], node[2])
        if kind == "dv":
            return self.dataverse_function(node[1], node[2])
        if kind == "lambda":
            return self.lambda_(node)
        if kind == "path":
            operand = self.operand(node)
            if operand.column is not None and operand.column.edm == "Edm.Boolean":
                return f"({operand.sql} = 1)", operand.params
        if kind == "lit" and node[2] == "bool":
            return ("1" if node[1] else "0"), []
        raise unsupported("The $filter expression must evaluate to a boolean value.")

    # -- operands ----------------------------------------------------------------------------
    def operand(self, node: Node) -> Operand:
        if node[0] == "lit":
            return Operand("?", [node[1]], literal=node)
        if node[0] == "path":
            return self.path(node[1])
        if node[0] in ("cmp", "and", "or", "not", "call", "dv", "lambda"):
            sql, params = self.compile(node)
            return Operand(sql, params)
        raise unsupported("Unsupported operand in $filter.")

    def path(self, segments: list[str]) -> Operand:
        scope = self.scope
        table, alias = scope.table, scope.alias
        if segments[0] in scope.variables:
            table, alias = scope.variables[segments[0]]
            segments = segments[1:]
            if not segments:
                raise unsupported("A lambda variable must be followed by a property.")
        if segments[0] == "$it":
            segments = segments[1:]
        if len(segments) == 1:
            column = table.column_for_prop(segments[0])
            if column is None:
                raise unknown_property(segments[0], table.logical)
            return Operand(f"{alias}.{quote(column.prop)}", [], column)
        nav = table.navs.get(segments[0])
        if nav is None:
            raise unknown_property(segments[0], table.logical)
        if nav.collection:
            raise unsupported(f"The navigation property '{nav.name}' is a collection; use any or all.")
        sql, column = self.navigation_value(table, alias, nav, segments[1:])
        return Operand(sql, [], column)

    def navigation_value(self, table: Table, alias: str, nav: Nav, rest: list[str]) -> tuple[str, Column]:
        """A correlated sub-query reading `rest` through the single-valued `nav` of `alias`."""
        lookup = table.columns[nav.column]
        targets = [nav.target] if nav.target != "principal" else ["systemuser", "team"]
        parts = []
        result_column: Column | None = None
        for target_name in targets:
            target = self.scope.schema.tables[target_name]
            inner_alias = self.scope.new_alias()
            inner = self.scope.child(target, inner_alias)
            if len(rest) == 1:
                column = target.column_for_prop(rest[0])
                if column is None:
                    raise unknown_property(rest[0], target.logical)
                value_sql = f"{inner_alias}.{quote(column.prop)}"
            else:
                next_nav = target.navs.get(rest[0])
                if next_nav is None or next_nav.collection:
                    raise unknown_property(rest[0], target.logical)
                value_sql, column = FilterCompiler(inner).navigation_value(
                    target, inner_alias, next_nav, rest[1:]
                )
            result_column = column
            condition = (
                f"{inner_alias}.{quote(target.columns[target.pk].prop)} = {alias}.{quote(lookup.prop)}"
            )
            sub = f"(SELECT {value_sql} FROM {quote(target.logical)} {inner_alias} WHERE {condition})"
            if lookup.kind in ("Customer", "Owner"):
                sub = f"(CASE WHEN {alias}.{quote(type_column(lookup))} = '{target.logical}' THEN {sub} END)"
            parts.append(sub)
        assert result_column is not None
        sql = parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"
        return sql, result_column

    # -- comparisons -------------------------------------------------------------------------
    def comparison(self, op: str, left_node: Node, right_node: Node) -> tuple[str, list[Any]]:
        left, right = self.operand(left_node), self.operand(right_node)
        if left.column is None and right.column is not None:
            left, right = right, left
            op = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(op, op)
        if right.literal is not None and right.literal[2] == "null":
            if op not in ("eq", "ne"):
                return "0", []
            return f"({left.sql} IS {'NOT ' if op == 'ne' else ''}NULL)", left.params
        if left.column is not None and right.literal is not None:
            check_types(left.column, right.literal, op)
            value = to_sql_value(left.column, right.literal[1], right.literal[2])
            if left.column.is_string and isinstance(value, str) and collation.needs_python(value):
                return f"(dv_fold({left.sql}) {SQL_OPS[op]} dv_fold(?))", [*left.params, value]
            if left.column.is_string:
                # Explicit: a navigation sub-query's value carries no column collation.
                return f"({left.sql} COLLATE NOCASE {SQL_OPS[op]} ?)", [*left.params, value]
            if left.column.edm == "Edm.Guid" and op in RANGE_OPS and isinstance(value, str):
                return f"({guid_key(left.sql)} {SQL_OPS[op]} ?)", [*left.params, sort_key(value)]
            if op in RANGE_OPS and left.column.logical in DATE_INDEXED and PLAIN_COLUMN.fullmatch(left.sql):
                # SQL Server keeps histograms and knows a createdon range is narrow; SQLite (built
                # without STAT4) guesses a quarter of the table for a one-sided range and would scan
                # the whole key-order index instead of sorting, a full table scan per page. unlikely()
                # (same value, a planner hint) says "selective": a range that is in fact wide costs a
                # sort of index entries per page, where the wrong guess costs a scan of every row.
                return f"unlikely({left.sql} {SQL_OPS[op]} ?)", [*left.params, value]
            return f"({left.sql} {SQL_OPS[op]} ?)", [*left.params, value]
        if left.column is not None and left.column.edm == "Edm.Guid" and op in RANGE_OPS:
            return (
                f"({guid_key(left.sql)} {SQL_OPS[op]} {guid_key(right.sql)})",
                left.params + right.params,
            )
        if left.column is not None and left.column.is_string:
            return f"({left.sql} COLLATE NOCASE {SQL_OPS[op]} {right.sql})", left.params + right.params
        return f"({left.sql} {SQL_OPS[op]} {right.sql})", left.params + right.params

    def string_function(self, name: str, args: list[Node]) -> tuple[str, list[Any]]:
        target, value = self.operand(args[0]), args[1]
        if target.column is None or not target.column.is_string:
            raise unsupported(f"The function '{name}' requires a string property as its first argument.")
        if value[0] != "lit" or value[2] != "string":
            raise unsupported(f"The function '{name}' requires a string literal as its second argument.")
        text = value[1]
        if "[" in text or collation.needs_python(text):
            pattern = {"contains": f"%{text}%", "startswith": f"{text}%", "endswith": f"%{text}"}[name]
            return f"dv_like({target.sql}, ?)", [*target.params, pattern]
        return f"({target.sql} LIKE ? ESCAPE '\\')", [*target.params, like_pattern(text, name)]

    def lambda_(self, node: Node) -> tuple[str, list[Any]]:
        _, kind, navigation, variable, body = node
        table, alias = self.scope.table, self.scope.alias
        if navigation[0] in self.scope.variables:
            table, alias = self.scope.variables[navigation[0]]
            navigation = navigation[1:]
        if len(navigation) != 1 or navigation[0] not in table.navs:
            raise unknown_property("/".join(navigation), table.logical)
        nav = table.navs[navigation[0]]
        if not nav.collection:
            raise unsupported(
                f"The any/all operators apply to collection-valued navigation properties only; "
                f"'{nav.name}' is single-valued."
            )
        target = self.scope.schema.tables[nav.target]
        inner_alias = self.scope.new_alias()
        lookup = target.columns[nav.column]
        link = f"{inner_alias}.{quote(lookup.prop)} = {alias}.{quote(table.columns[table.pk].prop)}"
        if lookup.kind in ("Customer", "Owner"):
            link += f" AND {inner_alias}.{quote(type_column(lookup))} = '{table.logical}'"
        params: list[Any] = []
        condition = ""
        if body is not None:
            inner = self.scope.child(target, inner_alias)
            inner.variables[variable] = (target, inner_alias)
            condition, params = FilterCompiler(inner).compile(body)
        source = f"FROM {quote(target.logical)} {inner_alias} WHERE {link}"
        if kind == "any":
            extra = f" AND {condition}" if condition else ""
            return f"EXISTS (SELECT 1 {source}{extra})", params
        return f"NOT EXISTS (SELECT 1 {source} AND NOT COALESCE({condition}, 0))", params

    # -- Microsoft.Dynamics.CRM.* ------------------------------------------------------------
    def dataverse_function(self, name: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
        handler = DATAVERSE_FUNCTIONS.get(name)
        if handler is None:
            raise unsupported(
                f"The function 'Microsoft.Dynamics.CRM.{name}' is not supported by the sandbox "
                "or does not exist."
            )
        prop = params.get("PropertyName")
        if not isinstance(prop, str):
            raise unsupported(f"Microsoft.Dynamics.CRM.{name} requires the PropertyName parameter.")
        segments = prop.split("/")
        by_logical = self.scope.table.columns.get(segments[-1]) if len(segments) == 1 else None
        if by_logical is not None:  # PropertyName takes the logical name ('ownerid'), not '_ownerid_value'
            segments = [by_logical.prop]
        operand = self.path(segments)
        if operand.column is None:
            raise unsupported(f"'{prop}' is not a column.")
        result: tuple[str, list[Any]] = handler(self, operand, operand.column, params)
        return result


def check_types(column: Column, literal: Node, op: str) -> None:
    kind = literal[2]
    mismatch = (
        (column.is_string and kind in ("int", "decimal", "bool"))
        or (column.edm in NUMERIC and kind in ("string", "bool", "guid"))
        or (column.edm == "Edm.Boolean" and kind not in ("bool", "int"))
    )
    if mismatch:
        literal_type = {
            "int": "Edm.Int32",
            "decimal": "Edm.Decimal",
            "bool": "Edm.Boolean",
            "string": "Edm.String",
            "guid": "Edm.Guid",
        }.get(kind, "Edm.String")
        raise unsupported(
            f"A binary operator with incompatible types was detected. Found operand types "
            f"'{column.edm}' and '{literal_type}' for operator kind '{OP_NAMES[op]}'."
        )


def _values(params: dict[str, Any], name: str) -> list[str]:
    values = params.get("PropertyValues")
    if not isinstance(values, list):
        raise unsupported(f"Microsoft.Dynamics.CRM.{name} requires PropertyValues as a list of strings.")
    return values


def _in(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
    compiler: FilterCompiler,
    operand: Operand,
    column: Column,
    params: dict[str, Any],
    negate: bool = False,
    name: str = "In",
) -> tuple[str, list[Any]]:
    values = [to_sql_value(column, v) for v in _values(params, name)]
    if not values:
        raise unsupported(f"Microsoft.Dynamics.CRM.{name} requires at least one value.")
    marks = ", ".join("?" for _ in values)
    target = operand.sql
    if column.is_string and any(collation.needs_python(str(v)) for v in values):
        target, marks = f"dv_fold({target})", ", ".join("dv_fold(?)" for _ in values)
    elif column.is_string:
        target += " COLLATE NOCASE"
    return f"({target} {'NOT ' if negate else ''}IN ({marks}))", operand.params + values


def _between(
    compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any], negate: bool = False
) -> tuple[str, list[Any]]:
    values = _values(params, "Between")
    if len(values) != 2:
        raise unsupported("Microsoft.Dynamics.CRM.Between requires exactly two PropertyValues.")
    low, high = (to_sql_value(column, v) for v in values)
    return f"({operand.sql} {'NOT ' if negate else ''}BETWEEN ? AND ?)", [*operand.params, low, high]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _range(
    operand: Operand, start: datetime | None, end: datetime | None, column: Column
) -> tuple[str, list[Any]]:
    clauses, values = [], []

    def fmt(moment: datetime) -> str:
        return moment.date().isoformat() if column.edm == "Edm.Date" else _iso(moment)

    if start is not None:
        clauses.append(f"{operand.sql} >= ?")
        values.append(fmt(start))
    if end is not None:
        clauses.append(f"{operand.sql} < ?")
        values.append(fmt(end))
    return "(" + " AND ".join(clauses) + ")", operand.params * len(clauses) + values


def _day(value: Any) -> datetime:
    text = str(value)
    return datetime.fromisoformat(text[:10]).replace(tzinfo=timezone.utc)


def _count(params: dict[str, Any]) -> int:
    try:
        return int(params.get("PropertyValue", ""))
    except ValueError as error:
        raise unsupported("PropertyValue must be an integer.") from error


def _relative(unit: str, direction: int) -> Any:
    def handler(
        compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        n = _count(params)
        now = _now()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        span = {
            "hours": timedelta(hours=n),
            "days": timedelta(days=n),
            "weeks": timedelta(weeks=n),
            "months": timedelta(days=30 * n),
            "years": timedelta(days=365 * n),
        }[unit]
        if direction < 0:
            return _range(operand, (now if unit == "hours" else today) - span, now, column)
        return _range(operand, now, (now if unit == "hours" else today + timedelta(days=1)) + span, column)

    return handler


def _on(kind: str) -> Any:
    def handler(
        compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        day = _day(params.get("PropertyValue", ""))
        next_day = day + timedelta(days=1)
        if kind == "on":
            return _range(operand, day, next_day, column)
        if kind == "onorafter":
            return _range(operand, day, None, column)
        if kind == "onorbefore":
            return _range(operand, None, next_day, column)
        sql, values = _range(operand, day, next_day, column)
        return f"(NOT {sql})", values

    return handler


def _fixed_day(offset: int) -> Any:
    def handler(
        compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        day = _now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=offset)
        return _range(operand, day, day + timedelta(days=1), column)

    return handler


def _this(period: str) -> Any:
    def handler(
        compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        now = _now()
        if period == "year":
            start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
            end = start.replace(year=start.year + 1)
        else:
            start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            end = (start + timedelta(days=32)).replace(day=1)
        return _range(operand, start, end, column)

    return handler


def _user(negate: bool) -> Any:
    def handler(
        compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        op = "<>" if negate else "="
        return f"({operand.sql} {op} ?)", [*operand.params, compiler.scope.user_id]

    return handler


def _business(
    compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
) -> tuple[str, list[Any]]:
    return f"({operand.sql} = ?)", [*operand.params, compiler.scope.business_unit_id]


def _hierarchy(direction: str, or_equal: bool) -> Any:
    """Above/Under on a table with a self-referencing hierarchy lookup (account.parentaccountid)."""

    def handler(
        compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        table = compiler.scope.table
        parent = next(
            (
                c
                for c in table.columns.values()
                if c.is_lookup and c.targets == (table.logical,) and c.logical.startswith("parent")
            ),
            None,
        )
        if parent is None or column.logical != table.pk:
            raise unsupported(
                f"Hierarchical operators need the primary key of a table with a hierarchy; "
                f"'{column.prop}' is not one."
            )
        key = str(params.get("PropertyValue", "")).strip("{}").lower()
        pk, lookup, name = quote(table.columns[table.pk].prop), quote(parent.prop), quote(table.logical)
        if direction == "under":
            cte = (
                f"WITH RECURSIVE h(id) AS (SELECT {pk} FROM {name} WHERE {lookup} = ? "
                f"UNION SELECT c.{pk} FROM {name} c JOIN h ON c.{lookup} = h.id) SELECT id FROM h"
            )
        else:
            cte = (
                f"WITH RECURSIVE h(id) AS (SELECT {lookup} FROM {name} WHERE {pk} = ? "
                f"UNION SELECT c.{lookup} FROM {name} c JOIN h ON c.{pk} = h.id) SELECT id FROM h"
            )
        extra = f" OR {operand.sql} = ?" if or_equal else ""
        return (
            f"({operand.sql} IN ({cte}){extra})",
            operand.params + [key] + ([*operand.params, key] if or_equal else []),
        )

    return handler


def _contain_values(negate: bool) -> Any:
    def handler(
        compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        clauses, values = [], []
        for value in _values(params, "ContainValues"):
            clauses.append(f"(',' || {operand.sql} || ',' LIKE ?)")
            values.extend([*operand.params, f"%,{int(value)},%"])
        sql = "(" + " OR ".join(clauses) + ")"
        return (f"(NOT {sql})" if negate else sql), values

    return handler


def _like(negate: bool) -> Any:
    def handler(
        compiler: FilterCompiler, operand: Operand, column: Column, params: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        value = str(params.get("PropertyValue", ""))
        return f"({operand.sql} {'NOT ' if negate else ''}LIKE ?)", [*operand.params, value]

    return handler


DATAVERSE_FUNCTIONS: dict[str, Any] = {
    "In": _in,
    "NotIn": lambda c, o, col, p: _in(c, o, col, p, True, "NotIn"),
    "Between": _between,
    "NotBetween": lambda c, o, col, p: _between(c, o, col, p, True),
    "LastXHours": _relative("hours", -1),
    "NextXHours": _relative("hours", 1),
    "LastXDays": _relative("days", -1),
    "NextXDays": _relative("days", 1),
    "LastXWeeks": _relative("weeks", -1),
    "NextXWeeks": _relative("weeks", 1),
    "LastXMonths": _relative("months", -1),
    "NextXMonths": _relative("months", 1),
    "LastXYears": _relative("years", -1),
    "NextXYears": _relative("years", 1),
    "On": _on("on"),
    "NotOn": _on("noton"),
    "OnOrAfter": _on("onorafter"),
    "OnOrBefore": _on("onorbefore"),
    "Today": _fixed_day(0),
    "Yesterday": _fixed_day(-1),
    "Tomorrow": _fixed_day(1),
    "ThisYear": _this("year"),
    "ThisMonth": _this("month"),
    "EqualUserId": _user(False),
    "NotEqualUserId": _user(True),
    "EqualBusinessId": _business,
    "Under": _hierarchy("under", False),
    "UnderOrEqual": _hierarchy("under", True),
    "Above": _hierarchy("above", False),
    "AboveOrEqual": _hierarchy("above", True),
    "ContainValues": _contain_values(False),
    "DoesNotContainValues": _contain_values(True),
    "Like": _like(False),
    "NotLike": _like(True),
}
