"""The rules of a diagnostics request's state, without storage or broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from hub.diagnostics.states import after_result, expire
from hub.store.diagnostics import DiagnosticsRow
from protocol import Attachment, DiagnosticsResult

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def _row(state: str = "queued") -> DiagnosticsRow:
    return DiagnosticsRow(
        id="d-1",
        ico="00255319",
        verb="bundle",
        state=state,  # type: ignore[arg-type]
        created_at=T0,
        expires_at=T0 + timedelta(hours=24),
        updated_at=T0,
    )


def _result(state: str, **fields: object) -> DiagnosticsResult:
    return DiagnosticsResult(
        message_id="m",
        sender="00255319",
        sent_at=T0 + timedelta(minutes=1),
        request_id="d-1",
        ok=state != "failed",
        state=state,  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def test_progress_moves_forward_only() -> None:
    """A delivered then a running report advance the state; a late delivered after running changes nothing."""
    at = T0 + timedelta(minutes=2)
    delivered = after_result(_row(), _result("delivered"), received_at=at)
    assert delivered is not None
    assert delivered.state == "delivered"
    running = after_result(delivered, _result("running"), received_at=at)
    assert running is not None
    assert running.state == "running"
    assert running.started_at == at
    assert after_result(running, _result("delivered"), received_at=at) is None


def test_an_outcome_is_final_but_replaces_an_expiry_by_time() -> None:
    """An outcome is final; a hub-side expiry by time gives way to the agent's real outcome."""
    at = T0 + timedelta(minutes=2)
    done = after_result(_row("running"), _result("done", data={"a": 1}), received_at=at)
    assert done is not None
    assert done.state == "done"
    assert done.clock_offset_s == 60.0
    assert after_result(done, _result("failed"), received_at=at) is None
    late = after_result(_row("expired"), _result("done"), received_at=at)
    assert late is not None
    assert late.state == "done"


def test_an_attachment_that_did_not_verify_fails_the_request() -> None:
    """A done result whose attachment is incomplete or wrong becomes failed, with the reason."""
    attachment = Attachment(
        name="bundle.zip", size=10, sha256="a" * 64, chunk_size=1024, chunk_sha256=("b" * 64,)
    )
    row = after_result(
        _row("running"),
        _result("done", attachment=attachment),
        received_at=T0,
        attachment_ok=False,
    )
    assert row is not None
    assert row.state == "failed"
    assert row.ok is False
    assert "SHA-256" in row.error


def test_only_unfinished_requests_past_their_ttl_expire() -> None:
    """A queued request expires after its TTL, not before; a done one never."""
    row = _row()
    assert expire(row, T0 + timedelta(hours=23)) is None
    expired = expire(row, T0 + timedelta(hours=24))
    assert expired is not None
    assert expired.state == "expired"
    assert expire(msgspec.structs.replace(row, state="done"), T0 + timedelta(days=3)) is None
