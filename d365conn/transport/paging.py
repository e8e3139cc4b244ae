"""Following ``@odata.nextLink`` to the end, and turning a plan's Scan into typed rows.

Owns: the paging protocol and :func:`scan_rows`.

- Every page request carries the same ``Prefer`` header -- ``odata.maxpagesize=N`` and, when the
  scan needs labels, the annotation preference -- because Dataverse forgets both on pages it is
  not told again (labels missing from page 2 on is a well-known pain).
- The next link is followed unchanged. A failed page is retried by the transport from the same
  link, so no row is read twice or skipped.
- A :class:`PageStream` fetches at most one page ahead, and only when asked: ``scan_rows`` asks
  for page N+1 when it starts decoding page N -- unless the scan's limit is already within reach
  -- so decoding overlaps the next download, and no request is made for rows nobody needs.
  The prefetch runs in a daemon thread that stops (its result discarded, its retries cut short)
  when the stream is closed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urljoin

from .. import exceptions as exc
from ..planner.plan import Scan
from ..values.jsonpage import Envelope, PageDecoder, PageRows, loads_exact, split_envelope

if TYPE_CHECKING:
    import pyarrow as pa

    from .client import Transport


class _Page(Protocol):
    def __len__(self) -> int: ...
    def __getitem__(self, index: slice, /) -> Any: ...


_PageT = TypeVar("_PageT", bound=_Page)

#: The annotations a scan needs for ``<x>name`` (labels, lookup names) and ``<x>type`` (lookup
#: target table) columns -- narrower than "*" so pages carry no annotation nobody reads.
ANNOTATIONS = "OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"


@dataclass
class Page:
    """One page of a collection: rows as dicts (decimals exact), the next link, ``@odata.count``."""

    rows: list[dict[str, Any]]
    next_link: str | None
    count: int | None
    raw_bytes: int


@dataclass
class RawPage:
    """One page as fetched: the envelope (rows not yet decoded) and its size."""

    url: str
    envelope: Envelope
    raw_bytes: int


def prefer_header(*, annotations: bool | str, page_size: int | None) -> dict[str, str]:
    """The ``Prefer`` header sent with every page of a query (empty when nothing is preferred).

    ``annotations`` is True for :data:`ANNOTATIONS`, or the comma list of the ones wanted."""
    preferences = []
    if page_size:
        preferences.append(f"odata.maxpagesize={page_size}")
    if annotations:
        wanted = ANNOTATIONS if annotations is True else annotations
        preferences.append(f'odata.include-annotations="{wanted}"')
    return {"Prefer": ",".join(preferences)} if preferences else {}


def annotations_for(scan: Scan) -> bool | str:
    """The annotations a scan's columns read (``<x>name`` reads FormattedValue only, ``<x>type`` the
    lookup's logical name), so no page carries one nobody reads; True (:data:`ANNOTATIONS`) when
    the scan asks for annotations without naming them in its columns."""
    if not scan.annotations:
        return False
    terms = sorted({part.split("@", 1)[1] for c in scan.columns for part in c.path if "@" in part[1:]})
    return ",".join(terms) if terms else True


class _Fetch:
    """One page being fetched in a daemon thread."""

    def __init__(self, stream: PageStream, url: str) -> None:
        self.url = url
        self._done = threading.Event()
        self._page: RawPage | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(stream,), name="d365conn-prefetch", daemon=True).start()

    def _run(self, stream: PageStream) -> None:
        try:
            self._page = stream.fetch(self.url)
        except BaseException as problem:  # handed to the consumer, who raises it
            self._error = problem
        finally:
            self._done.set()

    def result(self) -> RawPage:
        self._done.wait()
        if self._error is not None:
            raise self._error
        if self._page is None:  # cannot happen: _run sets one of the two
            raise exc.InternalError("prefetch ended without a page")
        return self._page


class PageStream:
    """The pages of one query, in order. Iterate it; call :meth:`prefetch` to start fetching the
    page after the last one returned; :meth:`close` when done (or use ``with``)."""

    def __init__(
        self,
        transport: Transport,
        url: str,
        *,
        annotations: bool | str = False,
        page_size: int | None = None,
        deadline: float | None = None,
    ) -> None:
        self.transport = transport
        self.headers = prefer_header(annotations=annotations, page_size=page_size)
        self.deadline = deadline if deadline is not None else transport.statement_deadline()
        self._next_url: str | None = url
        self._pending: _Fetch | None = None
        self._cancel = threading.Event()
        self.pages = 0

    def fetch(self, url: str) -> RawPage:
        """GET one page (retried from the same URL), envelope split and checked complete."""
        response, envelope = self.transport.exchange(
            "GET", url, headers=self.headers, idempotent=True, deadline=self.deadline,
            parse=split_envelope, cancel=self._cancel,
        )  # fmt: skip
        if envelope is None:  # parse always returns one; keeps the type checker honest
            raise exc.InternalError("no page body")
        return RawPage(url, envelope, len(response.content))

    def prefetch(self) -> None:
        """Start fetching the next page in the background, if there is one and it isn't already."""
        if self._pending is None and self._next_url is not None and not self._cancel.is_set():
            self._pending = _Fetch(self, self._next_url)

    def __iter__(self) -> Iterator[RawPage]:
        return self

    def __next__(self) -> RawPage:
        if self._cancel.is_set():
            raise StopIteration
        if self._pending is not None:
            pending, self._pending = self._pending, None
            page = pending.result()
        elif self._next_url is not None:
            page = self.fetch(self._next_url)
        else:
            raise StopIteration
        self.pages += 1
        link = page.envelope.next_link
        # OData allows a relative next link (resolved against the request URL); Dataverse and
        # Business Central send absolute ones, which urljoin leaves unchanged.
        self._next_url = urljoin(page.url, link) if link else None
        if self._next_url == page.url:
            raise exc.InternalError(f"the service sent page {self.pages} again as its own next page: {link}")
        return page

    def close(self) -> None:
        """Stop: no further page is requested; a prefetch in flight is abandoned."""
        self._cancel.set()
        self._pending = None
        self._next_url = None

    def __enter__(self) -> PageStream:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def iter_pages(
    transport: Transport,
    url: str,
    *,
    annotations: bool = False,
    page_size: int | None = None,
    deadline: float | None = None,
) -> Iterator[Page]:
    """Pages with rows as dicts, strictly lazy (see :meth:`Transport.iter_pages`)."""
    with PageStream(
        transport, url, annotations=annotations, page_size=page_size, deadline=deadline
    ) as stream:
        for raw in stream:
            rows = raw.envelope.rows
            decoded: Any = rows if isinstance(rows, list) else loads_exact(rows)
            yield Page(decoded, raw.envelope.next_link, raw.envelope.count, raw.raw_bytes)


