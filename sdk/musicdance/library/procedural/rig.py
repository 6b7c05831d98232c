"""Pose the canonical skeleton from dance targets: hips, torso angles, ankle and wrist targets.

Legs and arms are solved with two-bone IK, so a planted ankle target gives a planted foot, and
the hinge axes of knee and elbow are shared by both bones of the limb: knees bend only forwards
and elbows only the natural way. Wrist targets are given in the upper-chest frame and pushed
out of the torso before solving, so hands never pass through the body.

Angles are in degrees, positions in metres, all arrays ``[T, ...]`` over frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.ik import frame_rotation, two_bone_ik
from musicdance.motion.motion import Motion
from musicdance.motion.quat import (
    quat_from_euler,
    quat_identity,
    quat_inv,
    quat_inv_mul,
    quat_mul,
    quat_mul_vec3,
    quat_unroll,
)

SKELETON = canonical_skeleton()
J = {name: i for i, name in enumerate(SKELETON.names)}
_OFFSETS = SKELETON.offsets_m
UPPER_LEG_M = float(np.linalg.norm(_OFFSETS[J["LeftLowerLeg"]]))
LOWER_LEG_M = float(np.linalg.norm(_OFFSETS[J["LeftFoot"]]))
UPPER_ARM_M = float(np.linalg.norm(_OFFSETS[J["LeftLowerArm"]]))
LOWER_ARM_M = float(np.linalg.norm(_OFFSETS[J["LeftHand"]]))
LEG_M = UPPER_LEG_M + LOWER_LEG_M
#: Wrist to fingertip (the hand's end site).
HAND_M = float(np.linalg.norm(SKELETON.end_sites_m[J["LeftHand"]]))
#: Height of the ankle joint above the floor when the foot is flat.
ANKLE_HEIGHT_M = float(SKELETON.rest_positions_m()[J["LeftFoot"], 1])
#: Height of the hip joints below the root (Hips) joint.
HIP_DROP_M = float(-_OFFSETS[J["LeftUpperLeg"], 1])
#: Torso cross-section in the upper-chest frame (half width x, half depth z) that hands avoid.
TORSO_HALF_WIDTH_M = 0.17
TORSO_HALF_DEPTH_M = 0.16
_SIDES = ("Left", "Right")
_DOWN = np.array([0.0, -1.0, 0.0])
_AHEAD = np.array([0.0, 0.0, 1.0])


@dataclass
class BodyTargets:
    """What the choreography asks of the body, per frame (``T`` frames).

    hips_m: ``[T, 3]`` root position. pelvis_deg: ``[T, 3]`` global (pitch, yaw, roll) of the
    hips. spine_deg: ``[T, 3, 3]`` local (pitch, yaw, roll) of Spine, Chest, UpperChest.
    head_deg: ``[T, 2, 3]`` local angles of Neck and Head. clavicle_deg: ``[T, 2, 2]`` (raise,
    forward) of the left and right shoulders. wrists_m: ``[T, 2, 3]`` wrist targets in the
    upper-chest frame (origin at the UpperChest joint; +X is the figure's left). elbow_poles:
    ``[T, 2, 3]`` directions the elbows point to, upper-chest frame. hand_deg: ``[T, 2, 3]``
    local wrist angles. ankles_m: ``[T, 2, 3]`` ankle targets in the world. foot_yaw_deg,
    foot_pitch_deg: ``[T, 2]`` heading of each foot and toe-down pitch (heel raise).
    """

    hips_m: np.ndarray
    pelvis_deg: np.ndarray
    spine_deg: np.ndarray
    head_deg: np.ndarray
    clavicle_deg: np.ndarray
    wrists_m: np.ndarray
    elbow_poles: np.ndarray
    hand_deg: np.ndarray
    ankles_m: np.ndarray
    foot_yaw_deg: np.ndarray
    foot_pitch_deg: np.ndarray


def euler_quat(pitch_yaw_roll_deg: np.ndarray) -> np.ndarray:
    """Rotations ``[..., 4]`` from (pitch about X, yaw about Y, roll about Z) in degrees,
    applied yaw first (intrinsic Y, X, Z)."""
    a = np.asarray(pitch_yaw_roll_deg, dtype=float)
    return quat_from_euler(a[..., [1, 0, 2]], "YXZ")


def push_out_of_torso(wrists_m: np.ndarray, margin_m: float = 0.04) -> np.ndarray:
    """Wrist targets ``[..., 3]`` (upper-chest frame) moved out of the torso ellipse.

    Points level with the torso (below the neck) whose (x, z) fall inside the ellipse with half
    axes ``TORSO_HALF_WIDTH_M`` + margin and ``TORSO_HALF_DEPTH_M`` + margin move straight out
    from the body's axis onto it, so a hand travelling from the front to the back goes round
    the side rather than jumping through the body.
    """
    out = np.array(wrists_m, dtype=float)
    a = TORSO_HALF_WIDTH_M + margin_m
    b = TORSO_HALF_DEPTH_M + margin_m
    x, y, z = out[..., 0], out[..., 1], out[..., 2]
    level = (y < 0.12) & (y > -0.75)
    radius = np.sqrt((x / a) ** 2 + (z / b) ** 2)
    # Points on the axis itself go forward.
    scale = np.where(radius > 1e-6, 1.0 / np.maximum(radius, 1e-6), 1.0)
    inside = level & (radius < 1.0)
    out[..., 0] = np.where(inside, x * scale, x)
    out[..., 2] = np.where(inside, np.where(radius > 1e-6, z * scale, b), z)
    return out


def solve_body(targets: BodyTargets, fps: float) -> Motion:
    """The canonical-skeleton motion that meets ``targets`` (see ``BodyTargets``)."""
    t = targets
    num_frames = len(t.hips_m)
    rot = quat_identity((num_frames, SKELETON.num_joints))
    hips_rot = euler_quat(t.pelvis_deg)
    rot[:, J["Hips"]] = hips_rot
    spine_global = hips_rot
    spine_pos = t.hips_m
    for k, name in enumerate(("Spine", "Chest", "UpperChest")):
        local = euler_quat(t.spine_deg[:, k])
        rot[:, J[name]] = local
        spine_pos = spine_pos + quat_mul_vec3(spine_global, _OFFSETS[J[name]])
        spine_global = quat_mul(spine_global, local)
    chest_rot, chest_pos = spine_global, spine_pos
    rot[:, J["Neck"]] = euler_quat(t.head_deg[:, 0])
    rot[:, J["Head"]] = euler_quat(t.head_deg[:, 1])

    for s, side in enumerate(_SIDES):
        sign = 1.0 if s == 0 else -1.0
        _solve_arm(rot, t, s, side, sign, chest_rot, chest_pos, fps)
        _solve_leg(rot, t, s, side, sign, hips_rot)
    rot = quat_unroll(rot, axis=0)
    return Motion(skeleton=SKELETON, fps=fps, root_positions_m=t.hips_m, rotations=rot)


def _solve_arm(
    rot, t: BodyTargets, s: int, side: str, sign: float, chest_rot, chest_pos, fps: float
) -> None:
    clavicle = quat_from_euler(
        np.stack([np.zeros(len(t.hips_m)), -sign * t.clavicle_deg[:, s, 1],
                  sign * t.clavicle_deg[:, s, 0]], -1),
        "XYZ",
    )  # fmt: skip
    rot[:, J[f"{side}Shoulder"]] = clavicle
    clavicle_global = quat_mul(chest_rot, clavicle)
    shoulder = (
        chest_pos
        + quat_mul_vec3(chest_rot, _OFFSETS[J[f"{side}Shoulder"]])
        + quat_mul_vec3(clavicle_global, _OFFSETS[J[f"{side}UpperArm"]])
    )
    pole = quat_mul_vec3(chest_rot, t.elbow_poles[:, s])
    hand_local = euler_quat(t.hand_deg[:, s] * np.array([1.0, sign, sign]))
    wrist_local = push_out_of_torso(t.wrists_m[:, s])
    pole = _steady_swivel(shoulder, chest_pos + quat_mul_vec3(chest_rot, wrist_local), pole, fps)
    for _ in range(3):  # move the wrist forward while the fingertips would enter the torso
        wrist = chest_pos + quat_mul_vec3(chest_rot, wrist_local)
        upper_global, fore_global, wrist = _arm_ik(shoulder, wrist, pole, sign)
        tip = wrist + quat_mul_vec3(quat_mul(fore_global, hand_local), [sign * HAND_M, 0.0, 0.0])
        shift = _torso_exit_m(quat_mul_vec3(quat_inv(chest_rot), tip - chest_pos))
        if not np.any(shift > 0):
            break
        # Spread each push over ~0.1 s either side so the arm does not jerk.
        width = 2 * int(round(0.1 * fps)) + 1
        spread = gaussian_filter1d(maximum_filter1d(shift, width, mode="nearest"), 0.05 * fps)
        wrist_local[:, 2] += np.maximum(spread, shift)
    rot[:, J[f"{side}UpperArm"]] = quat_inv_mul(clavicle_global, upper_global)
    rot[:, J[f"{side}LowerArm"]] = quat_inv_mul(upper_global, fore_global)
    rot[:, J[f"{side}Hand"]] = hand_local


def _steady_swivel(shoulder, wrist, pole, fps: float, passes: int = 3) -> np.ndarray:
    """Elbow poles ``[T, 3]`` whose swivel about the shoulder-wrist line changes smoothly.

    Where the pole runs nearly along the arm the bend direction is ill-defined and the elbow
    could swing round in a frame or two; the bend direction the IK actually takes is smoothed
    over about 0.1 s instead and used as the pole.
    """
    along = _unit(wrist - shoulder)
    for _ in range(passes):
        bend = pole - np.sum(pole * along, axis=-1, keepdims=True) * along
        bend = _unit(bend)
        pole = gaussian_filter1d(bend, 0.07 * fps, axis=0, mode="nearest")
    return pole


def _arm_ik(shoulder, wrist, pole, sign: float):
    """Global upper-arm and forearm rotations, and the wrist actually reached."""
    elbow = two_bone_ik(shoulder, wrist, pole, UPPER_ARM_M, LOWER_ARM_M)
    wrist = elbow + LOWER_ARM_M * _unit(wrist - elbow)
    upper_dir, fore_dir = elbow - shoulder, wrist - elbow
    pole_unit = 0.05 * _unit(pole)
    rest_primary = np.array([sign, 0.0, 0.0])
    # Elbow flexion turns the forearm towards the upper arm's local +Z (forward in the T-pose).
    upper_global = frame_rotation(rest_primary, _AHEAD, upper_dir, fore_dir - pole_unit)
    fore_global = frame_rotation(rest_primary, _AHEAD, fore_dir, -upper_dir - pole_unit)
    return upper_global, fore_global, wrist


def _torso_exit_m(points_m: np.ndarray, margin_m: float = 0.03) -> np.ndarray:
    """Forward move ``[T]`` that takes points ``[T, 3]`` (upper-chest frame) out of the torso."""
    a = TORSO_HALF_WIDTH_M + margin_m
    b = TORSO_HALF_DEPTH_M + margin_m
    x, y, z = points_m[..., 0], points_m[..., 1], points_m[..., 2]
    inside = (y < 0.14) & (y > -0.75) & ((x / a) ** 2 + (z / b) ** 2 < 1.0)
    edge_z = b * np.sqrt(np.clip(1.0 - (x / a) ** 2, 0.0, 1.0))
    return np.where(inside, edge_z - z, 0.0)


def _solve_leg(rot, t: BodyTargets, s: int, side: str, sign: float, hips_rot) -> None:
    upper, lower, ankle, toes = (J[f"{side}{p}"] for p in ("UpperLeg", "LowerLeg", "Foot", "Toes"))
    hip = t.hips_m + quat_mul_vec3(hips_rot, _OFFSETS[upper])
    yaw = np.radians(t.foot_yaw_deg[:, s])
    foot_forward = np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], -1)
    # Knees point between the foot and the hips' facing, so they follow a turning body too.
    hips_forward = quat_mul_vec3(hips_rot, _AHEAD) * np.array([1.0, 0.0, 1.0])
    knee_pole = foot_forward + 0.6 * _unit(hips_forward) + np.array([0.0, 0.1, 0.0])
    knee = two_bone_ik(hip, t.ankles_m[:, s], knee_pole, UPPER_LEG_M, LOWER_LEG_M)
    foot_at = knee + LOWER_LEG_M * _unit(t.ankles_m[:, s] - knee)
    thigh_dir, shin_dir = knee - hip, foot_at - knee
    pole_unit = 0.05 * _unit(knee_pole)
    # Knee flexion turns the shin towards the thigh's local -Z: both bones share the hinge.
    thigh_global = frame_rotation(_DOWN, _AHEAD, thigh_dir, pole_unit - shin_dir)
    shin_global = frame_rotation(_DOWN, _AHEAD, shin_dir, thigh_dir + pole_unit)
    foot_global = euler_quat(
        np.stack([t.foot_pitch_deg[:, s], t.foot_yaw_deg[:, s], np.zeros_like(yaw)], -1)
    )
    rot[:, upper] = quat_inv_mul(hips_rot, thigh_global)
    rot[:, lower] = quat_inv_mul(thigh_global, shin_global)
    rot[:, ankle] = quat_inv_mul(shin_global, foot_global)
    # Toes stay level with the floor while the heel is up.
    toe_pitch = -np.clip(t.foot_pitch_deg[:, s], 0.0, None)
    rot[:, toes] = euler_quat(np.stack([toe_pitch, 0 * yaw, 0 * yaw], -1))


def _unit(v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def reachable_hips_height_m(
    hips_xz_m: np.ndarray, pelvis_deg: np.ndarray, ankles_m: np.ndarray, reach: float = 0.975
) -> np.ndarray:
    """Highest root height ``[T]`` at which both legs reach their ankle targets with
    ``reach`` of full leg length (so knees never lock and planted feet never slip)."""
    hips_rot = euler_quat(pelvis_deg)
    limits = []
    for s, side in enumerate(_SIDES):
        offset = quat_mul_vec3(hips_rot, _OFFSETS[J[f"{side}UpperLeg"]])
        hip_xz = hips_xz_m + offset[:, [0, 2]]
        horizontal = np.linalg.norm(hip_xz - ankles_m[:, s][:, [0, 2]], axis=-1)
        vertical = np.sqrt(np.clip((reach * LEG_M) ** 2 - horizontal**2, 0.0, None))
        limits.append(ankles_m[:, s, 1] + vertical - offset[:, 1])
    return np.minimum(*limits)
