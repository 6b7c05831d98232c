"""Retargeting onto the canonical humanoid: name maps, rest-pose alignment, user maps."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musicdance.errors import MusicDanceError
from musicdance.io.bvh import read_bvh
from musicdance.motion import Motion, Skeleton
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.quat import (
    quat_angle,
    quat_between,
    quat_from_euler,
    quat_inv,
    quat_inv_mul,
    quat_mul,
    quat_mul_vec3,
)
from musicdance.motion.retarget import (
    NAME_MAPS,
    detect_up_axis,
    load_mapping_file,
    map_joints,
    retarget,
)

LIMB_BONES = [
    ("LeftUpperArm", "LeftLowerArm"),
    ("LeftLowerArm", "LeftHand"),
    ("RightUpperArm", "RightLowerArm"),
    ("RightLowerArm", "RightHand"),
    ("LeftUpperLeg", "LeftLowerLeg"),
    ("LeftLowerLeg", "LeftFoot"),
    ("RightUpperLeg", "RightLowerLeg"),
    ("RightLowerLeg", "RightFoot"),
]


def test_real_files_retarget_with_matching_limb_directions(shared_bvh):
    motion = read_bvh(shared_bvh)
    result, mapping = retarget(motion)
    assert result.skeleton.names == canonical_skeleton().names
    assert result.num_frames == motion.num_frames and result.fps == motion.fps
    assert mapping.unmapped_canonical == []
    assert set(mapping.unmapped_source) == set(motion.skeleton.names) - set(
        mapping.canonical_to_source.values()
    )
    names = mapping.canonical_to_source
    source, target = motion.skeleton, result.skeleton
    up = detect_up_axis(motion, source.index(names["Hips"]), source.index(names["Head"]))
    world = quat_between(up, np.array([0.0, 1.0, 0.0]))
    src_pos, tgt_pos = motion.global_positions(), result.global_positions()
    for a, b in LIMB_BONES:
        src_dir = quat_mul_vec3(
            world, src_pos[:, source.index(names[b])] - src_pos[:, source.index(names[a])]
        )
        tgt_dir = tgt_pos[:, target.index(b)] - tgt_pos[:, target.index(a)]
        cos = (
            np.sum(src_dir * tgt_dir, -1)
            / np.linalg.norm(src_dir, axis=-1)
            / np.linalg.norm(tgt_dir, axis=-1)
        )
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 0.01, (a, b)
    # upright: the head is above the hips on average, feet near the floor
    assert np.mean(tgt_pos[:, target.index("Head"), 1] - tgt_pos[:, 0, 1]) > 0.3
    assert tgt_pos[:, target.index("LeftFoot"), 1].min() < 0.3


def _a_pose_source(motion: Motion) -> tuple[Motion, dict[str, np.ndarray]]:
    """The same global pose as ``motion``, on a Mixamo-named rig whose rest pose is an A-pose."""
    canonical = motion.skeleton
    to_mixamo = NAME_MAPS["mixamo"]
    tilt = {
        side: quat_from_euler(np.array([0.0, 0.0, angle]), "XYZ")
        for side, angle in (("Left", -45.0), ("Right", 45.0))
    }
    offsets = canonical.offsets_m.copy()
    end_sites = dict(canonical.end_sites_m)
    arm_joints = {}
    for side in ("Left", "Right"):
        for part in ("UpperArm", "LowerArm", "Hand"):
            j = canonical.index(side + part)
            arm_joints[j] = tilt[side]
            for child in canonical.children(j):
                offsets[child] = quat_mul_vec3(tilt[side], offsets[child])
            if j in end_sites:
                end_sites[j] = quat_mul_vec3(tilt[side], end_sites[j])
    skeleton = Skeleton(
        names=tuple(to_mixamo[n] for n in canonical.names),
        parents=canonical.parents,
        offsets_m=offsets,
        channels=canonical.channels,
        end_sites_m=end_sites,
    )
    _, global_rot = motion.global_transforms()
    source_global = global_rot.copy()
    for j, tilt_q in arm_joints.items():
        source_global[:, j] = quat_mul(global_rot[:, j], quat_inv(tilt_q))
    local = source_global.copy()
    local[:, 1:] = quat_inv_mul(source_global[:, canonical.parents[1:]], source_global[:, 1:])
    return Motion(skeleton, motion.fps, motion.root_positions_m, local), arm_joints


def test_a_pose_rig_transfers_onto_the_t_pose_canonical_rig():
    canonical = canonical_skeleton()
    rng = np.random.default_rng(7)
    angles = rng.uniform(-30, 30, (20, canonical.num_joints, 3))
    motion = Motion(
        canonical, 30.0, np.tile([0.0, 0.93, 0.0], (20, 1)), quat_from_euler(angles, "ZXY")
    )
    source, _ = _a_pose_source(motion)
    np.testing.assert_allclose(source.global_positions(), motion.global_positions(), atol=1e-9)
    result, mapping = retarget(source)
    assert mapping.convention == "mixamo"
    np.testing.assert_allclose(result.global_positions(), motion.global_positions(), atol=1e-6)
    assert np.degrees(quat_angle(result.rotations, motion.rotations)).max() < 1e-4


def test_user_mapping_file(tmp_path):
    canonical = canonical_skeleton()
    renamed = {name: f"bone_{i:02d}" for i, name in enumerate(canonical.names)}
    skeleton = Skeleton(
        tuple(renamed[n] for n in canonical.names),
        canonical.parents,
        canonical.offsets_m,
        canonical.channels,
        canonical.end_sites_m,
    )
    rng = np.random.default_rng(3)
    motion = Motion(
        skeleton,
        30.0,
        np.tile([0.0, 0.93, 0.0], (5, 1)),
        quat_from_euler(rng.uniform(-20, 20, (5, skeleton.num_joints, 3)), "ZXY"),
    )
    # names that say nothing: the topology finds every joint
    by_topology = map_joints(skeleton)
    assert by_topology.canonical_to_source == renamed
    assert set(by_topology.methods.values()) == {"topology"}
    chain = Skeleton(("a", "b", "c"), np.array([-1, 0, 1]), np.eye(3), canonical.channels[:3])
    with pytest.raises(MusicDanceError, match="cannot retarget: no source joint for Hips"):
        retarget(Motion(chain, 30.0, np.zeros((2, 3)), np.tile([0, 0, 0, 1.0], (2, 3, 1))))
    mapping_file = tmp_path / "map.json"
    mapping_file.write_text(json.dumps(renamed))
    result, mapping = retarget(motion, load_mapping_file(mapping_file))
    assert mapping.convention.endswith("+user")
    np.testing.assert_allclose(
        result.global_positions(),
        Motion(canonical, 30.0, motion.root_positions_m, motion.rotations).global_positions(),
        atol=1e-6,
    )


def test_partial_rig_reports_missing_and_unmapped_joints():
    canonical = canonical_skeleton()
    keep = [n for n in canonical.names if n not in ("UpperChest", "Neck")]
    mapping = map_joints(
        Skeleton(
            tuple(keep),
            np.array([-1] + [0] * (len(keep) - 1)),
            np.zeros((len(keep), 3)),
            canonical.channels[: len(keep)],
        )
    )
    assert set(mapping.unmapped_canonical) == {"UpperChest", "Neck"}


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not valid JSON"),
        ('["Hips"]', "must be a JSON object"),
        ('{"Tail": "x"}', "unknown canonical joints: Tail"),
    ],
)
def test_bad_mapping_files(tmp_path, content, message):
    path = tmp_path / "map.json"
    path.write_text(content)
    with pytest.raises(MusicDanceError, match=message):
        load_mapping_file(path)


def _knee_bend(motion: Motion, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: which way the shin points in the thigh's frame, seen along the thigh
    (degrees, 0 backwards = local -Z, 90 sideways), and the knee's bend in degrees."""
    skeleton = motion.skeleton
    thigh, shin, foot = (skeleton.index(f"{side}{n}") for n in ("UpperLeg", "LowerLeg", "Foot"))
    positions, rotations = motion.global_transforms()
    local = quat_mul_vec3(quat_inv(rotations[:, thigh]), positions[:, foot] - positions[:, shin])
    bend = np.degrees(np.arctan2(np.hypot(local[:, 0], local[:, 2]), -local[:, 1]))
    return np.degrees(np.arctan2(local[:, 0], -local[:, 2])), bend


