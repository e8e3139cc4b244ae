"""The `sdkmessagefilters` entity set, read-only and limited to the bulk actions.

Owns: the rows that tell a client which tables take `CreateMultiple`, `UpdateMultiple` and
`UpsertMultiple` (Microsoft's bulk-operation docs: query `sdkmessagefilters` for the table's
`primaryobjecttypecode` joined to `sdkmessageid/name`). The sandbox implements those three actions
for `account`, `contact` and `opportunity`, so it serves one filter row per pair. Queries take
`$select`, `$top` and a `$filter` of `eq`/`ne` comparisons joined by `and`/`or` over the row's
properties and `sdkmessageid/name`; anything else is refused as unsupported by the sandbox.
"""

from __future__ import annotations

import uuid
from typing import Any

from d365conn.sandbox.errors import ServiceError, unknown_property, unsupported
from d365conn.sandbox.filterparse import Node, parse_filter
from d365conn.sandbox.response import Response, json_response

BULK_TABLES = ("account", "contact", "opportunity")
BULK_MESSAGES = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")
PROPERTIES = (
    "sdkmessagefilterid",
    "primaryobjecttypecode",
    "secondaryobjecttypecode",
    "_sdkmessageid_value",
    "isvisible",
    "iscustomprocessingstepallowed",
    "availability",
)


def _id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox/sdk/" + "/".join(parts)))


MESSAGE_IDS = {name: _id("message", name) for name in BULK_MESSAGES}
ROWS: list[dict[str, Any]] = [
    {
        "sdkmessagefilterid": _id("filter", message, table),
        "primaryobjecttypecode": table,
        "secondaryobjecttypecode": "none",
        "_sdkmessageid_value": MESSAGE_IDS[message],
        "isvisible": True,
        "iscustomprocessingstepallowed": True,
        "availability": 0,
        "sdkmessageid/name": message,  # the navigation path clients filter on; never returned
    }
    for message in BULK_MESSAGES
    for table in BULK_TABLES
]


def _value(row: dict[str, Any], node: Node) -> Any:
    if node[0] == "lit":
        return node[1]
    if node[0] == "path":
        name = "/".join(node[1])
        if name not in row:
            raise unknown_property(name, "sdkmessagefilter")
        return row[name]
    raise unsupported("The sandbox's sdkmessagefilters accept only property-to-literal comparisons.")


def _matches(row: dict[str, Any], node: Node) -> bool:
    kind = node[0]
    if kind == "and":
        return _matches(row, node[1]) and _matches(row, node[2])
    if kind == "or":
        return _matches(row, node[1]) or _matches(row, node[2])
    if kind == "cmp" and node[1] in ("eq", "ne"):
        left, right = _value(row, node[2]), _value(row, node[3])
        # GUIDs and names compare case-insensitively, as the service's SQL does.
        equal = (
            str(left).lower() == str(right).lower()
            if left is not None and right is not None
            else left is right
        )
        return equal if node[1] == "eq" else not equal
    raise unsupported("The sandbox's sdkmessagefilters accept only eq/ne comparisons joined by and/or.")


def read_filters(service_url: str, params: list[tuple[str, str]]) -> Response:
    options = dict(params)
    aliases = {k: v for k, v in params if k.startswith("@")}
    for key in options:
        if key.startswith("$") and key not in ("$select", "$filter", "$top"):
            raise unsupported(f"The query parameter {key} is not supported")
    select = [s.strip() for s in options["$select"].split(",")] if "$select" in options else list(PROPERTIES)
    for name in select:
        if name not in PROPERTIES:
            raise unknown_property(name, "sdkmessagefilter")
    if "sdkmessagefilterid" not in select:
        select.append("sdkmessagefilterid")
    node = parse_filter(options["$filter"], aliases) if "$filter" in options else None
    rows = [r for r in ROWS if node is None or _matches(r, node)]
    if "$top" in options:
        if not options["$top"].isdigit():
            raise ServiceError(400, "0x80060888", f"Invalid value '{options['$top']}' for $top query option.")
        rows = rows[: int(options["$top"])]
    context_select = f"({','.join(options['$select'].split(','))})" if "$select" in options else ""
    body = {
        "@odata.context": f"{service_url}$metadata#sdkmessagefilters{context_select}",
        "value": [
            {"@odata.etag": f'W/"{1000 + i}"', **{name: row[name] for name in select}}
            for i, row in enumerate(rows)
        ],
    }
    return json_response(200, body)
