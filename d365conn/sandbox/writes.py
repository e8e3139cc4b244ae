"""Creating, updating, upserting and deleting rows the way the Dataverse Web API does.

Owns: reading a JSON entity body against the table model (`@odata.bind` lookups including the
polymorphic navigation names, refusing `_x_value` writes, unknown and read-only properties,
option-set and length validation), the columns the platform fills (owner, currency, `_base`
amounts, audit columns, version number), PATCH upsert semantics with If-Match / If-None-Match,
and the CreateMultiple / UpdateMultiple / UpsertMultiple actions (all-or-nothing).
"""

# ruff: noqa: S608 - SQL is built from the table model's quoted identifiers; values are bound

from __future__ import annotations

import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from d365conn.sandbox.errors import (
    CONCURRENCY,
    DUPLICATE,
    NOT_FOUND,
    PAYLOAD,
    VALIDATION,
    ServiceError,
    not_found,
    unsupported,
)
from d365conn.sandbox.model import Column, Schema, Table
from d365conn.sandbox.query import key_condition
from d365conn.sandbox.sqlfilter import normalise_datetime
from d365conn.sandbox.store import Store, polymorphic, quote, type_column

BIND = re.compile(r"^(?:.*/api/data/v9\.\d/|/)?([A-Za-z_][A-Za-z0-9_]*)\(([^)]*)\)$")


@dataclass
class WriteContext:
    schema: Schema
    store: Store
    user_id: str
    business_unit_id: str
    content_ids: dict[str, str]  # "$1" -> "accounts(<guid>)" inside a change set


