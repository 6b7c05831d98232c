"""The in-engine choreographer (Unity package, C# under mono) on a 4-minute song, one core.

Prints: the library asset's size and export time, its load time in C#, and for the feature
scorer and the bundle (onnxruntime C API, one thread): the whole in-engine path after analysis
(scoring with the model's share, transitions, decoding, render), managed memory and peak
working set,
and the bytes allocated while sampling 200,000 poses (target 0). The analysis is Python's for
those two; a third run is the whole path: the song's samples at 44.1 kHz analysed by the C#
MusicAnalyzer, then the bundle scorer. The render is TimelineRenderer.Render (the poses of
mdtool choreograph), with RenderSimple's time beside it.
Each figure is the fastest of ``--repeat`` runs (the shared machine's load only adds time);
wall-clock stage times come with the process CPU seconds (10 ms ticks), which the other
processes on the machine do not inflate.
Usage: python benchmarks/bench_unity_choreograph.py [--seconds 240] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "unity_bridge" / "unity" / "com.mdtool.dance"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scorer (fastest kept)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from musicdance.audio.analysis import analyze_signal
    from musicdance.audio.synth import synth_song
    from musicdance.bundle import open_default_bundle
    from musicdance.choreo.engine_asset import export_unity_library, write_analysis_asset
    from musicdance.library import open_library

    work = Path(tempfile.mkdtemp(prefix="bench_unity_"))
    try:
        exe = work / "runner.exe"
        sources = sorted((PACKAGE / "Runtime" / "Core").rglob("*.cs"))
        runner = PACKAGE / "Tests~" / "Core" / "ChoreographyRunner.cs"
        command = ["mcs", "-warnaserror", f"-out:{exe}", *map(str, sources), str(runner)]
        subprocess.run(command, check=True)
        native = work / "native"
        native.mkdir()
        capi = Path(onnxruntime.__file__).parent / "capi"
        (native / "libonnxruntime.so").symlink_to(next(capi.glob("libonnxruntime.so.1*")))
        library = open_library(REPO / "phrase_library")
        bundle, _ = open_default_bundle(library, REPO / "bundles" / "default")
        started = time.perf_counter()
        report = {"asset": export_unity_library(library, work / "asset", bundle)}
        report["asset"]["export_s"] = round(time.perf_counter() - started, 3)
        # generated songs are at most ~3 minutes: two of them back to back, cut to the length
        y = np.concatenate([synth_song("pop", bpm=118.0, seed=s, duration_s=args.seconds)[0]
                            for s in (3, 4)])
        y = y[: int(args.seconds * 22050)]
        analysis = analyze_signal(y, sr_hz=22050)
        report["song_s"] = round(len(y) / 22050, 2)
        song = write_analysis_asset(analysis, work / "song.mdan")
        env = {**os.environ, "LD_LIBRARY_PATH": str(native)}
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        # the whole path: the song's samples at 44.1 kHz (an AudioClip's usual rate) analysed in C#
        import soxr

        pcm = work / "song44k.f32"
        soxr.resample(y.astype(np.float32), 22050, 44100).astype("<f4").tofile(pcm)
        for name, extra in (("features", []), ("bundle", ["--bundle"]),
                            ("whole path from 44.1 kHz PCM", ["--bundle", "--sr", "44100"])):
            source = pcm if name.startswith("whole") else song
            command = [*pin, "mono", str(exe), "bench", report["asset"]["path"], str(source),
                       *extra]
            runs = [json.loads(subprocess.run(command, capture_output=True, text=True, env=env,
                                              check=True).stdout) for _ in range(args.repeat)]
            # the shared machine's load only ever adds time: the fastest of the runs per figure
            # (sizes and allocations are the same in every run; the largest is kept)
            report[name] = {key: (min if key.endswith("_s") else max)(r[key] for r in runs)
                            for key in runs[0]}  # fmt: skip
            report[name]["poses_per_s"] = max(r["poses_per_s"] for r in runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    asset = report["asset"]
    print(f"song: {report['song_s']} s")
    print(f"asset: {asset['phrases']} phrases, {asset['frames']} frames, "
          f"{asset['size_bytes'] / 1e6:.2f} MB, export {asset['export_s']:.2f} s")  # fmt: skip
    for name in ("features", "bundle", "whole path from 44.1 kHz PCM"):
        r = report[name]
        r["total_s"] = r["choreograph_s"] + r["render_s"]
        r["total_cpu_s"] = r["choreograph_cpu_s"] + r["render_cpu_s"]
        if name.startswith("whole"):
            print(f"{name} (bundle): C# analysis wall {r['analysis_s']:.3f} s, CPU "
                  f"{r['analysis_cpu_s']:.2f} s; with choreography and render wall "
                  f"{r['analysis_s'] + r['total_s']:.3f} s, CPU "
                  f"{r['analysis_cpu_s'] + r['total_cpu_s']:.2f} s")
        print(f"{name}: load {r['load_s'] * 1e3:.0f} ms; {r['slots']} slots, {r['frames']} "
              f"frames; wall {r['total_s']:.3f} s (scoring {r['scoring_s']:.3f} s, of which "
              f"model {r['model_s']:.3f} s; transitions {r['transitions_s']:.3f} s; decoding "
              f"{r['decoding_s']:.3f} s; render {r['render_s']:.3f} s; a re-render after an edit "
              f"{r['render_again_s']:.3f} s; the simple render {r['render_simple_s']:.3f} s); "
              f"process CPU {r['total_cpu_s']:.2f} s (scoring {r['scoring_cpu_s']:.2f} s, "
              f"decoding {r['choreograph_cpu_s'] - r['scoring_cpu_s']:.2f} s, render "
              f"{r['render_cpu_s']:.2f} s); managed {r['managed_bytes'] / 1e6:.1f} MB, peak "
              f"working set {r['peak_working_set_bytes'] / 1e6:.0f} MB; sampling "
              f"{r['poses_per_s']:.0f} poses/s, {r['sampling_allocated_bytes']} bytes "
              f"allocated over {r['samples']} samples")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
