"""Build a corpus (analyse songs once, cache per-slot model inputs) and read it back.

A corpus is a folder::

    index.json          format, feature parameters, library (ids, fingerprint), songs
    shards/<key>.npz    one per song: mel [N,128,128] float16, melody [N,128] float16,
                        rhythm [N,128] uint8, start_s/end_s [N], labels [N] (phrase ids, ""
                        where unlabelled), record (the song's JSON record)

``<key>`` is a hash of what determines the shard: the song (file path, size and mtime, or the
synthesis recipe), how it is labelled (and for rule labels the library), the feature parameters
and :data:`BUILDER_VERSION`. Building again re-uses every shard whose key is unchanged, so
adding songs analyses only the new ones, an interrupted build resumes where it stopped, and a
change of feature parameters re-analyses everything (stale shards are removed).

Songs are analysed in parallel: a local process pool (``engine="process"``, the default) or Ray
(``engine="ray"``, the ``ray`` extra; it joins the cluster in ``RAY_ADDRESS`` or starts a local
instance). Workers return arrays; only this process writes files, so Ray workers need to read
the songs but not to write the corpus folder.

Labels (``SongSource.labels``): ``"none"`` (pre-training and co-ascent data), ``"rule"`` (the
phrase the feature-based choreographer picks for each slot, see ``docs/models.md`` for what a
model can learn from those) and ``"pairs"`` (imported expert annotations,
:mod:`musicdance.corpus.pairs`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.audio.model_input import feature_parameters
from musicdance.corpus.engines import ENGINES, analyse_song, cached_library, run_analyses
from musicdance.corpus.reader import (
    CORPUS_FORMAT,
    INDEX_NAME,
    SHARD_DIR,
    Corpus,
    CorpusArrays,
    open_corpus,
)
from musicdance.corpus.sources import (
    AUDIO_SUFFIXES,
    SongSource,
    audio_sources,
    pair_sources,
    starter_sources,
)
from musicdance.errors import MusicDanceError
from musicdance.library.fingerprint import library_content_fingerprint, library_fingerprint

__all__ = [
    "AUDIO_SUFFIXES",
    "BUILDER_VERSION",
    "CORPUS_FORMAT",
    "ENGINES",
    "BuildReport",
    "Corpus",
    "CorpusArrays",
    "SongSource",
    "analyse_song",
    "audio_sources",
    "build_corpus",
    "open_corpus",
    "pair_sources",
    "starter_sources",
]

BUILDER_VERSION = 1


@dataclass
class BuildReport:
    """What a build did. ``failed``: ``(song, error)`` per song that could not be analysed."""

    corpus: Path
    songs: int
    samples: int
    labelled_samples: int
    analysed: int
    cached: int
    removed_shards: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    engine: str = "process"
    workers: int = 1
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["corpus"] = str(self.corpus)
        data["failed"] = [{"song": s, "error": e} for s, e in self.failed]
        return data


def _library_info(library) -> dict[str, Any]:
    ids = library.ids()
    return {
        "path": str(library.path),
        "phrases": len(ids),
        "fingerprint": library_fingerprint(ids),
        "content": library_content_fingerprint(library),
        "phrase_ids": ids,
    }


def build_corpus(
    out: str | os.PathLike[str],
    sources: list[SongSource],
    *,
    library: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    engine: str = "process",
    force: bool = False,
    on_song: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> BuildReport:
    """Analyse ``sources`` into the corpus folder ``out``, re-using cached shards.

    Args:
        out: corpus folder (created; an existing non-corpus folder with files is refused).
        sources: the songs, in order (the index keeps it).
        library: phrase library folder; required when any song is labelled (rule labels are
            chosen from it, imported phrase ids are checked against it).
        workers: parallel analyses (default: the number of CPUs); 1 runs in this process.
        engine: ``"process"`` (local pool) or ``"ray"``.
        force: re-analyse every song, ignoring the cache.
        on_song: called as ``on_song(done, total, record)`` after each analysed song.

    Returns:
        A :class:`BuildReport`. Failed songs are reported there and left out of the index.
    """
    started = time.perf_counter()
    if engine not in ENGINES:
        raise MusicDanceError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    workers = max(1, int(workers or os.cpu_count() or 1))
    folder = Path(out)
    if not sources:
        raise MusicDanceError("no songs to put in the corpus")
    _check_folder(folder)
    lib_info = None
    if any(source.labels != "none" for source in sources):
        if library is None:
            raise MusicDanceError("labelled songs need a phrase library (--library)")
        lib_info = _library_info(cached_library(str(Path(library))))
        _check_pair_ids(sources, set(lib_info["phrase_ids"]), library)
    features = feature_parameters()
    notes: list[str] = []
    previous = _previous_index(folder, notes)
    tasks, seen = [], set()
    for source in sources:
        key = _song_key(source, features, lib_info)
        if key in seen:
            continue
        seen.add(key)
        tasks.append(
            {"source": source.to_json(), "key": key, "library": lib_info and lib_info["path"]}
        )
    records: dict[str, dict] = {}
    todo = []
    for task in tasks:
        cached = None if force else _cached_record(folder, task["key"])
        if cached is not None:
            records[task["key"]] = cached
        else:
            todo.append(task)
    failed: list[tuple[str, str]] = []
    if todo:
        runs = run_analyses(todo, engine, workers)
        for done, (task, (record, arrays)) in enumerate(runs, start=1):
            if arrays is None:
                failed.append((record.get("name", "?"), record.get("error", "unknown error")))
            else:
                record["shard"] = f"{SHARD_DIR}/{task['key']}.npz"
                _write_shard(folder / record["shard"], record, arrays)
                records[task["key"]] = record
            if on_song:
                on_song(done, len(todo), record)
    songs = [records[t["key"]] for t in tasks if t["key"] in records]
    removed = _remove_stale_shards(folder, {s["shard"] for s in songs})
    index = {
        "format": CORPUS_FORMAT,
        "builder_version": BUILDER_VERSION,
        "features": features,
        "library": lib_info,
        "songs": songs,
        "failed": [{"song": s, "error": e} for s, e in failed],
    }
    with atomic_write(folder / INDEX_NAME, "w") as handle:
        json.dump(index, handle, indent=1)
        handle.write("\n")
    if previous and previous.get("features") != features:
        notes.append("feature parameters changed since the last build: every song re-analysed")
    return BuildReport(
        corpus=folder,
        songs=len(songs),
        samples=sum(s["samples"] for s in songs),
        labelled_samples=sum(s["samples"] for s in songs if s["source"]["labels"] != "none"),
        analysed=len(todo) - len(failed),
        cached=len(tasks) - len(todo),
        removed_shards=removed,
        failed=failed,
        engine=engine,
        workers=workers,
        seconds=round(time.perf_counter() - started, 3),
        notes=notes,
    )


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise MusicDanceError("the corpus path exists and is not a folder", folder)
    if folder.is_dir() and any(folder.iterdir()):
        if not ((folder / INDEX_NAME).exists() or (folder / SHARD_DIR).is_dir()):
            raise MusicDanceError(
                "this folder has files but is not a corpus (no index.json); choose another", folder
            )


def _check_pair_ids(sources: list[SongSource], known: set[str], library) -> None:
    unknown = sorted({p for s in sources for _, _, p in s.spans if p not in known})
    if unknown:
        shown = ", ".join(unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise MusicDanceError(f"labelled phrase ids not in the library: {shown}", library)


def _song_key(source: SongSource, features: dict, lib_info: dict | None) -> str:
    content = {
        "builder": BUILDER_VERSION,
        "features": features,
        "song": source.identity(),
        "labels": source.labels,
        "split": source.split,
        "spans": [list(span) for span in source.spans],
        # the rule labels change when the phrases do, even under the same ids
        "library": lib_info["content"] if lib_info and source.labels == "rule" else None,
        "label_seed": source.seed if source.labels == "rule" else None,
    }
    blob = json.dumps(content, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:24]


def _previous_index(folder: Path, notes: list[str]) -> dict | None:
    path = folder / INDEX_NAME
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        notes.append("the previous index.json was unreadable; it is rebuilt from the shards")
        return None


def _cached_record(folder: Path, key: str) -> dict | None:
    path = folder / SHARD_DIR / f"{key}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            record = json.loads(str(data["record"]))
            if int(data["mel"].shape[0]) != record["samples"]:
                return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None  # unreadable: analyse again (the shard is overwritten)
    return record


def _write_shard(path: Path, record: dict, arrays: dict[str, np.ndarray]) -> None:
    with atomic_write(path, "wb") as handle:
        np.savez(handle, record=np.array(json.dumps(record)), **arrays)


def _remove_stale_shards(folder: Path, keep: set[str]) -> int:
    shards = folder / SHARD_DIR
    removed = 0
    if shards.is_dir():
        for path in shards.glob("*.npz"):
            if f"{SHARD_DIR}/{path.name}" not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
    return removed
