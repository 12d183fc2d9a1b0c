"""The hub state of a spis as pure transitions: versions decide, nothing moves backwards."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.spis_state import on_closed, on_complete, on_reopened

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_first_close_opens_closing_one():
    """The first SpisClosed makes a `closed` state in closing 1, waiting for content."""
    state = on_closed(None, ico="00255319", spis_id="S", source_version=5, closed_at=NOW)
    assert state is not None
    assert (state.state, state.closing_seq, state.complete_at) == ("closed", 1, None)


def test_reopen_then_close_starts_a_new_closing():
    """Reopen returns to `open`; the next close is closing 2 and clears the old completion."""
    closed = on_closed(None, ico="00255319", spis_id="S", source_version=5, closed_at=NOW)
    assert closed is not None
    complete = on_complete(closed, at=NOW)
    reopened = on_reopened(complete, ico="00255319", spis_id="S", source_version=6)
    assert reopened is not None
    assert (reopened.state, reopened.complete_at) == ("open", None)
    again = on_closed(reopened, ico="00255319", spis_id="S", source_version=7, closed_at=NOW)
    assert again is not None
    assert (again.state, again.closing_seq, again.complete_at) == ("closed", 2, None)


def test_outdated_events_change_nothing():
    """A close or reopen whose source_version is not newer than the last applied is ignored."""
    closed = on_closed(None, ico="00255319", spis_id="S", source_version=5, closed_at=NOW)
    assert on_reopened(closed, ico="00255319", spis_id="S", source_version=5) is None
    assert on_closed(closed, ico="00255319", spis_id="S", source_version=4, closed_at=NOW) is None
    reopened_first = on_reopened(None, ico="00255319", spis_id="S", source_version=9)
    assert (
        on_closed(reopened_first, ico="00255319", spis_id="S", source_version=8, closed_at=NOW)
        is None
    )
