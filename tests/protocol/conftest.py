"""Fixtures of the protocol tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from protocol import FileVersion


@pytest.fixture
def file_version() -> FileVersion:
    """A valid two-chunk manifest."""
    return FileVersion(
        message_id="0" * 32,
        sender="00255319",
        sent_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        path="Podatelna/Žádost o stavební povolení.pdf",
        size=1500,
        mtime_ns=1_700_000_000_000_000_000,
        sha256="a" * 64,
        chunk_size=1024,
        chunk_sha256=("b" * 64, "c" * 64),
        source_seq=7,
    )
