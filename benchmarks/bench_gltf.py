"""Time ``write_glb`` and ``read_gltf`` on a long motion (default 10,000 frames x 60 joints).

Usage: .venv/bin/python benchmarks/bench_gltf.py [--frames N] [--joints J] [--repeats R]
Prints the best wall-clock time of each step in seconds and the GLB size.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from musicdance.io.gltf import read_gltf, write_glb
from musicdance.motion import Motion, Skeleton


def synthetic_motion(num_frames: int, num_joints: int, fps: float = 30.0) -> Motion:
    """Random rotations on a random tree of ``num_joints`` joints with 10 cm bones."""
    rng = np.random.default_rng(0)
    parents = np.array([-1] + [int(rng.integers(0, j)) for j in range(1, num_joints)])
    offsets = rng.normal(scale=0.06, size=(num_joints, 3))
    skeleton = Skeleton(
        names=tuple(f"joint{j}" for j in range(num_joints)),
        parents=parents,
        offsets_m=offsets,
        channels=tuple(("Zrotation", "Xrotation", "Yrotation") for _ in range(num_joints)),
    )
    rotations = Rotation.random(num_frames * num_joints, random_state=rng).as_quat()
    root = np.cumsum(rng.normal(scale=0.01, size=(num_frames, 3)), axis=0)
    return Motion(skeleton, fps, root, rotations.reshape(num_frames, num_joints, 4))


def best_time_s(step: Callable[[], object], repeats: int) -> float:
    """Shortest wall-clock duration of ``step`` over ``repeats`` runs, in seconds."""
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        durations.append(time.perf_counter() - start)
    return min(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--joints", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    motion = synthetic_motion(args.frames, args.joints)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.glb"
        write_s = best_time_s(lambda: write_glb(motion, path), args.repeats)
        read_s = best_time_s(lambda: read_gltf(path), args.repeats)
        size_mb = path.stat().st_size / 1e6
    print(f"motion: {args.frames} frames x {args.joints} joints")
    print(f"write_glb: {write_s:.3f} s")
    print(f"read_gltf: {read_s:.3f} s")
    print(f"file size: {size_mb:.2f} MB")


if __name__ == "__main__":
    main()
