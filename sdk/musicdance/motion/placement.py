"""Retargeted takes that start clean: no leading reference pose, facing +Z, feet on the floor.

``clean_take`` is the one place this happens; ``library import``, ``convert --retarget`` and the
engine exports call it on canonical-skeleton motion.

Reference pose: capture sessions often open with one or a few frames of a calibration pose
(T- or A-pose: arms straight and raised, legs straight) followed by a jump straight into the
performance. It is recognised by three things together: the first frames hold still (no
joint moves faster than ``HOLD_MPS`` relative to the hips), the pose then jumps (RMS joint
displacement relative to the hips of at least ``JUMP_M`` in one frame, and at least
``JUMP_RATIO`` times the 99th percentile over the next 20 s), and the held pose has
straight arms raised at least 30 degrees from hanging with straight legs. At most the first
2 seconds (and a quarter of the take) are searched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.motion.analysis import facing_deg
from musicdance.motion.canonical import CANONICAL_JOINTS, canonical_skeleton
from musicdance.motion.motion import Motion, slice_frames
from musicdance.motion.quat import quat_from_euler, quat_mul, quat_mul_vec3

__all__ = ["TakeCleanup", "clean_take", "find_reference_pose", "place_take"]

#: Held frames: no joint faster than this relative to the hips (m/s).
HOLD_MPS = 0.25
#: The jump out of the reference pose: RMS joint displacement relative to the hips (m).
JUMP_M = 0.08
#: ... and at least this many times the take's own 99th-percentile frame-to-frame change.
JUMP_RATIO = 4.0
#: Longest reference pose looked for (s).
MAX_REFERENCE_S = 2.0

_J = {name: k for k, name in enumerate(CANONICAL_JOINTS)}
_FOOT_POINTS = [_J[n] for n in ("LeftFoot", "LeftToes", "RightFoot", "RightToes")]
_REST_HEIGHTS_M = canonical_skeleton().rest_positions_m()[_FOOT_POINTS, 1]


@dataclass
class TakeCleanup:
    """What ``clean_take`` did (JSON-ready through ``to_json``)."""

    reference_frames: int = 0
    reference_pose: str = ""
    turned_deg: float = 0.0
    moved_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    placed: bool = True
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "reference_frames_dropped": self.reference_frames,
            "reference_pose": self.reference_pose or None,
            "placed": self.placed,
            "turned_deg": round(self.turned_deg, 2),
            "moved_m": [round(v, 4) for v in self.moved_m],
            "notes": self.notes,
        }


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _reference_pose_kind(pose: np.ndarray) -> str:
    """``"T-pose"``, ``"A-pose"`` or ``""`` for one frame of canonical positions ``[J, 3]``."""
    down = np.array([0.0, -1.0, 0.0])
    raised = []
    for side in ("Left", "Right"):
        upper = pose[_J[side + "LowerArm"]] - pose[_J[side + "UpperArm"]]
        lower = pose[_J[side + "Hand"]] - pose[_J[side + "LowerArm"]]
        thigh = pose[_J[side + "LowerLeg"]] - pose[_J[side + "UpperLeg"]]
        shin = pose[_J[side + "Foot"]] - pose[_J[side + "LowerLeg"]]
        if _angle_deg(upper, lower) > 25.0 or _angle_deg(thigh, shin) > 25.0:
            return ""
        raised.append(_angle_deg(upper, down))
    if min(raised) < 30.0:
        return ""
    return "T-pose" if min(raised) > 65.0 else "A-pose"


def find_reference_pose(motion: Motion) -> tuple[int, str]:
    """(number of leading frames that hold a reference pose, its kind); ``(0, "")`` if none."""
    if motion.skeleton.names != CANONICAL_JOINTS:
        raise MusicDanceError("reference poses are looked for on canonical-skeleton motion")
    num = motion.num_frames
    if num < 8:
        return 0, ""
    # the jump is compared with the next 20 s, enough for its 99th percentile
    positions = slice_frames(
        motion, 0, int((MAX_REFERENCE_S + 20.0) * motion.fps)
    ).global_positions()
    relative = positions - positions[:, :1]
    step = np.linalg.norm(np.diff(relative, axis=0), axis=-1)  # [T-1, J] m per frame
    change = np.sqrt(np.mean(step**2, axis=1))  # RMS over joints
    limit = min(int(MAX_REFERENCE_S * motion.fps), num // 4)
    for k in range(min(limit, len(change))):
        if change[k] >= JUMP_M:
            typical = float(np.percentile(change[k + 1 :], 99)) if k + 1 < len(change) else 0.0
            held = k == 0 or float(step[:k].max()) * motion.fps < HOLD_MPS
            kind = _reference_pose_kind(positions[0])
            if held and change[k] >= JUMP_RATIO * typical and kind:
                return k + 1, kind
            return 0, ""
        if float(step[k].max()) * motion.fps >= HOLD_MPS:
            return 0, ""  # moving before any jump: no reference pose
    return 0, ""


def place_take(motion: Motion) -> tuple[Motion, float, np.ndarray]:
    """Turn the take about +Y so it faces +Z at its first frame, move the hips' start over the
    origin and put the lowest foot on the floor (foot joints at their rest heights above
    y = 0, 1st percentile over the take). Returns the motion, the turn (deg) and the move (m)."""
    heading = float(facing_deg(motion.rotations[:1, 0])[0])  # the root's local is global
    turn = quat_from_euler(np.array([0.0, -heading, 0.0]), "XYZ")
    root = quat_mul_vec3(turn, motion.root_positions_m)
    local = motion.rotations.copy()
    local[:, 0] = quat_mul(turn, motion.rotations[:, 0])
    turned = replace(motion, root_positions_m=root, rotations=local)
    # turning about +Y and moving on the floor leave heights alone: one FK pass of the take
    feet = motion.global_positions()[:, _FOOT_POINTS, 1] - _REST_HEIGHTS_M
    floor = float(np.percentile(feet.min(axis=1), 1))
    move = np.array([-root[0, 0], -floor, -root[0, 2]])
    return replace(turned, root_positions_m=root + move), -heading, move


def clean_take(
    motion: Motion, *, keep_placement: bool = False, drop_reference: bool = True
) -> tuple[Motion, TakeCleanup]:
    """A retargeted (canonical-skeleton) take ready to use: a leading reference pose dropped,
    then (unless ``keep_placement``) facing +Z at the start, hips over the origin, feet on the
    floor. Returns the motion and what was done."""
    report = TakeCleanup(placed=not keep_placement)
    if drop_reference:
        frames, kind = find_reference_pose(motion)
        if frames:
            motion = slice_frames(motion, frames)
            report.reference_frames, report.reference_pose = frames, kind
            report.notes.append(
                f"dropped a reference {kind} at the start ({frames} frame"
                f"{'s' if frames > 1 else ''}, {frames / motion.fps:.2f} s)"
            )
    if not keep_placement:
        motion, turned, moved = place_take(motion)
        report.turned_deg, report.moved_m = turned, tuple(float(v) for v in moved)
        if abs(turned) >= 1.0 or abs(moved[1]) >= 0.01:
            report.notes.append(
                f"turned {turned:+.0f} deg to face +Z and moved {moved[1] * 100:+.1f} cm "
                "vertically to put the feet on the floor"
            )
    return motion, report
