"""The `RetrieveMetadataChanges` function and the sandbox's metadata version.

Owns: the metadata version stamp (`ServerVersionStamp`), the log of simulated metadata changes
(nothing in the sandbox changes its metadata by itself; tests bump it through `/_sandbox/metadata`),
expired stamps (400 `0x80044352`), and the function's answer in the real shape:
`{"@odata.context": ...RetrieveMetadataChangesResponse, "DeletedMetadata": {...}, "EntityMetadata":
[...], "ServerVersionStamp": "..."}`. Without `ClientVersionStamp` every table is listed; with a
current stamp none is; with an older one the tables changed since. Deleted items are listed only
when `DeletedMetadataFilters` is given too (as Microsoft documents for the message).
`/_sandbox/metadata`: GET the current stamp; POST `{"table": "account", "attribute": "new_x"}`
records a changed (or with `"deleted": true`, removed) table or column; POST `{"expire": true}`
makes every stamp issued so far expired.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from d365conn.sandbox.entitydefs import entity_definition
from d365conn.sandbox.errors import ServiceError, unsupported
from d365conn.sandbox.model import Schema
from d365conn.sandbox.response import Response, json_response

EXPIRED_STAMP = "0x80044352"
CALL = re.compile(r"RetrieveMetadataChanges\((.*)\)", re.DOTALL)
EMPTY_DELETED: dict[str, Any] = {"Count": 0, "IsReadOnly": False, "Keys": [], "Values": []}


@dataclass(frozen=True)
class Change:
    version: int
    table: str
    attribute: str | None
    deleted: bool


class MetadataVersions:
    """The metadata version of one sandbox and the changes recorded against it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.version = 1
        self.expired_below = 0  # stamps of versions below this are expired
        self.changes: list[Change] = []

    def stamp(self) -> str:
        with self._lock:
            return self._stamp(self.version)

    @staticmethod
    def _stamp(version: int) -> str:
        # Shaped like the real stamps (a counter, '!', a UTC time); only the counter is read back.
        return f"{version}!01/01/2026 00:00:{version % 60:02d}"

    def record(self, table: str, attribute: str | None = None, deleted: bool = False) -> str:
        with self._lock:
            self.version += 1
            self.changes.append(Change(self.version, table, attribute, deleted))
            return self._stamp(self.version)

    def expire(self) -> str:
        with self._lock:
            self.version += 1
            self.expired_below = self.version
            return self._stamp(self.version)

    def since(self, stamp: str) -> list[Change]:
        match = re.fullmatch(r"(\d+)!.*", stamp.strip())
        with self._lock:
            version = int(match.group(1)) if match else -1
            if version < max(self.expired_below, 1) or version > self.version:
                raise ServiceError(
                    400,
                    EXPIRED_STAMP,
                    "The ClientVersionStamp is expired or not valid. Retrieve all metadata again "
                    "without a ClientVersionStamp.",
                )
            return [c for c in self.changes if c.version > version]

    def handle_admin(self, method: str, body: bytes) -> Response:
        if method == "POST":
            try:
                switches = json.loads(body or b"{}")
            except ValueError:
                return _json(400, {"error": "the body must be a JSON object"})
            if not isinstance(switches, dict):
                return _json(400, {"error": "the body must be a JSON object"})
            if switches.get("expire"):
                self.expire()
            elif isinstance(switches.get("table"), str):
                attribute = switches.get("attribute")
                self.record(
                    switches["table"],
                    attribute if isinstance(attribute, str) else None,
                    bool(switches.get("deleted")),
                )
            else:
                return _json(
                    400, {"error": "expected {'table': ..., 'attribute'?, 'deleted'?} or {'expire': true}"}
                )
        elif method != "GET":
            return _json(405, {"error": f"method {method} not allowed"})
        return _json(200, {"ServerVersionStamp": self.stamp(), "version": self.version})


def _json(status: int, payload: Any) -> Response:
    return json_response(status, payload)


def _arguments(path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    """`Query=@q,ClientVersionStamp=@s` with the aliases resolved and JSON-decoded."""
    match = CALL.fullmatch(path)
    if match is None:
        raise ServiceError(404, "0x8006088a", "Resource not found for the segment 'RetrieveMetadataChanges'.")
    aliases = {k: v for k, v in params if k.startswith("@")}
    arguments: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in match.group(1).split(","))):
        name, _, value = part.partition("=")
        value = aliases.get(value.strip(), value.strip())
        try:
            arguments[name.strip()] = (
                json.loads(value) if not value.startswith("'") else value[1:-1].replace("''", "'")
            )
        except ValueError as error:
            raise unsupported(f"The value of the parameter '{name.strip()}' is not valid JSON.") from error
    if "Query" not in arguments or not isinstance(arguments["Query"], dict):
        raise unsupported("RetrieveMetadataChanges requires the Query parameter (an EntityQueryExpression).")
    return arguments


def _project(definition: dict[str, Any], properties: Any) -> dict[str, Any]:
    """Requested properties filled, the others present and null (the real shape)."""
    if not isinstance(properties, dict) or properties.get("AllProperties", True):
        return dict(definition)
    wanted = set(properties.get("PropertyNames") or ()) | {"MetadataId"}
    return {k: (v if k in wanted else None) for k, v in definition.items()} | {"HasChanged": None}


def retrieve_metadata_changes(
    schema: Schema, versions: MetadataVersions, service_url: str, path: str, params: list[tuple[str, str]]
) -> Response:
    arguments = _arguments(path, params)
    query: dict[str, Any] = arguments["Query"]
    stamp = arguments.get("ClientVersionStamp")
    changes = versions.since(str(stamp)) if stamp else None
    current = versions.stamp()
    entities = []
    deleted_ids: list[str] = []
    for table in schema.tables.values():
        table_changes = [c for c in changes or () if c.table == table.logical]
        if changes is not None and not table_changes:
            continue
        if any(c.deleted and c.attribute is None for c in table_changes):
            deleted_ids.append(str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox/entity/{table.logical}")))
            continue
        definition = entity_definition(schema, table)
        item = _project(definition, query.get("Properties"))
        if changes is not None and "AttributeQuery" in query:
            item["Attributes"] = [
                {
                    "@odata.type": "#Microsoft.Dynamics.CRM.ComplexAttributeMetadata",
                    "LogicalName": c.attribute,
                    "MetadataId": str(
                        uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox/{table.logical}/{c.attribute}")
                    ),
                    "HasChanged": True,
                }
                for c in table_changes
                if c.attribute is not None and not c.deleted
            ]
        entities.append(item)
    deleted = dict(EMPTY_DELETED)
    if deleted_ids and "DeletedMetadataFilters" in arguments:
        deleted = {"Count": 1, "IsReadOnly": False, "Keys": ["Entity"], "Values": [deleted_ids]}
    body = {
        "@odata.context": f"{service_url}$metadata#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse",
        "DeletedMetadata": deleted,
        "EntityMetadata": entities,
        "ServerVersionStamp": current,
    }
    return json_response(200, body)
