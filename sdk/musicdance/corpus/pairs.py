"""The import format for labelled pairs: music span -> library phrase id.

This is how a studio brings its experts' choreography into training. One row per music phrase
(ideally one eight, as the choreographer's slots are), either CSV with a header line::

    song,start_s,end_s,phrase_id,split
    songs/track01.wav,0.52,4.71,hiphop-rock-full,train
    songs/track01.wav,4.71,8.90,hiphop-rock-full-mirror,train
    songs/track02.mp3,1.02,5.40,pop-box-arms-calm,test

or JSON lines with the same fields::

    {"song": "songs/track01.wav", "start_s": 0.52, "end_s": 4.71, "phrase_id": "hiphop-rock-full"}

Fields: ``song`` (audio path; relative paths are relative to the pairs file's folder),
``start_s`` / ``end_s`` (seconds from the start of the file, ``0 <= start_s < end_s``),
``phrase_id`` (an id of the phrase library the model is trained for), and optionally ``split``
(``train`` or ``test``; default: every fifth song, in order of first appearance, is ``test``).
Rows of one song should follow each other in time (co-ascent uses the order of neighbouring
phrases); they are sorted by ``start_s`` per song when read. Extra CSV columns or JSON fields
are ignored. The file is ``.csv`` or ``.jsonl`` / ``.ndjson`` (UTF-8).
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from musicdance.errors import MusicDanceError

__all__ = ["FIELDS", "SPLITS", "LabelledPair", "group_by_song", "read_pairs"]

FIELDS = ("song", "start_s", "end_s", "phrase_id")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class LabelledPair:
    """One row: the music span ``[start_s, end_s)`` of ``song`` is danced with ``phrase_id``."""

    song: Path
    start_s: float
    end_s: float
    phrase_id: str
    split: str | None = None
    line: int = 0


def read_pairs(path: str | os.PathLike[str]) -> list[LabelledPair]:
    """Read and check a pairs file (see the module docs); errors name the file and the line."""
    source = Path(path)
    if not source.is_file():
        raise MusicDanceError("labelled pairs file not found", source)
    suffix = source.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise MusicDanceError("labelled pairs must be a .csv or .jsonl file", source)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise MusicDanceError(f"cannot read labelled pairs: {error}", source) from error
    rows = _csv_rows(text, source) if suffix == ".csv" else _json_rows(text, source)
    pairs = [_pair(row, line, source) for line, row in rows]
    if not pairs:
        raise MusicDanceError("the labelled pairs file has no rows", source)
    return pairs


def group_by_song(pairs: list[LabelledPair]) -> dict[Path, list[LabelledPair]]:
    """Pairs per song (in order of first appearance), each list sorted by start time.

    Raises if one song's rows disagree on the split or overlap in time.
    """
    songs: dict[Path, list[LabelledPair]] = {}
    for pair in pairs:
        songs.setdefault(pair.song, []).append(pair)
    for song, rows in songs.items():
        rows.sort(key=lambda p: p.start_s)
        splits = {p.split for p in rows if p.split is not None}
        if len(splits) > 1:
            raise MusicDanceError(f"rows of one song have different splits {sorted(splits)}", song)
        for before, after in zip(rows, rows[1:], strict=False):
            if after.start_s < before.end_s - 1e-3:
                raise MusicDanceError(
                    f"line {after.line}: span {after.start_s}-{after.end_s} s overlaps line "
                    f"{before.line} ({before.start_s}-{before.end_s} s) of the same song",
                    song,
                )
    return songs


def _csv_rows(text: str, source: Path) -> list[tuple[int, dict]]:
    reader = csv.DictReader(text.splitlines())
    missing = [name for name in FIELDS if name not in (reader.fieldnames or [])]
    if missing:
        raise MusicDanceError(
            f"the CSV header must name {', '.join(FIELDS)} (missing: {', '.join(missing)})",
            source,
        )
    return [(index + 2, row) for index, row in enumerate(reader)]


def _json_rows(text: str, source: Path) -> list[tuple[int, dict]]:
    rows = []
    for index, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise MusicDanceError(f"line {index}: not JSON ({error.msg})", source) from error
        if not isinstance(row, dict):
            raise MusicDanceError(f"line {index}: expected a JSON object", source)
        rows.append((index, row))
    return rows


def _pair(row: dict, line: int, source: Path) -> LabelledPair:
    def fail(message: str) -> MusicDanceError:
        return MusicDanceError(f"line {line}: {message}", source)

    missing = [name for name in FIELDS if row.get(name) in (None, "")]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    times = []
    for name in ("start_s", "end_s"):
        try:
            value = float(row[name])
        except (TypeError, ValueError):
            raise fail(f"{name} must be a number of seconds, got {row[name]!r}") from None
        if not math.isfinite(value):
            raise fail(f"{name} must be finite, got {row[name]!r}")
        times.append(value)
    start_s, end_s = times
    if not 0.0 <= start_s < end_s:
        raise fail(f"need 0 <= start_s < end_s, got {start_s} and {end_s}")
    phrase_id = str(row["phrase_id"]).strip()
    if not phrase_id:
        raise fail("phrase_id is empty")
    split = row.get("split")
    split = None if split in (None, "") else str(split).strip().lower()
    if split is not None and split not in SPLITS:
        raise fail(f"split must be train or test, got {row.get('split')!r}")
    song = Path(str(row["song"]))
    if not song.is_absolute():
        song = source.parent / song
    return LabelledPair(song, start_s, end_s, phrase_id, split, line)
