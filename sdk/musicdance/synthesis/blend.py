"""Joining phrases: root continuity and inertialization.

Inertialization (Bollo 2016; the spring form follows Holden's Motion-Matching code) switches to
the next phrase at once and adds the difference between where the previous phrase was heading
and where the next one starts, as an offset that decays to zero with a critically damped
spring. Unlike a cross-fade it needs no overlap and keeps velocities continuous.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from musicdance.motion.motion import Motion, concatenate, slice_frames
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


def align_root(
    motion: Motion, position_m: np.ndarray, heading_rad: float, frame: int = 0
) -> Motion:
    """Rotate ``motion`` about +Y and move it on the floor so that the root of ``frame``
    (default the first) sits at ``position_m``'s x and z (height kept) and faces
    ``heading_rad``."""
    turn = _yaw(heading_rad - heading(motion.rotations[frame, 0]))
    root = quat_mul_vec3(turn, motion.root_positions_m - motion.root_positions_m[frame])
    root[:, [0, 2]] += np.asarray(position_m, dtype=float)[[0, 2]]
    root[:, 1] += motion.root_positions_m[frame, 1]
    rotations = motion.rotations.copy()
    rotations[:, 0] = quat_mul(turn, rotations[:, 0])
    return replace(motion, root_positions_m=root, rotations=rotations)


def floor_move(
    before_root_m: np.ndarray,
    before_rotation: np.ndarray,
    after_root_m: np.ndarray,
    after_rotation: np.ndarray,
) -> tuple[float, np.ndarray]:
    """The rigid move on the floor that takes a root at ``before_root_m [3]`` with rotation
    ``before_rotation [4]`` to ``after_root_m``'s x and z, facing like ``after_rotation``:
    ``(turn_rad, shift_m [3])`` for ``move_on_floor`` (the shift's y is 0)."""
    turn = float(heading(after_rotation) - heading(before_rotation))
    shift = np.asarray(after_root_m, dtype=float) - quat_mul_vec3(_yaw(turn), before_root_m)
    shift[1] = 0.0
    return turn, shift


def move_on_floor(motion: Motion, turn_rad: float, shift_m: np.ndarray) -> Motion:
    """``motion`` turned by ``turn_rad`` about the +Y axis through the origin, then moved by
    ``shift_m``'s x and z; heights are kept. ``align_root`` commutes with this move."""
    turn = _yaw(turn_rad)
    root = quat_mul_vec3(turn, motion.root_positions_m)
    root[:, [0, 2]] += np.asarray(shift_m, dtype=float)[[0, 2]]
    root[:, 1] = motion.root_positions_m[:, 1]
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


def rotvec_rate(rotvec: np.ndarray, angular_velocity: np.ndarray) -> np.ndarray:
    """How fast the rotation vector ``rotvec [..., 3]`` changes (rad/s, ``[..., 3]``) while
    ``exp(rotvec)`` turns at ``angular_velocity [..., 3]`` (rad/s, in the parent's frame): the
    inverse left Jacobian of SO(3) applied to it. Equal to the angular velocity for small
    rotations; at large ones (a 140-degree offset between two phrases' arms) they differ."""
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    safe = np.clip(angle, 1e-4, np.pi - 1e-6)
    tail = 1.0 / safe**2 - 1.0 / (2.0 * safe * np.tan(safe / 2.0))  # 1/12 near 0
    tail = np.where(angle < 1e-4, 1.0 / 12.0, tail)
    across = np.cross(rotvec, angular_velocity)
    return angular_velocity - 0.5 * across + tail * np.cross(rotvec, across)


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

    offset = quat_mul(prev_next_rot, quat_inv(following.rotations[0]))
    rot_offset = quat_to_rotvec(offset)
    # The result turns at the offset's rate plus the following motion's seen through the
    # offset (a twist of the incoming bone is not a swing of the result); the offset's rate
    # as a rotation vector is that angular velocity through the exponential map's Jacobian.
    following_velocity = _angular_velocity(following.rotations, fps, at_end=False)
    rot_velocity = rotvec_rate(
        rot_offset, prev_rot_velocity - quat_mul_vec3(offset, following_velocity)
    )
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


def crossfade(
    previous: Motion,
    following: Motion,
    duration_s: float = 0.25,
    continuation: Motion | None = None,
) -> Motion:
    """The linear blend the paper uses (its stated limitation), kept as the baseline: over
    ``duration_s`` the pose moves linearly from the previous phrase into the following one.

    continuation: how the previous phrase would have gone on after its last frame (same
    placement), blended out while the following phrase is blended in; without it the previous
    phrase's last pose is held during the blend. Velocities jump at both ends of the blend.
    """
    frames = np.arange(following.num_frames)
    weight = np.clip((frames + 1) / max(duration_s * following.fps, 1.0), 0.0, 1.0)
    held_rotations = np.broadcast_to(previous.rotations[-1], following.rotations.shape).copy()
    held_root = np.broadcast_to(previous.root_positions_m[-1], following.root_positions_m.shape)
    held_root = held_root.copy()
    if continuation is not None and continuation.num_frames:
        n = min(continuation.num_frames, following.num_frames)
        held_rotations[:n] = continuation.rotations[:n]
        held_root[:n] = continuation.root_positions_m[:n]
        held_rotations[n:] = continuation.rotations[n - 1]
        held_root[n:] = continuation.root_positions_m[n - 1]
    rotations = quat_slerp(held_rotations, following.rotations, weight[:, None])
    root = (1 - weight[:, None]) * held_root + weight[:, None] * following.root_positions_m
    return replace(following, rotations=rotations, root_positions_m=root)


def _wrap_angle(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def reverse(motion: Motion) -> Motion:
    """``motion`` played backwards."""
    translations = motion.local_translations_m
    return replace(
        motion,
        root_positions_m=motion.root_positions_m[::-1].copy(),
        rotations=motion.rotations[::-1].copy(),
        local_translations_m=None if translations is None else translations[::-1].copy(),
    )


#: Half-life (s) of the end velocity while ``coast`` brings a motion to rest.
COAST_HALFLIFE_S = 0.15


def coast(motion: Motion, frames: int, halflife_s: float = COAST_HALFLIFE_S) -> Motion:
    """``motion`` played on for ``frames`` more frames past its end, ``[T + frames]``: each
    joint's angular velocity and the root's velocity at the last frame carry on and halve every
    ``halflife_s`` seconds, so it comes to rest with position and velocity continuous (the
    acceleration at the seam is the end velocity times ln 2 / ``halflife_s``). A motion that
    stops dead instead (held past its end) jolts by the whole end velocity in one frame."""
    if frames <= 0 or motion.num_frames < 2:
        return motion
    fps = motion.fps
    rate = _LN2 / max(halflife_s, 1e-6)
    travel_s = (1.0 - np.exp(-rate * np.arange(1, frames + 1) / fps)) / rate  # [N]
    spin = _angular_velocity(motion.rotations, fps, at_end=True)  # [J, 3] rad/s
    turns = quat_from_rotvec(spin[None] * travel_s[:, None, None])
    rotations = quat_normalize(quat_mul(turns, motion.rotations[-1][None]))
    velocity = _end_velocity(motion.root_positions_m, fps)  # [3] m/s
    root = motion.root_positions_m[-1] + velocity * travel_s[:, None]
    translations = motion.local_translations_m
    if translations is not None:
        translations = np.repeat(translations[-1:], frames, axis=0)
    tail = replace(
        motion, root_positions_m=root, rotations=rotations, local_translations_m=translations
    )
    return concatenate([motion, tail])


def loop_extend(motion: Motion, frames: int, halflife_s: float = 0.1) -> Motion:
    """``motion`` as one turn of a loop, ``[T + 2 m]`` with ``m = min(frames, T - 1)``: its
    last ``m`` frames are placed before it and its first ``m`` after it, each moved and turned
    on the floor to continue it by one frame step (position and heading extrapolated) and
    inertialized across the seam (backwards in time for the frames before), so the loop's
    seams keep their velocities."""
    return extend(motion, frames, before=motion, after=motion, halflife_s=halflife_s)[0]


def extend(
    motion: Motion,
    frames: int,
    *,
    before: Motion | None = None,
    after: Motion | None = None,
    halflife_s: float = 0.1,
) -> tuple[Motion, int]:
    """``motion`` played on into ``after`` and coming out of ``before`` (motions that continue
    it: the next and previous phrases of the same take, or itself for a loop): up to
    ``frames`` of the end of ``before`` placed before it and of the start of ``after`` after
    it (each at most its length minus one), moved and turned on the floor to continue
    ``motion`` by one frame step and inertialized across the seams. Returns the motion and the
    number of frames placed before it (its frame 0's index in the result)."""
    root = motion.root_positions_m
    yaw = heading(motion.rotations[:, 0])
    parts = [motion]
    shift = 0
    if after is not None and (m := min(int(frames), after.num_frames - 1)) > 0:
        head = align_root(
            slice_frames(after, 0, m),
            2 * root[-1] - root[-2],
            float(yaw[-1]) + _wrap_angle(float(yaw[-1] - yaw[-2])),
        )
        parts.append(inertialize(motion, head, halflife_s))
    if before is not None and (m := min(int(frames), before.num_frames - 1)) > 0:
        tail = align_root(
            slice_frames(before, before.num_frames - m),
            2 * root[0] - root[1],
            float(yaw[0]) - _wrap_angle(float(yaw[1] - yaw[0])),
            frame=m - 1,
        )
        parts.insert(0, reverse(inertialize(reverse(motion), reverse(tail), halflife_s)))
        shift = m
    return (concatenate(parts) if len(parts) > 1 else motion), shift
