"""Turning SQLite rows into Dataverse-shaped JSON rows.

Owns: which SQL columns a selection reads (the selected properties, the hidden owner/customer type
columns, the version number behind `@odata.etag`, the primary key), and the conversion of each
row to the dict the service would send: booleans as JSON booleans, `@odata.etag` first, and when
annotations are preferred, FormattedValue / lookuplogicalname / associatednavigationproperty
placed before the value they describe, formatted the way the real service formats them (en-US).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

from d365conn.sandbox.model import Column, Schema, Table
from d365conn.sandbox.store import polymorphic, quote, type_column

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
NAVIGATION = "Microsoft.Dynamics.CRM.associatednavigationproperty"
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover - orjson is optional, json is the fallback
    import json

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


#: Placeholder in RowEncoder.sql_columns for the `W/"<versionnumber>"` etag expression.
ETAG = "\x00etag"
AS_BOOL: dict[Any, bool | None] = {0: False, 1: True, None: None}
PLAIN_SLOT, LOOKUP_SLOT, MONEY_SLOT, FORMATTED_SLOT = range(4)
SMALL_ROW = 32  # properties up to which a plain dict(zip()) beats copying a template


class Annotations:
    """Which instance annotations a `Prefer: odata.include-annotations=...` asks for."""

    def __init__(self, preference: str | None) -> None:
        self.preference = preference
        patterns = [p.strip() for p in (preference or "").split(",") if p.strip()]
        self.patterns = [p for p in patterns if not p.startswith("-")]
        self.excluded = [p[1:] for p in patterns if p.startswith("-")]

    def wants(self, name: str) -> bool:
        def match(pattern: str) -> bool:
            return pattern in ("*", name) or (pattern.endswith(".*") and name.startswith(pattern[:-1]))

        return any(match(p) for p in self.patterns) and not any(match(p) for p in self.excluded)

    @property
    def any(self) -> bool:
        return bool(self.patterns)


def format_datetime(text: str, date_only: bool) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    day = f"{moment.month}/{moment.day}/{moment.year}"
    if date_only:
        return day
    hour = moment.hour % 12 or 12
    return f"{day} {hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def format_number(value: float | int, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def formatter(column: Column) -> Callable[[Any], str] | None:
    """The FormattedValue function for a column kind, or None when the service sends none."""
    kind = column.kind
    if column.options and kind in ("Picklist", "State", "Status", "Boolean"):
        options = column.options
        return lambda v: options.get(int(v), str(v))
    if kind == "MultiSelectPicklist":
        options = column.options
        return lambda v: "; ".join(options.get(int(x), x) for x in str(v).split(",") if x)
    if kind == "Integer":
        return lambda v: f"{int(v):,}"
    if kind in ("Decimal", "Double"):
        decimals = column.precision
        return lambda v: format_number(float(v), decimals)
    if kind == "DateTime":
        date_only = column.date_only or column.date_format_only
        if column.date_only:
            return lambda v: format_datetime(str(v) + "T00:00:00Z", True)
        return lambda v: format_datetime(str(v), date_only)
    return None


@dataclass
class Slot:
    """One output property: where its value sits in the SQL row and how to annotate it."""

    column: Column
    position: int
    type_position: int  # hidden owner/customer type, -1 when not polymorphic
    format: Callable[[Any], str] | None
    boolean: bool


class RowEncoder:
    """Encodes rows of one table for one selection and one annotation preference."""

    def __init__(
        self,
        schema: Schema,
        table: Table,
        columns: Sequence[Column],
        annotations: Annotations,
        filled: frozenset[str] | None = None,
    ) -> None:
        self.schema = schema
        self.table = table
        self.annotations = annotations
        # The etag (built by SQLite) and the selected properties come first, in output order, so a
        # row maps to its dict with one C-level dict(zip()); hidden columns (owner/customer types,
        # key) follow them and zip() stops before them.
        self.sql_columns = [ETAG, *(column.prop for column in columns)]
        self.slots: list[Slot] = []
        for position, column in enumerate(columns, start=1):
            type_position = -1
            if polymorphic(column):
                type_position = len(self.sql_columns)
                self.sql_columns.append(type_column(column))
            self.slots.append(
                Slot(column, position, type_position, formatter(column), column.edm == "Edm.Boolean")
            )
        self.key_position = len(self.sql_columns)
        self.sql_columns.append(table.columns[table.pk].prop)
        self.want_formatted = annotations.wants(FORMATTED)
        self.want_lookup = annotations.wants(LOOKUP_NAME)
        self.want_navigation = annotations.wants(NAVIGATION)
        self.money_symbol_position = -1
        currency = table.columns.get("transactioncurrencyid")
        if currency is not None and any(c.kind == "Money" for c in columns):
            self.money_symbol_position = (
                self.sql_columns.index(currency.prop) if currency.prop in self.sql_columns else -1
            )
        # Plain rows (no annotations) are built by copying a template that holds every property
        # (null) and updating it with the fetched values: a copy keeps the presized table and key
        # order, where dict(zip()) regrows the dict five times per wide row. `filled` (the columns
        # some row has ever filled, see Store.filled_columns) leaves the others out of the SELECT:
        # they are null in every row, and fetching ~100 always-null columns of a wide table costs
        # about half a page. Annotated rows keep the full layout.
        self._plan = [
            (
                slot.column.prop,
                slot.position,
                LOOKUP_SLOT
                if slot.column.is_lookup
                else MONEY_SLOT
                if self.want_formatted and slot.column.kind == "Money"
                else FORMATTED_SLOT
                if self.want_formatted and slot.format is not None
                else PLAIN_SLOT,
                slot.boolean,
                slot.type_position,
                (slot.column.targets or ("",))[0],
                f"{slot.column.prop}@{FORMATTED}",
                slot.column,
                slot.format,
            )
            for slot in self.slots
        ]
        self.filled = filled
        self.template = dict.fromkeys(["@odata.etag", *(s.column.prop for s in self.slots)])
        plain = self.slots
        if filled is not None and not annotations.any:
            plain = [s for s in self.slots if s.column.prop in filled]
            hidden = self.sql_columns[1 + len(self.slots) :]  # owner/customer types, then the key
            self.sql_columns = [ETAG, *(s.column.prop for s in plain), *hidden]
            self.key_position = len(self.sql_columns) - 1
        self.plain_keys = ["@odata.etag", *(s.column.prop for s in plain)]
        self.plain_booleans = [(s.column.prop, i) for i, s in enumerate(plain, start=1) if s.boolean]

    def select_sql(self, alias: str) -> str:
        return ", ".join(
            f"""'W/"' || {alias}."versionnumber" || '"'""" if c == ETAG else f"{alias}.{quote(c)}"
            for c in self.sql_columns
        )

    def key_of(self, row: Sequence[Any]) -> str:
        return str(row[self.key_position])

    def encode(self, rows: Sequence[Sequence[Any]], connection: sqlite3.Connection) -> list[dict[str, Any]]:
        names = self._lookup_names(rows, connection) if self.want_formatted else {}
        symbols = self._currency_symbols(rows, connection) if self.want_formatted else {}
        out: list[dict[str, Any]] = []
        if not self.annotations.any:
            keys, copy, append = self.plain_keys, self.template.copy, out.append
            if not self.plain_booleans and len(keys) == len(self.template) and len(keys) <= SMALL_ROW:
                # A narrow selection: dict(zip()) per row in C, no regrowth worth avoiding.
                return list(map(dict, map(zip, repeat(keys), rows)))
            for row in rows:
                item = copy()
                # zip stops at the last property: the hidden columns (types, key, sort values) follow.
                item.update(zip(keys, row, strict=False))
                append(item)
            # Booleans are stored as 0/1 (datagen, writes.convert): replaced column by column, a
            # C-level lookup per value, which measured a third less per page than per row.
            as_bool = AS_BOOL.__getitem__
            for key, position in self.plain_booleans:
                try:
                    for item in out:
                        item[key] = as_bool(item[key])
                except KeyError:  # stored otherwise (a bool, or a value written through SQL)
                    for item, row in zip(out, rows, strict=True):
                        item[key] = None if row[position] is None else bool(row[position])
            return out
        for row in rows:
            out.append(self._annotated(row, names, symbols))
        return out

    def _annotated(
        self, row: Sequence[Any], names: dict[tuple[str, str], str], symbols: dict[str, str]
    ) -> dict[str, Any]:
        """One row with its annotations, each placed before its property (the real order). The
        per-slot decisions are made once per encoder (`_plan`), not once per value."""
        item: dict[str, Any] = {"@odata.etag": row[0]}
        want_navigation, want_lookup = self.want_navigation, self.want_lookup
        for (
            prop,
            position,
            code,
            boolean,
            type_position,
            default_target,
            formatted,
            column,
            fmt,
        ) in self._plan:
            value = row[position]
            if value is None:
                item[prop] = None
                continue
            if code == LOOKUP_SLOT:
                target = row[type_position] if type_position >= 0 else default_target
                if (target, value) in names:  # filled only when FormattedValue is wanted
                    item[formatted] = names[(target, value)]
                if want_navigation:
                    item[f"{prop}@{NAVIGATION}"] = (
                        f"{column.logical}_{target}" if column.kind == "Customer" else column.logical
                    )
                if want_lookup:
                    item[f"{prop}@{LOOKUP_NAME}"] = target
            elif code == MONEY_SLOT:
                currency = row[self.money_symbol_position] if self.money_symbol_position >= 0 else None
                symbol = symbols.get(str(currency), "$")
                amount = float(value)
                item[formatted] = f"-{symbol}{-amount:,.2f}" if amount < 0 else f"{symbol}{amount:,.2f}"
            elif code == FORMATTED_SLOT and fmt is not None:
                item[formatted] = fmt(value)
            item[prop] = bool(value) if boolean else value
        return item

    def _lookup_names(
        self, rows: Sequence[Sequence[Any]], connection: sqlite3.Connection
    ) -> dict[tuple[str, str], str]:
        wanted: dict[str, set[str]] = {}
        for slot in self.slots:
            if not slot.column.is_lookup or (self.filled is not None and slot.column.prop not in self.filled):
                continue  # (a column no row has filled is null in every row)
            for row in rows:
                value = row[slot.position]
                if value is None:
                    continue
                target = row[slot.type_position] if slot.type_position >= 0 else slot.column.targets[0]
                if target in self.schema.tables:
                    wanted.setdefault(target, set()).add(value)
        return primary_names(self.schema, wanted, connection)

    def _currency_symbols(
        self, rows: Iterable[Sequence[Any]], connection: sqlite3.Connection
    ) -> dict[str, str]:
        if self.money_symbol_position < 0:
            return {}
        result = connection.execute("SELECT transactioncurrencyid, currencysymbol FROM transactioncurrency")
        return {str(k): str(v) for k, v in result.fetchall()}


def navigation_name(column: Column, target: str) -> str:
    if column.kind == "Customer":
        return f"{column.logical}_{target}"
    return column.logical


def primary_names(
    schema: Schema, wanted: dict[str, set[str]], connection: sqlite3.Connection
) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    for target, ids in wanted.items():
        table = schema.tables[target]
        key = quote(table.columns[table.pk].prop)
        name = quote(table.columns[table.primary_name].prop)
        id_list = list(ids)
        for start in range(0, len(id_list), 900):
            chunk = id_list[start : start + 900]
            marks = ", ".join("?" for _ in chunk)
            query = f"SELECT {key}, {name} FROM {quote(target)} WHERE {key} IN ({marks})"  # noqa: S608
            for found_key, found_name in connection.execute(query, chunk):
                names[(target, str(found_key))] = "" if found_name is None else str(found_name)
    return names
