"""Measures of how well a phrase moves: foot skating, kinematic beats against counts, knee and
elbow bend direction, hands inside the torso, and the "looks like dance" statistics.

All take the phrase's motion on the canonical skeleton (``CANONICAL_JOINTS`` order).
"""

from __future__ import annotations

import numpy as np

from musicdance.library.phrase import ANKLES, FOOT_POINTS, HANDS, Phrase
from musicdance.motion.analysis import (
    dance_statistics,
    facing_deg,
    foot_skating_mps,
    kinematic_beats,
    peak_joint_motion,
)
from musicdance.motion.canonical import CANONICAL_JOINTS
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_inv, quat_mul_vec3

__all__ = [
    "BEAT_TOLERANCE_BEATS",
    "beat_alignment",
    "elbow_wrong_way_deg",
    "hands_in_torso_fraction",
    "hip_yaw_range_deg",
    "knee_wrong_way_deg",
    "phrase_quality",
]

_J = {name: i for i, name in enumerate(CANONICAL_JOINTS)}
#: A kinematic beat within this many beats of a count hits it.
BEAT_TOLERANCE_BEATS = 0.2
#: Torso cross-section (half width, half depth) in metres used by ``hands_in_torso_fraction``.
TORSO_HALF_AXES_M = (0.14, 0.10)
HAND_LENGTH_M = 0.18


def beat_alignment(
    positions_m: np.ndarray, fps: float, count_frames: np.ndarray, tempo_bpm: float
) -> dict[str, float]:
    """How the kinematic beats sit on the counts.

    count_hit_rate: share of the counts after the first (the first has no "before") with a
    kinematic beat within ``BEAT_TOLERANCE_BEATS``. mean_offset_beats: mean distance from each
    of those counts to its nearest kinematic beat. beats_on_counts: share of kinematic beats
    that lie within the tolerance of a count.
    """
    frames_per_beat = 60.0 / tempo_bpm * fps
    beats = kinematic_beats(positions_m, fps)
    counts = np.asarray(count_frames, dtype=float)[1:]
    if len(counts) == 0:
        return {"count_hit_rate": 1.0, "mean_offset_beats": 0.0, "beats_on_counts": 1.0}
    if len(beats) == 0:
        return {"count_hit_rate": 0.0, "mean_offset_beats": float("inf"), "beats_on_counts": 0.0}
    distance = np.abs(counts[:, None] - beats[None, :]) / frames_per_beat
    all_counts = np.asarray(count_frames, dtype=float)
    beat_distance = np.abs(beats[:, None] - all_counts[None, :]).min(axis=1) / frames_per_beat
    return {
        "count_hit_rate": float(np.mean(distance.min(axis=1) <= BEAT_TOLERANCE_BEATS)),
        "mean_offset_beats": float(distance.min(axis=1).mean()),
        "beats_on_counts": float(np.mean(beat_distance <= BEAT_TOLERANCE_BEATS)),
    }


