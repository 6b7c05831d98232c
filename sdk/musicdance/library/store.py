"""The phrase library on disk: a folder with ``library.sqlite`` and one motion file per phrase.

Layout::

    DIR/library.sqlite          phrases, tags, schema_version (see ``musicdance.library.schema``)
    DIR/motions/<id>-<hash>.npz root_positions_m float32 [T, 3], rotations_q15 int16 [J, 4, T]
                                (unit quaternions x 32767, delta-coded along time, time last
                                so that zlib sees each channel's run), contacts uint8 [T, 2]

Safety: every database write is one ``BEGIN IMMEDIATE`` transaction and SQLite waits up to
``BUSY_TIMEOUT_S`` for another writer (rollback journal, not WAL, so a read-only copy of the
folder can still be read). Motion files are written to a temporary name and renamed
(``atomic_write``); their names carry a content hash, so a replaced phrase never overwrites the
file the committed row points at, and the old file is deleted only after the commit. Errors a
user can cause (missing, damaged or read-only library, unknown or duplicate ids) raise
``MusicDanceError`` and leave the library as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.library.phrase import (
    CANONICAL_SKELETON,
    STATUSES,
    Phrase,
    PhraseInfo,
    check_phrase_id,
)
from musicdance.library.schema import SCHEMA_VERSION, migrate, now_iso, schema_version
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_normalize, quat_unroll

__all__ = [
    "BUSY_TIMEOUT_S",
    "DB_NAME",
    "PhraseLibrary",
    "create_library",
    "decode_motion_file",
    "encode_motion_file",
    "folder_damage",
    "open_library",
]

DB_NAME = "library.sqlite"
MOTION_DIR = "motions"
BUSY_TIMEOUT_S = 30.0
_Q15 = 32767.0
_COLUMNS = (
    "id", "name", "style", "energy", "tempo_bpm", "meter", "num_counts", "count_frames", "fps",
    "num_frames", "duration_s", "skeleton", "source", "licence", "status", "support_start",
    "support_end", "facing_start_deg", "facing_end_deg", "start_features", "end_features",
    "motion_file", "motion_sha256", "created_at", "updated_at",
)  # fmt: skip


def encode_motion_file(phrase: Phrase) -> bytes:
    """The ``.npz`` bytes of a phrase's per-frame arrays (see the module docstring)."""
    rotations = quat_unroll(quat_normalize(phrase.motion.rotations), axis=0)
    q15 = np.round(rotations * _Q15).astype(np.int16)
    deltas = np.diff(q15, axis=0, prepend=np.zeros_like(q15[:1]))  # wraps like cumsum undoes
    deltas = np.ascontiguousarray(np.moveaxis(deltas, 0, -1))
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        root_positions_m=phrase.motion.root_positions_m.astype(np.float32),
        rotations_q15=deltas,
        contacts=phrase.contacts.astype(np.uint8),
    )
    return buffer.getvalue()


def decode_motion_file(data: bytes, fps: float) -> tuple[Motion, np.ndarray]:
    """The canonical-skeleton motion and ``[T, 2]`` contacts stored in ``.npz`` bytes."""
    with np.load(io.BytesIO(data)) as arrays:
        root = arrays["root_positions_m"].astype(np.float64)
        q15 = np.cumsum(np.moveaxis(arrays["rotations_q15"], -1, 0), axis=0, dtype=np.int16)
        contacts = arrays["contacts"].astype(bool)
    rotations = quat_normalize(q15.astype(np.float64) / _Q15)
    motion = Motion(canonical_skeleton(), fps, root, rotations)
    return motion, contacts


