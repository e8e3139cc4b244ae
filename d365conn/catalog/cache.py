"""The on-disk schema map: table metadata kept between runs.

Owns: where the cache lives (``SchemaMap`` option, else a per-user directory keyed by the service
URL), its layout, the JSON form of a Table, and safe writes. It makes no refresh decisions: the
Catalog decides from ``SchemaRefresh`` what to trust.

Layout of a cache directory (one per service):
- ``index.json``: the table list, the metadata version stamp it was read at, probed flags;
- ``tables/<name>-<hash>.json``: one file per loaded table (the hash keeps names that differ only
  by case apart on case-insensitive file systems).
Writes go to a temporary file in the same directory and are renamed into place (atomic on POSIX
and Windows), so concurrent processes never read a half-written file; a file that cannot be read
or has another format version is treated as absent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from d365conn.catalog.loader import TableEntry
from d365conn.catalog.model import Column, ForeignKey, Option, Table

FORMAT = 1
_COLUMN_FIELDS = {f.name for f in fields(Column)}
#: Plain-valued Column fields and their defaults (only values that differ are written).
_COLUMN_DEFAULTS = {f.name: f.default for f in fields(Column)
                    if f.default is not MISSING and f.name not in ("targets", "options")}
_TABLE_DEFAULTS = {f.name: f.default for f in fields(Table)}


def default_cache_root() -> Path:
    """The per-user cache root: ``%LOCALAPPDATA%\\d365conn`` on Windows, ``$XDG_CACHE_HOME/d365conn``
    or ``~/.cache/d365conn`` elsewhere."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "d365conn"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "d365conn"


def service_key(service_url: str) -> str:
    """A short stable key for a service: scheme, host and path (no query, no trailing slash)."""
    parts = urlsplit(service_url.strip())
    normal = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def cache_dir_for(service_url: str, schema_map: Path | None = None) -> Path:
    """The cache directory of a service: under ``schema_map`` if given, else the per-user root."""
    return (schema_map or default_cache_root()) / service_key(service_url)


def column_to_json(col: Column) -> dict[str, Any]:
    out: dict[str, Any] = {"name": col.name, "edm_type": col.edm_type}
    for key, default in _COLUMN_DEFAULTS.items():
        if key in out:
            continue
        value = getattr(col, key)
        if value != default:
            out[key] = value
    if col.targets:
        out["targets"] = list(col.targets)
    if col.navigation:
        out["navigation"] = dict(col.navigation)
    if col.options:
        out["options"] = [[o.value, o.label] for o in col.options]
    return out


#: Every Column field at its default: the base a cached column's stored differences go onto.
_COLUMN_BASE = dict(vars(Column(name="", edm_type="")))


def column_from_json(data: Mapping[str, Any]) -> Column:
    values = dict(_COLUMN_BASE)
    values.update(data)
    values["targets"] = tuple(values["targets"])
    values["navigation"] = dict(values["navigation"])
    values["options"] = tuple(Option(int(v), str(lbl)) for v, lbl in values["options"])
    if set(values) != _COLUMN_FIELDS:
        raise ValueError(f"cached column has unknown fields: {sorted(set(values) - _COLUMN_FIELDS)}")
    # Filling the instance dict directly skips the frozen dataclass __init__, whose per-field
    # object.__setattr__ made a 236-column table cost 3 ms; Column has no __post_init__ to skip.
    column = object.__new__(Column)
    column.__dict__.update(values)
    return column


def table_to_json(table: Table) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, default in _TABLE_DEFAULTS.items():
        value = getattr(table, key)
        if key == "columns":
            out[key] = [column_to_json(c) for c in value]
        elif key == "foreign_keys":
            out[key] = [[fk.column, fk.target_table, fk.target_column, fk.navigation] for fk in value]
        elif key == "alternate_keys":
            out[key] = [list(k) for k in value]
        elif key == "primary_key":
            out[key] = list(value)
        elif value != default:
            out[key] = value
    return out


def table_from_json(data: Mapping[str, Any]) -> Table:
    kwargs = dict(data)
    kwargs["columns"] = tuple(column_from_json(c) for c in data.get("columns", ()))
    kwargs["foreign_keys"] = tuple(ForeignKey(*fk) for fk in data.get("foreign_keys", ()))
    kwargs["alternate_keys"] = tuple(tuple(k) for k in data.get("alternate_keys", ()))
    kwargs["primary_key"] = tuple(data.get("primary_key", ()))
    return Table(**kwargs)


@dataclass
class CachedIndex:
    """The cached table list and the version stamp it was read at."""

    entries: list[TableEntry]
    stamp: str | None = None
    kind: str | None = None
    #: flags learned by probing (``bulk:<table>`` -> bool), kept so they are probed once.
    flags: dict[str, bool] = field(default_factory=dict)


class SchemaCache:
    """Reads and writes one service's cache directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _table_path(self, name: str) -> Path:
        digest = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
        return self.directory / "tables" / f"{quote(name, safe='')[:80]}-{digest}.json"

    def _read(self, path: Path) -> Any:
        try:
            with path.open("r", encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        return data

    def _write(self, path: Path, data: Mapping[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"format": FORMAT, **data}, fh, separators=(",", ":"))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def read_index(self) -> CachedIndex | None:
        data = self._read(self.directory / "index.json")
        if data is None:
            return None
        try:
            entries = [TableEntry.from_json(e) for e in data.get("tables", ())]
        except (KeyError, TypeError):
            return None
        return CachedIndex(entries=entries, stamp=data.get("stamp"), kind=data.get("kind"),
                           flags={str(k): bool(v) for k, v in (data.get("flags") or {}).items()})

    def write_index(self, index: CachedIndex) -> None:
        self._write(self.directory / "index.json", {
            "kind": index.kind, "stamp": index.stamp, "flags": index.flags,
            "tables": [e.to_json() for e in index.entries],
        })

    def read_table(self, name: str) -> Table | None:
        data = self._read(self._table_path(name))
        if data is None or not isinstance(data.get("table"), dict):
            return None
        try:
            table = table_from_json(data["table"])
        except (KeyError, TypeError, ValueError):
            return None
        return table if table.name == name else None

    def write_table(self, table: Table) -> None:
        self._write(self._table_path(table.name), {"table": table_to_json(table)})

    def drop_table(self, name: str) -> None:
        with contextlib.suppress(OSError):
            self._table_path(name).unlink()
