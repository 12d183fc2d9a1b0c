"""The SQLite schema, as migrations applied in order (`PRAGMA user_version` counts them).

Never edit a released migration: append a new one.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

_V1 = """
CREATE TABLE obce (
    ico TEXT PRIMARY KEY,
    first_seen_at TEXT NOT NULL,
    last_message_at TEXT NOT NULL
);
CREATE TABLE chunks (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    stored_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE obec_chunks (
    ico TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (ico, sha256)
) WITHOUT ROWID;
CREATE TABLE corrupt_chunks (
    ico TEXT NOT NULL,
    object_sha256 TEXT NOT NULL,  -- or the chunk's transfer, where it named no hash
    idx INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (ico, object_sha256, idx)
) WITHOUT ROWID;
CREATE TABLE contents (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    chunks TEXT NOT NULL,
    verified_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE file_versions (
    id INTEGER PRIMARY KEY,
    ico TEXT NOT NULL,
    path TEXT NOT NULL,
    source_seq INTEGER NOT NULL,
    sha256 TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    recorded_at TEXT NOT NULL,
    UNIQUE (ico, path, source_seq),
    CHECK (deleted = 1 OR sha256 IS NOT NULL)
);
CREATE INDEX file_versions_sha256 ON file_versions (sha256);
CREATE VIEW files AS
    SELECT fv.*,
           (SELECT count(*) FROM file_versions c WHERE c.ico = fv.ico AND c.path = fv.path)
               AS versions
    FROM file_versions fv
    WHERE NOT EXISTS (
        SELECT 1 FROM file_versions n
        WHERE n.ico = fv.ico AND n.path = fv.path AND n.source_seq > fv.source_seq
    );
CREATE TABLE spisy (
    ico TEXT NOT NULL,
    id TEXT NOT NULL,
    source_version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    spisova_znacka TEXT,
    nazev TEXT,
    stav TEXT,
    snapshot TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (ico, id)
) WITHOUT ROWID;
CREATE TABLE dokumenty (
    ico TEXT NOT NULL,
    id TEXT NOT NULL,
    source_version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    spis_id TEXT,
    snapshot TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (ico, id)
) WITHOUT ROWID;
CREATE INDEX dokumenty_spis ON dokumenty (ico, spis_id);
CREATE TABLE komponenty (
    ico TEXT NOT NULL,
    id TEXT NOT NULL,
    source_version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    dokument_id TEXT,
    soubor TEXT,
    snapshot TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (ico, id)
) WITHOUT ROWID;
CREATE INDEX komponenty_dokument ON komponenty (ico, dokument_id);
CREATE INDEX komponenty_soubor ON komponenty (ico, soubor);
CREATE TABLE spis_state (
    ico TEXT NOT NULL,
    spis_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'forwarded', 'archived')),
    state_version INTEGER NOT NULL,
    closing_seq INTEGER NOT NULL,
    closed_at TEXT,
    complete_at TEXT,
    forwarded_at TEXT,
    archived_at TEXT,
    sip_name TEXT,
    sip_sha256 TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (ico, spis_id)
) WITHOUT ROWID;
CREATE INDEX spis_state_state ON spis_state (state);
CREATE TABLE processed_messages (
    message_id TEXT PRIMARY KEY,
    ico TEXT NOT NULL,
    kind TEXT NOT NULL,
    hub_instance TEXT NOT NULL,
    processed_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX processed_messages_ico ON processed_messages (ico);
CREATE TABLE heartbeats (
    ico TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    heartbeat TEXT NOT NULL
) WITHOUT ROWID
"""

# Closing and move semantics (issue 5): the SIP ledger, the chunk index that
# lets a released content's chunks be told apart from chunks other contents
# still use, and the two-phase blob deletion log.
_V2 = """
CREATE TABLE sips (
    name TEXT PRIMARY KEY,
    ico TEXT NOT NULL,
    spis_id TEXT NOT NULL,
    closing_seq INTEGER NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('built', 'forwarded', 'accepted', 'rejected', 'failed')),
    sha256 TEXT,
    size INTEGER,
    resend_chunks TEXT,
    archive_id TEXT,
    failures TEXT NOT NULL DEFAULT '[]',
    sends INTEGER NOT NULL DEFAULT 0,
    built_at TEXT,
    sent_at TEXT,
    accepted_at TEXT,
    released_at TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (ico, spis_id, closing_seq)
);
CREATE INDEX sips_state ON sips (state);
CREATE TABLE sip_components (
    sip_name TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    PRIMARY KEY (sip_name, content_sha256)
) WITHOUT ROWID;
CREATE INDEX sip_components_content ON sip_components (content_sha256);
CREATE TABLE content_chunks (
    chunk_sha256 TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    PRIMARY KEY (chunk_sha256, content_sha256)
) WITHOUT ROWID;
INSERT OR IGNORE INTO content_chunks (chunk_sha256, content_sha256)
    SELECT j.value, c.sha256 FROM contents c, json_each(c.chunks) j;
