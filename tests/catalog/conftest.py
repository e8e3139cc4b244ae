"""Shared pieces of the catalog tests: the real captured metadata, served over a real socket.

``FixtureService`` is a small HTTP server (127.0.0.1, a thread) that answers the catalog's metadata
requests from the real captured responses in ``tests/captured`` (a copy of the shared fixtures): the
Dataverse ``EntityDefinitions`` of account (table, relationships, and all 248 attributes with their
option sets) and opportunity, the typed attribute casts, ``RetrieveMetadataChanges`` with version
stamps the test can move forward (the sandbox does not implement that function), the
``sdkmessagefilters`` probe, and Business Central's ``$metadata``. Every request is recorded so
tests can count what the catalog fetched.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests

FIXTURES = Path(__file__).resolve().parents[1] / "captured"
DATAVERSE = FIXTURES / "dataverse"
BC_METADATA = FIXTURES / "business-central" / "metadata.xml"
BASE_KEYS = (
    "LogicalName",
    "AttributeType",
    "AttributeTypeName",
    "AttributeOf",
    "IsValidForRead",
    "IsValidForCreate",
    "IsValidForUpdate",
    "IsPrimaryId",
    "IsPrimaryName",
    "RequiredLevel",
)


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def account_definition() -> dict[str, Any]:
    """GET EntityDefinitions(LogicalName='account') (real) with the real attributes of account."""
    definition = load_json(DATAVERSE / "entitydefinition_account.json")
    attributes = load_json(DATAVERSE / "retrieve-metadata-changes" / "account.json")["EntityMetadata"][0]
    return {**definition, "Attributes": _requested_only(attributes["Attributes"]), "Keys": attributes["Keys"]}


def _requested_only(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The capture asked RetrieveMetadataChanges for a few properties only; the service filled the
    non-nullable ones it was not asked for with defaults (``IsValidODataAttribute: false`` on every
    attribute, even ``accountnumber``). Those defaults are not metadata: drop them."""
    return [{k: v for k, v in a.items() if k != "IsValidODataAttribute"} for a in attributes]


def opportunity_definition() -> dict[str, Any]:
    entity = load_json(DATAVERSE / "retrieve-metadata-changes" / "opportunity.json")["EntityMetadata"][0]
    entity["Attributes"] = _requested_only(entity["Attributes"])
    return {
        **entity,
        "PrimaryIdAttribute": "opportunityid",
        "PrimaryNameAttribute": "name",
        "EntitySetName": "opportunities",
    }


