"""Live choreography benchmark: latency, beat lock, tempo changes, live against offline, memory.

1. Generated songs (every genre, two seeds, full length; exact beats known): the live session
   fed 20 ms chunks as fast as it can. Per song: latency of ``push`` (wall clock and CPU time
   of the feeding thread, p50/p99/max; the target is p99 <= 10 ms), real-time factor (wall
   clock, and CPU time of the whole process: the model's and the decodings' threads too),
   beat lock (seconds from the start until the declared beats
   reach F >= 0.8 over the next 10 s), F-measure of all declared beats, and the live dance
   against the offline dance of the same song, style, seed and scorer (``--scorer``): BAS
   margin over its half-beat control (after lock) and the worst-join ratio; repeats: the eights
   the session danced as repeats of earlier music, and of the eights that repeat an earlier
   section by the offline analysis, how many got the phrase of their twin
   (``musicdance.evaluate.live.repeat_figures``).
2. Real songs (``../shared/data/music``): the same, with the offline analysis' beats as the
   reference (not ground truth).
3. Tempo changes: two generated songs of different tempi back to back; seconds from the change
   until the declared beats reach F >= 0.8 over the next 10 s.
4. Memory over a long stream (``--minutes``, default 60): a real song looped, no recording;
   Python heap (tracemalloc) and RSS after each tenth of the stream.

    python benchmarks/bench_live.py [--minutes 60] [--quick] [--scorer bundle|features]
        [--parts generated,real,tempo,memory] [--chunk-ms 20] [--json OUT]

The latency target, re-measured on a quiet machine (the generated and the real songs, 60 s
each, with the default bundle; prints a latency table per song at the end):

    python benchmarks/bench_live.py --quick --parts generated,real
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one core

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from musicdance.audio.analysis import analyze, analyze_signal  # noqa: E402
from musicdance.audio.load import load_audio  # noqa: E402
from musicdance.audio.synth import GENRES, synth_song  # noqa: E402
from musicdance.bundle import open_bundle  # noqa: E402
from musicdance.choreo.choreographer import choreograph  # noqa: E402
from musicdance.choreo.live import LiveChoreographer  # noqa: E402
from musicdance.choreo.onnx_scorer import scorer_for  # noqa: E402
from musicdance.choreo.render import cut_times, render_timeline  # noqa: E402
from musicdance.defaults import DEFAULT_BUNDLE  # noqa: E402
from musicdance.evaluate.live import beat_lock_s, live_figures, repeat_figures  # noqa: E402
from musicdance.library import open_library  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MUSIC = REPO.parent / "shared" / "data" / "music"
CHUNK_S = 0.02  # seconds of audio per push (--chunk-ms)


def feed(owner: LiveChoreographer, y: np.ndarray, sr_hz: int, *, seed: int, record: bool):
    """The session fed ``y`` in ``CHUNK_S`` chunks; with the wall-clock and process CPU
    seconds it took (the process: every thread, the model's and the decodings' too)."""
    session = owner.session(sr_hz, seed=seed, record=record)
    chunk = int(round(CHUNK_S * sr_hz))
    started, started_cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(y), chunk):
        session.push(y[i : i + chunk])
    return session, time.perf_counter() - started, time.process_time() - started_cpu


def one_song(owner, library, y, sr_hz, reference_beats, analysis, *, seed=0) -> dict:
    session, elapsed, elapsed_cpu = feed(owner, y, sr_hz, seed=seed, record=True)
    record = session.timeline()
    scorer = scorer_for(owner.bundle, analysis, feature_weight=owner.feature_weight)
    timeline = choreograph(analysis, library, style=session.style, seed=seed, fps=owner.fps,
                           scorer=scorer)  # fmt: skip
    offline = render_timeline(timeline, library)
    cuts = [c["start_s"] for c in record["choices"] if not c["idle"]]
    figures = live_figures(
        session.motion(), np.array(session.declared_beats_s), cuts, reference_beats,
        offline_motion=offline, offline_cuts_s=[j.time_s for j in cut_times(timeline, library)],
        locked_at_s=session.locked_at_s,
    )  # fmt: skip
    live_choices = [c for c in record["choices"] if not c["idle"]]
    eight_s = (6 if record["meter"] == 3 else 8) * 60.0 / max(record["tempo_bpm"], 1.0)
    return {
        "repeats": repeat_figures(live_choices, analysis.sections, eight_s),
        "duration_s": round(len(y) / sr_hz, 1),
        "style": session.style,
        "tempo_bpm": record["tempo_bpm"],
        "meter": record["meter"],
        "latency_ms": record["latency_ms"],
        "realtime_factor": round(len(y) / sr_hz / elapsed, 1),
        "realtime_factor_cpu": round(len(y) / sr_hz / elapsed_cpu, 1),
        "pushes_over_10ms": {
            "wall": int(sum(t > 0.010 for t in session.latencies_s)),
            "cpu": int(sum(t > 0.010 for t in session.cpu_latencies_s)),
        },
        "join_batches": session.join_batches,
        **figures,
    }


def generated(owner, library, quick: bool) -> dict:
    rows = {}
    seeds = (1,) if quick else (1, 2)
    for genre in GENRES:
        for seed in seeds:
            y, truth = synth_song(genre, seed=seed, duration_s=60 if quick else None)
            analysis = analyze_signal(y, sr_hz=truth.sr_hz)
            row = one_song(owner, library, y, truth.sr_hz, np.array(truth.beat_times_s), analysis)
            row["true_bpm"], row["true_meter"] = round(truth.bpm, 2), truth.meter
            name = f"{genre}-{seed} ({truth.bpm:.0f}/{truth.meter})"
            rows[name] = row
            print_row(name, row)
    return rows


def real(owner, library, quick: bool) -> dict:
    rows = {}
    for path in sorted(MUSIC.glob("*.*")):
        y, _ = load_audio(path, max_duration_s=60 if quick else None)
        analysis = analyze(path, max_duration_s=60 if quick else None)
        row = one_song(owner, library, y, 22050, np.asarray(analysis.beat_times_s), analysis)
        row["offline_bpm"] = round(analysis.tempo_bpm, 2)
        rows[path.name] = row
        print_row(path.name, row)
    return rows


def tempo_changes(owner) -> dict:
    rows = {}
    for (g1, b1), (g2, b2) in [(("pop", 100), ("house", 128)), (("house", 124), ("hiphop", 90)),
                               (("funk", 110), ("funk", 96))]:  # fmt: skip
        y1, t1 = synth_song(g1, bpm=b1, seed=3, duration_s=30)
        y2, t2 = synth_song(g2, bpm=b2, seed=4, duration_s=30)
        offset = len(y1) / t1.sr_hz
        reference = np.concatenate([t1.beat_times_s, np.array(t2.beat_times_s) + offset])
        session, *_ = feed(owner, np.concatenate([y1, y2]), t1.sr_hz, seed=0, record=True)
        declared = np.array(session.declared_beats_s)
        relock = beat_lock_s(declared, reference, after_s=offset)
        name = f"{g1} {b1} -> {g2} {b2} BPM"
        rows[name] = {"relock_s": relock, "tempo_after_bpm": session.timeline()["tempo_bpm"]}
        print(f"{name:<32} re-locked after {relock} s (tempo now {rows[name]['tempo_after_bpm']})")
    return rows


def memory(owner, minutes: float) -> dict:
    path = sorted(MUSIC.glob("*.ogg"))[0]
    y, _ = load_audio(path)
    total = int(minutes * 60 * 22050)
    session = owner.session(22050, seed=0, record=False)
    chunk = int(CHUNK_S * 22050)
    tracemalloc.start()
    marks = []
    step = total // 10
    fed = 0
    while fed < total:
        start = fed % len(y)
        part = y[start : start + chunk]
        session.push(part)
        fed += len(part)
        if fed // step > len(marks):
            heap, _peak = tracemalloc.get_traced_memory()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            marks.append({"minute": round(fed / 22050 / 60, 1), "heap_mb": round(heap / 2**20, 2),
                          "max_rss_mb": round(rss, 1)})  # fmt: skip
            print(f"  {marks[-1]['minute']:6.1f} min: heap {marks[-1]['heap_mb']:7.2f} MB, "
                  f"max RSS {marks[-1]['max_rss_mb']:.1f} MB")  # fmt: skip
    tracemalloc.stop()
    growth = marks[-1]["heap_mb"] - marks[1]["heap_mb"] if len(marks) > 1 else 0.0
    return {"song": path.name, "minutes": minutes, "marks": marks,
            "heap_growth_after_first_tenth_mb": round(growth, 2)}  # fmt: skip


def print_row(name: str, row: dict) -> None:
    lat = row["latency_ms"]
    live, offline = row["live"], row["offline"]
    print(
        f"{name:<28} {row['style']:<8} {row['tempo_bpm']:6.1f} BPM  lock {row['beat_lock_s']} s  "
        f"F {row['beat_f_measure']:.2f}  p99 {lat['p99']:.2f} ms (cpu {lat['cpu_p99']:.2f}, "
        f"max {lat['cpu_max']:.2f})  "
        f"{row['realtime_factor']:5.0f}x (cpu {row['realtime_factor_cpu']:.0f}x)  "
        f"BAS margin {live['bas_margin']:.3f}/"
        f"{offline['bas_margin']:.3f}  worst join {live['worst_join_ratio']:.2f}/"
        f"{offline['worst_join_ratio']:.2f}  repeats {row['repeats']['repeats']}/"
        f"{row['repeats']['eights']} (offline repeats danced as such "
        f"{row['repeats']['danced_as_twin']}/{row['repeats']['eligible']})"
    )


def latency_table(rows: dict) -> None:
    """The latency of ``push`` per song: p50, p99 and max, wall clock and CPU time of the
    feeding thread, and the pushes over 10 ms (the target: p99 <= 10 ms)."""
    print(f"{'song':<34} {'wall p50/p99/max ms':>22} {'cpu p50/p99/max ms':>22} "
          f"{'>10ms wall/cpu':>15} {'realtime x (cpu)':>17}")  # fmt: skip
    for name, row in rows.items():
        lat, over = row["latency_ms"], row["pushes_over_10ms"]
        print(f"{name:<34} {lat['p50']:6.2f} {lat['p99']:6.2f} {lat['max']:7.2f}  "
              f"{lat['cpu_p50']:6.2f} {lat['cpu_p99']:6.2f} {lat['cpu_max']:7.2f}  "
              f"{over['wall']:6d} {over['cpu']:6d}  "
              f"{row['realtime_factor']:7.1f} ({row['realtime_factor_cpu']:.1f})")  # fmt: skip


def summary(rows: dict) -> dict:
    values = list(rows.values())
    locks = [r["beat_lock_s"] for r in values]
    ratios = [r["bas_margin_ratio"] for r in values if r["bas_margin_ratio"] is not None]
    return {
        "songs": len(values),
        "locked_within_4s": sum(1 for v in locks if v is not None and v <= 4.0),
        "worst_lock_s": max((v for v in locks if v is not None), default=None),
        "never_locked": sum(1 for v in locks if v is None),
        "p99_latency_ms_max": max(r["latency_ms"]["p99"] for r in values),
        "cpu_p99_latency_ms_max": max(r["latency_ms"]["cpu_p99"] for r in values),
        "max_latency_ms_max": max(r["latency_ms"]["max"] for r in values),
        "cpu_max_latency_ms_max": max(r["latency_ms"]["cpu_max"] for r in values),
        "realtime_factor_min": min(r["realtime_factor"] for r in values),
        "realtime_factor_cpu_min": min(r["realtime_factor_cpu"] for r in values),
        "bas_margin_ratio_min": min(ratios) if ratios else None,
        "bas_margin_ratio_median": float(np.median(ratios)) if ratios else None,
        "live_worst_join_max": max(r["live"]["worst_join_ratio"] for r in values),
        "offline_worst_join_max": max(r["offline"]["worst_join_ratio"] for r in values),
        "repeats": sum(r["repeats"]["repeats"] for r in values),
        "eights": sum(r["repeats"]["eights"] for r in values),
        "offline_repeat_eights": sum(r["repeats"]["eligible"] for r in values),
        "offline_repeat_eights_danced_as_twin": sum(
            r["repeats"]["danced_as_twin"] for r in values
        ),
    }


def main() -> None:
    global CHUNK_S
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="one seed, 60-s songs")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--chunk-ms", type=float, default=CHUNK_S * 1000,
                        help="milliseconds of audio per push (default 20)")
    parser.add_argument("--parts", default="generated,real,tempo,memory",
                        help="comma-separated parts to run: generated, real, tempo, memory")
    parser.add_argument("--scorer", choices=("bundle", "features"), default="bundle",
                        help="bundles/default mixed with the features (as mdtool live), or "
                        "the features alone; offline uses the same")  # fmt: skip
    args = parser.parse_args()
    library = open_library(REPO / "phrase_library")
    bundle = open_bundle(DEFAULT_BUNDLE, library=library) if args.scorer == "bundle" else None
    owner = LiveChoreographer(library, bundle=bundle)
    CHUNK_S = args.chunk_ms / 1000.0
    parts = set(args.parts.split(","))
    unknown = parts - {"generated", "real", "tempo", "memory"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    load = os.getloadavg()[0]
    print(f"scorer: {args.scorer}; {args.chunk_ms:g}-ms chunks; load average {load:.1f} "
          f"(CPU times are the figures to read on a shared machine)")  # fmt: skip
    result: dict = {}
    if "generated" in parts:
        print("1. generated songs (exact beats); live/offline")
        result["generated"] = generated(owner, library, args.quick)
        result["generated_summary"] = summary(result["generated"])
    if "real" in parts:
        print("2. real songs (offline analysis beats as the reference)")
        result["real"] = real(owner, library, args.quick)
        result["real_summary"] = summary(result["real"])
    if "tempo" in parts:
        print("3. tempo changes")
        result["tempo_changes"] = tempo_changes(owner)
    if "memory" in parts:
        print(f"4. memory over {args.minutes:g} minutes")
        result["memory"] = memory(owner, args.minutes)
    print(json.dumps({k: v for k, v in result.items() if k.endswith("summary")}, indent=1))
    if "memory" in result:
        growth = result["memory"]["heap_growth_after_first_tenth_mb"]
        print(f"heap growth after the first tenth: {growth} MB")
    songs = {**result.get("generated", {}), **result.get("real", {})}
    if songs:
        print(f"latency of push per song (load average now {os.getloadavg()[0]:.1f}):")
        latency_table(songs)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
