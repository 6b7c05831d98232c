"""The starter library's real-capture style (``contemporary``, CMU subject 5): its curation and
the dances it makes.

1. Curation: every phrase the recipe cuts from ``../shared/data`` with the figures that kept or
   rejected it (``musicdance.library.contemporary``), and the source takes' own foot skating.
2. Dances: ``choreograph --style contemporary`` (the scorer the CLI would choose) on the real
   songs in ``../shared/data/music``: the worst join (peak joint acceleration from 2 frames
   before each cut to 0.4 s after it, against the largest and the 99th percentile of the same
   per-frame peak inside the phrases, outside the join windows), foot skating during contacts,
   Beat Align Score with its half-beat-shift control, and distinct phrases per slot.

    python benchmarks/bench_contemporary.py [--library phrase_library] [--curation-only]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from musicdance.audio.analysis import analyze
from musicdance.choreo.choreographer import choreograph
from musicdance.choreo.render import render_dance
from musicdance.evaluate.metrics import beat_alignment, diversity, foot_skating_cm_s
from musicdance.library import open_library
from musicdance.library.contemporary import (
    CONTEMPORARY_STYLE,
    CONTEMPORARY_TAKES,
    contemporary_phrases,
    prepare_take,
    repair_flicker,
)
from musicdance.motion.motion import Motion

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
#: Seconds after a cut in which its peak is looked for; frames before it (a velocity jump
#: shows one frame early).
AFTER_S = 0.4
BEFORE_FRAMES = 2


def join_figures(motion: Motion, cut_times_s: list[float], span_s: tuple[float, float]) -> dict:
    """Worst and median join peak against the peaks inside the phrases (see the module text)."""
    positions = motion.global_positions()
    fps = motion.fps
    accel = np.linalg.norm(np.diff(positions, 2, axis=0), axis=-1) * fps**2
    peak = np.concatenate([accel[:1], accel, accel[-1:]]).max(axis=1)
    frames = np.arange(len(peak))
    inside = (frames >= span_s[0] * fps) & (frames <= span_s[1] * fps)
    near = np.zeros(len(peak), dtype=bool)
    peaks = []
    for cut_s in cut_times_s:
        window = (frames >= cut_s * fps - BEFORE_FRAMES) & (frames <= (cut_s + AFTER_S) * fps)
        near |= window
        peaks.append(peak[window].max())
    within = peak[inside & ~near]
    peaks = np.array(peaks)
    return {
        "worst_ratio": float(peaks.max() / within.max()),
        "median_ratio_p99": float(np.median(peaks) / np.percentile(within, 99)),
        "worst_join_mps2": float(peaks.max()),
        "within_max_mps2": float(within.max()),
    }


def _scorer(library, analysis):
    from musicdance.bundle import open_default_bundle
    from musicdance.choreo.onnx_scorer import OnnxScorer

    model, why_not = open_default_bundle(library)
    if model is None:
        return None, f"features ({why_not})"
    return OnnxScorer(model, analysis), "bundles/default"


def curation() -> None:
    from musicdance.io.files import load_motion
    from musicdance.motion.retarget import retarget

    phrases, results = contemporary_phrases(DATA, mirrored=False)
    keys = ("foot_skating_mps", "peak_joint_speed_mps", "accel_peak_over_p99", "pose_break_m",
            "min_head_height_m", "hand_speed_mps")  # fmt: skip
    print(f"curation: {len(phrases)} of {len(results)} phrases kept")
    print(f"{'phrase':<26} {'counts':>6} " + " ".join(f"{k[:12]:>12}" for k in keys) + "  verdict")
    for r in results:
        verdict = "kept" if not r.reasons else "; ".join(r.reasons)
        print(f"{r.phrase_id:<26} {r.num_counts:>6} "
              + " ".join(f"{r.figures[k]:12.3f}" for k in keys) + f"  {verdict}")  # fmt: skip
    skating = []
    for take in CONTEMPORARY_TAKES:
        canonical, _ = retarget(load_motion(DATA / take.path))
        motion, _ = prepare_take(repair_flicker(canonical)[0])
        skating.append(foot_skating_cm_s(motion))
    print(
        f"source takes' foot skating (same code as the dances): mean {np.mean(skating):.2f}, "
        f"min {np.min(skating):.2f}, max {np.max(skating):.2f} cm/s"
    )


def dances(library_path: Path) -> None:
    library = open_library(library_path)
    rows = []
    print(f"\nchoreograph --style {CONTEMPORARY_STYLE} ({library_path}):")
    for song in sorted((DATA / "music").glob("*.*")):
        if not song.is_file():
            continue
        analysis = analyze(song)
        scorer, name = _scorer(library, analysis)
        timeline = choreograph(analysis, library, style=CONTEMPORARY_STYLE, scorer=scorer)
        rendered = render_dance(timeline, library)
        motion = rendered.motion
        span = (timeline.slots[0].start_s, timeline.slots[-1].end_s)
        joins = join_figures(motion, [j.time_s for j in rendered.joins], span)
        bas = beat_alignment(motion, analysis.beat_times_s)
        row = {
            **joins,
            "skating_cm_s": foot_skating_cm_s(motion),
            "bas": bas["beat_align_score"],
            "bas_control": bas["beat_align_score_control"],
            "distinct_per_slot": diversity(timeline)["distinct_phrase_ratio"],
        }
        rows.append(row)
        print(f"  {song.name:<26} {len(timeline.slots):3d} slots  "
              + "  ".join(f"{k}={v:.3f}" for k, v in row.items()) + f"  [{name}]")  # fmt: skip
    if rows:
        print(
            f"  worst join ratio over the songs: {max(r['worst_ratio'] for r in rows):.3f}; "
            f"median join / p99: {max(r['median_ratio_p99'] for r in rows):.3f} at most"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, default=REPO / "phrase_library")
    parser.add_argument("--curation-only", action="store_true")
    args = parser.parse_args()
    if not (DATA / "bvh" / "cmu05").is_dir():
        raise SystemExit(f"{DATA} is not there: the benchmark needs the CMU takes and the songs")
    curation()
    if not args.curation_only:
        dances(args.library)


if __name__ == "__main__":
    main()
