"""PEP 249 Cursor: statements in, typed rows out.

Owns: the cursor protocol (execute, executemany, fetch*, description, rowcount, arraysize,
iteration, callproc, close). It holds no HTTP or SQL logic: it hands each statement to the
connection's :class:`~d365conn.service.Service` and pulls rows lazily from the
:class:`~d365conn.result.Result` it gets back, so rows nobody fetches are never requested.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import exceptions as exc
from .result import DescriptionRow, Result

if TYPE_CHECKING:
    from .connection import Connection

Params = Sequence[Any] | Mapping[str, Any] | None


class Cursor:
    """A cursor on a :class:`~d365conn.connection.Connection`."""

    def __init__(self, connection: Connection) -> None:
        self._connection: Connection | None = connection
        self._result: Result | None = None
        self._rows: Iterator[tuple[Any, ...]] = iter(())
        self._fetched = 0
        self._exhausted = True
        self.arraysize = 1
        self._rowcount = -1

    # -- PEP 249 attributes -------------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        """The connection this cursor belongs to (PEP 249 extension)."""
        return self._check_open()

    @property
    def description(self) -> tuple[DescriptionRow, ...] | None:
        """One 7-item sequence per result column, or None when the last statement returned no rows."""
        if self._result is None or not self._result.has_rows:
            return None
        return tuple(col.description() for col in self._result.columns)

    @property
    def rowcount(self) -> int:
        """Rows affected by the last write, or rows returned by the last SELECT once all are
        fetched; -1 while that is not known yet."""
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        """The primary key (a UUID on Dataverse) of the row the last INSERT created, else None."""
        return self._result.lastrowid if self._result is not None else None

    @property
    def rownumber(self) -> int | None:
        """0-based index of the next row in the result set (PEP 249 extension)."""
        return self._fetched if self._result is not None and self._result.has_rows else None

    @property
    def closed(self) -> bool:
        return self._connection is None

    # -- execution ----------------------------------------------------------------------------

    def _check_open(self) -> Connection:
        if self._connection is None:
            raise exc.InterfaceError("the cursor is closed")
        if self._connection.closed:
            raise exc.InterfaceError("the cursor's connection is closed")
        return self._connection

    def execute(self, operation: str, parameters: Params = None) -> Cursor:
        """Run one SQL statement. ``?`` placeholders take a sequence, ``:name`` ones a mapping."""
        conn = self._check_open()
        if not isinstance(operation, str):
            raise exc.ProgrammingError(f"the statement must be a str, not {type(operation).__name__}")
        _check_params(parameters)
        self._discard_result()
        result = conn.service.execute(operation, parameters, autocommit=conn.autocommit)
        self._set_result(result)
        return self

    def executemany(self, operation: str, seq_of_parameters: Sequence[Params] | Iterator[Params]) -> Cursor:
        """Run a statement once per parameter set; writes are sent in batches."""
        conn = self._check_open()
        if not isinstance(operation, str):
            raise exc.ProgrammingError(f"the statement must be a str, not {type(operation).__name__}")
        params_list = list(seq_of_parameters)
        for params in params_list:
            _check_params(params)
        self._discard_result()
        result = conn.service.executemany(operation, params_list, autocommit=conn.autocommit)
        self._set_result(result)
        return self

    def callproc(self, procname: str, parameters: Params = None) -> Params:
        """Call a driver procedure (GetOAuthAuthorizationURL, GetOAuthAccessToken,
        RefreshOAuthAccessToken); its result rows become fetchable. Returns the parameters."""
        conn = self._check_open()
        self._discard_result()
        self._set_result(conn.service.callproc(procname, parameters))
        return parameters

    def _set_result(self, result: Result) -> None:
        self._result = result
        self._rows = result.rows
        self._fetched = 0
        self._exhausted = not result.has_rows
        self._rowcount = result.rowcount if result.rowcount is not None else -1

    def _discard_result(self) -> None:
        if self._result is not None and not self._exhausted and self._result.on_close is not None:
            self._result.on_close()
        self._result = None
        self._rows = iter(())
        self._exhausted = True
        self._rowcount = -1

    # -- fetching -----------------------------------------------------------------------------

    def _check_rows(self) -> None:
        self._check_open()
        if self._result is None or not self._result.has_rows:
            raise exc.ProgrammingError("no result set: the last statement returned no rows (or none was run)")

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or None when there are no more."""
        self._check_rows()
        row = next(self._rows, None)
        if row is None:
            self._finish()
            return None
        self._fetched += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        """Up to ``size`` (default ``arraysize``) next rows."""
        self._check_rows()
        n = self.arraysize if size is None else size
        if n < 0:
            raise exc.ProgrammingError("fetchmany() size must not be negative")
        rows = list(itertools.islice(self._rows, n))
        self._fetched += len(rows)
        if len(rows) < n:
            self._finish()
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        """All remaining rows."""
        self._check_rows()
        rows = list(self._rows)
        self._fetched += len(rows)
        self._finish()
        return rows

    def _finish(self) -> None:
        if not self._exhausted:
            self._exhausted = True
            self._rowcount = self._fetched

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    # -- Arrow and pandas (the conversion lives in arrow.py) -----------------------------------

    def fetch_arrow_table(self) -> Any:
        """All remaining rows as a ``pyarrow.Table`` typed from ``description``."""
        from .arrow import arrow_table

        return arrow_table(self)

    def fetch_record_batches(self, batch_size: int = 65_536) -> Any:
        """The remaining rows as a lazy ``pyarrow.RecordBatchReader`` of ``batch_size``-row batches."""
        from .arrow import record_batch_reader

        return record_batch_reader(self, batch_size)

    def fetch_df(self, dtype_backend: str = "numpy_nullable") -> Any:
        """All remaining rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        from .arrow import dataframe

        return dataframe(self, dtype_backend)

    def _take_arrow(self, schema: Any, build: Any) -> Iterator[Any] | None:
        """The rest of the result as record batches built without tuples, or None when the Arrow
        methods must continue from the tuple path: the result offers no batches (see
        :attr:`Result.batches`), or rows were already fetched as tuples (one stream feeds one path,
        chosen at the first fetch). After this, the rows belong to the Arrow reader: fetchone()
        and friends see none."""
        self._check_rows()
        result = self._result
        if result is None or result.batches is None or self._fetched or self._exhausted:
            return None
        self._rows = iter(())
        return result.batches(schema, build)

    def _arrow_rows(self, count: int, *, done: bool = False) -> None:
        """Rows handed out by the Arrow path (keeps ``rownumber`` and ``rowcount`` right)."""
        self._fetched += count
        if done:
            self._finish()

    def nextset(self) -> bool | None:
        """d365conn statements produce one result set: always None (PEP 249)."""
        self._check_open()
        return None

    # -- no-ops PEP 249 requires ----------------------------------------------------------------

    def setinputsizes(self, sizes: Any) -> None:
        """Accepted and ignored: parameter types are taken from the values and the catalog."""
        self._check_open()

    def setoutputsize(self, size: Any, column: int | None = None) -> None:
        """Accepted and ignored: values are never truncated."""
        self._check_open()

    # -- life ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the cursor; pending pages of an unfinished result are not fetched."""
        if self._connection is None:
            return
        self._discard_result()
        conn, self._connection = self._connection, None
        conn._forget_cursor(self)

    def __enter__(self) -> Cursor:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<d365conn.Cursor {'closed' if self.closed else 'open'}>"


def _check_params(parameters: Params) -> None:
    if parameters is None or isinstance(parameters, Mapping):
        return
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Sequence):
        raise exc.ProgrammingError(
            "parameters must be a sequence (for ? placeholders) or a mapping (for :name placeholders), "
            f"not {type(parameters).__name__}"
        )