def _legs_up_rig(motion: Motion, flip: np.ndarray) -> Motion:
    """``motion`` written on a rig whose legs point *up* at rest (as ``CC_Base``): each leg's
    rest offsets turned by the half turn ``flip``, its rotations compensated, so every joint
    lands where it did."""
    skeleton = motion.skeleton
    legs = [i for i, n in enumerate(skeleton.names) if "Leg" in n or "Foot" in n or "Toes" in n]
    offsets = skeleton.offsets_m.copy()
    for i in legs:
        if skeleton.names[i].endswith("UpperLeg"):
            continue  # the hip joint stays where it is; the bones below it turn
        offsets[i] = quat_mul_vec3(flip, offsets[i])
    end_sites = {
        i: quat_mul_vec3(flip, v) if i in legs else v for i, v in skeleton.end_sites_m.items()
    }
    rig = Skeleton(skeleton.names, skeleton.parents, offsets, skeleton.channels, end_sites)
    _, rotations = motion.global_transforms()
    flipped = rotations.copy()
    flipped[:, legs] = quat_mul(rotations[:, legs], quat_inv(flip))
    local = flipped.copy()
    local[:, 1:] = quat_inv_mul(flipped[:, skeleton.parents[1:]], flipped[:, 1:])
    return Motion(rig, motion.fps, motion.root_positions_m, local)