def _bend(upper: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bend angle (degrees) between two bone vectors ``[T, 3]`` and the unit normal of the
    plane they bend in (``upper x lower``)."""
    cross = np.cross(upper, lower)
    norm = np.linalg.norm(cross, axis=-1)
    angle = np.degrees(np.arctan2(norm, np.sum(upper * lower, axis=-1)))
    return angle, cross / np.maximum(norm, 1e-12)[:, None]


def knee_wrong_way_deg(motion: Motion) -> np.ndarray:
    """How far each knee bends backwards, ``[T, 2]`` degrees (0 when it bends naturally).

    Two independent tests must agree (the smaller angle is reported), so neither a twisted
    thigh frame nor an odd foot orientation in retargeted mocap raises a false alarm:
    in the thigh's frame the shin must swing towards local -Z (backwards in the rest pose), and
    in the world the knee must leave the hip-ankle line on the side the toes point to.
    """
    positions, rotations = motion.global_transforms()
    out = np.zeros((motion.num_frames, 2))
    for s, side in enumerate(("Left", "Right")):
        hip, knee, ankle, toe = (
            positions[:, _J[f"{side}{name}"]] for name in ("UpperLeg", "LowerLeg", "Foot", "Toes")
        )
        angle, _ = _bend(knee - hip, ankle - knee)
        shin = quat_mul_vec3(quat_inv(rotations[:, _J[f"{side}UpperLeg"]]), ankle - knee)
        in_frame = np.clip(np.degrees(np.arctan2(shin[:, 2], -shin[:, 1])), 0.0, None)
        axis = (ankle - hip) / np.maximum(np.linalg.norm(ankle - hip, axis=-1, keepdims=True), 1e-9)
        off_line = (knee - hip) - np.sum((knee - hip) * axis, axis=-1, keepdims=True) * axis
        toes = (toe - ankle) - np.sum((toe - ankle) * axis, axis=-1, keepdims=True) * axis
        by_toes = np.where(np.sum(off_line * toes, axis=-1) < 0.0, angle, 0.0)
        out[:, s] = np.minimum(in_frame, by_toes)
    return out


def elbow_wrong_way_deg(motion: Motion, min_bend_deg: float = 20.0) -> np.ndarray:
    """How far each elbow bends against its hinge, ``[T, 2]`` degrees (0 when natural).

    The hinge axis is fixed in the upper arm's frame. It is the canonical rig's (flexion
    towards the upper arm's local +Z, forward in the T-pose) unless the take itself mostly
    bends about the opposite axis (a retargeted rig whose upper arm is twisted at rest); frames
    bent more than ``min_bend_deg`` about the opposite of the hinge report their bend angle.
    """
    positions, rotations = motion.global_transforms()
    out = np.zeros((motion.num_frames, 2))
    for s, (side, sign) in enumerate((("Left", 1.0), ("Right", -1.0))):
        shoulder, elbow, wrist = (
            positions[:, _J[f"{side}{name}"]] for name in ("UpperArm", "LowerArm", "Hand")
        )
        to_local = quat_inv(rotations[:, _J[f"{side}UpperArm"]])
        angle, normal = _bend(
            quat_mul_vec3(to_local, elbow - shoulder), quat_mul_vec3(to_local, wrist - elbow)
        )
        hinge = np.array([0.0, -sign, 0.0])  # (+-X) x (+Z): flexion towards local +Z
        bent = angle > min_bend_deg
        if np.any(bent) and np.mean(normal[bent] @ hinge < 0.0) > 0.5:
            hinge = -hinge
        out[:, s] = np.where(bent & (normal @ hinge < 0.0), angle, 0.0)
    return out


def hands_in_torso_fraction(motion: Motion) -> float:
    """Share of frames in which a wrist or a fingertip is inside the torso.

    The torso is an elliptic cylinder (``TORSO_HALF_AXES_M``) along the spine: its upper part
    in the upper chest's frame (from 0.2 m below it up to the neck), its lower part in the
    hips' frame (up to 0.2 m above them).
    """
    positions, rotations = motion.global_transforms()
    points = []
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        hand = _J[f"{side}Hand"]
        tip = positions[:, hand] + quat_mul_vec3(
            rotations[:, hand], np.array([sign * HAND_LENGTH_M, 0.0, 0.0])
        )
        points += [positions[:, hand], tip]
    points = np.stack(points, axis=1)  # [T, 4, 3]
    a, b = TORSO_HALF_AXES_M
    inside = np.zeros(points.shape[:2], dtype=bool)
    for joint, low, high in ((_J["UpperChest"], -0.2, 0.12), (_J["Hips"], -0.02, 0.2)):
        local = quat_mul_vec3(
            quat_inv(rotations[:, joint])[:, None], points - positions[:, joint][:, None]
        )
        x, y, z = local[..., 0], local[..., 1], local[..., 2]
        inside |= (y > low) & (y < high) & ((x / a) ** 2 + (z / b) ** 2 < 1.0)
    return float(inside.any(axis=1).mean())


def phrase_quality(phrase: Phrase) -> dict[str, float]:
    """Skating, beat alignment, bend directions, hands in torso and dance statistics."""
    motion = phrase.motion
    positions = motion.global_positions()
    report = {
        "foot_skating_mps": foot_skating_mps(positions, motion.fps, phrase.contacts, FOOT_POINTS),
        **beat_alignment(
            positions, motion.fps, np.asarray(phrase.info.count_frames), phrase.info.tempo_bpm
        ),
        "knee_wrong_way_deg": float(knee_wrong_way_deg(motion).max()),
        "elbow_wrong_way_deg": float(elbow_wrong_way_deg(motion).max()),
        "hands_in_torso_fraction": hands_in_torso_fraction(motion),
    }
    report.update(dance_statistics(positions, motion.fps, hips=0, hands=HANDS, feet=ANKLES))
    report.update(peak_joint_motion(positions, motion.fps))
    report["hip_yaw_range_deg"] = hip_yaw_range_deg(motion)
    return report


def hip_yaw_range_deg(motion: Motion) -> float:
    """How far the hips turn within the motion: range of their heading (unwrapped), degrees."""
    heading = np.unwrap(np.radians(facing_deg(motion.rotations[:, 0])))
    return float(np.degrees(np.ptp(heading))) if len(heading) else 0.0
