"""Print the latest results (benchmarks/results/latest.json, or a given file) as a Markdown table,
for docs/performance.md: ``python -m benchmarks.report [results.json]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.common import RESULTS, fmt


def _load(values: list[float] | None) -> str:
    return "/".join(f"{v:.1f}" for v in values) if values else "?"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "latest.json"
    doc = json.loads(path.read_text())
    m = doc["machine"]
    minutes = doc["total_seconds"] / 60
    print(f"Run {doc['when']} ({minutes:.1f} min): {m['cores']} cores ({m.get('cpu', '?')}), "
          f"{m.get('memory_gb', '?')} GB, Python {m['python']}, "
          + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + "; load average (1/5/15 min) "
          f"{_load(m.get('load_average_at_start'))} at the start, "
          f"{_load(m.get('load_average_at_end'))} at the end.")
    print()
    print("| Case | Figure | d365conn | Baseline | Ratio | Target | Met |")
    print("|---|---|---:|---:|---:|---|---|")
    for f in doc["figures"]:
        ratio = f"{f['ratio']:.2f}x" if f["ratio"] is not None else "—"
        met = "—" if f["met"] is None else ("yes" if f["met"] else "**no**")
        base = fmt(f["baseline"], f["unit"]) if f["baseline"] is not None else "—"
        print(f"| {f['case']} | {f['name']} | {fmt(f['value'], f['unit'])} | {base} | {ratio} | "
              f"{f['target'] or '—'} | {met} |")


if __name__ == "__main__":
    main()
