"""Choreography benchmark: speed of the whole job, and dance quality against its controls.

1. Speed: a generated 4-minute song choreographed and exported by a fresh ``mdtool
   choreograph`` process (cold start), with the ``--profile`` breakdown and peak memory.
2. Quality on 10 generated songs (all genres) and the real recordings in
   ``../shared/data/music``: Beat Align Score and FACT alignment beside their half-beat-shift
   controls, EDGE's PFC, foot skating during contact, and acceleration/jerk at the joins
   against within phrases, for inertialized joins and for the paper's linear crossfade.

    python benchmarks/bench_choreograph.py [--songs 10]
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
from musicdance.choreo.render import render_timeline
from musicdance.evaluate.metrics import (
    beat_alignment,
    foot_skating_cm_s,
    physical_foot_contact,
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


def quality_row(name: str, song: Path, library) -> dict[str, dict[str, float]]:
    analysis = analyze(song)
    timeline = choreograph(analysis, library, seed=0)
    joins = [slot.start_s for slot in timeline.slots[1:]]
    rows = {}
    for join in ("inertialize", "crossfade"):
        motion = render_timeline(timeline, library, join=join)
        scores = beat_alignment(motion, analysis.beat_times_s)
        smooth = transition_smoothness(motion, joins)
        rows[join] = {
            "bas": scores["beat_align_score"],
            "bas_control": scores["beat_align_score_control"],
            "fact": scores["fact_beat_align"],
            "fact_control": scores["fact_beat_align_control"],
            "pfc": physical_foot_contact(motion),
            "skating_cm_s": foot_skating_cm_s(motion),
            "join_accel_ratio": smooth.get("acceleration_ratio", float("nan")),
            "join_jerk_ratio": smooth.get("jerk_ratio", float("nan")),
            "join_peak_ratio": smooth.get("peak_ratio", float("nan")),
        }
    print(f"{name:<28} {timeline.style:<8} {analysis.tempo_bpm:6.1f} BPM  "
          + "  ".join(f"{k}={v:.3f}" for k, v in rows["inertialize"].items()))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=10)
    args = parser.parse_args()
    library = open_library(REPO / "phrase_library")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        speed(tmp)
        print("\nquality (inertialized joins):")
        generated = []
        genres = sorted(GENRES)
        for i in range(args.songs):
            genre = genres[i % len(genres)]
            y, _ = synth_song(genre, seed=1000 + i, duration_s=90.0)
            song = write_song(tmp / f"{genre}_{i}.wav", y, sr_hz=22050)
            generated.append(quality_row(f"generated {genre} #{i}", song, library))
        real = [quality_row(p.name, p, library) for p in sorted(MUSIC.glob("*.*")) if p.is_file()]
        for label, rows in (("generated", generated), ("real recordings", real)):
            if not rows:
                continue
            print(f"\nmean over {len(rows)} {label} songs:")
            for join in ("inertialize", "crossfade"):
                keys = rows[0][join].keys()
                means = {k: float(np.nanmean([r[join][k] for r in rows])) for k in keys}
                print(f"  {join:<12} " + "  ".join(f"{k}={v:.3f}" for k, v in means.items()))


if __name__ == "__main__":
    main()
