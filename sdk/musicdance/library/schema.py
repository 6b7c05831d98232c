"""The ``library.sqlite`` schema and its migrations.

``MIGRATIONS`` is append-only: version ``n`` turns a version ``n - 1`` database into version
``n``. ``schema_version`` records every version applied, with its description and time.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from musicdance.errors import MusicDanceError

_V1 = """
CREATE TABLE phrases (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    style TEXT NOT NULL,
    energy REAL NOT NULL CHECK (energy BETWEEN 0 AND 1),
    tempo_bpm REAL NOT NULL CHECK (tempo_bpm > 0),
    meter INTEGER NOT NULL CHECK (meter > 0),
    num_counts INTEGER NOT NULL,
    count_frames TEXT NOT NULL,
    fps REAL NOT NULL CHECK (fps > 0),
    num_frames INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    skeleton TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    licence TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'rejected')),
    support_start TEXT NOT NULL,
    support_end TEXT NOT NULL,
    facing_start_deg REAL NOT NULL,
    facing_end_deg REAL NOT NULL,
    start_features BLOB NOT NULL,
    end_features BLOB NOT NULL,
    motion_file TEXT NOT NULL,
    motion_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE tags (
    phrase_id TEXT NOT NULL REFERENCES phrases(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (phrase_id, tag)
);
CREATE INDEX phrases_style ON phrases(style);
CREATE INDEX tags_tag ON tags(tag);
"""

_V2 = """
CREATE INDEX phrases_status ON phrases(status);
CREATE INDEX phrases_tempo ON phrases(tempo_bpm);
"""

#: Curators' replaces (``musicdance.library.edits``): what the slot sounded like as the model
#: sees it (its compact features as JSON, and its phrase model input stored once per content
#: hash in ``edit_inputs``), never the audio.
_V3 = """
CREATE TABLE edit_inputs (
    sha256 TEXT PRIMARY KEY,
    shape TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    user TEXT NOT NULL,
    song_id TEXT NOT NULL,
    song_name TEXT NOT NULL DEFAULT '',
    slot INTEGER NOT NULL CHECK (slot >= 0),
    style TEXT NOT NULL,
    chosen_id TEXT NOT NULL,
    replaced_id TEXT NOT NULL,
    bundle TEXT NOT NULL DEFAULT '',
    bundle_sha256 TEXT NOT NULL DEFAULT '',
    slot_features TEXT NOT NULL,
    input_sha256 TEXT REFERENCES edit_inputs(sha256)
);
CREATE INDEX edits_user ON edits(user);
CREATE INDEX edits_song ON edits(song_id);
"""

#: The slot's place in its song's structure (``musicdance.choreo.context``: label repeats,
#: loudness against the song's mean, position; a JSON list, NULL for edits recorded before
#: version 4 or without the song's analysis), what a curator hears beyond the slot itself.
_V4 = """
ALTER TABLE edits ADD COLUMN slot_context TEXT
"""

#: (version, description, SQL script), oldest first.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "phrases and tags tables", _V1),
    (2, "indexes on status and tempo", _V2),
    (3, "edits and edit_inputs tables (curators' replaces as labels)", _V3),
    (4, "edits.slot_context (the slot's place in the song's structure)", _V4),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def now_iso() -> str:
    """The current UTC time as ISO 8601 with seconds (``2024-05-01T12:00:00Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def schema_version(connection: sqlite3.Connection) -> int:
    """The highest applied version, 0 for a database without a ``schema_version`` table."""
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not exists:
        return 0
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(connection: sqlite3.Connection, path: str) -> int:
    """Apply the missing migrations in one transaction; returns the number applied.

    The caller holds no transaction; ``connection`` is in autocommit mode (isolation_level None).
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(connection)
        if current > SCHEMA_VERSION:
            raise MusicDanceError(
                f"library schema version {current} is newer than this mdtool supports "
                f"({SCHEMA_VERSION}); upgrade mdtool",
                path,
            )
        if current == 0:
            connection.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        pending = [m for m in MIGRATIONS if m[0] > current]
        for version, description, script in pending:
            for statement in script.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)", (version, description, now_iso())
            )
        connection.execute("COMMIT")
        return len(pending)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
