"""MuDaR (seed 002) figures on stand-in data, beside the paper's.

1. Rhythm precision/recall (paper Table 1: recall 73.2 %, precision 82.0 %) of the learned
   visual rhythm and of the signal-processing kinematic beats, on held-out generated songs
   danced by the choreographer (``musicdance.corpus.mudar``, seed 1: songs and dances the
   companion never saw), against the song's onset maxima (the paper's truth) and against the
   generator's exact beats; tolerance ``rhythm.report.TOLERANCE_S``.
2. Tempo of those dances from the motion: kinematic (``estimate_motion_tempo``), learned
   (``tempo_from_curve`` of the rhythm curve) and ``--bpm auto`` (the more confident), against
   the exact tempo (right within 4 %, or at half/double time); and both estimates on the real
   takes (no truth: the values and confidences).
3. Retrieval Recall@1/5/10, song->dance and dance->song, over the held-out pairs' first 24 s
   (the paper's clip length), with lambda_3 = the companion's, 1 (embeddings only, "w/o rhy")
   and 0 (rhythm only).
4. Fitting real takes to real songs (``mdtool fit``'s code): Beat Align Score and its
   half-beat control before and after, per method and rhythm-point kind.
5. ONNX time for a 4-minute song: the audio encoder over the song, the rhythm estimator and
   the motion encoder over a 4-minute dance (target <= 0.2 s).

    python benchmarks/bench_mudar.py [--pairs 24] [--cache /tmp/mudar_test.npz] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from musicdance.audio.analysis import analyze
from musicdance.corpus.mudar import make_pairs
from musicdance.evaluate.metrics import beat_alignment
from musicdance.io.files import load_motion
from musicdance.motion.analysis import estimate_motion_tempo
from musicdance.motion.canonical import CANONICAL_JOINTS
from musicdance.motion.motion import sample, slice_frames
from musicdance.motion.retarget import retarget
from musicdance.rhythm.features import RHYTHM_FPS, WINDOW_FRAMES
from musicdance.rhythm.model import (
    load_mudar,
    peak_frames,
    tempo_from_curve,
    window_starts,
)
from musicdance.rhythm.report import TOLERANCE_S
from musicdance.rhythm.retarget import FIT_METHODS, fit_time_map
from musicdance.rhythm.retrieval import (
    CLIP_FRAMES,
    clip_similarities,
    median_rank,
    precision_recall,
    recall_at_k,
)

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
PAPER = {"rhythm_recall": 73.2, "rhythm_precision": 82.0, "R@1": 0.586, "R@5": 0.872}
TAKES = (
    "animdraw_rokoko_jesse_dance.bvh",
    "perfume_A_test.bvh",
    "cmu-iclone_005_02.bvh",
    "bvh11_cmu_131_02.bvh",
    "cmu05/cmu-iclone_005_03.bvh",
    "cmu05/cmu-iclone_005_04.bvh",
)


def _pooled(counts: list[dict]) -> dict:
    hits = sum(c["precision"] * c["predicted"] for c in counts)
    pred = sum(c["predicted"] for c in counts)
    true = sum(c["true"] for c in counts)
    return {"precision": 100 * hits / max(pred, 1), "recall": 100 * hits / max(true, 1)}


def rhythm_figures(model, pairs) -> dict:
    from musicdance.motion.analysis import kinematic_beats

    found = {f"{e}_{t}": [] for e in ("learned", "kinematic") for t in ("onsets", "beats")}
    for p in pairs:
        curve = model.rhythm_from_inputs(p.hoof, p.pose)
        estimates = {
            "learned": peak_frames(curve, model.threshold) / RHYTHM_FPS,
            "kinematic": kinematic_beats(p.positions_m, RHYTHM_FPS) / RHYTHM_FPS,
        }
        truths = {
            "onsets": np.flatnonzero(p.onsets) / RHYTHM_FPS,
            "beats": np.flatnonzero(p.beats) / RHYTHM_FPS,
        }
        for e, points in estimates.items():
            for t, truth in truths.items():
                found[f"{e}_{t}"].append(precision_recall(points, truth, TOLERANCE_S))
    return {k: _pooled(v) for k, v in found.items()}


def _tempo_right(estimate: float, truth: float) -> bool:
    return any(abs(estimate / (truth * r) - 1) <= 0.04 for r in (0.5, 1.0, 2.0))


def tempo_figures(model, pairs) -> dict:
    right = {"kinematic": 0, "learned": 0, "auto": 0}
    for p in pairs:
        k = estimate_motion_tempo(p.positions_m, RHYTHM_FPS)
        learned = tempo_from_curve(model.rhythm_from_inputs(p.hoof, p.pose))
        auto = learned.tempo_bpm if learned.confidence > k.confidence else k.tempo_bpm
        right["kinematic"] += _tempo_right(k.tempo_bpm, p.bpm)
        right["learned"] += _tempo_right(learned.tempo_bpm, p.bpm)
        right["auto"] += _tempo_right(auto, p.bpm)
    return {k: 100 * v / len(pairs) for k, v in right.items()}


def retrieval_figures(model, pairs) -> dict:
    s_e, s_r = clip_similarities(model, pairs, CLIP_FRAMES)
    n = len(pairs)
    chance = {f"R@{k}": min(k, n) / n for k in (1, 5, 10)}
    out = {"chance": {**chance, "median_rank": (n + 1) / 2}}
    for lam in (model.hybrid_lambda, 1.0, 0.0):
        sim = lam * s_e + (1.0 - lam) * s_r  # eq. (21)
        out[f"lambda={lam:g}"] = {
            "song->dance": {**recall_at_k(sim), "median_rank": median_rank(sim)},
            "dance->song": {**recall_at_k(sim.T), "median_rank": median_rank(sim.T)},
        }
    return out


def _canonical(path: Path):
    motion = load_motion(path)
    return motion if motion.skeleton.names == CANONICAL_JOINTS else retarget(motion)[0]


def fit_figures(model, max_song_s: float) -> dict:
    from musicdance.motion.analysis import kinematic_beats
    from musicdance.rhythm.report import song_onsets_s

    songs = sorted((DATA / "music").glob("*.*"))
    songs = [s for s in songs if s.suffix in (".ogg", ".mp3", ".wav", ".flac")]
    analyses = {s.name: analyze(s, max_duration_s=max_song_s) for s in songs}
    rows: dict[str, list] = {}
    tempos = {}
    for take in TAKES:
        motion = _canonical(DATA / "bvh" / take)
        positions = motion.global_positions()
        k = estimate_motion_tempo(positions, motion.fps)
        learned = tempo_from_curve(model.rhythm_curve(positions, motion.fps, motion.skeleton.names))
        tempos[take] = {
            "kinematic": [round(k.tempo_bpm, 1), round(k.confidence, 3)],
            "learned": [round(learned.tempo_bpm, 1), round(learned.confidence, 3)],
        }
        points = {
            "learned": model.rhythm_times_s(positions, motion.fps, motion.skeleton.names),
            "kinematic": kinematic_beats(positions, motion.fps) / motion.fps,
        }
        for analysis in analyses.values():
            n = min(motion.num_frames, int(analysis.duration_s * motion.fps))
            before = beat_alignment(slice_frames(motion, 0, n), analysis.beat_times_s)
            rows.setdefault("before", []).append(before)
            song_pts = {"learned": song_onsets_s(analysis), "kinematic": analysis.beat_times_s}
            for kind in ("learned", "kinematic"):
                for method in FIT_METHODS:
                    times, _ = fit_time_map(
                        method,
                        points[kind],
                        song_pts[kind],
                        motion.duration_s,
                        analysis.duration_s,
                        motion.fps,
                    )
                    fitted = sample(motion, times)
                    # the fitted dance against the song, over the same span as "before"
                    m = min(fitted.num_frames, n)
                    rows.setdefault(f"{method}/{kind}", []).append(
                        beat_alignment(slice_frames(fitted, 0, m), analysis.beat_times_s)
                    )
    summary = {
        key: {
            "BAS": float(np.mean([r["beat_align_score"] for r in v])),
            "BAS_control": float(np.mean([r["beat_align_score_control"] for r in v])),
            "worst_BAS": float(np.min([r["beat_align_score"] for r in v])),
            "n": len(v),
        }
        for key, v in rows.items()
    }
    return {"bas": summary, "take_tempos": tempos}


def timing_figures(model, pairs) -> dict:
    p = pairs[0]
    reps = int(np.ceil(240 * RHYTHM_FPS / p.audio.shape[1]))
    audio = np.concatenate([p.audio] * reps, axis=1)[:, : int(240 * RHYTHM_FPS)]
    hoof = np.concatenate([p.hoof] * reps)[: int(240 * RHYTHM_FPS)]
    pose = np.concatenate([p.pose] * reps)[: int(240 * RHYTHM_FPS)]
    model.audio_window_embeddings(audio)  # warm up the sessions
    model.rhythm_from_inputs(hoof, pose)
    model.motion_window_embeddings(pose)
    times = {}
    for name, call in (
        ("audio_encoder", lambda: model.audio_window_embeddings(audio)),
        ("rhythm", lambda: model.rhythm_from_inputs(hoof, pose)),
        ("motion_encoder", lambda: model.motion_window_embeddings(pose)),
    ):
        best, cpu = np.inf, np.inf
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            call()
            best = min(best, time.perf_counter() - t0)
            cpu = min(cpu, time.process_time() - c0)
        times[name] = best
        times[f"{name}_cpu"] = cpu
    times["windows"] = {
        "embeddings": len(window_starts(audio.shape[1], WINDOW_FRAMES)),
        "rhythm": len(window_starts(audio.shape[1])),
    }
    times["load_average"] = os.getloadavg()[0]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1, help="Seed of the held-out pairs.")
    parser.add_argument("--library", default=str(REPO / "phrase_library"))
    parser.add_argument("--cache", default=None)
    parser.add_argument("--max-song-s", type=float, default=60.0)
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument("--parts", default="rhythm,tempo,retrieval,onnx,fit",
                        help="Comma-separated figures to measure.")  # fmt: skip
    parser.add_argument("--companion", default=None,
                        help="A mudar companion folder (default: the bundle's).")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = load_mudar(args.companion)
    pairs = make_pairs(args.pairs, seed=args.seed, library_path=args.library, cache=args.cache)
    parts = set(args.parts.split(","))
    if args.skip_fit:
        parts.discard("fit")
    report = {"paper": PAPER}
    for part, key, figures in (
        ("rhythm", "rhythm", lambda: rhythm_figures(model, pairs)),
        ("tempo", "tempo_right_percent", lambda: tempo_figures(model, pairs)),
        ("retrieval", "retrieval", lambda: retrieval_figures(model, pairs)),
        ("onnx", "onnx_seconds_4_min", lambda: timing_figures(model, pairs)),
        ("fit", "fit", lambda: fit_figures(model, args.max_song_s)),
    ):
        if part in parts:
            report[key] = figures()
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"held-out pairs: {len(pairs)} (seed {args.seed}); tolerance {TOLERANCE_S} s")
    if "rhythm" in report:
        print("rhythm precision / recall % (paper: 82.0 / 73.2 on its own data)")
        for key, r in report["rhythm"].items():
            print(f"  {key:<18} P {r['precision']:5.1f}  R {r['recall']:5.1f}")
    if "tempo_right_percent" in report:
        print(
            "tempo from motion, right within 4 % (or half/double) %:",
            {k: round(v, 1) for k, v in report["tempo_right_percent"].items()},
        )
    if "retrieval" in report:
        print(
            f"retrieval over {len(pairs)} held-out 24-s pairs (paper, MuDaR on Dance-50's 22 "
            "songs: R@1 0.586, R@5 0.872; lambda=1 is S_e alone, lambda=0 S_r alone)"
        )
        for lam, d in report["retrieval"].items():
            rows = d.items() if lam != "chance" else [("both ways", d)]
            for direction, r in rows:
                print(f"  {lam:<12} {direction:<12} "
                      + "  ".join(f"{k} {v:.3f}" for k, v in r.items()))  # fmt: skip
    if "onnx_seconds_4_min" in report:
        t = report["onnx_seconds_4_min"]
        print(
            f"ONNX per 4-minute song ({t['windows']['embeddings']} embedding windows, "
            f"{t['windows']['rhythm']} rhythm windows; load average {t['load_average']:.1f}): "
            f"audio encoder {t['audio_encoder']:.3f} s, rhythm {t['rhythm']:.3f} s, motion "
            f"encoder {t['motion_encoder']:.3f} s (target <= 0.2 s each); CPU seconds "
            f"{t['audio_encoder_cpu']:.3f}, {t['rhythm_cpu']:.3f}, {t['motion_encoder_cpu']:.3f}"
        )
    if "fit" in report:
        print(
            "fitting real takes to real songs (first "
            f"{args.max_song_s:g} s): Beat Align Score (half-beat control), worst"
        )
        for key, r in report["fit"]["bas"].items():
            print(
                f"  {key:<22} {r['BAS']:.3f} ({r['BAS_control']:.3f}) worst {r['worst_BAS']:.3f}"
                f"  n={r['n']}"
            )
        print("real-take tempo [bpm, confidence]:")
        for take, v in report["fit"]["take_tempos"].items():
            print(f"  {take:<34} kinematic {v['kinematic']}  learned {v['learned']}")


if __name__ == "__main__":
    main()
