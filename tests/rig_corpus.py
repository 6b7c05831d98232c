"""A corpus of humanoid rigs named in the conventions studios use, written as small BVH files.

Each rig is the canonical 1.7 m humanoid re-shaped the way its convention does it: joints
renamed, some merged away (no collar, fewer spine joints), extra joints inserted (a root at the
floor, CMU's hip joints, a pelvis carrying the legs, twist bones inside the arm), leaves added
(fingers, twist bones, end joints), and some with an A-pose rest, a Z-up world or centimetres.
The motion is random and smooth on the canonical-like joints; extra joints stay at rest.
Used by tests/test_rig_mapping.py and benchmarks/bench_mocap_import.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from musicdance.io.bvh import write_bvh
from musicdance.motion import Motion, Skeleton
from musicdance.motion.canonical import REQUIRED_JOINTS, canonical_skeleton
from musicdance.motion.quat import quat_from_euler, quat_mul, quat_mul_vec3

SPINE = ("Hips", "Spine", "Chest", "UpperChest", "Neck", "Head")
ARM = ("Shoulder", "UpperArm", "LowerArm", "Hand")
LEG = ("UpperLeg", "LowerLeg", "Foot", "Toes")


@dataclass
class RigSpec:
    """One naming convention.

    spine: source names for ``SPINE`` (``None``: the rig has no such joint).
    arm / leg: source name patterns for ``ARM`` / ``LEG`` with ``{s}`` for the side word.
    sides: the convention's (left, right) side words.
    inserts: (new joint, parent canonical joint or ``None`` for a new root, canonical children
    it is put above), names may hold ``{s}`` (then one per side, children with ``{side}``).
    leaves: (new joint, parent canonical joint, offset m) extra leaves, ``{s}``/``{side}`` too.
    """

    name: str
    spine: tuple[str | None, ...]
    arm: tuple[str | None, ...]
    leg: tuple[str | None, ...]
    sides: tuple[str, str]
    inserts: list[tuple[str, str | None, tuple[str, ...]]] = field(default_factory=list)
    leaves: list[tuple[str, str, tuple[float, float, float]]] = field(default_factory=list)
    a_pose: bool = False
    z_up: bool = False
    unit: str = "cm"

    def names(self) -> dict[str, str | None]:
        """Canonical joint -> source joint name (``None`` where the rig has none)."""
        out: dict[str, str | None] = dict(zip(SPINE, self.spine, strict=True))
        for canonical_side, side in zip(("Left", "Right"), self.sides, strict=True):
            parts = [*zip(ARM, self.arm, strict=True), *zip(LEG, self.leg, strict=True)]
            for part, pattern in parts:
                out[canonical_side + part] = pattern.format(s=side) if pattern else None
        return out

    def expected(self) -> dict[str, str]:
        """The source joint every required canonical joint must map to."""
        names = self.names()
        return {n: names[n] for n in REQUIRED_JOINTS if names[n] is not None}


_FINGERS = [("{s}Index1", "{side}Hand", (0.09, 0.0, 0.02)),
            ("{s}Thumb1", "{side}Hand", (0.03, 0.0, 0.04))]  # fmt: skip

CORPUS: list[RigSpec] = [
    RigSpec("unreal-mannequin", ("pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head"),
            ("clavicle_{s}", "upperarm_{s}", "lowerarm_{s}", "hand_{s}"),
            ("thigh_{s}", "calf_{s}", "foot_{s}", "ball_{s}"), ("l", "r"),
            inserts=[("root", None, ("Hips",))],
            leaves=[("upperarm_twist_01_{s}", "{side}UpperArm", (0.1, 0.0, 0.0)),
                    ("index_01_{s}", "{side}Hand", (0.1, 0.0, 0.0)),
                    ("ik_foot_root", "Hips", (0.0, -0.9, 0.0))]),
    RigSpec("rigify", ("DEF-spine", "DEF-spine.001", "DEF-spine.002", "DEF-spine.003",
                       "DEF-spine.004", "DEF-spine.006"),
            ("DEF-shoulder.{s}", "DEF-upper_arm.{s}", "DEF-forearm.{s}", "DEF-hand.{s}"),
            ("DEF-thigh.{s}", "DEF-shin.{s}", "DEF-foot.{s}", "DEF-toe.{s}"), ("L", "R"),
            leaves=[("DEF-f_index.01.{s}", "{side}Hand", (0.09, 0.0, 0.0))], z_up=True, unit="m"),
    RigSpec("mixamo", ("mixamorig:Hips", "mixamorig:Spine", "mixamorig:Spine1",
                       "mixamorig:Spine2", "mixamorig:Neck", "mixamorig:Head"),
            ("mixamorig:{s}Shoulder", "mixamorig:{s}Arm", "mixamorig:{s}ForeArm",
             "mixamorig:{s}Hand"),
            ("mixamorig:{s}UpLeg", "mixamorig:{s}Leg", "mixamorig:{s}Foot",
             "mixamorig:{s}ToeBase"), ("Left", "Right"),
            leaves=[("mixamorig:{s}HandIndex1", "{side}Hand", (0.09, 0.0, 0.0)),
                    ("mixamorig:{s}Toe_End", "{side}Toes", (0.0, 0.0, 0.05))], a_pose=True),
    RigSpec("3dsmax-biped", ("Bip01 Pelvis", "Bip01 Spine", "Bip01 Spine1", "Bip01 Spine2",
                             "Bip01 Neck", "Bip01 Head"),
            ("Bip01 {s} Clavicle", "Bip01 {s} UpperArm", "Bip01 {s} Forearm", "Bip01 {s} Hand"),
            ("Bip01 {s} Thigh", "Bip01 {s} Calf", "Bip01 {s} Foot", "Bip01 {s} Toe0"), ("L", "R"),
            inserts=[("Bip01", None, ("Hips",))],
            leaves=[("Bip01 {s} Finger0", "{side}Hand", (0.05, 0.0, 0.03)),
                    ("Bip01 HeadNub", "Head", (0.0, 0.18, 0.0))]),
    RigSpec("cmu-bvh", ("Hips", "lowerback", "Chest", "Chest2", "lowerneck", "Head"),
            ("{s}Collar", "{s}Shoulder", "{s}Elbow", "{s}Wrist"),
            ("{s}Hip", "{s}Knee", "{s}Ankle", "{s}Toe"), ("Left", "Right"),
            inserts=[("LHipJoint", "Hips", ("LeftUpperLeg",)),
                     ("RHipJoint", "Hips", ("RightUpperLeg",))],
            leaves=[("lhand", "LeftHand", (0.08, 0.0, 0.0)), ("rhand", "RightHand", (-0.08, 0, 0)),
                    ("LThumb", "LeftHand", (0.03, 0.0, 0.03))]),
    RigSpec("character-creator", ("CC_Base_Hip", "CC_Base_Waist", "CC_Base_Spine01",
                                  "CC_Base_Spine02", "CC_Base_NeckTwist01", "CC_Base_Head"),
            ("CC_Base_{s}_Clavicle", "CC_Base_{s}_Upperarm", "CC_Base_{s}_Forearm",
             "CC_Base_{s}_Hand"),
            ("CC_Base_{s}_Thigh", "CC_Base_{s}_Calf", "CC_Base_{s}_Foot", "CC_Base_{s}_ToeBase"),
            ("L", "R"), inserts=[("CC_Base_Pelvis", "Hips", ("LeftUpperLeg", "RightUpperLeg"))],
            leaves=[("CC_Base_{s}_UpperarmTwist01", "{side}UpperArm", (0.1, 0.0, 0.0)),
                    ("CC_Base_{s}_Index1", "{side}Hand", (0.09, 0.0, 0.0))]),
    RigSpec("daz-genesis", ("hip", "abdomenLower", "abdomenUpper", "chestUpper", "neckLower",
                            "head"),
            ("{s}Collar", "{s}ShldrBend", "{s}ForearmBend", "{s}Hand"),
            ("{s}ThighBend", "{s}Shin", "{s}Foot", "{s}Toe"), ("l", "r"),
            inserts=[("pelvis", "Hips", ("LeftUpperLeg", "RightUpperLeg")),
                     ("{s}ShldrTwist", "{side}UpperArm", ("{side}LowerArm",)),
                     ("{s}ForearmTwist", "{side}LowerArm", ("{side}Hand",)),
                     ("{s}Metatarsals", "{side}Foot", ("{side}Toes",))]),
    RigSpec("vrm", ("J_Bip_C_Hips", "J_Bip_C_Spine", "J_Bip_C_Chest", "J_Bip_C_UpperChest",
                    "J_Bip_C_Neck", "J_Bip_C_Head"),
            ("J_Bip_{s}_Shoulder", "J_Bip_{s}_UpperArm", "J_Bip_{s}_LowerArm", "J_Bip_{s}_Hand"),
            ("J_Bip_{s}_UpperLeg", "J_Bip_{s}_LowerLeg", "J_Bip_{s}_Foot", "J_Bip_{s}_ToeBase"),
            ("L", "R"), leaves=[("J_Bip_{s}_Index1", "{side}Hand", (0.09, 0.0, 0.0)),
                                ("J_Sec_Hair1_01", "Head", (0.0, 0.1, -0.1))], a_pose=True),
    RigSpec("kinect", ("SpineBase", "SpineMid", None, "SpineShoulder", "Neck", "Head"),
            (None, "Shoulder{s}", "Elbow{s}", "Wrist{s}"),
            ("Hip{s}", "Knee{s}", "Ankle{s}", "Foot{s}"), ("Left", "Right"),
            leaves=[("Hand{s}", "{side}Hand", (0.08, 0.0, 0.0)),
                    ("HandTip{s}", "{side}Hand", (0.15, 0.0, 0.0)),
                    ("Thumb{s}", "{side}Hand", (0.05, 0.0, 0.04))]),
    RigSpec("unity-suffix", ("Hips", "Spine", "Chest", "UpperChest", "Neck", "Head"),
            ("Shoulder_{s}", "UpperArm_{s}", "LowerArm_{s}", "Hand_{s}"),
            ("UpperLeg_{s}", "LowerLeg_{s}", "Foot_{s}", "Toes_{s}"), ("L", "R"),
            leaves=[("Index_Proximal_{s}", "{side}Hand", (0.09, 0.0, 0.0))]),
    RigSpec("numbered", tuple(f"joint{k}" for k in range(6)),
            ("joint{s}0", "joint{s}1", "joint{s}2", "joint{s}3"),
            ("joint{s}4", "joint{s}5", "joint{s}6", "joint{s}7"), ("1", "2"),
            leaves=[("joint{s}8", "{side}Hand", (0.09, 0.0, 0.0)),
                    ("joint{s}9", "{side}Hand", (0.04, 0.0, 0.04))], a_pose=True),
    RigSpec("smpl", ("Pelvis", "Spine1", "Spine2", "Spine3", "Neck", "Head"),
            ("{s}_Collar", "{s}_Shoulder", "{s}_Elbow", "{s}_Wrist"),
            ("{s}_Hip", "{s}_Knee", "{s}_Ankle", "{s}_Foot"), ("L", "R"),
            leaves=[("{s}_Hand", "{side}Hand", (0.08, 0.0, 0.0))], unit="m"),
    RigSpec("valve-biped", ("ValveBiped.Bip01_Pelvis", "ValveBiped.Bip01_Spine",
                            "ValveBiped.Bip01_Spine1", "ValveBiped.Bip01_Spine4",
                            "ValveBiped.Bip01_Neck1", "ValveBiped.Bip01_Head1"),
            ("ValveBiped.Bip01_{s}_Clavicle", "ValveBiped.Bip01_{s}_UpperArm",
             "ValveBiped.Bip01_{s}_Forearm", "ValveBiped.Bip01_{s}_Hand"),
            ("ValveBiped.Bip01_{s}_Thigh", "ValveBiped.Bip01_{s}_Calf",
             "ValveBiped.Bip01_{s}_Foot", "ValveBiped.Bip01_{s}_Toe0"), ("L", "R")),
    RigSpec("maya-jnt", ("pelvis_jnt", "spine_01_jnt", "spine_02_jnt", "chest_jnt", "neck_jnt",
                         "head_jnt"),
            ("{s}_clavicle_jnt", "{s}_upperArm_jnt", "{s}_foreArm_jnt", "{s}_wrist_jnt"),
            ("{s}_upperLeg_jnt", "{s}_lowerLeg_jnt", "{s}_ankle_jnt", "{s}_ball_jnt"), ("l", "r"),
            leaves=[("{s}_hand_end_jnt", "{side}Hand", (0.1, 0.0, 0.0))]),
    RigSpec("plain-words", ("Pelvis", "Lower Spine", "Middle Spine", "Upper Spine", "Neck",
                            "Head"),
            ("{s} Collarbone", "{s} Upper Arm", "{s} Forearm", "{s} Hand"),
            ("{s} Thigh", "{s} Shin", "{s} Foot", "{s} Toes"), ("Left", "Right")),
    RigSpec("motionbuilder", ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head"),
            ("{s}Shoulder", "{s}Arm", "{s}ForeArm", "{s}Hand"),
            ("{s}UpLeg", "{s}Leg", "{s}Foot", "{s}ToeBase"), ("Left", "Right"),
            leaves=[("{s}HandThumb1", "{side}Hand", (0.03, 0.0, 0.04)),
                    ("{s}ForeArmRoll", "{side}LowerArm", (0.1, 0.0, 0.0))]),
]  # fmt: skip


def _expand(text: str, side_word: str, canonical_side: str) -> str:
    return text.replace("{s}", side_word).replace("{side}", canonical_side)


def build_rig(spec: RigSpec) -> tuple[Skeleton, list[int]]:
    """The rig's skeleton (metres, Y-up before ``z_up``) and, per canonical joint, its index."""
    canonical = canonical_skeleton()
    names = spec.names()
    # joint records: name -> [parent name, offset, canonical name or None]
    parent_of = {n: (canonical.names[p] if p >= 0 else None) for n, p in
                 zip(canonical.names, canonical.parents, strict=True)}  # fmt: skip
    offset = {n: canonical.offsets_m[k].copy() for k, n in enumerate(canonical.names)}
    end_site = {canonical.names[k]: v.copy() for k, v in canonical.end_sites_m.items()}
    if spec.a_pose:  # arms 45 degrees down: rotate what hangs below each upper arm
        for side, angle in (("Left", -45.0), ("Right", 45.0)):
            tilt = quat_from_euler(np.array([0.0, 0.0, angle]), "XYZ")
            for part in ("LowerArm", "Hand"):
                offset[side + part] = quat_mul_vec3(tilt, offset[side + part])
            end_site[side + "Hand"] = quat_mul_vec3(tilt, end_site[side + "Hand"])
    records = {}  # key (canonical or extra name) -> (parent key, offset, source name)
    for n in canonical.names:
        records[n] = [parent_of[n], offset[n], names[n]]
    for new, parent, children in spec.inserts:
        for side_word, side in zip(spec.sides, ("Left", "Right"), strict=True):
            name = _expand(new, side_word, side)
            if name in records:
                continue
            kids = [_expand(c, side_word, side) for c in children]
            if parent is None:
                shift = np.zeros(3)
            else:
                shift = 0.5 * np.mean([records[c][1] for c in kids], axis=0)
            records[name] = [_expand(parent, side_word, side) if parent else None, shift, name]
            for c in kids:
                records[c][0] = name
                records[c][1] = records[c][1] - shift
    for new, parent, off in spec.leaves:
        for side_word, side in zip(spec.sides, ("Left", "Right"), strict=True):
            name = _expand(new, side_word, side)
            mirror = np.array(off) * ([-1.0, 1.0, 1.0] if side == "Right" and "{s}" in new else 1)
            records.setdefault(name, [_expand(parent, side_word, side), mirror, name])
    # merge joints the rig lacks into their parents
    for key, (parent, off, source) in list(records.items()):
        if source is None:
            for record in records.values():
                if record[0] == key:
                    record[0], record[1] = parent, record[1] + off
            del records[key]
    # depth-first order, parents first
    roots = [k for k, r in records.items() if r[0] is None]
    order: list[str] = []
    stack = roots[::-1]
    while stack:
        key = stack.pop()
        order.append(key)
        stack.extend([k for k, r in records.items() if r[0] == key][::-1])
    index = {k: i for i, k in enumerate(order)}
    turn = quat_from_euler(np.array([90.0, 0.0, 0.0]), "XYZ") if spec.z_up else None
    offsets = np.array([records[k][1] for k in order])
    sites = {index[k]: v for k, v in end_site.items() if k in index}
    if turn is not None:
        offsets = quat_mul_vec3(turn, offsets)
        sites = {k: quat_mul_vec3(turn, v) for k, v in sites.items()}
    rot = ("Zrotation", "Xrotation", "Yrotation")
    channels = tuple(("Xposition", "Yposition", "Zposition", *rot) if records[k][0] is None
                     else rot for k in order)  # fmt: skip
    skeleton = Skeleton(
        tuple(records[k][2] for k in order),
        np.array([index[records[k][0]] if records[k][0] else -1 for k in order]),
        offsets,
        channels,
        sites,
    )
    return skeleton, [index.get(n, -1) for n in canonical.names]


