"""Rows as the Business Central sandbox sends them: JSON encoding, etags, page rows, projections.

Owns: the JSON text of responses (decimals as plain JSON numbers, as BC writes ``413.28``), the
shape of one row on the wire (``@odata.etag`` first, then the selected properties, then expanded
navigation), the mapping between API rows and the ``ODataV4/`` page rows shown over them, and the
``@odata.context`` URLs of both surfaces.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from d365conn.sandbox.bc.schema import EntitySet
from d365conn.sandbox.bc.store import Row, Store
from d365conn.sandbox.response import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Exact for the values the sandbox holds (at most 2-4 decimals, far below 15 digits):
        # the shortest float repr prints the same digits.
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    merged = {
        "Content-Type": "application/json; odata.metadata=minimal; odata.streaming=true",
        "OData-Version": "4.0",
    }
    merged.update(headers or {})
    return Response(status, merged, dumps(payload))


def project(row: Row, select: list[str] | None, etag: str | None) -> dict[str, Any]:
    """One row on the wire: etag (when the entity set has them), then the selected (or all) properties."""
    out: dict[str, Any] = {"@odata.etag": etag} if etag is not None else {}
    if select is None:
        out.update(row)
    else:
        for name in select:
            out[name] = row.get(name)
    return out


def page_row(page: EntitySet, source: Row) -> Row:
    """The page's view of an API row (``Customer.No`` is ``customers.number`` ...)."""
    row: Row = {}
    for field_name, api in page.mapping:
        prop = page.prop(field_name)
        value = source.get(api) if api else False
        if prop is not None and prop.edm == "Edm.Date" and isinstance(value, str):
            value = value[:10]
        row[field_name] = value
    return row


def api_changes(page: EntitySet, changes: Row) -> Row:
    """A page body in the API's property names (read-only / computed fields dropped)."""
    mapping = dict(page.mapping)
    out: Row = {}
    for name, value in changes.items():
        if name.startswith("@"):
            continue
        api = mapping.get(name)
        if api and api != "id" and page.prop(name) and page.prop(name).edm != "Edm.Date":  # type: ignore[union-attr]
            out[api] = (
                Decimal(str(value))
                if isinstance(value, (int, float)) and not isinstance(value, bool)
                else value
            )
    return out


def company_path(company: Row, surface: str) -> str:
    if surface == "api":
        return f"companies({company['id']})"
    name = str(company["name"]).replace("'", "''")
    return f"Company('{quote(name, safe='')}')"


def context_url(
    root: str, company: Row | None, surface: str, tail: str, select: list[str] | None = None
) -> str:
    """``<root>$metadata#companies(<id>)/customers(number,displayName)`` and its page counterpart."""
    path = (company_path(company, surface) + "/" if company is not None else "") + tail
    if select:
        path += "(" + ",".join(select) + ")"
    return f"{root}$metadata#{path}"


def etag_of(store: Store, row: Row, page: EntitySet | None = None, entity_set: str = "") -> str | None:
    """The row's etag. Page rows share their API row's version (``SystemId``/``Id`` names it); API
    ``companies`` rows carry none (as in the real ``companies.json``)."""
    if entity_set == "companies":
        return None
    if page is not None:
        for field_name, api in page.mapping:
            if api == "id":
                return store.etag(str(row[field_name]))
    return store.etag(str(row["id"]))


__all__ = [
    "api_changes",
    "company_path",
    "context_url",
    "dumps",
    "etag_of",
    "json_answer",
    "page_row",
    "project",
]
