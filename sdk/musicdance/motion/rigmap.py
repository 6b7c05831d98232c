"""Finding the humanoid in a rig: joint names (side markers, synonyms) and, failing that, topology.

Used by ``musicdance.motion.retarget.map_joints`` after the exact built-in conventions.

Names: a joint name is split into words (namespaces such as ``mixamorig:`` dropped; ``_ . -``,
spaces and camelCase separate words; ``lhand`` splits into ``l hand``); a side word (``Left``,
``Right``, ``L``, ``R``, any case, prefix or suffix) gives the side; filler words (``CC``,
``Base``, ``Bip01``, ``J``, ``Bip``, ``DEF``, ``Bend``, ``Joint``) are dropped, joints whose names
hold a finger, twist, end or helper word are never used, and what remains is looked up in a
synonym table (``UpLeg``/``Thigh``/``UpperLeg``/``Femur`` -> ``UpperLeg`` and so on).
``Shoulder`` is the collar bone when the same arm also has an upper-arm word below it, else the
upper arm (CMU, Kinect). Hips is the lowest common ancestor of the two upper legs and the head;
the spine joints are those on the path from the hips to the neck.

Topology (for names that say nothing, ``joint17``): in the rest pose (long branches reach at
least 20 % of the rig's size), the hips are the deepest joint below which all five limbs hang;
its branch that ends in three limbs (head and two arms) is the spine, the two longest others
the legs (or the two below a pelvis joint that carries both); each limb is followed down its
longest child, and its two longest consecutive bones (the last pair within 10 % of the longest)
are the upper and lower limb. Left and
right come from the rest pose with the project's conventions (left = up x forward; forward
from the toes when the rig has them, else +Z for a Y-up rig and -Y for a Z-up rig).
"""

from __future__ import annotations

import re

import numpy as np

from musicdance.motion.skeleton import Skeleton

_SIDE_WORDS = {"left": "Left", "l": "Left", "lft": "Left", "right": "Right", "r": "Right",
               "rgt": "Right"}  # fmt: skip
_FILLER = {"cc", "base", "bip", "j", "def", "org", "mch", "joint", "jnt", "bind", "bn", "sk",
           "mixamorig", "bend", "bone", "b", "ctrl", "jt", "c", "valve", "biped"}  # fmt: skip
_EXCLUDE = {"twist", "roll", "share", "end", "nub", "top", "site", "tip", "index", "middle",
            "mid", "ring", "pinky", "thumb", "finger", "fingers", "carpal", "metacarpal", "big",
            "eye", "jaw", "breast", "ribs", "teeth", "tongue", "facial", "ik", "pole", "helper",
            "corrective", "adjust", "dummy", "hair", "prop", "weapon", "in",
            "upperjaw"}  # fmt: skip
_ARM = {"collar": ("Shoulder",), "collarbone": ("Shoulder",), "clavicle": ("Shoulder",),
        "clav": ("Shoulder",),
        "shoulder": ("Shoulder", "UpperArm"), "shldr": ("UpperArm",), "upperarm": ("UpperArm",),
        "arm": ("UpperArm",), "humerus": ("UpperArm",), "armupper": ("UpperArm",),
        "forearm": ("LowerArm",), "lowerarm": ("LowerArm",), "elbow": ("LowerArm",),
        "radius": ("LowerArm",), "armlower": ("LowerArm",), "hand": ("Hand",),
        "wrist": ("Hand",)}  # fmt: skip
_LEG = {"thigh": "UpperLeg", "upleg": "UpperLeg", "upperleg": "UpperLeg", "femur": "UpperLeg",
        "hip": "UpperLeg", "legupper": "UpperLeg", "leg": "LowerLeg", "calf": "LowerLeg",
        "shin": "LowerLeg", "lowerleg": "LowerLeg", "knee": "LowerLeg", "tibia": "LowerLeg",
        "leglower": "LowerLeg", "foot": "Foot", "ankle": "Foot", "toe": "Toes", "toes": "Toes",
        "toebase": "Toes", "ball": "Toes"}  # fmt: skip
_PART_WORDS = set(_ARM) | set(_LEG) | {"head", "neck"}
#: Limb slots (without side) in chain order, for each limb.
_ARM_SLOTS = ("Shoulder", "UpperArm", "LowerArm", "Hand")
_LEG_SLOTS = ("UpperLeg", "LowerLeg", "Foot", "Toes")
_DEEPEST_WINS = {"UpperLeg", "UpperArm"}  # CMU's LHipJoint -> LeftHip: the deeper one is the limb


def name_words(name: str) -> list[str]:
    """``"mixamorig:LeftUpLeg"`` -> ``["left", "up", "leg"]`` (lower case, namespace dropped)."""
    name = re.split(r"[:|]", name)[-1]
    words: list[str] = []
    for part in re.split(r"[\s_.\-]+", name):
        words += re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", part)
    words = [w.lower() for w in words]
    split: list[str] = []
    for word in words:  # "lhand" -> "l", "hand"
        if len(word) > 2 and word[0] in "lr" and word[1:] in _PART_WORDS:
            split += [word[0], word[1:]]
        else:
            split.append(word)
    return split


