"""spisync wire protocol, version 1: typed messages, names and validation, no I/O.

Both sides of every link import this package; it never touches sockets, files
or event loops, so it can be tested and reasoned about alone.
"""

from protocol.archive import Placeholder, RuleFailure, SipAccepted, SipManifest, SipRejected
from protocol.base import SCHEMA_VERSION, Message, new_message_id, utc_now
from protocol.codec import AnyMessage, chunk_headers, decode, decode_chunk_meta, encode, kind_of
from protocol.content import ChunkMeta, FileVersion, Tombstone
from protocol.control import (
    DIAGNOSTIC_VERBS,
    Attachment,
    DiagnosticArgs,
    DiagnosticsRequest,
    DiagnosticsResult,
    FileReceipt,
    Heartbeat,
    NeedChunks,
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
    "DIAGNOSTIC_VERBS",
    "SCHEMA_VERSION",
    "AnyMessage",
    "Attachment",
    "ChunkMeta",
    "DecodeError",
    "DiagnosticArgs",
    "DiagnosticsRequest",
    "DiagnosticsResult",
    "DokumentSnapshot",
    "FileReceipt",
    "FileVersion",
    "Heartbeat",
    "InvalidIcoError",
    "KomponentaSnapshot",
    "Message",
    "NeedChunks",
    "Placeholder",
    "ProtocolError",
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
    "decode",
    "decode_chunk_meta",
    "encode",
    "ico_check_digit",
    "is_valid_ico",
    "kind_of",
    "new_message_id",
    "safe_relative_path",
    "utc_now",
    "validate_ico",
]