class FixtureService:
    """The state behind the fixture server: definitions, version stamps, the request log."""

    def __init__(self) -> None:
        self.definitions = {"account": account_definition(), "opportunity": opportunity_definition()}
        self.listed = [
            ("account", "accounts", "accountid", "name"),
            ("opportunity", "opportunities", "opportunityid", "name"),
            ("contact", "contacts", "contactid", "fullname"),
            ("systemuser", "systemusers", "systemuserid", "fullname"),
            ("team", "teams", "teamid", "name"),
            ("businessunit", "businessunits", "businessunitid", "name"),
            ("transactioncurrency", "transactioncurrencies", "transactioncurrencyid", "currencyname"),
        ]
        self.version = 1
        self.changed: dict[int, set[str]] = {}  # version -> tables changed to reach it
        self.oldest_valid = 0  # stamps below this are "expired"
        self.requests: list[str] = []
        self.bulk_tables = {"account"}
        self.origin = ""
        self.lock = threading.Lock()

    @property
    def service_url(self) -> str:
        return f"{self.origin}/api/data/v9.2/"

    @property
    def bc_url(self) -> str:
        return f"{self.origin}/v2.0/tenant-1/Production/api/v2.0/"

    def bump(self, *tables: str) -> None:
        """A metadata change on the service: a new version stamp, these tables changed."""
        with self.lock:
            self.version += 1
            self.changed[self.version] = set(tables)

    def count(self, needle: str) -> int:
        return sum(1 for r in self.requests if needle in r)

    # -- answers -------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        if path.endswith("/api/v2.0/$metadata"):
            return 200, "application/xml", BC_METADATA.read_bytes()
        rest = path.split("/api/data/v9.2/", 1)[1]
        if rest == "EntityDefinitions":
            value = [
                {
                    "LogicalName": n,
                    "EntitySetName": s,
                    "PrimaryIdAttribute": p,
                    "PrimaryNameAttribute": pn,
                    "IsPrivate": False,
                    "MetadataId": f"00000000-0000-0000-0000-{i:012d}",
                }
                for i, (n, s, p, pn) in enumerate(self.listed)
            ]
            value.append({"LogicalName": "privatething", "EntitySetName": "privatethings", "IsPrivate": True})
            value.append({"LogicalName": "nosetthing", "EntitySetName": None, "IsPrivate": False})
            return self.json({"value": value})
        if rest.startswith("EntityDefinitions(LogicalName='"):
            name = rest.split("'")[1]
            definition = self.definitions.get(name)
            if definition is None:
                return self.error(404, "0x80040217", f"Could not find entity with name '{name}'.")
            cast = rest.partition("/Attributes/Microsoft.Dynamics.CRM.")[2]
            if cast:
                return self.json({"value": self.cast(definition, cast)})
            body = {k: v for k, v in definition.items() if not isinstance(v, list)}
            body["Attributes"] = [
                {k: a.get(k) for k in BASE_KEYS if k in a}
                | ({"@odata.type": a["@odata.type"].replace(".Complex", ".")} if a.get("@odata.type") else {})
                for a in definition["Attributes"]
            ]
            body["Keys"] = definition.get("Keys") or []
            body["ManyToOneRelationships"] = definition.get("ManyToOneRelationships") or []
            return self.json(body)
        if rest.startswith("RetrieveMetadataChanges("):
            return self.metadata_changes(query)
        if rest.startswith("sdkmessagefilters"):
            table = query.get("$filter", "").split("'")[1]
            rows = (
                [{"sdkmessagefilterid": "11111111-1111-1111-1111-111111111111"}]
                if table in self.bulk_tables
                else []
            )
            return self.json({"value": rows})
        return self.error(404, "0x8006088a", f"Resource not found for the segment '{rest}'.")

    def cast(self, definition: dict[str, Any], cast: str) -> list[dict[str, Any]]:
        wanted = "#Microsoft.Dynamics.CRM." + cast
        out = []
        for attr in definition["Attributes"]:
            if str(attr.get("@odata.type", "")).replace(".Complex", ".") != wanted:
                continue
            row = {
                k: v for k, v in attr.items() if k not in ("@odata.type", "OptionSet") and k not in BASE_KEYS
            }
            row["LogicalName"] = attr["LogicalName"]
            if "OptionSet" in attr:
                row["OptionSet"] = attr["OptionSet"]
            out.append(row)
        return out

    def metadata_changes(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        json.loads(query["@q"])  # the query must be valid JSON
        stamp_text = query.get("@s")
        current = f"{self.version}!11/22/2026 05:00:00"
        if stamp_text is None:
            entities = [{"LogicalName": n, "HasChanged": None} for n, *_ in self.listed]
            return self.json(
                {
                    "ServerVersionStamp": current,
                    "EntityMetadata": entities,
                    "DeletedMetadata": {"Count": 0, "Keys": [], "Values": []},
                }
            )
        since = int(stamp_text.strip("'").split("!")[0])
        if since < self.oldest_valid:
            return self.error(400, "0x80044352", "The specified version stamp has expired.")
        changed = sorted({t for v, ts in self.changed.items() if v > since for t in ts})
        return self.json(
            {
                "ServerVersionStamp": current,
                "EntityMetadata": [{"LogicalName": t, "HasChanged": True} for t in changed],
                "DeletedMetadata": {"Count": 0, "Keys": [], "Values": []},
            }
        )

    @staticmethod
    def json(payload: Any) -> tuple[int, str, bytes]:
        return 200, "application/json; odata.metadata=minimal", json.dumps(payload).encode()

    @staticmethod
    def error(status: int, code: str, message: str) -> tuple[int, str, bytes]:
        return status, "application/json", json.dumps({"error": {"code": code, "message": message}}).encode()


def _handler(service: FixtureService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            with service.lock:
                service.requests.append(unquote(self.path))
            status, content_type, body = service.answer(path, query)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """A running sandbox (the fake Dataverse), shared by the catalog tests."""
    from d365conn.sandbox.launcher import Sandbox

    with Sandbox(rows=200) as sb:
        yield sb


@pytest.fixture
def fixture_service() -> Iterator[FixtureService]:
    service = FixtureService()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
    service.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


class HttpFetcher:
    """fetch_json / fetch_text over a requests session, raising d365conn errors like the transport."""

    def __init__(self, root: str, headers: dict[str, str] | None = None, verify: Any = True) -> None:
        self.root = root
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Accept": "application/json",
                "OData-Version": "4.0",
                "OData-MaxVersion": "4.0",
                **(headers or {}),
            }
        )
        self.verify = verify

    def _get(self, path: str) -> requests.Response:
        from d365conn.exceptions import NotFoundError, OperationalError, ProgrammingError

        url = path if path.startswith("http") else self.root + path
        response = self.session.get(url, verify=self.verify, timeout=30)
        if response.status_code >= 400:
            try:
                error = response.json().get("error", {})
            except ValueError:
                error = {}
            cls = (
                NotFoundError
                if response.status_code == 404
                else (ProgrammingError if response.status_code == 400 else OperationalError)
            )
            raise cls(
                error.get("message", response.reason), status=response.status_code, code=error.get("code")
            )
        return response

    def fetch_json(self, path: str) -> Any:
        return self._get(path).json()

    def fetch_text(self, path: str) -> str:
        return self._get(path).text
