"""The Catalog: the CatalogView the planner uses, over a loader and the on-disk schema map.

Owns: name resolution (logical name or entity set name, case-insensitive), lazy thread-safe
loading and memoising of tables, the refresh policy (``SchemaRefresh``), "did you mean" hints,
and ``open_catalog``, which wires a loader and a cache from a Config.

Refresh policies (decided once per Catalog, i.e. once per connection, on first use):
- ``reuse``: a cached table list and cached tables are used as they are; only what is missing
  is loaded (and then cached).
- ``version``: the loader reports the service's metadata version stamp and what changed since the
  cached stamp (Dataverse: ``RetrieveMetadataChanges`` with ``ClientVersionStamp``; plain OData:
  the digest of ``$metadata``). Changed tables are reloaded; unchanged ones come from the cache.
  When the service cannot say, everything is reloaded (lazily, table by table).
- ``always``: nothing cached is trusted; every table is loaded once per connection (and the cache
  rewritten for later runs that choose another policy).
"""

from __future__ import annotations

import contextlib
import difflib
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from d365conn.catalog.cache import CachedIndex, SchemaCache, cache_dir_for
from d365conn.catalog.loader import FetchJson, FetchText, Loader, TableEntry
from d365conn.catalog.model import Table
from d365conn.catalog.service import ServiceKind, detect_service_kind, parse_bc_endpoint
from d365conn.exceptions import ConfigurationError

REFRESH_POLICIES = ("reuse", "version", "always")
#: Tables loaded at once when many are wanted (INFORMATION_SCHEMA over a whole org).
LOAD_WORKERS = 8


