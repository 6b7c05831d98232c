"""The starter library's real-capture style (``contemporary``, CMU subject 5): its curation and
the dances it makes.

1. Curation: every phrase the recipe cuts from ``../shared/data`` with the figures that kept or
   rejected it (``musicdance.library.contemporary``), and the source takes' own foot skating.
2. Dances: ``choreograph --style contemporary`` on the real songs in ``../shared/data/music``,
   the phrases picked by the scorer the CLI would choose (the default bundle), by the feature
   scorer and at random (joins nobody chose), each with several seeds: the worst join (peak
   joint acceleration from 2 frames before each cut to 0.4 s after it, against the largest and
   the 99th percentile of the same per-frame peak inside the phrases, outside the join
   windows), foot skating during contacts, Beat Align Score with its half-beat-shift control,
   and distinct phrases per slot.

    python benchmarks/bench_contemporary.py [--library phrase_library] [--curation-only]
        [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from musicdance.audio.analysis import analyze
from musicdance.choreo.choreographer import choreograph
from musicdance.choreo.render import render_dance
from musicdance.choreo.timeline import Choice, Timeline
from musicdance.evaluate.metrics import beat_alignment, diversity, foot_skating_cm_s, join_peaks
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
#: Who picks the phrases: the scorer the CLI would choose (the default bundle), the feature
#: scorer (``--no-bundle``), and a random phrase in every slot (joins nobody chose).
PICKERS = ("bundle", "features", "random")


def join_figures(motion: Motion, cut_times_s: list[float], span_s: tuple[float, float]) -> dict:
    """Worst and median join peak against the peaks inside the phrases (``join_peaks``)."""
    report = join_peaks(motion, cut_times_s, span_s=span_s)
    return {
        "worst_ratio": report["worst_ratio"],
        "median_ratio_p99": report["median_ratio_p99"],
        "worst_join_mps2": report["worst_peak_acceleration"],
        "within_max_mps2": report["within_max_acceleration"],
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


def _timeline(analysis, library, picker: str, seed: int) -> tuple[Timeline, str]:
    """The contemporary dance ``picker`` (one of ``PICKERS``) makes, and the scorer's name."""
    scorer, name = _scorer(library, analysis) if picker == "bundle" else (None, "features")
    timeline = choreograph(analysis, library, style=CONTEMPORARY_STYLE, scorer=scorer, seed=seed)
    if picker == "random":
        ids = [info.id for info in library.infos(styles=[CONTEMPORARY_STYLE])]
        picks = np.random.default_rng(seed).integers(len(ids), size=len(timeline.slots))
        choices = [Choice(ids[k], 0.0) for k in picks]
        timeline, name = Timeline(**{**timeline.__dict__, "choices": choices}), "random"
    return timeline, name


def dances(library_path: Path, seeds: list[int]) -> None:
    library = open_library(library_path)
    worst: dict[str, list[dict]] = {picker: [] for picker in PICKERS}
    print(f"\nchoreograph --style {CONTEMPORARY_STYLE} ({library_path}), seeds {seeds}:")
    for song in sorted((DATA / "music").glob("*.*")):
        if not song.is_file():
            continue
        analysis = analyze(song)
        for picker in PICKERS:
            for seed in seeds:
                timeline, name = _timeline(analysis, library, picker, seed)
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
                worst[picker].append({**row, "song": song.name, "seed": seed})
                figures = "  ".join(f"{k}={v:.3f}" for k, v in row.items())
                slots = len(timeline.slots)
                print(f"  {song.name:<26} s{seed} {slots:3d} slots  {figures}  [{name}]")
    print("\nworst over the songs and seeds (join ratio < 1.0: no join is the sharpest moment):")
    for picker, rows in worst.items():
        if not rows:
            continue
        top = max(rows, key=lambda r: r["worst_ratio"])
        print(
            f"  {picker:<9} {len(rows):3d} dances: worst join ratio {top['worst_ratio']:.3f} "
            f"({top['song']}, seed {top['seed']}); median join / p99 at most "
            f"{max(r['median_ratio_p99'] for r in rows):.3f}; foot skating at most "
            f"{max(r['skating_cm_s'] for r in rows):.3f} cm/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, default=REPO / "phrase_library")
    parser.add_argument("--curation-only", action="store_true")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated choreography seeds")
    args = parser.parse_args()
    if not (DATA / "bvh" / "cmu05").is_dir():
        raise SystemExit(f"{DATA} is not there: the benchmark needs the CMU takes and the songs")
    curation()
    if not args.curation_only:
        dances(args.library, [int(s) for s in args.seeds.split(",")])


if __name__ == "__main__":
    main()
