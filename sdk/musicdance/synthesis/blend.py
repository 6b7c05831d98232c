"""Joining phrases: root continuity and inertialization.

Inertialization (Bollo 2016; the spring form follows Holden's Motion-Matching code) switches to
the next phrase at once and adds the difference between where the previous phrase was heading
and where the next one starts, as an offset that decays to zero with a critically damped
spring. Unlike a cross-fade it needs no overlap and keeps velocities continuous.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from musicdance.motion.motion import Motion
from musicdance.motion.quat import (
    quat_from_rotvec,
    quat_inv,
    quat_mul,
    quat_mul_vec3,
    quat_normalize,
    quat_slerp,
    quat_to_rotvec,
)

_LN2 = float(np.log(2.0))


def decay_spring(
    offset: np.ndarray, velocity: np.ndarray, halflife_s: float, times_s: np.ndarray
) -> np.ndarray:
    """Critically damped decay of ``offset [..., D]`` with initial ``velocity [..., D]``.

    Returns ``[len(times_s), ..., D]``: the offset at each time; it halves roughly every
    ``halflife_s`` seconds and starts with exactly the given value and velocity.
    """
    y = 2.0 * _LN2 / max(halflife_s, 1e-6)  # half the damping of the spring
    t = np.asarray(times_s, dtype=float).reshape(-1, *([1] * np.ndim(offset)))
    j1 = velocity + offset * y
    return np.exp(-y * t) * (offset + j1 * t)


def heading(rotations: np.ndarray) -> np.ndarray:
    """Yaw angle in radians of the character's forward (+Z) axis, ``[...]``."""
    forward = quat_mul_vec3(rotations, np.array([0.0, 0.0, 1.0]))
    return np.arctan2(forward[..., 0], forward[..., 2])


def _yaw(angle: np.ndarray | float) -> np.ndarray:
    half = np.asarray(angle, dtype=float) / 2.0
    return np.stack([np.zeros_like(half), np.sin(half), np.zeros_like(half), np.cos(half)], -1)


def align_root(motion: Motion, position_m: np.ndarray, heading_rad: float) -> Motion:
    """Rotate ``motion`` about +Y and move it on the floor so that its first frame's root sits
    at ``position_m``'s x and z (height kept) and faces ``heading_rad``."""
    turn = _yaw(heading_rad - heading(motion.rotations[0, 0]))
    root = quat_mul_vec3(turn, motion.root_positions_m - motion.root_positions_m[0])
    root[:, [0, 2]] += np.asarray(position_m, dtype=float)[[0, 2]]
    root[:, 1] += motion.root_positions_m[0, 1]
    rotations = motion.rotations.copy()
    rotations[:, 0] = quat_mul(turn, rotations[:, 0])
    return replace(motion, root_positions_m=root, rotations=rotations)


def _end_velocity(values: np.ndarray, fps: float) -> np.ndarray:
    """Finite-difference velocity at the last frame of ``values [T, ...]``."""
    return (values[-1] - values[-2]) * fps if len(values) > 1 else np.zeros_like(values[-1])


def _start_velocity(values: np.ndarray, fps: float) -> np.ndarray:
    """Finite-difference velocity at the first frame of ``values [T, ...]``."""
    return (values[1] - values[0]) * fps if len(values) > 1 else np.zeros_like(values[0])


def _angular_velocity(rotations: np.ndarray, fps: float, at_end: bool) -> np.ndarray:
    """Angular velocity (rotation vector per second) at the end or start of ``[T, J, 4]``."""
    if len(rotations) < 2:
        return np.zeros((*rotations.shape[1:-1], 3))
    before, after = (rotations[-2], rotations[-1]) if at_end else (rotations[0], rotations[1])
    return quat_to_rotvec(quat_mul(after, quat_inv(before))) * fps


def inertialize(previous: Motion, following: Motion, halflife_s: float = 0.1) -> Motion:
    """``following`` with a decaying offset that continues ``previous`` smoothly into it.

    Both motions share a skeleton and fps. The offset makes frame 0 of the result continue the
    last frame of ``previous`` at its velocity (one frame later); it fades with ``halflife_s``.
    Root placement is not changed here: call ``align_root`` first.
    """
    fps = following.fps
    dt = 1.0 / fps
    # Where the previous phrase would be one frame after its end, at its end velocity.
    prev_rot_velocity = _angular_velocity(previous.rotations, fps, at_end=True)
    prev_root_velocity = _end_velocity(previous.root_positions_m, fps)
    prev_next_rot = quat_mul(quat_from_rotvec(prev_rot_velocity * dt), previous.rotations[-1])
    prev_next_root = previous.root_positions_m[-1] + prev_root_velocity * dt

    rot_offset = quat_to_rotvec(quat_mul(prev_next_rot, quat_inv(following.rotations[0])))
    rot_velocity = prev_rot_velocity - _angular_velocity(following.rotations, fps, at_end=False)
    root_offset = prev_next_root - following.root_positions_m[0]
    root_velocity = prev_root_velocity - _start_velocity(following.root_positions_m, fps)

    times = np.arange(following.num_frames) * dt
    rot_offsets = decay_spring(rot_offset, rot_velocity, halflife_s, times)
    root_offsets = decay_spring(root_offset, root_velocity, halflife_s, times)
    rotations = quat_normalize(quat_mul(quat_from_rotvec(rot_offsets), following.rotations))
    return replace(
        following,
        rotations=rotations,
        root_positions_m=following.root_positions_m + root_offsets,
    )


def crossfade(previous: Motion, following: Motion, duration_s: float = 0.25) -> Motion:
    """The linear blend the paper uses (its stated limitation), kept as a baseline: over
    ``duration_s`` the pose moves linearly from the previous phrase's last pose into the
    following phrase; velocities jump at both ends of the blend."""
    frames = np.arange(following.num_frames)
    weight = np.clip((frames + 1) / max(duration_s * following.fps, 1.0), 0.0, 1.0)
    held = np.broadcast_to(previous.rotations[-1], following.rotations.shape)
    rotations = quat_slerp(held, following.rotations, weight[:, None])
    root = (1 - weight[:, None]) * previous.root_positions_m[-1] + weight[
        :, None
    ] * following.root_positions_m
    return replace(following, rotations=rotations, root_positions_m=root)
