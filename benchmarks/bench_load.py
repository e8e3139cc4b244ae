"""Load benchmark: 10,000 inserted rows via ``executemany`` versus one request per row (issue 6).

The sandbox runs in a child process (its own interpreter, so its work does not share our GIL) with
20 ms of latency injected on every Web API request -- a round trip to a real Dataverse region is of
that order. Three ways of inserting the same rows are timed, each the median of ``--runs`` runs:

- ``per row``: ``cursor.execute("INSERT ...")`` once per row (one POST each). Timing 10,000 of
  these would take minutes, so it is measured on ``--baseline-rows`` rows and extrapolated
  linearly to ``--rows`` (each row is an independent POST of the same size, so the cost is linear);
  the printout says so.
- ``executemany ($batch)``: ``cursor.executemany`` with ``UseBulkActions=false``: change sets of
  ``BatchSize`` (1,000) requests in one multipart ``$batch`` each.
- ``executemany (CreateMultiple)``: ``UseBulkActions=true``: one bulk action call per 1,000 rows.

Run: ``python benchmarks/bench_load.py [--rows 10000] [--baseline-rows 300] [--runs 3]``.
Prints the times and the ratios (target: executemany >= 20x faster); asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal

import d365conn
from d365conn.sandbox import Sandbox

SQL = "INSERT INTO account (name, accountnumber, revenue, industrycode, numberofemployees) VALUES (?, ?, ?, ?, ?)"


def rows_for(run: str, count: int) -> list[tuple[object, ...]]:
    return [(f"Load {run} {i}", f"{run}-{i}", Decimal(f"{i}.25"), 1 + i % 3, i) for i in range(count)]


def timed(connection_string: str, label: str, many: bool, count: int, runs: int, **options: object) -> float:
    """Median seconds to insert ``count`` rows, over ``runs`` runs (each on a fresh, warmed connection)."""
    times = []
    for run in range(runs):
        with d365conn.connect(connection_string, **options) as conn:  # type: ignore[arg-type]
            cur = conn.cursor()
            cur.execute("SELECT TOP 1 accountid FROM account")  # token, catalog: not part of the load
            if not many:
                cur.execute(SQL, rows_for(f"w{label}{run}", 1)[0])  # first write of the statement: template cached
            rows = rows_for(f"{label}{run}", count)
            insert: Callable[[], None]
            if many:
                def insert() -> None:
                    cur.executemany(SQL, rows)
            else:
                def insert() -> None:
                    for row in rows:
                        cur.execute(SQL, row)
            started = time.perf_counter()
            insert()
            times.append(time.perf_counter() - started)
            if many and cur.rowcount != count:
                raise SystemExit(f"{label}: rowcount {cur.rowcount}, expected {count}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--baseline-rows", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=20.0, help="ms injected per Web API request")
    args = parser.parse_args()
    with Sandbox(rows=200, process=True, latency_ms=args.latency) as sb:
        per_row = timed(sb.connection_string, "r", False, args.baseline_rows, args.runs)
        per_row_full = per_row * args.rows / args.baseline_rows
        batch = timed(sb.connection_string, "b", True, args.rows, args.runs, UseBulkActions="false")
        bulk = timed(sb.connection_string, "m", True, args.rows, args.runs, UseBulkActions="true")
    print(f"d365conn load benchmark -- Python {platform.python_version()} on {sys.platform}; "
          f"sandbox in a child process, {args.latency:g} ms latency per request; median of {args.runs} runs")  # fmt: skip
    print(f"{'method':<32}{'rows':>8}{'seconds':>10}{'rows/s':>10}{'speed-up':>10}")
    print(f"{'per row, measured':<32}{args.baseline_rows:>8}{per_row:>10.2f}{args.baseline_rows / per_row:>10.0f}{'':>10}")
    print(f"{'per row, extrapolated':<32}{args.rows:>8}{per_row_full:>10.2f}{args.rows / per_row_full:>10.0f}"
          f"{'1.0x':>10}")  # fmt: skip
    for label, seconds in (("executemany ($batch)", batch), ("executemany (CreateMultiple)", bulk)):
        print(f"{label:<32}{args.rows:>8}{seconds:>10.2f}{args.rows / seconds:>10.0f}"
              f"{per_row_full / seconds:>9.1f}x")  # fmt: skip
    print(f"(per-row time for {args.rows} rows is extrapolated linearly from {args.baseline_rows} measured rows)")


if __name__ == "__main__":
    main()
