"""Regenerate ``examples/demo_dance.bvh``: four eights of a step-touch groove at 100 BPM.

A small, deterministic procedural dance on the canonical skeleton (down-groove bounce on every
beat, side steps with planted feet through two-bone IK, arm swings, head nods). The starter
phrase library is built by the SDK's own procedural motion code; this file only makes the
bundled example motion for the README's demo command.

    python examples/make_demo_motion.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musicdance.io.bvh import write_bvh
from musicdance.motion import Motion
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.ik import frame_rotation, two_bone_ik
from musicdance.motion.quat import (
    quat_from_euler,
    quat_identity,
    quat_inv_mul,
    quat_mul,
    quat_mul_vec3,
)

BPM = 100.0
FPS = 30.0
COUNTS = 32
STEP_M = 0.30
ANKLE_HEIGHT_M = 0.08


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def step_touch_feet(beats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body centre x and left/right foot positions ``[T, 3]`` for a step-touch.

    Four-count cycle: step right (1), touch left beside it (2), step left (3), touch right (4).
    """
    cycle = beats % 4.0
    centre = -STEP_M * (smoothstep(cycle) - smoothstep(cycle - 2.0))
    # Each foot travels during its own count and stays planted otherwise.
    right_x = -STEP_M * (smoothstep(cycle) - smoothstep(cycle - 3.0)) - 0.1
    left_x = -STEP_M * (smoothstep(cycle - 1.0) - smoothstep(cycle - 2.0)) + 0.1
    lift = lambda start: 0.06 * np.sin(np.pi * np.clip(cycle - start, 0, 1))  # noqa: E731
    right = np.stack([right_x, ANKLE_HEIGHT_M + lift(0.0) + lift(3.0), np.zeros_like(beats)], -1)
    left = np.stack([left_x, ANKLE_HEIGHT_M + lift(1.0) + lift(2.0), np.zeros_like(beats)], -1)
    return centre, left, right


def demo_motion() -> Motion:
    skeleton = canonical_skeleton()
    idx = {name: i for i, name in enumerate(skeleton.names)}
    num_frames = int(COUNTS * 60.0 / BPM * FPS) + 1
    beats = np.arange(num_frames) / FPS * BPM / 60.0
    centre, left_foot, right_foot = step_touch_feet(beats)
    bounce = 0.5 + 0.5 * np.cos(2 * np.pi * beats)  # 1 on the beat: the body drops
    sway = np.sin(np.pi * beats / 2.0)

    rot = quat_identity((num_frames, skeleton.num_joints))
    zeros = np.zeros(num_frames)
    euler = lambda x, y, z: quat_from_euler(np.stack([x, y, z], -1), "XYZ")  # noqa: E731
    rot[:, idx["Hips"]] = euler(4 + 3 * bounce, 8 * sway, -4 * sway)
    rot[:, idx["Spine"]] = euler(2 * bounce, -4 * sway, 3 * sway)
    rot[:, idx["Chest"]] = euler(3 * bounce, -4 * sway, 2 * sway)
    rot[:, idx["Neck"]] = euler(4 * bounce, zeros, zeros)
    rot[:, idx["Head"]] = euler(8 * bounce - 3, 6 * sway, zeros)
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        swing = np.sin(np.pi * beats + (0 if sign > 0 else np.pi))
        rot[:, idx[f"{side}Shoulder"]] = euler(zeros, zeros, sign * (-6 + 4 * bounce))
        rot[:, idx[f"{side}UpperArm"]] = euler(zeros, -sign * 30 * swing, sign * (-68 + 6 * bounce))
        rot[:, idx[f"{side}LowerArm"]] = euler(zeros, -sign * (70 + 20 * bounce), zeros)
        rot[:, idx[f"{side}Hand"]] = euler(zeros, zeros, sign * 10 * swing)

    root = np.stack([centre, 0.88 - 0.05 * bounce, 0.03 * bounce], -1)
    hips_rot = rot[:, idx["Hips"]]
    forward = quat_mul_vec3(hips_rot, np.array([0.0, 0.0, 1.0]))
    forward[:, 1] = 0.0
    for side, foot in (("Left", left_foot), ("Right", right_foot)):
        upper, lower, ankle = (idx[f"{side}{p}"] for p in ("UpperLeg", "LowerLeg", "Foot"))
        hip = root + quat_mul_vec3(hips_rot, skeleton.offsets_m[upper])
        l1, l2 = (float(np.linalg.norm(skeleton.offsets_m[j])) for j in (lower, ankle))
        knee = two_bone_ik(hip, foot, forward + [0.0, 0.0, 0.2], l1, l2)
        down, ahead = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0])
        upper_global = frame_rotation(down, ahead, knee - hip, forward)
        lower_global = frame_rotation(down, ahead, foot - knee, forward)
        foot_global = frame_rotation(ahead, -down, forward, -down)
        rot[:, upper] = quat_inv_mul(hips_rot, upper_global)
        rot[:, lower] = quat_inv_mul(upper_global, lower_global)
        rot[:, ankle] = quat_inv_mul(lower_global, foot_global)
    rot = quat_mul(rot, quat_identity())  # normalised float64 copy
    return Motion(skeleton=skeleton, fps=FPS, root_positions_m=root, rotations=rot)


if __name__ == "__main__":
    out = Path(__file__).with_name("demo_dance.bvh")
    write_bvh(demo_motion(), out)
    print(f"wrote {out}")
