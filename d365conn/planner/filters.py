"""WHERE and ON predicates as OData ``$filter`` text, or a refusal that keeps them local.

Owns: :class:`FilterWriter`, which turns one sqlglot predicate into ``$filter`` text for one scan,
following the capability row: comparisons, AND/OR/NOT, IS [NOT] NULL, IN/NOT IN (Dataverse's
``Microsoft.Dynamics.CRM.In/NotIn``, or ``or``-chains), BETWEEN, LIKE (see :mod:`.like`), lookups
by ``_x_value``, ``<lookup>name`` through its navigation path, ``<choice>name`` by the integers
whose labels match, column-to-column comparisons and the service's scalar functions.

A predicate the service cannot evaluate with exactly SQL's meaning raises :class:`Unpushable`;
the caller keeps it local. ``Pushed.exact`` is False for a pre-filter that narrows the rows
without deciding them (a LIKE with inner wildcards anchored at both ends): the predicate then
runs locally too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlglot import exp

from d365conn.catalog.model import CatalogView, Column, Option
from d365conn.planner.capabilities import Capabilities
from d365conn.planner.like import odata_like, parse_pattern
from d365conn.planner.names import Source
from d365conn.planner.values import (
    NotLiteral,
    Slot,
    Unpushable,
    json_element,
    literal_of,
    odata_literal,
)

_OPS: dict[type[exp.Expr], str] = {
    exp.EQ: "eq",
    exp.NEQ: "ne",
    exp.GT: "gt",
    exp.GTE: "ge",
    exp.LT: "lt",
    exp.LTE: "le",
}
_MIRROR = {"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}
_FUNCTION_TYPES = {"tolower": "Edm.String", "toupper": "Edm.String", "trim": "Edm.String"}
_DATE_TYPES = ("Edm.DateTimeOffset", "Edm.Date")


class ValueDependent(Exception):
    """A parameter decides the shape of the request (a LIKE pattern, a choice label): the plan can't
    be cached as a template; plan again with the values bound."""


@dataclass(frozen=True)
class Pushed:
    text: str
    exact: bool = True


@dataclass(frozen=True)
class Term:
    """An operand the service can evaluate: a property path or a function of one."""

    text: str
    edm_type: str
    column: Column
    source: Source
    nullable: bool


#: Records a parameter slot and returns the sentinel text standing for its formatted value.
SlotWriter = Callable[[Slot, str, str], str]
#: Turns ``col IN (SELECT ...)`` into a placeholder for the prerequisite's values.
SubqueryWriter = Callable[[exp.In, "Term", bool], str]
Resolver = Callable[[exp.Column], "tuple[Source, Column] | None"]


class FilterWriter:
    """Writes predicates of one scan as ``$filter`` text."""

    def __init__(
        self,
        caps: Capabilities,
        catalog: CatalogView,
        resolve: Resolver,
        *,
        brackets: bool,
        slot: SlotWriter | None = None,
        subquery: SubqueryWriter | None = None,
    ) -> None:
        self.caps = caps
        self.catalog = catalog
        self.resolve = resolve
        self.brackets = brackets
        self.slot = slot
        self.subquery = subquery

    # --- values -----------------------------------------------------------------------------

    def _value(self, node: exp.Expr) -> object:
        try:
            return literal_of(node)
        except NotLiteral:
            raise Unpushable from None

    def _literal(self, value: object, edm_type: str, column: str) -> str:
        if isinstance(value, Slot):
            if self.slot is None:
                raise Unpushable
            return self.slot(value, "odata", edm_type)
        return odata_literal(value, edm_type, column)

    def _json(self, value: object, edm_type: str, column: str) -> str:
        if isinstance(value, Slot):
            if self.slot is None:
                raise Unpushable
            return self.slot(value, "json", edm_type)
        return json_element(value, edm_type, column)

    # --- operands ---------------------------------------------------------------------------

    def _column(self, node: exp.Column) -> tuple[Source, Column]:
        bound = self.resolve(node)
        if bound is None:
            raise Unpushable
        return bound

    def _path(self, source: Source, prop: str) -> str:
        if source.navigation is None:
            return prop
        if not self.caps.navigation_filter:
            raise Unpushable
        return f"{source.navigation}/{prop}"

    def term(self, node: exp.Expr) -> Term:
        """An operand as a property path (or function of one) the service can evaluate."""
        if isinstance(node, exp.Paren):
            return self.term(node.this)
        if isinstance(node, exp.Column):
            source, col = self._column(node)
            if col.role in ("attribute", "choice", "lookup"):
                if not col.filterable:
                    raise Unpushable
                prop = col.property or col.name
                return Term(self._path(source, prop), col.edm_type, col, source, col.nullable)
            if col.role == "lookup_name" and source.navigation is None:
                path = self._lookup_name_path(col)
                return Term(path, "Edm.String", col, source, True)
            raise Unpushable
        if isinstance(node, exp.Substring) and ("Substring", "substring") in self.caps.functions:
            return self._substring(node)
        for cls_name, func in self.caps.functions:
            if type(node).__name__ == cls_name:
                arg = node.this
                if func in ("year", "month", "day") and (
                    isinstance(arg, exp.TsOrDsToDate)
                    or (isinstance(arg, exp.Cast) and arg.to.this == exp.DataType.Type.DATE)
                ):
                    arg = arg.this  # T-SQL's YEAR(x) reads as YEAR(<x as a date>): the same parts
                inner = self.term(arg)
                wanted = _DATE_TYPES if func in ("year", "month", "day") else ("Edm.String",)
                if inner.edm_type not in wanted:
                    raise Unpushable
                result = _FUNCTION_TYPES.get(func, "Edm.Int32")
                return Term(f"{func}({inner.text})", result, inner.column, inner.source, inner.nullable)
        raise Unpushable

    def _substring(self, node: exp.Substring) -> Term:
        """``SUBSTRING(x, start[, length])`` as ``substring(x,start-1[,length])``: SQL counts characters
        from 1, OData from 0. Pushed only for literal ``start >= 1`` and ``length >= 0``, where they agree."""

        def count(arg: exp.Expr | None) -> int | None:
            if isinstance(arg, exp.Literal) and not arg.is_string and str(arg.this).isdigit():
                return int(arg.this)
            return None

        first = count(node.args.get("start"))
        if first is None or first < 1:
            raise Unpushable
        inner = self.term(node.this)
        if inner.edm_type != "Edm.String":
            raise Unpushable
        args = f"{inner.text},{first - 1}"
        if node.args.get("length") is not None:
            length = count(node.args.get("length"))
            if length is None:
                raise Unpushable
            args += f",{length}"
        return Term(f"substring({args})", "Edm.String", inner.column, inner.source, inner.nullable)

    def _lookup_name_path(self, col: Column) -> str:
        if not self.caps.navigation_filter:
            raise Unpushable
        if col.filter_path:
            return col.filter_path
        # "<lookup>name" is the target's primary name: reachable when the lookup has one target.
        if len(col.targets) == 1 and col.navigation:
            target = self.catalog.find_table(col.targets[0])
            nav = col.navigation.get(col.targets[0])
            if target is not None and target.primary_name and nav:
                return f"{nav}/{target.primary_name}"
        raise Unpushable

    # --- predicates -------------------------------------------------------------------------

    def write(self, node: exp.Expr) -> Pushed:
        """``$filter`` text for a predicate, or raise :class:`Unpushable`."""
        if isinstance(node, exp.Paren):
            return self.write(node.this)
        if isinstance(node, exp.And):
            left, right = self.write(node.left), self.write(node.right)
            text = f"{_wrap(left.text, 'and')} and {_wrap(right.text, 'and')}"
            return Pushed(text, left.exact and right.exact)
        if isinstance(node, exp.Or):
            if not self.caps.or_across_fields and len(_fields(node)) > 1:
                raise Unpushable
            left, right = self.write(node.left), self.write(node.right)
            text = f"{_wrap(left.text, 'or')} or {_wrap(right.text, 'or')}"
            return Pushed(text, left.exact and right.exact)
        if isinstance(node, exp.Not):
            return self._not(node.this)
        if type(node) in _OPS:
            return Pushed(self._compare(node, _OPS[type(node)]))
        if isinstance(node, exp.Is):
            return Pushed(self._is_null(node, negate=False))
        if isinstance(node, exp.In):
            return Pushed(self._in(node, negate=False))
        if isinstance(node, exp.Between):
            return Pushed(self._between(node, negate=False))
        if isinstance(node, (exp.Like, exp.ILike, exp.Escape)):
            return self._like(node)
        if isinstance(node, exp.Column):
            term = self.term(node)
            if term.edm_type == "Edm.Boolean":
                return Pushed(f"{term.text} eq true")
        raise Unpushable

    def _not(self, inner: exp.Expr) -> Pushed:
        if isinstance(inner, exp.Paren):
            return self._not(inner.this)
        if isinstance(inner, exp.Is):
            return Pushed(self._is_null(inner, negate=True))
        if isinstance(inner, exp.In):
            return Pushed(self._in(inner, negate=True))
        if isinstance(inner, exp.Between):
            return Pushed(self._between(inner, negate=True))
        # De Morgan holds in SQL's three-valued logic: negate the leaves, each with its own guard.
        if isinstance(inner, exp.Or):
            left, right = self._not(inner.left), self._not(inner.right)
            return Pushed(f"{_wrap(left.text, 'and')} and {_wrap(right.text, 'and')}")
        if isinstance(inner, exp.And):
            left, right = self._not(inner.left), self._not(inner.right)
            return Pushed(f"({_wrap(left.text, 'or')} or {_wrap(right.text, 'or')})")
        if isinstance(inner, exp.Not):
            return self.write(inner.this)
        pushed = self.write(inner)
        if not pushed.exact:
            raise Unpushable  # the negation of a pre-filter selects the wrong rows
        text = _negate(pushed.text)
        # SQL's NOT P is unknown (the row is dropped) when P reads a NULL; OData's two-valued `not`
        # keeps such rows, and whether a service negates in two or three values is not documented
        # for Dataverse. With one column in P a `ne null` guard gives SQL's answer either way; with
        # several nullable columns, refuse.
        columns = list(inner.find_all(exp.Column))
        terms = [self.term(c) for c in columns]
        nullable = {t.text for t in terms if t.nullable}
        if not nullable:
            return Pushed(text)
        if len({t.text for t in terms}) == 1:
            return Pushed(f"{terms[0].text} ne null and {text}")
        raise Unpushable

    def _compare(self, node: exp.Expr, op: str) -> str:
        left, right = node.args["this"], node.args["expression"]
        if _is_operand(left) and _is_operand(right):
            return self._compare_columns(left, right, op)
        if _is_operand(right) and not _is_operand(left):
            left, right, op = right, left, _MIRROR[op]
        if not _is_operand(left):
            raise Unpushable
        value = self._value(right)
        if value is None:
            raise Unpushable  # `x = NULL` is never true in SQL, but `eq null` is in OData
        if isinstance(left, exp.Column):
            source, col = self._column(left)
            if col.role == "choice_name" and source.navigation is None:
                return self._choice_label(source, col, [value], op)
        term = self.term(left)
        literal = self._literal(value, term.edm_type, term.column.name)
        text = f"{term.text} {op} {literal}"
        if op == "ne" and term.nullable and not self.caps.sql_null_semantics:
            return f"{term.text} ne null and {text}"
        return text

    def _compare_columns(self, left: exp.Expr, right: exp.Expr, op: str) -> str:
        if not self.caps.column_comparison:
            raise Unpushable
        a, b = self.term(left), self.term(right)
        # "Only comparison operators... within one row, and the column types must match."
        if a.source is not b.source or a.source.navigation is not None or a.edm_type != b.edm_type:
            raise Unpushable
        text = f"{a.text} {op} {b.text}"
        if not self.caps.sql_null_semantics:
            guards = [f"{t.text} ne null" for t in (a, b) if t.nullable]
            return " and ".join([*guards, text])
        return text

    def _choice_label(self, source: Source, col: Column, labels: Sequence[object], op: str) -> str:
        """``<choice>name = 'label'`` as a test of the choice's integer value(s)."""
        if op not in ("eq", "ne"):
            raise Unpushable
        if any(isinstance(v, Slot) for v in labels):
            raise ValueDependent
        base, options = choice_options(source, col)
        values: list[str] = []
        for label in labels:
            if not isinstance(label, str):
                raise Unpushable
            values.extend(_option_literal(base, o.value) for o in options if self._same(o.label, label))
        if not values:
            raise Unpushable  # no such label: the local engine answers (no rows match)
        prop = base.property or base.name
        if op == "eq":
            parts = [f"{prop} eq {v}" for v in values]
            return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"
        return " and ".join(f"{prop} ne {v}" for v in values)

    def _same(self, a: str, b: str) -> bool:
        return a.casefold() == b.casefold() if self.caps.case_insensitive else a == b

    def _is_null(self, node: exp.Is, negate: bool) -> str:
        if not isinstance(node.expression, exp.Null):
            raise Unpushable
        target = node.this
        if isinstance(target, exp.Column):
            source, col = self._column(target)
            if col.role in ("choice_name", "lookup_name") and source.navigation is None:
                if col.role == "choice_name":
                    base, _ = choice_options(source, col)
                    prop = base.property or base.name
                else:
                    prop = col.property
                    if not prop:
                        raise Unpushable
                return f"{prop} {'ne' if negate else 'eq'} null"
        term = self.term(target)
        return f"{term.text} {'ne' if negate else 'eq'} null"

    def _in(self, node: exp.In, negate: bool) -> str:
        subject = node.this
        if node.args.get("query") is not None:
            if self.subquery is None:
                raise Unpushable
            return self.subquery(node, self.term(subject), negate)
        raw = [self._value(v) for v in node.expressions]
        if negate and any(v is None for v in raw):
            raise Unpushable  # NOT IN (..., NULL) is never true: the local engine answers
        values = [v for v in raw if v is not None]
        if not values:
            raise Unpushable
        if isinstance(subject, exp.Column):
            source, col = self._column(subject)
            if col.role == "choice_name" and source.navigation is None:
                return self._choice_label(source, col, values, "ne" if negate else "eq")
        term = self.term(subject)
        if len(values) == 1:
            op = "ne" if negate else "eq"
            text = f"{term.text} {op} {self._literal(values[0], term.edm_type, term.column.name)}"
            if negate and term.nullable and not self.caps.sql_null_semantics:
                return f"{term.text} ne null and {text}"
            return text
        mode = self.caps.in_list
        quoted = any(isinstance(v, str) and "'" in v for v in values)
        if mode == "dataverse" and term.source.navigation is None and "/" not in term.text and not quoted:
            name = term.column.name if term.column.role == "lookup" else term.text
            items = ",".join(self._json(v, term.edm_type, term.column.name) for v in values)
            func = "NotIn" if negate else "In"
            return f"Microsoft.Dynamics.CRM.{func}(PropertyName='{name}',PropertyValues=[{items}])"
        if mode == "in" and not negate:
            items = ",".join(self._literal(v, term.edm_type, term.column.name) for v in values)
            return f"{term.text} in ({items})"
        if mode == "none":
            raise Unpushable
        literals = [self._literal(v, term.edm_type, term.column.name) for v in values]
        if negate:
            text = " and ".join(f"{term.text} ne {lit}" for lit in literals)
            if term.nullable and not self.caps.sql_null_semantics:
                text = f"{term.text} ne null and {text}"
            return text
        return "(" + " or ".join(f"{term.text} eq {lit}" for lit in literals) + ")"

    def _between(self, node: exp.Between, negate: bool) -> str:
        term = self.term(node.this)
        low, high = self._value(node.args["low"]), self._value(node.args["high"])
        if low is None or high is None:
            raise Unpushable
        quoted = any(isinstance(v, str) and "'" in v for v in (low, high))
        plain = term.source.navigation is None and "/" not in term.text
        if self.caps.between_function and plain and not quoted:
            name = term.column.name if term.column.role == "lookup" else term.text
            items = f"{self._json(low, term.edm_type, name)},{self._json(high, term.edm_type, name)}"
            func = "NotBetween" if negate else "Between"
            return f"Microsoft.Dynamics.CRM.{func}(PropertyName='{name}',PropertyValues=[{items}])"
        lo = self._literal(low, term.edm_type, term.column.name)
        hi = self._literal(high, term.edm_type, term.column.name)
        if negate:
            # `x lt a or x gt b` is false for NULL x in OData and unknown in SQL: both drop the row.
            return f"({term.text} lt {lo} or {term.text} gt {hi})"
        return f"{term.text} ge {lo} and {term.text} le {hi}"

    def _like(self, node: exp.Expr) -> Pushed:
        escape: str | None = None
        if isinstance(node, exp.Escape):
            esc = self._value(node.expression)
            if not isinstance(esc, str) or len(esc) != 1:
                raise Unpushable
            escape = esc
            node = node.this
        if not isinstance(node, (exp.Like, exp.ILike)):
            raise Unpushable
        negate = bool(node.args.get("negate"))
        pattern = self._value(node.expression)
        if isinstance(pattern, Slot):
            raise ValueDependent
        if not isinstance(pattern, str):
            raise Unpushable
        term = self.term(node.this)
        if term.edm_type != "Edm.String":
            raise Unpushable
        tokens = parse_pattern(pattern, escape, self.brackets)
        subject = term.text
        fold = isinstance(node, exp.ILike) and not self.caps.case_insensitive
        if fold:
            if ("Lower", "tolower") not in self.caps.functions:
                raise Unpushable
            subject = f"tolower({subject})"
        shape = odata_like(tokens, self.caps.like_wildcards)
        if shape is None:
            raise Unpushable
        value = shape.value.lower() if fold else shape.value
        quoted = "'" + value.replace("'", "''") + "'"
        if shape.function == "notnull":
            text = f"{term.text} ne null"
        elif shape.function == "eq":
            text = f"{subject} eq {quoted}"
        else:
            text = f"{shape.function}({subject},{quoted})"
        if not negate:
            return Pushed(text, shape.exact)
        if not shape.exact:
            raise Unpushable
        if shape.function == "notnull":
            return Pushed(f"{term.text} eq null and {term.text} ne null")  # NOT LIKE '%': nothing
        negated = _negate(text) if shape.function != "eq" else f"{subject} ne {quoted}"
        if term.nullable and (shape.function != "eq" or not self.caps.sql_null_semantics):
            negated = f"{term.text} ne null and {negated}"  # as in _not: NULL never matches NOT LIKE
        return Pushed(negated)


