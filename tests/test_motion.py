"""Forward kinematics and the motion verbs (slice, concatenate, resample, mirror)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicdance.errors import MusicDanceError
from musicdance.motion import (
    Motion,
    Skeleton,
    concatenate,
    mirror,
    mirror_name,
    resample,
    sample,
    slice_frames,
)
from musicdance.motion.canonical import REQUIRED_JOINTS, canonical_skeleton
from musicdance.motion.quat import quat_from_euler, quat_identity, quat_normalize


def random_motion(skeleton: Skeleton, num_frames: int, seed: int, fps: float = 30.0) -> Motion:
    rng = np.random.default_rng(seed)
    angles = rng.uniform(-60, 60, (num_frames, skeleton.num_joints, 3))
    return Motion(
        skeleton=skeleton,
        fps=fps,
        root_positions_m=rng.normal(0, 0.5, (num_frames, 3)),
        rotations=quat_from_euler(angles, "ZXY"),
    )


def test_forward_kinematics_of_a_known_chain():
    chain = Skeleton(
        names=("root", "mid", "tip"),
        parents=np.array([-1, 0, 1]),
        offsets_m=np.array([[0, 0, 0], [1.0, 0, 0], [0, 2.0, 0]]),
        channels=(("Zrotation", "Xrotation", "Yrotation"),) * 3,
    )
    rotations = quat_identity((1, 3))
    rotations[0, 0] = quat_from_euler(np.array([90.0, 0, 0]), "ZXY")  # 90 deg about +Z
    motion = Motion(chain, 30.0, np.array([[0.0, 0.0, 5.0]]), rotations)
    positions, globals_ = motion.global_transforms()
    np.testing.assert_allclose(positions[0], [[0, 0, 5], [0, 1, 5], [-2, 1, 5]], atol=1e-12)
    np.testing.assert_allclose(globals_[0, 2], rotations[0, 0], atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_forward_kinematics_keeps_bone_lengths(seed):
    skeleton = canonical_skeleton()
    positions = random_motion(skeleton, 5, seed).global_positions()
    rest = skeleton.rest_positions_m()
    for j in range(1, skeleton.num_joints):
        p = skeleton.parents[j]
        lengths = np.linalg.norm(positions[:, j] - positions[:, p], axis=-1)
        np.testing.assert_allclose(lengths, np.linalg.norm(rest[j] - rest[p]), atol=1e-9)


@pytest.mark.parametrize("translated", [False, True])
def test_forward_kinematics_by_levels_equals_joint_by_joint(translated):
    """Forward kinematics runs one level of the hierarchy at a time; the result is the
    joint-by-joint recursion's, bit for bit (with and without animated joint offsets)."""
    from musicdance.motion.quat import quat_mul, quat_mul_vec3
    from musicdance.motion.skeleton import forward_kinematics

    skeleton = canonical_skeleton()
    motion = random_motion(skeleton, 7, seed=4)
    rng = np.random.default_rng(5)
    offsets = rng.normal(0, 0.2, (7, skeleton.num_joints, 3)) if translated else None
    expected_rot = motion.rotations.copy()
    expected_pos = np.zeros((7, skeleton.num_joints, 3))
    expected_pos[:, 0] = motion.root_positions_m
    for j in range(1, skeleton.num_joints):
        p = skeleton.parents[j]
        offset = skeleton.offsets_m[j] if offsets is None else offsets[:, j]
        expected_rot[:, j] = quat_mul(expected_rot[:, p], motion.rotations[:, j])
        expected_pos[:, j] = expected_pos[:, p] + quat_mul_vec3(expected_rot[:, p], offset)
    positions, rotations = forward_kinematics(
        skeleton, motion.rotations, motion.root_positions_m, offsets
    )
    np.testing.assert_array_equal(positions, expected_pos)
    np.testing.assert_array_equal(rotations, expected_rot)


def test_quaternion_products_match_numpy_cross():
    """``quat_mul_vec3``'s own cross product is ``np.cross``, bit for bit."""
    from musicdance.motion.quat import _cross, quat_mul_vec3

    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(40, 5, 3)), rng.normal(size=(5, 3))
    np.testing.assert_array_equal(_cross(a, b), np.cross(a, b))
    q = quat_normalize(rng.normal(size=(40, 5, 4)))
    u = q[..., :3]
    t = 2.0 * np.cross(u, b)
    np.testing.assert_array_equal(quat_mul_vec3(q, b), b + q[..., 3:4] * t + np.cross(u, t))


