"""Logs an operator can read: one pipeline for our and the libraries' lines, one line per failure."""

from __future__ import annotations

import io
import json
import logging
import ssl
from typing import TYPE_CHECKING

import aio_pika
import structlog

from spisync.broker import open_connection
from spisync.logging import configure_logging
from testkit.waiting import wait_for

if TYPE_CHECKING:
    import pytest

    from testkit.broker import PrivateNode


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def fail(exc: Exception) -> None:
    raise exc


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_library_exception_is_one_json_line_with_a_fix_and_no_traceback() -> None:
    """An aiormq error with a full disk behind it is one JSON line: error, problem, fix; no traceback."""
    out = io.StringIO()
    configure_logging("agent", level="info", json=True, stream=out)
    try:
        fail(OSError(28, "No space left on device"))
    except OSError:
        logging.getLogger("aiormq.connection").exception("Unexpected connection close")
    [line] = lines(out)
    assert line["logger"] == "aiormq.connection"
    assert line["role"] == "agent"
    assert line["problem"] == "disk full"
    assert "free space" in str(line["fix"])
    assert "Traceback" not in out.getvalue()


def test_tracebacks_appear_at_debug() -> None:
    """At debug level the same failure carries its traceback (still one JSON line)."""
    out = io.StringIO()
    configure_logging("hub", level="debug", json=True, stream=out)
    try:
        fail(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"))
    except ssl.SSLError:
        structlog.get_logger("hub.service").exception("broker_failed")
    [line] = lines(out)
    assert "Traceback" in str(line["exception"])
    assert "plain AMQP" in str(line["problem"])


def test_czech_text_is_not_escaped() -> None:
    """JSON keeps Czech letters as they are, not as unicode escapes."""
    out = io.StringIO()
    configure_logging("agent", json=True, stream=out)
    structlog.get_logger("agent.x").info("spis_seen", nazev="Žádost o stavební povolení")
    assert "Žádost o stavební povolení" in out.getvalue()
    assert lines(out)[0]["nazev"] == "Žádost o stavební povolení"


def test_json_under_systemd_console_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal lines are readable text, unless systemd's JOURNAL_STREAM says it is a service."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    terminal = Terminal()
    configure_logging("agent", stream=terminal)
    structlog.get_logger("agent.x").info("agent_started", ico="00255319")
    assert "agent_started" in terminal.getvalue()
    assert not terminal.getvalue().startswith("{")
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    journal = Terminal()
    configure_logging("agent", stream=journal)
    structlog.get_logger("agent.x").info("agent_started", ico="00255319")
    assert lines(journal)[0]["event"] == "agent_started"


async def test_broker_disk_alarm_is_one_line_with_a_fix(private_node: PrivateNode) -> None:
    """When the broker raises its disk alarm, a publisher's log says so in one line with the fix."""
    out = io.StringIO()
    configure_logging("agent", json=True, stream=out)
    connection = await open_connection(private_node.url, name="spisync tests")
    try:
        await private_node.ctl("set_disk_free_limit", "100000GB")
        channel = await connection.channel(publisher_confirms=False)
        # The broker blocks a connection when it next publishes under an alarm.
        await channel.default_exchange.publish(
            aio_pika.Message(b"x"), routing_key="nowhere", mandatory=False
        )

        async def blocked_logged() -> bool:
            return "broker_blocked" in out.getvalue()

        await wait_for(blocked_logged, what="the blocked line")
    finally:
        await private_node.ctl("set_disk_free_limit", "1MB")
        await connection.close()
    [blocked] = [line for line in lines(out) if line["event"] == "broker_blocked"]
    assert "disk" in str(blocked["problem"])
    assert "disk_free_limit" in str(blocked["fix"])
