"""The agent's own log file: what the `logs` verb reads."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import structlog

from agent.diagnostics.logfile import LogFile

if TYPE_CHECKING:
    from pathlib import Path


def test_the_log_file_rotates_keeps_one_older_file_and_filters_by_level(tmp_path: Path) -> None:
    """Past its size the file moves to agent.log.1; the tail spans both files and drops lower levels."""
    log_file = LogFile(tmp_path / "logs" / "agent.log", ico="00255319", max_bytes=2000)
    log_file.start()
    log = structlog.get_logger("tests")
    try:
        for i in range(40):
            log.info("step", ico="00255319", index=i)
            if i % 10 == 0:
                log.warning("odd", ico="00255319", index=i)
        log.info("another_agent", ico="12345678")
    finally:
        log_file.stop()
    assert (tmp_path / "logs" / "agent.log.1").exists()
    tail = log_file.tail(1000)
    indexes = [json.loads(line)["index"] for line in tail if json.loads(line)["event"] == "step"]
    assert indexes == sorted(indexes)
    assert indexes[-1] == 39
    assert not any("another_agent" in line for line in tail)
    warnings = log_file.tail(1000, "warning")
    assert {json.loads(line)["level"] for line in warnings} == {"warning"}
    assert log_file.tail(3) == tail[-3:]
