"""The Catalog: name resolution, laziness, thread safety, refresh policies, hints, INFORMATION_SCHEMA."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from d365conn.catalog import Catalog, open_catalog
from d365conn.catalog.cache import SchemaCache
from d365conn.catalog.dataverse import DataverseLoader
from d365conn.catalog.odata import ODataLoader
from d365conn.config import build_config
from d365conn.exceptions import ConfigurationError
from d365conn.sandbox.launcher import Sandbox
from tests.catalog.conftest import FixtureService, HttpFetcher, account_definition

DEFINITION = "EntityDefinitions(LogicalName='account')?"


def dataverse_catalog(service: FixtureService, cache_dir: Path | None, refresh: str = "version") -> Catalog:
    loader = DataverseLoader(HttpFetcher(service.service_url).fetch_json)
    return Catalog(loader, cache=SchemaCache(cache_dir) if cache_dir else None, refresh=refresh)


def test_names_resolve_by_logical_and_entity_set_name(fixture_service: FixtureService) -> None:
    catalog = dataverse_catalog(fixture_service, None)
    assert catalog.table_names() == [
        "account",
        "businessunit",
        "contact",
        "opportunity",
        "systemuser",
        "team",
        "transactioncurrency",
    ]
    account = catalog.find_table("account")
    assert account is not None and account.name == "account"
    assert catalog.find_table("ACCOUNTS") is account and catalog.find_table("Account") is account
    opportunity = catalog.find_table("opportunities")
    assert opportunity is not None and opportunity.name == "opportunity"
    before = len(fixture_service.requests)
    assert catalog.find_table("acount") is None and catalog.find_table("privatething") is None
    assert len(fixture_service.requests) == before  # an unknown name costs no request


def test_tables_load_lazily_and_once_across_threads(fixture_service: FixtureService) -> None:
    catalog = dataverse_catalog(fixture_service, None)
    catalog.table_names()
    assert fixture_service.count("EntityDefinitions(") == 0  # the list is cheap: no definitions yet
    results: list[Any] = []
    barrier = threading.Barrier(12)

    def worker() -> None:
        barrier.wait()
        results.append(catalog.find_table("account"))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12 and all(r is results[0] for r in results)
    assert fixture_service.count(DEFINITION) == 1


def test_suggestions(fixture_service: FixtureService) -> None:
    catalog = dataverse_catalog(fixture_service, None)
    assert catalog.suggest_table("acount") == "account"
    assert catalog.suggest_table("opportunitys") in ("opportunity", "opportunities")
    assert catalog.suggest_table("busines_unit") == "businessunit"
    assert catalog.suggest_table("zzzz") is None
    assert catalog.suggest_column("account", "primarycontact") == "primarycontactid"
    assert catalog.suggest_column("accounts", "_primarycontactid_value") == "primarycontactid"
    assert catalog.suggest_column("account", "industrycodenam") == "industrycodename"
    assert catalog.suggest_column("account", "qqqqqqq") is None
    assert catalog.suggest_column("nosuchtable", "name") is None


def test_version_policy_reloads_only_what_changed(fixture_service: FixtureService, tmp_path: Path) -> None:
    first = dataverse_catalog(fixture_service, tmp_path)
    account = first.find_table("account")
    assert account is not None and account.version == "1!11/22/2026 05:00:00"
    assert first.find_table("opportunity") is not None
    assert fixture_service.count(DEFINITION) == 1

    second = dataverse_catalog(fixture_service, tmp_path)  # a new connection, same cache
    assert second.find_table("account") == account
    assert fixture_service.count(DEFINITION) == 1  # nothing changed: served from the cache
    assert fixture_service.count("EntityDefinitions?$select") == 1  # nor the table list

    fixture_service.bump("account")  # someone adds a column to account
    third = dataverse_catalog(fixture_service, tmp_path)
    reloaded = third.find_table("account")
    assert reloaded is not None and reloaded.version == "2!11/22/2026 05:00:00"
    assert fixture_service.count(DEFINITION) == 2
    assert third.find_table("opportunity") is not None
    assert fixture_service.count("EntityDefinitions(LogicalName='opportunity')?") == 1  # still cached

    fixture_service.bump("opportunity")
    fixture_service.oldest_valid = 3  # and our stamp (2) has expired: everything is stale
    fourth = dataverse_catalog(fixture_service, tmp_path)
    assert fourth.find_table("account") is not None
    assert fixture_service.count(DEFINITION) == 3


def test_reuse_policy_never_asks_the_service(fixture_service: FixtureService, tmp_path: Path) -> None:
    dataverse_catalog(fixture_service, tmp_path).find_table("account")
    fixture_service.bump("account")
    before = len(fixture_service.requests)
    reuse = dataverse_catalog(fixture_service, tmp_path, refresh="reuse")
    started = time.perf_counter()
    account = reuse.find_table("account")
    elapsed = time.perf_counter() - started
    assert account is not None and account.version == "1!11/22/2026 05:00:00"  # the old copy, knowingly
    assert len(fixture_service.requests) == before
    print(f"\naccount from the schema map (reuse): {elapsed * 1000:.2f} ms")
    assert elapsed < 0.1
    # A table never loaded before is still loaded (and cached) under reuse.
    assert reuse.find_table("opportunity") is not None and len(fixture_service.requests) > before
    # A table created on the service after the list was cached: the list is read again, once.
    fixture_service.listed.append(("new_thing", "new_things", "new_thingid", "new_name"))
    lists = fixture_service.count("EntityDefinitions?$select")
    assert reuse.entry("new_things") is not None
    assert reuse.entry("still_unknown") is None and reuse.entry("still_unknown2") is None
    assert fixture_service.count("EntityDefinitions?$select") == lists + 1


def test_always_policy_reloads_every_time(fixture_service: FixtureService, tmp_path: Path) -> None:
    for expected in (1, 2):
        catalog = dataverse_catalog(fixture_service, tmp_path, refresh="always")
        assert catalog.find_table("account") is not None
        assert catalog.find_table("account") is not None  # memoised within the connection
        assert fixture_service.count(DEFINITION) == expected
    assert fixture_service.count("RetrieveMetadataChanges") == 0
    with pytest.raises(ConfigurationError, match="SchemaRefresh"):
        Catalog(DataverseLoader(lambda _p: None), refresh="sometimes")


def test_bulk_action_probe_is_cached(fixture_service: FixtureService, tmp_path: Path) -> None:
    catalog = dataverse_catalog(fixture_service, tmp_path)
    assert catalog.supports_bulk_actions("accounts") and catalog.supports_bulk_actions("account")
    assert not catalog.supports_bulk_actions("opportunity")
    assert not catalog.supports_bulk_actions("nosuchtable")
    assert fixture_service.count("sdkmessagefilters") == 2
    again = dataverse_catalog(fixture_service, tmp_path)
    assert again.supports_bulk_actions("account")
    assert fixture_service.count("sdkmessagefilters") == 2


def test_information_schema_for_account(fixture_service: FixtureService) -> None:
    catalog = dataverse_catalog(fixture_service, None)
    views = catalog.information_schema_rows(["account"], catalog_name="contoso")
    names, tables = views["TABLES"]
    assert names[:4] == ["TABLE_CATALOG", "TABLE_SCHEMA", "TABLE_NAME", "TABLE_TYPE"]
    assert [r[2] for r in tables] == catalog.table_names()
    assert ("contoso", "dbo", "account", "BASE TABLE", "accounts") in tables
    cols, rows = views["COLUMNS"]
    by_name = {r[cols.index("COLUMN_NAME")]: dict(zip(cols, r, strict=True)) for r in rows}
    account = catalog.find_table("account")
    assert account is not None and len(rows) == len(account.columns) == 236
    assert [r[cols.index("ORDINAL_POSITION")] for r in rows] == list(range(1, 237))
    attributes = {a["LogicalName"] for a in account_definition()["Attributes"]}
    yomi = {a for a in attributes if a.endswith("yominame")}
    assert attributes - yomi <= set(by_name)  # all 248 attributes' worth: 234 columns + 14 yomi names
    assert (
        by_name["accountid"]["DATA_TYPE"] == "uniqueidentifier"
        and by_name["accountid"]["IS_NULLABLE"] == "NO"
    )
    assert by_name["revenue"]["DATA_TYPE"] == "money"
    assert (by_name["revenue"]["NUMERIC_PRECISION"], by_name["revenue"]["NUMERIC_SCALE"]) == (19, 4)
    assert (by_name["industrycode"]["DATA_TYPE"], by_name["industrycode"]["NUMERIC_PRECISION"]) == ("int", 10)
    assert by_name["industrycodename"]["COLUMN_ROLE"] == "choice_name"
    assert by_name["primarycontactid"]["ODATA_PROPERTY"] == "_primarycontactid_value"
    assert by_name["createdon"]["DATA_TYPE"] == "datetimeoffset"
    assert by_name["creditonhold"]["DATA_TYPE"] == "bit"
    _cons_cols, constraints = views["TABLE_CONSTRAINTS"]
    kinds = {(r[2], r[6]) for r in constraints}
    assert ("PK_account", "PRIMARY KEY") in kinds
    assert ("FK_account_primarycontactid_contact", "FOREIGN KEY") in kinds
    assert ("FK_account_ownerid_systemuser", "FOREIGN KEY") in kinds and (
        "FK_account_ownerid_team",
        "FOREIGN KEY",
    ) in kinds
    ref_cols, refs = views["REFERENTIAL_CONSTRAINTS"]
    ref = {r[2]: dict(zip(ref_cols, r, strict=True)) for r in refs}["FK_account_primarycontactid_contact"]
    assert ref["UNIQUE_CONSTRAINT_NAME"] == "PK_contact" and ref["REFERENCED_TABLE_NAME"] == "contact"

    # The rows load into an SQL engine as they are, and answer the questions BI tools ask.
    db = duckdb.connect()
    for view, (columns, data) in views.items():
        db.execute(f"CREATE TABLE {view} ({', '.join(f'{c} VARCHAR' for c in columns)})")
        if data:
            db.executemany(
                f"INSERT INTO {view} VALUES ({', '.join('?' for _ in columns)})",
                [[None if v is None else str(v) for v in row] for row in data],
            )
    pk = db.execute("""SELECT k.COLUMN_NAME FROM TABLE_CONSTRAINTS t JOIN KEY_COLUMN_USAGE k
                       ON k.CONSTRAINT_NAME = t.CONSTRAINT_NAME
                       WHERE t.TABLE_NAME = 'account' AND t.CONSTRAINT_TYPE = 'PRIMARY KEY'""").fetchall()
    assert pk == [("accountid",)]
    assert db.execute("SELECT COUNT(*) FROM REFERENTIAL_CONSTRAINTS").fetchone() == (
        len(account.foreign_keys),
    )


def test_information_schema_for_every_bc_table() -> None:
    from tests.catalog.conftest import BC_METADATA

    document = BC_METADATA.read_text(encoding="utf-8")
    catalog = Catalog(ODataLoader(lambda _p: document), refresh="always")
    views = catalog.information_schema_rows()
    assert len(views["TABLES"][1]) == 87
    cols, rows = views["COLUMNS"]
    customers = [dict(zip(cols, r, strict=True)) for r in rows if r[2] == "customers"]
    number = next(c for c in customers if c["COLUMN_NAME"] == "number")
    assert (number["DATA_TYPE"], number["CHARACTER_MAXIMUM_LENGTH"], number["CHARACTER_OCTET_LENGTH"]) == (
        "nvarchar",
        20,
        40,
    )
    balance = next(c for c in customers if c["COLUMN_NAME"] == "balanceDue")
    assert (balance["DATA_TYPE"], balance["NUMERIC_PRECISION"], balance["NUMERIC_SCALE"]) == (
        "decimal",
        38,
        None,
    )
    composite = [r for r in views["KEY_COLUMN_USAGE"][1] if r[5] == "customers" and r[2] == "PK_customers"]
    assert [r[6] for r in composite] == ["id"]


# -- wired as the connection wires it: open_catalog over the real transport and the sandbox -----


def test_open_catalog_over_the_real_transport(sandbox: Sandbox, tmp_path: Path) -> None:
    from d365conn.auth import token_source_for
    from d365conn.transport import Transport

    config = build_config(sandbox.connection_string + f"SchemaMap={tmp_path};SchemaRefresh=reuse;")
    transport = Transport(config, token_source_for(config))
    try:
        catalog = open_catalog(config, None, transport)
        assert catalog.kind == "dataverse" and "contact" in catalog.table_names()
        contact = catalog.find_table("contacts")
        assert contact is not None and contact.primary_key == ("contactid",)
        parent = contact.column("parentcustomerid")
        assert parent is not None and parent.targets == ("account", "contact")
        assert dict(parent.navigation) == {
            "account": "parentcustomerid_account",
            "contact": "parentcustomerid_contact",
        }
        assert contact.column("parentcustomeridtype") is not None
        sent = transport.requests_sent
        again = open_catalog(config, "dataverse", transport)  # next connection: the schema map
        assert again.find_table("contact") == contact and transport.requests_sent == sent
        assert list((tmp_path).iterdir()), "the schema map directory was written"
    finally:
        transport.close()


def test_open_catalog_for_business_central_reads_metadata_at_the_surface_root(
    fixture_service: FixtureService,
    tmp_path: Path,
) -> None:
    fetcher = HttpFetcher("")
    company_url = fixture_service.bc_url + "companies(11111111-2222-3333-4444-555555555555)/"
    config = build_config(f"ServiceURL={company_url};SchemaMap={tmp_path};")

    class Transportish:
        def get_json(self, url: str) -> Any:
            return fetcher.fetch_json(url)

        def get_text(self, url: str, headers: dict[str, str] | None = None) -> str:
            assert headers == {"Accept": "application/xml"}  # SAP CAP answers JSON $metadata otherwise
            return fetcher.fetch_text(url)

    catalog = open_catalog(config, "businesscentral", Transportish())
    assert catalog.kind == "businesscentral"
    customers = catalog.find_table("customers")
    assert customers is not None and customers.primary_key == ("id",)
    assert fixture_service.requests[-1] == "/v2.0/tenant-1/Production/api/v2.0/$metadata"
