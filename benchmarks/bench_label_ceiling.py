"""How predictable are the rule labels the default bundle learns? The ceiling of its Top-1.

The starter corpus labels each slot with the phrase that the feature choreographer picks with the
song's seed (``choreograph(analysis, library, seed=song_seed)``). The seed is not an input of the
model, so the part of the choice that only the seed decides (the decoder's jitter, the variety
rules) cannot be learnt. This script choreographs the same generated songs with two seeds and
reports how often the two labels agree: an upper bound, in expectation, for a model's held-out
Top-1 against one seed's labels. Also: agreement on the move (the id without ``-mirror`` and the
intensity suffix) and on the style.

    python benchmarks/bench_label_ceiling.py [--library phrase_library] [--songs-per-genre 2]
        [--duration 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import re

from musicdance.audio.analysis import analyze_signal
from musicdance.audio.synth import GENRES, synth_song
from musicdance.choreo.choreographer import choreograph
from musicdance.library import open_library

#: the intensity and mirror suffixes of a procedural phrase id (``waltz-twinkle-full-mirror``)
_VARIANT = re.compile(r"-(calm|medium|full|mirror)")


def move_of(phrase_id: str) -> str:
    """The move a phrase id belongs to: the id without its intensity and mirror variants."""
    return _VARIANT.sub("", phrase_id)


def label_agreement(library_path: str, songs_per_genre: int, duration_s: float,
                    other_seed_offset: int = 7) -> dict:  # fmt: skip
    """Labels of the same songs under two seeds: agreement on phrase, move and style."""
    library = open_library(library_path)
    same_phrase = same_move = same_style = slots = 0
    labels: list[str] = []
    for g, genre in enumerate(GENRES):
        for k in range(songs_per_genre):
            seed = 1000 + 10 * g + k
            y, truth = synth_song(genre, seed=seed, duration_s=duration_s)
            analysis = analyze_signal(y, sr_hz=truth.sr_hz)
            first = choreograph(analysis, library, seed=seed)
            second = choreograph(analysis, library, seed=seed + other_seed_offset)
            a, b = first.phrase_ids(), second.phrase_ids()
            pairs = list(zip(a, b, strict=False))  # the same slots: the same analysis
            n = len(pairs)
            slots += n
            same_phrase += sum(x == y for x, y in pairs)
            same_move += sum(move_of(x) == move_of(y) for x, y in pairs)
            same_style += n * (first.style == second.style)
            labels += a
    return {
        "library": library_path,
        "phrases": len(library),
        "songs": songs_per_genre * len(GENRES),
        "slots": slots,
        "distinct_labels": len(set(labels)),
        "phrase_agreement": same_phrase / max(slots, 1),
        "move_agreement": same_move / max(slots, 1),
        "style_agreement": same_style / max(slots, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", default="phrase_library")
    parser.add_argument("--songs-per-genre", type=int, default=2)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = label_agreement(args.library, args.songs_per_genre, args.duration)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['library']}: {report['phrases']} phrases, {report['songs']} generated songs, "
          f"{report['slots']} slots, {report['distinct_labels']} distinct labels")  # fmt: skip
    print(f"two seeds agree on the phrase {report['phrase_agreement']:.1%}, "
          f"on the move {report['move_agreement']:.1%}, "
          f"on the style {report['style_agreement']:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
