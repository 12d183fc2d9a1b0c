"""The diagnostics and heartbeat shapes: old samples decode with defaults, new fields are checked."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from protocol import DIAGNOSTIC_VERBS, Attachment, DiagnosticsRequest, Heartbeat, decode

GOLDEN = Path(__file__).parent / "golden" / "v1"


def test_a_first_protocol_request_maps_its_command_to_a_verb() -> None:
    """The v1 request without `verb` runs as the verb its `command` names, with no arguments and no TTL."""
    request = decode((GOLDEN / "diagnostics_request.json").read_bytes())
    assert isinstance(request, DiagnosticsRequest)
    assert request.verb is None
    assert request.requested_verb == "status"
    assert request.expires_at is None
    assert request.operator == ""
    legacy = msgspec.structs.replace(request, command="rescan")
    assert legacy.requested_verb == "rescan"


def test_a_request_with_verb_args_operator_and_ttl_decodes() -> None:
    """The new request shape carries verb, arguments, operator and expiry."""
    request = decode((GOLDEN / "diagnostics_request.verb.json").read_bytes())
    assert isinstance(request, DiagnosticsRequest)
    assert request.requested_verb == "logs"
    assert request.args.lines == 200
    assert request.args.level == "warning"
    assert request.operator == "helpdesk.novakova"
    assert request.expires_at is not None


def test_an_unknown_verb_does_not_decode() -> None:
    """A verb outside the closed list is a decode error, so it can never reach a handler."""
    body = (GOLDEN / "diagnostics_request.verb.json").read_text().replace('"logs"', '"shell"')
    with pytest.raises(ValueError, match="verb"):
        decode(body.encode())
    assert "shell" not in DIAGNOSTIC_VERBS


def test_an_attachment_must_cover_its_size_with_its_chunks() -> None:
    """An attachment whose chunk list cannot make its size is refused."""
    with pytest.raises(ValueError, match="expected 2"):
        Attachment(name="bundle.zip", size=1500, sha256="a" * 64, chunk_size=1024, chunk_sha256=())


def test_an_old_heartbeat_decodes_with_empty_overview_fields() -> None:
    """A v1 heartbeat without the overview fields decodes with neutral defaults, not as a probe."""
    beat = decode((GOLDEN / "heartbeat.json").read_bytes())
    assert isinstance(beat, Heartbeat)
    assert beat.folders == {}
    assert beat.problem_kinds == {}
    assert beat.outbox_bytes == 0
    assert beat.registry_lag is None
    assert beat.probe is False
