"""Choreography benchmark: speed of the whole job, and dance quality against its controls.

1. Speed: a generated 4-minute song choreographed and exported by a fresh ``mdtool
   choreograph`` process (cold start), with the ``--profile`` breakdown and peak memory.
2. Quality on 10 generated songs (all genres) and the real recordings in
   ``../shared/data/music``: Beat Align Score and FACT alignment beside their half-beat-shift
   controls, EDGE's PFC, foot skating during contact, acceleration/jerk at the joins against
   within phrases and the pose/velocity mismatch at the cuts, for four ways of joining the
   same choreography: the paper's linear crossfade cut on count 1, the crossfade at searched
   cuts, inertialization on count 1, and ours (inertialization at searched cuts).
3. The same four on "edited" timelines (random phrases of the song's style in every slot), where
   joins are not chosen by the transition prior: what a user's swaps can produce.
4. Per dance style (the style the choreographer picked), ours: BAS, control, margin (against
   every beat, and against the counts the dance was planned on, which differ in half time)
   and the join ratios, so the worst style shows beside the means.

    python benchmarks/bench_choreograph.py [--songs 10] [--skip-speed] [--genres waltz ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from musicdance.audio.analysis import analyze
from musicdance.audio.synth import GENRES, synth_song, write_song
from musicdance.choreo.choreographer import choreograph
from musicdance.choreo.render import RenderOptions, render_dance
from musicdance.choreo.timeline import Choice, Timeline
from musicdance.evaluate.metrics import (
    beat_alignment,
    diversity,
    foot_skating_cm_s,
    physical_foot_contact,
    structure_consistency,
    transition_smoothness,
)
from musicdance.library import open_library

REPO = Path(__file__).resolve().parents[1]
MUSIC = REPO.parent / "shared" / "data" / "music"


def speed(tmp: Path) -> None:
    y, _ = synth_song("pop", bpm=118.0, seed=42, duration_s=240.0)
    song = write_song(tmp / "four_minutes.mp3", y, sr_hz=22050)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mdtool.cli", "choreograph", str(song), "-o", str(tmp / "out"),
         "--library", str(REPO / "phrase_library"), "--profile", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    summary = json.loads(result.stdout)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"4-minute song ({summary['duration_s']:.0f} s, {summary['slots']} slots): "
          f"{wall:.2f} s wall, cold process; peak RSS {peak_mb:.0f} MB")  # fmt: skip
    for stage, seconds in summary["timings_s"].items():
        print(f"  {stage:<22} {seconds:7.3f} s")


#: (label, join, search_joins): the paper's baseline first, ours last.
MODES = (
    ("crossfade@1", "crossfade", False),
    ("crossfade+search", "crossfade", True),
    ("inertialize@1", "inertialize", False),
    ("ours", "inertialize", True),
)


def join_rows(timeline, library, beat_times_s) -> dict[str, dict[str, float]]:
    """Quality figures of ``timeline`` rendered with each of ``MODES``. BAS is scored against
    every beat of the music (Bailando) and, as ``bas_counts``, against the counts the dance
    was planned on (every other beat in half time; the same as every beat otherwise)."""
    rows = {}
    counts_s = np.concatenate([slot.beat_times_s for slot in timeline.slots])
    for label, join, search in MODES:
        rendered = render_dance(timeline, library, RenderOptions(join=join, search_joins=search))
        motion = rendered.motion
        scores = beat_alignment(motion, beat_times_s)
        on_counts = beat_alignment(motion, counts_s)
        smooth = transition_smoothness(motion, [j.time_s for j in rendered.joins])
        rows[label] = {
            "bas": scores["beat_align_score"],
            "bas_control": scores["beat_align_score_control"],
            "bas_counts": on_counts["beat_align_score"],
            "bas_counts_control": on_counts["beat_align_score_control"],
            "fact": scores["fact_beat_align"],
            "fact_control": scores["fact_beat_align_control"],
            "pfc": physical_foot_contact(motion),
            "skating_cm_s": foot_skating_cm_s(motion),
            "join_accel_ratio": smooth.get("acceleration_ratio", float("nan")),
            "join_jerk_ratio": smooth.get("jerk_ratio", float("nan")),
            "join_peak_ratio": smooth.get("peak_ratio", float("nan")),
            "cut_cost": float(np.mean([j.cost for j in rendered.joins])),
            "cut_shift_s": float(np.mean([abs(j.time_s - j.boundary_s) for j in rendered.joins])),
        }
    return rows


def quality_row(name: str, song: Path, library) -> dict[str, dict[str, float]]:
    analysis = analyze(song)
    timeline = choreograph(analysis, library, seed=0)
    rows = join_rows(timeline, library, analysis.beat_times_s)
    consistency = structure_consistency(timeline)
    rows["ours"]["structure_consistency"] = float("nan") if consistency is None else consistency
    rows["ours"].update(
        {k: float(v) for k, v in diversity(timeline).items() if k != "back_to_back_repeats"}
    )
    rows["style"] = timeline.style
    print(f"{name:<28} {timeline.style:<8} {analysis.tempo_bpm:6.1f} BPM  "
          + "  ".join(f"{k}={v:.3f}" for k, v in rows["ours"].items()))  # fmt: skip
    return rows


def edited_row(song: Path, library, seed: int) -> dict[str, dict[str, float]]:
    """The song's choreography with a random phrase of its style in every slot."""
    analysis = analyze(song)
    timeline = choreograph(analysis, library, seed=0)
    ids = [info.id for info in library.infos(styles=[timeline.style])]
    rng = np.random.default_rng(seed)
    choices = [Choice(ids[k], 0.0) for k in rng.integers(len(ids), size=len(timeline.slots))]
    edited = Timeline(**{**timeline.__dict__, "choices": choices})
    return join_rows(edited, library, analysis.beat_times_s)


