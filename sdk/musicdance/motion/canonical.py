"""The canonical humanoid skeleton that the library, the choreographer and every export use.

Joint names are Unity ``HumanBodyBones`` names, so Unity's Humanoid auto-mapping accepts the
exported assets. Rest pose: T-pose, 1.7 m tall, Y-up, facing +Z, left side towards +X, feet on
the ground (y = 0).
"""

from __future__ import annotations

import numpy as np

from musicdance.motion.skeleton import Skeleton

_ROT = ("Zrotation", "Xrotation", "Yrotation")
_ROOT = ("Xposition", "Yposition", "Zposition") + _ROT

# name, parent, rest offset from the parent (metres); right limbs mirror the left ones in x.
_CENTRE = [
    ("Hips", None, (0.0, 0.93, 0.0)),
    ("Spine", "Hips", (0.0, 0.10, 0.0)),
    ("Chest", "Spine", (0.0, 0.12, 0.0)),
    ("UpperChest", "Chest", (0.0, 0.12, 0.0)),
    ("Neck", "UpperChest", (0.0, 0.15, 0.0)),
    ("Head", "Neck", (0.0, 0.10, 0.02)),
]
_LEFT_ARM = [
    ("LeftShoulder", "UpperChest", (0.04, 0.09, 0.0)),
    ("LeftUpperArm", "LeftShoulder", (0.13, 0.0, 0.0)),
    ("LeftLowerArm", "LeftUpperArm", (0.28, 0.0, 0.0)),
    ("LeftHand", "LeftLowerArm", (0.25, 0.0, 0.0)),
]
_LEFT_LEG = [
    ("LeftUpperLeg", "Hips", (0.09, -0.05, 0.0)),
    ("LeftLowerLeg", "LeftUpperLeg", (0.0, -0.41, 0.0)),
    ("LeftFoot", "LeftLowerLeg", (0.0, -0.39, 0.0)),
    ("LeftToes", "LeftFoot", (0.0, -0.06, 0.13)),
]
_END_SITES = {
    "Head": (0.0, 0.18, 0.0),
    "LeftHand": (0.18, 0.0, 0.0),
    "LeftToes": (0.0, 0.0, 0.07),
}

#: Joints Unity's Humanoid avatar requires; retargeting fails without them.
REQUIRED_JOINTS = (
    "Hips", "Spine", "Head",
    "LeftUpperArm", "LeftLowerArm", "LeftHand", "RightUpperArm", "RightLowerArm", "RightHand",
    "LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "RightUpperLeg", "RightLowerLeg", "RightFoot",
)  # fmt: skip


def _mirrored(entries):
    """Right-side twins of left-side entries (x negated)."""
    return [
        (name.replace("Left", "Right"), parent.replace("Left", "Right"), (-x, y, z))
        for name, parent, (x, y, z) in entries
    ]


def canonical_skeleton() -> Skeleton:
    """The 22-joint canonical humanoid (Unity HumanBodyBones names, metres, T-pose).

    Order: spine and head, left arm, right arm, left leg, right leg (parents first).
    """
    entries = _CENTRE + _LEFT_ARM + _mirrored(_LEFT_ARM) + _LEFT_LEG + _mirrored(_LEFT_LEG)
    names = [name for name, _, _ in entries]
    parents = [names.index(parent) if parent else -1 for _, parent, _ in entries]
    offsets = np.array([offset for _, _, offset in entries])
    end_sites = {}
    for name, (x, y, z) in _END_SITES.items():
        end_sites[names.index(name)] = np.array((x, y, z))
        if name.startswith("Left"):
            end_sites[names.index(name.replace("Left", "Right"))] = np.array((-x, y, z))
    channels = tuple(_ROOT if p < 0 else _ROT for p in parents)
    return Skeleton(tuple(names), np.array(parents), offsets, channels, end_sites)


CANONICAL_JOINTS = canonical_skeleton().names
