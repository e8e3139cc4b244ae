"""Cases 4-6 of issue 9: translation, memory, load (and the sandbox's data generation speed).

- Case 4 reuses benchmarks/bench_plan.py's statement, catalog and timer: SQL -> plan cold and with
  the plan cache, against ``sqlglot.parse_one`` alone as the baseline (absolute targets: < 1 ms, < 50 us).
- Case 5 generates a sandbox store (rows/s of the generator is reported, issue 3), then a child
  process (benchmarks/memory_child.py) streams every row with ``fetchmany(10_000)`` and reports the
  growth of its peak RSS; two more children keep the result of ``fetchall()`` and ``fetch_df()``
  and report bytes per row.
- Case 6 reuses benchmarks/bench_load.py's ``timed``: 10,000 rows by ``executemany`` (``$batch``)
  versus one request per row (timed on fewer rows and scaled), 20 ms latency.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlglot

from benchmarks.common import DATA, Figure
from d365conn.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def case4(runs: int, iterations: int) -> list[Figure]:
    from benchmarks import bench_plan as bp
    from d365conn.planner import PlanCache, capabilities_for, plan_statement

    catalog = bp._catalog()
    caps = capabilities_for("dataverse")
    cache = PlanCache()
    cache.plan(bp.SQL, None, catalog, caps)
    cold_iterations = max(iterations // 10, 50)
    parse = bp._median_us(lambda: sqlglot.parse_one(bp.SQL, read="tsql"), runs, cold_iterations)
    cold = bp._median_us(lambda: plan_statement(bp.SQL, None, catalog, caps), runs, cold_iterations)
    cached = bp._median_us(lambda: cache.plan(bp.SQL, None, catalog, caps), runs, iterations)
    base = "sqlglot.parse_one of the same statement alone"
    return [
        Figure(
            "4",
            "plan 10-col query, cold",
            cold,
            "us",
            parse,
            base,
            parse / cold,
            "< 1000 us",
            cold < 1000,
            runs,
        ),
        Figure(
            "4",
            "plan 10-col query, plan cache hit",
            cached,
            "us",
            parse,
            base,
            parse / cached,
            "< 50 us",
            cached < 50,
            runs,
        ),
    ]


def _child(mode: str, rows: int, cs: str) -> dict[str, int]:
    env = {**os.environ, "D365CONN_BENCH_CS": cs, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory_child", mode, str(rows)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=1800,
    )
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def case5(rows: int, held_rows: int, seed: int = 11, generation_rows: int = 100_000) -> list[Figure]:
    from d365conn.sandbox.launcher import prepare_store

    # Generation speed on a fresh store of its own; the big store is kept between runs (DATA).
    directory = tempfile.mkdtemp(prefix="d365conn-bench-")
    try:
        started = time.perf_counter()
        store, _ = prepare_store(generation_rows, seed, directory)
        generation = time.perf_counter() - started
        store.close_connections()
        del store
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    figures = [Figure(
        "5", f"sandbox data generation, {generation_rows:,} accounts", generation_rows / generation, "rows/s",
        note=f"{generation:.1f} s incl. contacts/opportunities and indexes (issue 3)",
    )]
    data_dir = DATA / f"accounts-{rows}-seed{seed}"
    data_dir.mkdir(parents=True, exist_ok=True)
    with Sandbox(rows=rows, seed=seed, process=True, data_dir=str(data_dir)) as sb:
        stream = _child("stream", rows, sb.connection_string)
        mb = stream["peak_growth"] / 1e6
        figures.append(Figure("5", f"fetchmany(10_000) over {stream['rows']:,} rows: peak RSS growth", mb,
                              "MB", target="< 50 MB", met=mb < 50,
                              note="peak RSS (VmHWM, reset before the read) minus RSS before it, in a child "
                                   "process", extra=stream))
        for mode, label in (("fetchall", "fetchall()"), ("df", "fetch_df()")):
            held = _child(mode, held_rows, sb.connection_string)
            per_row = held["held"] / held["rows"]
            note = "RSS held after the read / rows"
            if held.get("pandas_deep"):
                note += f"; pandas memory_usage(deep=True) = {held['pandas_deep'] / held['rows']:.0f} B/row"
            figures.append(Figure("5", f"{label} of {held['rows']:,} x 34 cols: memory", per_row, "B/row",
                                  note=note, extra=held))
    return figures


def case6(rows: int, baseline_rows: int, runs: int, latency: float = 20.0) -> list[Figure]:
    from benchmarks.bench_load import timed

    with Sandbox(rows=200, process=True, latency_ms=latency) as sb:
        per_row = timed(sb.connection_string, "r", many=False, count=baseline_rows, runs=runs, bulk="auto")
        per_row_full = per_row * rows / baseline_rows
        batch = timed(sb.connection_string, "b", many=True, count=rows, runs=runs, bulk="false")
        bulk = timed(sb.connection_string, "m", many=True, count=rows, runs=runs, bulk="true")
    base = f"one INSERT per row ({baseline_rows} rows timed, scaled to {rows:,})"
    return [
        Figure(
            "6",
            f"executemany {rows:,} rows, $batch, {latency:g} ms latency",
            rows / batch,
            "rows/s",
            rows / per_row_full,
            base,
            per_row_full / batch,
            ">= 20x",
            per_row_full / batch >= 20,
            runs,
        ),
        Figure(
            "6",
            f"executemany {rows:,} rows, CreateMultiple",
            rows / bulk,
            "rows/s",
            rows / per_row_full,
            base,
            per_row_full / bulk,
            ">= 20x",
            per_row_full / bulk >= 20,
            runs,
        ),
    ]
