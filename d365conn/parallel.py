"""Running a partitioned scan: several range scans fetched at once by a bounded pool of threads.

Owns: :func:`partitioned_rows` (decide whether and how to split one Scan, using
:mod:`d365conn.partition`, and run the pieces), :func:`probe_bounds` (the two bound probes, sent
at the same time) and :func:`run_partitions` (the pool).

- At most ``MaxConcurrency`` partitions are read at the same time; each runs the transport's normal
  paging (which keeps one page in flight ahead of decoding), so one statement has at most twice
  that many requests open -- far below Dataverse's 52 concurrent requests per user. A throttled
  request (429) is retried by the transport after ``Retry-After``, inside its own worker.
- Unordered scans hand over pages as they arrive, through one bounded queue (workers wait when
  the reader is slow, so memory stays bounded). Ordered scans are read partition after
  partition, each with its own small queue; partitions are started in range order, so the one
  being read always has a worker and the pool cannot deadlock.
- Closing the row iterator (cursor closed early) stops every worker; the first error of any
  worker is raised to the reader and stops the rest.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from . import partition as part

if TYPE_CHECKING:
    from .planner.plan import Scan
    from .service import Service

Rows = Iterator[tuple[Any, ...]]
BatchSource = Callable[["Scan"], Iterator[list[tuple[Any, ...]]]]

#: Pages each ordered partition may hold before its worker waits for the reader.
_ORDERED_BUFFER_PAGES = 4
_DONE = object()


def partition_column(service: Service, scan: Scan) -> part.PartitionColumn | None:
    """The column to split ``scan`` on, from the ``PartitionColumn`` option and the catalog."""
    choice = service.config.partition_column or "auto"
    table = service.catalog.find_table(scan.table)
    if table is None:
        return None
    if choice.casefold() in ("auto", "key"):
        key = table.column(table.primary_key[0]) if len(table.primary_key) == 1 else None
        if service.kind == "dataverse" and key is not None and key.edm_type == "Edm.Guid":
            return part.PartitionColumn(key.property or key.name, "key", key.edm_type)
        if choice.casefold() == "key":
            return None  # SQL Server's GUID order is known for Dataverse keys only
        created = table.column("createdon")
        if created is not None and part.is_date_type(created.edm_type):
            return part.PartitionColumn(created.property or created.name, "date", created.edm_type)
        return None
    column = table.column(choice)
    if column is None or not part.is_date_type(column.edm_type) or not column.filterable:
        return None
    return part.PartitionColumn(column.property or column.name, "date", column.edm_type)


def plan_partitions(service: Service, scan: Scan, deadline: float | None) -> part.Partitioned | None:
    """The pieces of ``scan`` to run, or None to read it as one query."""
    count = service.config.scan_partitions
    if count < 2 or part.skip_reason(scan) is not None:
        return None
    column = partition_column(service, scan)
    if column is None or part.order_direction(scan, column) is None:
        return None
    values = probe_bounds(service, scan, column, deadline)
    if column.kind == "key":
        low, high = part.parse_guid(values[0]), part.parse_guid(values[1])
        if low is None or high is None:
            return None  # no rows: one plain query answers it
        return part.key_partitions(scan, column, count, low, high)
    low_date, high_date = (part.parse_bound(v, column.edm_type) for v in values)
    return part.date_partitions(scan, column, low_date, high_date, count)


def probe_bounds(
    service: Service, scan: Scan, column: part.PartitionColumn, deadline: float | None
) -> list[object]:
    """The smallest and largest value of the partition column (None where the scan has no rows),
    from the two probes of :func:`partition.bound_probes`, sent at the same time: the statement
    waits one round trip for its bounds, not two."""
    root = service.config.service_root
    urls = [probe.url(root) for probe in part.bound_probes(scan, column)]
    values: list[object] = [None] * len(urls)
    problems: list[BaseException] = []

    def probe(index: int) -> None:
        try:
            document = service.transport.get_json(urls[index], deadline=deadline)
        except BaseException as problem:  # raised below, in the statement's own thread
            problems.append(problem)
            return
        rows = document.get("value") if isinstance(document, dict) else None
        first = rows[0] if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}
        values[index] = first.get(column.property)

    others = [
        threading.Thread(target=probe, args=(i,), name="d365conn-probe", daemon=True)
        for i in range(1, len(urls))
    ]
    for thread in others:
        thread.start()
    probe(0)
    for thread in others:
        thread.join()
    if problems:
        raise problems[0]
    return values


def partitioned_rows(
    service: Service, scan: Scan, deadline: float | None, source: BatchSource
) -> Rows | None:
    """Rows of ``scan`` read as parallel partitions, or None when it is better read as one query."""
    pieces = plan_partitions(service, scan, deadline)
    if pieces is None:
        return None
    workers = max(1, min(service.config.max_concurrency, len(pieces.scans)))
    return run_partitions(pieces, source, workers=workers)


def run_partitions(pieces: part.Partitioned, source: BatchSource, *, workers: int) -> Rows:
    """Every row of every piece: in piece order when ``pieces.ordered``, else as pages arrive."""
    stop = threading.Event()
    scans = list(pieces.scans)
    if pieces.ordered:
        queues: list[queue.Queue[Any]] = [queue.Queue(_ORDERED_BUFFER_PAGES) for _ in scans]
    else:
        shared: queue.Queue[Any] = queue.Queue(2 * workers)
        queues = [shared] * len(scans)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(scans)):
        todo.put(index)

    def put(q: queue.Queue[Any], item: Any) -> bool:
        """Hand ``item`` over, waiting for room; False when the reader has gone."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        while not stop.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            batches = source(scans[index])
            try:
                for batch in batches:
                    if not put(queues[index], batch):
                        return
                put(queues[index], _DONE)
            except BaseException as problem:  # handed to the reader, who raises it
                put(queues[index], problem)
                return
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()

    threads = [
        threading.Thread(target=work, name=f"d365conn-partition-{i}", daemon=True) for i in range(workers)
    ]
    for thread in threads:
        thread.start()

    return _PartitionRows(queues if pieces.ordered else queues[:1], len(scans), pieces.ordered, stop)


class _PartitionRows:
    """The reader's side: an iterator whose ``close()`` (or exhaustion, or an error) stops the workers."""

    def __init__(
        self, queues: list[queue.Queue[Any]], pieces: int, ordered: bool, stop: threading.Event
    ) -> None:
        self._stop = stop
        self._rows = self._read(queues, pieces, ordered)

    def _read(
        self, queues: list[queue.Queue[Any]], pieces: int, ordered: bool
    ) -> Generator[tuple[Any, ...], None, None]:
        try:
            if ordered:
                for q in queues:
                    yield from _drain(q, 1)
            else:
                yield from _drain(queues[0], pieces)
        finally:
            self._stop.set()

    def __iter__(self) -> _PartitionRows:
        return self

    def __next__(self) -> tuple[Any, ...]:
        return next(self._rows)

    def close(self) -> None:
        self._stop.set()
        self._rows.close()

    def __del__(self) -> None:  # an abandoned reader must not leave workers polling forever
        self._stop.set()


def _drain(q: queue.Queue[Any], pieces: int) -> Rows:
    """Rows from ``q`` until ``pieces`` end markers have arrived; a worker's error is raised."""
    remaining = pieces
    while remaining:
        item = q.get()
        if item is _DONE:
            remaining -= 1
        elif isinstance(item, BaseException):
            raise item
        else:
            yield from item


__all__ = ["partition_column", "partitioned_rows", "plan_partitions", "probe_bounds", "run_partitions"]
