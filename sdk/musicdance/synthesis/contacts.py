"""Contact-aware correction: keep planted feet planted.

While a foot is in contact, its ankle is pinned (horizontally) where the contact began and the
leg is re-solved with two-bone IK; the hips, the foot's own orientation and everything above
stay as they were. When the contact ends the pin fades out over ``release_s`` so the step
leaves smoothly. This removes the sliding that joins (and time warping) would otherwise add.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from musicdance.motion.ik import two_bone_ik
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_between, quat_inv_mul, quat_mul, quat_mul_vec3

LEGS = (
    ("LeftUpperLeg", "LeftLowerLeg", "LeftFoot"),
    ("RightUpperLeg", "RightLowerLeg", "RightFoot"),
)
#: Seconds a released foot takes to ease back onto its own path.
RELEASE_S = 0.12


def _release_frames(release_s: float, fps: float) -> int:
    return max(int(round(release_s * fps)), 1)


def mask_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` frames of each run of ``True`` in a ``[T]`` mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2], strict=True)]


def contact_spans(
    contact: np.ndarray, fps: float, release_s: float = RELEASE_S
) -> list[tuple[int, int]]:
    """``[start, stop)`` frames each contact run of one foot (``contact [T]``) acts on in
    ``lock_feet``: the run and its release. Where that foot's leg is locked, a frame's pose
    depends only on its own pose and, for each span it lies in, on the poses of the first and
    last frames of the span's run; the other leg does not matter."""
    release = _release_frames(release_s, fps)
    return [(start, min(stop + release, len(contact))) for start, stop in mask_runs(contact)]


def contact_targets(
    ankles_m: np.ndarray, contact: np.ndarray, fps: float, release_s: float = RELEASE_S
) -> np.ndarray:
    """Where one ankle should be, ``[T, 3]``: pinned in x and z during each contact run (at its
    first frame), easing back to the free path over ``release_s`` after the run."""
    target = ankles_m.copy()
    release = _release_frames(release_s, fps)
    for start, stop in mask_runs(contact):
        pin = ankles_m[start, [0, 2]]
        target[start:stop, [0, 2]] = pin
        fade = slice(stop, min(stop + release, len(target)))
        weight = 1.0 - (np.arange(fade.stop - fade.start) + 1) / (release + 1)
        offset = pin - ankles_m[stop - 1, [0, 2]]
        target[fade, 0] += weight * offset[0]
        target[fade, 2] += weight * offset[1]
    return target


def lock_feet(
    motion: Motion,
    contacts: np.ndarray,
    release_s: float = RELEASE_S,
    *,
    transforms: tuple[np.ndarray, np.ndarray] | None = None,
) -> Motion:
    """``motion`` (canonical skeleton) with each foot pinned during its ``contacts [T, 2]``.

    transforms: the motion's global positions and rotations when the caller already has them.
    """
    skeleton = motion.skeleton
    positions, rotations = motion.global_transforms() if transforms is None else transforms
    local = motion.rotations.copy()
    for side, (upper, lower, foot) in enumerate(LEGS):
        u, lo, f = (skeleton.index(name) for name in (upper, lower, foot))
        target = contact_targets(positions[:, f], contacts[:, side], motion.fps, release_s)
        moved = np.linalg.norm(target - positions[:, f], axis=-1) > 1e-6
        if not moved.any():
            continue
        hip, knee, ankle = positions[:, u], positions[:, lo], positions[:, f]
        upper_len = float(np.linalg.norm(skeleton.offsets_m[lo]))
        lower_len = float(np.linalg.norm(skeleton.offsets_m[f]))
        new_knee = two_bone_ik(hip, target, knee - (hip + ankle) / 2, upper_len, lower_len)
        turn_upper = quat_between(knee - hip, new_knee - hip)
        upper_rot = quat_mul(turn_upper, rotations[:, u])
        bent_ankle = new_knee + quat_mul_vec3(turn_upper, ankle - knee)
        new_ankle = (
            new_knee
            + (target - new_knee)
            / np.linalg.norm(target - new_knee, axis=-1, keepdims=True)
            * lower_len
        )
        turn_lower = quat_between(bent_ankle - new_knee, new_ankle - new_knee)
        lower_rot = quat_mul(turn_lower, quat_mul(turn_upper, rotations[:, lo]))
        parent = rotations[:, skeleton.parents[u]]
        local[moved, u] = quat_inv_mul(parent[moved], upper_rot[moved])
        local[moved, lo] = quat_inv_mul(upper_rot[moved], lower_rot[moved])
        # the foot keeps its world orientation
        local[moved, f] = quat_inv_mul(lower_rot[moved], rotations[moved, f])
    return replace(motion, rotations=local)
