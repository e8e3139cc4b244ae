"""d365conn's benchmark suite (issue 9): ``python -m benchmarks [--quick]`` runs every case. See run.py."""
