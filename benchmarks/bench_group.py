"""Group benchmark: the targets of issue 23.

1. Cold: a generated 4-minute song choreographed and exported by a fresh ``mdtool
   choreograph`` process, one dancer and ``--dancers 8`` (target: 8 dancers <= 2x one), wall
   and CPU seconds (CPU is what a shared machine does not distort).
2. Warm, through the runtime: the library loaded and the song analysed, a new group of 100
   dancers (a crowd) choreographed, rendered and ready to sample (target <= 3 s); the
   analysis' own time beside it.
3. Distances: the closest two hips over every frame for 8 dancers in every formation and for
   the crowd (target: zero frames closer than 0.6 m).
4. Group pose sampling: 100 dancers, one call per 60 fps frame, poses per second on one core
   (the runtime's target is 60,000 poses/s per core).
5. Foot skating (``foot_skating_cm_s``, the code ``mdtool evaluate`` uses) of every dancer's
   exported ``.bvh`` from ``mdtool choreograph --dancers 8``, over the whole song and over the
   frames where the dancer's spot travels; against the same song danced by one dancer
   (``mdtool choreograph``) and against each dancer's own timeline rendered alone (target:
   each dancer no worse than the single dancer).

    python benchmarks/bench_group.py [--skip-cold] [--only-skating] [--only-cold]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold(song: Path, tmp: Path, repeats: int) -> dict:
    """Wall and CPU seconds of fresh processes, one dancer and eight (best of ``repeats``)."""
    figures: dict = {}
    for dancers in (1, 8, 1, 8)[: 2 * repeats] if repeats > 1 else (1, 8):
        command = [sys.executable, "-m", "mdtool.cli", "choreograph", str(song), "-o",
                   str(tmp / f"out{dancers}"), "--library", str(REPO / "phrase_library"),
                   "--json", "--dancers", str(dancers)]  # fmt: skip
        cpu0, wall0 = _child_cpu_s(), time.perf_counter()
        subprocess.run(command, capture_output=True, text=True, check=True)
        wall, cpu = time.perf_counter() - wall0, _child_cpu_s() - cpu0
        best = figures.setdefault(dancers, {"wall_s": wall, "cpu_s": cpu})
        best["wall_s"], best["cpu_s"] = min(best["wall_s"], wall), min(best["cpu_s"], cpu)
    return {
        "one_dancer": {k: round(v, 3) for k, v in figures[1].items()},
        "eight_dancers": {k: round(v, 3) for k, v in figures[8].items()},
        "ratio_wall": round(figures[8]["wall_s"] / figures[1]["wall_s"], 3),
        "ratio_cpu": round(figures[8]["cpu_s"] / figures[1]["cpu_s"], 3),
    }


def warm_crowd(song: Path, dancers: int) -> dict:
    """The runtime's time for a new crowd once the library is loaded and the song analysed."""
    from mdruntime import Runtime

    runtime = Runtime(REPO / "phrase_library", preload=True)
    t0 = time.perf_counter()
    analysis = runtime.analyze_file(song)
    analyse_s = time.perf_counter() - t0
    first = runtime.choreograph_group(analysis, dancers, seed=0)
    runtime.group_sampler(first).sample([1.0])  # warm-up: first group on this runtime
    times, cpu = [], []
    for seed in (1, 2):
        start, cpu0 = time.perf_counter(), time.process_time()
        group = runtime.choreograph_group(analysis, dancers, seed=seed)
        sampler = runtime.group_sampler(group)
        sampler.sample([10.0])
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu0)
    rendered = runtime.render_group(group)
    return {
        "dancers": dancers,
        "analyse_s": round(analyse_s, 3),
        "choreograph_render_ready_s": [round(t, 3) for t in times],
        "choreograph_render_ready_cpu_s": [round(t, 3) for t in cpu],
        "distinct_renders": rendered.distinct_renders,
        "render_timings_s": {k: round(v, 3) for k, v in rendered.timings_s.items()},
        "min_distance_m": round(float(rendered.closest_m.min()), 4),
        "frames_closer_than_0_6_m": rendered.frames_too_close,
        "frames": int(rendered.closest_m.size),
        "sampler": sampler,
    }


def distances(song: Path) -> list[dict]:
    """Closest hips for 8 dancers in every formation (the whole render, every frame)."""
    from musicdance.audio.analysis import analyze
    from musicdance.choreo.formation import FORMATIONS
    from musicdance.choreo.group import choreograph_group
    from musicdance.choreo.group_render import MemoLibrary, render_group
    from musicdance.library import open_library

    library = MemoLibrary(open_library(REPO / "phrase_library"))
    analysis = analyze(song)
    rows = []
    for formation, dancers in [*((f, 8) for f in FORMATIONS), ("auto", 2), ("auto", 20)]:
        group = choreograph_group(analysis, library, dancers, formation=formation, seed=3)
        rendered = render_group(group, library)
        rows.append({"formation": formation, "dancers": dancers,
                     "min_distance_m": round(float(rendered.closest_m.min()), 4),
                     "frames_closer_than_0_6_m": rendered.frames_too_close,
                     "devices": sorted({s.device for s in group.sections})})  # fmt: skip
    return rows