def scan_batches(
    transport: Transport,
    service_root: str,
    scan: Scan,
    *,
    page_size: int | None = None,
    deadline: float | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """The typed rows of a Scan, one list per page (for bulk consumers)."""
    decoder = PageDecoder(scan.columns, table=scan.table)
    return scan_pages(
        transport, service_root, scan, decoder.decode, lambda n: [(n,)],
        page_size=page_size, deadline=deadline,
    )  # fmt: skip


def scan_record_batches(
    transport: Transport,
    service_root: str,
    scan: Scan,
    schema: pa.Schema,
    fallback: Callable[[list[tuple[Any, ...]]], pa.RecordBatch],
    *,
    page_size: int | None = None,
    deadline: float | None = None,
) -> Iterator[pa.RecordBatch]:
    """The rows of a Scan as one Arrow record batch of ``schema`` per page, decoded column by column
    (``fallback`` builds a batch from typed tuples, for pages the columnar decoder leaves alone)."""
    from ..values.columnar import ColumnarDecoder

    decoder = ColumnarDecoder(scan.columns, schema, fallback, table=scan.table)
    return scan_pages(
        transport, service_root, scan, decoder.decode, lambda n: fallback([(n,)]),
        page_size=page_size, deadline=deadline,
    )  # fmt: skip


def scan_pages(
    transport: Transport,
    service_root: str,
    scan: Scan,
    decode: Callable[[PageRows, int], _PageT],
    count: Callable[[int], _PageT],
    *,
    page_size: int | None = None,
    deadline: float | None = None,
) -> Iterator[_PageT]:
    """A Scan's pages, each decoded by ``decode(rows, first_row)`` -- a list of tuples, or an Arrow
    record batch (:func:`scan_record_batches`): anything with ``len`` and ``[:n]``. ``count(n)``
    makes the one page of a ``/$count`` scan. ``decode`` may change what it returns between pages
    (the cursor switches a result to Arrow at its first fetch).
    """
    url = scan.query.url(service_root)
    if scan.kind == "count":
        yield count(_count(transport, url, scan, deadline))
        return
    limit = scan.limit
    if limit is not None and limit <= 0:
        return
    if limit is not None and page_size:
        # No page bigger than the rows wanted: Dataverse ignores $top under maxpagesize.
        page_size = min(page_size, limit)
    produced = 0
    # The collector is paused only while a page is decoded (inside the decoder), never for the
    # whole scan: an open cursor must not leave the user's process without a collector. A whole-scan
    # pause was measured and gave no gain in interleaved runs (docs/performance.md).
    with PageStream(
        transport, url, annotations=annotations_for(scan), page_size=page_size, deadline=deadline
    ) as stream:
        for page in stream:
            rows = page.envelope.rows
            del page  # the raw rows are freed once decoded, not kept while the batch is consumed
            if limit is None:
                stream.prefetch()  # fetch page N+1 while page N is decoded
            batch = decode(rows, produced + 1)
            del rows
            if limit is not None:
                remaining = limit - produced
                if len(batch) >= remaining:
                    if remaining:
                        yield batch[:remaining]
                    return  # the limit is reached: no further page is requested
                stream.prefetch()
            produced += len(batch)
            if batch:
                yield batch


def scan_rows(
    transport: Transport,
    service_root: str,
    scan: Scan,
    *,
    page_size: int | None = None,
    deadline: float | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Every typed row of a plan Scan, lazily; closing the iterator stops the paging."""
    for batch in scan_batches(transport, service_root, scan, page_size=page_size, deadline=deadline):
        yield from batch


def _count(transport: Transport, url: str, scan: Scan, deadline: float | None) -> int:
    """A bare-number ``/$count`` body (or a JSON number) as one int."""
    text = transport.get_text(url, deadline=deadline).strip()
    try:
        return int(text)
    except ValueError:
        raise exc.DataError(
            f"cannot read the row count of table {scan.table!r}: expected a number, got {text[:40]!r}"
        ) from None


__all__ = [
    "ANNOTATIONS",
    "Page",
    "PageStream",
    "RawPage",
    "iter_pages",
    "prefer_header",
    "scan_batches",
    "scan_pages",
    "scan_record_batches",
    "scan_rows",
]
