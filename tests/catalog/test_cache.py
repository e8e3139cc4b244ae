"""The on-disk schema map: round trips, where it lives, and safety under concurrent writers."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from d365conn.catalog.cache import (
    CachedIndex,
    SchemaCache,
    cache_dir_for,
    default_cache_root,
    service_key,
    table_from_json,
    table_to_json,
)
from d365conn.catalog.dataverse_columns import build_table
from d365conn.catalog.loader import TableEntry
from d365conn.catalog.model import Table
from tests.catalog.conftest import BC_METADATA, account_definition
from tests.catalog.test_odata import load_all


@pytest.fixture(scope="module")
def account() -> Table:
    return build_table(account_definition(), {}).table


def test_tables_round_trip_exactly(account: Table) -> None:
    assert table_from_json(table_to_json(account)) == account
    for table in load_all(BC_METADATA.read_text(encoding="utf-8")).values():
        assert table_from_json(table_to_json(table)) == table


def test_cached_account_loads_in_milliseconds(tmp_path: Path, account: Table) -> None:
    cache = SchemaCache(tmp_path)
    cache.write_table(account)
    started = time.perf_counter()
    for _ in range(20):
        loaded = cache.read_table("account")
    per_load = (time.perf_counter() - started) / 20
    print(f"\naccount ({len(account.columns)} columns) from the cache: {per_load * 1000:.2f} ms")
    assert loaded == account
    assert per_load < 0.05


def test_index_round_trip_and_missing_or_broken_files(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path / "svc")
    assert cache.read_index() is None and cache.read_table("account") is None
    index = CachedIndex(
        entries=[TableEntry("account", "accounts", "accountid", "name", "m-1")],
        stamp="7!x",
        kind="dataverse",
        flags={"bulk:account": True},
    )
    cache.write_index(index)
    assert cache.read_index() == index
    (tmp_path / "svc" / "index.json").write_text("{not json", encoding="utf-8")
    assert cache.read_index() is None
    (tmp_path / "svc" / "index.json").write_text('{"format": 999, "tables": []}', encoding="utf-8")
    assert cache.read_index() is None  # another format version is not trusted


def test_names_differing_only_by_case_get_separate_files(tmp_path: Path) -> None:
    cache = SchemaCache(tmp_path)
    upper, lower = (
        Table(name="Items", entity_set="Items", columns=()),
        Table(name="items", entity_set="x", columns=()),
    )
    cache.write_table(upper)
    cache.write_table(lower)
    assert cache.read_table("Items") == upper and cache.read_table("items") == lower
    cache.drop_table("Items")
    assert cache.read_table("Items") is None and cache.read_table("items") == lower


def test_where_the_cache_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "d365conn"
    url = "https://contoso.crm.dynamics.com/api/data/v9.2/"
    assert cache_dir_for(url) == tmp_path / "xdg" / "d365conn" / service_key(url)
    assert cache_dir_for(url, tmp_path / "map") == tmp_path / "map" / service_key(url)
    # The same service however the URL is written; another service elsewhere.
    assert service_key("HTTPS://Contoso.crm.dynamics.com/api/data/v9.2") == service_key(url)
    assert service_key("https://fabrikam.crm.dynamics.com/api/data/v9.2/") != service_key(url)


def _writer(directory: str, name: str, columns: int, rounds: int) -> None:
    from d365conn.catalog.model import Column

    cache = SchemaCache(Path(directory))
    table = Table(
        name=name, entity_set=name, columns=tuple(Column(f"c{i}", "Edm.String") for i in range(columns))
    )
    for _ in range(rounds):
        cache.write_table(table)


def test_concurrent_processes_never_leave_a_torn_file(tmp_path: Path) -> None:
    # Two processes rewrite the same table (different contents) while this one reads it: every
    # read sees one whole version or the other, never a mix or a partial file.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), "t", n, 40)) for n in (300, 3)]
    for proc in procs:
        proc.start()
    cache = SchemaCache(tmp_path)
    seen: set[int] = set()
    while any(p.is_alive() for p in procs):
        table = cache.read_table("t")
        if table is not None:
            seen.add(len(table.columns))
    for proc in procs:
        proc.join()
        assert proc.exitcode == 0
    assert seen <= {300, 3}
    final = cache.read_table("t")
    assert final is not None and len(final.columns) in (300, 3)
    assert not [p for p in (tmp_path / "tables").iterdir() if p.name.startswith(".tmp-")]
