"""``python -m benchmarks``: run every case and print one table (see benchmarks/run.py)."""

from __future__ import annotations

from benchmarks.run import main

main()
