"""`SipCloser`: the `hub.closing.Closer` that turns a complete closing into a SIP in the outbox.

Idempotent per `(ico, spis_id, closing_seq)`: a closing that already has a SIP
(built, forwarded, accepted or rejected) is left alone, so the closing worker
may offer it again after a restart. Steps: re-check the closing is current and
complete (snapshots can arrive out of order, so the batcher's verdict may have
been early: an incomplete spis goes back to waiting), build the SIP, record it
with the content hashes it holds (state `built`), and wake the forwarder. The
spis becomes `forwarded` only once the broker confirms the manifest.

A SIP that cannot be built because of its data (metadata the archive would
reject, fields the registry lacks while `[closing] missing_metadata = "wait"`,
a component whose bytes are not what the hub recorded, a lost blob) is
recorded as `failed` with one failure per problem naming the record and field,
visible in `hub spisy`; it is tried again when its obec's registry or content
changes and at the next start, never in a loop. Anything else (a blob store
that is down) raises, and the closing worker retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from hub.errors import BlobNotFoundError
from hub.forwarding.notes import HUB_METADATA_MISSING, build_notes, split_location
from hub.sip import ComponentMismatchError, InvalidSpisError, MissingMetadataError, sip_name
from hub.spis_state import on_incomplete
from hub.store.models import SipFailure
from protocol import utc_now

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.forwarding.builder import SipBuilder
    from hub.store.metadata import MetadataStore
    from hub.store.models import ReadySpis

__all__ = ["HUB_COMPONENT_MISMATCH", "HUB_CONTENT_MISSING", "HUB_INVALID_SPIS", "SipCloser"]

log = structlog.get_logger(__name__)

HUB_INVALID_SPIS = "HUB-INVALID-SPIS"
"""The spis's metadata cannot form a package the archive would accept."""
HUB_COMPONENT_MISMATCH = "HUB-COMPONENT-MISMATCH"
"""A component's stored bytes differ from the size or hash the hub recorded."""
HUB_CONTENT_MISSING = "HUB-CONTENT-MISSING"
"""A component's blob is gone from the blob store."""


def _failures(exc: Exception) -> list[SipFailure]:
    """One failure per problem, the record and field as its location."""
    if isinstance(exc, InvalidSpisError):
        failures = []
        for problem in exc.problems:
            where, detail = split_location(problem)
            failures.append(SipFailure(HUB_INVALID_SPIS, detail, where))
        failures.extend(
            SipFailure(HUB_METADATA_MISSING, "chybí v evidenci", field) for field in exc.missing
        )
        return failures
    code = (
        HUB_COMPONENT_MISMATCH if isinstance(exc, ComponentMismatchError) else HUB_CONTENT_MISSING
    )
    return [SipFailure(code, str(exc), getattr(exc, "komponenta_id", ""))]


class SipCloser:
    """Builds and records the SIP of each complete closing.

    Args:
        store: The metadata store (with its SIP ledger).
        builder: Writes the packages.
        wake: Tells the forwarder there is something to send.
    """

    def __init__(self, store: MetadataStore, builder: SipBuilder, wake: Callable[[], None]) -> None:
        self._store = store
        self._builder = builder
        self._wake = wake

    async def spis_complete(self, spis: ReadySpis) -> None:
        """Build, record and queue the SIP of this closing (nothing if it has one)."""
        bound = log.bind(ico=spis.ico, spis_id=spis.spis_id, closing_seq=spis.closing_seq)
        existing = await self._store.sips.sip_for(spis.ico, spis.spis_id, spis.closing_seq)
        if existing is not None and existing.state != "failed":
            bound.debug("sip_exists", sip_name=existing.name, sip_state=existing.state)
            self._wake()
            return
        detail = await self._store.spis_detail(spis.ico, spis.spis_id)
        state = detail.state if detail else None
        if (
            detail is None
            or state is None
            or state.state != "closed"
            or state.closing_seq != spis.closing_seq
            or state.complete_at is None
        ):
            bound.info("closing_outdated", state=state.state if state else None)
            return
        if detail.missing:
            await self._wait_again(spis)
            bound.info("spis_incomplete_again", missing=len(detail.missing))
            return
        name = sip_name(spis.ico, spis.spis_id, spis.closing_seq)
        try:
            built = await self._builder.build(detail)
        except (InvalidSpisError, ComponentMismatchError, BlobNotFoundError) as exc:
            failures = _failures(exc)
            await self._store.sips.record_failed(
                name=name,
                ico=spis.ico,
                spis_id=spis.spis_id,
                closing_seq=spis.closing_seq,
                failures=failures,
                at=utc_now(),
            )
            waiting = isinstance(exc, MissingMetadataError)
            (bound.warning if waiting else bound.error)(
                "sip_waits_for_registry" if waiting else "sip_build_failed",
                sip_name=name,
                codes=sorted({f.code for f in failures}),
                fields=[f.location for f in failures],
            )
            return
        row = await self._store.sips.record_built(
            name=built.sip.name,
            ico=spis.ico,
            spis_id=spis.spis_id,
            closing_seq=spis.closing_seq,
            sha256=built.sip.sha256,
            size=built.sip.size,
            components=built.components,
            at=utc_now(),
            notes=build_notes(built.sip),
        )
        if row.sha256 != built.sip.sha256:
            bound.error(
                "sip_rebuilt_differently",
                sip_name=name,
                recorded=row.sha256,
                rebuilt=built.sip.sha256,
            )
        bound.info(
            "sip_built",
            sip_name=built.sip.name,
            sha256=built.sip.sha256,
            size=built.sip.size,
            components=len(built.components),
            placeholders=len(built.sip.placeholders),
            cleaned=list(built.sip.cleaned),
            not_output_format=len(built.sip.notices),
        )
        self._wake()

    async def _wait_again(self, spis: ReadySpis) -> None:
        """Put a closing found complete too early back to waiting for its content."""
        async with self._store.transaction() as tx:
            current = await tx.spis_state(spis.ico, spis.spis_id)
            if (
                current is not None
                and current.state == "closed"
                and current.closing_seq == spis.closing_seq
                and current.complete_at is not None
                and await tx.missing_komponenty(spis.ico, spis.spis_id)
            ):
                await tx.put_spis_state(on_incomplete(current))
