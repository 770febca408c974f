"""Benchmarks that print numbers: ``python -m bench.sse_load`` (see docs/PERFORMANCE.md)."""
