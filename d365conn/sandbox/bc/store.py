"""The Business Central sandbox's rows: per company, per entity set, in memory, with etags.

Owns: :class:`Store` -- the companies and every company's rows (dicts in the JSON shape BC sends,
kept in insertion order, which is the order BC's default sort by primary key gives for the
generated data), row versions and the etags derived from them, defaults for the columns a write
leaves out, and snapshots for the all-or-nothing ``Isolation: snapshot`` batches.

Etags are written the way Business Central writes them: ``W/"<base64 of '<n>;<digits>;00;'>"``
(see ``customer.json`` in the real fixtures: ``W/"JzE5OzY3MjczMjkxODU0MzQ2NTQ2MTcxOzAwOyc="``).
Business Central fills columns it was not given with type defaults rather than nulls (empty text,
the zero GUID, ``0001-01-01``), so the generated rows and inserted rows never hold JSON null.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from d365conn.sandbox.bc.errors import SAME_KEY, BCError
from d365conn.sandbox.bc.schema import EntitySet

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
Row = dict[str, Any]


def default_value(edm: str, enum: tuple[str, ...]) -> Any:
    """What Business Central sends for a column nobody set."""
    if edm == "enum":
        return enum[0] if enum else ""
    return {
        "Edm.String": "",
        "Edm.Guid": ZERO_GUID,
        "Edm.Decimal": Decimal(0),
        "Edm.Double": 0.0,
        "Edm.Int32": 0,
        "Edm.Int64": 0,
        "Edm.Boolean": False,
        "Edm.Date": "0001-01-01",
        "Edm.DateTimeOffset": "0001-01-01T00:00:00Z",
    }.get(edm)


def blank_row(entity: EntitySet) -> Row:
    return {p.name: default_value(p.edm, p.enum) for p in entity.props if p.in_rows}


def etag_for(version: int) -> str:
    digits = str(10**19 + version * 7919)
    inner = f"'{len(digits)};{digits};00;'"
    return 'W/"' + base64.b64encode(inner.encode("ascii")).decode("ascii") + '"'


class Store:
    """Every company's rows. Thread-safe: one lock around every read and write."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.companies: list[Row] = []
        self._rows: dict[tuple[str, str], dict[str, Row]] = {}
        self._versions: dict[str, int] = {}
        self._clock = 0
        #: Inside ``snapshot()``: the tables as they were before their first change (shallow copies;
        #: rows are replaced, never changed in place, so the copies stay intact).
        self._saved: dict[tuple[str, str], dict[str, Row]] | None = None

    def _table(self, company_id: str, set_name: str) -> dict[str, Row]:
        key = (company_id, set_name)
        table = self._rows.setdefault(key, {})
        if self._saved is not None and key not in self._saved:
            self._saved[key] = dict(table)
        return table

    # -- reading ----------------------------------------------------------------------------------

    def company(self, key: str) -> Row | None:
        """A company by id (API) or by name (ODataV4), exact as BC compares them."""
        folded = key.lower()
        for row in self.companies:
            if row["id"] == folded or row["name"] == key:
                return row
        return None

    def rows(self, company_id: str, set_name: str) -> list[Row]:
        with self.lock:
            if set_name == "companies":
                return list(self.companies)
            return list(self._rows.get((company_id, set_name), {}).values())

    def get(self, company_id: str, set_name: str, row_id: str) -> Row | None:
        with self.lock:
            if set_name == "companies":
                return self.company(row_id)
            return self._rows.get((company_id, set_name), {}).get(row_id.lower())

    def etag(self, row_id: str) -> str:
        return etag_for(self._versions.get(str(row_id).lower(), 0))

    # -- writing ----------------------------------------------------------------------------------

    def _touch(self, row_id: str) -> None:
        self._clock += 1
        self._versions[row_id] = self._clock

    def add_company(self, row: Row) -> None:
        with self.lock:
            self.companies.append(row)
            self._touch(row["id"])

    def insert(self, company_id: str, set_name: str, row: Row) -> Row:
        with self.lock:
            table = self._table(company_id, set_name)
            if row["id"] in table:
                message = f"The record already exists. Identification fields and values: Id='{row['id']}'"
                raise BCError(400, SAME_KEY, message)
            table[row["id"]] = row
            self._touch(row["id"])
            return row

    def update(self, company_id: str, set_name: str, row_id: str, changes: Row) -> Row:
        with self.lock:
            table = self._table(company_id, set_name)
            row = {**table[row_id], **changes}
            table[row_id] = row
            self._touch(row_id)
            return row

    def delete(self, company_id: str, set_name: str, row_id: str) -> None:
        with self.lock:
            del self._table(company_id, set_name)[row_id]
            self._versions.pop(row_id, None)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """All-or-nothing: every change inside is undone if the block raises (``Isolation: snapshot``)."""
        with self.lock:
            if self._saved is not None:  # inside an outer snapshot: it undoes everything if it must
                yield
                return
            versions, clock = dict(self._versions), self._clock
            self._saved = {}
            try:
                yield
            except BaseException:
                self._rows.update(self._saved)
                self._versions, self._clock = versions, clock
                raise
            finally:
                self._saved = None


__all__ = ["ZERO_GUID", "Row", "Store", "blank_row", "default_value", "etag_for"]
