"""The bundle's scorer against the feature scorer: dance quality by feature weight.

On generated songs of several genres, choreographs each song with the feature scorer alone and
with a bundle (``OnnxScorer``) at several feature weights ``w`` (``model^(1-w) *
features^w``), renders the dance and measures:

- ``BAS`` / ``ctrl``: Beat Align Score (Bailando) and its half-beat-shift control; ``margin``
  = BAS - control (how much the dance hits the beats rather than anything);
- ``skate``: foot skating during contact (cm/s);
- ``join``: acceleration at the phrase joins against within phrases (1 = seamless);
- ``distinct``: distinct phrases / slots (variety); ``moves``: distinct moves / slots;
- ``rule fit``: the feature scorer's own score of the chosen phrases, relative to its best
  phrase of the chosen style per slot (1 = the rules' favourite everywhere);
- ``style``: the style chosen (and how often it is the feature scorer's).

A weight "keeps the quality" when, in the mean over the songs, its margin is at least the
feature scorer's minus 0.01, its skating at most 0.1 cm/s higher (far below anything visible)
and its variety (``distinct``) at least the feature scorer's minus 0.05.

    python benchmarks/bench_scorers.py [--bundle bundles/default] [--library phrase_library]
        [--genres G ...] [--duration 60] [--seeds 0 1 2] [--weights 0 0.25 0.5 0.75 0.9]
        [--temperature 1] [--json OUT]

``--temperature T`` tempers the bundle's probabilities first (``p^(1/T)`` renormalised, i.e.
``softmax(log p / T)``; 1: the graph's own), to measure temperature scaling
(``benchmarks/bench_calibration.py``); the SDK's scorer does not temper.

onnxruntime only (no torch).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from musicdance.audio.analysis import analyze_signal
from musicdance.audio.synth import GENRES, synth_song
from musicdance.bundle import open_bundle
from musicdance.choreo.choreographer import choreograph, move_of
from musicdance.choreo.onnx_scorer import OnnxScorer
from musicdance.choreo.render import render_timeline
from musicdance.choreo.scoring import FeatureScorer
from musicdance.evaluate.metrics import beat_alignment, foot_skating_cm_s, transition_smoothness
from musicdance.library import open_library

#: Tolerances of :func:`keeps_quality` (see the module docs).
MARGIN_TOLERANCE = 0.01
SKATE_TOLERANCE_CM_S = 0.1
VARIETY_TOLERANCE = 0.05
#: Song seeds far from the starter corpus' (0-239 unlabelled, 50000+ labelled).
SEED_BASE = 9000
FEATURES = "features"


class TemperedScorer(OnnxScorer):
    """:class:`OnnxScorer` on ``softmax(log p / T)`` instead of the graph's ``p``: the score
    renormalises over the requested phrases, so ``p^(1/T)`` per slot is enough."""

    def __init__(self, *args, temperature: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.temperature = float(temperature)

    def probabilities(self, slots):
        p = super().probabilities(slots).astype(np.float64)
        if self.temperature == 1.0:
            return p
        z = np.log(np.maximum(p, np.finfo(np.float32).smallest_subnormal)) / self.temperature
        return np.exp(z - z.max(axis=1, keepdims=True))


def rule_fit(timeline, library) -> float:
    """Mean over slots of the feature score of the chosen phrase divided by the best feature
    score among the phrases of the chosen style (1 = the rules' favourite in every slot)."""
    infos = [i for i in library.infos() if i.style == timeline.style]
    scores = FeatureScorer().score(timeline.slots, infos)
    column = {info.id: k for k, info in enumerate(infos)}
    chosen = [scores[t, column[p]] for t, p in enumerate(timeline.phrase_ids())]
    return float(np.mean(np.asarray(chosen) / scores.max(axis=1)))


def measure(timeline, library, analysis) -> dict[str, float | str]:
    """Quality of one choreographed song (see the module docs for each figure)."""
    motion = render_timeline(timeline, library)
    aligned = beat_alignment(motion, analysis.beat_times_s)
    joins = np.asarray([s.start_s for s in timeline.slots[1:]])
    ids = timeline.phrase_ids()
    return {
        "bas": aligned["beat_align_score"],
        "ctrl": aligned["beat_align_score_control"],
        "margin": aligned["beat_align_score"] - aligned["beat_align_score_control"],
        "skate": foot_skating_cm_s(motion),
        "join": transition_smoothness(motion, joins)["acceleration_ratio"],
        "distinct": len(set(ids)) / len(ids),
        "moves": len({move_of(p) for p in ids}) / len(ids),
        "rule_fit": rule_fit(timeline, library),
        "style": timeline.style,
    }


def run(args: argparse.Namespace) -> dict[str, list[dict]]:
    """Every song with every scorer: ``{scorer name: [per-song figures]}``."""
    library = open_library(args.library)
    bundle = open_bundle(args.bundle, library=library)
    scorers = [FEATURES] + [f"w={w:g}" for w in args.weights]
    rows: dict[str, list[dict]] = {name: [] for name in scorers}
    for index, genre in enumerate(args.genres):
        samples, truth = synth_song(genre, seed=SEED_BASE + index, duration_s=args.duration)
        analysis = analyze_signal(samples, sr_hz=22050, path=f"{genre}.wav")
        for name, weight in zip(scorers, [None, *args.weights], strict=True):
            scorer = None
            if weight is not None:
                scorer = TemperedScorer(
                    bundle, analysis, feature_weight=weight, temperature=args.temperature
                )
            for seed in args.seeds:
                start = time.perf_counter()
                timeline = choreograph(analysis, library, seed=seed, scorer=scorer)
                figures = measure(timeline, library, analysis)
                figures.update(genre=genre, bpm=truth.bpm, seed=seed, slots=len(timeline.slots),
                               seconds=time.perf_counter() - start)  # fmt: skip
                rows[name].append(figures)
    return rows


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def keeps_quality(candidate: list[dict], reference: list[dict]) -> dict[str, bool]:
    """The module docs' rule, per criterion: beat-alignment margin, skating and variety at
    least as good as ``reference`` (within the tolerances)."""
    return {
        "margin": _mean(candidate, "margin") >= _mean(reference, "margin") - MARGIN_TOLERANCE,
        "skate": _mean(candidate, "skate") <= _mean(reference, "skate") + SKATE_TOLERANCE_CM_S,
        "variety": _mean(candidate, "distinct")
        >= _mean(reference, "distinct") - VARIETY_TOLERANCE,
    }


def report(rows: dict[str, list[dict]]) -> None:
    keys = ("bas", "ctrl", "margin", "skate", "join", "distinct", "moves", "rule_fit")
    reference = rows[FEATURES]
    print(f"{'scorer':<10}" + "".join(f"{k:>9}" for k in keys)
          + "  same style  keeps: margin skate variety")  # fmt: skip
    for name, songs in rows.items():
        means = "".join(f"{_mean(songs, k):9.3f}" for k in keys)
        same = sum(s["style"] == r["style"] for s, r in zip(songs, reference, strict=True))
        keeps = "" if name == FEATURES else "  ".join(
            f"{'yes' if ok else 'no':>5}" for ok in keeps_quality(songs, reference).values()
        )  # fmt: skip
        print(f"{name:<10}{means}  {same:>4}/{len(songs):<5}  {keeps}")
    print("\nstyle chosen per song and seed:")
    print(f"{'song':<20}" + "".join(f"{name:>10}" for name in rows))
    for index, song in enumerate(reference):
        label = f"{song['genre']} {song['bpm']:.0f} seed {song['seed']}"
        print(f"{label:<20}" + "".join(f"{rows[n][index]['style']:>10}" for n in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundles/default"))
    parser.add_argument("--library", type=Path, default=Path("phrase_library"))
    parser.add_argument("--genres", nargs="+", default=list(GENRES), help="one song each")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per song")
    parser.add_argument("--weights", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 0.9])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                        help="choreography seeds (each song is danced once per seed)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="temper the bundle's probabilities (1: as they are)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args()
    rows = run(args)
    print(f"{len(args.genres)} generated songs of {args.duration:g} s x seeds {args.seeds}, "
          f"bundle {args.bundle}, temperature {args.temperature:g}\n")
    report(rows)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
