"""Phrase-library benchmark: build and import speed, starter quality, "looks like dance".

Prints (or writes as Markdown with ``--markdown FILE``):
- the starter build time (target under 60 s), its size and phrase count;
- the import time of a 10-minute 120 fps take (a shared BVH looped; target under 10 s);
- foot skating and count / kinematic-beat alignment over the whole starter library;
- ``validate`` results on the starter library;
- the "looks like dance" table: per starter style and for real dance takes retargeted onto the
  1.7 m canonical figure, mean and 95th-percentile hand and foot speed, root travel per
  second, root bounce and the higher hand's height above the hips;
- the "moves like people" table: per style and per real take (resampled to 30 fps), the 99th
  percentile over frames of the largest joint acceleration and speed, the largest distance a
  joint moves in one frame, and the hips' yaw range per phrase (real takes cut into 4-s
  windows, one eight at 120 BPM) with its spread across phrases.
``--previews DIR`` also draws one contact sheet PNG per style (six moves each) and a turntable
GIF of each style's best move (the full-energy phrase whose figures sit closest to the real
takes' medians) for the docs.

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
from musicdance.library.preview import render_animation, render_gallery
from musicdance.library.procedural.build import build_starter_library
from musicdance.library.quality import hip_yaw_range_deg, phrase_quality
from musicdance.library.validate import validate_library
from musicdance.motion import concatenate
from musicdance.motion.analysis import dance_statistics, peak_joint_motion
from musicdance.motion.motion import resample, slice_frames
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
    "hiphop": ("step-touch", "running-man", "body-roll", "spin", "drop-pose", "fill"),
    "house": ("jack-taps", "skate", "heel-toe", "half-turn", "jack-drop", "fill"),
    "pop": ("step-clap", "hip-wave", "quarter-walk", "pose-hits", "body-wave", "fill"),
    "jazz": ("chasse", "kick-turn", "pas-de-bourree", "pirouette", "contraction", "fill"),
    "popping": ("fresno", "robot", "dime-walk", "robot-turn", "neck-drop", "fill"),
    "locking": ("point-lock", "scoobot", "which-a-way", "spin", "knee-drop", "fill"),
    "waltz": ("box", "natural-turn", "twinkle", "hesitation", "spin-turn", "open-pose"),
}
#: Length of the windows the real takes are cut into for their hip yaw range: one eight at
#: 120 BPM (the starter phrases last 3.8-5.5 s).
EIGHT_S = 4.0
SHARP_KEYS = ("acceleration_p99_mps2", "speed_p99_mps", "max_step_m")


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


def _peaks(positions: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: the largest joint step (m), speed (m/s) and acceleration (m/s^2)."""
    step = np.linalg.norm(np.diff(positions, axis=0), axis=-1).max(axis=1)
    acceleration = np.linalg.norm(np.diff(positions, 2, axis=0), axis=-1).max(axis=1) * fps**2
    return step, step * fps, acceleration


