"""The regional archive consumer: receives, validates, keeps and confirms SIP packages."""

from archive.config import ArchiveConfig, ArchiveSection, load_archive_config
from archive.errors import (
    ArchiveError,
    DeadLetterError,
    IncompleteSipError,
    InvalidSipError,
    RejectedSipError,
    SipConflictError,
    SipMismatchError,
    StoreError,
)
from archive.service import run
from archive.store import PackageStore, StoredPackage

__all__ = [
    "ArchiveConfig",
    "ArchiveError",
    "ArchiveSection",
    "DeadLetterError",
    "IncompleteSipError",
    "InvalidSipError",
    "PackageStore",
    "RejectedSipError",
    "SipConflictError",
    "SipMismatchError",
    "StoreError",
    "StoredPackage",
    "load_archive_config",
    "run",
]
