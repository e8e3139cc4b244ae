"""A one-line progress display on standard error for long reads: rows, pages, time, rate.

Owns: :class:`Progress`. It draws only on a terminal (or when forced), only once a read has taken
longer than ``delay`` seconds -- short queries print nothing extra -- and redraws at most ten times
a second. Pages are the page requests the connection's transport sent since the statement's first
page (a retried page counts again). The line is erased when the read ends or is interrupted, so
what stays on the terminal is the output alone.
"""

from __future__ import annotations

import time
from typing import IO, Any

_SPINNER = "|/-\\"


class Progress:
    """Counts rows as they are written and shows them on ``stream`` when it is worth it."""

    def __init__(self, stream: IO[str], *, enabled: bool, transport: Any = None, delay: float = 0.5) -> None:
        self.stream = stream
        self.enabled = enabled
        self.transport = transport
        self.delay = delay
        self.rows = 0
        self.started = time.monotonic()
        self._requests_at_start = self._requests()
        self._last_draw = 0.0
        self._drawn = False
        #: Whether the line was ever drawn (the read was long enough): then a summary is worth printing.
        self.was_shown = False
        self._frame = 0

    def _requests(self) -> int:
        return int(getattr(self.transport, "requests_sent", 0) or 0)

    @property
    def pages(self) -> int:
        """Pages fetched so far: the first (read by execute) plus the requests sent since."""
        return 1 + max(0, self._requests() - self._requests_at_start)

    def add(self, rows: int) -> None:
        self.rows += rows
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.delay or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-9)
        self._frame = (self._frame + 1) % len(_SPINNER)
        pages = self.pages
        line = (f"{_SPINNER[self._frame]} {self.rows:,} rows  {pages:,} page{'s' if pages != 1 else ''}  "
                f"{elapsed:.1f} s  {self.rows / elapsed:,.0f} rows/s")
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self._drawn = self.was_shown = True

    def clear(self) -> None:
        """Erase the line (if one was drawn)."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def summary(self) -> str:
        elapsed = time.monotonic() - self.started
        pages = self.pages
        return f"{self.rows:,} rows, {pages:,} page{'s' if pages != 1 else ''} in {elapsed:.1f} s"
