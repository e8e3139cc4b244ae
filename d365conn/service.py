"""One connection's live session with a service: the place where the rooms meet.

Owns: wiring the one-way flow for each statement --
config -> token source (auth) -> transport -> catalog -> plan (planner) -> scans (transport)
-> local engine when needed -> :class:`~d365conn.result.Result` for the cursor.
Each room is created lazily on first need and kept for the connection's life; this module holds
no OData, HTTP or SQL-translation logic of its own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import exceptions as exc
from .config import Config
from .result import ColumnInfo, Result, display_size_for

if TYPE_CHECKING:
    from .bc import BCSession
    from .writes import WriteExecutor

Params = Sequence[Any] | Mapping[str, Any] | None

_LEADING_COMMENTS = re.compile(r"^\s*(?:(?:--[^\n]*\n)|(?:/\*.*?\*/)|\s)*", re.DOTALL)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
#: Valid SQL that d365conn does not run (DDL, sessions, privileges): NotSupportedError, not a syntax error.
_OTHER_SQL_STATEMENTS = frozenset(
    [
        "CREATE",
        "DROP",
        "ALTER",
        "TRUNCATE",
        "RENAME",
        "GRANT",
        "REVOKE",
        "DENY",
        "BEGIN",
        "START",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "SET",
        "SHOW",
        "USE",
        "DESCRIBE",
        "DESC",
        "ANALYZE",
        "VACUUM",
        "COPY",
        "LOCK",
        "DECLARE",
        "PRAGMA",
        "ATTACH",
        "DETACH",
        "COMMENT",
        "REPLACE",
    ]
)


def statement_keyword(sql: str) -> str:
    """The first keyword of a statement, upper-cased (comments and parentheses skipped)."""
    body = _LEADING_COMMENTS.sub("", sql, count=1).lstrip("( \t\r\n")
    match = _FIRST_WORD.match(body)
    return match.group(0).upper() if match else ""


class Service:
    """The rooms behind one connection, created on first use."""

    def __init__(self, config: Config, *, token_callback: Callable[[str], None] | None = None) -> None:
        from .catalog.service import detect_service_kind
        from .planner import PlanCache, capabilities_for

        self.config = config
        self.kind = (
            detect_service_kind(config.service_url) if config.service_type == "auto" else config.service_type
        )
        self.capabilities = capabilities_for(self.kind)  # type: ignore[arg-type]
        #: Business Central: the company scoping of this connection (d365conn/bc/); None elsewhere.
        self.bc: BCSession | None = None
        if self.kind == "businesscentral":
            from .bc import open_session

            # The config's service root becomes the surface root; the URL's company becomes Company=.
            self.config, self.bc = open_session(config, lambda: self.transport)
        self._token_callback = token_callback
        self._token_source: Any = None
        self._transport: Any = None
        self._catalog: Any = None
        self._plan_cache = PlanCache()
        self._writes: WriteExecutor | None = None

    # -- rooms, lazily ------------------------------------------------------------------------

    @property
    def token_source(self) -> Any:
        if self._token_source is None:
            from .auth import token_source_for

            self._token_source = token_source_for(self.config, on_refresh_token=self._token_callback)
        return self._token_source

    @property
    def transport(self) -> Any:
        if self._transport is None:
            from .transport import Transport

            self._transport = Transport(self.config, self.token_source)
        return self._transport

    @property
    def catalog(self) -> Any:
        if self._catalog is None:
            from .catalog import open_catalog

            self._catalog = open_catalog(self.config, self.kind, self.transport)
            if self.bc is not None and self.bc.surface == "odatav4":
                from .bc import CompanyAliasCatalog

                self._catalog = CompanyAliasCatalog(self._catalog, self.bc.company_table)
        return self._catalog

    @property
    def writes(self) -> WriteExecutor:
        if self._writes is None:
            from .writes import WriteExecutor

            if self.bc is not None:
                from .bc.executor import BCWriteExecutor

                self._writes = BCWriteExecutor(self)
            else:
                self._writes = WriteExecutor(self)
        return self._writes

    # -- statements ---------------------------------------------------------------------------

    def execute(self, sql: str, params: Params, *, autocommit: bool) -> Result:
        keyword = statement_keyword(sql)
        if keyword in ("SELECT", "WITH", "VALUES", "TABLE", "FROM"):
            return self._select(sql, params)
        if keyword == "EXPLAIN":
            return self._explain(sql, params)
        if keyword in ("INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT"):
            return self.writes.execute(sql, [params], autocommit=autocommit, many=False)
        if keyword in ("CALL", "EXEC", "EXECUTE"):
            return self._call_statement(sql, params)
        if not keyword:
            raise exc.ProgrammingError("empty statement")
        if keyword in _OTHER_SQL_STATEMENTS:
            raise exc.NotSupportedError(
                f"{keyword} statements are not supported: d365conn runs SELECT, EXPLAIN and CALL"
            )
        raise exc.ProgrammingError(
            f"syntax error at line 1: {keyword!r} does not start a statement d365conn knows "
            "(SELECT, WITH, EXPLAIN, CALL)"
        )

    def executemany(self, sql: str, params_list: Sequence[Params], *, autocommit: bool) -> Result:
        keyword = statement_keyword(sql)
        if keyword in ("INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT"):
            return self.writes.execute(sql, params_list, autocommit=autocommit, many=True)
        raise exc.ProgrammingError(
            "executemany() is for INSERT, UPDATE, DELETE and MERGE; use execute() for queries"
        )

    def _plan(self, sql: str, params: Params) -> Any:
        plan = self._plan_cache.plan(
            sql,
            params,
            self.catalog,
            self.capabilities,
            dialect=self.config.sql_dialect,
            page_size=self.config.page_size or None,
        )
        # Plans are cached without a company; Business Central scans are scoped to the current one here.
        return self.bc.scope(plan) if self.bc is not None else plan

    def _deadline(self) -> float | None:
        timeout = self.config.statement_timeout
        return time.monotonic() + timeout if timeout > 0 else None

    def _select(self, sql: str, params: Params) -> Result:
        from .execute import run_plan

        plan = self._plan(sql, params)
        columns, rows, on_close = run_plan(self, plan, deadline=self._deadline())
        return Result(columns=columns, rows=rows, on_close=on_close)

    def _explain(self, sql: str, params: Params) -> Result:
        text = _LEADING_COMMENTS.sub("", sql, count=1)
        inner = re.sub(r"^\s*EXPLAIN\b", "", text, count=1, flags=re.IGNORECASE)
        if statement_keyword(inner) in ("INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT"):
            lines = self.writes.explain(inner, params)
        else:
            # The planner reads EXPLAIN itself.
            lines = self._plan(text, params).explain(self.config.service_root)
        col = ColumnInfo("plan", "Edm.String", display_size_for("Edm.String", None, None))
        return Result(columns=[col], rows=iter([(line,) for line in lines]))

    def _call_statement(self, sql: str, params: Params) -> Result:
        match = re.match(r"^\s*(?:CALL|EXEC|EXECUTE)\s+([A-Za-z_][A-Za-z0-9_]*)", sql, re.IGNORECASE)
        if match is None:
            raise exc.ProgrammingError("CALL needs a procedure name: CALL GetOAuthAuthorizationURL")
        return self.callproc(match.group(1), params)

    def callproc(self, name: str, params: Params) -> Result:
        from .auth.procedures import call_procedure

        names, rows = call_procedure(self.config, name, params or ())
        columns = [ColumnInfo(n, "Edm.String", None) for n in names]
        return Result(columns=columns, rows=iter(rows), rowcount=len(rows))

    # -- transactions (the queue lives in writes/executor.py) -----------------------------------

    def pending_writes(self) -> int:
        return self._writes.pending() if self._writes is not None else 0

    def check_writable_transactions(self) -> None:
        """Turning autocommit off is allowed: DML is queued until commit() (docs/writes.md)."""

    def commit(self) -> None:
        """Send the queued writes as atomic change sets."""
        if self._writes is not None:
            self._writes.commit()

    def rollback(self) -> None:
        """Discard the queued writes."""
        if self._writes is not None:
            self._writes.rollback()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
