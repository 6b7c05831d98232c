"""Root motion for engines: on the hips (as captured), on a ``Root`` bone on the floor under
the hips, or removed (in place) with its curve kept so a game can drive its character
controller. Every mode keeps the world positions of the original joints: ``hips`` and
``root-bone`` exactly, ``in-place`` once :func:`readd_root_motion` puts the curve back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_inv, quat_mul, quat_mul_vec3
from musicdance.motion.skeleton import Skeleton

__all__ = [
    "DEFAULT_ROOT_MOTION",
    "ROOT_BONE",
    "ROOT_MOTION_MODES",
    "RootCurve",
    "add_root_bone",
    "apply_root_motion",
    "readd_root_motion",
    "remove_root_motion",
    "root_curve",
]

#: ``--root-motion`` choices. ``hips``: the hips carry translation and rotation (as captured).
ROOT_MOTION_MODES = ("hips", "root-bone", "in-place")
DEFAULT_ROOT_MOTION = "hips"
#: Name of the bone :func:`add_root_bone` adds.
ROOT_BONE = "Root"


@dataclass
class RootCurve:
    """Root motion on the floor: ``positions_m`` ``[T, 3]`` (x, 0, z, metres, world) and
    ``yaw_rad`` ``[T]`` (heading about +Y of the hips' +Z axis, unwrapped), at ``fps``."""

    fps: float
    positions_m: np.ndarray
    yaw_rad: np.ndarray

    def rotations(self) -> np.ndarray:
        """The yaw as quaternions ``[T, 4]`` xyzw."""
        half = self.yaw_rad / 2.0
        zeros = np.zeros_like(half)
        return np.stack([zeros, np.sin(half), zeros, np.cos(half)], -1)

    def to_json(self) -> dict:
        return {
            "fps": self.fps,
            "positions_m": np.round(self.positions_m, 6).tolist(),
            "yaw_rad": np.round(self.yaw_rad, 6).tolist(),
        }


def root_curve(motion: Motion) -> RootCurve:
    """The hips' floor projection and heading per frame."""
    positions = np.asarray(motion.root_positions_m, dtype=float).copy()
    positions[:, 1] = 0.0
    forward = quat_mul_vec3(motion.rotations[:, 0], np.array([0.0, 0.0, 1.0]))
    yaw = np.unwrap(np.arctan2(forward[:, 0], forward[:, 2]))
    return RootCurve(float(motion.fps), positions, yaw)


def _local_translations(motion: Motion) -> np.ndarray:
    if motion.local_translations_m is not None:
        return np.asarray(motion.local_translations_m, dtype=float)
    offsets = motion.skeleton.offsets_m
    return np.broadcast_to(offsets, (motion.num_frames, *offsets.shape)).copy()


def add_root_bone(motion: Motion) -> Motion:
    """A ``Root`` bone (parent of the hips) on the floor under the hips carrying the horizontal
    translation and yaw; the hips keep their height and the rest, relative to ``Root``."""
    skeleton = motion.skeleton
    if ROOT_BONE in skeleton.names:
        raise ValueError(f"the skeleton already has a joint named {ROOT_BONE!r}")
    curve = root_curve(motion)
    yaw = curve.rotations()
    inverse = quat_inv(yaw)
    hips_local_m = quat_mul_vec3(inverse, motion.root_positions_m - curve.positions_m)
    rest_hips_m = np.array([0.0, float(np.median(hips_local_m[:, 1])), 0.0])
    new_skeleton = Skeleton(
        names=(ROOT_BONE, *skeleton.names),
        parents=np.concatenate([[-1], np.where(skeleton.parents < 0, 0, skeleton.parents + 1)]),
        offsets_m=np.vstack([np.zeros(3), rest_hips_m, skeleton.offsets_m[1:]]),
        channels=(skeleton.channels[0], *skeleton.channels),
        end_sites_m={j + 1: offset for j, offset in skeleton.end_sites_m.items()},
    )
    translations = _local_translations(motion)
    translations[:, 0] = hips_local_m
    local = np.concatenate([np.zeros((motion.num_frames, 1, 3)), translations], axis=1)
    rotations = np.concatenate([yaw[:, None], motion.rotations], axis=1)
    rotations[:, 1] = quat_mul(inverse, motion.rotations[:, 0])
    return Motion(new_skeleton, motion.fps, curve.positions_m, rotations, local)


def remove_root_motion(motion: Motion) -> tuple[Motion, RootCurve]:
    """The motion in place (hips over the origin, facing +Z in yaw) and the removed curve."""
    curve = root_curve(motion)
    inverse = quat_inv(curve.rotations())
    rotations = np.array(motion.rotations, dtype=float, copy=True)
    rotations[:, 0] = quat_mul(inverse, motion.rotations[:, 0])
    positions = quat_mul_vec3(inverse, motion.root_positions_m - curve.positions_m)
    placed = Motion(motion.skeleton, motion.fps, positions, rotations, motion.local_translations_m)
    return placed, curve


def readd_root_motion(motion: Motion, curve: RootCurve) -> Motion:
    """Undo :func:`remove_root_motion`: put ``curve`` back on the root joint."""
    yaw = curve.rotations()
    rotations = np.array(motion.rotations, dtype=float, copy=True)
    rotations[:, 0] = quat_mul(yaw, motion.rotations[:, 0])
    positions = quat_mul_vec3(yaw, motion.root_positions_m) + curve.positions_m
    return Motion(motion.skeleton, motion.fps, positions, rotations, motion.local_translations_m)


def apply_root_motion(motion: Motion, mode: str) -> tuple[Motion, RootCurve | None]:
    """``motion`` prepared for ``mode`` (:data:`ROOT_MOTION_MODES`) and, for ``in-place``, the
    removed curve."""
    if mode == "hips":
        return motion, None
    if mode == "root-bone":
        return add_root_bone(motion), None
    if mode == "in-place":
        return remove_root_motion(motion)
    modes = ", ".join(ROOT_MOTION_MODES)
    raise ValueError(f"root motion mode must be one of {modes}, got {mode!r}")