def payload_error(table: Table, message: str) -> ServiceError:
    return ServiceError(
        400,
        PAYLOAD,
        f"Error identified in Payload provided by the user for Entity :'{table.logical}'"
        f", For more information on this error please follow this help link "
        f"https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : "
        f"Microsoft.OData.ODataException: {message}",
    )


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def convert(table: Table, column: Column, value: Any) -> Any:
    """A JSON value as stored for `column`, validated as the real service validates it."""
    if value is None:
        return None
    edm = column.edm
    wrong = ServiceError(400, PAYLOAD, f"Cannot convert the literal '{value}' to the expected type '{edm}'.")
    if edm == "Edm.Boolean":
        if not isinstance(value, bool):
            raise wrong
        return 1 if value else 0
    if edm in ("Edm.Int32", "Edm.Int64"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        if column.options and column.kind in ("Picklist", "State", "Status") and value not in column.options:
            accepted = ",".join(str(k) for k in sorted(column.options))
            raise ServiceError(
                400,
                VALIDATION,
                f"A validation error occurred.  The value {value} of "
                f"'{column.logical}' on record of type '{table.logical}' is outside "
                f"the valid range. Accepted Values: {accepted}",
            )
        return value
    if edm in ("Edm.Decimal", "Edm.Double"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise wrong
        try:
            return float(value)
        except ValueError as error:
            raise wrong from error
    if not isinstance(value, str):
        raise wrong
    if edm == "Edm.Guid":
        try:
            return str(uuid.UUID(value.strip("{}")))
        except ValueError as error:
            raise wrong from error
    if edm == "Edm.DateTimeOffset":
        try:
            return normalise_datetime(value)
        except ValueError as error:
            raise wrong from error
    if edm == "Edm.Date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise wrong
        return value
    if column.max_length and len(value) > column.max_length:
        raise ServiceError(
            400,
            VALIDATION,
            f"A validation error occurred.  The length of the '{column.logical}' "
            f"attribute of the '{table.logical}' entity exceeded the maximum allowed "
            f"length of '{column.max_length}'.",
        )
    return value


def resolve_bind(ctx: WriteContext, reference: str) -> tuple[Table, str]:
    reference = ctx.content_ids.get(reference, reference)
    match = BIND.match(reference.strip())
    if match is None:
        raise unsupported(f"The @odata.bind value '{reference}' is not a valid entity reference.")
    table = ctx.schema.by_set.get(match.group(1))
    if table is None:
        raise ServiceError(404, "0x80060888", f"Resource not found for the segment '{match.group(1)}'.")
    condition, params = key_condition(table, match.group(2), "t0")
    row = (
        ctx.store.connect()
        .execute(
            f"SELECT t0.{quote(table.columns[table.pk].prop)} FROM {quote(table.logical)} "
            f"t0 WHERE {condition}",
            params,
        )
        .fetchone()
    )
    if row is None:
        raise ServiceError(404, NOT_FOUND, f"{table.logical} With Id = {match.group(2)} Does Not Exist")
    return table, str(row[0])


def read_payload(ctx: WriteContext, table: Table, body: Any, creating: bool) -> dict[str, Any]:
    """SQL column -> value for a JSON entity body."""
    if not isinstance(body, dict):
        raise payload_error(table, "The request body must be a JSON object.")
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("@odata.") or key == "@odata.type":
            continue
        if key.endswith("@odata.bind"):
            nav_name = key[: -len("@odata.bind")]
            nav = table.navs.get(nav_name)
            if nav is None or nav.collection:
                raise payload_error(
                    table,
                    f"An undeclared property '{nav_name}' which only has property annotations "
                    "in the payload but no property value was found in the payload.",
                )
            lookup = table.columns[nav.column]
            if value is None:
                values[lookup.prop] = None
                if polymorphic(lookup):
                    values[type_column(lookup)] = None
                continue
            target, key_value = resolve_bind(ctx, str(value))
            allowed = ("systemuser", "team") if nav.target == "principal" else (nav.target,)
            if target.logical not in allowed:
                raise unsupported(
                    f"The navigation property '{nav_name}' cannot be bound to a '{target.logical}'."
                )
            values[lookup.prop] = key_value
            if polymorphic(lookup):
                values[type_column(lookup)] = target.logical
            continue
        if "@" in key:
            continue  # instance annotations on a value are ignored on write
        column = table.column_for_prop(key)
        if column is None:
            raise payload_error(
                table,
                f"The property '{key}' does not exist on type 'Microsoft.Dynamics.CRM."
                f"{table.logical}'. Make sure to only use property names that are defined "
                "by the type or mark the type as open type.",
            )
        if column.is_lookup:
            raise unsupported(
                "CRM do not support direct update of Entity Reference properties, Use Navigation "
                "properties insteed."
            )
        if column.read_only or (column.logical == table.pk and not creating):
            raise ServiceError(
                400,
                PAYLOAD,
                f"The property '{key}' of entity '{table.logical}' is read-only and cannot be set.",
            )
        values[column.prop] = convert(table, column, value)
    return values


def _platform_columns(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
    ctx: WriteContext,
    table: Table,
    values: dict[str, Any],
    connection: sqlite3.Connection,
    creating: bool,
    version: int,
) -> None:
    stamp = now_iso()
    columns = table.columns
    values["versionnumber"] = version
    if "modifiedon" in columns:
        values["modifiedon"] = stamp
    if "modifiedby" in columns:
        values["_modifiedby_value"] = ctx.user_id
    if creating:
        if "createdon" in columns:
            values["createdon"] = stamp
        if "createdby" in columns:
            values["_createdby_value"] = ctx.user_id
        if "ownerid" in columns and values.get("_ownerid_value") is None:
            values["_ownerid_value"] = ctx.user_id
            values["__type_ownerid"] = "systemuser"
        if "owningbusinessunit" in columns:
            values["_owningbusinessunit_value"] = ctx.business_unit_id
        if "statecode" in columns and values.get("statecode") is None:
            values["statecode"] = 0
            values.setdefault(
                "statuscode",
                min(k for k in columns["statuscode"].options) if columns["statuscode"].options else 1,
            )
        for column in columns.values():
            if column.edm == "Edm.Boolean" and column.prop not in values:
                values[column.prop] = 1 if column.logical == "followemail" else 0
        if (
            "transactioncurrencyid" in columns
            and values.get("_transactioncurrencyid_value") is None
            and any(c.kind == "Money" and values.get(c.prop) is not None for c in columns.values())
        ):
            row = connection.execute(
                "SELECT transactioncurrencyid FROM transactioncurrency "
                "ORDER BY exchangerate = 1.0 DESC LIMIT 1"
            ).fetchone()
            values["_transactioncurrencyid_value"] = row[0] if row else None
    if "ownerid" in columns and "_ownerid_value" in values:
        owner_type = values.get("__type_ownerid")
        values["_owninguser_value"] = values["_ownerid_value"] if owner_type == "systemuser" else None
        values["_owningteam_value"] = values["_ownerid_value"] if owner_type == "team" else None
    if table.logical == "contact" and ("firstname" in values or "lastname" in values):
        values["fullname"] = None  # recomputed after the row is written
    if table.logical == "contact" and "_parentcustomerid_value" in values:
        values["_accountid_value"] = (
            values["_parentcustomerid_value"] if values.get("__type_parentcustomerid") == "account" else None
        )
    money = [
        c
        for c in columns.values()
        if c.kind == "Money" and not c.logical.endswith("_base") and c.prop in values
    ]
    if money:
        currency = values.get("_transactioncurrencyid_value")
        rate = 1.0
        if currency is not None:
            found = connection.execute(
                "SELECT exchangerate FROM transactioncurrency WHERE transactioncurrencyid = ?", (currency,)
            ).fetchone()
            rate = float(found[0]) if found and found[0] else 1.0
        if "exchangerate" in columns:
            values["exchangerate"] = rate
        for column in money:
            base = f"{column.prop}_base"
            if base in table.props:
                amount = values[column.prop]
                values[base] = None if amount is None else round(amount / rate, 4)


def _insert(connection: sqlite3.Connection, table: Table, values: dict[str, Any]) -> None:
    names = list(values)
    sql = (
        f"INSERT INTO {quote(table.logical)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    try:
        connection.execute(sql, [values[n] for n in names])
    except sqlite3.IntegrityError as error:
        raise ServiceError(412, DUPLICATE, "A record with matching key values already exists.") from error


def _update(connection: sqlite3.Connection, table: Table, key: str, values: dict[str, Any]) -> None:
    names = list(values)
    sql = (
        f"UPDATE {quote(table.logical)} SET {', '.join(quote(n) + ' = ?' for n in names)} "
        f"WHERE {quote(table.columns[table.pk].prop)} = ?"
    )
    try:
        connection.execute(sql, [values[n] for n in names] + [key])
    except sqlite3.IntegrityError as error:
        raise ServiceError(412, DUPLICATE, "A record with matching key values already exists.") from error


def _fix_fullname(connection: sqlite3.Connection, table: Table, key: str) -> None:
    if table.logical == "contact":
        connection.execute(
            "UPDATE contact SET fullname = TRIM(COALESCE(firstname, '') || ' ' || "
            "COALESCE(lastname, '')), yomifullname = TRIM(COALESCE(firstname, '') || ' ' || "
            "COALESCE(lastname, '')) WHERE contactid = ?",
            (key,),
        )


def create(ctx: WriteContext, table: Table, body: Any, key_values: dict[str, Any] | None = None) -> str:
    values = read_payload(ctx, table, body, creating=True)
    if key_values:
        values.update(key_values)
    pk = table.columns[table.pk].prop
    values[pk] = values.get(pk) or str(uuid.uuid4())
    with ctx.store.write() as connection:
        _platform_columns(ctx, table, values, connection, True, ctx.store.next_version(connection))
        _insert(connection, table, values)
        _fix_fullname(connection, table, values[pk])
    return str(values[pk])


def find(ctx: WriteContext, table: Table, key: str) -> tuple[str, int] | None:
    condition, params = key_condition(table, key)
    row = (
        ctx.store.connect()
        .execute(
            f"SELECT t0.{quote(table.columns[table.pk].prop)}, t0.versionnumber FROM "
            f"{quote(table.logical)} t0 WHERE {condition}",
            params,
        )
        .fetchone()
    )
    return None if row is None else (str(row[0]), int(row[1] or 0))


def check_etag(
    table: Table, key: str, current: tuple[str, int] | None, if_match: str | None, if_none_match: str | None
) -> None:
    if if_none_match is not None and if_none_match.strip() == "*" and current is not None:
        raise ServiceError(412, DUPLICATE, "A record with matching key values already exists.")
    if if_match is None:
        return
    if current is None:
        raise not_found(table.logical, key)
    wanted = if_match.strip()
    if wanted != "*" and wanted not in (f'W/"{current[1]}"', f'"{current[1]}"'):
        raise ServiceError(
            412,
            CONCURRENCY,
            "The version of the existing record doesn't match the RowVersion property provided.",
        )


def upsert(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
    ctx: WriteContext,
    table: Table,
    key: str,
    body: Any,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> tuple[str, bool]:
    """PATCH semantics: update when the row exists, create it (with this key) when not.
    Returns (primary key, created)."""
    with ctx.store.write() as connection:
        current = find(ctx, table, key)
        check_etag(table, key, current, if_match, if_none_match)
        if current is None:
            key_values = _key_values(table, key)
            return create(ctx, table, body, key_values), True
        values = read_payload(ctx, table, body, creating=False)
        _platform_columns(ctx, table, values, connection, False, ctx.store.next_version(connection))
        _update(connection, table, current[0], values)
        _fix_fullname(connection, table, current[0])
        return current[0], False


def _key_values(table: Table, key: str) -> dict[str, Any]:
    text = key.strip()
    if "=" not in text:
        return {table.columns[table.pk].prop: str(uuid.UUID(text.strip("{}")))}
    result: dict[str, Any] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        column = table.props[name.strip()]
        value = value.strip()
        result[column.prop] = (
            value[1:-1].replace("''", "'")
            if value.startswith("'")
            else convert(table, column, int(value) if value.lstrip("-").isdigit() else value)
        )
    return result


def delete(ctx: WriteContext, table: Table, key: str, if_match: str | None = None) -> None:
    with ctx.store.write() as connection:
        current = find(ctx, table, key)
        if current is None:
            raise not_found(table.logical, key.strip("{}"))
        check_etag(table, key, current, if_match, None)
        connection.execute(
            f"DELETE FROM {quote(table.logical)} WHERE {quote(table.columns[table.pk].prop)} = ?",
            (current[0],),
        )


def _targets(table: Table, body: Any) -> list[dict[str, Any]]:
    targets = body.get("Targets") if isinstance(body, dict) else None
    if not isinstance(targets, list) or not targets:
        raise ServiceError(
            400, PAYLOAD, "The parameter 'Targets' is required and must be a non-empty collection."
        )
    for target in targets:
        kind = target.get("@odata.type", "") if isinstance(target, dict) else None
        if kind is None or kind.lstrip("#") != f"Microsoft.Dynamics.CRM.{table.logical}":
            raise ServiceError(
                400,
                PAYLOAD,
                f"Each target must be a Microsoft.Dynamics.CRM.{table.logical} with its @odata.type set.",
            )
    return targets


def create_multiple(ctx: WriteContext, table: Table, body: Any) -> list[str]:
    targets = _targets(table, body)
    with ctx.store.write():
        return [create(ctx, table, target) for target in targets]


def update_multiple(ctx: WriteContext, table: Table, body: Any) -> None:
    targets = _targets(table, body)
    pk = table.columns[table.pk].prop
    with ctx.store.write():
        for target in targets:
            key = target.get(pk)
            if not key:
                raise ServiceError(
                    400, PAYLOAD, f"UpdateMultiple requires the primary key '{pk}' in every target."
                )
            rest = {k: v for k, v in target.items() if k != pk}
            if find(ctx, table, str(key)) is None:
                raise not_found(table.logical, str(key))
            upsert(ctx, table, str(key), rest, if_match="*")


def upsert_multiple(ctx: WriteContext, table: Table, body: Any) -> list[tuple[str, bool]]:
    targets = _targets(table, body)
    pk = table.columns[table.pk].prop
    results = []
    with ctx.store.write():
        for target in targets:
            key = target.get(pk)
            rest = {k: v for k, v in target.items() if k != pk}
            if key:
                results.append(upsert(ctx, table, str(key), rest))
            else:
                results.append((create(ctx, table, rest), True))
    return results
