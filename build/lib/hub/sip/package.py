"""Write the SIP ZIP: one folder named like the ZIP with mets.xml and komponenty/.

Components are streamed from the store in chunks and re-hashed on the way in,
so a 100 MB scan never sits in memory and a corrupted copy never reaches the
archive. The ZIP is written to a temporary file next to its destination,
fsynced and renamed into place, so a crash leaves either nothing or a whole
package. Timestamps and entry order come from the inputs only, so rebuilding
the same closing gives the same bytes (and the same SHA-256).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from hub.sip.errors import ComponentMismatchError, SipBuildError
from hub.sip.metadata import Placeholder, resolve
from hub.sip.mets import COMPONENTS_DIR, METS_FILE, mets_for
from hub.sip.naming import component_file_name, sip_name
from hub.sip.nsesss import ordered_dokumenty

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from hub.sip.metadata import MissingMetadata
    from hub.sip.model import Komponenta, Obec, Spis, SpisovyPlan

__all__ = ["CHUNK_SIZE", "BuiltSip", "sip_name", "write_sip"]

CHUNK_SIZE = 1024 * 1024
"""Bytes read from a component at a time."""

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o644 << 16
_DIR_MODE = (0o40755 << 16) | 0x10  # Unix directory bits plus the MS-DOS directory flag.


@dataclass(frozen=True, slots=True)
class BuiltSip:
    """A SIP ZIP written to disk.

    Attributes:
        name: The package name (also the name of its folder).
        path: Where the ZIP is.
        sha256: Lower-case hex SHA-256 of the ZIP.
        size: Size of the ZIP in bytes.
        placeholders: Values that stand in for what the registry lacked.
        cleaned: Fields whose text lost characters XML cannot hold.
        notices: Komponenty not in an output format, with the allowed formats.
    """

    name: str
    path: Path
    sha256: str
    size: int
    placeholders: tuple[Placeholder, ...] = ()
    cleaned: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()


def _zip_time(created: datetime) -> tuple[int, int, int, int, int, int]:
    stamp = (
        created.year,
        created.month,
        created.day,
        created.hour,
        created.minute,
        created.second,
    )
    # ZIP cannot store dates before 1980.
    return max(stamp, _ZIP_EPOCH)


def _entry(name: str, created: datetime, *, directory: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_zip_time(created))
    info.create_system = 3  # Unix, whatever the building machine is.
    info.external_attr = _DIR_MODE if directory else _FILE_MODE
    info.compress_type = zipfile.ZIP_STORED if directory else zipfile.ZIP_DEFLATED
    return info


def _copy_component(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    komponenta: Komponenta,
    open_component: Callable[[Komponenta], BinaryIO],
) -> None:
    digest = hashlib.sha256()
    size = 0
    # Tell zipfile the size up front so it picks ZIP64 headers only when needed.
    info.file_size = komponenta.size
    try:
        with open_component(komponenta) as source, archive.open(info, mode="w") as target:
            while chunk := source.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
                if size > komponenta.size:
                    break
                target.write(chunk)
    except OSError as exc:
        raise SipBuildError(f"komponenta {komponenta.id}: cannot read it: {exc}") from exc
    if size != komponenta.size:
        detail = f"has {'more than ' if size > komponenta.size else ''}{size} bytes"
        raise ComponentMismatchError(komponenta.id, f"{detail}, metadata says {komponenta.size}")
    if digest.hexdigest() != komponenta.sha256.lower():
        raise ComponentMismatchError(
            komponenta.id,
            f"SHA-256 is {digest.hexdigest()}, metadata says {komponenta.sha256.lower()}",
        )


def _hash_file(handle: IO[bytes]) -> tuple[str, int]:
    handle.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _fsync_dir(directory: Path) -> None:
    # Makes the rename durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_sip(
    spis: Spis,
    obec: Obec,
    *,
    orp_name: str,
    closing_seq: int,
    open_component: Callable[[Komponenta], BinaryIO],
    out_dir: Path,
    created: datetime,
    missing_metadata: MissingMetadata = "wait",
    spisovy_plan: SpisovyPlan | None = None,
) -> BuiltSip:
    """Build the SIP of one closing of a spis and write it as ``<name>.zip``.

    Args:
        spis: The closed spis.
        obec: Its obec.
        orp_name: The ORP building the package.
        closing_seq: Which closing of the spis this package is for.
        open_component: Opens a komponenta's bytes for reading; the stream is
            read in chunks and closed by this function.
        out_dir: Existing directory to write the ZIP into; an existing ZIP of
            the same name is replaced atomically.
        created: When the package is built; also every ZIP entry's timestamp.
        missing_metadata: Wait for what the registry lacks (raise), or go with
            placeholders (see `hub.sip.metadata`).
        spisovy_plan: A plan that replaces the registry's.

    Returns:
        Name, path, SHA-256 and size of the written ZIP, and the placeholders,
        cleaned fields and format notices of its metadata.

    Raises:
        ComponentMismatchError: If a komponenta's bytes differ from its size
            or SHA-256; no file is left behind.
        InvalidSpisError: If the metadata cannot form a valid package, or
            (`MissingMetadataError`) lacks fields while waiting for them.
        SipBuildError: If a komponenta cannot be read or the ZIP not written.
    """
    name = sip_name(obec.ico, spis.id, closing_seq)
    resolved = resolve(spis, obec, missing_metadata=missing_metadata, spisovy_plan=spisovy_plan)
    spis = resolved.spis
    mets = mets_for(resolved, obec, orp_name=orp_name, sip_id=name, created=created)
    final_path = out_dir / f"{name}.zip"
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finally, renamed on success
            mode="w+b", dir=out_dir, prefix=f".{name}.", suffix=".tmp", delete=False
        )
    except OSError as exc:
        raise SipBuildError(f"cannot create a file in {out_dir}: {exc}") from exc
    temp_path = Path(handle.name)
    try:
        with zipfile.ZipFile(handle, mode="w", allowZip64=True) as archive:
            archive.writestr(_entry(f"{name}/", created, directory=True), b"")
            archive.writestr(_entry(f"{name}/{METS_FILE}", created), mets)
            ordered = ordered_dokumenty(spis)
            if any(komponenty for _, komponenty in ordered):
                komponenty_dir = f"{name}/{COMPONENTS_DIR}/"
                archive.writestr(_entry(komponenty_dir, created, directory=True), b"")
            for dokument, komponenty in ordered:
                for komponenta in komponenty:
                    entry = _entry(
                        komponenty_dir + component_file_name(dokument, komponenta), created
                    )
                    _copy_component(archive, entry, komponenta, open_component)
        handle.flush()
        os.fsync(handle.fileno())
        sha256, size = _hash_file(handle)
        handle.close()
        temp_path.replace(final_path)
    except BaseException as exc:
        handle.close()
        temp_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SipBuildError(f"cannot write {final_path}: {exc}") from exc
        raise
    _fsync_dir(out_dir)
    return BuiltSip(
        name=name,
        path=final_path,
        sha256=sha256,
        size=size,
        placeholders=resolved.placeholders,
        cleaned=resolved.cleaned,
        notices=resolved.notices,
    )