def rig_motion(spec: RigSpec, *, frames: int = 40, fps: float = 30.0, seed: int = 0) -> Motion:
    """Random smooth motion on the rig: canonical-like joints move, extra joints stay at rest."""
    skeleton, canonical_index = build_rig(spec)
    rng = np.random.default_rng(seed)
    angles = np.zeros((frames, skeleton.num_joints, 3))
    moving = [j for j in canonical_index if j >= 0]
    noise = gaussian_filter1d(rng.normal(0.0, 1.0, (frames, len(moving), 3)), 3.0, axis=0)
    angles[:, moving] = 40.0 * noise / max(float(np.abs(noise).max()), 1e-9)
    rotations = quat_from_euler(angles, "ZXY")
    root = np.zeros((frames, 3))
    root[:, 2] = np.linspace(0.0, 0.5, frames)
    if spec.z_up:
        turn = quat_from_euler(np.array([90.0, 0.0, 0.0]), "XYZ")
        back = quat_from_euler(np.array([-90.0, 0.0, 0.0]), "XYZ")
        rotations = quat_mul(quat_mul(turn, rotations), back)
        root = quat_mul_vec3(turn, root)
    root = root + skeleton.offsets_m[0]
    return Motion(skeleton, fps, root, rotations)


def write_corpus(folder: Path) -> list[tuple[RigSpec, Path]]:
    """Write one BVH per convention into ``folder``; returns (spec, path) pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for k, spec in enumerate(CORPUS):
        path = folder / f"{spec.name}.bvh"
        write_bvh(rig_motion(spec, seed=k), path, unit=spec.unit)
        written.append((spec, path))
    return written