def parse_joint_name(name: str) -> tuple[str | None, str]:
    """(side ``"Left"``/``"Right"``/``None``, body-part key) of a joint name; key ``""`` when
    the name holds an excluded word (fingers, twist bones, end joints, face, helpers)."""
    words = name_words(name)
    if any(w in _EXCLUDE for w in words):
        return None, ""
    sides = {_SIDE_WORDS[w] for w in words if w in _SIDE_WORDS}
    side = sides.pop() if len(sides) == 1 else None
    rest = [w for w in words if w not in _SIDE_WORDS and w not in _FILLER and not w.isdigit()]
    return side, "".join(rest)


def _depth(skeleton: Skeleton) -> np.ndarray:
    depth = np.zeros(skeleton.num_joints, dtype=np.int64)
    for j in range(1, skeleton.num_joints):
        depth[j] = depth[skeleton.parents[j]] + 1
    return depth


def _ancestors(skeleton: Skeleton, joint: int) -> list[int]:
    """``joint`` and its ancestors up to the root, nearest first."""
    chain = []
    while joint >= 0:
        chain.append(joint)
        joint = int(skeleton.parents[joint])
    return chain


def _common_ancestor(skeleton: Skeleton, joints: list[int]) -> int:
    common = set(_ancestors(skeleton, joints[0]))
    for j in joints[1:]:
        common &= set(_ancestors(skeleton, j))
    return max(common, key=lambda j: len(_ancestors(skeleton, j)))


def _path_below(skeleton: Skeleton, top: int, bottom: int) -> list[int]:
    """Joints strictly between ``top`` and its descendant ``bottom``, top first."""
    chain = _ancestors(skeleton, bottom)
    if top not in chain:
        return []
    return chain[1 : chain.index(top)][::-1]


def map_by_names(skeleton: Skeleton) -> dict[str, int]:
    """Canonical joint -> source joint index, from names alone (missing joints left out)."""
    depth = _depth(skeleton)
    limb: dict[tuple[str, str], list[tuple[int, tuple[str, ...]]]] = {}
    heads, necks, spine_words = [], [], []
    for j, name in enumerate(skeleton.names):
        side, key = parse_joint_name(name)
        if not key:
            continue
        if side is not None and key in _ARM:
            limb.setdefault((side, "arm"), []).append((j, _ARM[key]))
        elif side is not None and key in _LEG:
            limb.setdefault((side, "leg"), []).append((j, (_LEG[key],)))
        elif side is None and key == "head":
            heads.append(j)
        elif side is None and "neck" in key:
            necks.append(j)
        elif side is None:
            spine_words.append(j)
    found: dict[str, int] = {}
    for (side, kind), joints in limb.items():
        slots = _ARM_SLOTS if kind == "arm" else _LEG_SLOTS
        has_upper_arm = any(roles == ("UpperArm",) for _, roles in joints)
        candidates: dict[str, list[int]] = {}
        for j, roles in joints:
            role = roles[0]
            if roles == ("Shoulder", "UpperArm") and not has_upper_arm:
                role = "UpperArm"
            candidates.setdefault(role, []).append(j)
        for k, slot in enumerate(slots):
            joints_here = sorted(candidates.get(slot, []), key=lambda j: depth[j])
            if not joints_here:
                continue
            pick = joints_here[-1] if slot in _DEEPEST_WINS else joints_here[0]
            found[side + slot] = pick
            extra = [j for j in joints_here if j != pick and depth[j] > depth[pick]]
            # Kinect's AnkleLeft -> FootLeft: the deeper foot joint is the toes
            if extra and k + 1 < len(slots) and slots[k + 1] not in candidates:
                candidates[slots[k + 1]] = [extra[0]]
    if heads:
        head = min(heads, key=lambda j: depth[j])
        found["Head"] = head
        above = [n for n in necks if n in _ancestors(skeleton, head)]
        if above:
            found["Neck"] = min(above, key=lambda j: depth[j])
    legs = [found.get(f"{s}UpperLeg") for s in ("Left", "Right")]
    if "Head" in found and all(j is not None for j in legs):
        hips = _common_ancestor(skeleton, [*legs, found["Head"]])
        found["Hips"] = hips
        top = found.get("Neck", found["Head"])
        path = _path_below(skeleton, hips, top)
        for slot, j in zip(("Spine", "Chest", "UpperChest"), path, strict=False):
            found[slot] = j
    return found


def _reach_m(skeleton: Skeleton) -> np.ndarray:
    """Longest distance (m, along bones, end sites included) from each joint down its subtree."""
    reach = np.zeros(skeleton.num_joints)
    for j, site in skeleton.end_sites_m.items():
        reach[j] = float(np.linalg.norm(site))
    for j in range(skeleton.num_joints - 1, 0, -1):
        parent = skeleton.parents[j]
        reach[parent] = max(reach[parent], reach[j] + float(np.linalg.norm(skeleton.offsets_m[j])))
    return reach


