"""The sandbox's embedded database (stdlib sqlite3).

Owns: the SQLite file, its layout (one table per Dataverse table, one column per Web API property
name, plus hidden `__type_<lookup>` columns naming the target table of polymorphic lookups), the
per-thread connections, the writer lock and the version-number counter behind `@odata.etag`.
String columns use NOCASE collation because Dataverse compares strings case-insensitively.
Indexes mirror what a real org has: the key (in SQL Server's GUID order), the primary name, the
busy lookups, alternate keys, and createdon/modifiedon (`date_indexes`, which a database made by
an older sandbox gets on start, `add_missing_indexes`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from d365conn.sandbox import collation
from d365conn.sandbox.guidorder import sql_key
from d365conn.sandbox.model import Column, Schema, Table

SCHEMA_VERSION = "2"  # 2: uniqueidentifier order (guidorder), __filled, the key as a unique index
INDEXED_LOOKUPS = frozenset(
    {
        ("account", "primarycontactid"),
        ("account", "parentaccountid"),
        ("contact", "parentcustomerid"),
        ("contact", "parentcontactid"),
        ("opportunity", "parentaccountid"),
        ("opportunity", "customerid"),
        ("opportunity", "parentcontactid"),
    }
)
#: How much of the database file each reading connection maps into memory (see Store._acquire).
MMAP_BYTES = 1 << 30
#: Date columns every table indexes (with the key's sort order as the second part).
DATE_INDEXED = ("createdon", "modifiedon")
SQL_TYPES = {
    "Edm.String": "TEXT COLLATE NOCASE",
    "Edm.Guid": "TEXT COLLATE NOCASE",
    "Edm.Int32": "INTEGER",
    "Edm.Int64": "INTEGER",
    "Edm.Decimal": "REAL",
    "Edm.Double": "REAL",
    "Edm.Boolean": "INTEGER",
    "Edm.DateTimeOffset": "TEXT",
    "Edm.Date": "TEXT",
    "Edm.Binary": "BLOB",
}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def type_column(column: Column) -> str:
    """The hidden column holding the target table of a polymorphic lookup."""
    return f"__type_{column.logical}"


def polymorphic(column: Column) -> bool:
    return column.kind in ("Customer", "Owner")


def create_table_sql(table: Table, first: list[str] | None = None) -> str:
    """`first` lists the properties usually filled: SQLite stores trailing NULLs for free, so putting
    them first keeps the wide, mostly-null rows of the real account table short on disk."""
    parts = []
    order = {prop: i for i, prop in enumerate(first or [])}
    columns = sorted(table.columns.values(), key=lambda c: order.get(c.prop, len(order)))
    for column in columns:
        # The primary key is a unique index built after the bulk load (index_sql): generated keys
        # arrive in uniqueidentifier order, not text order, and inserting them one by one into a
        # text-ordered key index cost more than sorting them once.
        parts.append(f"{quote(column.prop)} {SQL_TYPES[column.edm]}")
        if polymorphic(column):
            parts.append(f"{quote(type_column(column))} TEXT")
    return f"CREATE TABLE IF NOT EXISTS {quote(table.logical)} ({', '.join(parts)})"


def pk_order_sql(table: Table, alias: str = "") -> str:
    """The primary key's sort key as SQL (the expression of the order index)."""
    column = quote(table.columns[table.pk].prop)
    return sql_key(f"{alias}.{column}" if alias else column)