def test_legs_pointing_up_at_rest_keep_the_knee_hinge():
    """The rest pose cannot say a bone's twist when the source bone points the other way
    (``CC_Base`` legs point up at rest): the shortest rotation's twist is arbitrary. The
    retargeter takes it from the motion (the knee bends backwards in the thigh's frame) and
    carries it down the leg, so the canonical rotations come back."""
    from library_support import sample_phrases

    original = sample_phrases(style="pop", move="step-clap", energy="full", mirrored=False)[
        0
    ].motion
    axis = np.array([np.sin(np.radians(70.0)), 0.0, np.cos(np.radians(70.0))])
    flip = np.concatenate([axis, [0.0]])  # a half turn about a horizontal axis 70 deg off +Z
    source = _legs_up_rig(original, flip)
    assert np.abs(source.global_positions() - original.global_positions()).max() < 1e-9
    rest = source.skeleton.rest_positions_m()
    thigh, shin = source.skeleton.index("LeftUpperLeg"), source.skeleton.index("LeftLowerLeg")
    assert (rest[shin] - rest[thigh])[1] > 0.4  # the rest leg points up

    result, _ = retarget(source)
    assert np.abs(result.global_positions() - original.global_positions()).max() < 1e-6
    for side in ("Left", "Right"):
        direction, bend = _knee_bend(result, side)
        bent = bend > 20.0
        assert bent.sum() > 10
        assert abs(np.median(direction[bent])) < 5.0  # backwards, as in the canonical rig
    for name in ("LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "RightUpperLeg", "RightFoot"):
        k = result.skeleton.index(name)
        error = np.degrees(quat_angle(result.rotations[:, k], original.rotations[:, k]))
        assert error.max() < 1.0, name


def test_real_takes_bend_their_knees_and_elbows_the_canonical_way(shared_bvh):
    """Every shared take (the CMU/iClone ``CC_Base`` takes with their legs up at rest, the
    Rokoko rig with its right arm across the body) comes out with the knees bending backwards
    and the elbows forwards in their bones' frames, and the knee without a mean twist."""
    result, _ = retarget(read_bvh(shared_bvh))
    skeleton = result.skeleton
    positions, rotations = result.global_transforms()
    for side in ("Left", "Right"):
        direction, bend = _knee_bend(result, side)
        bent = bend > 20.0
        if bent.sum() >= 10:
            assert abs(np.median(direction[bent])) < 20.0, side
        thigh, shin = skeleton.index(f"{side}UpperLeg"), skeleton.index(f"{side}LowerLeg")
        knee = quat_inv_mul(rotations[:, thigh], rotations[:, shin])
        twist = np.degrees(2.0 * np.arctan2(knee[:, 1], knee[:, 3]))
        assert abs(np.median((twist + 180.0) % 360.0 - 180.0)) < 15.0, side
        upper, lower, hand = (
            skeleton.index(f"{side}{n}") for n in ("UpperArm", "LowerArm", "Hand")
        )
        forearm = quat_mul_vec3(
            quat_inv(rotations[:, upper]), positions[:, hand] - positions[:, lower]
        )
        elbow = np.degrees(
            np.arctan2(np.hypot(forearm[:, 1], forearm[:, 2]), np.abs(forearm[:, 0]))
        )
        bent = elbow > 20.0
        if bent.sum() >= 10:
            assert np.median(forearm[bent, 2]) > 0.0, side
