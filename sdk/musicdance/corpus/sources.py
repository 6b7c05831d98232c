"""The songs of a corpus and how each is labelled: ``SongSource`` and the lists that make them
(the generated starter songs, audio files, imported expert pairs)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from musicdance.corpus.pairs import LabelledPair, group_by_song
from musicdance.errors import MusicDanceError

LABEL_KINDS = ("none", "rule", "pairs")
SPLITS = ("train", "test")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac")


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
