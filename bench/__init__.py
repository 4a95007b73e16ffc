"""Benchmarks: each module has `main(argv=None)` that prints its figures. `python -m bench` runs them all."""
