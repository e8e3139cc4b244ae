"""Child process of case 5: read from a sandbox and report resident memory from /proc (Linux).

Run by benchmarks/other.py as ``python -m benchmarks.memory_child <mode> <rows>`` with the connection
string in the environment variable ``D365CONN_BENCH_CS`` (never on the command line: it holds the
sandbox's client secret). Prints one JSON line.

Modes: ``stream`` reads every row with ``fetchmany(10_000)`` and keeps none; ``fetchall`` and ``df``
keep the whole result (Python tuples, a pandas DataFrame) and report the memory it holds.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

import d365conn
from benchmarks.extract import PAGE, SQL_COLUMNS


def status(field: str) -> int:
    """A field of /proc/self/status in bytes (VmRSS: now, VmHWM: peak since the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Make VmHWM start again from the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    mode, rows = sys.argv[1], int(sys.argv[2])
    sql = f"SELECT TOP {rows} {', '.join(SQL_COLUMNS)} FROM account"
    with d365conn.connect(os.environ["D365CONN_BENCH_CS"] + f"PageSize={PAGE};") as conn:
        cur = conn.cursor()
        cur.execute(sql.replace(f"TOP {rows}", "TOP 20000"))  # warm-up: imports, catalog, plan, pools
        if mode == "df":
            cur.fetch_df()
        else:
            cur.fetchall()
        gc.collect()
        reset_peak()
        start = status("VmRSS")
        cur.execute(sql)
        count = 0
        kept: object = None
        if mode == "stream":
            while batch := cur.fetchmany(10_000):
                count += len(batch)
        elif mode == "fetchall":
            kept = cur.fetchall()
            count = len(kept)  # type: ignore[arg-type]
        else:
            kept = cur.fetch_df()
            count = len(kept)  # type: ignore[arg-type]
        gc.collect()
        end = status("VmRSS")
        peak = status("VmHWM")
        deep = None
        if mode == "df":
            deep = int(kept.memory_usage(deep=True).sum())  # type: ignore[attr-defined]
    print(
        json.dumps(
            {
                "mode": mode,
                "rows": count,
                "start": start,
                "end": end,
                "peak": peak,
                "held": end - start,
                "peak_growth": peak - start,
                "pandas_deep": deep,
            }
        )
    )


if __name__ == "__main__":
    main()
