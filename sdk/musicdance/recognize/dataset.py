"""Stand-in data for the dance-to-music seeds: dances choreographed from the starter library on
generated songs of matching genres, with splits that leave whole moves out.

No dance-music dataset of the papers (MusicToDance, AIST++, the BiLSTM paper's 65 videos) is
available. Each library style gets a song genre (:data:`STYLE_GENRES`); every piece is a song
of that genre (``audio.synth``) choreographed with that style by ``choreo.choreograph`` from a
sub-library holding only the split's moves, and rendered at 30 fps. A style's moves (a move is
a phrase id without energy and mirror suffixes, ``choreographer.move_of``) go to exactly one of
train / validation / test, so a test window never shows a move seen in training.

Torch-free; the training code in ``musicdance.train.recognition`` builds on it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.recognize.features import SR_HZ, log_mel_frames, mfcc_frames

__all__ = ["STYLE_GENRES", "Piece", "SplitPlan", "build_pieces", "split_moves"]

#: Song genre (``audio.synth.GENRES``) each library style is danced to.
STYLE_GENRES = {
    "contemporary": "ballad",
    "hiphop": "hiphop",
    "house": "house",
    "jazz": "swing",
    "locking": "funk",
    "popping": "breakbeat",
    "pop": "pop",
    "waltz": "waltz",
}
SPLITS = ("train", "val", "test")


@dataclass
class Piece:
    """One dance made for one song: positions ``[T, 22, 3]`` at 30 fps (metres), MFCC
    ``[96, F]`` and log-mel ``[128, F]`` at 30 frames per second, the song's ``bpm``."""

    name: str
    split: str
    style: str
    genre: str
    seed: int
    bpm: float
    positions_m: np.ndarray
    mfcc: np.ndarray
    log_mel_db: np.ndarray
    song: np.ndarray | None = None


@dataclass
class SplitPlan:
    """Moves of each style in each split ({split: {style: [move, ...]}})."""

    moves: dict[str, dict[str, list[str]]]

    def ids(self, library, split: str) -> list[str]:
        from musicdance.choreo.choreographer import move_of

        keep = {m for moves in self.moves[split].values() for m in moves}
        return [i.id for i in library.infos() if move_of(i.id) in keep]


def split_moves(library, *, seed: int = 0, val: int = 2, test: int = 2) -> SplitPlan:
    """Give every move of every style to one split: ``test`` and ``val`` moves per style
    (1 each for a style with fewer than 8 moves), the rest to train; seeded."""
    from musicdance.choreo.choreographer import move_of

    by_style: dict[str, set[str]] = {}
    for info in library.infos():
        by_style.setdefault(info.style, set()).add(move_of(info.id))
    rng = np.random.default_rng(seed)
    plan: dict[str, dict[str, list[str]]] = {s: {} for s in SPLITS}
    for style in sorted(by_style):
        moves = sorted(by_style[style])
        order = [moves[i] for i in rng.permutation(len(moves))]
        n_test, n_val = (test, val) if len(moves) >= 8 else (1, 1)
        if len(moves) < n_test + n_val + 1:
            raise MusicDanceError(f"style {style} has too few moves ({len(moves)}) to split")
        plan["test"][style] = sorted(order[:n_test])
        plan["val"][style] = sorted(order[n_test : n_test + n_val])
        plan["train"][style] = sorted(order[n_test + n_val :])
    return SplitPlan(plan)


def build_pieces(
    library,
    *,
    counts: dict[str, int],
    duration_s: float = 40.0,
    seed: int = 0,
    styles: list[str] | None = None,
    export_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Piece], SplitPlan]:
    """Make ``counts[split]`` pieces per style and split (songs of ``duration_s``), every one
    seeded from ``seed``; with ``export_dir``, each test piece's song is written to
    ``export_dir/catalog/NAME.wav`` and its dance to ``export_dir/dances/NAME.bvh``."""
    from musicdance.audio.analysis import analyze_signal
    from musicdance.audio.synth import synth_song, write_song
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.render import render_timeline
    from musicdance.io.bvh import write_bvh

    plan = split_moves(library, seed=seed)
    styles = sorted(styles or {i.style for i in library.infos()})
    for style in styles:
        if style not in STYLE_GENRES:
            raise MusicDanceError(f"no song genre for style {style!r}")
    pieces: list[Piece] = []
    with tempfile.TemporaryDirectory(prefix="mdtool-recognize-") as tmp:
        for split_index, split in enumerate(SPLITS):
            sub = library.export(Path(tmp) / split, ids=plan.ids(library, split))
            for style_index, style in enumerate(styles):
                genre = STYLE_GENRES[style]
                for k in range(counts.get(split, 0)):
                    piece_seed = seed * 100_000 + split_index * 10_000 + style_index * 100 + k
                    y, truth = synth_song(genre, seed=piece_seed, duration_s=duration_s)
                    analysis = analyze_signal(y, sr_hz=SR_HZ)
                    timeline = choreograph(analysis, sub, style=style, seed=piece_seed)
                    motion = render_timeline(timeline, sub)
                    name = f"{split}-{style}-{k:02d}"
                    pieces.append(
                        Piece(
                            name=name,
                            split=split,
                            style=style,
                            genre=genre,
                            seed=piece_seed,
                            bpm=float(truth.bpm),
                            positions_m=motion.global_positions().astype(np.float32),
                            mfcc=mfcc_frames(y, SR_HZ),
                            log_mel_db=log_mel_frames(y, SR_HZ),
                        )
                    )
                    if export_dir is not None and split == "test":
                        root = Path(export_dir)
                        (root / "catalog").mkdir(parents=True, exist_ok=True)
                        (root / "dances").mkdir(parents=True, exist_ok=True)
                        write_song(root / "catalog" / f"{name}.wav", y, sr_hz=SR_HZ)
                        write_bvh(motion, root / "dances" / f"{name}.bvh")
                    if progress:
                        progress(name)
    return pieces, plan


def save_pieces(pieces: list[Piece], path: str | os.PathLike[str]) -> None:
    """Cache pieces in one ``.npz`` (songs included when present)."""
    from musicdance.atomic import atomic_write

    arrays: dict[str, np.ndarray] = {}
    meta = []
    for i, p in enumerate(pieces):
        meta.append([p.name, p.split, p.style, p.genre, str(p.seed), repr(p.bpm)])
        arrays[f"pos{i}"] = p.positions_m
        arrays[f"mfcc{i}"] = p.mfcc
        arrays[f"mel{i}"] = p.log_mel_db
        if p.song is not None:
            arrays[f"song{i}"] = p.song
    arrays["meta"] = np.array(meta)
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **arrays)


def load_pieces(path: str | os.PathLike[str]) -> list[Piece]:
    """Pieces cached by :func:`save_pieces`."""
    with np.load(path) as data:
        out = []
        for i, (name, split, style, genre, seed, bpm) in enumerate(data["meta"]):
            out.append(
                Piece(
                    str(name),
                    str(split),
                    str(style),
                    str(genre),
                    int(seed),
                    float(bpm),
                    data[f"pos{i}"],
                    data[f"mfcc{i}"],
                    data[f"mel{i}"],
                    data[f"song{i}"] if f"song{i}" in data else None,
                )
            )
    return out
