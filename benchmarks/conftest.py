"""Benchmarks run with pytest-benchmark; see the README ("Speed")."""
