"""HTTP transport: one keep-alive session per connection, retries, paging, typed scans.

Owns: everything between a URL and typed rows. :class:`Transport` sends requests (auth header,
retry policy, error mapping); :func:`scan_rows` follows a plan Scan through every page and hands
back tuples converted by :mod:`d365conn.values`. Nothing here knows SQL or the catalog.
"""

from __future__ import annotations

from ..values.encode import encode_json
from .client import Transport
from .paging import ANNOTATIONS, Page, PageStream, iter_pages, prefer_header, scan_batches, scan_rows
from .retry import Deadline, RetryPolicy

__all__ = [
    "ANNOTATIONS",
    "Deadline",
    "Page",
    "PageStream",
    "RetryPolicy",
    "Transport",
    "encode_json",
    "iter_pages",
    "prefer_header",
    "scan_batches",
    "scan_rows",
]