class PhraseLibrary:
    """A phrase library folder. Create one with ``open_library(path, create=True)``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db_path = self.path / DB_NAME

    # -- connections -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._errors():
            connection = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                connection.execute("PRAGMA foreign_keys = ON")
                yield connection
            finally:
                connection.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as connection:
            yield connection

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed if the block succeeds."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite and file-system failures into one-line ``MusicDanceError``s."""
        try:
            yield
        except sqlite3.OperationalError as error:
            text = " ".join(str(error).split())[:300]  # SQLite may quote schema text: one line
            if "readonly" in text or "unable to open" in text or "read-only" in text:
                raise MusicDanceError(
                    f"library is read-only ({text}); nothing was changed", self.path
                ) from None
            if "locked" in text or "busy" in text:
                raise MusicDanceError(
                    f"library is busy: another command held it for over {BUSY_TIMEOUT_S:g} s "
                    "(nothing was changed); try again",
                    self.path,
                ) from None
            raise MusicDanceError(
                f"library database error ({text}); nothing was changed", self.db_path
            ) from None
        except (sqlite3.DatabaseError, UnicodeDecodeError) as error:  # bad text is damage too
            raise MusicDanceError(
                f"library database is damaged ({' '.join(str(error).split())[:200]}); nothing "
                "was changed. Restore "
                f"{DB_NAME} from a backup, or salvage what is readable with 'mdtool library "
                "repair NEW_FOLDER'",
                self.db_path,
            ) from None
        except PermissionError as error:
            raise MusicDanceError(
                f"library is read-only ({error.strerror}); nothing was changed", self.path
            ) from None

    def _check_schema(self, *, upgrade: bool) -> None:
        with self._read() as connection:
            version = schema_version(connection)
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION or upgrade:
                migrate(connection, str(self.db_path))
                return
        raise MusicDanceError(
            f"library schema version {version} is older than {SCHEMA_VERSION}", self.db_path
        )

    # -- reading -----------------------------------------------------------------------------

    def infos(
        self,
        *,
        ids: Iterable[str] | None = None,
        styles: Iterable[str] = (),
        tags: Iterable[str] = (),
        statuses: Iterable[str] = (),
        min_energy: float = 0.0,
        max_energy: float = 1.0,
    ) -> list[PhraseInfo]:
        """Phrases (annotations only) matching every filter given, ordered by id.

        styles/statuses: any of; tags: all of.
        """
        ids = None if ids is None else list(ids)
        where, params = ["energy BETWEEN ? AND ?"], [min_energy, max_energy]
        for column, values in (("style", styles), ("status", statuses), ("id", ids or ())):
            values = list(values)
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if ids is not None and not ids:
            return []
        for tag in dict.fromkeys(tags):
            where.append("id IN (SELECT phrase_id FROM tags WHERE tag = ?)")
            params.append(tag)
        query = f"SELECT {', '.join(_COLUMNS)} FROM phrases WHERE {' AND '.join(where)} ORDER BY id"
        with self._read() as connection:
            rows = connection.execute(query, params).fetchall()
            tag_query, tag_params = "SELECT phrase_id, tag FROM tags", []
            if ids is not None:  # one phrase's tags, not the whole library's, for info()/get()
                tag_params = ids
                tag_query += f" WHERE phrase_id IN ({','.join('?' * len(tag_params))})"
            tag_rows = connection.execute(f"{tag_query} ORDER BY tag", tag_params).fetchall()
        tags_by_id: dict[str, list[str]] = {}
        for phrase_id, tag in tag_rows:
            tags_by_id.setdefault(phrase_id, []).append(tag)
        infos = []
        for row in rows:
            try:
                infos.append(_info_from_row(row, tags_by_id.get(row[0], [])))
            except (ValueError, TypeError, OverflowError) as error:
                raise MusicDanceError(
                    f"library database is damaged: the row of phrase {str(row[0])[:80]!r} has "
                    f"invalid values ({type(error).__name__}); nothing was changed. Salvage the "
                    "other phrases with 'mdtool library repair NEW_FOLDER'",
                    self.db_path,
                ) from None
        return infos

    def table(self):
        """The choice columns of every phrase as arrays (``musicdance.library.table``): one
        query, cached until the database changes."""
        from musicdance.library.table import load_table

        return load_table(self)

    def info(self, phrase_id: str) -> PhraseInfo:
        """The annotations of one phrase."""
        found = self.infos(ids=[phrase_id])
        if not found:
            raise MusicDanceError(f"no phrase with id {phrase_id!r}", self.path)
        return found[0]

    def ids(self) -> list[str]:
        with self._read() as connection:
            return [row[0] for row in connection.execute("SELECT id FROM phrases ORDER BY id")]

    def __len__(self) -> int:
        with self._read() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM phrases").fetchone()[0])

    def get(self, phrase_id: str) -> Phrase:
        """A phrase with its motion and contacts (the motion file's checksum is verified)."""
        data, relative = self._phrase_motion_bytes(phrase_id)
        info = self.info(phrase_id)
        try:
            motion, contacts = decode_motion_file(data, info.fps)
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as error:
            raise MusicDanceError(
                f"motion file cannot be decoded ({error})", self.path / relative
            ) from None
        if motion.num_frames != info.num_frames:
            raise MusicDanceError(
                f"motion file of {phrase_id!r} has {motion.num_frames} frames, the database "
                f"says {info.num_frames}",
                self.path / relative,
            )
        return Phrase(info=info, motion=motion, contacts=contacts)

    def motion_q15(self, phrase_id: str) -> tuple[np.ndarray, np.ndarray]:
        """A phrase's stored frames as they are in its motion file: root positions ``[T, 3]``
        float32 and rotations ``[T, J, 4]`` int16 (Q15; ``get`` normalises ``q / 32767``)."""
        data, _ = self._phrase_motion_bytes(phrase_id)
        with np.load(io.BytesIO(data)) as arrays:
            root = arrays["root_positions_m"].astype(np.float32)
            q15 = np.cumsum(np.moveaxis(arrays["rotations_q15"], -1, 0), axis=0, dtype=np.int16)
        return root, q15

    def _phrase_motion_bytes(self, phrase_id: str) -> tuple[bytes, str]:
        """The checked bytes of a phrase's motion file and its path inside the library."""
        with self._read() as connection:
            row = connection.execute(
                "SELECT motion_file, motion_sha256 FROM phrases WHERE id = ?", (phrase_id,)
            ).fetchone()
        if row is None:
            raise MusicDanceError(f"no phrase with id {phrase_id!r}", self.path)
        return self._motion_bytes(row[0], row[1]), row[0]

    def _motion_bytes(self, relative: str, sha256: str) -> bytes:
        path = self.path / relative
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MusicDanceError("motion file is missing", path) from None
        except OSError as error:
            raise MusicDanceError(f"cannot read motion file ({error.strerror})", path) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise MusicDanceError("motion file is damaged (checksum mismatch)", path)
        return data

    def motion_files(self) -> dict[str, str]:
        """Phrase id -> motion file path relative to the library folder."""
        with self._read() as connection:
            return dict(connection.execute("SELECT id, motion_file FROM phrases"))

    def motion_checksums(self) -> dict[str, str]:
        """Phrase id -> sha256 of its motion file (changes whenever the motion does)."""
        with self._read() as connection:
            return dict(connection.execute("SELECT id, motion_sha256 FROM phrases"))

    def stats(self) -> dict:
        """Counts per style, energy level, status and meter, a tempo histogram (10 BPM bins),
        total duration and tag counts (JSON-ready)."""
        with self._read() as connection:
            query = connection.execute
            count, duration = query("SELECT COUNT(*), TOTAL(duration_s) FROM phrases").fetchone()
            low, mid, high = query(
                "SELECT TOTAL(energy < 0.45), TOTAL(energy >= 0.45 AND energy < 0.75), "
                "TOTAL(energy >= 0.75) FROM phrases"
            ).fetchone()
            groups = {
                column: query(
                    f"SELECT {column}, COUNT(*) FROM phrases GROUP BY {column}"
                ).fetchall()
                for column in ("style", "status", "meter")
            }
            tempo = query(
                "SELECT CAST(tempo_bpm / 10 AS INTEGER) * 10 AS low, COUNT(*) FROM phrases "
                "GROUP BY low ORDER BY low"
            ).fetchall()
            tags = query("SELECT tag, COUNT(*) FROM tags GROUP BY tag").fetchall()
        return {
            "library": str(self.path),
            "phrases": int(count),
            "duration_s": round(float(duration), 2),
            "styles": dict(sorted((str(k), int(n)) for k, n in groups["style"])),
            "energy": {"low (<0.45)": int(low), "mid (0.45-0.75)": int(mid),
                       "high (>=0.75)": int(high)},  # fmt: skip
            "status": dict(sorted((str(k), int(n)) for k, n in groups["status"])),
            "meter": dict(sorted((str(k), int(n)) for k, n in groups["meter"])),
            "tempo_bpm": {f"{int(low)}-{int(low) + 10}": int(n) for low, n in tempo},
            "tags": dict(sorted((str(k), int(n)) for k, n in tags)),
        }

    # -- writing -----------------------------------------------------------------------------

    def add(self, phrases: Iterable[Phrase], *, replace_existing: bool = False) -> list[str]:
        """Add phrases in one transaction; returns their ids.

        Duplicate ids (within ``phrases`` or with the library) raise unless
        ``replace_existing``; then nothing is added.
        """
        phrases = list(phrases)
        ids = [check_phrase_id(p.id) for p in phrases]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise MusicDanceError(f"duplicate phrase ids in one batch: {', '.join(repeated)}")
        for phrase in phrases:
            _check_phrase(phrase)
        if not replace_existing:
            self._refuse_existing(ids)
        written: list[Path] = []
        rows = []
        try:
            for phrase in phrases:
                relative, sha256, created = self._write_motion(phrase)
                if created:
                    written.append(self.path / relative)
                rows.append(_row_from_phrase(phrase, relative, sha256))
            old_files = self._insert(rows, [p.info.tags for p in phrases], replace_existing)
        except BaseException:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        self._delete_files(old_files - {row[21] for row in rows})
        return ids

    def _refuse_existing(self, ids: list[str]) -> None:
        existing = set(ids) & set(self.ids())
        if existing:
            shown = sorted(existing)
            raise MusicDanceError(
                f"phrase id{'s' if len(shown) > 1 else ''} already in the library: "
                f"{', '.join(shown[:8])}{' ...' if len(shown) > 8 else ''} (nothing was added)",
                self.path,
            )

    def _write_motion(self, phrase: Phrase) -> tuple[str, str, bool]:
        data = encode_motion_file(phrase)
        sha256 = hashlib.sha256(data).hexdigest()
        relative = f"{MOTION_DIR}/{phrase.id}-{sha256[:12]}.npz"
        target = self.path / relative
        if target.exists():
            return relative, sha256, False
        with self._errors(), atomic_write(target, "wb") as handle:
            handle.write(data)
        return relative, sha256, True

    def _insert(
        self, rows: list[tuple], tags: list[tuple[str, ...]], replace_existing: bool
    ) -> set[str]:
        """Insert rows and their tags; returns the motion files of replaced rows."""
        ids = [row[0] for row in rows]
        marks = ",".join("?" * len(ids))
        with self._write() as connection:
            old = connection.execute(
                f"SELECT id, motion_file, created_at FROM phrases WHERE id IN ({marks})", ids
            ).fetchall()
            if old and not replace_existing:  # another process added them meanwhile
                raise MusicDanceError(
                    f"phrase ids already in the library: {', '.join(r[0] for r in old)} "
                    "(nothing was added)",
                    self.path,
                )
            created = {r[0]: r[2] for r in old}
            if old:
                connection.execute(f"DELETE FROM phrases WHERE id IN ({marks})", ids)
            stamp = now_iso()
            for row in rows:
                row = (*row[:-2], created.get(row[0], stamp), stamp)
                connection.execute(
                    f"INSERT INTO phrases ({', '.join(_COLUMNS)}) "
                    f"VALUES ({','.join('?' * len(_COLUMNS))})",
                    row,
                )
            connection.executemany(
                "INSERT INTO tags VALUES (?, ?)",
                [(i, tag) for i, phrase_tags in zip(ids, tags, strict=True) for tag in phrase_tags],
            )
        return {r[1] for r in old}

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Remove phrases (all or none: unknown ids raise); returns the ids removed."""
        ids = list(dict.fromkeys(ids))
        with self._write() as connection:
            files = dict(
                connection.execute(
                    f"SELECT id, motion_file FROM phrases WHERE id IN ({','.join('?' * len(ids))})",
                    ids,
                ).fetchall()
            )
            self._require_known(ids, files)
            connection.executemany("DELETE FROM phrases WHERE id = ?", [(i,) for i in ids])
        self._delete_files(set(files.values()))
        return ids

    def _require_known(self, ids: list[str], found: Iterable[str]) -> None:
        missing = [i for i in ids if i not in set(found)]
        if missing:
            raise MusicDanceError(
                f"no phrase with id {', '.join(map(repr, missing))} (nothing was changed)",
                self.path,
            )

    def _delete_files(self, relatives: set[str]) -> None:
        for relative in relatives:
            with contextlib.suppress(OSError):
                (self.path / relative).unlink()

    def tag(self, ids: Iterable[str], tags: Iterable[str]) -> None:
        """Add ``tags`` to every phrase in ``ids`` (already present tags are kept once)."""
        ids, tags = list(dict.fromkeys(ids)), _clean_tags(tags)
        with self._write() as connection:
            self._require_known(ids, self._existing(connection, ids))
            connection.executemany(
                "INSERT OR IGNORE INTO tags VALUES (?, ?)", [(i, t) for i in ids for t in tags]
            )
            self._touch(connection, ids)

    def untag(self, ids: Iterable[str], tags: Iterable[str]) -> None:
        """Remove ``tags`` from every phrase in ``ids`` (absent tags are ignored)."""
        ids, tags = list(dict.fromkeys(ids)), _clean_tags(tags)
        with self._write() as connection:
            self._require_known(ids, self._existing(connection, ids))
            connection.executemany(
                "DELETE FROM tags WHERE phrase_id = ? AND tag = ?",
                [(i, t) for i in ids for t in tags],
            )
            self._touch(connection, ids)

    def set_style_tags(self, rows: Iterable[tuple[str, str, float, str]]) -> None:
        """Record automatic style tags: (phrase id, style, confidence in [0, 1], method) per
        phrase, in the ``style_tags`` table (made on first use, so libraries never tagged keep
        their file unchanged), and the tag ``style:STYLE`` (a phrase's earlier ``style:`` tags
        are replaced). One transaction."""
        rows = [(str(i), str(s), float(c), str(m)) for i, s, c, m in rows]
        if any(not 0.0 <= c <= 1.0 for _, _, c, _ in rows):
            raise MusicDanceError("style tag confidences must lie in [0, 1]")
        ids = list(dict.fromkeys(r[0] for r in rows))
        with self._write() as connection:
            self._require_known(ids, self._existing(connection, ids))
            connection.execute(STYLE_TAGS_SQL)
            connection.executemany(
                "INSERT OR REPLACE INTO style_tags VALUES (?, ?, ?, ?, ?)",
                [(i, s, c, m, now_iso()) for i, s, c, m in rows],
            )
            connection.executemany(
                "DELETE FROM tags WHERE phrase_id = ? AND tag LIKE 'style:%'", [(i,) for i in ids]
            )
            connection.executemany(
                "INSERT OR IGNORE INTO tags VALUES (?, ?)",
                [(i, f"style:{s}") for i, s, _, _ in rows],
            )
            self._touch(connection, ids)

    def style_tags(self) -> dict[str, dict]:
        """Automatic style tags by phrase id: {id: {style, confidence, method, tagged_at}}
        ({} for a library never tagged)."""
        with self._read() as connection:
            exists = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'style_tags'"
            ).fetchone()
            if not exists:
                return {}
            found = connection.execute(
                "SELECT phrase_id, style, confidence, method, tagged_at FROM style_tags"
            ).fetchall()
        return {
            i: {"style": s, "confidence": float(c), "method": m, "tagged_at": t}
            for i, s, c, m, t in found
        }

    def set_status(self, ids: Iterable[str], status: str) -> None:
        """Set the curation status (one of ``STATUSES``) of every phrase in ``ids``."""
        if status not in STATUSES:
            raise MusicDanceError(
                f"unknown status {status!r}; expected one of {', '.join(STATUSES)}"
            )
        ids = list(dict.fromkeys(ids))
        with self._write() as connection:
            self._require_known(ids, self._existing(connection, ids))
            connection.executemany(
                "UPDATE phrases SET status = ? WHERE id = ?", [(status, i) for i in ids]
            )
            self._touch(connection, ids)

    @staticmethod
    def _existing(connection: sqlite3.Connection, ids: list[str]) -> list[str]:
        marks = ",".join("?" * len(ids))
        return [
            r[0] for r in connection.execute(f"SELECT id FROM phrases WHERE id IN ({marks})", ids)
        ]

    @staticmethod
    def _touch(connection: sqlite3.Connection, ids: list[str]) -> None:
        stamp = now_iso()
        connection.executemany(
            "UPDATE phrases SET updated_at = ? WHERE id = ?", [(stamp, i) for i in ids]
        )

    def export(
        self,
        destination: str | os.PathLike[str],
        *,
        ids: Iterable[str] | None = None,
        styles: Iterable[str] = (),
        tags: Iterable[str] = (),
        statuses: Iterable[str] = (),
    ) -> PhraseLibrary:
        """Copy the matching phrases into a new library folder (built beside it, then renamed
        into place, so a failure leaves no half library), with the library's ``LICENSE*``
        notices."""
        destination = Path(destination)
        if (destination / DB_NAME).exists() or (
            destination.exists() and any(destination.iterdir())
        ):
            raise MusicDanceError("export needs a new or empty folder", destination)
        infos = self.infos(ids=ids, styles=styles, tags=tags, statuses=statuses)
        if not infos:
            raise MusicDanceError("no phrase matches the export filters", self.path)
        with building_folder(destination) as staging:
            create_library(staging).add(self.get(info.id) for info in infos)
            for notice in self.path.glob("LICENSE*"):  # licence notices travel with phrases
                if notice.is_file():
                    shutil.copyfile(notice, staging / notice.name)
        return open_library(destination)


#: The table of automatic style tags (``mdtool library tag --auto``), made on first use.
STYLE_TAGS_SQL = """CREATE TABLE IF NOT EXISTS style_tags (
    phrase_id TEXT PRIMARY KEY REFERENCES phrases(id) ON DELETE CASCADE,
    style TEXT NOT NULL,
    confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    method TEXT NOT NULL,
    tagged_at TEXT NOT NULL
)"""


@contextlib.contextmanager
def building_folder(destination: Path, *, replace_existing: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``destination`` that becomes ``destination`` if the block
    succeeds and disappears if it fails. An existing empty ``destination`` is replaced; a
    non-empty one only with ``replace_existing``, and only after the block succeeded."""
    destination = Path(destination)
    parent = destination.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.new.", dir=parent))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(staging, 0o777 & ~mask)  # mkdtemp makes 0700; give what mkdir would
    except OSError as error:
        raise MusicDanceError(
            f"cannot create the library folder ({error.strerror})", parent
        ) from None
    try:
        yield staging
        if not destination.exists():
            os.replace(staging, destination)
        elif not any(destination.iterdir()):
            destination.rmdir()
            os.replace(staging, destination)
        elif replace_existing:
            old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old.", dir=parent))
            os.replace(destination, old / "library")
            try:
                os.replace(staging, destination)
            except BaseException:
                os.replace(old / "library", destination)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            raise MusicDanceError("folder is not empty", destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def folder_damage(path: str | os.PathLike[str]) -> str | None:
    """Why a library folder is damaged beyond what SQLite can tell (None: it is not): its
    database is missing or empty (0 bytes) while ``motions/`` holds motion files, so the
    phrases' annotations are gone and the folder must not be taken for a new library."""
    path = Path(path)
    folder = path / MOTION_DIR
    motions = sum(1 for _ in folder.glob("*.npz")) if folder.is_dir() else 0
    if not motions:
        return None
    db = path / DB_NAME
    if not db.exists():
        state = "is missing"
    elif db.is_file() and db.stat().st_size == 0:
        state = "is empty (0 bytes)"
    else:
        return None
    return f"{DB_NAME} {state} but {MOTION_DIR}/ holds {motions} motion file(s)"


def _refuse_damaged(path: Path) -> None:
    why = folder_damage(path)
    if why:
        raise MusicDanceError(
            f"the library is damaged: {why}; nothing was changed. Restore {DB_NAME} from a "
            "backup (the phrases' annotations live only there), or salvage what is readable "
            "with 'mdtool library repair NEW_FOLDER'",
            path,
        )


def create_library(path: str | os.PathLike[str]) -> PhraseLibrary:
    """Create an empty library in ``path`` (made if missing); an existing library raises, and
    so does a damaged one (:func:`folder_damage`)."""
    path = Path(path)
    _refuse_damaged(path)
    if (path / DB_NAME).exists() and (path / DB_NAME).stat().st_size > 0:
        raise MusicDanceError("a phrase library already exists here", path)
    if path.exists() and not path.is_dir():
        raise MusicDanceError("not a folder", path)
    library = PhraseLibrary(path)
    with library._errors():
        path.mkdir(parents=True, exist_ok=True)
        (path / MOTION_DIR).mkdir(exist_ok=True)
    library._check_schema(upgrade=True)
    return library


def open_library(path: str | os.PathLike[str], *, create: bool = False) -> PhraseLibrary:
    """Open the library in ``path``; with ``create``, make an empty one if there is none.

    Older schemas are migrated (in one transaction) when the folder is writable.
    """
    path = Path(path)
    _refuse_damaged(path)
    if not (path / DB_NAME).is_file():
        if create:
            return create_library(path)
        if path.is_file():
            raise MusicDanceError("not a library folder (it is a file)", path)
        raise MusicDanceError(
            f"no phrase library here ({DB_NAME} missing); create one with "
            "'mdtool library build-starter' or 'mdtool library import'",
            path,
        )
    library = PhraseLibrary(path)
    library._check_schema(upgrade=True)
    return library


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _clean_tags(tags: Iterable[str]) -> list[str]:
    cleaned = [t.strip() for t in tags]
    if not cleaned or any(not t or "," in t for t in cleaned):
        raise MusicDanceError("tags must be non-empty and contain no commas")
    return list(dict.fromkeys(cleaned))


def _check_phrase(phrase: Phrase) -> None:
    info = phrase.info
    if info.skeleton != CANONICAL_SKELETON:
        raise MusicDanceError(f"phrase {info.id!r}: unsupported skeleton {info.skeleton!r}")
    if info.num_frames != phrase.motion.num_frames or info.fps != phrase.motion.fps:
        raise MusicDanceError(f"phrase {info.id!r}: annotations do not match its motion")
    problems = phrase.motion.problems()
    if problems:
        raise MusicDanceError(f"phrase {info.id!r}: {problems[0]}")


def _row_from_phrase(phrase: Phrase, motion_file: str, sha256: str) -> tuple:
    info = phrase.info
    return (
        info.id, info.name, info.style, info.energy, info.tempo_bpm, info.meter,
        info.num_counts, json.dumps(list(info.count_frames)), info.fps, info.num_frames,
        info.duration_s, info.skeleton, info.source, info.licence, info.status,
        info.support_start, info.support_end, info.facing_start_deg, info.facing_end_deg,
        np.asarray(info.start_features, dtype="<f4").tobytes(),
        np.asarray(info.end_features, dtype="<f4").tobytes(),
        motion_file, sha256, info.created_at, info.updated_at,
    )  # fmt: skip


def _info_from_row(row: tuple, tags: list[str]) -> PhraseInfo:
    values = dict(zip(_COLUMNS, row, strict=True))
    return PhraseInfo(
        id=values["id"],
        name=values["name"],
        style=values["style"],
        energy=float(values["energy"]),
        tempo_bpm=float(values["tempo_bpm"]),
        meter=int(values["meter"]),
        count_frames=tuple(json.loads(values["count_frames"])),
        fps=float(values["fps"]),
        num_frames=int(values["num_frames"]),
        support_start=values["support_start"],
        support_end=values["support_end"],
        facing_start_deg=float(values["facing_start_deg"]),
        facing_end_deg=float(values["facing_end_deg"]),
        start_features=np.frombuffer(values["start_features"], dtype="<f4").copy(),
        end_features=np.frombuffer(values["end_features"], dtype="<f4").copy(),
        tags=tuple(tags),
        skeleton=values["skeleton"],
        source=values["source"],
        licence=values["licence"],
        status=values["status"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )
