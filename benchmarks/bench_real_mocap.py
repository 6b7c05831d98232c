"""Real motion capture in, real dance out: joins, foot skating and beat alignment per library.

For the starter library, libraries imported from real takes in ``../shared/data/bvh`` (built
here with ``mdtool library import`` into ``--build``, never committed: the ``cmu05`` takes,
and perfume_A_test + animdraw_rokoko_jesse_dance) and any ``--library DIR``, over the real
songs in ``../shared/data/music`` and a generated song of every genre:

- joins (``evaluate.metrics.join_peaks`` at the cuts the render made): the worst join's peak
  joint acceleration (from just before the cut to 0.4 s after it) over the largest peak inside
  the phrases of the same dance (target < 1 on every dance), and the median join peak over the
  within-phrase 99th percentile (target <= 1);
- foot skating during contacts (``foot_skating_cm_s``) of the dances and, with the same code,
  of the library's own phrases (the source takes as imported; target: not above them);
- Beat Align Score and its half-beat control; distinct phrases per slot.

    python benchmarks/bench_real_mocap.py [--genres pop,waltz] [--real 2] [--seconds 60]
        [--seed 2000] [--library DIR ...] [--no-starter] [--build build/real_mocap] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from musicdance.audio.analysis import analyze
from musicdance.audio.synth import GENRES, synth_song, write_song
from musicdance.choreo.choreographer import choreograph
from musicdance.choreo.render import render_dance
from musicdance.evaluate.metrics import beat_alignment, diversity, foot_skating_cm_s, join_peaks
from musicdance.library import open_library

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
#: Imported sets: name -> (takes, tempo for takes whose motion shows no clear pulse).
REAL_SETS = {
    "cmu05": (sorted((SHARED / "bvh" / "cmu05").glob("*.bvh")), 90.0),
    "perfume+jesse": (
        [SHARED / "bvh" / "perfume_A_test.bvh", SHARED / "bvh" / "animdraw_rokoko_jesse_dance.bvh"],
        None,
    ),
}


def _import(take: Path, library: Path, bpm: float | None) -> None:
    command = [sys.executable, "-m", "mdtool.cli", "library", "import", str(take),
               "--style", "captured", "--library", str(library)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 and bpm is not None and "--bpm" in result.stdout + result.stderr:
        result = subprocess.run([*command, "--bpm", str(bpm)], capture_output=True, text=True)
        print(f"  {take.name}: no clear pulse in the motion, imported at --bpm {bpm:g}")
    if result.returncode != 0:
        raise SystemExit(f"{take}: import failed: {(result.stdout + result.stderr).strip()}")


def build_real_libraries(build: Path) -> dict[str, Path]:
    """Each ``REAL_SETS`` library imported with ``mdtool library import`` (one take per
    command, so a take without a clear pulse can fall back on a tempo) unless already built."""
    built = {}
    for name, (takes, bpm) in REAL_SETS.items():
        folder = build / name.replace("+", "_")
        if not all(t.is_file() for t in takes) or not takes:
            print(f"skipping {name}: takes not found under {SHARED / 'bvh'}")
            continue
        if not (folder / "library.sqlite").is_file():
            print(f"importing {name} ({len(takes)} takes) into {folder}")
            for take in takes:
                _import(take, folder, bpm)
        built[name] = folder
    return built


def source_skating_cm_s(library) -> float:
    """Foot skating during contacts of the library's own phrases (the takes as imported),
    mean over phrases."""
    return float(np.mean([foot_skating_cm_s(library.get(i).motion) for i in library.ids()]))


def dance_row(analysis, library) -> dict:
    timeline = choreograph(analysis, library, seed=0)
    rendered = render_dance(timeline, library)
    motion = rendered.motion
    span = (timeline.slots[0].start_s, timeline.slots[-1].end_s)
    joins = join_peaks(motion, [j.time_s for j in rendered.joins], span_s=span)
    scores = beat_alignment(motion, analysis.beat_times_s)
    return {
        "style": timeline.style,
        "slots": len(timeline.slots),
        "worst_join_ratio": joins.get("worst_ratio", float("nan")),
        "median_join_ratio_p99": joins.get("median_ratio_p99", float("nan")),
        "worst_join": joins.get("worst_join"),
        "within_max_acceleration": joins.get("within_max_acceleration", float("nan")),
        "within_max_joint": joins.get("within_max_joint"),
        "skating_cm_s": foot_skating_cm_s(motion),
        "bas": scores["beat_align_score"],
        "bas_control": scores["beat_align_score_control"],
        "distinct_phrases_per_slot": diversity(timeline)["distinct_phrase_ratio"],
        "cuts_moved": float(
            np.mean([abs(j.time_s - j.boundary_s) > 1e-6 for j in rendered.joins])
        ),  # fmt: skip
    }


def summary(rows: dict[str, dict], source_skating: float) -> dict:
    values = list(rows.values())

    def column(key: str) -> np.ndarray:
        return np.array([r[key] for r in values], dtype=float)

    worst_song = max(rows, key=lambda s: rows[s]["worst_join_ratio"])
    return {
        "dances": len(values),
        "worst_join_ratio_max": float(column("worst_join_ratio").max()),
        "worst_join_ratio_median": float(np.median(column("worst_join_ratio"))),
        "worst_dance": worst_song,
        "worst_dance_join": rows[worst_song]["worst_join"],
        "median_join_ratio_p99_max": float(column("median_join_ratio_p99").max()),
        "median_join_ratio_p99_median": float(np.median(column("median_join_ratio_p99"))),
        "skating_cm_s_mean": float(column("skating_cm_s").mean()),
        "skating_cm_s_max": float(column("skating_cm_s").max()),
        "source_skating_cm_s": source_skating,
        "bas": float(column("bas").mean()),
        "bas_control": float(column("bas_control").mean()),
        "distinct_phrases_per_slot": float(column("distinct_phrases_per_slot").mean()),
        "cuts_moved": float(column("cuts_moved").mean()),
        "targets": {
            "every_join_ratio_below_1": bool(column("worst_join_ratio").max() < 1.0),
            "median_join_within_p99": bool(column("median_join_ratio_p99").max() <= 1.0),
            "skating_not_above_source": bool(column("skating_cm_s").mean() <= source_skating),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genres", default=",".join(sorted(GENRES)),
                        help="Comma list of generated genres (empty: none).")  # fmt: skip
    parser.add_argument("--real", type=int, default=None, help="Use only the first N songs.")
    parser.add_argument("--seconds", type=float, default=60.0, help="Generated song length.")
    parser.add_argument("--seed", type=int, default=2000, help="Seed of the first generated song.")
    parser.add_argument("--library", action="append", type=Path, default=[],
                        help="Another library to measure (repeatable).")  # fmt: skip
    parser.add_argument("--no-starter", action="store_true", help="Skip the starter library.")
    parser.add_argument("--no-import", action="store_true", help="Skip the imported real sets.")
    parser.add_argument("--build", type=Path, default=REPO / "build" / "real_mocap")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()

    libraries: dict[str, Path] = {}
    if not args.no_starter:
        libraries["starter"] = REPO / "phrase_library"
    if not args.no_import:
        libraries.update(build_real_libraries(args.build))
    for path in args.library:
        libraries[path.name] = path

    with tempfile.TemporaryDirectory() as folder:
        songs = sorted(p for p in (SHARED / "music").glob("*.*") if p.is_file())
        songs = songs[: args.real] if args.real is not None else songs
        named = [(p.name, p) for p in songs]
        for i, genre in enumerate(g for g in args.genres.split(",") if g):
            y, _ = synth_song(genre, seed=args.seed + i, duration_s=args.seconds)
            named.append((f"generated {genre}", write_song(Path(folder) / f"{genre}.wav", y,
                                                           sr_hz=22050)))  # fmt: skip
        started = time.perf_counter()
        analyses = {name: analyze(path) for name, path in named}
        print(f"analysed {len(analyses)} songs in {time.perf_counter() - started:.1f} s")

    report = {}
    for label, path in libraries.items():
        library = open_library(path)
        started = time.perf_counter()
        rows = {name: dance_row(analysis, library) for name, analysis in analyses.items()}
        report[label] = {"summary": summary(rows, source_skating_cm_s(library)), "dances": rows}
        elapsed = time.perf_counter() - started
        if not args.json:
            print(f"\n{label} ({path}, {len(library)} phrases; {elapsed:.1f} s)")
            for name, r in rows.items():
                w = r["worst_join"] or {}
                print(f"  {name:<26} {r['style']:<10} worst join {r['worst_join_ratio']:.2f} "
                      f"({w.get('peak_acceleration', float('nan')):.0f} m/s^2 "
                      f"{w.get('joint', '-')} +{w.get('after_cut_s', float('nan')):.2f} s; "
                      f"phrases max {r['within_max_acceleration']:.0f} {r['within_max_joint']}) "
                      f"median/p99 {r['median_join_ratio_p99']:.2f} "
                      f"skating {r['skating_cm_s']:.3f} cm/s BAS {r['bas']:.3f} "
                      f"(control {r['bas_control']:.3f}) distinct/slot "
                      f"{r['distinct_phrases_per_slot']:.2f} "
                      f"cuts moved {r['cuts_moved']:.2f}")  # fmt: skip
            s = report[label]["summary"]
            print(f"  => worst join ratio max {s['worst_join_ratio_max']:.2f} "
                  f"(median over dances {s['worst_join_ratio_median']:.2f}, worst: "
                  f"{s['worst_dance']}); median join / p99 max "
                  f"{s['median_join_ratio_p99_max']:.2f} "
                  f"(median {s['median_join_ratio_p99_median']:.2f}); skating "
                  f"{s['skating_cm_s_mean']:.3f} cm/s (max {s['skating_cm_s_max']:.3f}; source "
                  f"phrases {s['source_skating_cm_s']:.3f}); BAS {s['bas']:.3f} vs control "
                  f"{s['bas_control']:.3f}; distinct phrases/slot "
                  f"{s['distinct_phrases_per_slot']:.2f}; targets {s['targets']}")  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