def choice_options(source: Source, col: Column) -> tuple[Column, tuple[Option, ...]]:
    """The column behind a ``<choice>name`` column (a choice, or a Yes/No boolean) and its options."""
    prop = col.property or col.name.removesuffix("name")
    base = next(
        (
            c
            for c in source.table.columns
            if (c.property or c.name) == prop
            and (c.role == "choice" or (c.role == "attribute" and c.edm_type == "Edm.Boolean"))
        ),
        None,
    )
    if base is None or not base.filterable:
        raise Unpushable
    options = col.options or base.options
    if not options:
        raise Unpushable
    return base, options


def _option_literal(base: Column, value: int) -> str:
    if base.edm_type == "Edm.Boolean":
        return "true" if value else "false"
    return str(value)


def _is_operand(node: exp.Expr) -> bool:
    """True for expressions that read a column (as opposed to constants)."""
    return node.find(exp.Column) is not None


def _fields(node: exp.Expr) -> set[str]:
    return {c.sql() for c in node.find_all(exp.Column)}


def _top_level(text: str) -> list[tuple[int, str]]:
    """(index, char) of the characters outside parentheses and string literals."""
    out: list[tuple[int, str]] = []
    depth = 0
    quoted = False
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted  # a doubled '' toggles twice: still inside the literal
        elif quoted:
            continue
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0:
            out.append((i, ch))
    return out


def join_and(conjuncts: Sequence[str]) -> str | None:
    """Pushed conjuncts of one scan as one ``$filter`` (None when there are none)."""
    return " and ".join(_wrap(c, "and") for c in conjuncts) if conjuncts else None


def _wrap(text: str, joiner: str) -> str:
    """Parenthesise an operand of and/or when it holds the other connective at its top level."""
    other = " or " if joiner == "and" else " and "
    if other not in text:
        return text
    for i, ch in _top_level(text):
        if ch == " " and text.startswith(other, i):
            return f"({text})"
    return text


def _negate(text: str) -> str:
    """``not`` applied to a filter: bare before one function call, else around parentheses."""
    match = re.match(r"[A-Za-z][\w.]*\(", text)
    # One call when nothing stands outside its parentheses after the function's name.
    if match and all(i < match.end() - 1 for i, _ in _top_level(text)):
        return f"not {text}"
    return f"not ({text})"
