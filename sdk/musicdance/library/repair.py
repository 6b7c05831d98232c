"""Salvage a damaged phrase library: copy every phrase that can still be read into a new one.

The damaged folder is only read (SQLite in read-only mode), never changed. A phrase is kept when
its database row decodes and its motion file is there, matches its checksum and decodes; rows
on damaged database pages are skipped one by one (rowid scan) rather than failing the whole
read. What could not be kept is reported, with the reason.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from musicdance.errors import MusicDanceError
from musicdance.library.phrase import Phrase
from musicdance.library.store import (
    _COLUMNS,
    DB_NAME,
    MOTION_DIR,
    PhraseLibrary,
    _check_phrase,
    _info_from_row,
    building_folder,
    create_library,
    decode_motion_file,
    open_library,
)

__all__ = ["RepairReport", "repair_library"]

#: A rowid scan stops after this many missing rowids past the last row found.
_SCAN_GAP = 2_000
_SCAN_MAX = 5_000_000


@dataclass
class RepairReport:
    """What ``repair_library`` recovered and lost."""

    source: str
    destination: str
    recovered: list[str] = field(default_factory=list)
    lost: dict[str, str] = field(default_factory=dict)  # phrase id (or row) -> reason
    unreadable_rows: int = 0
    orphan_files: list[str] = field(default_factory=list)  # motion files with no readable row

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "destination": self.destination,
            "recovered": len(self.recovered),
            "lost": self.lost,
            "unreadable_rows": self.unreadable_rows,
            "orphan_files": self.orphan_files,
        }


def _connect_read_only(db: Path) -> sqlite3.Connection:
    uri = f"file:{db.resolve().as_posix()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=30.0)


def _rows(connection: sqlite3.Connection) -> tuple[list[tuple], int]:
    """Every readable phrase row, and how many rows could not be read."""
    query = f"SELECT {', '.join(_COLUMNS)} FROM phrases"
    try:
        return connection.execute(query + " ORDER BY id").fetchall(), 0
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        pass
    rows, unreadable, rowid, last_found = [], 0, 0, 0
    while rowid - last_found < _SCAN_GAP and rowid < _SCAN_MAX:
        rowid += 1
        try:
            row = connection.execute(query + " WHERE rowid = ?", (rowid,)).fetchone()
        except (sqlite3.DatabaseError, UnicodeDecodeError):
            unreadable += 1
            continue
        if row is not None:
            rows.append(row)
            last_found = rowid
    return rows, unreadable


def _tags(connection: sqlite3.Connection, ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    try:
        pairs = connection.execute("SELECT phrase_id, tag FROM tags ORDER BY tag").fetchall()
    except (sqlite3.DatabaseError, UnicodeDecodeError):
        pairs = []
        for phrase_id in ids:
            try:
                pairs += connection.execute(
                    "SELECT phrase_id, tag FROM tags WHERE phrase_id = ? ORDER BY tag",
                    (phrase_id,),
                ).fetchall()
            except (sqlite3.DatabaseError, UnicodeDecodeError):
                continue
    for phrase_id, tag in pairs:
        found.setdefault(phrase_id, []).append(tag)
    return found


def repair_library(
    source: str | os.PathLike[str], destination: str | os.PathLike[str]
) -> RepairReport:
    """Copy every readable phrase of the library in ``source`` into a new library at
    ``destination`` (a new or empty folder, built beside it and renamed into place).

    ``source`` is never written. Raises ``MusicDanceError`` when nothing can be recovered.
    """
    source, destination = Path(source), Path(destination)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise MusicDanceError("repair writes to a new or empty folder", destination)
    if source.resolve() == destination.resolve():
        raise MusicDanceError("repair writes a new library: give another folder", destination)
    report = RepairReport(str(source), str(destination))
    db = source / DB_NAME
    rows: list[tuple] = []
    tags: dict[str, list[str]] = {}
    if db.is_file() and db.stat().st_size > 0:
        try:
            connection = _connect_read_only(db)
        except sqlite3.Error as error:
            raise MusicDanceError(f"cannot open the database ({error})", db) from None
        try:
            rows, report.unreadable_rows = _rows(connection)
            tags = _tags(connection, [r[0] for r in rows if isinstance(r[0], str)])
        except (sqlite3.DatabaseError, UnicodeDecodeError) as error:  # not even the schema
            report.lost["(database)"] = f"unreadable: {error}"
        finally:
            connection.close()
    reader = PhraseLibrary(source)  # only its motion-file reader is used
    phrases: list[Phrase] = []
    used_files = set()
    for row in rows:
        name = str(row[0])
        try:
            info = _info_from_row(row, tags.get(row[0], []))
            data = reader._motion_bytes(row[21], row[22])
            motion, contacts = decode_motion_file(data, info.fps)
            phrase = Phrase(info=info, motion=motion, contacts=contacts)
            _check_phrase(phrase)
        except MusicDanceError as error:
            report.lost[name] = error.message
            continue
        except Exception as error:  # noqa: BLE001 - any damage in a row or file: keep going
            report.lost[name] = f"{type(error).__name__}: {str(error)[:120]}"
            continue
        phrases.append(phrase)
        used_files.add(Path(str(row[21])).name)
    folder = source / MOTION_DIR
    if folder.is_dir():
        report.orphan_files = sorted(
            f"{MOTION_DIR}/{p.name}" for p in folder.glob("*.npz") if p.name not in used_files
        )
    if not phrases:
        raise MusicDanceError(
            f"nothing could be recovered ({len(report.lost)} phrase(s) damaged, "
            f"{report.unreadable_rows} unreadable row(s), {len(report.orphan_files)} motion "
            "file(s) without annotations); restore library.sqlite from a backup",
            source,
        )
    with building_folder(destination) as staging:
        create_library(staging).add(phrases)
    report.recovered = [p.id for p in phrases]
    open_library(destination)  # the new library opens
    return report
