"""The agent's source_epoch: new with a fresh state database, kept by an existing one."""

from __future__ import annotations

import re

from agent.state import State


async def test_fresh_state_gets_an_epoch_it_keeps(tmp_path):
    """A new state database names a random epoch and reopening it gives the same one."""
    state = await State.open(tmp_path / "state.sqlite")
    epoch = state.source_epoch
    await state.close()
    assert re.fullmatch(r"[0-9a-f]{32}", epoch)
    state = await State.open(tmp_path / "state.sqlite")
    try:
        assert state.source_epoch == epoch
    finally:
        await state.close()
    other = await State.open(tmp_path / "other.sqlite")
    try:
        assert other.source_epoch != epoch
    finally:
        await other.close()


async def test_state_that_counted_before_epochs_keeps_the_empty_one(tmp_path):
    """A state whose source_seq counter predates epochs keeps epoch '', so its numbers go on."""
    state = await State.open(tmp_path / "state.sqlite")
    await state.set_meta("source_seq", "41")
    await state.set_meta_absent("source_epoch")
    await state.close()
    state = await State.open(tmp_path / "state.sqlite")
    try:
        assert state.source_epoch == ""
    finally:
        await state.close()
