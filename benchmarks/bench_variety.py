"""Variety of whole dances: distinct moves per 4-minute dance and repeats within 3 eights.

A generated 240-s song of every genre (seeds 3000 + i), choreographed with the feature scorer
(``choreograph(..., seed=0)``) on the shipped library. Per song: the style picked, the slots,
the slots that do not repeat an earlier section, the distinct moves (phrase ids without energy
and mirror suffixes) and the window violations: a move used again within ``MOVE_WINDOW``
eights, except by the structure rules (a repeated section, the mirrored second eight of a
phrase). Targets (issue 12): >= 8 distinct moves per procedural dance, 0 violations.

    python benchmarks/bench_variety.py [--genres waltz house ...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from musicdance.audio.analysis import analyze
from musicdance.audio.synth import GENRES, synth_song, write_song
from musicdance.choreo.choreographer import MOVE_WINDOW, choreograph, move_of
from musicdance.choreo.slots import repeats_of
from musicdance.choreo.timeline import Timeline
from musicdance.library import open_library

REPO = Path(__file__).resolve().parents[1]


def window_violations(timeline: Timeline) -> int:
    """Slots that repeat a move of the ``MOVE_WINDOW`` slots before them, outside the
    structure rules (repeated sections; a phrase and its mirror image in one music phrase)."""
    ids = timeline.phrase_ids()
    moves = [move_of(i) for i in ids]
    first = repeats_of(timeline.slots)
    count = 0
    for t, move in enumerate(moves):
        if first[t] >= 0:
            continue
        for s in range(max(0, t - MOVE_WINDOW), t):
            mirrored = f"{ids[s]}-mirror" == ids[t] or f"{ids[t]}-mirror" == ids[s]
            twin = mirrored and s == t - 1 and (
                timeline.slots[s].music_phrase == timeline.slots[t].music_phrase
            )  # fmt: skip
            count += moves[s] == move and not twin
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genres", nargs="+", choices=sorted(GENRES), default=sorted(GENRES))
    parser.add_argument("--duration-s", type=float, default=240.0)
    args = parser.parse_args()
    library = open_library(REPO / "phrase_library")
    print("| song | tempo BPM | style | slots | slots not repeating a section | distinct moves "
          "| window violations |")  # fmt: skip
    print("|---|--:|---|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as folder:
        for i, genre in enumerate(sorted(GENRES)):
            if genre not in args.genres:
                continue
            y, _ = synth_song(genre, seed=3000 + i, duration_s=args.duration_s)
            analysis = analyze(write_song(Path(folder) / f"{genre}.wav", y, sr_hz=22050))
            timeline = choreograph(analysis, library, seed=0)
            moves = {move_of(i) for i in timeline.phrase_ids()}
            independent = int((repeats_of(timeline.slots) < 0).sum())
            meter = " (3/4)" if analysis.meter == 3 else ""
            print(f"| {genre} | {analysis.tempo_bpm:.1f}{meter} | {timeline.style} | "
                  f"{len(timeline.slots)} | {independent} | {len(moves)} | "
                  f"{window_violations(timeline)} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
