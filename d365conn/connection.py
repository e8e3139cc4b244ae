"""PEP 249 Connection: the user's handle on one service.

Owns: the connection's life (open, close, context manager), transaction verbs (commit, rollback,
autocommit), creating cursors, and the PEP 249 "exceptions as attributes" extension. It never
touches HTTP: the :class:`~d365conn.service.Service` it holds does, lazily, on first use.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import exceptions as exc
from .config import Config, build_config

if TYPE_CHECKING:
    from collections.abc import Callable

    from .cursor import Cursor
    from .service import Service


class Connection:
    """A connection to one Dynamics 365 / OData service. Create it with :func:`connect`."""

    # PEP 249 optional extension: the exception classes as attributes of the connection.
    Warning = exc.Warning
    Error = exc.Error
    InterfaceError = exc.InterfaceError
    DatabaseError = exc.DatabaseError
    DataError = exc.DataError
    OperationalError = exc.OperationalError
    IntegrityError = exc.IntegrityError
    InternalError = exc.InternalError
    ProgrammingError = exc.ProgrammingError
    NotSupportedError = exc.NotSupportedError

    def __init__(self, config: Config, *, token_callback: Callable[[str], None] | None = None) -> None:
        self._config = config
        self._token_callback = token_callback
        self._service: Service | None = None
        self._closed = False
        self._autocommit = config.autocommit
        self._cursors: list[Cursor] = []

    # -- state --------------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The typed configuration (secrets hidden from its repr)."""
        return self._config

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise exc.InterfaceError("the connection is closed; open a new one with d365conn.connect()")

    @property
    def service(self) -> Service:
        """The service session behind this connection, created on first use."""
        self._check_open()
        if self._service is None:
            from .service import Service

            self._service = Service(self._config, token_callback=self._token_callback)
        return self._service

    # -- PEP 249 ------------------------------------------------------------------------------

    def cursor(self) -> Cursor:
        """A new cursor on this connection."""
        self._check_open()
        from .cursor import Cursor

        cur = Cursor(self)
        self._cursors.append(cur)
        return cur

    @property
    def company(self) -> str | None:
        """Business Central: the name of the company statements run in (resolved on first use);
        None for other services. Assign a name or id to switch company without reconnecting."""
        self._check_open()
        session = self.service.bc
        return session.company.name if session is not None else None

    @company.setter
    def company(self, value: str) -> None:
        self._check_open()
        session = self.service.bc
        if session is None:
            raise exc.NotSupportedError("companies exist on Business Central connections only")
        session.switch(value)

    @property
    def autocommit(self) -> bool:
        """True (default): each write applies at once. False: writes queue until commit()."""
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._check_open()
        if not value and self._service is not None:
            self._service.check_writable_transactions()
        if value and self._service is not None and self._service.pending_writes():
            raise exc.ProgrammingError(
                "commit() or rollback() the queued writes before turning autocommit on"
            )
        self._autocommit = bool(value)

    def commit(self) -> None:
        """Send queued writes as atomic change sets (autocommit off); a no-op when nothing is queued."""
        self._check_open()
        if self._service is not None:
            self._service.commit()

    def rollback(self) -> None:
        """Discard queued writes (autocommit off). Writes already applied cannot be undone."""
        self._check_open()
        if self._service is not None:
            self._service.rollback()

    def close(self) -> None:
        """Close the connection and its cursors. Queued, uncommitted writes are discarded."""
        if self._closed:
            return
        for cur in self._cursors:
            cur.close()
        self._cursors.clear()
        if self._service is not None:
            self._service.rollback()
            self._service.close()
            self._service = None
        self._closed = True

    def __enter__(self) -> Connection:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Like sqlite3 and psycopg: commit on success, roll back on error, then close.
        try:
            if not self._closed:
                if exc_type is None:
                    self.commit()
                else:
                    self.rollback()
        finally:
            self.close()

    def _forget_cursor(self, cur: Cursor) -> None:
        if cur in self._cursors:
            self._cursors.remove(cur)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<d365conn.Connection {state} {self._config.service_url}>"


def connect(
    connection_string: str | None = None,
    *,
    token_callback: Callable[[str], None] | None = None,
    **options: Any,
) -> Connection:
    """Open a connection.

    ``connection_string`` is a DataDirect-style ``key=value;`` string (default: the environment
    variable ``D365CONN_CONNECTION_STRING``); keyword ``options`` (any option name or alias,
    case-insensitive) override it. ``token_callback`` receives each new refresh token when the
    service rotates it, so a caller can store it. No request is sent until the first statement
    needs one.
    """
    return Connection(build_config(connection_string, **options), token_callback=token_callback)