def test_canonical_skeleton_uses_unity_names_and_stands_on_the_floor():
    skeleton = canonical_skeleton()
    assert set(REQUIRED_JOINTS) <= set(skeleton.names)
    rest = skeleton.rest_positions_m()
    assert rest[:, 1].min() == pytest.approx(0.02, abs=0.03)  # toes at the floor
    head_top = rest[skeleton.index("Head")] + skeleton.end_sites_m[skeleton.index("Head")]
    assert head_top[1] == pytest.approx(1.7, abs=0.01)
    assert rest[skeleton.index("LeftHand"), 0] > 0 > rest[skeleton.index("RightHand"), 0]


def test_slice_and_concatenate_round_trip():
    motion = random_motion(canonical_skeleton(), 20, seed=1)
    parts = [slice_frames(motion, 0, 7), slice_frames(motion, 7, 15), slice_frames(motion, 15)]
    assert [p.num_frames for p in parts] == [7, 8, 5]
    joined = concatenate(parts)
    np.testing.assert_array_equal(joined.rotations, motion.rotations)
    np.testing.assert_array_equal(joined.root_positions_m, motion.root_positions_m)


def test_concatenate_rejects_different_fps():
    a = random_motion(canonical_skeleton(), 3, seed=1)
    b = random_motion(canonical_skeleton(), 3, seed=2, fps=60)
    with pytest.raises(MusicDanceError):
        concatenate([a, b])


def test_resample_keeps_duration_and_original_frames():
    motion = random_motion(canonical_skeleton(), 31, seed=3)
    double = resample(motion, 60.0)
    assert double.num_frames == 61
    assert double.duration_s == pytest.approx(motion.duration_s)
    np.testing.assert_allclose(double.global_positions()[::2], motion.global_positions(), atol=1e-9)
    back = resample(double, 30.0)
    np.testing.assert_allclose(back.global_positions(), motion.global_positions(), atol=1e-9)


def test_sample_interpolates_halfway():
    motion = random_motion(canonical_skeleton(), 2, seed=4)
    half = sample(motion, np.array([0.5 / motion.fps]))
    np.testing.assert_allclose(half.root_positions_m[0], motion.root_positions_m.mean(axis=0))
    norms = np.linalg.norm(half.rotations, axis=-1)
    np.testing.assert_allclose(norms, 1.0)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000))
def test_mirror_reflects_positions_and_swaps_sides(seed):
    motion = random_motion(canonical_skeleton(), 4, seed)
    mirrored = mirror(motion)
    perm = motion.skeleton.mirror_pairs()
    expected = motion.global_positions()[:, perm] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(mirrored.global_positions(), expected, atol=1e-9)
    twice = mirror(mirrored)
    np.testing.assert_allclose(twice.global_positions(), motion.global_positions(), atol=1e-9)


@pytest.mark.parametrize(
    "name, twin",
    [
        ("LeftHand", "RightHand"),
        ("RightUpLeg", "LeftUpLeg"),
        ("CC_Base_L_Foot", "CC_Base_R_Foot"),
        ("LHipJoint", "RHipJoint"),
        ("lhand", "rhand"),
        ("Bip01 L Thigh", "Bip01 R Thigh"),
        ("mixamorig:LeftArm", "mixamorig:RightArm"),
        ("Hips", "Hips"),
    ],
)
def test_mirror_name(name, twin):
    assert mirror_name(name) == twin


def test_problems_reports_nan_and_non_unit_quaternions():
    motion = random_motion(canonical_skeleton(), 5, seed=5)
    assert motion.problems() == []
    motion.rotations[2, 3] = [0.0, 0.0, 0.0, 2.0]
    motion.root_positions_m[4, 1] = np.nan
    found = " ".join(motion.problems())
    assert "frame 4" in found and "non-unit quaternion at frame 2" in found


def test_motion_rejects_wrong_shapes():
    skeleton = canonical_skeleton()
    with pytest.raises(ValueError):
        Motion(skeleton, 30.0, np.zeros((3, 3)), quat_normalize(np.ones((3, 5, 4))))
