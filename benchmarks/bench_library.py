"""Phrase-library benchmark: build and import speed, starter quality, "looks like dance".

Prints (or writes as Markdown with ``--markdown FILE``):
- the starter build time (target under 60 s), its size and phrase count;
- the import time of a 10-minute 120 fps take (a shared BVH looped; target under 10 s);
- foot skating and count / kinematic-beat alignment over the whole starter library;
- ``validate`` results on the starter library;
- the "looks like dance" table: per starter style and for real dance takes retargeted onto the
  1.7 m canonical figure, mean and 95th-percentile hand and foot speed, root travel per
  second, root bounce and the higher hand's height above the hips.
``--previews DIR`` also draws one gallery PNG per style (two phrases each) for the docs.

    python benchmarks/bench_library.py [--markdown docs/bench.md] [--previews docs/images]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from musicdance.io.bvh import write_bvh
from musicdance.io.files import load_motion
from musicdance.library import open_library
from musicdance.library.importer import import_motion_files
from musicdance.library.phrase import ANKLES, HANDS
from musicdance.library.preview import render_gallery
from musicdance.library.procedural.build import build_starter_library
from musicdance.library.quality import phrase_quality
from musicdance.library.validate import validate_library
from musicdance.motion import concatenate
from musicdance.motion.analysis import dance_statistics
from musicdance.motion.retarget import retarget

SHARED_BVH = Path(__file__).resolve().parents[2] / "shared" / "data" / "bvh"
REAL_TAKES = ("perfume_A_test", "cmu-iclone_005_02", "animdraw_rokoko_jesse_dance")
LONG_TAKE_SOURCE = "animdraw_rokoko_jesse_dance"  # 100 fps, a steady beat (a walk has none)
STAT_COLUMNS = {
    "hand_speed_mean_mps": "hand m/s mean",
    "hand_speed_p95_mps": "hand m/s p95",
    "foot_speed_mean_mps": "foot m/s mean",
    "foot_speed_p95_mps": "foot m/s p95",
    "root_travel_mps": "root travel m/s",
    "root_bounce_std_m": "bounce std m",
    "hand_height_p95_m": "hand above hips p95 m",
}
GALLERY = {
    "hiphop": ("hiphop-step-touch-full", "hiphop-rock-medium"),
    "house": ("house-skate-full", "house-knee-loft-medium"),
    "pop": ("pop-step-clap-full", "pop-hip-wave-medium"),
    "jazz": ("jazz-kick-turn-full", "jazz-layout-medium"),
    "popping": ("popping-fresno-full", "popping-robot-medium"),
    "locking": ("locking-point-lock-full", "locking-scoobot-medium"),
    "waltz": ("waltz-box-full", "waltz-natural-turn-medium"),
}


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def bench_build(folder: Path) -> tuple[str, object]:
    started = time.perf_counter()
    library = build_starter_library(folder)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    text = (
        f"Starter build: {len(library)} phrases, {len(library.stats()['styles'])} styles, "
        f"{seconds:.2f} s (target < 60 s), {size / 1e6:.2f} MB on disk."
    )
    return text, library


def bench_long_import(work: Path, minutes: float = 10.0) -> str:
    take = load_motion(SHARED_BVH / f"{LONG_TAKE_SOURCE}.bvh")
    loops = int(np.ceil(minutes * 60.0 / take.duration_s))
    long_take = concatenate([take] * loops)
    path = work / "long_take.bvh"
    write_bvh(long_take, path)
    library = open_library(work / "long_import", create=True)
    started = time.perf_counter()
    (report,) = import_motion_files(library, [path], style="mocap", bpm=None)
    seconds = time.perf_counter() - started
    return (
        f"Import of a {long_take.duration_s / 60:.1f}-minute {take.fps:g} fps take "
        f"({long_take.num_frames} frames, {take.skeleton.num_joints} joints, "
        f"{LONG_TAKE_SOURCE} looped {loops} times): {seconds:.2f} s (target < 10 s), "
        f"{len(report.phrase_ids)} phrases at {report.tempo_bpm:.1f} BPM, "
        f"{len(report.near_duplicates)} near-duplicates reported."
    )


def starter_quality(library) -> tuple[str, dict[str, list[dict]]]:
    by_style: dict[str, list[dict]] = defaultdict(list)
    for info in library.infos():
        by_style[info.style].append(phrase_quality(library.get(info.id)))
    everything = [q for rows in by_style.values() for q in rows]
    skating = np.array([q["foot_skating_mps"] for q in everything])
    hit = np.array([q["count_hit_rate"] for q in everything])
    offset = np.array([q["mean_offset_beats"] for q in everything])
    on_counts = np.array([q["beats_on_counts"] for q in everything])
    rows = [
        ["foot skating during contacts (cm/s)", f"{skating.mean() * 100:.3f}",
         f"{skating.max() * 100:.3f}"],
        ["counts with a kinematic beat within 0.2 beat", f"{hit.mean():.3f}", f"{hit.min():.3f}"],
        ["distance count to nearest kinematic beat (beats)", f"{offset.mean():.3f}",
         f"{offset.max():.3f}"],
        ["kinematic beats on a count", f"{on_counts.mean():.3f}", f"{on_counts.min():.3f}"],
        ["knee bent the wrong way (deg)", "-",
         f"{max(q['knee_wrong_way_deg'] for q in everything):.2f}"],
        ["elbow bent the wrong way (deg)", "-",
         f"{max(q['elbow_wrong_way_deg'] for q in everything):.2f}"],
        ["frames with a hand inside the torso", "-",
         f"{max(q['hands_in_torso_fraction'] for q in everything):.3f}"],
    ]  # fmt: skip
    return _table(["starter library", "mean", "worst"], rows), by_style


def bench_validate(library) -> str:
    started = time.perf_counter()
    findings = validate_library(library)
    seconds = time.perf_counter() - started
    errors = sum(f.level == "error" for f in findings)
    return (
        f"Validate on the starter library: {len(library)} phrases, {errors} errors, "
        f"{len(findings) - errors} warnings, {seconds:.2f} s."
    )


def looks_like_dance(by_style: dict[str, list[dict]]) -> str:
    rows = []
    for style, rows_of_style in sorted(by_style.items()):
        mean = [np.mean([q[k] for q in rows_of_style]) for k in STAT_COLUMNS]
        rows.append([f"starter {style}", *(f"{v:.2f}" if v > 0.1 else f"{v:.3f}" for v in mean)])
    for name in REAL_TAKES:
        path = SHARED_BVH / f"{name}.bvh"
        if not path.exists():
            continue
        motion, _ = retarget(load_motion(path))
        stats = dance_statistics(
            motion.global_positions(), motion.fps, hips=0, hands=HANDS, feet=ANKLES
        )
        rows.append([f"real {name}", *(f"{stats[k]:.2f}" if stats[k] > 0.1 else
                                       f"{stats[k]:.3f}" for k in STAT_COLUMNS)])  # fmt: skip
    return _table(["motion", *STAT_COLUMNS.values()], rows)


def draw_previews(library, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for style, ids in GALLERY.items():
        path = folder / f"library-{style}.png"
        render_gallery([library.get(i) for i in ids], path)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", type=Path, help="Also write the results as Markdown.")
    parser.add_argument("--previews", type=Path, help="Folder for per-style gallery PNGs.")
    parser.add_argument("--minutes", type=float, default=10.0, help="Length of the long take.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_text, library = bench_build(work / "starter")
        print(build_text, flush=True)
        import_text = bench_long_import(work, args.minutes)
        print(import_text, flush=True)
        quality_text, by_style = starter_quality(library)
        print(quality_text, flush=True)
        validate_text = bench_validate(library)
        print(validate_text, flush=True)
        dance_text = looks_like_dance(by_style)
        print(dance_text, flush=True)
        if args.previews:
            for path in draw_previews(library, args.previews):
                print(f"wrote {path}")
    if args.markdown:
        args.markdown.write_text(
            "\n\n".join([build_text, import_text, quality_text, validate_text, dance_text]) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
