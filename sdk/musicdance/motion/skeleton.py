"""Skeleton: the joint hierarchy shared by every frame of a motion.

Convention for the whole SDK: Y-up, right-handed, metres, characters face +Z with their left
side towards +X. Joint arrays are ordered so that parents come before children.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from musicdance.motion.quat import quat_mul, quat_mul_vec3

ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A joint hierarchy.

    names: joint names, ``[J]``.
    parents: parent index per joint, ``[J]`` int, ``-1`` for the root; parents precede children.
    offsets_m: rest offset of each joint from its parent in metres, ``[J, 3]``.
    channels: BVH channel names per joint, e.g. ``("Zrotation", "Xrotation", "Yrotation")``.
    end_sites_m: BVH end-site offsets in metres, keyed by the joint that carries them.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets_m: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    end_sites_m: dict[int, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parents = np.asarray(self.parents, dtype=np.int64)
        offsets = np.asarray(self.offsets_m, dtype=float).reshape(-1, 3)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "offsets_m", offsets)
        n = len(self.names)
        if not (len(parents) == len(offsets) == len(self.channels) == n):
            raise ValueError("names, parents, offsets_m and channels must have one entry per joint")
        if n == 0 or parents[0] != -1:
            raise ValueError("joint 0 must be the root (parent -1)")
        if np.any(parents[1:] < 0) or np.any(parents[1:] >= np.arange(1, n)):
            raise ValueError("every non-root joint needs a parent listed before it")
        if len(set(self.names)) != n:
            raise ValueError("joint names must be unique")

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of the joint called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no joint named {name!r}") from None

    def children(self, joint: int) -> list[int]:
        return [int(j) for j in np.flatnonzero(self.parents == joint)]

    def rotation_order(self, joint: int) -> str:
        """Euler order of the joint's rotation channels, e.g. ``"YXZ"`` (``"ZXY"`` if none)."""
        order = "".join(c[0] for c in self.channels[joint] if c in ROTATION_CHANNELS)
        return order if len(order) == 3 else "ZXY"

    def has_positions(self, joint: int) -> bool:
        return any(c in POSITION_CHANNELS for c in self.channels[joint])

    def rest_positions_m(self) -> np.ndarray:
        """Global joint positions of the rest pose (all rotations identity), ``[J, 3]``."""
        positions = np.zeros((self.num_joints, 3))
        positions[0] = self.offsets_m[0]
        for j in range(1, self.num_joints):
            positions[j] = positions[self.parents[j]] + self.offsets_m[j]
        return positions

    def scaled(self, factor: float) -> Skeleton:
        """The same hierarchy with every length multiplied by ``factor``."""
        return Skeleton(
            names=self.names,
            parents=self.parents,
            offsets_m=self.offsets_m * factor,
            channels=self.channels,
            end_sites_m={j: np.asarray(o) * factor for j, o in self.end_sites_m.items()},
        )

    def mirror_pairs(self) -> np.ndarray:
        """Permutation ``[J]`` that swaps each left joint with its right twin (by name)."""
        perm = np.arange(self.num_joints)
        lookup = {name: i for i, name in enumerate(self.names)}
        for i, name in enumerate(self.names):
            twin = mirror_name(name)
            if twin != name and twin in lookup:
                perm[i] = lookup[twin]
        return perm


_SIDE_PATTERNS = [
    (re.compile(r"Left"), "Right"),
    (re.compile(r"Right"), "Left"),
    (re.compile(r"left"), "right"),
    (re.compile(r"right"), "left"),
    (re.compile(r"(?<![A-Za-z])L(?=[_ .\-])"), "R"),
    (re.compile(r"(?<![A-Za-z])R(?=[_ .\-])"), "L"),
    (re.compile(r"(?<=[_ .\-])L(?![a-z])"), "R"),
    (re.compile(r"(?<=[_ .\-])R(?![a-z])"), "L"),
    (re.compile(r"^L(?=[A-Z])"), "R"),
    (re.compile(r"^R(?=[A-Z])"), "L"),
    (re.compile(r"^l(?=[a-z]{3})"), "r"),
    (re.compile(r"^r(?=[a-z]{3})"), "l"),
]


def mirror_name(name: str) -> str:
    """The name of the opposite-side joint (``LeftHand`` -> ``RightHand``, ``CC_Base_L_Foot`` ->
    ``CC_Base_R_Foot``, ``lhand`` -> ``rhand``); the name itself for centre joints."""
    for pattern, replacement in _SIDE_PATTERNS:
        if pattern.search(name):
            return pattern.sub(replacement, name, count=1)
    return name


def forward_kinematics(
    skeleton: Skeleton,
    local_rotations: np.ndarray,
    root_positions_m: np.ndarray,
    local_translations_m: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Global joint positions ``[T, J, 3]`` (metres) and rotations ``[T, J, 4]``.

    local_rotations: ``[T, J, 4]`` xyzw. root_positions_m: ``[T, 3]``.
    local_translations_m: optional ``[T, J, 3]`` animated offsets (BVH position channels on
    non-root joints); rest offsets are used where it is ``None``.
    """
    num_frames, num_joints = local_rotations.shape[:2]
    global_rot = np.empty((num_frames, num_joints, 4))
    global_pos = np.empty((num_frames, num_joints, 3))
    global_rot[:, 0] = local_rotations[:, 0]
    global_pos[:, 0] = root_positions_m
    # one level of the hierarchy at a time (the joints at one depth together): the same
    # arithmetic per joint as joint by joint, in a few numpy calls instead of J
    for joints in joint_levels(skeleton.parents):
        p = skeleton.parents[joints]
        offset = (
            skeleton.offsets_m[joints]
            if local_translations_m is None
            else local_translations_m[:, joints]
        )
        global_rot[:, joints] = quat_mul(global_rot[:, p], local_rotations[:, joints])
        global_pos[:, joints] = global_pos[:, p] + quat_mul_vec3(global_rot[:, p], offset)
    return global_pos, global_rot


def joint_levels(parents: np.ndarray) -> list[np.ndarray]:
    """Indices of the non-root joints by depth in the hierarchy (children of the root first);
    ``parents [J]`` lists parents before children."""
    return list(_joint_levels(np.asarray(parents, dtype=np.int64).tobytes()))


@lru_cache(maxsize=64)
def _joint_levels(parents: bytes) -> tuple[np.ndarray, ...]:
    parents = np.frombuffer(parents, dtype=np.int64)
    depth = np.zeros(len(parents), dtype=np.int64)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    levels = tuple(np.flatnonzero(depth == d) for d in range(1, int(depth.max(initial=0)) + 1))
    for level in levels:
        level.setflags(write=False)  # shared by every call
    return levels
