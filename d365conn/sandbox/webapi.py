"""The Dataverse Web API surface under `/api/data/v9.2/`: routing requests to handlers.

Owns: URL routing (service document, `$metadata`, WhoAmI, EntityDefinitions, entity sets, rows by
key or alternate key, properties, `/$count`, bound bulk actions, `$batch`), the `Prefer` header
(`odata.maxpagesize`, `odata.include-annotations`, `return=representation`) and the response
headers that go with it. Handlers raise `ServiceError`; this module turns them into the real body.
"""

# ruff: noqa: S608 - SQL is built from the table model's quoted identifiers; values are bound

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from d365conn.sandbox import entitydefs, query, writes
from d365conn.sandbox.aggregate import run_apply
from d365conn.sandbox.csdl import render_csdl
from d365conn.sandbox.encode import Annotations, dumps
from d365conn.sandbox.errors import (
    ODATA_URI_ERROR,
    PAYLOAD,
    ServiceError,
    not_found,
    unknown_name,
    unsupported,
)
from d365conn.sandbox.metadatachanges import MetadataVersions, retrieve_metadata_changes
from d365conn.sandbox.model import Schema, Table
from d365conn.sandbox.options import parse_options
from d365conn.sandbox.response import Response
from d365conn.sandbox.sdkmessages import read_filters
from d365conn.sandbox.store import Store

API_PREFIX = "/api/data/v9.2/"
JSON_TYPE = "application/json; odata.metadata=minimal"
ROW = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)(?:/(.+))?$", re.DOTALL)
ACTIONS = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")


@dataclass
class Identity:
    user_id: str
    business_unit_id: str
    organization_id: str


@dataclass
class Prefer:
    max_page_size: int | None = None
    annotations: str | None = None
    return_representation: bool = False
    continue_on_error: bool = False

    @classmethod
    def parse(cls, header: str | None) -> Prefer:
        prefer = cls()
        for part in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", header or ""):
            name, _, value = part.strip().partition("=")
            name = name.strip().lower()
            value = value.strip().strip('"')
            if name == "odata.maxpagesize" and value.isdigit():
                prefer.max_page_size = int(value)
            elif name == "odata.include-annotations":
                prefer.annotations = value
            elif name == "return" and value == "representation":
                prefer.return_representation = True
            elif name == "odata.continue-on-error":
                prefer.continue_on_error = True
        return prefer


