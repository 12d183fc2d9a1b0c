"""Closing: a complete closed spis becomes a SIP, goes to the archive, and leaves the hub.

- `builder`: the SIP of one closing, from the hub's metadata and blobs
  (`sip_input` maps the registry snapshots to the SIP model);
- `closer`: the `Closer` the closing worker calls (build, record, queue);
- `sender` and `link`: the durable outbox to `spisync.archive`, and the
  connection that forwards it and consumes the archive's replies;
- `replies`: what each verdict does (archive, re-send, record failures);
- `release`: what may be deleted after acceptance and the grace period.
"""

from __future__ import annotations

from hub.forwarding.builder import BuildInterruptedError, SipBuilder, sips_dir
from hub.forwarding.closer import SipCloser
from hub.forwarding.link import ArchiveLink
from hub.forwarding.release import ReleaseSweeper
from hub.forwarding.replies import ReplyHandler

__all__ = [
    "ArchiveLink",
    "BuildInterruptedError",
    "ReleaseSweeper",
    "ReplyHandler",
    "SipBuilder",
    "SipCloser",
    "sips_dir",
]
