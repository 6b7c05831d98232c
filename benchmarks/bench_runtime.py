"""Runtime benchmark: cold start, in-game call latencies, and pose-sampling throughput.

1. Cold start: a fresh ``python`` process that imports ``mdruntime`` and loads the starter
   library (median of 5), and the same process's first choreography of a 4-minute song (no
   librosa, no numba: nothing is compiled on first call). For contrast, what a fresh process pays
   for librosa's first ``resample`` and ``beat_track`` (``--librosa``).
2. Warm latencies on a generated 4-minute song (246 s): analysis + choreography, alternatives,
   replace + re-render (the pose track a game samples; incremental from the cached render of the
   edited timeline, and in full without it), glb export; and the SDK's full ``render_dance``
   against ``rerender`` for one replaced slot, with their largest difference.
3. Pose sampling, on one core: ``PoseSampler.sample`` for C characters each at its own time
   (one call per 60 fps frame), the same for a crowd on 8 different dances, and a whole second
   of 60 frames for 1,000 characters in one call; characters x frames per second against the
   target of 1,000 characters at 60 fps (60,000 poses/s).
4. The same in C# under mono (``--mono``; needs ``mcs``/``mono``): the Unity package's
   ``CrowdSampler`` on the same pose track, 1,000 and 10,000 characters, one call per frame.

    python benchmarks/bench_runtime.py [--librosa] [--mono]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one core: the target is per core

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "phrase_library"
TARGET_POSES_PER_S = 1000 * 60

COLD = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import numpy as np
    import mdruntime
    t1 = time.perf_counter()
    rt = mdruntime.Runtime(sys.argv[1])
    t2 = time.perf_counter()
    out = {"import_s": t1 - t0, "load_s": t2 - t1}
    if len(sys.argv) > 2:
        y = np.load(sys.argv[2])
        t3 = time.perf_counter()
        tl = rt.choreograph_pcm(y, 22050, seed=0)
        t4 = time.perf_counter()
        rt.sample(tl, np.arange(0, 10, 1 / 60))
        t5 = time.perf_counter()
        out.update(first_choreograph_s=t4 - t3, first_sample_s=t5 - t4, slots=len(tl.slots))
    out["modules"] = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "librosa", "numba"})
    out["rss_mb"] = __import__("resource").getrusage(0).ru_maxrss / 1024
    print(json.dumps(out))
    """
)

LIBROSA = textwrap.dedent(
    """
    import json, time
    import numpy as np
    t0 = time.perf_counter()
    import librosa
    t1 = time.perf_counter()
    y = np.random.default_rng(0).standard_normal(44100 * 20).astype(np.float32) * 0.1
    librosa.resample(y, orig_sr=44100, target_sr=22050)
    t2 = time.perf_counter()
    y = y[::2].copy()
    librosa.beat.beat_track(y=y, sr=22050)
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "resample_s": t2 - t1, "beat_track_s": t3 - t2}))
    """
)


def _run(script: str, *args: str) -> tuple[float, dict]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, json.loads(result.stdout.strip().splitlines()[-1])