class Catalog:
    """Tables of one service, loaded lazily; implements ``CatalogView``."""

    def __init__(self, loader: Loader, *, cache: SchemaCache | None = None, refresh: str = "version") -> None:
        if refresh not in REFRESH_POLICIES:
            choices = ", ".join(REFRESH_POLICIES)
            raise ConfigurationError(f"SchemaRefresh must be one of {choices}; got {refresh!r}")
        self.loader = loader
        self.cache = cache
        self.refresh = refresh
        self._lock = threading.RLock()
        self._table_locks: dict[str, threading.Lock] = {}
        self._entries: dict[str, TableEntry] | None = None  # casefolded logical name -> entry
        self._by_set: dict[str, TableEntry] = {}
        self._tables: dict[str, Table] = {}
        self._stale: set[str] | None = None  # cached tables not to trust; None: none to trust
        self._stamp: str | None = None
        self._flags: dict[str, bool] = {}
        self._list_is_cached = False  # under ``reuse``: an unknown name re-reads the list once

    @property
    def kind(self) -> ServiceKind:
        return self.loader.kind

    # -- the table list ----------------------------------------------------------------------

    def _index(self) -> dict[str, TableEntry]:
        entries = self._entries
        if entries is not None:
            return entries
        with self._lock:
            entries = self._entries
            return entries if entries is not None else self._load_index()

    def _load_index(self) -> dict[str, TableEntry]:
        cached = self.cache.read_index() if self.cache else None
        entries: list[TableEntry]
        if self.refresh == "reuse" and cached is not None:
            entries, self._stamp, self._stale = cached.entries, cached.stamp, set()
            self._flags = dict(cached.flags)
            self._list_is_cached = True
        elif self.refresh == "version":
            changes = self.loader.changes_since(cached.stamp if cached else None)
            self._stamp = changes.stamp
            if cached is not None and changes.tables is not None:
                self._stale = {n.casefold() for n in changes.tables}
                self._flags = {k: v for k, v in cached.flags.items()
                               if k.partition(":")[2].casefold() not in self._stale}
                entries = self.loader.list_tables() if changes.list_changed else cached.entries
            else:
                self._stale = None
                entries = self.loader.list_tables()
        else:
            self._stale = None
            entries = self.loader.list_tables()
        if self.cache is not None:
            self.cache.write_index(CachedIndex(entries=entries, stamp=self._stamp, kind=self.kind,
                                               flags=self._flags))
        return self._set_entries(entries)

    def _set_entries(self, entries: Iterable[TableEntry]) -> dict[str, TableEntry]:
        by_name: dict[str, TableEntry] = {}
        by_set: dict[str, TableEntry] = {}
        for entry in entries:
            by_name.setdefault(entry.name.casefold(), entry)
            by_set.setdefault(entry.entity_set.casefold(), entry)
        self._by_set = by_set
        self._entries = by_name
        return by_name

    def entry(self, name: str) -> TableEntry | None:
        """The listed table named ``name`` (logical name first, then entity set name), no loading."""
        folded = name.casefold()
        index = self._index()
        found = index.get(folded) or self._by_set.get(folded)
        if found is None and self._list_is_cached:
            with self._lock:
                if self._list_is_cached:
                    # A table created since the list was cached: read the list (only) once more.
                    self._list_is_cached = False
                    entries = self.loader.list_tables()
                    if self.cache is not None:
                        self.cache.write_index(CachedIndex(entries=entries, stamp=self._stamp,
                                                           kind=self.kind, flags=self._flags))
                    self._set_entries(entries)
            found = self._index().get(folded) or self._by_set.get(folded)
        return found

    def table_names(self) -> list[str]:
        """Every table's logical name (entity set name for plain OData), sorted."""
        return sorted(e.name for e in self._index().values())

    def entries(self) -> list[TableEntry]:
        return sorted(self._index().values(), key=lambda e: e.name.casefold())

    # -- tables ------------------------------------------------------------------------------

    def find_table(self, name: str) -> Table | None:
        """The table by logical or entity set name (case-insensitive), loaded on first use; or None."""
        entry = self.entry(name)
        if entry is None:
            return None
        table = self._tables.get(entry.name)
        if table is not None:
            return table
        with self._lock:
            lock = self._table_locks.setdefault(entry.name, threading.Lock())
        with lock:  # one load per table even when several threads ask at once
            table = self._tables.get(entry.name)
            if table is None:
                table = self._load(entry)
                self._tables[entry.name] = table
        return table

    def _load(self, entry: TableEntry) -> Table:
        trusted = self._stale is not None and entry.name.casefold() not in self._stale
        if self.cache is not None and trusted:
            cached = self.cache.read_table(entry.name)
            if cached is not None:
                return cached
        table = self.loader.load_table(entry, self._index())
        if self._stamp is not None:
            table = replace(table, version=self._stamp)
        if self.cache is not None:
            self.cache.write_table(table)
        return table

    def tables(self, names: Iterable[str] | None = None) -> list[Table]:
        """Tables by name (every listed table when ``names`` is None: costly on a large org)."""
        wanted = self.table_names() if names is None else list(names)
        missing = [n for n in wanted if (e := self.entry(n)) is not None and e.name not in self._tables]
        if len(missing) > 1:
            # Cold loads are request-bound: a few in parallel (well under Dataverse's 52 concurrent
            # requests per user); find_table's per-table locks keep each table loaded once.
            with ThreadPoolExecutor(max_workers=min(LOAD_WORKERS, len(missing))) as pool:
                list(pool.map(self.find_table, missing))
        found = (self.find_table(name) for name in wanted)
        return [t for t in found if t is not None]

    # -- probed capabilities -------------------------------------------------------------------

    def supports_bulk_actions(self, name: str) -> bool:
        """Whether the table takes CreateMultiple/UpdateMultiple (Dataverse; probed once, cached)."""
        entry = self.entry(name)
        probe = getattr(self.loader, "supports_bulk_actions", None)
        if entry is None or probe is None:
            return False
        key = f"bulk:{entry.name}"
        with self._lock:
            if key not in self._flags:
                self._flags[key] = bool(probe(entry.name))
                if self.cache is not None:
                    self.cache.write_index(CachedIndex(entries=list(self._index().values()),
                                                       stamp=self._stamp, kind=self.kind, flags=self._flags))
            return self._flags[key]

    # -- hints -------------------------------------------------------------------------------

    def suggest_table(self, name: str) -> str | None:
        """The known table name nearest to ``name`` (logical or entity set names), or None."""
        candidates: dict[str, str] = {}
        for entry in self._index().values():
            candidates.setdefault(entry.name.casefold(), entry.name)
            candidates.setdefault(entry.entity_set.casefold(), entry.entity_set)
        return _nearest(name, candidates)

    def suggest_column(self, table: str, name: str) -> str | None:
        """The column of ``table`` nearest to ``name``, or None."""
        found = self.find_table(table)
        if found is None:
            return None
        candidates = {c.name.casefold(): c.name for c in found.columns}
        # Someone writing the OData property (``_primarycontactid_value``) means the lookup column.
        for col in found.columns:
            candidates.setdefault(col.property.casefold(), col.name)
        return _nearest(name, candidates)

    def information_schema_rows(self, tables: Iterable[str] | None = None, **kwargs: Any) -> dict[
            str, tuple[list[str], list[tuple[Any, ...]]]]:
        """INFORMATION_SCHEMA views as plain rows; see ``infoschema.information_schema_rows``."""
        from d365conn.catalog.infoschema import information_schema_rows

        return information_schema_rows(self, tables, **kwargs)


