"""Side-by-side benchmarks of keras_monitored: `python -m benchmarks` (see
benchmarks/run.py and docs/benchmarks.md)."""
