"""The paper's motion representation: 13 upper-body keypoints (seed 004, Sec. 3), and the way
back from keypoints to the canonical skeleton.

ConductorMotion100 keeps "the first 13 key points in the MS COCO format" (nose, eyes, ears,
shoulders, elbows, wrists, hips) in 2D image coordinates, "normalised into the range (0, 1)",
with "the average distance between the left and the right shoulder" set to 0.2 and "the
midpoint of the left and the right hip" moved to (0.50, 0.75), at 30 fps. Each frame is a
26-d vector ``y_t`` (x0, y0, x1, y1, ...).

Here the keypoints are *derived* from a motion on the canonical skeleton
(:func:`keypoints_from_motion`): joint positions by forward kinematics, face points from the
head's transform, seen by a camera in front of the conductor (the orchestra's view: image x is
the conductor's left, +X; image y points down). :func:`motion_from_keypoints` lifts a keypoint
track back to 3D rotations on the canonical skeleton (depth from the known bone lengths, arms in
front of the body, legs in a stable stance) so generated keypoints can be exported as .glb/.bvh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.ik import frame_rotation
from musicdance.motion.motion import Motion
from musicdance.motion.quat import (
    quat_from_euler,
    quat_identity,
    quat_inv,
    quat_mul,
    quat_mul_vec3,
    quat_normalize,
)
from musicdance.motion.skeleton import Skeleton

__all__ = [
    "COCO13",
    "KEYPOINT_DIM",
    "MOTION_FPS",
    "SHOULDER_WIDTH",
    "HIP_CENTRE",
    "ArmTargets",
    "keypoints_from_motion",
    "motion_from_keypoints",
    "normalise_keypoints",
    "pose_from_targets",
]

#: The first 13 MS COCO keypoints, in order.
COCO13 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
)  # fmt: skip
#: Dimensions of one frame (13 joints x 2 coordinates).
KEYPOINT_DIM = 2 * len(COCO13)
#: Motion rate of the paper's data (30 fps).
MOTION_FPS = 30.0
#: Mean shoulder distance after normalisation (Sec. 3).
SHOULDER_WIDTH = 0.2
#: Where the mean hip midpoint is moved (Sec. 3).
HIP_CENTRE = (0.5, 0.75)
#: COCO joints that are skeleton joints.
_JOINT_OF = {
    "left_shoulder": "LeftUpperArm", "right_shoulder": "RightUpperArm",
    "left_elbow": "LeftLowerArm", "right_elbow": "RightLowerArm",
    "left_wrist": "LeftHand", "right_wrist": "RightHand",
    "left_hip": "LeftUpperLeg", "right_hip": "RightUpperLeg",
}  # fmt: skip
#: Face points in the Head joint's frame, metres (a 1.7 m figure).
_FACE_M = {
    "nose": (0.0, 0.07, 0.11),
    "left_eye": (0.035, 0.10, 0.09),
    "right_eye": (-0.035, 0.10, 0.09),
    "left_ear": (0.075, 0.08, 0.0),
    "right_ear": (-0.075, 0.08, 0.0),
}


def _points_3d(motion: Motion) -> np.ndarray:
    """World positions ``[T, 13, 3]`` (metres) of the COCO points of a canonical motion."""
    skeleton = motion.skeleton
    positions, rotations = motion.global_transforms()
    head = skeleton.index("Head")
    out = np.empty((motion.num_frames, len(COCO13), 3))
    for k, name in enumerate(COCO13):
        if name in _FACE_M:
            out[:, k] = positions[:, head] + quat_mul_vec3(rotations[:, head], _FACE_M[name])
        else:
            out[:, k] = positions[:, skeleton.index(_JOINT_OF[name])]
    return out


def normalise_keypoints(points_xy: np.ndarray) -> np.ndarray:
    """Sec. 3's normalisation of a track ``[T, 13, 2]`` (image units, y down): scale so the mean
    shoulder distance is 0.2, move the mean hip midpoint to (0.50, 0.75). Returns ``[T, 26]``."""
    points = np.asarray(points_xy, dtype=np.float64)
    shoulders = np.linalg.norm(points[:, 5] - points[:, 6], axis=-1).mean()
    points = points * (SHOULDER_WIDTH / max(float(shoulders), 1e-9))
    hips = ((points[:, 11] + points[:, 12]) / 2).mean(axis=0)
    points = points - hips + np.asarray(HIP_CENTRE)
    return points.reshape(len(points), KEYPOINT_DIM).astype(np.float32)


def keypoints_from_motion(motion: Motion) -> np.ndarray:
    """The paper's normalised 26-d keypoint track ``[T, 26]`` of a canonical-skeleton motion,
    seen from the front (image x = world X, image y = -world Y), at the motion's fps."""
    points = _points_3d(motion)
    return normalise_keypoints(np.stack([points[..., 0], -points[..., 1]], axis=-1))


