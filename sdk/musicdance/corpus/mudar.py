"""Stand-in data for MuDaR (seed 002): generated songs with exact beats, each danced by the
choreographer on the starter library, as aligned arrays at the rhythm frame rate.

The paper trains on 190k dance videos with their own music; here every pair is a song from
:func:`musicdance.audio.synth.synth_song` (genres cycled, seeded) and the dance
:func:`musicdance.choreo.choreographer.choreograph` makes for it (feature scorer, seeded),
rendered on the canonical skeleton. torch-free; used by training and by the benchmark.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicdance.rhythm.features import (
    audio_channels,
    hoof,
    pose_stream,
    resample_positions,
    to_rhythm_frames,
)

__all__ = ["GENRE_CYCLE", "MudarPair", "load_pairs", "make_pair", "make_pairs"]

#: Genres of the generated songs, cycled by pair index.
GENRE_CYCLE = ("pop", "hiphop", "house", "funk", "breakbeat", "swing", "ballad", "waltz", "polka")


@dataclass
class MudarPair:
    """One song and its dance at the rhythm frame rate (T frames).

    audio [AUDIO_BANDS, T]; onsets [T] (onset maxima, 0/1: the explicit pathway's truth);
    beats [T] (the generator's exact beats, 0/1); hoof [T, F]; pose [T, J, 6];
    positions_m [T, J, 3]; bpm: the song's exact tempo.
    """

    name: str
    genre: str
    bpm: float
    audio: np.ndarray
    onsets: np.ndarray
    beats: np.ndarray
    hoof: np.ndarray
    pose: np.ndarray
    positions_m: np.ndarray


def make_pair(index: int, *, seed: int, library, duration_s: float = 40.0) -> MudarPair:
    """Pair ``index`` of the stand-in corpus drawn with ``seed``."""
    from musicdance.audio.analysis import analyze_signal
    from musicdance.audio.synth import synth_song
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.render import render_timeline

    genre = GENRE_CYCLE[index % len(GENRE_CYCLE)]
    song_seed = seed * 100_003 + index
    y, truth = synth_song(genre, seed=song_seed, duration_s=duration_s)
    analysis = analyze_signal(y, sr_hz=truth.sr_hz)
    timeline = choreograph(analysis, library, seed=song_seed, fps=30.0)
    motion = render_timeline(timeline, library)
    names = motion.skeleton.names
    positions = resample_positions(motion.global_positions(), motion.fps)
    audio, onsets = audio_channels(analysis)
    n = min(len(positions), audio.shape[1])
    return MudarPair(
        name=f"{genre}-{song_seed}",
        genre=genre,
        bpm=float(truth.bpm),
        audio=audio[:, :n],
        onsets=onsets[:n],
        beats=to_rhythm_frames(np.asarray(truth.beat_times_s), n),
        hoof=hoof(positions, names)[:n],
        pose=pose_stream(positions, names)[:n],
        positions_m=positions[:n],
    )


def make_pairs(
    count: int,
    *,
    seed: int,
    library_path: str | os.PathLike[str],
    duration_s: float = 40.0,
    cache: str | os.PathLike[str] | None = None,
    progress=None,
) -> list[MudarPair]:
    """``count`` pairs (``make_pair`` 0..count-1); with ``cache`` (an .npz) they are read
    from it when it holds the same count, seed and duration, else made and written there."""
    from musicdance.library import open_library

    key = f"{count}-{seed}-{duration_s}"
    if cache is not None and Path(cache).is_file():
        pairs = load_pairs(cache, key)
        if pairs is not None:
            return pairs
    library = open_library(library_path)
    pairs = []
    for i in range(count):
        pairs.append(make_pair(i, seed=seed, library=library, duration_s=duration_s))
        if progress:
            progress(i + 1, count)
    if cache is not None:
        _save_pairs(cache, key, pairs)
    return pairs


def _save_pairs(path, key: str, pairs: list[MudarPair]) -> None:
    from musicdance.atomic import atomic_write

    arrays = {"key": np.array(key)}
    for i, p in enumerate(pairs):
        for field_name in ("audio", "onsets", "beats", "hoof", "pose", "positions_m"):
            arrays[f"{i}/{field_name}"] = getattr(p, field_name)
        arrays[f"{i}/meta"] = np.array([p.name, p.genre, repr(p.bpm)])
    with atomic_write(Path(path), "wb") as handle:
        np.savez(handle, **arrays)


def load_pairs(path, key: str) -> list[MudarPair] | None:
    """The pairs cached at ``path`` under ``key``, or None."""
    with np.load(path) as data:
        if str(data["key"]) != key:
            return None
        count = len([k for k in data.files if k.endswith("/meta")])
        pairs = []
        for i in range(count):
            name, genre, bpm = data[f"{i}/meta"].tolist()
            pairs.append(MudarPair(
                name=name, genre=genre, bpm=float(bpm),
                **{f: data[f"{i}/{f}"] for f in ("audio", "onsets", "beats", "hoof", "pose",
                                                 "positions_m")},
            ))  # fmt: skip
        return pairs
