"""A short factual description of a motion (what ``mdtool info`` prints)."""

from __future__ import annotations

import numpy as np

from musicdance.motion.canonical import CANONICAL_JOINTS
from musicdance.motion.motion import Motion
from musicdance.motion.retarget import detect_up_axis, map_joints

_AXIS_NAMES = {0: "X", 1: "Y", 2: "Z"}


def describe_motion(motion: Motion) -> dict:
    """Frames, fps, duration, joints, naming convention, up axis, size and travel (JSON-ready)."""
    skeleton = motion.skeleton
    mapping = map_joints(skeleton)
    names = mapping.canonical_to_source
    up_axis = "unknown"
    if "Hips" in names and "Head" in names:
        up = detect_up_axis(motion, skeleton.index(names["Hips"]), skeleton.index(names["Head"]))
        axis = int(np.argmax(np.abs(up)))
        up_axis = ("+" if up[axis] > 0 else "-") + _AXIS_NAMES[axis]
    positions = motion.global_positions()
    first = positions[0]
    travel = np.linalg.norm(np.diff(motion.root_positions_m, axis=0), axis=-1).sum()
    return {
        "frames": motion.num_frames,
        "fps": motion.fps,
        "duration_s": round(motion.duration_s, 4),
        "joints": skeleton.num_joints,
        "root": skeleton.names[0],
        "convention": mapping.convention,
        "canonical_joints_mapped": f"{len(names)}/{len(CANONICAL_JOINTS)}",
        "up_axis": up_axis,
        "size_m": round(float(np.max(first.max(axis=0) - first.min(axis=0))), 3),
        "root_travel_m": round(float(travel), 3),
        "joint_names": list(skeleton.names),
    }