def cold_start(song: np.ndarray, tmp: Path, with_librosa: bool) -> None:
    print("## Cold start (fresh process)")
    runs = [_run(COLD, str(LIBRARY)) for _ in range(5)]
    walls = [wall for wall, _ in runs]
    imports = [out["import_s"] for _, out in runs]
    loads = [out["load_s"] for _, out in runs]
    print(
        f"process start + import mdruntime + library load: {statistics.median(walls):.2f} s wall"
        f" (median of 5; import {statistics.median(imports):.2f} s, library load "
        f"{statistics.median(loads) * 1e3:.0f} ms); heavy modules: "
        f"{runs[0][1]['modules'] or 'none'}"
    )
    np.save(tmp / "song.npy", song)
    wall, out = _run(COLD, str(LIBRARY), str(tmp / "song.npy"))
    print(
        f"fresh process, first choreography of the {len(song) / 22050:.0f}-s song "
        f"({out['slots']} slots): "
        f"{out['first_choreograph_s']:.2f} s; first pose samples (render + sampler) "
        f"{out['first_sample_s']:.2f} s; whole process {wall:.2f} s, peak RSS "
        f"{out['rss_mb']:.0f} MB; heavy modules: {out['modules'] or 'none'}"
    )
    if with_librosa:
        _, out = _run(LIBROSA)
        print(
            f"for contrast, librosa in a fresh process: import {out['import_s']:.2f} s, first "
            f"resample {out['resample_s']:.2f} s, first beat_track {out['beat_track_s']:.2f} s"
        )


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def latencies(rt, song: np.ndarray) -> object:
    print(f"\n## Warm latencies ({len(song) / 22050:.0f}-s generated song)")
    start = time.perf_counter()
    timeline = rt.choreograph_pcm(song, 22050, seed=0)
    print(f"analysis + choreography: {time.perf_counter() - start:.2f} s "
          f"({len(timeline.slots)} slots)")  # fmt: skip
    start = time.perf_counter()
    rt.pose_track(timeline)
    print(f"render + bake pose track: {time.perf_counter() - start:.3f} s")
    t = _best(lambda: rt.alternatives(timeline, 5, top_k=10), 20)
    print(f"alternatives (one slot, top 10): {t * 1e3:.1f} ms")
    ranked = rt.alternatives(timeline, 5, top_k=3)
    choice = next(r["phrase_id"] for r in ranked if not r["current"])  # a real change

    def edit():
        edited = rt.replace(timeline, 5, choice)
        rt._rendered = type(rt._rendered)(rt._rendered.size)  # measure the re-render, uncached
        rt.pose_track(edited)

    print(f"replace + re-render (incremental, from the cached render): {_best(edit, 3):.3f} s")

    def edit_in_full():
        rt._edit_states = type(rt._edit_states)(rt._edit_states.size)  # no render to start from
        edit()

    print(f"replace + re-render (in full, nothing cached): {_best(edit_in_full, 3):.3f} s")
    rt.pose_track(timeline)  # cache it again for what follows
    render_vs_rerender(rt, timeline, 5, choice)
    data = rt.pose_track(timeline).to_bytes()
    print(f"pose track: {len(data) / 1e6:.2f} MB ({rt.pose_track(timeline).num_frames} frames)")
    t = _best(lambda: rt.glb_bytes(timeline), 3)
    print(f"glb export (cached render): {t:.3f} s")
    return timeline


def render_vs_rerender(rt, timeline, slot: int, phrase_id: str) -> None:
    """SDK level: ``render_dance`` of a timeline with one slot replaced against ``rerender``
    from the render of the original."""
    from musicdance.choreo.render import render_dance
    from musicdance.choreo.rerender import rerender

    previous = render_dance(timeline, rt.library)
    edited = rt.replace(timeline, slot, phrase_id)
    full = _best(lambda: render_dance(edited, rt.library), 3)
    partial = _best(lambda: rerender(previous, edited, rt.library), 5)
    a = render_dance(edited, rt.library).motion.global_positions()
    b = rerender(previous, edited, rt.library).motion.global_positions()
    print(
        f"one replaced slot (slot {slot} of {len(timeline.slots)}): render_dance {full:.3f} s, "
        f"rerender {partial * 1e3:.0f} ms ({full / partial:.0f}x faster); largest joint "
        f"position difference {np.abs(a - b).max():.1e} m"
    )