@dataclass
class ArmTargets:
    """World targets of one arm per frame: ``wrist_m`` and ``elbow_m``, ``[T, 3]`` each."""

    wrist_m: np.ndarray
    elbow_m: np.ndarray


def _or_default(vectors: np.ndarray, default: np.ndarray) -> np.ndarray:
    """``vectors [T, 3]`` with (near) zero or non-finite rows replaced by ``default``."""
    bad = ~np.all(np.isfinite(vectors), axis=-1) | (np.linalg.norm(vectors, axis=-1) < 1e-6)
    return np.where(bad[:, None], default, vectors)


def _local(parent_global: np.ndarray, child_global: np.ndarray) -> np.ndarray:
    return quat_normalize(quat_mul(quat_inv(parent_global), child_global))


def pose_from_targets(
    skeleton: Skeleton,
    root_m: np.ndarray,
    spine_euler_deg: np.ndarray,
    head_euler_deg: np.ndarray,
    arms: dict[str, ArmTargets] | Callable[[np.ndarray], dict[str, ArmTargets]],
    fps: float = MOTION_FPS,
) -> Motion:
    """A canonical motion from torso angles and arm targets (legs in their rest stance).

    root_m: ``[T, 3]`` Hips position. spine_euler_deg: ``[T, 3]`` (pitch about X, yaw about Y,
    roll about Z, degrees) shared by Spine, Chest and UpperChest (a third each).
    head_euler_deg: ``[T, 3]`` the same for Neck and Head (half each). arms: ``"Left"`` /
    ``"Right"`` -> :class:`ArmTargets`; each upper arm points at its elbow with the forearm's
    bend plane kept (no twist flips), each forearm at its wrist; the hands follow the forearms.
    ``arms`` may be a function of the torso's joint positions ``[T, J, 3]`` (the shoulders are
    known only after the torso is posed), so one forward-kinematics pass serves both.
    """
    num_frames = len(root_m)
    rotations = quat_identity((num_frames, skeleton.num_joints))
    spine = quat_from_euler(np.asarray(spine_euler_deg, float)[:, [1, 0, 2]] / 3.0, "YXZ")
    for name in ("Spine", "Chest", "UpperChest"):
        rotations[:, skeleton.index(name)] = spine
    head = quat_from_euler(np.asarray(head_euler_deg, float)[:, [1, 0, 2]] / 2.0, "YXZ")
    for name in ("Neck", "Head"):
        rotations[:, skeleton.index(name)] = head
    motion = Motion(skeleton, fps, np.asarray(root_m, float), rotations)
    positions, globals_ = motion.global_transforms()
    if callable(arms):
        arms = arms(positions)
    forward = np.array([0.0, 0.0, 1.0])
    for side, targets in arms.items():
        sign = 1.0 if side == "Left" else -1.0
        upper = skeleton.index(f"{side}UpperArm")
        lower = skeleton.index(f"{side}LowerArm")
        shoulder_rot = globals_[:, skeleton.index(f"{side}Shoulder")]
        rest_down = np.array([sign * 0.2, -1.0, 0.3])  # where a limb points when undefined
        upper_dir = _or_default(targets.elbow_m - positions[:, upper], rest_down)
        fore_dir = _or_default(targets.wrist_m - targets.elbow_m, rest_down + forward)
        # bend direction: the forearm's part across the upper arm, steadied towards the front
        bend = fore_dir + 0.15 * np.linalg.norm(fore_dir, axis=-1, keepdims=True) * forward
        rest_primary = np.array([sign, 0.0, 0.0])
        upper_global = frame_rotation(rest_primary, forward, upper_dir, bend)
        hinge = quat_mul_vec3(upper_global, np.array([0.0, 1.0, 0.0]))
        lower_global = frame_rotation(rest_primary, np.array([0.0, 1.0, 0.0]), fore_dir, hinge)
        rotations[:, upper] = _local(shoulder_rot, upper_global)
        rotations[:, lower] = _local(upper_global, lower_global)
    return Motion(skeleton, fps, np.asarray(root_m, float), quat_normalize(rotations))