def _nearest(name: str, candidates: dict[str, str]) -> str | None:
    folded = name.casefold()
    if folded in candidates:
        return candidates[folded]
    matches = difflib.get_close_matches(folded, list(candidates), n=1, cutoff=0.6)
    if matches:
        return candidates[matches[0]]
    # A prefix or containment is a good hint too (``acc`` -> ``account``).
    contained = sorted((c for c in candidates if len(folded) >= 3 and (folded in c or c in folded)), key=len)
    return candidates[contained[0]] if contained else None


def _fetchers(transport: Any, root: str) -> tuple[FetchJson, FetchText]:
    """``fetch_json``/``fetch_text`` over the transport: its own if it has them, else its ``get_json``/
    ``get_text`` with the path joined to the service root (an absolute URL is used as it is)."""
    if hasattr(transport, "fetch_json") and hasattr(transport, "fetch_text"):
        return transport.fetch_json, transport.fetch_text

    def url(path: str) -> str:
        return path if path.startswith(("http://", "https://")) else root + path

    def fetch_json(path: str) -> Any:
        return transport.get_json(url(path))

    def fetch_text(path: str) -> str:
        # The catalog reads text only for $metadata; some services (SAP CAP) answer its JSON form
        # unless XML is asked for explicitly.
        return str(transport.get_text(url(path), headers={"Accept": "application/xml"}))

    return fetch_json, fetch_text


def make_loader(kind: ServiceKind, transport: Any, service_url: str) -> Loader:
    """The loader for a service kind, doing its I/O through the transport (see ``_fetchers``)."""
    root = service_url.split("?", 1)[0].rstrip("/") + "/"
    fetch_json, fetch_text = _fetchers(transport, root)
    if kind == "dataverse":
        from d365conn.catalog.dataverse import DataverseLoader

        return DataverseLoader(fetch_json)
    from d365conn.catalog.odata import ODataLoader

    if kind == "businesscentral":
        try:
            surface_root = parse_bc_endpoint(service_url).service_root
        except ValueError:
            surface_root = root
        if root != surface_root:
            # A company in the ServiceURL: $metadata lives at the surface root, above it.
            absolute = surface_root + "$metadata"
            return ODataLoader(lambda _path: fetch_text(absolute), kind="businesscentral")
    return ODataLoader(fetch_text, kind=kind)


def open_catalog(config: Any, kind: str | None, transport: Any) -> Catalog:
    """The Catalog of a connection: loader by service kind, cache under ``config.schema_map`` (or the
    per-user cache directory), refresh policy ``config.schema_refresh``."""
    service_url = str(config.service_url)
    service_kind: ServiceKind = detect_service_kind(service_url)
    if kind in ("dataverse", "businesscentral", "odata"):
        service_kind = kind  # type: ignore[assignment]  # narrowed by the membership test
    cache_url = service_url
    if service_kind == "businesscentral":
        with contextlib.suppress(ValueError):
            cache_url = parse_bc_endpoint(service_url).service_root  # one cache for every company
    cache = SchemaCache(cache_dir_for(cache_url, getattr(config, "schema_map", None)))
    return Catalog(make_loader(service_kind, transport, service_url), cache=cache,
                   refresh=str(getattr(config, "schema_refresh", "version") or "version"))
