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
import multiprocessing
import os
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.audio.model_input import (
    check_feature_parameters,
    feature_parameters,
    span_inputs,
)
from musicdance.choreo.slots import slot_spans
from musicdance.corpus.pairs import LabelledPair, group_by_song
from musicdance.errors import MusicDanceError
from musicdance.formats import read_format_json
from musicdance.library.fingerprint import library_fingerprint

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

CORPUS_FORMAT = "mdtool-corpus/1"
INDEX_NAME = "index.json"
SHARD_DIR = "shards"
#: Bumped when the shard content changes for the same inputs (e.g. the rule labeller changes).
BUILDER_VERSION = 1
ENGINES = ("process", "ray")
LABEL_KINDS = ("none", "rule", "pairs")
SPLITS = ("train", "test")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac")
#: Tasks in flight per worker (bounded so that a 10k-song corpus does not queue 10k results).
_IN_FLIGHT_PER_WORKER = 4


@dataclass(frozen=True)
class SongSource:
    """One song of a corpus and how to label it.

    Attributes:
        kind: ``"synth"`` (rendered by :func:`musicdance.audio.synth.synth_song` from
            ``genre``, ``bpm``, ``seed``, ``duration_s``) or ``"file"`` (``path``).
        labels: ``"none"``, ``"rule"`` (feature choreographer, ``choreograph(seed=seed)``) or
            ``"pairs"`` (``spans``: ``(start_s, end_s, phrase_id)`` per labelled phrase).
        split: ``"train"`` or ``"test"`` (held out: evaluation only, never trained on).
    """

    kind: str
    labels: str = "none"
    split: str = "train"
    genre: str | None = None
    bpm: float | None = None
    seed: int = 0
    duration_s: float | None = None
    path: str | None = None
    spans: tuple[tuple[float, float, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("synth", "file"):
            raise MusicDanceError(f"song kind must be synth or file, got {self.kind!r}")
        if self.labels not in LABEL_KINDS:
            raise MusicDanceError(f"labels must be one of {LABEL_KINDS}, got {self.labels!r}")
        if self.split not in SPLITS:
            raise MusicDanceError(f"split must be train or test, got {self.split!r}")
        if self.kind == "synth":
            from musicdance.audio.synth import GENRES

            if self.genre not in GENRES:
                raise MusicDanceError(
                    f"unknown genre {self.genre!r}; expected one of {', '.join(GENRES)}"
                )
        elif not self.path:
            raise MusicDanceError("a file song needs a path")
        if (self.labels == "pairs") != bool(self.spans):
            raise MusicDanceError("spans are given exactly when labels are 'pairs'")

    @property
    def name(self) -> str:
        """A readable name: ``synth-pop-12`` or the file path."""
        if self.kind == "synth":
            return f"synth-{self.genre}-{self.seed}"
        return str(self.path)

    def identity(self) -> dict[str, Any]:
        """What makes this song's audio unique (a changed file gets a new identity)."""
        if self.kind == "synth":
            return {
                "kind": "synth",
                "genre": self.genre,
                "bpm": self.bpm,
                "seed": self.seed,
                "duration_s": self.duration_s,
            }
        path = Path(str(self.path)).resolve()
        try:
            stat = path.stat()
        except OSError:
            return {"kind": "file", "path": str(path), "missing": True}
        return {
            "kind": "file",
            "path": str(path),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["spans"] = [list(span) for span in self.spans]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SongSource:
        data = dict(data)
        data["spans"] = tuple((float(a), float(b), str(c)) for a, b, c in data.get("spans", ()))
        return cls(**data)


# ---------------------------------------------------------------------------------------------
# Song lists


def starter_sources(
    *,
    unlabelled: int = 24,
    labelled: int = 12,
    duration_s: float | None = 30.0,
    seed: int = 0,
    test_every: int = 4,
    genres: Iterable[str] | None = None,
) -> list[SongSource]:
    """The project's own starter corpus: generated songs, unlabelled and rule-labelled.

    Genres cycle through :data:`musicdance.audio.synth.GENRES` (tempo drawn from the genre's
    range by the song seed). Unlabelled and labelled songs use disjoint seeds; every
    ``test_every``-th labelled song is held out as ``test``.
    """
    from musicdance.audio.synth import GENRES

    names = sorted(genres or GENRES)
    if unlabelled < 0 or labelled < 0 or test_every < 2:
        raise MusicDanceError("song counts must be >= 0 and test_every >= 2")
    base = 100_000 * int(seed)
    songs = [
        SongSource("synth", "none", "train", names[i % len(names)], None, base + i, duration_s)
        for i in range(unlabelled)
    ]
    for i in range(labelled):
        split = "test" if i % test_every == test_every - 1 else "train"
        genre = names[(i + 3) % len(names)]  # offset: the genres of the test songs vary
        songs.append(SongSource("synth", "rule", split, genre, None, base + 50_000 + i, duration_s))
    return songs


def audio_sources(paths: Iterable[str | os.PathLike[str]]) -> list[SongSource]:
    """Unlabelled file songs: each path is an audio file or a folder searched recursively."""
    songs = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
            if not files:
                raise MusicDanceError("no audio files in this folder", path)
        elif path.is_file():
            files = [path]
        else:
            raise MusicDanceError("audio file or folder not found", path)
        songs += [SongSource("file", "none", "train", path=str(f)) for f in files]
    return songs


def pair_sources(pairs: list[LabelledPair], *, test_every: int = 5) -> list[SongSource]:
    """Labelled file songs from imported pairs; a song without a split is ``test`` when it is
    the ``test_every``-th (in order of first appearance)."""
    songs = []
    for index, (song, rows) in enumerate(group_by_song(pairs).items()):
        given = {p.split for p in rows if p.split is not None}
        split = (
            given.pop() if given else ("test" if index % test_every == test_every - 1 else "train")
        )
        spans = tuple((p.start_s, p.end_s, p.phrase_id) for p in rows)
        songs.append(SongSource("file", "pairs", split, path=str(song), spans=spans))
    return songs


# ---------------------------------------------------------------------------------------------
# The worker


_LIBRARIES: dict[str, Any] = {}


def _library(path: str):
    if path not in _LIBRARIES:
        from musicdance.library import open_library

        _LIBRARIES[path] = open_library(path)
    return _LIBRARIES[path]


def analyse_song(task: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """Analyse one song and compute its samples (runs in a worker process or Ray task).

    Returns ``(record, arrays)``; on failure ``arrays`` is None and ``record["error"]`` says
    why (errors never escape, so one bad file cannot break a pool).
    """
    source = SongSource.from_json(task["source"])
    record: dict[str, Any] = {"name": source.name, "key": task["key"], "source": source.to_json()}
    started = time.perf_counter()
    try:
        analysis = _analyse(source)
        style = None
        if source.labels == "rule":
            from musicdance.choreo.choreographer import choreograph

            timeline = choreograph(analysis, _library(task["library"]), seed=source.seed)
            spans = [(slot.start_s, slot.end_s) for slot in timeline.slots]
            labels = timeline.phrase_ids()
            style = timeline.style
        elif source.labels == "pairs":
            spans = [(a, b) for a, b, _ in source.spans]
            labels = [phrase_id for _, _, phrase_id in source.spans]
        else:
            spans = slot_spans(analysis)
            labels = [""] * len(spans)
        mel, melody, rhythm = span_inputs(analysis, spans)
    except MusicDanceError as error:
        record["error"] = str(error)
        return record, None
    except Exception as error:  # a bug or an unreadable file: report it, keep the pool alive
        record["error"] = f"{type(error).__name__}: {error}"
        return record, None
    record.update(
        samples=len(spans),
        duration_s=round(float(analysis.duration_s), 3),
        tempo_bpm=round(float(analysis.tempo_bpm), 3),
        meter=int(analysis.meter),
        style=style,
        seconds=round(time.perf_counter() - started, 3),
    )
    arrays = {
        "mel": mel.astype(np.float16),
        "melody": melody.astype(np.float16),
        "rhythm": (rhythm > 0.5).astype(np.uint8),
        "start_s": np.array([a for a, _ in spans], dtype=np.float64),
        "end_s": np.array([b for _, b in spans], dtype=np.float64),
        "labels": np.array(labels, dtype=np.str_) if labels else np.zeros(0, dtype="<U1"),
    }
    return record, arrays


def _analyse(source: SongSource):
    from musicdance.audio.analysis import analyze, analyze_signal

    if source.kind == "synth":
        from musicdance.audio.synth import synth_song

        y, _ = synth_song(
            str(source.genre), bpm=source.bpm, seed=source.seed, duration_s=source.duration_s
        )
        return analyze_signal(y, sr_hz=22050, path=source.name)
    return analyze(str(source.path))


# ---------------------------------------------------------------------------------------------
# Engines


def _run_inline(tasks: list[dict]) -> Iterator[tuple[dict, tuple]]:
    for task in tasks:
        yield task, analyse_song(task)


def _run_processes(tasks: list[dict], workers: int) -> Iterator[tuple[dict, tuple]]:
    # spawn: safe whatever the parent has loaded (torch threads, sqlite handles), on every OS.
    context = multiprocessing.get_context("spawn")
    queue = list(reversed(tasks))
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            running: dict = {}
            while queue or running:
                while queue and len(running) < workers * _IN_FLIGHT_PER_WORKER:
                    task = queue.pop()
                    running[pool.submit(analyse_song, task)] = task
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()
    except BrokenProcessPool as error:
        raise MusicDanceError(
            "a corpus worker process died (out of memory?); the shards written so far are "
            "kept: run the same command again to resume, with fewer --workers"
        ) from error


def _run_ray(tasks: list[dict], workers: int) -> Iterator[tuple[dict, tuple]]:
    try:
        import ray
    except ImportError:
        raise MusicDanceError(
            "--engine ray needs Ray: pip install 'ray>=2.9' (or use the default process engine)"
        ) from None
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if not os.environ.get("RAY_ADDRESS"):
            options["num_cpus"] = workers
        ray.init(**options)
    try:
        remote = ray.remote(num_cpus=1, max_retries=1)(analyse_song)
        queue = list(reversed(tasks))
        running: dict = {}
        limit = max(workers, int(ray.cluster_resources().get("CPU", workers)))
        while queue or running:
            while queue and len(running) < limit * _IN_FLIGHT_PER_WORKER:
                task = queue.pop()
                running[remote.remote(task)] = task
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                task = running.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as error:  # a worker died: report the song, go on
                    record = {"name": task["source"].get("path") or "song", "key": task["key"]}
                    record["error"] = f"Ray task failed: {type(error).__name__}: {error}"
                    result = (record, None)
                yield task, result
    finally:
        if started_here:
            ray.shutdown()


# ---------------------------------------------------------------------------------------------
# Build


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
        lib_info = _library_info(_library(str(Path(library))))
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
        if engine == "ray":
            runs = _run_ray(todo, workers)
        elif workers == 1 or len(todo) == 1:
            runs = _run_inline(todo)
        else:
            runs = _run_processes(todo, min(workers, len(todo)))
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
        "library": lib_info["fingerprint"] if lib_info and source.labels == "rule" else None,
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


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass
class CorpusArrays:
    """Samples of a corpus, concatenated in song order.

    Attributes:
        mel: ``[N, 128, 128]`` float16 in [0, 1]; melody ``[N, 128]`` float16;
            rhythm ``[N, 128]`` uint8.
        labels: ``[N]`` phrase ids (``""`` where unlabelled).
        song: ``[N]`` index into ``Corpus.songs``; position: ``[N]`` order inside the song.
        start_s, end_s: ``[N]`` the sample's span in its song.
    """

    mel: np.ndarray
    melody: np.ndarray
    rhythm: np.ndarray
    labels: np.ndarray
    song: np.ndarray
    position: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray

    def __len__(self) -> int:
        return int(self.mel.shape[0])

    @property
    def labelled(self) -> np.ndarray:
        """``[N]`` bool: the sample has a label."""
        return self.labels != ""

    def label_indices(self, phrase_ids: list[str]) -> np.ndarray:
        """``[N]`` int64 class indices into ``phrase_ids`` (-1 where unlabelled).

        Raises if a label is not one of ``phrase_ids`` (a corpus labelled for another library).
        """
        lookup = {p: k for k, p in enumerate(phrase_ids)}
        unknown = sorted({str(x) for x in self.labels if x and x not in lookup})
        if unknown:
            raise MusicDanceError(
                f"the corpus has labels that are not phrases of the model's library: "
                f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}"
            )
        return np.array([lookup.get(str(x), -1) for x in self.labels], dtype=np.int64)

    def subset(self, mask: np.ndarray) -> CorpusArrays:
        return CorpusArrays(**{name: value[mask] for name, value in self.__dict__.items()})


@dataclass
class Corpus:
    """A corpus folder opened for reading (:func:`open_corpus`)."""

    path: Path
    index: dict[str, Any]

    @property
    def songs(self) -> list[dict[str, Any]]:
        return self.index["songs"]

    @property
    def phrase_ids(self) -> list[str] | None:
        """The library's phrase ids (class order) when the corpus is labelled, else None."""
        library = self.index.get("library")
        return None if not library else list(library["phrase_ids"])

    @property
    def library(self) -> dict[str, Any] | None:
        return self.index.get("library")

    def summary(self) -> dict[str, Any]:
        """Counts per split and label kind (songs and samples)."""
        out: dict[str, Any] = {"songs": len(self.songs), "samples": 0}
        for song in self.songs:
            key = f"{song['source']['split']}/{song['source']['labels']}"
            entry = out.setdefault(key, {"songs": 0, "samples": 0})
            entry["songs"] += 1
            entry["samples"] += song["samples"]
            out["samples"] += song["samples"]
        return out

    def load(self, *, split: str | None = None, labelled: bool | None = None) -> CorpusArrays:
        """The samples of the songs in ``split`` (None: all) that are (un)labelled (None: all).

        A song is labelled when its source has rule or imported labels.
        """
        chosen = [
            (index, song)
            for index, song in enumerate(self.songs)
            if (split is None or song["source"]["split"] == split)
            and (labelled is None or (song["source"]["labels"] != "none") == labelled)
            and song["samples"] > 0
        ]
        parts: dict[str, list[np.ndarray]] = {
            name: [] for name in ("mel", "melody", "rhythm", "labels", "start_s", "end_s")
        }
        song_ids, positions = [], []
        for index, song in chosen:
            path = self.path / song["shard"]
            try:
                with np.load(path, allow_pickle=False) as data:
                    for name in parts:
                        parts[name].append(data[name])
                    count = int(data["mel"].shape[0])
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
                raise MusicDanceError(
                    f"corpus shard is missing or corrupt ({type(error).__name__}); run "
                    "`mdtool train corpus` again to rebuild it",
                    path,
                ) from error
            if count != song["samples"]:
                raise MusicDanceError("corpus shard does not match its index; rebuild it", path)
            song_ids.append(np.full(count, index, dtype=np.int64))
            positions.append(np.arange(count, dtype=np.int64))
        if not chosen:
            size = feature_parameters()["size"]
            return CorpusArrays(
                mel=np.zeros((0, size, size), np.float16),
                melody=np.zeros((0, size), np.float16),
                rhythm=np.zeros((0, size), np.uint8),
                labels=np.zeros(0, dtype="<U1"),
                song=np.zeros(0, np.int64),
                position=np.zeros(0, np.int64),
                start_s=np.zeros(0),
                end_s=np.zeros(0),
            )
        joined = {name: np.concatenate(values) for name, values in parts.items()}
        return CorpusArrays(
            song=np.concatenate(song_ids), position=np.concatenate(positions), **joined
        )


def open_corpus(path: str | os.PathLike[str]) -> Corpus:
    """Open a corpus folder; its format and feature parameters are checked first."""
    folder = Path(path)
    index_path = folder / INDEX_NAME
    if not index_path.is_file():
        raise MusicDanceError(
            "not a corpus (no index.json); build one with `mdtool train corpus`", folder
        )
    index = read_format_json(
        index_path, expected_format=CORPUS_FORMAT, kind="corpus", document="index"
    )
    check_feature_parameters(index.get("features"), what="corpus", path=index_path)
    return Corpus(folder, index)
