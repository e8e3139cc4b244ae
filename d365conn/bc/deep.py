"""Deep insert on Business Central API pages: a header row and its lines in one POST.

Owns: :func:`deep_insert`. SQL has no statement for "insert this order with these lines", and
Business Central runs such a POST as one transaction (its API pages support deep insert; its
ODataV4 page web services do not), so the driver offers it as a function over a connection::

    order = deep_insert(connection, "salesOrders", {"customerId": cid},
                        {"salesOrderLines": [{"itemId": iid, "quantity": 3}]})

The answer is the created header with its lines (``$expand``), values decoded with exact decimals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from d365conn import exceptions as exc
from d365conn.values.jsonpage import loads_exact

if TYPE_CHECKING:
    from d365conn.connection import Connection


def deep_insert(
    connection: Connection,
    entity_set: str,
    row: Mapping[str, Any],
    children: Mapping[str, Sequence[Mapping[str, Any]]],
) -> dict[str, Any]:
    """Create ``row`` in ``entity_set`` of the current company together with its ``children``
    (navigation property -> rows); returns the created row with the children expanded."""
    service = connection.service
    session = service.bc
    if session is None:
        raise exc.NotSupportedError("deep_insert is for Business Central connections")
    if session.surface != "api":
        raise exc.NotSupportedError(
            "deep insert works on Business Central API pages (api/v2.0/), not on ODataV4 page web services"
        )
    if not children:
        raise exc.ProgrammingError("deep_insert needs at least one navigation property with rows")
    clash = set(row) & set(children)
    if clash:
        raise exc.ProgrammingError(f"{sorted(clash)} given both as a column and as child rows")
    body: dict[str, Any] = dict(row)
    body.update({name: [dict(child) for child in rows] for name, rows in children.items()})
    url = f"{service.config.service_root}{session.prefix()}{entity_set}?$expand={','.join(children)}"
    response = service.transport.send("POST", url, json_body=body, idempotent=False)
    document: Any = loads_exact(response.content)
    if not isinstance(document, dict):
        raise exc.InterfaceError(f"POST {entity_set}: the answer is not a JSON object")
    return document


__all__ = ["deep_insert"]