def sampling(sampler, seconds: float = 2.0) -> dict:
    """Poses per second: every dancer at one time per 60 fps frame."""
    count = sampler.num_dancers
    frames = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        sampler.sample(np.array([frames / 60.0]))
        frames += 1
    elapsed = time.perf_counter() - start
    return {"dancers": count, "frames_per_s": round(frames / elapsed, 1),
            "poses_per_s": round(frames * count / elapsed)}  # fmt: skip


def _cli_dance(song: Path, folder: Path, dancers: int) -> None:
    if (folder / f"{song.stem}.glb").exists():
        return
    subprocess.run([sys.executable, "-m", "mdtool.cli", "choreograph", str(song), "-o",
                    str(folder), "--library", str(REPO / "phrase_library"), "--json",
                    "--dancers", str(dancers)], capture_output=True, text=True,
                   check=True)  # fmt: skip


def skating(song: Path, tmp: Path) -> dict:
    """Foot skating (cm/s) of the exported dancers against one dancer on the same song."""
    from musicdance.choreo.group import read_group_timeline
    from musicdance.choreo.group_render import MemoLibrary, spot_paths
    from musicdance.choreo.render import render_dance
    from musicdance.evaluate.metrics import foot_skating_cm_s
    from musicdance.io.bvh import read_bvh
    from musicdance.library import open_library
    from musicdance.library.phrase import FOOT_POINTS, detect_contacts
    from musicdance.motion.analysis import foot_skating_mps

    one, eight = tmp / "out1", tmp / "out8"
    _cli_dance(song, one, 1)
    _cli_dance(song, eight, 8)
    solo = foot_skating_cm_s(read_bvh(one / f"{song.stem}.bvh"))
    group = read_group_timeline(eight / f"{song.stem}.timeline.json")
    library = MemoLibrary(open_library(REPO / "phrase_library"))
    dancers = []
    for d, dancer in enumerate(group.dancers):
        motion = read_bvh(eight / f"{song.stem}.{dancer.name}.bvh")
        spots = spot_paths(group, motion.num_frames)[d]
        moving = np.zeros(motion.num_frames, dtype=bool)
        moving[1:] = np.linalg.norm(np.diff(spots, axis=0), axis=1) > 1e-7
        positions = motion.global_positions()
        contacts = detect_contacts(motion, positions)
        travel = foot_skating_mps(positions, motion.fps, contacts & moving[:, None], FOOT_POINTS)
        alone = render_dance(group.dancer_timeline(d), library).motion
        dancers.append({"dancer": dancer.name,
                        "skating_cm_s": round(foot_skating_cm_s(motion), 4),
                        "travel_skating_cm_s": round(100 * travel, 4),
                        "travel_share": round(float(moving.mean()), 3),
                        "own_timeline_alone_cm_s": round(foot_skating_cm_s(alone), 4)})  # fmt: skip
    worst = max(d["skating_cm_s"] for d in dancers)
    return {"one_dancer_cm_s": round(solo, 4), "dancers": dancers,
            "worst_dancer_cm_s": worst,
            "worst_travel_cm_s": max(d["travel_skating_cm_s"] for d in dancers),
            "worst_own_alone_cm_s": max(d["own_timeline_alone_cm_s"] for d in dancers),
            "target_met": worst <= solo}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only-skating", action="store_true")
    parser.add_argument("--only-cold", action="store_true",
                        help="only 1 against 8 dancers cold (wall and CPU seconds)")  # fmt: skip
    args = parser.parse_args()
    from musicdance.audio.synth import synth_song, write_song

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        y, _ = synth_song("pop", bpm=118.0, seed=42, duration_s=240.0)
        song = write_song(tmp / "four_minutes.mp3", y, sr_hz=22050)
        report: dict = {}
        if args.only_skating:
            print(json.dumps({"skating": skating(song, tmp)}), flush=True)
            return
        if not args.skip_cold:
            report["cold"] = cold(song, tmp, args.repeats)
            print(json.dumps({"cold": report["cold"]}), flush=True)
            if args.only_cold:
                return
        crowd = warm_crowd(song, 100)
        sampler = crowd.pop("sampler")
        report["warm_crowd"] = crowd
        print(json.dumps({"warm_crowd": crowd}), flush=True)
        report["sampling"] = sampling(sampler)
        print(json.dumps({"sampling": report["sampling"]}), flush=True)
        report["distances"] = distances(song)
        for row in report["distances"]:
            print(json.dumps(row), flush=True)
        report["skating"] = skating(song, tmp)
        print(json.dumps({"skating": report["skating"]}), flush=True)
        worst = min(r["min_distance_m"] for r in report["distances"])
        closer = sum(r["frames_closer_than_0_6_m"] for r in report["distances"])
        print(json.dumps({"summary": {
            "cold_ratio_wall": report.get("cold", {}).get("ratio_wall"),
            "cold_ratio_cpu": report.get("cold", {}).get("ratio_cpu"),
            "crowd_warm_s": min(crowd["choreograph_render_ready_s"]),
            "crowd_warm_cpu_s": min(crowd["choreograph_render_ready_cpu_s"]),
            "closest_any_m": min(worst, crowd["min_distance_m"]),
            "frames_closer_total": closer + crowd["frames_closer_than_0_6_m"],
            "group_poses_per_s": report["sampling"]["poses_per_s"],
            "skating_one_dancer_cm_s": report["skating"]["one_dancer_cm_s"],
            "skating_worst_dancer_cm_s": report["skating"]["worst_dancer_cm_s"],
        }}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
