"""Run every benchmark case of issue 9 and print one table; results also go to benchmarks/results/.

    python -m benchmarks            # full sizes (about 15 minutes on 2 cores)
    python -m benchmarks --quick    # smaller sizes, a few minutes
    python -m benchmarks --cases 1,3 --runs 5

Every sandbox runs in a child process, so client and server never share an interpreter. Each
figure is the median of ``--runs`` runs (after one warm-up) next to a baseline measured in the same
run; the ratio is oriented so that above 1.0 means d365conn is better. The targets are issue 9's.
Benchmarks print; they never assert. Cases:

1 full extract vs a bare requests+json loop (extract.py)    5 memory and data generation (other.py)
2 Microsoft's SDK for Dataverse (sdk.py)                    6 load: executemany vs one row at a time
3 partitioned parallel scan vs sequential, 50 ms latency    7 pushdown efficiency (pushdown.py)
4 translation, cold and cached (bench_plan.py's statement)
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable

from benchmarks.common import Figure, load_average, machine, print_table, write_json

FULL = {
    "extract": 200_000,
    "memory": 1_000_000,
    "held": 200_000,
    "load": 10_000,
    "load_base": 300,
    "pushdown": 5_000,
    "iterations": 2000,
}
QUICK = {
    "extract": 20_000,
    "memory": 100_000,
    "held": 20_000,
    "load": 1_000,
    "load_base": 100,
    "pushdown": 1_000,
    "iterations": 500,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--cases", default="1,2,3,4,5,6,7", help="comma-separated case numbers")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    which = {c.strip() for c in args.cases.split(",") if c.strip()}
    info = machine()
    started = time.perf_counter()
    figures: list[Figure] = []

    def step(label: str, fn: Callable[[], list[Figure]]) -> None:
        print(f"{label}...", flush=True)
        t = time.perf_counter()
        try:
            figures.extend(fn())
        except Exception as problem:  # one broken case must not hide the others' figures
            traceback.print_exc()
            figures.append(
                Figure(label.split()[1], label, 0.0, "", note=f"failed: {type(problem).__name__}: {problem}")
            )
        print(f"  ({time.perf_counter() - t:.0f} s)", flush=True)

    if which & {"1", "2", "3"}:
        from benchmarks.extract import run_cases

        step(
            f"cases {','.join(sorted(which & {'1', '2', '3'}))} (extract, {sizes['extract']:,} rows)",
            lambda: run_cases(sizes["extract"], args.runs, which),
        )
    if "4" in which:
        from benchmarks.other import case4

        step("case 4 (translation)", lambda: case4(args.runs * 2 + 1, sizes["iterations"]))
    if "5" in which:
        from benchmarks.other import case5

        step(f"case 5 (memory, {sizes['memory']:,} rows)", lambda: case5(sizes["memory"], sizes["held"]))
    if "6" in which:
        from benchmarks.other import case6

        step(
            f"case 6 (load, {sizes['load']:,} rows)",
            lambda: case6(sizes["load"], sizes["load_base"], args.runs),
        )
    if "7" in which:
        from benchmarks.pushdown import case7

        step("case 7 (pushdown, 30 queries)", lambda: case7(sizes["pushdown"]))
    seconds = time.perf_counter() - started
    info["load_average_at_end"] = load_average()
    print_table(figures, info, args.runs, args.quick)
    path = write_json(figures, info, {**vars(args), "sizes": sizes}, seconds)
    print(f"\ntotal {seconds / 60:.1f} min; results written to {path}")


if __name__ == "__main__":
    main()
