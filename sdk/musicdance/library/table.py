"""The library's choice columns as arrays: what the choreographer reads, in one SQL query.

``PhraseTable`` holds, for every phrase (ordered by id, like every ``PhraseLibrary`` answer),
the annotations that scoring and transitions use: style, energy, tempo, meter, support feet,
facing and the boundary pose features ``[K, F]`` (the start and end ``transition_features``).
It is built from one ``SELECT`` whose feature blobs are joined and read as one array, never
row by row into ``PhraseInfo`` objects, and it is cached per library file (keyed by the
database's path, size and modification time, so any write makes a fresh one). Motion files are
not touched: the renderer loads only the phrases chosen.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicdance.library.phrase import PhraseInfo

__all__ = ["SUPPORTS", "PhraseTable", "load_table", "table_of"]

#: Support-foot codes of ``PhraseTable.support_start`` / ``support_end``.
SUPPORTS = ("left", "right", "none", "both")
_CACHE_SIZE = 2  # tables kept per process: bounded memory, a library and one other
INDEX_DIR = "index"
TABLE_FILE = "table.npz"
#: Libraries from this size on keep a copy of their table beside the database (a cold start
#: reads it in tens of milliseconds instead of a second of SQL row decoding at 100k phrases).
CACHE_MIN_PHRASES = 5000
_cache: OrderedDict[tuple, PhraseTable] = OrderedDict()
_cache_lock = threading.Lock()


def _support_code(values: list[str]) -> np.ndarray:
    codes = {name: k for k, name in enumerate(SUPPORTS)}
    return np.array([codes.get(v, len(SUPPORTS)) for v in values], dtype=np.int8)


@dataclass(frozen=True, eq=False)
class PhraseTable:
    """Column arrays of K phrases (``[K]`` each unless said; features ``[K, F]`` float32)."""

    ids: np.ndarray  # [K] str (object)
    style: np.ndarray  # [K] str (object)
    energy: np.ndarray
    tempo_bpm: np.ndarray
    meter: np.ndarray  # int
    support_start: np.ndarray  # int8 codes into SUPPORTS (len(SUPPORTS) = other)
    support_end: np.ndarray
    facing_start_deg: np.ndarray
    facing_end_deg: np.ndarray
    start_features: np.ndarray  # [K, F] float32
    end_features: np.ndarray  # [K, F] float32
    _index: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_infos(cls, infos: list[PhraseInfo]) -> PhraseTable:
        """The table of ``infos`` (in their order)."""
        width = len(infos[0].start_features) if infos else 0
        return cls(
            ids=np.array([i.id for i in infos], dtype=object),
            style=np.array([i.style for i in infos], dtype=object),
            energy=np.array([i.energy for i in infos], dtype=float),
            tempo_bpm=np.array([i.tempo_bpm for i in infos], dtype=float),
            meter=np.array([i.meter for i in infos], dtype=np.int64),
            support_start=_support_code([i.support_start for i in infos]),
            support_end=_support_code([i.support_end for i in infos]),
            facing_start_deg=np.array([i.facing_start_deg for i in infos], dtype=float),
            facing_end_deg=np.array([i.facing_end_deg for i in infos], dtype=float),
            start_features=np.array([i.start_features for i in infos], np.float32).reshape(
                len(infos), width
            ),
            end_features=np.array([i.end_features for i in infos], np.float32).reshape(
                len(infos), width
            ),
        )

    def take(self, rows: np.ndarray) -> PhraseTable:
        """The sub-table of ``rows`` (indices, in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        return PhraseTable(
            **{name: getattr(self, name)[rows] for name in _ARRAYS},
        )

    def rows_of_style(self, style: str) -> np.ndarray:
        """Indices of the phrases of ``style`` (ascending)."""
        return np.flatnonzero(self.style == style)

    def styles(self) -> list[str]:
        return sorted(set(self.style.tolist()))

    def style_codes(self) -> tuple[list[str], np.ndarray]:
        """The sorted styles and each row's index into them, ``[K]`` int."""
        if "styles" not in self._index:
            names, codes = np.unique(self.style.astype(str), return_inverse=True)
            self._index["styles"] = (names.tolist(), codes.astype(np.int64))
        return self._index["styles"]

    def index_of(self, phrase_id: str) -> int:
        """Row of ``phrase_id``, -1 when absent."""
        if "ids" not in self._index:
            self._index["ids"] = {p: k for k, p in enumerate(self.ids.tolist())}
        return self._index["ids"].get(phrase_id, -1)

    def nbytes(self) -> int:
        return int(sum(getattr(self, n).nbytes for n in _ARRAYS) + 80 * len(self) * 2)


_ARRAYS = (
    "ids", "style", "energy", "tempo_bpm", "meter", "support_start", "support_end",
    "facing_start_deg", "facing_end_deg", "start_features", "end_features",
)  # fmt: skip


def _key(db_path: os.PathLike) -> tuple:
    stat = os.stat(db_path)
    return (os.path.abspath(db_path), stat.st_ino, stat.st_size, stat.st_mtime_ns)


def load_table(library) -> PhraseTable:
    """The ``PhraseTable`` of a ``PhraseLibrary`` (one query; cached until the file changes)."""
    with library._errors():
        key = _key(library.db_path)
    with _cache_lock:
        table = _cache.get(key)
        if table is not None:
            _cache.move_to_end(key)
            return table
    cache = Path(library.path) / INDEX_DIR / TABLE_FILE
    table = _read_cached(cache, key)
    if table is None:
        columns = (
            "id, style, energy, tempo_bpm, meter, support_start, support_end, "
            "facing_start_deg, facing_end_deg, start_features, end_features"
        )
        with library._read() as connection:
            rows = connection.execute(f"SELECT {columns} FROM phrases ORDER BY id").fetchall()
        table = _table_from_rows(rows)
        del rows
        if len(table) >= CACHE_MIN_PHRASES:
            _write_cached(cache, key, table)
    with _cache_lock:
        _cache[key] = table
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return table


def _file_key(key: tuple) -> str:
    return f"{key[2]}:{key[3]}"  # size and modification time of library.sqlite


def _read_cached(path: Path, key: tuple) -> PhraseTable | None:
    """The table saved beside the database, if it was saved from this very file version."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if str(arrays["db_key"]) != _file_key(key):
                return None
            ids = str(arrays["ids"]).split("\0") if len(arrays["start_features"]) else []
            styles = str(arrays["styles"]).split("\0")
            table = PhraseTable(
                ids=np.array(ids, dtype=object),
                style=np.array(styles, dtype=object)[arrays["style_code"]],
                **{name: arrays[name] for name in _ARRAYS[2:]},
            )
            table._index["content_hash"] = str(arrays["content_hash"])
            return table
    except (OSError, ValueError, KeyError):
        return None


def _write_cached(path: Path, key: tuple, table: PhraseTable) -> None:
    """Save the table for the next process (skipped silently on a read-only library)."""
    from musicdance.atomic import atomic_write
    from musicdance.library.transition_graph import content_hash

    styles, codes = table.style_codes()
    digest = content_hash(table)
    with contextlib.suppress(OSError):
        path.parent.mkdir(exist_ok=True)
        with atomic_write(path, "wb") as handle:
            np.savez(
                handle, db_key=np.array(_file_key(key)), ids=np.array("\0".join(table.ids)),
                styles=np.array("\0".join(styles)), style_code=codes.astype(np.int32),
                content_hash=np.array(digest),
                **{name: getattr(table, name) for name in _ARRAYS[2:]},
            )  # fmt: skip


def _table_from_rows(rows: list[tuple]) -> PhraseTable:
    if not rows:
        empty = np.zeros(0)
        return PhraseTable(
            np.zeros(0, object), np.zeros(0, object), empty, empty, np.zeros(0, np.int64),
            np.zeros(0, np.int8), np.zeros(0, np.int8), empty, empty,
            np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32),
        )  # fmt: skip
    ids, style, energy, tempo, meter, s_start, s_end, f_start, f_end, b_start, b_end = zip(
        *rows, strict=True
    )
    width = len(b_start[0]) // 4
    return PhraseTable(
        ids=np.array(ids, dtype=object),
        style=np.array(style, dtype=object),
        energy=np.array(energy, dtype=float),
        tempo_bpm=np.array(tempo, dtype=float),
        meter=np.array(meter, dtype=np.int64),
        support_start=_support_code(s_start),
        support_end=_support_code(s_end),
        facing_start_deg=np.array(f_start, dtype=float),
        facing_end_deg=np.array(f_end, dtype=float),
        start_features=np.frombuffer(b"".join(b_start), dtype="<f4")
        .reshape(len(rows), width)
        .astype(np.float32),
        end_features=np.frombuffer(b"".join(b_end), dtype="<f4")
        .reshape(len(rows), width)
        .astype(np.float32),
    )


def table_of(library) -> PhraseTable:
    """The table of any library-like object: ``library.table()`` when it has one (a
    ``PhraseLibrary`` or the runtime's cache), else built from ``library.infos()``."""
    if hasattr(library, "table"):
        return library.table()
    return PhraseTable.from_infos(library.infos())
