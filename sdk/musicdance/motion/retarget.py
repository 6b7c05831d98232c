"""Retargeting imported motion onto the canonical humanoid.

Method (world-space transfer with rest-pose alignment):
1. Map canonical joints to source joints: built-in maps for common conventions, then side
   markers and synonyms, then the rig's topology (``musicdance.motion.rigmap``), or a user
   mapping. Source joints that are not mapped (fingers, twist bones, extra spine joints)
   contribute through the global rotations of the joints below them and are reported.
2. ``up``: the source world's up axis, found from the animation (mean hips-to-head direction,
   snapped to the nearest axis); ``C`` rotates that axis onto +Y.
3. Per mapped joint, ``Q`` rotates the canonical rest bone directions (towards its mapped
   children) onto the source's rest bone directions (after ``C``). This is what lets a T-pose
   rig receive an A-pose rig's motion: at the source's rest frame the target shows the source's
   rest pose.
   Twist about the bone: where a bone's rest direction points more than
   ``AMBIGUOUS_REST_DEG`` away from the canonical one (the ``CC_Base`` legs point *up* at
   rest; one arm of the Rokoko rig points the other way), the shortest rotation between two
   nearly opposite directions has an arbitrary twist (it left the CMU/iClone thighs turned
   about 110 degrees). Such a bone, and every bone below one aligned this way, takes its
   parent's alignment plus the smallest swing onto the source bone, so its twist follows the
   rest pose relative to its parent. Where that is still ambiguous (thighs pointing up from
   hips whose thighs point down) and the bone is a hinge's upper bone, the twist comes from
   the motion: the knee (elbow) must bend backwards (forwards) in the thigh's (upper arm's)
   frame. Joint positions never change (a turn about a bone's own axis).
4. Target global rotation ``G_t = C G_s C^-1 Q``; local rotations follow from the parents.
   The root trajectory is ``C`` applied to the source hips, scaled by the ratio of leg lengths.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial.transform import Rotation

from musicdance.errors import MusicDanceError
from musicdance.motion.canonical import REQUIRED_JOINTS, canonical_skeleton
from musicdance.motion.motion import Motion
from musicdance.motion.quat import (
    quat_between,
    quat_identity,
    quat_inv,
    quat_inv_mul,
    quat_mul,
    quat_mul_vec3,
    quat_normalize,
    quat_unroll,
)
from musicdance.motion.rigmap import map_by_names, map_by_topology
from musicdance.motion.skeleton import Skeleton

_SPINE = ("Hips", "Spine", "Chest", "UpperChest", "Neck", "Head")
_LIMBS = (
    "{side}Shoulder",
    "{side}UpperArm",
    "{side}LowerArm",
    "{side}Hand",
    "{side}UpperLeg",
    "{side}LowerLeg",
    "{side}Foot",
    "{side}Toes",
)
_COLLAR_LIMBS = (
    "{side}Collar",
    "{side}Shoulder",
    "{side}Elbow",
    "{side}Wrist",
    "{side}Hip",
    "{side}Knee",
    "{side}Ankle",
    "{side}Toe",
)

# convention: (source joints for _SPINE, source joints for _LIMBS, left and right side words)
_CONVENTIONS = {
    "mixamo": (("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head"),
               ("{side}Shoulder", "{side}Arm", "{side}ForeArm", "{side}Hand",
                "{side}UpLeg", "{side}Leg", "{side}Foot", "{side}ToeBase"), "Left", "Right"),
    "cmu": (("Hips", "lowerback", "Chest", "Chest2", "lowerneck", "Head"),
            _COLLAR_LIMBS, "Left", "Right"),
    "cmu-asf": (("root", "lowerback", "upperback", "thorax", "lowerneck", "head"),
                ("{side}clavicle", "{side}humerus", "{side}radius", "{side}wrist",
                 "{side}femur", "{side}tibia", "{side}foot", "{side}toes"), "l", "r"),
    "perfume": (("Hips", "Chest", "Chest2", "Chest3", "Neck", "Head"),
                _COLLAR_LIMBS, "Left", "Right"),
    "character-creator": (("CC_Base_Hip", "CC_Base_Waist", "CC_Base_Spine01", "CC_Base_Spine02",
                           "CC_Base_NeckTwist01", "CC_Base_Head"),
                          ("CC_Base_{side}_Clavicle", "CC_Base_{side}_Upperarm",
                           "CC_Base_{side}_Forearm", "CC_Base_{side}_Hand",
                           "CC_Base_{side}_Thigh", "CC_Base_{side}_Calf",
                           "CC_Base_{side}_Foot", "CC_Base_{side}_ToeBase"), "L", "R"),
    "3dsmax-biped": (("Bip01 Pelvis", "Bip01 Spine", "Bip01 Spine1", "Bip01 Spine2",
                      "Bip01 Neck", "Bip01 Head"),
                     ("Bip01 {side} Clavicle", "Bip01 {side} UpperArm", "Bip01 {side} Forearm",
                      "Bip01 {side} Hand", "Bip01 {side} Thigh", "Bip01 {side} Calf",
                      "Bip01 {side} Foot", "Bip01 {side} Toe0"), "L", "R"),
}  # fmt: skip


def _name_map(spine: tuple[str, ...], limbs: tuple[str, ...], left: str, right: str) -> dict:
    """Canonical joint -> source joint for one convention."""
    mapping = dict(zip(_SPINE, spine, strict=True))
    for canonical_side, source_side in (("Left", left), ("Right", right)):
        for canonical, source in zip(_LIMBS, limbs, strict=True):
            mapping[canonical.format(side=canonical_side)] = source.format(side=source_side)
    return mapping


#: Canonical joint -> source joint, per naming convention.
NAME_MAPS: dict[str, dict[str, str]] = {
    "humanbodybones": {name: name for name in canonical_skeleton().names},
    **{name: _name_map(*spec) for name, spec in _CONVENTIONS.items()},
}


def _strip_namespace(name: str) -> str:
    """``mixamorig:LeftArm`` -> ``LeftArm``."""
    return name.rsplit(":", 1)[-1]


@dataclass
class JointMapping:
    """Which source joint drives each canonical joint, and how each was found.

    methods: canonical joint -> ``"name"`` (a built-in convention's exact name), ``"synonym"``
    (side marker and synonym matching, ``musicdance.motion.rigmap``), ``"topology"`` (the
    hierarchy and rest pose) or ``"user"`` (a mapping file).
    """

    convention: str
    canonical_to_source: dict[str, str]
    unmapped_source: list[str] = field(default_factory=list)
    unmapped_canonical: list[str] = field(default_factory=list)
    methods: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "convention": self.convention,
            "joints": {
                name: {"source": source, "method": self.methods.get(name, "name")}
                for name, source in self.canonical_to_source.items()
            },
            "unmapped_canonical": self.unmapped_canonical,
            "unmapped_source": self.unmapped_source,
        }


def detect_convention(skeleton: Skeleton) -> tuple[str, int]:
    """The built-in naming convention matching most joints, and how many it matches."""
    names = {_strip_namespace(n) for n in skeleton.names}
    scores = {conv: sum(src in names for src in m.values()) for conv, m in NAME_MAPS.items()}
    best = max(scores, key=scores.get)
    return best, scores[best]


def load_mapping_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """A user mapping: JSON object ``{"CanonicalName": "SourceJointName", ...}``."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise MusicDanceError(f"cannot read mapping file ({error.strerror})", path) from None
    except json.JSONDecodeError as error:
        raise MusicDanceError(
            f"mapping file is not valid JSON ({error.msg}, line {error.lineno})", path
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise MusicDanceError(
            'mapping file must be a JSON object {"Hips": "source_joint", ...}', path
        )
    unknown = sorted(set(data) - set(canonical_skeleton().names))
    if unknown:
        raise MusicDanceError(f"mapping names unknown canonical joints: {', '.join(unknown)}", path)
    return data


def map_joints(skeleton: Skeleton, user_map: dict[str, str] | None = None) -> JointMapping:
    """Map canonical joints to ``skeleton``'s joints.

    In order: a built-in convention's exact names when they cover every required joint, then
    side markers and synonyms, then the topology for required joints still missing; user map
    entries override all of them.
    """
    convention, _ = detect_convention(skeleton)
    by_plain_name = {_strip_namespace(n): n for n in skeleton.names}

    def resolve(source: str) -> str | None:
        return source if source in skeleton.names else by_plain_name.get(_strip_namespace(source))

    mapping: dict[str, str] = {}
    methods: dict[str, str] = {}
    exact = {c: r for c, s in NAME_MAPS[convention].items() if (r := resolve(s)) is not None}
    if all(n in exact for n in REQUIRED_JOINTS):
        mapping.update(exact)
        methods.update(dict.fromkeys(exact, "name"))
    else:
        convention = "generic"
    for stage, method in ((map_by_names, "synonym"), (map_by_topology, "topology")):
        if stage is map_by_topology and all(n in mapping for n in REQUIRED_JOINTS):
            break
        used = set(mapping.values())
        for canonical, j in stage(skeleton).items():
            source = skeleton.names[j]
            if canonical not in mapping and source not in used:
                mapping[canonical] = source
                methods[canonical] = method
                used.add(source)
        if stage is map_by_topology and convention == "generic" and "topology" in methods.values():
            convention = "generic+topology"
    if user_map:
        for canonical, source in user_map.items():
            real = resolve(source)
            if real is not None:
                mapping = {c: s for c, s in mapping.items() if s != real or c == canonical}
                mapping[canonical] = real
                methods[canonical] = "user"
        convention = f"{convention}+user"
    order = canonical_skeleton().names
    mapping = {n: mapping[n] for n in order if n in mapping}
    used = set(mapping.values())
    return JointMapping(
        convention=convention,
        canonical_to_source=mapping,
        unmapped_source=[n for n in skeleton.names if n not in used],
        unmapped_canonical=[n for n in order if n not in mapping],
        methods={n: methods[n] for n in mapping},
    )


def detect_up_axis(motion: Motion, hips: int, head: int) -> np.ndarray:
    """The world axis (unit vector, one of +-X, +-Y, +-Z) the body stands along on average."""
    positions = motion.global_positions()
    direction = np.mean(positions[:, head] - positions[:, hips], axis=0)
    axis = int(np.argmax(np.abs(direction)))
    up = np.zeros(3)
    up[axis] = np.sign(direction[axis]) or 1.0
    return up


#: A bone whose rest direction differs from the canonical one by more than this (degrees) is
#: not aligned on its own: the shortest rotation between nearly opposite directions has an
#: arbitrary twist about the bone.
AMBIGUOUS_REST_DEG = 120.0

#: Hinge chains (upper, lower, end) and where the hinge bends the end in the upper bone's
#: canonical frame: knees backwards (-Z), elbows forwards (+Z) in the T-pose facing +Z.
_HINGES = {
    f"{side}{upper}": (f"{side}{lower}", f"{side}{end}", bend)
    for side in ("Left", "Right")
    for upper, lower, end, bend in (
        ("UpperLeg", "LowerLeg", "Foot", (0.0, 0.0, -1.0)),
        ("UpperArm", "LowerArm", "Hand", (0.0, 0.0, 1.0)),
    )
}
#: Frames whose hinge is bent more than this (degrees) say where it bends.
_MIN_BEND_DEG = 20.0


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between unit vectors, degrees."""
    return float(np.degrees(np.arccos(np.clip(a @ b, -1.0, 1.0))))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _twist(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotation by ``angle_rad`` about the unit ``axis``, xyzw."""
    return np.concatenate([axis * np.sin(angle_rad / 2), [np.cos(angle_rad / 2)]])


def _hinge_bend_twist_rad(
    upper_rot: np.ndarray,
    positions: np.ndarray,
    mid: int,
    end: int,
    axis: np.ndarray,
    bend_dir: np.ndarray,
) -> float | None:
    """How far (radians, about the unit bone ``axis``) the hinge below a bone bends away from
    ``bend_dir`` in the bone's frame, over the frames bent more than ``_MIN_BEND_DEG``.

    ``upper_rot [T, 4]``: the bone's global rotations; ``positions [T, J, 3]``. None when the
    hinge never bends."""
    lower = quat_mul_vec3(quat_inv(upper_rot), positions[:, end] - positions[:, mid])
    along = lower @ axis
    perp = lower - along[:, None] * axis
    bent = np.degrees(np.arctan2(np.linalg.norm(perp, axis=-1), along)) > _MIN_BEND_DEG
    if not bent.any():
        return None
    mean = (perp[bent] / np.linalg.norm(perp[bent], axis=-1, keepdims=True)).mean(axis=0)
    return float(np.arctan2(np.cross(bend_dir, mean) @ axis, bend_dir @ mean))


def _rest_alignment(
    target: Skeleton,
    source: Skeleton,
    mapping: dict[str, str],
    world: np.ndarray,
    conjugated: np.ndarray | None = None,
    positions: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Per mapped canonical joint: the rotation taking its rest bones onto the source's.

    A bone's own shortest rotation is used when its rest direction is within
    ``AMBIGUOUS_REST_DEG`` of the source's and its parent kept its own; otherwise the bone
    takes its parent's alignment and the smallest swing from there, so its twist follows the
    parent's (the rest pose relative to the parent). A hinge's upper bone that is ambiguous,
    or below an ambiguous bone in its chain (the ``CC_Base`` thighs point up at rest; the
    Rokoko right arm points across the body), takes its twist from the motion: the hinge
    (knee, elbow) must bend the canonical way, and an ambiguous bone above it follows it
    (``conjugated [T, J, 4]``: the source's ``C G_s C^-1`` per canonical joint,
    ``positions [T, J, 3]``: its positions after ``C``). Returns the alignment and,
    per joint not aligned on its own, how it was aligned (``"parent"``, ``"motion"``,
    ``"child"`` or ``"ambiguous"``).
    """
    target_rest = target.rest_positions_m()
    source_rest = quat_mul_vec3(world, source.rest_positions_m())
    alignment: dict[str, np.ndarray] = {}
    how: dict[str, str] = {}
    suspect: set[str] = set()  # ambiguous on its own, or below one in its chain
    for k, name in enumerate(target.names):
        if name not in mapping:
            continue
        j = source.index(mapping[name])
        children = _mapped_descendants(target, k, mapping)
        if not children:  # a leaf (head, hand, toes): its parent's, below
            continue
        target_dirs = np.array([target_rest[c] - target_rest[k] for c in children])
        source_dirs = np.array(
            [source_rest[source.index(mapping[target.names[c]])] - source_rest[j] for c in children]
        )
        if len(children) > 1:
            rotation, _ = Rotation.align_vectors(source_dirs, target_dirs)
            alignment[name] = rotation.as_quat()
            continue
        t_dir, s_dir = _unit(target_dirs[0]), _unit(source_dirs[0])
        parent = _aligned_ancestor(target, k, alignment)
        ambiguous = _angle_deg(t_dir, s_dir) > AMBIGUOUS_REST_DEG
        if not ambiguous and (parent is None or parent not in how):
            alignment[name] = quat_between(t_dir, s_dir)
            continue
        if ambiguous or parent in suspect:
            suspect.add(name)
        base = alignment[parent] if parent is not None else quat_identity()
        carried = quat_mul_vec3(base, t_dir)
        alignment[name] = quat_mul(quat_between(carried, s_dir), base)
        how[name] = "ambiguous" if _angle_deg(carried, s_dir) > AMBIGUOUS_REST_DEG else "parent"
        hinge = _HINGES.get(name)
        if hinge is None or name not in suspect or conjugated is None or positions is None:
            continue
        mid, end = target.index(hinge[0]), target.index(hinge[1])
        if hinge[0] not in mapping or hinge[1] not in mapping:
            continue
        turn = _hinge_bend_twist_rad(
            quat_mul(conjugated[:, k], alignment[name]),
            positions,
            mid,
            end,
            t_dir,
            np.asarray(hinge[2]),
        )
        if turn is not None:
            alignment[name] = quat_mul(alignment[name], _twist(t_dir, turn))
            how[name] = "motion"
    # An ambiguous bone above a hinge whose twist came from the motion (the Rokoko right
    # clavicle above its upper arm) takes its child's twist plus the smallest swing.
    for k in reversed(range(target.num_joints)):
        name = target.names[k]
        children = _mapped_descendants(target, k, mapping) if name in alignment else []
        if name in suspect and how.get(name) != "motion" and len(children) == 1:
            child = target.names[children[0]]
            if how.get(child) == "motion":
                t_dir = _unit(target_rest[children[0]] - target_rest[k])
                s_dir = _unit(
                    source_rest[source.index(mapping[child])]
                    - source_rest[source.index(mapping[name])]
                )
                carried = quat_mul_vec3(alignment[child], t_dir)
                alignment[name] = quat_mul(quat_between(carried, s_dir), alignment[child])
                how[name] = "child"
    for k, name in enumerate(target.names):
        if name in mapping and name not in alignment:
            parent = _aligned_ancestor(target, k, alignment)
            alignment[name] = alignment[parent] if parent is not None else quat_identity()
    return alignment, how


def _aligned_ancestor(target: Skeleton, joint: int, alignment: dict) -> str | None:
    """The nearest ancestor of ``joint`` that has an alignment."""
    parent = target.parents[joint]
    while parent >= 0 and target.names[parent] not in alignment:
        parent = target.parents[parent]
    return target.names[parent] if parent >= 0 else None


def _mapped_descendants(skeleton: Skeleton, joint: int, mapping: dict[str, str]) -> list[int]:
    """The nearest mapped joint down each child branch."""
    found = []
    for child in skeleton.children(joint):
        if skeleton.names[child] in mapping:
            found.append(child)
        else:
            found.extend(_mapped_descendants(skeleton, child, mapping))
    return found


def _leg_length(skeleton: Skeleton, hip: int, knee: int, ankle: int) -> float:
    rest = skeleton.rest_positions_m()
    return float(np.linalg.norm(rest[knee] - rest[hip]) + np.linalg.norm(rest[ankle] - rest[knee]))


def retarget(motion: Motion, user_map: dict[str, str] | None = None) -> tuple[Motion, JointMapping]:
    """Transfer ``motion`` onto the canonical skeleton; returns the motion and the mapping used.

    Raises ``MusicDanceError`` when joints Unity's Humanoid requires cannot be found.
    """
    source = motion.skeleton
    mapping = map_joints(source, user_map)
    missing = [n for n in REQUIRED_JOINTS if n not in mapping.canonical_to_source]
    if missing:
        raise MusicDanceError(
            f"cannot retarget: no source joint for {', '.join(missing)} "
            f"(closest convention: {mapping.convention}; give a mapping file with --map)"
        )
    target = canonical_skeleton()
    names = mapping.canonical_to_source
    src = {k: source.index(v) for k, v in names.items()}

    step = max(1, motion.num_frames // 2000)  # the mean direction needs no more frames
    strided = replace(motion, root_positions_m=motion.root_positions_m[::step],
                      rotations=motion.rotations[::step], local_translations_m=None
                      if motion.local_translations_m is None
                      else motion.local_translations_m[::step])  # fmt: skip
    up = detect_up_axis(strided, src["Hips"], src["Head"])
    world = quat_between(up, np.array([0.0, 1.0, 0.0]))

    source_pos, source_rot = motion.global_transforms()
    num_frames = motion.num_frames
    # C G_s C^-1 per canonical joint (unmapped ones are filled from their parents below)
    conjugated = np.tile(quat_identity(), (num_frames, target.num_joints, 1))
    mapped_pos = np.zeros((num_frames, target.num_joints, 3))
    for k, name in enumerate(target.names):
        if name in src:
            conjugated[:, k] = quat_mul(world, quat_mul(source_rot[:, src[name]], quat_inv(world)))
            mapped_pos[:, k] = quat_mul_vec3(world, source_pos[:, src[name]])
    alignment, _ = _rest_alignment(target, source, names, world, conjugated, mapped_pos)
    global_rot = np.empty((num_frames, target.num_joints, 4))
    for k, name in enumerate(target.names):
        if name in src:
            global_rot[:, k] = quat_mul(conjugated[:, k], alignment[name])  # C G_s C^-1 Q
        else:
            global_rot[:, k] = global_rot[:, target.parents[k]]
    local = np.empty_like(global_rot)
    local[:, 0] = global_rot[:, 0]
    local[:, 1:] = quat_inv_mul(global_rot[:, target.parents[1:]], global_rot[:, 1:])

    scale = _leg_length(
        target, *(target.index(n) for n in ("LeftUpperLeg", "LeftLowerLeg", "LeftFoot"))
    )
    scale /= max(
        _leg_length(source, src["LeftUpperLeg"], src["LeftLowerLeg"], src["LeftFoot"]), 1e-9
    )
    root = quat_mul_vec3(world, source_pos[:, src["Hips"]]) * scale
    result = Motion(
        skeleton=target,
        fps=motion.fps,
        root_positions_m=root,
        rotations=quat_unroll(quat_normalize(local), axis=0),
    )
    return result, mapping
