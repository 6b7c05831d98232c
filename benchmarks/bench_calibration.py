"""Is the bundle overconfident? Temperature scaling (Guo et al. 2017) measured on held-out slots.

Scores the held-out labelled slots of a corpus with the bundle's graph (onnxruntime) and
reports how confident it is against how often it is right: mean top-1 probability, Top-1/5/10,
expected calibration error (10 equal-width confidence bins) and the negative log-likelihood
of the labels. Then fits one temperature ``T`` minimising the NLL of ``softmax(log p / T)``
(the graph outputs probabilities; their log renormalised is the same distribution as the
logits') and reports the same figures after it, with a two-fold check by song (``T`` fitted on
half of the held-out songs, NLL measured on the other half). A temperature never changes the
ranking, so Top-k stays.

It also measures why the choreographer picks few phrases: in each slot of generated songs
(those of ``bench_scorers.py``), the phrases the feature scorer puts within one jitter
standard deviation (``choreographer.JITTER``) of its best are interchangeable to the rules;
the gap between the model's log-probability of its favourite among them and their median says
how far the model separates what the rules' labels could not (1.0 at ``--weights`` 0.5 halves
it against the jitter).

The dances themselves: ``python benchmarks/bench_scorers.py --temperature T``.

    python benchmarks/bench_calibration.py [--bundle bundles/default]
        [--corpus build/starter/corpus] [--split test] [--library phrase_library]

onnxruntime, numpy and scipy only (no torch).
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.optimize import minimize_scalar

from musicdance.bundle import open_bundle
from musicdance.corpus.build import open_corpus

_TINY = float(np.finfo(np.float32).smallest_subnormal)
BINS = 10


def log_probabilities(p: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(np.asarray(p, np.float64), _TINY))


def tempered_log(p: np.ndarray, temperature: float) -> np.ndarray:
    """``log softmax(log p / T)`` per row."""
    z = log_probabilities(p) / temperature
    top = z.max(axis=1, keepdims=True)
    return z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))


def nll(p: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    return float(-tempered_log(p, temperature)[np.arange(len(labels)), labels].mean())


def fit_temperature(p: np.ndarray, labels: np.ndarray) -> float:
    """``T`` in [0.05, 100] minimising the NLL (convex in 1/T: a bounded search over log T)."""
    found = minimize_scalar(
        lambda log_t: nll(p, labels, math.exp(log_t)),
        bounds=(math.log(0.05), math.log(100.0)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(math.exp(found.x))


def calibration_figures(p: np.ndarray, labels: np.ndarray, temperature: float) -> dict:
    """Mean confidence, Top-1/5/10, ECE and NLL of ``softmax(log p / T)``."""
    q = np.exp(tempered_log(p, temperature))
    confidence, top1 = q.max(axis=1), q.argmax(axis=1) == labels
    ece = 0.0
    edges = np.linspace(0, 1, BINS + 1)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            ece += inside.mean() * abs(confidence[inside].mean() - top1[inside].mean())
    rank = (q > q[np.arange(len(labels)), labels][:, None]).sum(axis=1)
    return {
        "confidence": float(confidence.mean()),
        **{f"top{k}": float(np.mean(rank < k)) for k in (1, 5, 10)},
        "ece": float(ece),
        "nll": nll(p, labels, temperature),
    }


def cross_validated(p: np.ndarray, labels: np.ndarray, songs: np.ndarray) -> list[tuple]:
    """Two folds by song (every other held-out song): (T fitted on one, NLL of the other at
    T = 1 and at that T)."""
    unique = np.unique(songs)
    first = np.isin(songs, unique[::2])
    rows = []
    for fit_on, measure in ((first, ~first), (~first, first)):
        t = fit_temperature(p[fit_on], labels[fit_on])
        rows.append((t, nll(p[measure], labels[measure]), nll(p[measure], labels[measure], t)))
    return rows


def near_tie_gaps(bundle, library, temperatures: list[float]) -> tuple[float, dict]:
    """Median count of phrases within one jitter sd of the rules' best per slot, and per
    temperature the median model log-probability gap between its favourite among them and
    their median (over the slots of the ``bench_scorers`` songs, in the rules' style)."""
    from bench_scorers import SEED_BASE, TemperedScorer

    from musicdance.audio.analysis import analyze_signal
    from musicdance.audio.synth import GENRES, synth_song
    from musicdance.choreo.choreographer import JITTER, choreograph
    from musicdance.choreo.scoring import FeatureScorer
    from musicdance.choreo.slots import plan_slots

    counts, gaps = [], {t: [] for t in temperatures}
    for index, genre in enumerate(GENRES):
        samples, _ = synth_song(genre, seed=SEED_BASE + index, duration_s=60.0)
        analysis = analyze_signal(samples, sr_hz=22050, path=f"{genre}.wav")
        slots = plan_slots(analysis)
        infos = library.infos(styles=[choreograph(analysis, library, seed=0).style])
        rules = FeatureScorer().score(slots, infos)
        near = rules >= rules.max(axis=1, keepdims=True) * math.exp(-JITTER)
        counts += list(near.sum(axis=1))
        for t in temperatures:
            scorer = TemperedScorer(bundle, analysis, feature_weight=0.0, temperature=t)
            model = np.log(scorer.score(slots, infos))
            for row, mask in zip(model, near, strict=True):
                if mask.sum() > 1:
                    gaps[t].append(row[mask].max() - np.median(row[mask]))
    return float(np.median(counts)), {t: float(np.median(g)) for t, g in gaps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="bundles/default")
    parser.add_argument("--corpus", default="build/starter/corpus")
    parser.add_argument("--split", default="test")
    parser.add_argument("--library", default="phrase_library")
    args = parser.parse_args()
    from musicdance.library import open_library

    library = open_library(args.library)
    bundle = open_bundle(args.bundle, library=library)
    arrays = open_corpus(args.corpus).load(split=args.split, labelled=True)
    labels = arrays.label_indices(bundle.phrase_ids)
    keep = labels >= 0
    p = bundle.probabilities(np.asarray(arrays.mel[keep], np.float32)).astype(np.float64)
    labels, songs = labels[keep], arrays.song[keep]
    t = fit_temperature(p, labels)
    print(f"{len(labels)} {args.split} slots of {args.corpus} ({len(np.unique(songs))} songs), "
          f"bundle {args.bundle}, K = {bundle.num_classes} (uniform NLL "
          f"{math.log(bundle.num_classes):.3f})\n")  # fmt: skip
    print(f"{'':<14}{'mean conf.':>11}{'Top-1':>8}{'Top-5':>8}{'Top-10':>8}{'ECE':>8}{'NLL':>8}")
    for name, temperature in (("T = 1", 1.0), (f"T = {t:.3f}", t)):
        f = calibration_figures(p, labels, temperature)
        print(f"{name:<14}{f['confidence']:11.3f}{f['top1']:8.3f}{f['top5']:8.3f}"
              f"{f['top10']:8.3f}{f['ece']:8.3f}{f['nll']:8.3f}")  # fmt: skip
    print("\ntwo folds by song: T fitted on one half, NLL of the other at T = 1 -> that T")
    for fitted, before, after in cross_validated(p, labels, songs):
        print(f"  T = {fitted:.3f}: {before:.3f} -> {after:.3f}")
    count, gaps = near_tie_gaps(bundle, library, [1.0, t])
    print(f"\nphrases within one jitter sd of the rules' best per slot (median): {count:g}")
    for temperature, gap in gaps.items():
        print(f"  T = {temperature:.3f}: model's favourite among them - their median: "
              f"{gap:.2f} nats (x 0.5 at w = 0.5: {gap / 2:.2f}; jitter sd 0.15)")  # fmt: skip


if __name__ == "__main__":
    main()
