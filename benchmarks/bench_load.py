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
from decimal import Decimal

import d365conn
from d365conn.sandbox import Sandbox

SQL = (
    "INSERT INTO account (name, accountnumber, revenue, industrycode, numberofemployees) "
    "VALUES (?, ?, ?, ?, ?)"
)


def rows_for(run: str, count: int) -> list[tuple[object, ...]]:
    return [(f"Load {run} {i}", f"{run}-{i}", Decimal(f"{i}.25"), 1 + i % 3, i) for i in range(count)]


def _insert(cur: d365conn.Cursor, rows: list[tuple[object, ...]], many: bool) -> None:
    if many:
        cur.executemany(SQL, rows)
        return
    for row in rows:
        cur.execute(SQL, row)


def timed(connection_string: str, label: str, *, many: bool, count: int, runs: int, bulk: str) -> float:
    """Median seconds to insert ``count`` rows, over ``runs`` runs (each on a fresh, warmed connection);
    ``bulk`` is the UseBulkActions option."""
    times = []
    for run in range(runs):
        with d365conn.connect(connection_string, UseBulkActions=bulk) as conn:
            cur = conn.cursor()
            cur.execute("SELECT TOP 1 accountid FROM account")  # token, catalog: not part of the load
            if not many:
                cur.execute(SQL, rows_for(f"w{label}{run}", 1)[0])  # the statement's template is cached
            rows = rows_for(f"{label}{run}", count)
            started = time.perf_counter()
            _insert(cur, rows, many)
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
        per_row = timed(
            sb.connection_string, "r", many=False, count=args.baseline_rows, runs=args.runs, bulk="auto"
        )
        per_row_full = per_row * args.rows / args.baseline_rows
        batch = timed(sb.connection_string, "b", many=True, count=args.rows, runs=args.runs, bulk="false")
        bulk = timed(sb.connection_string, "m", many=True, count=args.rows, runs=args.runs, bulk="true")
    print(
        f"d365conn load benchmark -- Python {platform.python_version()} on {sys.platform}; sandbox in a "
        f"child process, {args.latency:g} ms latency per request; median of {args.runs} runs"
    )
    print(f"{'method':<32}{'rows':>8}{'seconds':>10}{'rows/s':>10}{'speed-up':>10}")
    table = [
        ("per row, measured", args.baseline_rows, per_row, ""),
        ("per row, extrapolated", args.rows, per_row_full, "1.0x"),
        ("executemany ($batch)", args.rows, batch, f"{per_row_full / batch:.1f}x"),
        ("executemany (CreateMultiple)", args.rows, bulk, f"{per_row_full / bulk:.1f}x"),
    ]
    for label, rows, seconds, ratio in table:
        print(f"{label:<32}{rows:>8}{seconds:>10.2f}{rows / seconds:>10.0f}{ratio:>10}")
    print(
        f"(per-row time for {args.rows} rows: extrapolated linearly from {args.baseline_rows} measured rows)"
    )


if __name__ == "__main__":
    main()
