"""Writes on the Business Central sandbox: POST (with deep insert), PATCH and DELETE.

Owns: the write rules the facts sheet gives for Business Central --

- PATCH and DELETE **require** ``If-Match``: a missing header is refused (428), a stale etag answers
  412 ``Request_EntityChanged`` ("Another user has already changed the record."), ``*`` always matches;
- the entity set's Insert/Update/DeleteRestrictions from ``$metadata`` (405 when not allowed);
- a ``number`` already used in the company: ``Internal_EntityWithSameKeyExists``;
- deep insert: ``POST salesOrders`` with ``"salesOrderLines": [...]`` inserts the lines in the same
  transaction (API only: ODataV4 pages refuse it, as Business Central recommends against it); sales
  order totals are the sums of their lines;
- POST answers 201 with the row and ``Location``; PATCH 200 with the row; DELETE 204.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from d365conn.sandbox.bc import errors
from d365conn.sandbox.bc.errors import BCError, bad_request
from d365conn.sandbox.bc.rows import api_changes, company_path, json_answer
from d365conn.sandbox.bc.schema import EntitySet
from d365conn.sandbox.bc.store import Row
from d365conn.sandbox.response import Response

if TYPE_CHECKING:
    from d365conn.sandbox.bc.service import BCService, Call

_READ_ONLY = frozenset({"id", "lastModifiedDateTime", "systemCreatedAt", "systemModifiedAt"})
_LINE_SETS = {"salesOrders": ("salesOrderLines", "documentId")}


def _body(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw or b"{}")
    except ValueError:
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise bad_request("The request body must be a JSON object.")
    return document


def _not_allowed(method: str, entity: EntitySet) -> BCError:
    return BCError(
        405,
        errors.METHOD_NOT_ALLOWED,
        f"'{method}' requests for '{entity.name}' of EdmType 'Entity' are not allowed within "
        "Dynamics 365 Business Central OData web services.",
    )


def _values(entity: EntitySet, document: dict[str, Any], *, insert: bool) -> Row:
    from d365conn.sandbox.bc.service import as_decimal

    values: Row = {}
    for name, value in document.items():
        if name.startswith("@"):
            continue
        prop = entity.prop(name)
        if prop is None or not prop.in_rows:
            raise bad_request(
                f"Could not find a property named '{name}' on type 'Microsoft.NAV.{entity.type_name}'."
            )
        if name in _READ_ONLY and not (insert and name == "id"):
            raise bad_request(f"The property '{name}' is read-only.")
        if prop.edm == "enum" and value not in prop.enum:
            raise bad_request(f"The value '{value}' is not valid for the enum property '{name}'.")
        values[name] = as_decimal(value) if prop.edm == "Edm.Decimal" else value
    return values


def _check_number(
    service: BCService, entity: EntitySet, company: Row, values: Row, row_id: str | None
) -> None:
    number = values.get("number")
    if not number or entity.prop("number") is None:
        return
    for other in service.store.rows(company["id"], entity.name):
        if other.get("number") == number and other["id"] != row_id:
            title = entity.type_name[:1].upper() + entity.type_name[1:]
            raise BCError(
                400,
                errors.SAME_KEY,
                f"The record in table {title} already exists. Identification fields and values: "
                f"No.='{number}'",
            )


def _line_amounts(line: Row) -> Row:
    quantity = Decimal(str(line.get("quantity") or 0))
    price = Decimal(str(line.get("unitPrice") or 0))
    amount = quantity * price
    return {
        "amountExcludingTax": amount,
        "amountIncludingTax": amount,
        "netAmount": amount,
        "netAmountIncludingTax": amount,
    }


def _retotal(service: BCService, company: Row, order_id: str) -> None:
    order = service.store.get(company["id"], "salesOrders", order_id)
    if order is None:
        return
    total = sum(
        (
            Decimal(str(line["amountExcludingTax"]))
            for line in service.store.rows(company["id"], "salesOrderLines")
            if line["documentId"] == order_id
        ),
        Decimal(0),
    )
    service.store.update(
        company["id"],
        "salesOrders",
        order_id,
        {"totalAmountExcludingTax": total, "totalAmountIncludingTax": total},
    )


def _insert_line(service: BCService, company: Row, values: Row, sequence: int) -> Row:
    from d365conn.sandbox.bc.service import new_row

    entity = service.api.sets["salesOrderLines"]
    item = (
        service.store.get(company["id"], "items", str(values.get("itemId"))) if values.get("itemId") else None
    )
    if item is not None:
        values.setdefault("lineType", "Item")
        values.setdefault("lineObjectNumber", item["number"])
        values.setdefault("description", item["displayName"])
        values.setdefault("unitPrice", item["unitPrice"])
    values.setdefault("sequence", sequence)
    row = new_row(entity, values)
    row.update(_line_amounts(row))
    return service.store.insert(company["id"], entity.name, row)


def insert(
    service: BCService, call: Call, entity: EntitySet, company: Row, bound: Row, *, tail: str | None = None
) -> Response:
    """POST a row (``bound``: the parent's key when posting to a navigation, e.g. an order's lines)."""
    surface, raw, query = call.surface, call.body, call.query
    from d365conn.sandbox.bc.service import new_row

    if not entity.insertable:
        raise _not_allowed("POST", entity)
    document = _body(raw)
    if surface != "api":
        if any(isinstance(v, list) for v in document.values()):
            raise bad_request("Deep insert is not supported on pages published as ODataV4 web services.")
        source = service.api.sets[entity.source or ""]
        values = _values(source, api_changes(entity, document), insert=True)
        target = source
    else:
        children: list[dict[str, Any]] = []
        line_set = _LINE_SETS.get(entity.name)
        if line_set is not None and isinstance(document.get(line_set[0]), list):
            children = document.pop(line_set[0])
        values = _values(entity, document, insert=True)
        values.update(bound)
        target = entity
    with service.store.snapshot():
        _check_number(service, target, company, values, None)
        if entity.name == "salesOrderLines" and surface == "api":
            order_id = str(values.get("documentId", ""))
            if service.store.get(company["id"], "salesOrders", order_id) is None:
                raise bad_request("The sales order of the line does not exist.")
            taken = [
                r["sequence"]
                for r in service.store.rows(company["id"], "salesOrderLines")
                if r["documentId"] == order_id
            ]
            row = _insert_line(service, company, values, max(taken, default=0) + 10000)
            _retotal(service, company, order_id)
        else:
            if "number" not in values and target.prop("number") is not None:
                values["number"] = f"N{len(service.store.rows(company['id'], target.name)) + 1:06d}"
            row = service.store.insert(company["id"], target.name, new_row(target, values))
            if surface == "api" and entity.name in _LINE_SETS:
                lines = service.api.sets["salesOrderLines"]
                for i, child in enumerate(children):
                    _insert_line(
                        service,
                        company,
                        _values(lines, child, insert=True) | {"documentId": row["id"]},
                        10000 * (i + 1),
                    )
                _retotal(service, company, row["id"])
                row = service.store.get(company["id"], target.name, row["id"]) or row
    payload = service.entity_payload(surface, entity, company, row, tail)
    key = row["id"] if surface == "api" else f"'{payload[entity.key[0]]}'"
    location = f"{service.root(surface)}{company_path(company, surface)}/{tail or entity.name}({key})"
    if surface == "api" and "expand" in query and entity.name in _LINE_SETS:
        lines_name = _LINE_SETS[entity.name][0]
        payload[lines_name] = [
            {"@odata.etag": service.store.etag(r["id"]), **r}
            for r in service.store.rows(company["id"], lines_name)
            if r["documentId"] == row["id"]
        ]
    return json_answer(201, payload, {"Location": location})


def _check_if_match(service: BCService, headers: dict[str, str], row_id: str) -> None:
    given = next((v for k, v in headers.items() if k.lower() == "if-match"), None)
    if given is None:
        raise BCError(
            428,
            errors.PRECONDITION,
            "Could not validate the client concurrency token required by the service. Please provide a "
            "valid token in the client request.",
        )
    if given.strip() == "*":
        return
    if given.strip() != service.store.etag(row_id):
        raise BCError(412, errors.ENTITY_CHANGED, "Another user has already changed the record.")


def _api_target(service: BCService, surface: str, entity: EntitySet) -> EntitySet:
    return entity if surface == "api" else service.api.sets[entity.source or ""]


def _row_id(surface: str, entity: EntitySet, row: Row) -> str:
    if surface == "api":
        return str(row["id"])
    return str(next(row[f] for f, api in entity.mapping if api == "id"))


def update(service: BCService, call: Call, entity: EntitySet, company: Row, row: Row) -> Response:
    surface, headers, raw = call.surface, call.headers, call.body
    if not entity.updatable:
        raise _not_allowed("PATCH", entity)
    row_id = _row_id(surface, entity, row)
    target = _api_target(service, surface, entity)
    document = _body(raw)
    changes = _values(target, document if surface == "api" else api_changes(entity, document), insert=False)
    with service.store.snapshot():
        _check_if_match(service, headers, row_id)
        _check_number(service, target, company, changes, row_id)
        updated = service.store.update(company["id"], target.name, row_id, changes)
        if target.name == "salesOrderLines":
            updated = service.store.update(company["id"], target.name, row_id, _line_amounts(updated))
            _retotal(service, company, str(updated["documentId"]))
    return json_answer(200, service.entity_payload(surface, entity, company, updated))


def delete(service: BCService, call: Call, entity: EntitySet, company: Row, row: Row) -> Response:
    surface, headers = call.surface, call.headers
    if not entity.deletable:
        raise _not_allowed("DELETE", entity)
    row_id = _row_id(surface, entity, row)
    target = _api_target(service, surface, entity)
    with service.store.snapshot():
        _check_if_match(service, headers, row_id)
        service.store.delete(company["id"], target.name, row_id)
        if target.name in _LINE_SETS:  # an order's lines go with it
            line_set, parent = _LINE_SETS[target.name]
            for line in service.store.rows(company["id"], line_set):
                if line[parent] == row_id:
                    service.store.delete(company["id"], line_set, line["id"])
        elif target.name == "salesOrderLines":
            _retotal(service, company, str(row["documentId"]))
    return Response(204, {"OData-Version": "4.0"})


__all__ = ["delete", "insert", "update"]