ALTER TABLE contents ADD COLUMN released_at TEXT;
CREATE TABLE chunk_deletions (
    sha256 TEXT PRIMARY KEY,
    queued_at TEXT NOT NULL,
    blob_deleted_at TEXT
) WITHOUT ROWID;
CREATE INDEX komponenty_soubor_all ON komponenty (soubor)
"""

# The operator console (issue 10): operator accounts, their sessions and API
# tokens, login throttling, and the audit log of every action and login. All in
# the metadata store, so that every hub process serves the same console.
_V3 = """
CREATE TABLE operators (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash TEXT NOT NULL,
    token_hash TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX operators_token ON operators (token_hash);
CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    operator TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_operator ON console_sessions (operator);
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, at);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    ico TEXT,
    detail TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL
);
CREATE INDEX audit_log_ico ON audit_log (ico, id)
"""

# The registry's real events (issue 12): when, who and what, from the eSSL's own
# log, kept across snapshots with the source version that first brought each
# one, so a SIP's transaction log has them even after the eSSL pruned its log.
# `kdo` is '' when unknown, so the primary key deduplicates redeliveries.
_V4_REGISTRY_EVENTS = """
CREATE TABLE registry_events (
    ico TEXT NOT NULL,
    tabulka TEXT NOT NULL CHECK (tabulka IN ('spis', 'dokument', 'komponenta')),
    zaznam_id TEXT NOT NULL,
    kdy TEXT NOT NULL,
    typ TEXT NOT NULL,
    kdo TEXT NOT NULL DEFAULT '',
    popis TEXT,
    source_version INTEGER NOT NULL,
    PRIMARY KEY (ico, tabulka, zaznam_id, kdy, typ, kdo)
) WITHOUT ROWID
"""

# Forged change numbers (issue 9): the highest `source_seq` of an obec, found
# by index, bounds how far the next one may jump.
_V5_SOURCE_SEQ = """
CREATE INDEX file_versions_ico_seq ON file_versions (ico, source_seq)
"""

# What a built SIP holds besides the registry's data (issue 13): the placeholders
# that stand in for missing fields, text cleaned for XML, komponenty not in an
# output format; listed in `hub spisy` and sent to the archive with the manifest.
_V6_SIP_NOTES = """
ALTER TABLE sips ADD COLUMN notes TEXT NOT NULL DEFAULT '[]'
"""

# Dead letters kept for the console (issue 10): each message taken from
# `spisync.dead` with its headers and body, so that any hub process can list,
# replay or discard one, claimed by a compare-and-set on `state`.
_V7_DEAD_LETTERS = """
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    message_id TEXT,
    ico TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    security INTEGER NOT NULL CHECK (security IN (0, 1)),
    sender TEXT,
    exchange TEXT,
    routing_key TEXT,
    dead_at TEXT NOT NULL,
    properties TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    body_size INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'replaying', 'replayed', 'discarded')),
    state_by TEXT,
    state_at TEXT
);
CREATE INDEX dead_letters_state ON dead_letters (state, id);
CREATE INDEX dead_letters_ico ON dead_letters (ico, id)
"""

# Helpdesk diagnostics (issue 11): one row per request, its state and result.
# `record` holds the whole row as JSON; the columns are what queries filter on.
_V8_DIAGNOSTICS = """
CREATE TABLE diagnostics (
    id TEXT PRIMARY KEY,
    ico TEXT NOT NULL,
    verb TEXT NOT NULL,
    operator TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'delivered', 'running', 'done', 'failed', 'expired')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX diagnostics_ico ON diagnostics (ico, created_at);
CREATE INDEX diagnostics_open ON diagnostics (state, expires_at)
"""

# Agent state epochs (issue 9): a reinstalled agent counts `source_seq` from 1
# again under a new epoch; its numbers are recorded after `base`, the obec's
# highest when the hub first saw the epoch, so its versions become current.
_V9_SOURCE_EPOCHS = """
CREATE TABLE obec_epochs (
    ico TEXT NOT NULL,
    epoch TEXT NOT NULL,
    base INTEGER NOT NULL,
    first_seen_at TEXT NOT NULL,
    PRIMARY KEY (ico, epoch)
) WITHOUT ROWID
"""

MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2,
    _V3,
    _V4_REGISTRY_EVENTS,
    _V5_SOURCE_SEQ,
    _V6_SIP_NOTES,
    _V7_DEAD_LETTERS,
    _V8_DIAGNOSTICS,
    _V9_SOURCE_EPOCHS,
)
"""Each entry is `;`-separated statements (no `;` inside a statement)."""
