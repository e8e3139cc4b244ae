"""Carrying out a plan: scans from the service, the local engine when needed, rows to the cursor.

Owns: the order of execution -- prerequisites (inner queries) first, then the scans, then the
plan's local SQL -- and the fallback when the service refuses a pushed-down aggregate for its
50,000-row limit. A plan the service answers entirely streams straight from the transport; only
plans with ``local_sql`` touch DuckDB.

The first row is read before ``execute()`` returns, so service errors (bad query, missing
privilege, aggregate limit) surface at execute time, as users of any database driver expect;
every later page is fetched only when the cursor asks for its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .engine import LocalColumn, LocalEngine
from .exceptions import QueryLimitError
from .result import ColumnInfo, display_size_for

if TYPE_CHECKING:
    from .planner.plan import Plan, ResultColumn, Scan
    from .service import Service

Rows = Iterator[tuple[Any, ...]]


def run_plan(
    service: Service, plan: Plan, *, deadline: float | None
) -> tuple[list[ColumnInfo], Rows, Callable[[], None]]:
    """Execute ``plan``; return its columns, a lazy row iterator and a function that stops it early."""
    try:
        return _run(service, plan, deadline)
    except QueryLimitError:
        if plan.fallback is None:
            raise
        return _run(service, plan.fallback, deadline)


def _run(
    service: Service, plan: Plan, deadline: float | None
) -> tuple[list[ColumnInfo], Rows, Callable[[], None]]:
    plan = _bind_prerequisites(service, plan, deadline)
    if plan.local_sql is None:
        if len(plan.scans) != 1:
            raise AssertionError("a plan without local SQL must have exactly one scan")  # planner contract
        columns = [_column_info(c) for c in plan.columns]
        scan = plan.scans[0]
        if service.config.scan_partitions <= 1 and len(scan.columns) == len(columns):
            dual = _DualRows(service, scan, deadline)
            return columns, dual, dual.close
        rows = _scan(service, scan, deadline)
        return columns, *_primed(rows)
    engine = LocalEngine(plan.collation)
    try:
        for scan in plan.scans:
            local_cols = [
                LocalColumn(c.name, c.edm_type, c.precision, c.scale, c.max_length, c.nullable)
                for c in scan.columns
            ]
            engine.load(scan.alias, local_cols, _scan(service, scan, deadline))
        if plan.catalog_relations:
            _load_catalog_relations(service, engine, plan)
        # DuckDB runs the query until its first rows are ready inside query(), so its errors surface
        # here without reading a row; the rows stay unread until the first fetch says in which form.
        columns, rows = engine.query(plan.local_sql)
    except BaseException:
        engine.close()
        raise
    return columns, rows, rows.close


def _scan(service: Service, scan: Scan, deadline: float | None) -> Rows:
    from .transport import scan_batches, scan_rows

    page_size = _page_size(service, scan)
    if service.config.scan_partitions > 1:  # ScanPartitions: big reads as parallel range queries
        from .parallel import partitioned_rows

        def batches(piece: Scan) -> Iterator[list[tuple[Any, ...]]]:
            return scan_batches(
                service.transport, service.config.service_root, piece, page_size=page_size, deadline=deadline
            )

        parallel = partitioned_rows(service, scan, deadline, batches)
        if parallel is not None:
            return parallel
    rows: Rows = scan_rows(
        service.transport, service.config.service_root, scan, page_size=page_size, deadline=deadline
    )
    return rows


def _page_size(service: Service, scan: Scan) -> int | None:
    return scan.page_size if scan.page_size is not None else service.config.page_size or None


class _DualRows:
    """A pushed-down scan's rows as tuples -- or, if the cursor's first fetch is an Arrow one,
    as record batches decoded column by column (``arrow_batches``). Both read the same pages.

    The first page is read (and decoded as tuples) now, so service errors surface in execute().
    """

    def __init__(self, service: Service, scan: Scan, deadline: float | None) -> None:
        from .transport.paging import scan_pages
        from .values.columnar import SwitchableDecoder

        # keep_first: an Arrow fetch that comes first re-reads page one's JSON column by column.
        self._decoder = SwitchableDecoder(scan.columns, table=scan.table, keep_first=True)
        self._pages = scan_pages(
            service.transport, service.config.service_root, scan, self._decoder.decode, self._decoder.count,
            page_size=_page_size(service, scan), deadline=deadline,
        )  # fmt: skip
        first = next(self._pages, None)
        self._first: list[tuple[Any, ...]] = first if isinstance(first, list) else []
        self._rows = self._iter_rows()

    def _iter_rows(self) -> Rows:
        self._decoder.tuples_taken()
        yield from self._first
        self._first = []
        for page in self._pages:
            yield from page  # tuples: arrow_batches was never called

    def __iter__(self) -> Rows:
        return self

    def __next__(self) -> tuple[Any, ...]:
        return next(self._rows)

    def arrow_batches(self, schema: Any, build: Callable[[list[tuple[Any, ...]]], Any]) -> Iterator[Any]:
        """The rows as record batches of ``schema``; only before any row was taken as a tuple."""
        self._decoder.to_arrow(schema, build)
        first, self._first = self._first, []
        self._rows = iter(())
        if first:
            yield self._decoder.first_batch(first)
        yield from self._pages

    def close(self) -> None:
        close = getattr(self._pages, "close", None)  # a generator: stops the page fetches
        if close is not None:
            close()


def _primed(rows: Rows) -> tuple[Rows, Callable[[], None]]:
    """Read the first row now (so errors surface in execute()), and return all rows lazily."""
    first = next(rows, None)

    def chained() -> Rows:
        if first is None:
            return
        yield first
        yield from rows

    def stop() -> None:
        close = getattr(rows, "close", None)
        if close is not None:
            close()

    return chained(), stop


def _bind_prerequisites(service: Service, plan: Plan, deadline: float | None) -> Plan:
    if not plan.prerequisites:
        return plan
    from .planner import resolve_prerequisites

    values: dict[str, list[Any]] = {}
    for pre in plan.prerequisites:
        _, rows, _ = run_plan(service, pre.plan, deadline=deadline)
        values[pre.placeholder] = [row[0] for row in rows]
    return resolve_prerequisites(plan, values)


def _load_catalog_relations(service: Service, engine: LocalEngine, plan: Plan) -> None:
    """Fill the INFORMATION_SCHEMA relations from the catalog.

    The catalog gives each view's rows in the column order the planner planned against (both read
    ``catalog.infoschema.VIEW_COLUMNS``), so the rows load as they are. Only the tables the
    statement restricts itself to are loaded (``plan.catalog_tables``): a real org has thousands
    of tables, and listing their columns would mean loading all their metadata.
    """
    from .planner import CATALOG_VIEWS
    from .planner.catalog_views import view_of

    views = service.catalog.information_schema_rows(plan.catalog_tables)
    for relation in plan.catalog_relations:
        _names, rows = views[view_of(relation)]
        engine.load(relation, [LocalColumn(name, edm) for name, edm in CATALOG_VIEWS[relation]], rows)


def _column_info(col: ResultColumn) -> ColumnInfo:
    return ColumnInfo(
        col.name,
        col.edm_type,
        display_size_for(col.edm_type, col.max_length, col.precision),
        col.max_length,
        col.precision,
        col.scale,
        col.nullable,
    )
