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


def _rest_alignment(
    target: Skeleton, source: Skeleton, mapping: dict[str, str], world: np.ndarray
) -> dict[str, np.ndarray]:
    """Per mapped canonical joint: the rotation taking its rest bones onto the source's."""
    target_rest = target.rest_positions_m()
    source_rest = quat_mul_vec3(world, source.rest_positions_m())
    alignment: dict[str, np.ndarray] = {}
    for k, name in enumerate(target.names):
        if name not in mapping:
            continue
        j = source.index(mapping[name])
        children = _mapped_descendants(target, k, mapping)
        if not children:  # a leaf (head, hand, toes): keep the parent's alignment
            parent = target.parents[k]
            while parent >= 0 and target.names[parent] not in alignment:
                parent = target.parents[parent]
            alignment[name] = alignment[target.names[parent]] if parent >= 0 else quat_identity()
            continue
        target_dirs = np.array([target_rest[c] - target_rest[k] for c in children])
        source_dirs = np.array(
            [source_rest[source.index(mapping[target.names[c]])] - source_rest[j] for c in children]
        )
        if len(children) == 1:
            alignment[name] = quat_between(target_dirs[0], source_dirs[0])
        else:
            rotation, _ = Rotation.align_vectors(source_dirs, target_dirs)
            alignment[name] = rotation.as_quat()
    return alignment


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
    alignment = _rest_alignment(target, source, names, world)

    source_pos, source_rot = motion.global_transforms()
    num_frames = motion.num_frames
    global_rot = np.empty((num_frames, target.num_joints, 4))
    for k, name in enumerate(target.names):
        if name in src:
            # C G_s C^-1 Q
            g = quat_mul(world, quat_mul(source_rot[:, src[name]], quat_inv(world)))
            global_rot[:, k] = quat_mul(g, alignment[name])
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