def json_body(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    merged = {"Content-Type": JSON_TYPE, "OData-Version": "4.0"}
    if headers:
        merged.update(headers)
    return Response(status, merged, dumps(payload))


class WebApi:
    """Answers one Web API request at a time (thread-safe: state lives in the store)."""

    def __init__(self, schema: Schema, store: Store, identity: Identity, base_url: str) -> None:
        self.schema = schema
        self.store = store
        self.identity = identity
        self.base_url = base_url.rstrip("/")
        self.metadata = MetadataVersions()  # RetrieveMetadataChanges' version; bumped by tests

    @property
    def service_url(self) -> str:
        return self.base_url + API_PREFIX

    def handle(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
        self,
        method: str,
        path: str,
        query_string: str,
        headers: dict[str, str],
        body: bytes,
        content_ids: dict[str, str] | None = None,
    ) -> Response:
        """`path` is relative to the service root (no leading `/api/data/v9.2/`)."""
        with self.store.bound():
            try:
                return self._route(method, unquote(path), query_string, headers, body, content_ids or {})
            except ServiceError as error:
                return error.response()

    # -- routing -------------------------------------------------------------------------------
    def _route(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
        self,
        method: str,
        path: str,
        query_string: str,
        headers: dict[str, str],
        body: bytes,
        content_ids: dict[str, str],
    ) -> Response:
        params = parse_qsl(query_string, keep_blank_values=True)
        prefer = Prefer.parse(_header(headers, "Prefer"))
        path = path.strip("/")
        if path == "":
            return self._only(method, "GET") or self._service_document()
        if path == "$metadata":
            return self._only(method, "GET") or Response(
                200, {"Content-Type": "application/xml", "OData-Version": "4.0"}, render_csdl(self.schema)
            )
        if path in ("WhoAmI", "WhoAmI()"):
            return self._only(method, "GET") or json_body(
                200,
                {
                    "@odata.context": f"{self.service_url}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                    "BusinessUnitId": self.identity.business_unit_id,
                    "UserId": self.identity.user_id,
                    "OrganizationId": self.identity.organization_id,
                },
            )
        if path == "$batch":
            from d365conn.sandbox.batch import handle_batch

            return self._only(method, "POST") or handle_batch(self, headers, body)
        if path.startswith("EntityDefinitions"):
            return self._only(method, "GET") or self._entity_definitions(path, params)
        if path == "sdkmessagefilters":
            return self._only(method, "GET") or read_filters(self.service_url, params)
        if path.startswith("RetrieveMetadataChanges("):
            return self._only(method, "GET") or retrieve_metadata_changes(
                self.schema, self.metadata, self.service_url, path, params
            )
        segments = path.split("/", 1)
        table = self.schema.by_set.get(segments[0])
        if table is not None:
            if len(segments) == 1:
                return self._collection(method, table, params, prefer, headers, body, content_ids)
            rest = segments[1]
            if rest == "$count":
                return self._only(method, "GET") or self._count(table, params)
            if rest.startswith("Microsoft.Dynamics.CRM.") and rest.split(".")[-1] in ACTIONS:
                return self._only(method, "POST") or self._bulk(table, rest.split(".")[-1], body)
            raise ServiceError(404, "0x8006088a", f"Resource not found for the segment '{rest}'.")
        match = ROW.match(path)
        if match is not None and match.group(1) in self.schema.by_set:
            return self._row(
                method,
                self.schema.by_set[match.group(1)],
                match.group(2),
                match.group(3),
                params,
                prefer,
                headers,
                body,
                content_ids,
            )
        raise ServiceError(404, "0x8006088a", f"Resource not found for the segment '{path.split('(')[0]}'.")

    @staticmethod
    def _only(method: str, allowed: str) -> Response | None:
        if method == allowed:
            return None
        return ServiceError(
            405, "0x80060888", f"The requested resource does not support http method '{method}'."
        ).response()

    def _service_document(self) -> Response:
        value = [
            {"name": t.set_name, "kind": "EntitySet", "url": t.set_name} for t in self.schema.tables.values()
        ]
        return json_body(200, {"@odata.context": f"{self.service_url}$metadata", "value": value})

    def _read_context(self, prefer: Prefer) -> query.ReadContext:
        return query.ReadContext(
            self.schema,
            self.store.connect(),
            self.service_url,
            self.identity.user_id,
            self.identity.business_unit_id,
            Annotations(prefer.annotations),
        )

    def _write_context(self, content_ids: dict[str, str]) -> writes.WriteContext:
        return writes.WriteContext(
            self.schema, self.store, self.identity.user_id, self.identity.business_unit_id, content_ids
        )

    def _applied(self, prefer: Prefer, paging: bool = True) -> dict[str, str]:
        applied = []
        if paging and prefer.max_page_size is not None:
            applied.append(f"odata.maxpagesize={min(prefer.max_page_size, query.MAX_PAGE)}")
        if prefer.annotations is not None:
            applied.append(f'odata.include-annotations="{prefer.annotations}"')
        return {"Preference-Applied": ",".join(applied)} if applied else {}

    # -- entity sets ---------------------------------------------------------------------------
    def _collection(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
        self,
        method: str,
        table: Table,
        params: list[tuple[str, str]],
        prefer: Prefer,
        headers: dict[str, str],
        body: bytes,
        content_ids: dict[str, str],
    ) -> Response:
        if method == "POST":
            return self._create(table, params, prefer, body, content_ids)
        if method != "GET":
            return self._only(method, "GET") or Response(500)
        if any(k == "fetchXml" for k, _ in params):
            raise unsupported("The sandbox does not support fetchXml queries.")
        options = parse_options(params, table, self.schema.tables)
        ctx = self._read_context(prefer)
        if options.apply is not None:
            payload = run_apply(
                ctx, table, options.apply, options.filter, options.orderby, options.top, options.aliases
            )
            return json_body(200, payload, self._applied(prefer, paging=False))
        connection = ctx.connection
        own_transaction = not connection.in_transaction
        if own_transaction:  # one snapshot for the filled-columns record and the rows it describes
            connection.execute("BEGIN")
        try:
            ctx.filled = self.store.filled_columns(connection)
            payload = query.read_collection(ctx, table, options, prefer.max_page_size, table.set_name, params)
        finally:
            if own_transaction:
                connection.execute("COMMIT")
        return json_body(200, payload, self._applied(prefer))

    def _count(self, table: Table, params: list[tuple[str, str]]) -> Response:
        options = parse_options(params, table, self.schema.tables)
        count = query.count_only(self._read_context(Prefer()), table, options)
        return Response(200, {"Content-Type": "text/plain", "OData-Version": "4.0"}, str(count).encode())

    def _create(
        self,
        table: Table,
        params: list[tuple[str, str]],
        prefer: Prefer,
        body: bytes,
        content_ids: dict[str, str],
    ) -> Response:
        key = writes.create(self._write_context(content_ids), table, _json(body, table))
        return self._written(table, key, params, prefer, 201)

    def _written(
        self, table: Table, key: str, params: list[tuple[str, str]], prefer: Prefer, status: int
    ) -> Response:
        entity_id = f"{self.service_url}{table.set_name}({key})"
        if not prefer.return_representation:
            return Response(204, {"OData-Version": "4.0", "OData-EntityId": entity_id})
        options = parse_options(
            [p for p in params if p[0] in ("$select", "$expand")], table, self.schema.tables
        )
        payload = query.read_one(self._read_context(prefer), table, key, options)
        headers = {"Preference-Applied": "return=representation", "OData-EntityId": entity_id}
        return json_body(status, payload, headers)

    def _bulk(self, table: Table, action: str, body: bytes) -> Response:
        ctx = self._write_context({})
        payload = _json(body, table)
        if action == "CreateMultiple":
            ids = writes.create_multiple(ctx, table, payload)
            return json_body(
                200,
                {
                    "@odata.context": f"{self.service_url}$metadata#Microsoft.Dynamics.CRM."
                    "CreateMultipleResponse",
                    "Ids": ids,
                },
            )
        if action == "UpdateMultiple":
            writes.update_multiple(ctx, table, payload)
            return Response(204, {"OData-Version": "4.0"})
        results = writes.upsert_multiple(ctx, table, payload)
        return json_body(
            200,
            {
                "@odata.context": f"{self.service_url}$metadata#"
                "Microsoft.Dynamics.CRM.UpsertMultipleResponse",
                "Results": [{"RecordCreated": created, "Id": key} for key, created in results],
            },
        )

    # -- single rows ---------------------------------------------------------------------------
    def _row(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
        self,
        method: str,
        table: Table,
        key: str,
        rest: str | None,
        params: list[tuple[str, str]],
        prefer: Prefer,
        headers: dict[str, str],
        body: bytes,
        content_ids: dict[str, str],
    ) -> Response:
        if rest:
            return self._row_part(method, table, key, rest, params, prefer)
        if method == "GET":
            options = parse_options(params, table, self.schema.tables)
            if options.filter is not None or options.orderby or options.top is not None:
                raise unsupported(
                    "Query options $filter, $orderby and $top are not allowed on a single entity."
                )
            payload = query.read_one(self._read_context(prefer), table, key, options)
            return json_body(200, payload, self._applied(prefer, paging=False))
        ctx = self._write_context(content_ids)
        if method == "PATCH":
            found_key, created = writes.upsert(
                ctx,
                table,
                key,
                _json(body, table),
                _header(headers, "If-Match"),
                _header(headers, "If-None-Match"),
            )
            return self._written(table, found_key, params, prefer, 201 if created else 200)
        if method == "DELETE":
            writes.delete(ctx, table, key, _header(headers, "If-Match"))
            return Response(204, {"OData-Version": "4.0"})
        return self._only(method, "GET") or Response(500)

    def _row_part(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
        self, method: str, table: Table, key: str, rest: str, params: list[tuple[str, str]], prefer: Prefer
    ) -> Response:
        if method != "GET":
            return self._only(method, "GET") or Response(500)
        ctx = self._read_context(prefer)
        name, _, suffix = rest.partition("/")
        nav = table.navs.get(name)
        if nav is not None and nav.collection:
            return self._navigation_collection(ctx, table, key, name, params, prefer)
        value, column = query.read_property(ctx, table, key, name)
        if suffix == "$value":
            if value is None:
                return Response(204, {"OData-Version": "4.0"})
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            return Response(200, {"Content-Type": "text/plain", "OData-Version": "4.0"}, text.encode())
        if suffix:
            raise ServiceError(404, "0x8006088a", f"Resource not found for the segment '{suffix}'.")
        context = f"{self.service_url}$metadata#{table.set_name}({key})/{column.prop}"
        return json_body(200, {"@odata.context": context, "value": value})

    def _navigation_collection(  # noqa: PLR0917 - internal helper; every call site names its arguments in this order
        self,
        ctx: query.ReadContext,
        table: Table,
        key: str,
        nav_name: str,
        params: list[tuple[str, str]],
        prefer: Prefer,
    ) -> Response:
        condition, key_params = query.key_condition(table, key)
        row = ctx.connection.execute(
            f'SELECT t0."{table.columns[table.pk].prop}" FROM "{table.logical}" t0 WHERE {condition}',
            key_params,
        ).fetchone()
        if row is None:
            raise not_found(table.logical, key)
        nav = table.navs[nav_name]
        target = self.schema.tables[nav.target]
        lookup = target.columns[nav.column]
        extra = f"{lookup.prop} eq {row[0]}"
        merged = [(k, v) for k, v in params if k != "$filter"]
        existing = dict(params).get("$filter")
        merged.append(("$filter", f"({existing}) and {extra}" if existing else extra))
        options = parse_options(merged, target, self.schema.tables)
        path = f"{table.set_name}({key})/{nav_name}"
        payload = query.read_collection(ctx, target, options, prefer.max_page_size, path, params)
        return json_body(200, payload, self._applied(prefer))

    # -- metadata ------------------------------------------------------------------------------
    def _entity_definitions(self, path: str, params: list[tuple[str, str]]) -> Response:
        select, filter_node, expand = entitydefs.parse_metadata_options(params)
        base = f"{self.service_url}$metadata#EntityDefinitions"
        if path == "EntityDefinitions":
            items = [entitydefs.entity_definition(self.schema, t) for t in self.schema.tables.values()]
            value = [entitydefs.project(i, select) for i in items if entitydefs.matches(filter_node, i)]
            suffix = f"({','.join(select)})" if select else ""
            return json_body(200, {"@odata.context": base + suffix, "value": value})
        match = re.fullmatch(r"EntityDefinitions\((?:LogicalName=)?'?([^')]*)'?\)(?:/(.*))?", path)
        if match is None:
            raise ServiceError(404, "0x8006088a", "Resource not found for the segment 'EntityDefinitions'.")
        table = self._table_by_metadata_key(match.group(1))
        rest = match.group(2)
        if not rest:
            entity = entitydefs.project(entitydefs.entity_definition(self.schema, table), select)
            entitydefs.expand_entity(self.schema, table, entity, expand)
            context = f"{base}({','.join(select)})/$entity" if select else f"{base}/$entity"
            return json_body(200, {"@odata.context": context, **entity})
        return self._attributes(table, rest, select, filter_node, expand)

    def _table_by_metadata_key(self, key: str) -> Table:
        table = self.schema.tables.get(key)
        if table is None:
            for candidate in self.schema.tables.values():
                if entitydefs.entity_definition(self.schema, candidate)["MetadataId"] == key:
                    return candidate
            raise ServiceError(404, "0x80040217", f"Could not find entity with name '{key}'.")
        return table

    def _attributes(
        self, table: Table, rest: str, select: list[str] | None, filter_node: Any, expand: str | None
    ) -> Response:
        match = re.fullmatch(
            r"Attributes(?:\((?:LogicalName=)?'?([^')]*)'?\))?(?:/Microsoft\.Dynamics\.CRM\."
            r"([A-Za-z]+AttributeMetadata))?",
            rest,
        )
        if match is None:
            raise ServiceError(404, "0x8006088a", f"Resource not found for the segment '{rest}'.")
        name, cast = match.group(1), match.group(2)
        expand_option_set = bool(expand and re.search(r"\b(Global)?OptionSet\b", expand))
        items = entitydefs.attributes(self.schema, table)
        if cast:
            wanted = f"#Microsoft.Dynamics.CRM.{cast}"
            items = [i for i in items if i.get("@odata.type") == wanted]
            if cast not in (
                "PicklistAttributeMetadata",
                "StateAttributeMetadata",
                "StatusAttributeMetadata",
                "BooleanAttributeMetadata",
                "MultiSelectPicklistAttributeMetadata",
            ):
                expand_option_set = False
            elif expand and not expand_option_set:
                raise unknown_name(expand, f"Microsoft.Dynamics.CRM.{cast}")
        elif expand:
            raise ServiceError(
                400,
                ODATA_URI_ERROR,
                f"Could not find a property named '{expand}' on type "
                "'Microsoft.Dynamics.CRM.AttributeMetadata'; cast to the attribute "
                "type to expand its OptionSet.",
            )
        base = (
            f"{self.service_url}$metadata#EntityDefinitions('{table.logical}')/Attributes"
            f"{'/Microsoft.Dynamics.CRM.' + cast if cast else ''}"
        )
        extra = tuple(["OptionSet"] if expand_option_set else [])
        rows = []
        for original in items:
            item = entitydefs.strip_option_sets(original, expand_option_set)
            if cast:
                item = {k: v for k, v in item.items() if k != "@odata.type"}
            if name is not None and item["LogicalName"] != name:
                continue
            if not entitydefs.matches(filter_node, item):
                continue
            rows.append(entitydefs.project(item, select, ("MetadataId", *extra)))
        fields = (select or []) + list(extra)
        suffix = f"({','.join(fields)})" if select else ""
        if name is not None:
            if not rows:
                raise ServiceError(404, "0x80040217", f"Could not find attribute with name '{name}'.")
            return json_body(200, {"@odata.context": f"{base}{suffix}/$entity", **rows[0]})
        return json_body(200, {"@odata.context": base + suffix, "value": rows})


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _json(body: bytes, table: Table) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError as error:
        raise ServiceError(
            400,
            PAYLOAD,
            f"Error identified in Payload provided by the user for Entity :"
            f"'{table.logical}': the request body is not valid JSON.",
        ) from error
