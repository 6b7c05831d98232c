"""FBX through Blender, read back by three.js's FBXLoader, and the ufbx bindings tried against it
(docs/engines.md).

Usage: .venv/bin/python benchmarks/bench_fbx.py [--repeat N] [--ufbx-python PATH]

Writes the demo dance repeated N times (default 1 and 10) as FBX through Blender, reads it back
through Blender, and prints the seconds of each and the largest joint-position gap against the
original (metres); where Node and three.js are installed (``npm ci``), the same for
three.js's FBXLoader (``scripts/three_fbx_sample.mjs``, in its own Node process). With
``--ufbx-python`` (an interpreter that has ``pip install ufbx``), also times ``ufbx.load_file``
on the same file and walks its node list the way a reader must, each in its own process,
printing how that process ended (a crash is a negative signal number).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from musicdance.io.files import load_motion, save_motion
from musicdance.motion import concatenate

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo_dance.bvh"
UFBX_LOAD = """
import sys, time, ufbx
t = time.perf_counter(); scene = ufbx.load_file(sys.argv[1])
print(f"load {time.perf_counter() - t:.4f} s", flush=True)
bones = [(n.name, n.parent.name if n.parent is not None else None)
         for n in scene.nodes if n.bone is not None]
print("parents by iteration:", bones[:3], flush=True)
stacks = list(scene.anim_stacks)
print("stacks:", [s.name for s in stacks], flush=True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, nargs="*", default=[1, 10])
    parser.add_argument("--ufbx-python", default=None)
    args = parser.parse_args()
    dance = load_motion(DEMO)
    with tempfile.TemporaryDirectory() as folder:
        for repeat in args.repeat:
            motion = concatenate([dance] * repeat)
            path = Path(folder) / f"dance_x{repeat}.fbx"
            t0 = time.perf_counter()
            save_motion(motion, path)
            t1 = time.perf_counter()
            back = load_motion(path)
            t2 = time.perf_counter()
            index = [back.skeleton.index(n) for n in motion.skeleton.names]
            gap = np.abs(back.global_positions()[:, index] - motion.global_positions()).max()
            print(f"{motion.num_frames} frames x {motion.skeleton.num_joints} joints "
                  f"({motion.duration_s:.0f} s): write {t1 - t0:.1f} s, read {t2 - t1:.1f} s, "
                  f"largest gap {gap:.2e} m, {path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
            if shutil.which("node") and (REPO / "node_modules" / "three").is_dir():
                frames = np.linspace(0, motion.num_frames - 1, 25).round().astype(int)
                t3 = time.perf_counter()
                script = str(REPO / "scripts" / "three_fbx_sample.mjs")
                times = [str(f / motion.fps) for f in frames]
                done = subprocess.run(["node", script, str(path), *times], capture_output=True,
                                      text=True, check=True, cwd=REPO)  # fmt: skip
                found = json.loads(done.stdout)
                names = motion.skeleton.names
                got = np.array([[s["positions"][n] for n in names] for s in found["samples"]])
                three_gap = np.abs(got - motion.global_positions()[frames]).max()
                print(f"  three.js FBXLoader: {time.perf_counter() - t3:.2f} s (Node start, "
                      f"parse, 25 sampled frames), largest gap {three_gap:.2e} m")  # fmt: skip
            if args.ufbx_python:
                done = subprocess.run([args.ufbx_python, "-c", UFBX_LOAD, str(path)],
                                      capture_output=True, text=True, check=False)  # fmt: skip
                for line in done.stdout.strip().splitlines():
                    print(f"  ufbx: {line}")
                print(f"  ufbx: process ended with {done.returncode}"
                      + (" (killed by a signal)" if done.returncode < 0 else ""))  # fmt: skip


if __name__ == "__main__":
    main()
