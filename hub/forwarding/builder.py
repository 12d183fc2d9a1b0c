"""Building the SIP of one closing from what the hub holds (`SpisDetail` plus blobs).

Components are first streamed from the blob store into files of a private
work folder under `<data_dir>/sips/` (`hub.sip.write_sip` reads synchronously,
in a worker thread); their MIME types are then read from those bytes
(`hub.sip.formats`), never from the file name; then the ZIP is written
atomically as `<data_dir>/sips/<name>.zip`. The package's `created` time is
the closing time, and every other input comes from the database, so a rebuild
of the same closing gives the same bytes. The shutdown trigger is checked
between blocks, so a long build gives way within a second or so.

`[closing] missing_metadata` decides what happens when the registry lacks a
field the standard requires (`hub.sip.metadata`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import uuid
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, BinaryIO, Self, cast

import structlog

from hub.content import open_content
from hub.errors import HubError
from hub.forwarding.sip_input import (
    ContentFacts,
    Events,
    content_facts,
    registry_udalosti,
    sip_spis,
)
from hub.provision import load_obce
from hub.sip import Komponenta, Obec, SipBuildError, resolve, write_sip

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from hub.config import HubConfig
    from hub.sip import BuiltSip, Spis
    from hub.store.blobs import BlobStore
    from hub.store.metadata import MetadataStore
    from hub.store.models import SpisDetail

__all__ = ["BuildInterruptedError", "BuiltClosing", "SipBuilder", "sips_dir"]

log = structlog.get_logger(__name__)


class BuildInterruptedError(HubError):
    """The build gave way to a shutdown; it is done again at the next start."""


@dataclass(frozen=True, slots=True)
class BuiltClosing:
    """A SIP written to disk and the content hashes it was built from.

    Attributes:
        sip: The written package (with its placeholders, cleaned fields and notices).
        components: SHA-256 of each komponenta's content, as packed.
    """

    sip: BuiltSip
    components: tuple[str, ...]


def sips_dir(config: HubConfig) -> Path:
    """Return `<data_dir>/sips`, where built packages wait for the archive's confirmation."""
    return config.hub.data_path / "sips"


class _StoppableReader:
    """A component file for `write_sip` that fails its next read once shutdown is asked."""

    def __init__(self, handle: IO[bytes], stopping: threading.Event) -> None:
        self._handle = handle
        self._stopping = stopping

    def read(self, size: int = -1) -> bytes:
        if self._stopping.is_set():
            # write_sip turns an OSError into SipBuildError and removes its temp file.
            raise OSError("the hub is shutting down")
        return self._handle.read(size)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


class SipBuilder:
    """Builds SIPs of complete closings.

    Args:
        config: The hub's configuration (data folder, ORP name, obce, `[closing]`).
        store: The metadata store.
        blobs: The blob store holding the components.
        stopping: The shutdown trigger.
    """

    def __init__(
        self, config: HubConfig, store: MetadataStore, blobs: BlobStore, stopping: asyncio.Event
    ) -> None:
        self._config = config
        self._store = store
        self._blobs = blobs
        self._stopping = stopping

    async def build(self, detail: SpisDetail) -> BuiltClosing:
        """Write the SIP of the spis's current closing; return it with its component hashes.

        The metadata is checked first, before any blob is read, so a spis
        waiting for its registry costs nothing but the check.

        Raises:
            InvalidSpisError: The metadata breaks a rule, or lacks fields while
                `[closing] missing_metadata = "wait"` (`MissingMetadataError`).
            SipBuildError: A component cannot make a valid package.
            BlobError: A component cannot be read from the blob store.
            BuildInterruptedError: The hub is shutting down.
        """
        mode = self._config.closing.missing_metadata
        events = await self._events(detail)
        obce = await asyncio.to_thread(load_obce, self._config)
        record = obce.get(detail.ico)
        obec = Obec(ico=detail.ico, name=record.name if record else f"Obec {detail.ico}")
        resolve(sip_spis(detail, events=events), obec, missing_metadata=mode, content=False)
        out_dir = sips_dir(self._config)
        work = out_dir / ".work" / uuid.uuid4().hex
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
        try:
            files, facts = await self._materialise(detail, work)
            spis = sip_spis(detail, facts, events)
            built = await self._write(spis, obec, detail, files, out_dir)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, ignore_errors=True)
        components = tuple(
            k.file.sha256
            for d in detail.dokumenty
            for k in d.komponenty
            if k.file and k.file.sha256
        )
        return BuiltClosing(sip=built, components=components)

    async def _events(self, detail: SpisDetail) -> Events:
        """Every registry event the hub holds of the spis and its records (all snapshots)."""
        records = [("spis", detail.snapshot.spis_id)]
        for d in detail.dokumenty:
            records.append(("dokument", d.snapshot.dokument_id))
            records.extend(("komponenta", k.snapshot.komponenta_id) for k in d.komponenty)
        events: Events = {}
        for table, record_id in records:
            held = await self._store.registry_events(detail.ico, table, record_id)
            events[(table, record_id)] = registry_udalosti(tuple(held))
        return events

    async def _materialise(
        self, detail: SpisDetail, work: Path
    ) -> tuple[dict[str, Path], dict[str, ContentFacts]]:
        """Stream each content into `work`; return files by komponenta id and facts by hash."""
        files: dict[str, Path] = {}
        by_sha: dict[str, Path] = {}
        facts: dict[str, ContentFacts] = {}
        for dokument in detail.dokumenty:
            for komponenta in dokument.komponenty:
                assert komponenta.file is not None
                sha256 = komponenta.file.sha256
                assert sha256 is not None
                if sha256 not in by_sha:
                    by_sha[sha256] = await self._copy_out(sha256, work / sha256)
                    facts[sha256] = await asyncio.to_thread(content_facts, by_sha[sha256])
                files[komponenta.snapshot.komponenta_id] = by_sha[sha256]
        return files, facts

    async def _copy_out(self, sha256: str, target: Path) -> Path:
        handle = await asyncio.to_thread(target.open, "wb")
        try:
            async for block in open_content(self._store, self._blobs, sha256):
                if self._stopping.is_set():
                    raise BuildInterruptedError("shutting down while copying components")
                await asyncio.to_thread(handle.write, block)
        finally:
            await asyncio.to_thread(handle.close)
        return target

    async def _write(
        self,
        spis: Spis,
        obec: Obec,
        detail: SpisDetail,
        files: Mapping[str, Path],
        out_dir: Path,
    ) -> BuiltSip:
        stopping = threading.Event()

        def open_component(komponenta: Komponenta) -> BinaryIO:
            # write_sip only reads and closes it: a duck-typed stand-in for a binary file.
            return cast("BinaryIO", _StoppableReader(files[komponenta.id].open("rb"), stopping))

        async def relay_stop() -> None:
            await self._stopping.wait()
            stopping.set()

        relay = asyncio.create_task(relay_stop())
        closed_at = detail.state.closed_at or detail.state.complete_at
        assert closed_at is not None
        try:
            return await asyncio.to_thread(
                write_sip,
                spis,
                obec,
                orp_name=self._config.hub.name or self._config.hub.orp,
                closing_seq=detail.state.closing_seq,
                open_component=open_component,
                out_dir=out_dir,
                created=closed_at,
                missing_metadata=self._config.closing.missing_metadata,
            )
        except SipBuildError as exc:
            if stopping.is_set():
                raise BuildInterruptedError("shutting down while writing the SIP") from exc
            raise
        finally:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