def date_indexes(table: Table) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes on the created/modified stamps. Every Dataverse table
    indexes them; the primary key's sort key follows the stamp, so a date range read in the default
    key order (a date partition of a parallel scan) sorts index entries only, never whole rows, and
    `$orderby=createdon` seeks without a sort."""
    out = []
    for logical in DATE_INDEXED:
        column = table.columns.get(logical)
        if column is not None:
            name = f"ix_{table.logical}_{logical}"
            out.append((
                name,
                f"CREATE INDEX IF NOT EXISTS {quote(name)} "
                f"ON {quote(table.logical)} ({quote(column.prop)}, {pk_order_sql(table)})",
            ))  # fmt: skip
    return out


def index_sql(schema: Schema, table: Table) -> list[str]:
    statements = [
        f"CREATE UNIQUE INDEX IF NOT EXISTS {quote('pk_' + table.logical)} "
        f"ON {quote(table.logical)} ({quote(table.columns[table.pk].prop)})"
    ]
    for column in table.columns.values():
        # The lookups that carry the 1:N expands and lambdas clients use; the others point at tiny
        # tables or stay null in generated data, and would only slow generation down.
        if (table.logical, column.logical) in INDEXED_LOOKUPS:
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {quote('ix_' + table.logical + '_' + column.logical)} "
                f"ON {quote(table.logical)} ({quote(column.prop)})"
            )
    # The primary key in SQL Server's uniqueidentifier order: the default order of every read and
    # the tie breaker of every $orderby, so pages and key ranges are index seeks.
    statements.append(
        f"CREATE UNIQUE INDEX IF NOT EXISTS {quote('ix_' + table.logical + '_order')} "
        f"ON {quote(table.logical)} ({pk_order_sql(table)})"
    )
    statements += [statement for _, statement in date_indexes(table)]
    name = table.columns[table.primary_name].prop
    statements.append(
        f"CREATE INDEX IF NOT EXISTS {quote('ix_' + table.logical + '_name')} "
        f"ON {quote(table.logical)} ({quote(name)})"
    )
    for key in table.alternate_keys:
        cols = ", ".join(quote(table.columns[k].prop) for k in key)
        statements.append(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {quote('ak_' + table.logical + '_' + '_'.join(key))} "
            f"ON {quote(table.logical)} ({cols})"
        )
    return statements


class Store:
    """One SQLite database; connections are per thread, writes are serialised by `write()`."""

    def __init__(self, schema: Schema, data_dir: str | None = None) -> None:
        self.schema = schema
        self._temp_dir = None if data_dir else tempfile.mkdtemp(prefix="d365sandbox-")
        directory = data_dir or self._temp_dir or "."
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "sandbox.sqlite3")
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._connections: list[sqlite3.Connection] = []
        self._idle: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()

    # -- connections -------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """The connection bound to this thread (see `bound()`); binds one when there is none."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._acquire()
            self._local.connection = connection
        return connection

    @contextmanager
    def bound(self) -> Iterator[sqlite3.Connection]:
        """Bind a pooled connection to this thread for one request, then give it back. Server
        threads come and go with client connections; a pool keeps the number of open SQLite
        connections at the number of concurrent requests instead of growing with every client."""
        outer: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if outer is not None:
            yield outer
            return
        connection = self._acquire()
        self._local.connection = connection
        try:
            yield connection
        finally:
            self._local.connection = None
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            with self._connections_lock:
                self._idle.append(connection)

    def _acquire(self) -> sqlite3.Connection:
        with self._connections_lock:
            if self._idle:
                return self._idle.pop()
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA cache_size=-65536")
        connection.execute("PRAGMA temp_store=MEMORY")
        # Reads through a memory map skip a read() system call and a copy per 4 KiB page: a
        # 5,000-row page of wide accounts measured about a quarter less CPU. Address space only;
        # the pages are the OS's file cache, shared by every connection.
        connection.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        collation.register(connection)
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    def raw_connection(self, check_same_thread: bool = True) -> sqlite3.Connection:
        """A connection tuned for bulk loading (no journal, no fsync)."""
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=check_same_thread)
        connection.execute("PRAGMA page_size=16384")  # wide rows: fewer overflow pages (new files only)
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-262144")
        return connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all-or-nothing, one writer at a time (change sets, bulk actions)."""
        with self._write_lock:
            connection = self.connect()
            if connection.in_transaction:  # nested (a change set inside a batch): join the outer one
                yield connection
                return
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def next_version(self, connection: sqlite3.Connection) -> int:
        row = connection.execute(
            "UPDATE __meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version' RETURNING value"
        ).fetchone()
        return int(row[0])

    # -- layout ------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        try:
            rows = self.connect().execute("SELECT key, value FROM __meta").fetchall()
        except sqlite3.OperationalError:
            return {}
        return {str(k): str(v) for k, v in rows}

    def create(self, connection: sqlite3.Connection, first: dict[str, list[str]] | None = None) -> None:
        connection.execute("CREATE TABLE IF NOT EXISTS __meta (key TEXT PRIMARY KEY, value TEXT)")
        for table in self.schema.tables.values():
            connection.execute(f"DROP TABLE IF EXISTS {quote(table.logical)}")
            connection.execute(create_table_sql(table, (first or {}).get(table.logical)))

    # -- columns some row has filled ------------------------------------------------------------
    def track_filled(self, connection: sqlite3.Connection, filled: dict[str, list[str]]) -> None:
        """Record, per table, the columns the generated rows may fill (`filled`), and keep the record
        true from now on with triggers that add a column the first time any write sets it. Readers
        leave the other columns out of plain pages (they are null in every row); see `filled_columns`.
        """
        connection.execute(
            "CREATE TABLE IF NOT EXISTS __filled (tbl TEXT, col TEXT, PRIMARY KEY (tbl, col)) WITHOUT ROWID"
        )
        for table in self.schema.tables.values():
            known = set(filled.get(table.logical, [c.prop for c in table.columns.values()]))
            connection.executemany(
                "INSERT OR IGNORE INTO __filled VALUES (?, ?)", [(table.logical, c) for c in sorted(known)]
            )
            others = [c.prop for c in table.columns.values() if c.prop not in known]
            if not others:
                continue
            # One compound SELECT per statement (a statement per column cost three times as much per
            # written row); SQLite allows 500 terms in a compound SELECT.
            statements = []
            for start in range(0, len(others), 400):
                arms = " UNION ALL ".join(
                    f"SELECT '{prop}' AS c, NEW.{quote(prop)} AS v" for prop in others[start : start + 400]
                )
                statements.append(
                    f"INSERT OR IGNORE INTO __filled SELECT '{table.logical}', c "  # noqa: S608 - model names
                    f"FROM ({arms}) WHERE v IS NOT NULL;"
                )
            body = " ".join(statements)
            for event in ("INSERT", "UPDATE"):
                name = quote(f"filled_{table.logical}_{event.lower()}")
                connection.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {quote(table.logical)} "
                    f"BEGIN {body} END"
                )

    @staticmethod
    def filled_columns(connection: sqlite3.Connection) -> dict[str, frozenset[str]] | None:
        """Per table, the columns some row may hold a value in (None: not tracked, assume all). Read
        it in the same read transaction as the rows it describes, so that a write that fills a new
        column is seen either with its row or not at all."""
        try:
            rows = connection.execute("SELECT tbl, col FROM __filled").fetchall()
        except sqlite3.OperationalError:
            return None
        by_table: dict[str, set[str]] = {}
        for table, column in rows:
            by_table.setdefault(str(table), set()).add(str(column))
        return {table: frozenset(columns) for table, columns in by_table.items()}

    def create_indexes(self, connection: sqlite3.Connection) -> None:
        for table in self.schema.tables.values():
            for statement in index_sql(self.schema, table):
                connection.execute(statement)
        connection.execute("ANALYZE")

    def add_missing_indexes(self) -> int:
        """Build the date indexes (`date_indexes`) that a database generated before they existed
        lacks: the rows stay, and building them takes seconds where regenerating takes minutes.
        Returns how many were built."""
        connection = self.connect()
        existing = {
            str(r[0]) for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        missing = [
            (name, statement)
            for table in self.schema.tables.values()
            for name, statement in date_indexes(table)
            if name not in existing
        ]
        if missing:
            with self.write() as writer:
                for name, statement in missing:
                    writer.execute(statement)
                    writer.execute(f"ANALYZE {quote(name)}")  # the planner's statistics, this index only
        return len(missing)

    def close(self) -> None:
        self.close_connections()
        if self._temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def close_connections(self) -> None:
        self._local = threading.local()
        with self._connections_lock:
            for connection in self._connections:
                with suppress(sqlite3.Error):
                    connection.close()
            self._connections.clear()
            self._idle.clear()
