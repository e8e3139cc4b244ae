"""RetrieveMetadataChanges and sdkmessagefilters over real sockets, and the driver's catalog on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from d365conn.auth import token_source_for
from d365conn.catalog import open_catalog
from d365conn.config import build_config
from d365conn.sandbox.launcher import Sandbox
from d365conn.transport import Transport

NAMES = {"Properties": {"AllProperties": False, "PropertyNames": ["LogicalName"]}}
WITH_ATTRIBUTES = {**NAMES, "AttributeQuery": NAMES}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    # Its own sandbox: these tests change the metadata version.
    with Sandbox(rows=200, seed=4) as sb:
        yield sb


class Client:
    def __init__(self, sandbox: Sandbox) -> None:
        self.url = sandbox.service_url
        self.admin = sandbox.service_url.split("/api/")[0] + "/_sandbox/metadata"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sandbox.access_token()}"

    def changes(
        self, query: dict[str, Any], stamp: str | None = None, deleted: bool = False
    ) -> requests.Response:
        args = (
            "Query=@q"
            + (",ClientVersionStamp=@s" if stamp else "")
            + (",DeletedMetadataFilters=@d" if deleted else "")
        )
        url = f"{self.url}RetrieveMetadataChanges({args})?@q={quote(json.dumps(query))}"
        if stamp:
            url += "&@s=" + quote("'" + stamp + "'")
        if deleted:
            url += "&@d=" + quote("'Entity'")
        return self.session.get(url)

    def bump(self, **switches: Any) -> str:
        response = requests.post(self.admin, json=switches, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["ServerVersionStamp"])


def test_without_a_stamp_every_table_comes_back_in_the_real_shape(sandbox: Sandbox) -> None:
    response = Client(sandbox).changes(NAMES)
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.RetrieveMetadataChangesResponse")
    assert body["DeletedMetadata"] == {"Count": 0, "IsReadOnly": False, "Keys": [], "Values": []}
    names = sorted(e["LogicalName"] for e in body["EntityMetadata"])
    assert names == [
        "account",
        "businessunit",
        "contact",
        "opportunity",
        "systemuser",
        "team",
        "transactioncurrency",
    ]
    account = next(e for e in body["EntityMetadata"] if e["LogicalName"] == "account")
    assert account["MetadataId"] and account["EntitySetName"] is None  # not asked for: present, null
    assert isinstance(body["ServerVersionStamp"], str) and "!" in body["ServerVersionStamp"]


def test_a_current_stamp_lists_nothing_and_a_bump_lists_the_changed_table(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    stamp = client.changes(NAMES).json()["ServerVersionStamp"]
    same = client.changes(WITH_ATTRIBUTES, stamp).json()
    assert same["EntityMetadata"] == [] and same["ServerVersionStamp"] == stamp
    newer = client.bump(table="account", attribute="new_loyaltytier")
    changed = client.changes(WITH_ATTRIBUTES, stamp).json()
    assert changed["ServerVersionStamp"] == newer != stamp
    assert [e["LogicalName"] for e in changed["EntityMetadata"]] == ["account"]
    assert [a["LogicalName"] for a in changed["EntityMetadata"][0]["Attributes"]] == ["new_loyaltytier"]
    assert client.changes(WITH_ATTRIBUTES, newer).json()["EntityMetadata"] == []


def test_deleted_tables_need_the_deleted_metadata_filter(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    stamp = client.changes(NAMES).json()["ServerVersionStamp"]
    client.bump(table="team", deleted=True)
    plain = client.changes(NAMES, stamp).json()
    assert plain["EntityMetadata"] == [] and plain["DeletedMetadata"]["Count"] == 0
    filtered = client.changes(NAMES, stamp, deleted=True).json()
    assert filtered["DeletedMetadata"]["Count"] == 1 and filtered["DeletedMetadata"]["Keys"] == ["Entity"]
    assert len(filtered["DeletedMetadata"]["Values"][0]) == 1


def test_an_expired_or_foreign_stamp_is_refused_with_the_real_code(sandbox: Sandbox) -> None:
    client = Client(sandbox)
    stamp = client.changes(NAMES).json()["ServerVersionStamp"]
    client.bump(expire=True)
    for bad in (stamp, "not-a-stamp", "999!01/01/2026 00:00:00"):
        response = client.changes(NAMES, bad)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "0x80044352"
    assert client.changes(NAMES).status_code == 200  # starting over works


def test_sdkmessagefilters_answer_the_bulk_action_probe(sandbox: Sandbox) -> None:
    client = Client(sandbox)

    def probe(table: str, message: str) -> list[dict[str, Any]]:
        flt = f"primaryobjecttypecode eq '{table}' and sdkmessageid/name eq '{message}'"
        response = client.session.get(
            f"{client.url}sdkmessagefilters?$select=sdkmessagefilterid&$filter={quote(flt)}&$top=1"
        )
        assert response.status_code == 200, response.text
        return list(response.json()["value"])

    for table in ("account", "contact", "opportunity"):
        for message in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"):
            rows = probe(table, message)
            assert len(rows) == 1 and set(rows[0]) == {"@odata.etag", "sdkmessagefilterid"}
    assert probe("team", "CreateMultiple") == [] and probe("account", "DeleteMultiple") == []
    everything = client.session.get(f"{client.url}sdkmessagefilters").json()["value"]
    assert len(everything) == 9 and all(r["primaryobjecttypecode"] for r in everything)
    refused = client.session.get(f"{client.url}sdkmessagefilters?$select=nosuchcolumn")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "0x0"  # the OData parser's


def test_the_driver_catalog_refreshes_by_version_and_probes_bulk_actions(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = build_config(sandbox.connection_string + f"SchemaMap={tmp_path};SchemaRefresh=version;")
    transport = Transport(config, token_source_for(config))
    try:
        first = open_catalog(config, "dataverse", transport)
        account, team = first.find_table("account"), first.find_table("team")
        assert account is not None and team is not None
        assert account.version is not None and account.version == team.version
        assert first.supports_bulk_actions("account") and not first.supports_bulk_actions("team")

        again = open_catalog(config, "dataverse", transport).find_table("account")
        assert again is not None and again.version == account.version  # nothing changed: the cached copy

        newer = Client(sandbox).bump(table="account", attribute="new_loyaltytier")
        third = open_catalog(config, "dataverse", transport)
        reloaded, cached_team = third.find_table("account"), third.find_table("team")
        assert reloaded is not None and reloaded.version == newer  # reloaded from the service
        assert cached_team is not None and cached_team.version == team.version  # still the cached copy
    finally:
        transport.close()
