"""spisync's benchmarks: measured ratios against rsync and raw RabbitMQ, in one run.

Run `.venv/bin/python -m bench` (see `bench/__main__.py`); results go to
`bench/results/latest.json` and `bench/results/latest.md`.
"""
