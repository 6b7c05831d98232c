"""A glTF character that is not the mannequin, made with the project's own glb writer, for the
studio's retargeting tests (``test_studio.py``) and ``bench_studio.py --character``.

Mixamo bone names (``mixamorig:Hips``, ``mixamorig:LeftArm``...), extra bones the dance does not
drive (``HeadTop_End``, index fingers), other proportions (legs 1.25x, arms 0.85x, spine
1.1x), an A-pose rest (arms 40 degrees down instead of the mannequin's T) and a random rest
rotation on every joint (as exported rigs have; the mesh and inverse bind matrices follow, so
the rest pose is unchanged by them), and no animation.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from musicdance.io.gltf_writer import write_glb
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.motion import Motion
from musicdance.motion.retarget import NAME_MAPS
from musicdance.motion.skeleton import Skeleton

LEG_SCALE, ARM_SCALE, SPINE_SCALE = 1.25, 0.85, 1.1
A_POSE_DEG = 40.0


def character_skeleton() -> Skeleton:
    """The character's joints in its rest pose (identity rotations: offsets carry the pose)."""
    canon = canonical_skeleton()
    mixamo = NAME_MAPS["mixamo"]
    names = [f"mixamorig:{mixamo[n]}" for n in canon.names]
    parents = list(canon.parents)
    offsets = canon.offsets_m.copy()
    for j, name in enumerate(canon.names):
        if any(w in name for w in ("Leg", "Foot", "Toes")):
            offsets[j] *= LEG_SCALE
        elif any(w in name for w in ("Arm", "Hand")):
            offsets[j] *= ARM_SCALE
        elif j > 0:
            offsets[j] *= SPINE_SCALE
    offsets[0] *= LEG_SCALE  # the hips stand on the longer legs
    for side, sign in (("Left", -1.0), ("Right", 1.0)):  # A-pose: the arms 40 degrees down
        turn = Rotation.from_euler("z", sign * A_POSE_DEG, degrees=True)
        for part in ("LowerArm", "Hand"):
            j = canon.index(side + part)
            offsets[j] = turn.apply(offsets[j])
    extra = [("mixamorig:HeadTop_End", "Head", [0.0, 0.18, 0.0])]
    for side in ("Left", "Right"):
        hand = canon.index(side + "Hand")
        extra.append((f"mixamorig:{side}HandIndex1", side + "Hand",
                      list(0.35 * offsets[hand])))  # fmt: skip
    for name, parent, offset in extra:
        names.append(name)
        parents.append(canon.index(parent))
        offsets = np.vstack([offsets, offset])
    channels = tuple(canon.channels) + (canon.channels[1],) * len(extra)
    return Skeleton(tuple(names), np.array(parents), offsets, channels)


def make_character(path: Path, *, seed: int = 0) -> Skeleton:
    """Write the character to ``path`` (.glb); returns its rest skeleton."""
    skeleton = character_skeleton()
    count = skeleton.num_joints
    rotations = np.zeros((2, count, 4))
    rotations[..., 3] = 1.0
    motion = Motion(skeleton=skeleton, fps=30.0,
                    root_positions_m=np.tile(skeleton.offsets_m[0], (2, 1)), rotations=rotations)
    write_glb(motion, path, name="character")
    data = Path(path).read_bytes()
    json_length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + json_length])
    blob = bytearray(data[20 + json_length + 8 :])
    # Random rest rotations; translations and inverse bind matrices keep the rest pose.
    rng = np.random.default_rng(seed)
    local = Rotation.from_rotvec(rng.normal(size=(count, 3)) * 0.6)
    positions = skeleton.rest_positions_m()
    world: list[Rotation] = []
    matrices = np.zeros((count, 4, 4), np.float32)
    for j in range(count):
        p = skeleton.parents[j]
        world.append(local[j] if p < 0 else world[p] * local[j])
        node = document["nodes"][j]
        node["rotation"] = local[j].as_quat().tolist()
        node["translation"] = (
            positions[j] if p < 0 else world[p].inv().apply(positions[j] - positions[p])
        ).tolist()
        bind = np.eye(4)
        bind[:3, :3] = world[j].as_matrix()
        bind[:3, 3] = positions[j]
        matrices[j] = np.linalg.inv(bind)
    accessor = document["accessors"][document["skins"][0]["inverseBindMatrices"]]
    view = document["bufferViews"][accessor["bufferView"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    column_major = matrices.transpose(0, 2, 1).astype("<f4").tobytes()
    blob[start : start + len(column_major)] = column_major
    document.pop("animations")
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    body = (struct.pack("<II", len(text), 0x4E4F534A) + text
            + struct.pack("<II", len(blob), 0x004E4942) + bytes(blob))  # fmt: skip
    Path(path).write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return skeleton
