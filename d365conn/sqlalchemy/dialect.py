"""The SQLAlchemy dialect ``d365conn`` (2.x and 1.4): engines, reflection and pings over the driver.

Owns: :class:`D365Dialect` and its execution context. The driver is the DB-API module itself
(``import_dbapi`` returns ``d365conn``), so SQLAlchemy wraps the driver's own exception classes
(``sqlalchemy.exc.ProgrammingError`` carries a ``d365conn.ProgrammingError`` as ``.orig``).
Reflection reads the connection's catalog (``catalog/model.py``: columns with Edm types, primary
keys, alternate keys, lookups as foreign keys) rather than parsing INFORMATION_SCHEMA rows, so
types keep their precision and scale.

Everything lives in one schema, ``dbo``, as on the Dataverse TDS endpoint; ``dbo.account`` and
``account`` name the same table.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import default

from .compiler import SQLALCHEMY_1, D365Compiler, D365IdentifierPreparer, D365TypeCompiler, sqla_type
from .url import connection_string_from_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.engine.interfaces import ConnectArgsType, IsolationLevel

    from ..catalog.model import Table
    from ..connection import Connection as DBAPIConnection

SCHEMA = "dbo"


class D365ExecutionContext(default.DefaultExecutionContext):
    """Keeps an INSERT's ``cursor.rowcount`` before SQLAlchemy closes the cursor.

    For an INSERT without RETURNING, SQLAlchemy closes the DB-API cursor while it sets up the result
    and only afterwards reads ``rowcount`` -- from the closed cursor, where the driver (like PEP 249
    allows) reports -1. UPDATE and DELETE are read before the close; INSERT is not, so
    ``Connection.execute(insert, rows)`` and pandas' ``to_sql`` would report -1. SQLAlchemy 1.4 reads
    ``rowcount`` straight from the cursor, hence the property (2.x's own reads ``_rowcount`` the same way).
    """

    _rowcount: int | None = None

    def post_exec(self) -> None:
        if self.isinsert and self._rowcount is None:
            self._rowcount = self.cursor.rowcount

    @property
    def rowcount(self) -> int:
        if self._rowcount is not None:
            return self._rowcount
        count: int = self.cursor.rowcount
        return count


class D365Dialect(default.DefaultDialect):
    """SQLAlchemy dialect for Dynamics 365 / Dataverse / Business Central / OData v4 via d365conn."""

    name = "d365conn"
    driver = "d365conn"
    supports_statement_cache = True
    default_paramstyle = "qmark"
    statement_compiler = D365Compiler
    execution_ctx_cls = D365ExecutionContext
    type_compiler_cls = D365TypeCompiler
    preparer = D365IdentifierPreparer

    # The driver returns Decimal, UUID, bool and aware datetime values itself: no conversions.
    supports_native_decimal = True
    supports_native_boolean = True
    supports_native_uuid = True
    supports_native_enum = False

    # Dataverse has no DDL over SQL, no sequences, no RETURNING; INSERT gives the new key as lastrowid.
    supports_alter = False
    supports_sequences = False
    supports_comments = True
    inline_comments = False
    supports_default_values = False
    supports_empty_insert = False
    supports_multivalues_insert = False
    use_insertmanyvalues = False
    postfetch_lastrowid = False
    insert_returning = False
    update_returning = False
    delete_returning = False
    supports_sane_rowcount = True
    # executemany() reports the total rows affected across the batch, as SQLAlchemy expects.
    supports_sane_multi_rowcount = True
    requires_name_normalize = False
    max_identifier_length = 128
    default_schema_name = SCHEMA

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        import d365conn

        return d365conn

    if SQLALCHEMY_1:
        # SQLAlchemy 1.4 (Superset) asks the class for its DB-API module by this name; 2.x renamed
        # it to import_dbapi and warns when a dialect still defines dbapi() -- hence only on 1.4.
        @classmethod
        def dbapi(cls) -> ModuleType:  # type: ignore[misc,override,unused-ignore]
            return cls.import_dbapi()

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        return [connection_string_from_url(url)], {}

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...] | None:
        return None

    def _get_default_schema_name(self, connection: Any) -> str:
        return SCHEMA

    # -- transactions: the driver's autocommit switch is the only "isolation level" ------------

    def get_isolation_level_values(self, dbapi_conn: Any) -> list[IsolationLevel]:
        return ["AUTOCOMMIT", "READ COMMITTED"]

    def get_isolation_level(self, dbapi_connection: Any) -> IsolationLevel:
        return "AUTOCOMMIT" if dbapi_connection.autocommit else "READ COMMITTED"

    def set_isolation_level(self, dbapi_connection: Any, level: IsolationLevel) -> None:
        # READ COMMITTED here means the driver's queued transaction: writes are held until commit()
        # and sent as one $batch change set.
        dbapi_connection.autocommit = level == "AUTOCOMMIT"

    def get_default_isolation_level(self, dbapi_conn: Any) -> IsolationLevel:
        return self.get_isolation_level(dbapi_conn)

    def do_ping(self, dbapi_connection: Any) -> bool:
        """The connection is open and its credentials still give a token.

        There is no socket to go stale -- each statement is HTTP on a keep-alive session that
        reconnects by itself -- so what can fail is the sign-in: getting a token (from the cache,
        or from the token service when it expired) checks that.
        """
        service = dbapi_connection.service  # raises InterfaceError when the connection is closed
        service.token_source.authorization()
        return True

    # -- reflection ----------------------------------------------------------------------------

    @staticmethod
    def _dbapi(connection: Any) -> DBAPIConnection:
        dbapi_connection: DBAPIConnection = connection.connection.dbapi_connection
        return dbapi_connection

    def _check_schema(self, schema: str | None) -> bool:
        return schema is None or schema.casefold() == SCHEMA

    def _table(self, connection: Any, table_name: str, schema: str | None) -> Table:
        table: Table | None = None
        if self._check_schema(schema):
            table = self._dbapi(connection).service.catalog.find_table(table_name)
        if table is None:
            raise sa_exc.NoSuchTableError(table_name if schema is None else f"{schema}.{table_name}")
        return table

    def get_schema_names(self, connection: Any, **kw: Any) -> list[str]:
        return [SCHEMA]

    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        if not self._check_schema(schema):
            return []
        return sorted(self._dbapi(connection).service.catalog.table_names())

    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return []

    def get_materialized_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return []

    def get_temp_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return []

    def get_temp_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return []

    def get_sequence_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return []

    def has_table(self, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> bool:
        if not self._check_schema(schema):
            return False
        return self._dbapi(connection).service.catalog.find_table(table_name) is not None

    def has_schema(self, connection: Any, schema_name: str, **kw: Any) -> bool:
        return self._check_schema(schema_name)

    def get_columns(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        table = self._table(connection, table_name, schema)
        # The service creates primary keys (Dataverse GUIDs) when a row is inserted without one:
        # reflected as a server default, so Core inserts need not give a key.
        generated = set(table.primary_key) if len(table.primary_key) == 1 else set()
        columns = []
        for col in table.columns:
            info: dict[str, Any] = {
                "name": col.name,
                "type": sqla_type(col.edm_type, max_length=col.max_length, precision=col.precision,
                                  scale=col.scale),
                "nullable": col.nullable,
                "default": "NEWID()" if col.name in generated and col.edm_type == "Edm.Guid" else None,
                "autoincrement": False,
                "comment": col.description,
            }
            if col.name not in generated and (col.read_only or not (col.insertable or col.updatable)):
                # Labels, lookup names, createdon, versionnumber...: computed by the service, so
                # SQLAlchemy (the ORM above all) leaves them out of INSERT and UPDATE statements.
                info["computed"] = {"sqltext": "computed by the service", "persisted": True}
            columns.append(info)
        return columns

    def get_pk_constraint(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> Any:
        table = self._table(connection, table_name, schema)
        return {"constrained_columns": list(table.primary_key),
                "name": f"PK_{table.name}" if table.primary_key else None}

    def get_foreign_keys(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        """One foreign key per lookup target (a customer lookup points to account and contact);
        targets the service does not expose as tables are left out, so reflection can follow
        every key it returns."""
        table = self._table(connection, table_name, schema)
        known = {name.casefold() for name in self._dbapi(connection).service.catalog.table_names()}
        groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for fk in table.foreign_keys:
            if fk.target_table.casefold() in known:
                groups.setdefault((fk.navigation, fk.target_table), []).append((fk.column, fk.target_column))
        return [
            {
                "name": f"FK_{table.name}_{navigation}_{target}",
                "constrained_columns": [column for column, _ in pairs],
                "referred_schema": None,
                "referred_table": target,
                "referred_columns": [target_column for _, target_column in pairs],
                "options": {},
            }
            for (navigation, target), pairs in groups.items()
        ]

    def get_indexes(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        self._table(connection, table_name, schema)
        return []  # the Web API exposes no indexes; alternate keys are reported as unique constraints

    def get_unique_constraints(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        table = self._table(connection, table_name, schema)
        return [{"name": f"AK_{table.name}_{n}", "column_names": list(key)}
                for n, key in enumerate(table.alternate_keys, start=1)]

    def get_check_constraints(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        self._table(connection, table_name, schema)
        return []

    def get_table_comment(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> Any:
        return {"text": self._table(connection, table_name, schema).description}


__all__ = ["D365Dialect", "D365ExecutionContext"]
