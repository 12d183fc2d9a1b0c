"""spisync wire protocol, version 1: typed messages, names and validation, no I/O.

Both sides of every link import this package; it never touches sockets, files
or event loops, so it can be tested and reasoned about alone.
"""

from protocol.archive import Placeholder, RuleFailure, SipAccepted, SipManifest, SipRejected
from protocol.base import SCHEMA_VERSION, Message, new_message_id, utc_now
from protocol.bundle import (
    BUNDLE_CONTENT_TYPE,
    BundledFile,
    FileBundle,
    content_mismatch,
    decode_bundle,
    encode_bundle,
)
from protocol.codec import AnyMessage, chunk_headers, decode, decode_chunk_meta, encode, kind_of
from protocol.content import ChunkMeta, FileVersion, Tombstone
from protocol.control import (
    DIAGNOSTIC_VERBS,
    Attachment,
    DiagnosticArgs,
    DiagnosticsRequest,
    DiagnosticsResult,
    FileReceipt,
    FileReceipts,
    Heartbeat,
    NeedChunks,
    ReceiptEntry,
    RecordReceipt,
)
from protocol.errors import DecodeError, InvalidIcoError, ProtocolError, UnsafePathError
from protocol.ico import ico_check_digit, is_valid_ico, validate_ico
from protocol.paths import safe_relative_path
from protocol.registry import (
    DokumentSnapshot,
    KomponentaSnapshot,
    RecordDeleted,
    SpisClosed,
    SpisReopened,
    SpisSnapshot,
    Subjekt,
    Udalost,
)

__all__ = [
    "BUNDLE_CONTENT_TYPE",
    "DIAGNOSTIC_VERBS",
    "SCHEMA_VERSION",
    "AnyMessage",
    "Attachment",
    "BundledFile",
    "ChunkMeta",
    "DecodeError",
    "DiagnosticArgs",
    "DiagnosticsRequest",
    "DiagnosticsResult",
    "DokumentSnapshot",
    "FileBundle",
    "FileReceipt",
    "FileReceipts",
    "FileVersion",
    "Heartbeat",
    "InvalidIcoError",
    "KomponentaSnapshot",
    "Message",
    "NeedChunks",
    "Placeholder",
    "ProtocolError",
    "ReceiptEntry",
    "RecordDeleted",
    "RecordReceipt",
    "RuleFailure",
    "SipAccepted",
    "SipManifest",
    "SipRejected",
    "SpisClosed",
    "SpisReopened",
    "SpisSnapshot",
    "Subjekt",
    "Tombstone",
    "Udalost",
    "UnsafePathError",
    "chunk_headers",
    "content_mismatch",
    "decode",
    "decode_bundle",
    "decode_chunk_meta",
    "encode",
    "encode_bundle",
    "ico_check_digit",
    "is_valid_ico",
    "kind_of",
    "new_message_id",
    "safe_relative_path",
    "utc_now",
    "validate_ico",
]