def sampling(rt, timeline) -> None:
    from mdruntime import CrowdSampler, PoseSampler

    print("\n## Pose sampling, one core (characters x frames per second)")
    track = rt.pose_track(timeline)
    sampler = PoseSampler(track)
    rng = np.random.default_rng(0)
    print(f"{'case':<46} {'ms/call':>9} {'poses/s':>12} {'x target':>9}")
    for characters in (1, 100, 1000, 10000):
        offsets = rng.uniform(0, track.duration_s, characters)
        frame = [0]

        def step(offsets=offsets, frame=frame):
            sampler.sample(offsets + frame[0] / 60.0)
            frame[0] += 1

        per_call = _per_call(step)
        rate = characters / per_call
        print(f"{characters:>6} characters, one call per frame{'':<14} {per_call * 1e3:9.3f} "
              f"{rate:12,.0f} {rate / TARGET_POSES_PER_S:9.1f}")  # fmt: skip
    tracks = [track]
    for slot in range(1, 8):
        choice = rt.alternatives(timeline, slot, top_k=3)[-1]["phrase_id"]
        tracks.append(rt.pose_track(rt.replace(timeline, slot, choice)))
    crowd = CrowdSampler(tracks)
    which = rng.integers(0, len(tracks), 1000)
    offsets = rng.uniform(0, track.duration_s, 1000)
    per_call = _per_call(lambda: crowd.sample(offsets, tracks=which))
    rate = 1000 / per_call
    print(f"{1000:>6} characters on 8 dances (CrowdSampler)      {per_call * 1e3:9.3f} "
          f"{rate:12,.0f} {rate / TARGET_POSES_PER_S:9.1f}")  # fmt: skip
    grid = offsets[:, None] + np.arange(60) / 60.0
    per_call = _per_call(lambda: sampler.sample(grid), seconds=2.0)
    rate = grid.size / per_call
    print(f"{1000:>6} characters x 60 frames in one call           {per_call * 1e3:9.3f} "
          f"{rate:12,.0f} {rate / TARGET_POSES_PER_S:9.1f}")  # fmt: skip


def mono_sampling(rt, timeline) -> None:
    import shutil

    from mdruntime.golden import write_golden

    if not (shutil.which("mcs") and shutil.which("mono")):
        print("\n(mono not installed: apt-get install -y --no-install-recommends mono-mcs)")
        return
    package = REPO / "unity_bridge" / "unity" / "com.mdtool.dance"
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        golden = write_golden(Path(tmp) / "golden", rt, timeline)
        exe = Path(tmp) / "CoreTests.exe"
        sources = sorted(str(p) for p in (package / "Runtime" / "Core").glob("*.cs"))
        subprocess.run(
            ["mcs", "-optimize+", f"-out:{exe}", *sources,
             str(package / "Tests~" / "Core" / "CoreTests.cs")],
            check=True, capture_output=True,
        )  # fmt: skip
        print("\n## Pose sampling in C# under mono, one core (CrowdSampler, one call per frame)")
        for characters in (1000, 10000):
            result = subprocess.run(
                ["mono", str(exe), "--bench", str(golden), str(characters), "2"],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            row = json.loads(result.stdout)
            rate = row["poses_per_s"]
            print(f"{characters:>6} characters: {row['ms_per_frame']:.3f} ms per frame, "
                  f"{rate:,.0f} poses/s ({rate / TARGET_POSES_PER_S:.1f} x target)")  # fmt: skip


def _per_call(fn, seconds: float = 1.0) -> float:
    fn()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--librosa", action="store_true", help="also time librosa cold calls")
    parser.add_argument("--mono", action="store_true", help="also time the C# sampler")
    args = parser.parse_args()
    import tempfile

    from mdruntime import Runtime
    from musicdance.audio.synth import synth_song

    song, _ = synth_song("pop", bpm=118.0, seed=42, duration_s=270.0)  # 246 s
    with tempfile.TemporaryDirectory() as tmp:
        cold_start(song, Path(tmp), args.librosa)
    rt = Runtime(LIBRARY, preload=True)
    timeline = latencies(rt, song)
    sampling(rt, timeline)
    if args.mono:
        mono_sampling(rt, timeline)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {rss:.0f} MB")


if __name__ == "__main__":
    main()