def motion_from_keypoints(keypoints: np.ndarray, fps: float = MOTION_FPS) -> Motion:
    """Lift a normalised keypoint track ``[T, 26]`` to a canonical-skeleton motion.

    The image is read back at the canonical figure's scale (the mean shoulder distance 0.2 is
    the rest shoulder width); the hips midpoint gives the root's sideways sway, the shoulders'
    midpoint the torso's lean and roll, nose against ears the head's turn and nod. Each arm's
    depth comes from its bone lengths (Taylor-style lifting: ``dz = sqrt(L^2 - dxy^2)``), taken
    in front of the body, where a conductor's arms are.
    """
    skeleton = canonical_skeleton()
    points = np.asarray(keypoints, dtype=np.float64).reshape(len(keypoints), len(COCO13), 2)
    rest = skeleton.rest_positions_m()
    left_sh, right_sh = rest[skeleton.index("LeftUpperArm")], rest[skeleton.index("RightUpperArm")]
    hip_y_m = rest[skeleton.index("LeftUpperLeg"), 1]
    per_m = SHOULDER_WIDTH / float(left_sh[0] - right_sh[0])
    world = np.empty(points.shape[:2] + (3,))
    world[..., 0] = (points[..., 0] - HIP_CENTRE[0]) / per_m
    world[..., 1] = hip_y_m + (HIP_CENTRE[1] - points[..., 1]) / per_m
    world[..., 2] = 0.0
    hips = (world[:, 11] + world[:, 12]) / 2
    root = np.tile(rest[0], (len(points), 1))
    root[:, 0] = hips[:, 0]
    shoulders = (world[:, 5] + world[:, 6]) / 2
    torso = shoulders - hips
    trunk_m = float(left_sh[1] - hip_y_m)
    roll = np.degrees(np.arctan2(-torso[:, 0], np.maximum(torso[:, 1], 1e-6)))
    shrink = np.clip(np.linalg.norm(torso[:, :2], axis=-1) / trunk_m, 0.0, 1.0)
    pitch = np.degrees(np.arccos(shrink))  # foreshortened trunk: leaning towards the camera
    line = world[:, 5] - world[:, 6]
    roll = roll + np.degrees(np.arctan2(line[:, 1], np.maximum(line[:, 0], 1e-6))) * 0.5
    spine = np.stack([pitch, np.zeros_like(pitch), roll], axis=-1)
    ears = (world[:, 3] + world[:, 4]) / 2
    face = world[:, 0] - ears
    ear_span = np.maximum(np.linalg.norm(world[:, 3, :2] - world[:, 4, :2], axis=-1), 1e-3)
    yaw = np.degrees(np.arcsin(np.clip(face[:, 0] / ear_span, -1, 1)))
    nod = np.degrees(np.arcsin(np.clip(-(face[:, 1] - (-0.01)) / 0.12, -1, 1)))
    head = np.stack([nod, yaw, np.zeros_like(yaw)], axis=-1) - spine * np.array([1, 0, 1])
    # shoulders come from the torso's forward kinematics; arms are lifted relative to them
    upper_m = float(np.linalg.norm(skeleton.offsets_m[skeleton.index("LeftLowerArm")]))
    lower_m = float(np.linalg.norm(skeleton.offsets_m[skeleton.index("LeftHand")]))

    def lifted_arms(positions: np.ndarray) -> dict[str, ArmTargets]:
        arms = {}
        for side, (elbow_k, wrist_k) in {"Left": (7, 9), "Right": (8, 10)}.items():
            shoulder = positions[:, skeleton.index(f"{side}UpperArm")]
            elbow = world[:, elbow_k].copy()
            wrist = world[:, wrist_k].copy()
            reach = np.linalg.norm(elbow[:, :2] - shoulder[:, :2], axis=-1)
            elbow[:, 2] = shoulder[:, 2] + np.sqrt(np.maximum(upper_m**2 - reach**2, 0.0))
            reach = np.linalg.norm(wrist[:, :2] - elbow[:, :2], axis=-1)
            wrist[:, 2] = elbow[:, 2] + np.sqrt(np.maximum(lower_m**2 - reach**2, 0.0))
            arms[side] = ArmTargets(wrist_m=wrist, elbow_m=elbow)
        return arms

    return pose_from_targets(skeleton, root, spine, head, lifted_arms, fps)