def print_means(label: str, rows: list[dict[str, dict[str, float]]]) -> None:
    print(f"\nmean over {len(rows)} {label}:")
    for mode, *_ in MODES:
        keys = [k for k in rows[0][mode] if all(k in r[mode] for r in rows)]
        means = {k: float(np.nanmean([r[mode][k] for r in rows])) for k in keys}
        print(f"  {mode:<17} " + "  ".join(f"{k}={v:.3f}" for k, v in means.items()))


#: Columns of the per-style table: (header, key in the "ours" row).
STYLE_COLUMNS = (
    ("BAS", "bas"), ("control", "bas_control"), ("counts", "bas_counts"),
    ("control", "bas_counts_control"), ("accel", "join_accel_ratio"),
    ("jerk", "join_jerk_ratio"), ("peak", "join_peak_ratio"),
)  # fmt: skip


def print_by_style(label: str, rows: list[dict]) -> None:
    """Ours per dance style: means over the songs danced in it, the worst jerk ratio first."""
    styles = sorted({r["style"] for r in rows})
    table = {}
    for style in styles:
        ours = [r["ours"] for r in rows if r["style"] == style]
        table[style] = {key: float(np.nanmean([o[key] for o in ours])) for _, key in STYLE_COLUMNS}
        table[style]["songs"] = len(ours)
    print(f"\nours per style over {label} (BAS against every beat, then against the planned "
          "counts; join ratios accel / jerk / peak; worst jerk first):")  # fmt: skip
    print(f"  {'style':<13} songs  " + "  ".join(f"{h:>7}" for h, _ in STYLE_COLUMNS[:2])
          + "   margin  " + "  ".join(f"{h:>7}" for h, _ in STYLE_COLUMNS[2:4])
          + "   margin  " + "  ".join(f"{h:>6}" for h, _ in STYLE_COLUMNS[4:]))  # fmt: skip
    for style in sorted(styles, key=lambda s: -table[s]["join_jerk_ratio"]):
        t = table[style]
        print(f"  {style:<13} {t['songs']:5d}  {t['bas']:7.3f}  {t['bas_control']:7.3f}  "
              f"{t['bas'] - t['bas_control']:7.3f}  {t['bas_counts']:7.3f}  "
              f"{t['bas_counts_control']:7.3f}  {t['bas_counts'] - t['bas_counts_control']:7.3f}  "
              + "  ".join(f"{t[key]:6.2f}" for _, key in STYLE_COLUMNS[4:]))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=10)
    parser.add_argument("--skip-speed", action="store_true", help="Only the quality figures.")
    parser.add_argument(
        "--genres", nargs="+", choices=sorted(GENRES), help="Generate songs of these genres only."
    )
    parser.add_argument("--no-real", action="store_true", help="Skip the real recordings.")
    args = parser.parse_args()
    library = open_library(REPO / "phrase_library")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        if not args.skip_speed:
            speed(tmp)
        print("\nquality (ours: inertialized joins at searched cuts):")
        songs = []
        genres = sorted(args.genres or GENRES)
        for i in range(args.songs):
            genre = genres[i % len(genres)]
            y, _ = synth_song(genre, seed=1000 + i, duration_s=90.0)
            songs.append((f"generated {genre} #{i}", write_song(tmp / f"{genre}_{i}.wav", y,
                                                                sr_hz=22050)))  # fmt: skip
        generated = [quality_row(name, song, library) for name, song in songs]
        real = [] if args.no_real else [
            quality_row(p.name, p, library) for p in sorted(MUSIC.glob("*.*")) if p.is_file()
        ]  # fmt: skip
        print_means("generated songs", generated)
        if real:
            print_means("real recordings", real)
        print_by_style("generated songs", generated)
        if real:
            print_by_style("real recordings", real)
        edited = [edited_row(song, library, seed=i) for i, (_, song) in enumerate(songs)]
        print_means("generated songs with random phrases (edited timelines)", edited)


if __name__ == "__main__":
    main()
