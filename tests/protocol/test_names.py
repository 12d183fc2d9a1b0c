"""Queue names: tokens per obec and reading the obec back from a queue name."""

from __future__ import annotations

from protocol import names


def test_tokens_differ_per_obec_and_per_key():
    """The token depends on both the IČO and the deployment key, and has a fixed length."""
    key, other_key = b"k" * 32, b"j" * 32
    token = names.obec_token(key, "00231401")
    assert len(token) == names.QUEUE_TOKEN_LENGTH
    assert token == names.obec_token(key, "00231401")
    assert token != names.obec_token(key, "00255319")
    assert token != names.obec_token(other_key, "00231401")


def test_the_obec_is_read_from_new_and_old_queue_names():
    """Hub queues and inboxes name their obec with or without a token; other queues none."""
    token = names.obec_token(b"k" * 32, "00231401")
    assert names.ico_of_queue(names.hub_queue("00231401", token)) == "00231401"
    assert names.ico_of_queue(names.agent_queue("00231401", token)) == "00231401"
    assert names.ico_of_queue("hub.obec.00231401") == "00231401"
    assert names.ico_of_queue("agent.00231401") == "00231401"
    assert names.ico_of_queue(names.DEAD_LETTER_QUEUE) is None
    assert names.ico_of_queue("hub.archive-reply.klatovy") is None
    assert names.ico_of_queue(None) is None