def map_by_topology(skeleton: Skeleton) -> dict[str, int]:
    """Canonical joint -> source joint index from the hierarchy and the rest pose alone.

    Returns ``{}`` when the rig does not have a hips joint with a spine (ending in a head and
    two arms) and two legs.
    """
    rest = skeleton.rest_positions_m()
    reach = _reach_m(skeleton)
    length = np.linalg.norm(skeleton.offsets_m, axis=-1)
    extent = float(np.max(np.ptp(rest, axis=0))) if skeleton.num_joints > 1 else 0.0
    if extent <= 0:
        return {}

    def long_children(j: int) -> list[int]:
        return [c for c in skeleton.children(j) if length[c] + reach[c] >= 0.2 * extent]

    def ends(j: int) -> int:
        kids = long_children(j)
        return 1 if not kids else sum(ends(c) for c in kids)

    def down(j: int) -> int:
        """Follow single long children to the next joint where long branches split."""
        while len(kids := long_children(j)) == 1:
            j = kids[0]
        return j

    def chain(j: int) -> list[int]:
        """``j`` and its longest-reaching descendants down to a leaf."""
        out = [j]
        while kids := skeleton.children(j):
            j = max(kids, key=lambda c: length[c] + reach[c])
            out.append(j)
        return out

    # the hips: the deepest joint below which hang all five limbs (head, arms, legs)
    hips = max(
        (j for j in range(skeleton.num_joints) if ends(j) >= 5),
        key=lambda j: len(_ancestors(skeleton, j)),
        default=-1,
    )
    if hips < 0:
        return {}
    branches = long_children(hips)
    spine_branch = max(branches, key=ends)
    others = [b for b in branches if b != spine_branch]
    pelvis = [b for b in others if ends(b) == 2]
    if len(pelvis) == 1 and len(others) == 1:  # a pelvis joint carries both legs
        legs = long_children(down(pelvis[0]))
    else:  # the two longest of the rest (helper bones are shorter)
        legs = sorted(others, key=lambda b: -(length[b] + reach[b]))[:2]
    split = down(spine_branch)
    top = long_children(split)
    if ends(spine_branch) != 3 or len(legs) != 2 or len(top) != 3:
        return {}
    up = rest[split] - rest[hips]
    up /= max(float(np.linalg.norm(up)), 1e-9)

    def tip(j: int) -> np.ndarray:
        return rest[chain(j)[-1]] - rest[split]

    def uprightness(j: int) -> float:
        return float(np.dot(tip(j), up) / max(np.linalg.norm(tip(j)), 1e-9))

    neck_branch = max(top, key=uprightness)
    arms = [j for j in top if j != neck_branch]
    found: dict[str, int] = {"Hips": hips}
    path = [*_path_below(skeleton, hips, split), split]
    for slot, j in zip(("Spine", "Chest", "UpperChest"), path, strict=False):
        found[slot] = j
    head_chain = chain(neck_branch)
    tip_site = skeleton.end_sites_m.get(head_chain[-1])
    if len(head_chain) > 2 and (tip_site is None or np.linalg.norm(tip_site) < 0.01):
        head_chain = head_chain[:-1]  # a head-top or hair joint (BVH writes empty end sites)
    found["Head"] = head_chain[-1]
    if len(head_chain) >= 2:
        found["Neck"] = head_chain[0]

    def limb(start: int) -> list[int]:
        joints = chain(start)
        if len(joints) < 3:
            return []
        bones = np.linalg.norm(np.diff(rest[joints], axis=0), axis=-1)
        pairs = bones[:-1] + bones[1:]
        # the last pair within 10 % of the longest: a collar bone as long as the forearm
        # (CMU) must not be taken for the upper arm
        k = int(np.flatnonzero(pairs >= 0.9 * pairs.max())[-1])
        return joints[max(k - 1, 0) : k + 4] if k >= 1 else [-1, *joints[k : k + 4]]

    arm_joints = [limb(a) for a in arms]
    leg_joints = [limb(leg)[1:] for leg in legs]
    if not all(arm_joints) or not all(len(x) >= 3 for x in leg_joints):
        return {}
    # left = up x forward; forward from the toes, else the convention of the up axis
    forward = np.zeros(3)
    for joints in leg_joints:
        if len(joints) >= 4:
            step = rest[joints[3]] - rest[joints[2]]
            forward += step - np.dot(step, up) * up
    if np.linalg.norm(forward) < 1e-6 * extent:
        forward = np.array([0.0, -1.0, 0.0]) if abs(up[2]) > abs(up[1]) else np.array([0, 0, 1.0])
    left = np.cross(up, forward)

    def side_of(start: int) -> float:  # the whole limb's side (its first joint may be central)
        return float(np.dot(rest[chain(start)].mean(axis=0) - rest[hips], left))

    for starts, lists, slots in ((arms, arm_joints, _ARM_SLOTS), (legs, leg_joints, _LEG_SLOTS)):
        order = np.argsort([-side_of(s) for s in starts])
        for side, k in zip(("Left", "Right"), order, strict=True):
            for slot, j in zip(slots, lists[k], strict=False):
                if j >= 0:
                    found[side + slot] = j
    return found
