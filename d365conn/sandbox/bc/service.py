"""The Business Central sandbox's HTTP resources: API v2.0 and ODataV4 pages, read and write.

Owns: routing a request below ``/v2.0/<tenant>/<environment>/`` to its resource and answering it:

- ``api/v2.0/$metadata`` (the real captured document), ``api/v2.0/companies[(<id>)]``,
  ``api/v2.0/companies(<id>)/<set>[(<id>)[/<navigation>]]``, ``.../<set>/$count``;
- ``ODataV4/$metadata``, ``ODataV4/Company[('<name>')]``, ``ODataV4/Company('<name>')/<Page>[('<key>')]``
  and ``ODataV4/<Page>?company=<name>``;
- a missing company: Business Central's error asking for ``company=[name]``;
- server-driven paging: at most ``max_page_size`` (20,000, Business Central online's limit) rows
  per page, or fewer when ``Prefer: odata.maxpagesize`` asks, with an absolute ``@odata.nextLink``;
- POST (with deep insert of ``salesOrderLines`` into ``salesOrders`` on the API), PATCH and DELETE
  requiring ``If-Match`` (an etag, or ``*``), 412 ``Request_EntityChanged`` on a stale etag, and the
  entity sets' insert/update/delete restrictions from ``$metadata``;
- ``$batch`` is :mod:`d365conn.sandbox.bc.batch`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote

from d365conn.sandbox.bc import errors
from d365conn.sandbox.bc.errors import BCError, bad_request, not_found, segment_not_found
from d365conn.sandbox.bc.query import Options, apply, matching, parse_options, window
from d365conn.sandbox.bc.rows import (
    company_path,
    context_url,
    etag_of,
    json_answer,
    page_row,
    project,
)
from d365conn.sandbox.bc.schema import EntitySet, Schema, api_schema, pages_schema
from d365conn.sandbox.bc.store import Row, Store, blank_row
from d365conn.sandbox.response import Response

MAX_PAGE_SIZE = 20_000
_KEYED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize=(\d+)")
NO_COMPANY = (
    "Cannot process the request because the default company cannot be found. You can specify a default "
    "company in the service configuration file, or specify one for each tenant, or you can add a query "
    'string in the form of "company=[name]".'
)


@dataclass(frozen=True)
class Call:
    """One request as the resources see it (the path is consumed while routing)."""

    surface: str  # "api" or "odatav4"
    method: str
    query: str
    headers: dict[str, str]
    body: bytes


class BCService:
    """Both surfaces of one sandbox environment, over one store."""

    def __init__(self, store: Store, origin: str, prefix: str, *, max_page_size: int = MAX_PAGE_SIZE) -> None:
        self.store = store
        self.origin = origin
        self.prefix = prefix  # "/v2.0/<tenant>/<environment>/"
        self.max_page_size = max_page_size
        self.api = api_schema()
        self.pages = pages_schema()

    def root(self, surface: str) -> str:
        return self.origin + self.prefix + ("api/v2.0/" if surface == "api" else "ODataV4/")

    # -- entry point --------------------------------------------------------------------------------

    def handle(self, method: str, rest: str, query: str, headers: dict[str, str], body: bytes) -> Response:
        """``rest`` is the path below the prefix (``api/v2.0/companies`` ...)."""
        try:
            for surface, root in (("api", "api/v2.0"), ("odatav4", "ODataV4")):
                if rest.startswith(root):
                    call = Call(surface, method, query, headers, body)
                    return self._surface(call, rest[len(root) :].strip("/"))
            raise segment_not_found(rest.split("/", maxsplit=1)[0])
        except BCError as error:
            return error.response()

    def _surface(self, call: Call, path: str) -> Response:
        from d365conn.sandbox.bc.batch import run_batch

        surface, method, query = call.surface, call.method, call.query

        schema = self.api if surface == "api" else self.pages
        if path == "$metadata":
            return Response(
                200, {"Content-Type": "application/xml", "OData-Version": "4.0"}, schema.metadata_xml
            )
        if path == "$batch":
            if method != "POST":
                raise BCError(405, errors.METHOD_NOT_ALLOWED, "The $batch resource accepts POST only.")
            return run_batch(self, surface, call.headers, call.body)
        segments = [unquote(s) for s in path.split("/") if s]
        if not segments:
            return json_answer(
                200,
                {
                    "@odata.context": self.root(surface) + "$metadata",
                    "value": [{"name": n, "kind": "EntitySet", "url": n} for n in schema.sets],
                },
            )
        company, segments = self._company(surface, segments, query)
        return self._resource(call, schema, company, segments)

    def _company(self, surface: str, segments: list[str], query: str) -> tuple[Row | None, list[str]]:
        """The company named in the path (or ``?company=``) and the segments after it."""
        first = segments[0]
        match = _KEYED.match(first)
        names = ("companies",) if surface == "api" else ("Company",)
        if match and match.group(1) in names:
            key = match.group(2)
            key = key[1:-1].replace("''", "'") if key.startswith("'") else key
            company = self.store.company(key)
            if company is None:
                raise not_found(f"The company '{key}' does not exist.")
            return company, segments[1:]
        wanted = dict(parse_qsl(query)).get("company")
        if wanted is not None:
            company = self.store.company(wanted)
            if company is None:
                raise not_found(f"The company '{wanted}' does not exist.")
            return company, segments
        return None, segments

    # -- resources ------------------------------------------------------------------------------------

    def _resource(self, call: Call, schema: Schema, company: Row | None, segments: list[str]) -> Response:
        surface, method, query = call.surface, call.method, call.query
        company_set = "companies" if surface == "api" else "Company"
        if not segments:  # companies(<id>) itself
            if company is None:
                raise segment_not_found("")
            listing = schema.sets[company_set]
            shown = company if surface == "api" else page_row(listing, company)
            return self._entity(surface, listing, None, shown, query)
        name, key = _split_key(segments[0])
        entity = schema.sets.get(name)
        if entity is None:
            raise segment_not_found(name)
        if name == company_set:
            if method != "GET":
                raise BCError(
                    405, errors.METHOD_NOT_ALLOWED, f"'{method}' requests for '{name}' are not allowed."
                )
            if key is not None:
                row = self.store.company(key)
                if row is None:
                    raise not_found(f"The company '{key}' does not exist.")
                return self._entity(
                    surface, entity, None, row if surface == "api" else page_row(entity, row), query
                )
            rows = self._rows(surface, entity, None)
            return self._collection(call, entity, None, rows, name, count_only=segments[1:] == ["$count"])
        if company is None:
            raise bad_request(NO_COMPANY)
        rest = segments[1:]
        if key is None:
            if rest == ["$count"]:
                rows = self._rows(surface, entity, company)
                return self._collection(call, entity, company, rows, name, count_only=True)
            if rest:
                raise segment_not_found(rest[0])
            if method == "GET":
                return self._collection(call, entity, company, self._rows(surface, entity, company), name)
            if method == "POST":
                from d365conn.sandbox.bc.writes import insert

                return insert(self, call, entity, company, {})
            raise BCError(
                405, errors.METHOD_NOT_ALLOWED, f"'{method}' requests for '{name}' are not allowed."
            )
        row = self._find(surface, entity, company, key)
        if rest:
            nav = entity.nav(rest[0]) if surface == "api" else None
            target = self.api.by_type(nav.target) if nav is not None else None
            if nav is None or target is None or not nav.collection:
                raise segment_not_found(rest[0])
            bound = {ref: row[prop] for prop, ref in nav.constraints}
            if method == "POST":
                from d365conn.sandbox.bc.writes import insert

                return insert(self, call, target, company, bound, tail=f"{name}({key})/{rest[0]}")
            related = [
                r
                for r in self.store.rows(company["id"], target.name)
                if all(r.get(k) == v for k, v in bound.items())
            ]
            tail = f"{name}({key})/{rest[0]}"
            return self._collection(call, target, company, related, tail)
        if method == "GET":
            return self._entity(surface, entity, company, row, query)
        from d365conn.sandbox.bc.writes import delete, update

        if method == "PATCH":
            return update(self, call, entity, company, row)
        if method == "DELETE":
            return delete(self, call, entity, company, row)
        raise BCError(405, errors.METHOD_NOT_ALLOWED, f"'{method}' requests for '{name}' are not allowed.")

    def _rows(self, surface: str, entity: EntitySet, company: Row | None) -> list[Row]:
        if surface == "api":
            return self.store.rows(company["id"] if company else "", entity.name)
        source = entity.source or ""
        return [page_row(entity, r) for r in self.store.rows(company["id"] if company else "", source)]

    def _find(self, surface: str, entity: EntitySet, company: Row, key: str) -> Row:
        if surface == "api":
            if not _GUID.match(key):
                raise bad_request(f"Invalid key '{key}': the key of '{entity.name}' is a GUID.")
            row = self.store.get(company["id"], entity.name, key)
        else:
            field_name = entity.key[0]
            wanted = key.split("=", 1)[1] if "=" in key else key
            wanted = wanted[1:-1].replace("''", "'") if wanted.startswith("'") else wanted
            row = next(
                (r for r in self._rows(surface, entity, company) if str(r[field_name]) == wanted), None
            )
        if row is None:
            title = entity.type_name[:1].upper() + entity.type_name[1:]
            raise not_found(f"The {title} does not exist. Identification fields and values: Id='{key}'")
        return row

    # -- answers ----------------------------------------------------------------------------------------

    def _entity(self, surface: str, entity: EntitySet, company: Row | None, row: Row, query: str) -> Response:
        options = parse_options(query, entity, self._navigation(surface, entity))
        page = entity if surface != "api" else None
        payload: dict[str, Any] = {
            "@odata.context": context_url(self.root(surface), company, surface, f"{entity.name}/$entity"),
            **project(row, options.select, etag_of(self.store, row, page, entity.name)),
        }
        self._expand(company, entity, [payload], [row], options)
        return json_answer(200, payload)

    def entity_payload(
        self, surface: str, entity: EntitySet, company: Row | None, row: Row, tail: str | None = None
    ) -> dict[str, Any]:
        """One row as a write answers it; ``tail`` is the path it was posted to, when not the set."""
        page = entity if surface != "api" else None
        shown = page_row(entity, row) if page is not None and entity.source else row
        where = f"{tail or entity.name}/$entity"
        return {
            "@odata.context": context_url(self.root(surface), company, surface, where),
            **project(shown, None, etag_of(self.store, shown, page, entity.name)),
        }

    def _navigation(self, surface: str, entity: EntitySet) -> dict[str, EntitySet]:
        if surface != "api":
            return {}
        found: dict[str, EntitySet] = {}
        for nav in entity.navs:
            target = self.api.by_type(nav.target)
            if target is not None:
                found[nav.name] = target
        return found

    def _collection(
        self,
        call: Call,
        entity: EntitySet,
        company: Row | None,
        rows: list[Row],
        tail: str,
        *,
        count_only: bool = False,
    ) -> Response:
        surface, query, headers = call.surface, call.query, call.headers
        options = parse_options(query, entity, self._navigation(surface, entity))
        matched = matching(rows, options, entity)
        chosen = window(matched, options)
        if count_only:
            return Response(
                200,
                {"Content-Type": "text/plain; charset=utf-8", "OData-Version": "4.0"},
                str(len(matched)).encode("ascii"),
            )
        prefer = next((v for k, v in headers.items() if k.lower() == "prefer"), "")
        wanted = _MAXPAGESIZE.search(prefer)
        size = min(int(wanted.group(1)), self.max_page_size) if wanted else self.max_page_size
        size = max(size, 1)
        start = options.skiptoken
        page = chosen[start : start + size]
        page_entity = entity if surface != "api" else None
        values = [project(r, options.select, etag_of(self.store, r, page_entity, entity.name)) for r in page]
        self._expand(company, entity, values, page, options)
        payload: dict[str, Any] = {
            "@odata.context": context_url(self.root(surface), company, surface, tail, options.select)
        }
        if options.count:
            payload["@odata.count"] = len(matched)  # $count ignores $top and $skip
        payload["value"] = values
        answer_headers: dict[str, str] = {}
        if wanted:
            answer_headers["Preference-Applied"] = f"odata.maxpagesize={size}"
        if start + size < len(chosen):
            payload["@odata.nextLink"] = self._next_link(surface, company, tail, query, start + size)
        return json_answer(200, payload, answer_headers)

    def _next_link(self, surface: str, company: Row | None, tail: str, query: str, offset: int) -> str:
        kept = [p for p in query.split("&") if p and not p.startswith("$skiptoken=")]
        kept.append(f"$skiptoken={offset}")
        path = company_path(company, surface) + "/" if company is not None and "company=" not in query else ""
        return f"{self.root(surface)}{path}{tail}?" + "&".join(kept)

    def _expand(
        self,
        company: Row | None,
        entity: EntitySet,
        values: list[dict[str, Any]],
        rows: list[Row],
        options: Options,
    ) -> None:
        if not options.expand or company is None:
            return
        for name, inner in options.expand:
            nav = entity.nav(name)
            target = self.api.by_type(nav.target) if nav is not None else None
            if nav is None or target is None:
                continue
            pool = self.store.rows(company["id"], target.name)
            for out, row in zip(values, rows, strict=True):
                bound = {ref: row.get(prop) for prop, ref in nav.constraints}
                related = [r for r in pool if all(r.get(k) == v for k, v in bound.items())]
                related = apply(related, inner, target)
                shown = [project(r, inner.select, self.store.etag(r["id"])) for r in related]
                out[name] = shown if nav.collection else (shown[0] if shown else None)


def _split_key(segment: str) -> tuple[str, str | None]:
    match = _KEYED.match(segment)
    if match is None:
        return segment, None
    key = match.group(2)
    if key.startswith("'") and key.endswith("'") and "=" not in key:
        key = key[1:-1].replace("''", "'")
    return match.group(1), key


def new_row(entity: EntitySet, values: Row) -> Row:
    row = blank_row(entity)
    row.update(values)
    given = str(values.get("id") or "")
    # Business Central takes a SystemId chosen by the client (a GUID), else makes one.
    row["id"] = given.lower() if _GUID.match(given) else str(uuid.uuid4())
    return row


def as_decimal(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


__all__ = ["MAX_PAGE_SIZE", "NO_COMPANY", "BCService", "as_decimal", "new_row"]
