"""Shared pieces of the benchmark runner: timing, figures, the machine, the printed table, JSON results.

A :class:`Figure` is one line of the table: what was measured (median of several runs), the
baseline measured in the same run, their ratio oriented so that above 1.0 is better for d365conn,
and the target from issue 9. Benchmarks print; they never assert.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(os.environ.get("D365CONN_BENCH_DATA", Path.home() / ".cache" / "d365conn-bench"))


@dataclass
class Figure:
    """One measured figure and its baseline. ``ratio`` is oriented: > 1.0 means d365conn does better."""

    case: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    runs: int = 1
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def median_seconds(fn: Callable[[], Any], runs: int, *, warmup: bool = True) -> tuple[float, Any]:
    """Median wall time of ``fn`` over ``runs`` runs (after one untimed warm-up), and its last result."""
    result = fn() if warmup else None
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def interleaved(fns: dict[str, Callable[[], Any]], runs: int) -> dict[str, tuple[float, Any]]:
    """Median time of each function, the runs interleaved (A B C, A B C, ...) so that a machine
    that gets busier or quieter during the measurement shifts every contender alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), results[name]) for name in fns}


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def versions() -> dict[str, str]:
    out = {}
    for dist in (
        "d365conn",
        "requests",
        "urllib3",
        "sqlglot",
        "sqlglotc",
        "duckdb",
        "pyarrow",
        "pandas",
        "orjson",
        "powerplatform-dataverse-client",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "versions": versions(),
        "load_average_at_start": load_average(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["memory_gb"] = round(int(mem[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit in ("rows/s", "B", "B/row", "MB", "rows"):
        return f"{value:,.0f} {unit}"
    if unit == "us":
        return f"{value:,.1f} us"
    if unit == "s":
        return f"{value:,.2f} s"
    return f"{value:,.3g} {unit}".strip()


def print_table(figures: list[Figure], info: dict[str, Any], runs: int, quick: bool) -> None:
    print()
    print(f"d365conn benchmarks{' (--quick)' if quick else ''}: medians of {runs} runs unless noted")
    print(
        f"machine: {info.get('cores')} cores ({info.get('cpu', '?')}), Python {info['python']}, "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    )
    header = (
        f"{'case':<6}{'figure':<44}{'d365conn':>18}{'baseline':>18}{'ratio':>8}  {'target':<10}{'met':<4}"
    )
    print(header)
    print("-" * len(header))
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        met = "-" if f.met is None else ("yes" if f.met else "no")
        print(
            f"{f.case:<6}{f.name[:43]:<44}{fmt(f.value, f.unit):>18}{fmt(f.baseline, f.unit):>18}"
            f"{ratio:>8}  {f.target:<10}{met:<4}"
        )
    notes = [f for f in figures if f.note or f.baseline_name]
    if notes:
        print("\nnotes:")
        for f in notes:
            base = f"baseline = {f.baseline_name}" if f.baseline_name else ""
            print(f"  {f.case} {f.name}: " + "; ".join(x for x in (base, f.note) if x))


def write_json(figures: list[Figure], info: dict[str, Any], args: dict[str, Any], seconds: float) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS / f"bench-{stamp}.json"
    document = {
        "when": stamp,
        "argv": sys.argv[1:],
        "args": args,
        "machine": info,
        "total_seconds": round(seconds, 1),
        "figures": [asdict(f) for f in figures],
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=2, default=str))
    return path
