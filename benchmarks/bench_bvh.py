"""BVH read/write speed: this project's numpy reader/writer against bvhio.

Prints seconds for 10,000 frames x 60 joints (the size named in the foundation issue) and the
largest joint-position difference between the two readers.

    python benchmarks/bench_bvh.py [--frames N] [--joints J]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import bvhio
import numpy as np

from musicdance.io.bvh import read_bvh, write_bvh
from musicdance.motion import Motion, Skeleton
from musicdance.motion.quat import quat_angle, quat_from_euler

ROTATIONS = ("Zrotation", "Xrotation", "Yrotation")


def chain_skeleton(num_joints: int, seed: int = 0) -> Skeleton:
    """A branching test skeleton: each joint hangs off one of the previous few joints."""
    rng = np.random.default_rng(seed)
    parents = [-1] + [int(rng.integers(max(0, j - 4), j)) for j in range(1, num_joints)]
    offsets = rng.normal(0.0, 0.1, (num_joints, 3))
    channels = [("Xposition", "Yposition", "Zposition") + ROTATIONS] + [ROTATIONS] * (
        num_joints - 1
    )
    names = tuple(f"joint{j:03d}" for j in range(num_joints))
    return Skeleton(names, np.array(parents), offsets, tuple(channels))


def _bvhio_rotations(container, frame: int) -> np.ndarray:
    """Local rotations ``[J, 4]`` xyzw of one frame as bvhio reads them (depth-first order)."""
    joints, stack = [], [container.Root]
    while stack:
        joint = stack.pop()
        joints.append(joint)
        stack.extend(reversed(joint.Children))
    rotations = [j.Keyframes[frame].Rotation for j in joints]
    return np.array([[r.x, r.y, r.z, r.w] for r in rotations])


def timed(label: str, fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<28} {seconds:7.2f} s")
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--joints", type=int, default=60)
    args = parser.parse_args()

    skeleton = chain_skeleton(args.joints)
    rng = np.random.default_rng(1)
    motion = Motion(
        skeleton,
        60.0,
        rng.normal(0, 1, (args.frames, 3)),
        quat_from_euler(rng.uniform(-90, 90, (args.frames, args.joints, 3)), "ZXY"),
    )
    print(f"BVH benchmark: {args.frames} frames x {args.joints} joints")
    with tempfile.TemporaryDirectory() as tmp:
        ours_path = Path(tmp) / "ours.bvh"
        theirs_path = Path(tmp) / "bvhio.bvh"
        write_s, _ = timed("mdtool write", lambda: write_bvh(motion, ours_path, unit="m"))
        read_s, ours = timed("mdtool read", lambda: read_bvh(ours_path, scale=1.0))
        bvhio_read_s, container = timed("bvhio read", lambda: bvhio.readAsBvh(str(ours_path)))
        bvhio_write_s, _ = timed(
            "bvhio write", lambda: bvhio.writeBvh(str(theirs_path), container, percision=6)
        )
        reference = _bvhio_rotations(container, frame=args.frames // 2)
        angle = np.degrees(quat_angle(ours.rotations[args.frames // 2], reference)).max()
        print(f"{'file size':<28} {ours_path.stat().st_size / 1e6:7.1f} MB")
        print(f"{'max rotation diff vs bvhio':<28} {angle:.1e} deg (bvhio keeps float32)")
        print(f"speed-up read {bvhio_read_s / read_s:.1f}x, write {bvhio_write_s / write_s:.1f}x")


if __name__ == "__main__":
    main()
