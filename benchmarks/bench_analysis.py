"""Accuracy of ``musicdance.audio.analyze`` on generated songs with exact ground truth.

Draws ``--per-genre`` songs for every genre of ``musicdance.audio.synth.GENRES`` (seeds from
``--seed-base``, default 30000: never used while developing; tuning used seeds 1000-1599 and
earlier runs of this benchmark used 20000-20899; the tests use seeds < 100),
renders them, writes each one to an mp3 (so decoding is part of the measurement), analyses it
and scores it with mir_eval:

- beat F-measure (mir_eval.beat.f_measure, 70 ms window, first 5 s trimmed);
- downbeat F-measure (same measure on downbeats);
- meter accuracy (beats per bar equal to the truth);
- tempo accuracy (within 4 % of the truth);
- phrase boundary hit rate (fraction of true phrase starts with an estimated phrase boundary
  within 0.5 s), with precision and F;
- section boundary F (0.5 s) and section-label pairwise F (mir_eval.segment.pairwise);
- melody raw pitch accuracy and overall accuracy (mir_eval.melody), and voicing recall/false
  alarm;
- ``--baseline``: librosa.beat.beat_track's beat F-measure on the same audio.

Usage: python benchmarks/bench_analysis.py [--per-genre 6] [--jobs 2] [--baseline] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def _score(args) -> dict:
    genre, seed, baseline = args
    import mir_eval

    from musicdance.audio.analysis import analyze
    from musicdance.audio.synth import synth_song, write_song

    y, truth = synth_song(genre, seed=seed, sr_hz=44100)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{genre}_{seed}.mp3"
        write_song(path, y, sr_hz=44100)
        t0 = time.perf_counter()
        a = analyze(path)
        elapsed = time.perf_counter() - t0
    ref_beats = mir_eval.beat.trim_beats(np.asarray(truth.beat_times_s))
    est_beats = mir_eval.beat.trim_beats(np.asarray(a.beat_times_s))
    out = {
        "genre": genre, "seed": seed, "bpm": truth.bpm, "meter": truth.meter,
        "duration_s": truth.duration_s, "analysis_s": elapsed,
        "est_bpm": a.tempo_bpm, "est_meter": a.meter,
        "beat_f": mir_eval.beat.f_measure(ref_beats, est_beats),
        "downbeat_f": mir_eval.beat.f_measure(
            mir_eval.beat.trim_beats(np.asarray(truth.downbeat_times_s)),
            mir_eval.beat.trim_beats(np.asarray(a.downbeat_times_s)),
        ),
        "meter_ok": float(a.meter == truth.meter),
        "tempo_ok": float(abs(a.tempo_bpm / truth.bpm - 1) < 0.04),
    }
    # phrase boundaries: starts of true phrases vs starts and the final end of estimated ones
    ref_pb = np.asarray(truth.phrase_starts_s)
    est_pb = np.asarray([p.start_s for p in a.phrases] + ([a.phrases[-1].end_s] if a.phrases
                                                           else []))
    matched = mir_eval.util.match_events(ref_pb, est_pb, 0.5) if len(est_pb) else []
    out["phrase_hit"] = len(matched) / max(len(ref_pb), 1)
    out["phrase_precision"] = len(matched) / max(len(est_pb), 1)
    hits, prec = out["phrase_hit"], out["phrase_precision"]
    out["phrase_f"] = 2 * hits * prec / (hits + prec) if hits + prec > 0 else 0.0
    out["n_phrases_true"], out["n_phrases_est"] = len(ref_pb), len(a.phrases)
    # sections
    ref_iv = np.c_[truth.section_starts_s, truth.section_ends_s]
    if a.sections:
        est_iv = np.asarray([[s.start_s, s.end_s] for s in a.sections])
        est_lab = [s.label for s in a.sections]
        t_min, t_max = 0.0, max(ref_iv[-1, 1], est_iv[-1, 1])
        r_iv, r_lab = mir_eval.util.adjust_intervals(ref_iv, list(truth.section_labels),
                                                     t_min=t_min, t_max=t_max)
        e_iv, e_lab = mir_eval.util.adjust_intervals(est_iv, est_lab, t_min=t_min, t_max=t_max)
        _, _, out["section_pairwise_f"] = mir_eval.segment.pairwise(r_iv, r_lab, e_iv, e_lab)
        _, _, out["section_boundary_f"] = mir_eval.segment.detection(
            r_iv, e_iv, window=0.5, trim=True)
    else:
        out["section_pairwise_f"] = out["section_boundary_f"] = 0.0
    # melody
    ref_t = truth.melody_times_s
    est_t = np.arange(len(a.melody_hz)) / a.fps
    (rv, rc, ev, ec) = mir_eval.melody.to_cent_voicing(
        ref_t, np.asarray(truth.melody_hz), est_t, np.asarray(a.melody_hz, dtype=np.float64))
    out["melody_rpa"] = mir_eval.melody.raw_pitch_accuracy(rv, rc, ev, ec)
    out["melody_oa"] = mir_eval.melody.overall_accuracy(rv, rc, ev, ec)
    out["voicing_recall"], out["voicing_fa"] = mir_eval.melody.voicing_measures(rv, ev)
    if baseline:
        import librosa

        y22 = librosa.resample(y, orig_sr=44100, target_sr=22050)
        _, lb = librosa.beat.beat_track(y=y22, sr=22050, units="time")
        out["librosa_beat_f"] = mir_eval.beat.f_measure(ref_beats, mir_eval.beat.trim_beats(lb))
    return out


METRICS = [
    ("beat_f", "beat F-measure", 0.90),
    ("downbeat_f", "downbeat F-measure", 0.80),
    ("meter_ok", "meter correct", 0.90),
    ("tempo_ok", "tempo within 4 %", None),
    ("phrase_hit", "phrase boundary hit rate (0.5 s)", 0.80),
    ("phrase_precision", "phrase boundary precision (0.5 s)", None),
    ("phrase_f", "phrase boundary F (0.5 s)", None),
    ("section_boundary_f", "section boundary F (0.5 s)", None),
    ("section_pairwise_f", "section label pairwise F", None),
    ("melody_rpa", "melody raw pitch accuracy", None),
    ("melody_oa", "melody overall accuracy", None),
    ("voicing_recall", "melody voicing recall", None),
    ("voicing_fa", "melody voicing false alarm", None),
    ("librosa_beat_f", "librosa beat_track F (baseline)", None),
]


def _librosa_beat_track_works() -> bool:
    """Probe librosa's beat tracker in a child process (it can crash the interpreter).

    This also compiles its numba kernels once, before the worker processes start: two workers
    compiling at the same time can corrupt numba's cache (librosa issue 1998).
    """
    import subprocess

    code = ("import numpy as np, librosa; y = np.random.default_rng(0).standard_normal(88200)"
            ".astype('float32'); librosa.beat.beat_track(y=y, sr=22050)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    return run.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-genre", type=int, default=6)
    parser.add_argument("--seed-base", type=int, default=30000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--baseline", action="store_true", help="also score librosa beat_track")
    parser.add_argument("--genres", nargs="*", default=None)
    parser.add_argument("--json", type=Path, default=None, help="write per-song rows here")
    args = parser.parse_args(argv)
    from musicdance.audio.synth import GENRES

    if args.baseline and not _librosa_beat_track_works():
        print("note: librosa.beat.beat_track crashes in this environment (segmentation fault in "
              "its numba kernel); baseline skipped\n")
        args.baseline = False
    genres = args.genres or list(GENRES)
    tasks = [(g, args.seed_base + 100 * gi + k, args.baseline)
             for gi, g in enumerate(genres) for k in range(args.per_genre)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(_score, tasks))
    wall = time.perf_counter() - t0
    print(f"{len(rows)} songs, {len(genres)} genres, {sum(r['duration_s'] for r in rows) / 60:.1f}"
          f" min of audio, {wall:.0f} s wall ({args.jobs} jobs)\n")
    header = f"{'genre':10s} {'n':>3s} " + " ".join(f"{k[:9]:>9s}" for k, _, _ in METRICS
                                                     if k in rows[0])
    print(header)
    for g in genres + ["ALL"]:
        sub = [r for r in rows if g in ("ALL", r["genre"])]
        vals = " ".join(f"{np.mean([r[k] for r in sub]):9.3f}" for k, _, _ in METRICS
                        if k in rows[0])
        print(f"{g:10s} {len(sub):3d} {vals}")
    print()
    ok = True
    for key, name, target in METRICS:
        if key not in rows[0]:
            continue
        mean = float(np.mean([r[key] for r in rows]))
        verdict = "" if target is None else ("  PASS" if mean >= target else "  FAIL")
        ok &= target is None or mean >= target
        goal = f" (target >= {target:.2f})" if target else ""
        print(f"{name:40s} {mean:6.3f}{goal}{verdict}")
    mean_s = np.mean([r["analysis_s"] for r in rows])
    print(f"{'mean analysis time per song (s)':40s} {mean_s:6.3f}")
    bad = [r for r in rows if r["beat_f"] < 0.8 or r["meter_ok"] < 1 or r["downbeat_f"] < 0.5]
    if bad:
        print("\nsongs with a failure:")
        for r in bad:
            print(f"  {r['genre']:10s} seed {r['seed']} bpm {r['bpm']:.1f} est {r['est_bpm']:.1f}"
                  f" meter {r['meter']}->{r['est_meter']} beatF {r['beat_f']:.2f}"
                  f" downbeatF {r['downbeat_f']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