def moves_like_people(library, by_style: dict[str, list[dict]], work: Path) -> tuple[str, dict]:
    """Sharpness and hip turn per style (frames of all its phrases pooled) and per real take."""
    rows, figures = [], {}
    pooled: dict[str, list] = defaultdict(list)
    for info in library.infos():
        motion = library.get(info.id).motion
        pooled[info.style].append(_peaks(motion.global_positions(), motion.fps))
    for style in sorted(pooled):
        step = np.concatenate([p[0] for p in pooled[style]])
        speed = np.concatenate([p[1] for p in pooled[style]])
        acceleration = np.concatenate([p[2] for p in pooled[style]])
        yaw = np.array([q["hip_yaw_range_deg"] for q in by_style[style]])
        skating = max(q["foot_skating_mps"] for q in by_style[style])
        figures[f"starter {style}"] = {
            "acceleration_p99_mps2": float(np.percentile(acceleration, 99)),
            "speed_p99_mps": float(np.percentile(speed, 99)),
            "max_step_m": float(step.max()),
            "yaw": yaw,
            "skating_cm_s": 100 * skating,
        }
    takes = sorted(SHARED_BVH.glob("*.bvh")) + sorted(SHARED_BVH.glob("cmu05/*.bvh"))
    for path in takes:
        motion = resample(retarget(load_motion(path))[0], 30.0)
        peaks = peak_joint_motion(motion.global_positions(), motion.fps)
        # Consecutive windows of one eight at 120 BPM (4 s): the importer refuses takes
        # without a steady beat, and a fixed window measures every take alike.
        window = int(round(EIGHT_S * motion.fps))
        yaw = np.array([
            hip_yaw_range_deg(slice_frames(motion, start, start + window))
            for start in range(0, motion.num_frames - window + 1, window)
        ])  # fmt: skip
        figures[f"real {path.stem}"] = {**peaks, "yaw": yaw, "skating_cm_s": float("nan")}
    for name, f in figures.items():
        yaw = f["yaw"]
        yaw_text = (
            [f"{yaw.min():.0f} / {np.median(yaw):.0f} / {yaw.max():.0f}", f"{yaw.std():.0f}"]
            if len(yaw) else ["-", "-"]
        )  # fmt: skip
        skate = "-" if np.isnan(f["skating_cm_s"]) else f"{f['skating_cm_s']:.3f}"
        rows.append([name, f"{f['acceleration_p99_mps2']:.0f}", f"{f['speed_p99_mps']:.2f}",
                     f"{f['max_step_m']:.3f}", *yaw_text, skate])  # fmt: skip
    headers = ["motion", "p99 peak joint acc. m/s^2", "p99 peak joint speed m/s",
               "max joint step per frame m", "hip yaw range per phrase deg (min / median / max)",
               "its std across phrases deg", "worst skating cm/s"]  # fmt: skip
    real = {n: f for n, f in figures.items() if n.startswith("real ")}
    main_takes = [f for n, f in real.items() if not n.startswith("real cmu-iclone_005_")
                  or n == "real cmu-iclone_005_02"]  # fmt: skip
    ranges = []
    for label, group in (("the takes in shared/data/bvh", main_takes), ("all takes", list(
            real.values()))):  # fmt: skip
        acc = [f["acceleration_p99_mps2"] for f in group]
        speed = [f["speed_p99_mps"] for f in group]
        yaw = np.concatenate([f["yaw"] for f in group])
        ranges.append(
            f"Real, {label} ({len(group)}): p99 acceleration {min(acc):.0f}-{max(acc):.0f} m/s^2, "
            f"speed {min(speed):.1f}-{max(speed):.1f} m/s, hip yaw range per phrase "
            f"{yaw.min():.0f}-{yaw.max():.0f} deg "
            f"(median {np.median(yaw):.0f}, std {yaw.std():.0f})."
        )
    return _table(headers, rows) + "\n\n" + "\n".join(ranges), figures


def best_moves(library, by_style_ids: dict[str, list[str]], figures: dict) -> dict[str, str]:
    """Per procedural style (``GALLERY``), the full-energy phrase whose sharpness and hand
    speed sit closest (in log ratio) to the medians of the real takes."""
    real = [f for n, f in figures.items() if n.startswith("real ")]
    target = {k: float(np.median([f[k] for f in real])) for k in SHARP_KEYS[:2]}
    best = {}
    for style, ids in by_style_ids.items():
        if style not in GALLERY:  # the captured styles have their own gallery
            continue
        scored = []
        for phrase_id in ids:
            if not phrase_id.endswith("-full"):
                continue
            motion = library.get(phrase_id).motion
            peaks = peak_joint_motion(motion.global_positions(), motion.fps)
            yaw = hip_yaw_range_deg(motion)
            gap = sum(abs(np.log(peaks[k] / target[k])) for k in target)
            scored.append((gap - 0.2 * min(yaw, 90.0) / 90.0, phrase_id))
        best[style] = min(scored)[1]
    return best


def draw_previews(library, folder: Path, best: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for style, moves in GALLERY.items():
        path = folder / f"library-{style}.png"
        render_gallery([library.get(f"{style}-{m}-full") for m in moves], path, dpi=55)
        written.append(path)
    for style, phrase_id in best.items():
        path = folder / f"library-{style}-best.gif"
        render_animation(library.get(phrase_id), path, fps=10.0, size_px=200, turntable_deg=360)
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
        people_text, figures = moves_like_people(library, by_style, work)
        print(people_text, flush=True)
        if args.previews:
            ids = defaultdict(list)
            for info in library.infos():
                ids[info.style].append(info.id)
            best = best_moves(library, ids, figures)
            print("best moves: " + ", ".join(best.values()), flush=True)
            for path in draw_previews(library, args.previews, best):
                print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    if args.markdown:
        args.markdown.write_text(
            "\n\n".join(
                [build_text, import_text, quality_text, validate_text, dance_text, people_text]
            )
            + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
