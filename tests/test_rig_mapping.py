"""Rigs that map themselves: the naming-convention corpus (tests/rig_corpus.py) retargets with
no mapping file, every required joint on the right source joint, limb directions kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rig_corpus import CORPUS, rig_motion
from typer.testing import CliRunner

from musicdance.io.bvh import read_bvh, write_bvh
from musicdance.motion.quat import quat_between, quat_mul_vec3
from musicdance.motion.retarget import detect_up_axis, map_joints, retarget
from musicdance.motion.rigmap import map_by_topology, name_words, parse_joint_name

LIMB_BONES = [
    ("LeftUpperArm", "LeftLowerArm"), ("LeftLowerArm", "LeftHand"),
    ("RightUpperArm", "RightLowerArm"), ("RightLowerArm", "RightHand"),
    ("LeftUpperLeg", "LeftLowerLeg"), ("LeftLowerLeg", "LeftFoot"),
    ("RightUpperLeg", "RightLowerLeg"), ("RightLowerLeg", "RightFoot"),
]  # fmt: skip


def limb_direction_error_deg(source, result, names) -> float:
    """Largest angle (degrees) between a source limb bone (turned upright) and the target's."""
    skeleton, target = source.skeleton, result.skeleton
    up = detect_up_axis(source, skeleton.index(names["Hips"]), skeleton.index(names["Head"]))
    world = quat_between(up, np.array([0.0, 1.0, 0.0]))
    src, tgt = source.global_positions(), result.global_positions()
    worst = 0.0
    for a, b in LIMB_BONES:
        bone = src[:, skeleton.index(names[b])] - src[:, skeleton.index(names[a])]
        s = quat_mul_vec3(world, bone)
        t = tgt[:, target.index(b)] - tgt[:, target.index(a)]
        cos = np.sum(s * t, -1) / np.linalg.norm(s, axis=-1) / np.linalg.norm(t, axis=-1)
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()))
    return worst


def test_the_corpus_holds_at_least_twelve_conventions():
    assert len({spec.name for spec in CORPUS}) >= 12


@pytest.mark.parametrize("spec", CORPUS, ids=[s.name for s in CORPUS])
def test_every_convention_maps_with_no_map_file(spec, tmp_path):
    path = tmp_path / f"{spec.name}.bvh"
    write_bvh(rig_motion(spec), path, unit=spec.unit)
    motion = read_bvh(path)
    mapping = map_joints(motion.skeleton)
    for canonical, source in spec.expected().items():
        assert mapping.canonical_to_source.get(canonical) == source, (canonical, mapping.methods)
    result, used = retarget(motion)
    assert used.canonical_to_source == mapping.canonical_to_source
    assert limb_direction_error_deg(motion, result, used.canonical_to_source) < 0.05
    assert set(used.methods) == set(used.canonical_to_source)


TOPOLOGY_LIMITS = {"daz-genesis"}  # twist bones inside the arm chains: names needed


@pytest.mark.parametrize("spec", CORPUS, ids=[s.name for s in CORPUS])
def test_topology_alone_finds_every_structure_but_in_chain_twist_bones(spec, tmp_path):
    path = tmp_path / "rig.bvh"
    write_bvh(rig_motion(spec), path, unit=spec.unit)
    skeleton = read_bvh(path).skeleton
    found = {c: skeleton.names[j] for c, j in map_by_topology(skeleton).items()}
    correct = all(found.get(c) == s for c, s in spec.expected().items())
    assert correct == (spec.name not in TOPOLOGY_LIMITS), found


def test_numbered_rig_maps_by_topology_and_named_rigs_by_name():
    by_name = {spec.name: spec for spec in CORPUS}
    numbered = map_joints(rig_motion(by_name["numbered"]).skeleton)
    assert set(numbered.methods.values()) == {"topology"}
    assert numbered.convention == "generic+topology"
    unity = map_joints(rig_motion(by_name["unity-suffix"]).skeleton)
    assert unity.methods["LeftUpperArm"] == "synonym" and unity.convention == "generic"
    mixamo = map_joints(rig_motion(by_name["mixamo"]).skeleton)
    assert mixamo.convention == "mixamo" and set(mixamo.methods.values()) == {"name"}


@pytest.mark.parametrize(
    "name, side, key",
    [
        ("mixamorig:LeftUpLeg", "Left", "upleg"), ("upperarm_l", "Left", "upperarm"),
        ("upper_arm.R", "Right", "upperarm"), ("Bip01 L Thigh", "Left", "thigh"),
        ("lShldrBend", "Left", "shldr"), ("J_Bip_R_LowerArm", "Right", "lowerarm"),
        ("ElbowLeft", "Left", "elbow"), ("UpperArm_L", "Left", "upperarm"),
        ("lhand", "Left", "hand"), ("CC_Base_R_Calf", "Right", "calf"),
        ("Left-Foot", "Left", "foot"), ("rightToes", "Right", "toes"),
        ("LeftHandIndex1", None, ""), ("CC_Base_L_ForearmTwist01", None, ""),
    ],
)  # fmt: skip
def test_side_markers_and_synonyms(name, side, key):
    assert parse_joint_name(name) == (side, key)
    assert name_words("mixamorig:LeftForeArm") == ["left", "fore", "arm"]


def test_info_mapping_reports_how_each_joint_was_found(tmp_path):
    from mdtool.cli import app

    spec = next(s for s in CORPUS if s.name == "rigify")
    path = tmp_path / "rig.bvh"
    write_bvh(rig_motion(spec), path, unit=spec.unit)
    result = CliRunner().invoke(app, ["info", str(path), "--mapping", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["mapping"]
    joints = report["joints"]
    assert joints["LeftUpperArm"] == {"source": "DEF-upper_arm.L", "method": "synonym"}
    assert joints["Head"]["method"] == "topology"  # DEF-spine.006 says nothing
    text = CliRunner().invoke(app, ["info", str(path), "--mapping"])
    assert text.exit_code == 0 and "DEF-upper_arm.L" in text.output and "topology" in text.output
