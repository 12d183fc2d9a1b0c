"""Helpers that the tests and the benchmarks share: real brokers, simulated agents, waiting.

Not installed with spisync: it runs from a checkout, next to `tests/` and `bench/`.
"""
