"""The fault matrix (issue #9): `python -m bench.faults` injects faults and checks the promises.

Each scenario runs `spisync` agents, hubs and archives as processes against a
private RabbitMQ node, injects its fault (kill -9, broker restart, link cut, full
disks, hostile messages, a mass deletion) and reports, in one table: files
expected, files at the hub byte-identical, lost, applied twice, time to recover.
"""

from bench.faults.matrix import SCENARIOS, run_matrix

__all__ = ["SCENARIOS", "run_matrix"]
