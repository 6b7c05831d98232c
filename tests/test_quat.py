"""Property tests of the quaternion helpers against scipy's Rotation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from musicdance.motion.quat import (
    EULER_ORDERS,
    euler_reorder,
    quat_abs,
    quat_angle,
    quat_between,
    quat_from_euler,
    quat_inv,
    quat_inv_mul,
    quat_mul,
    quat_mul_vec3,
    quat_normalize,
    quat_slerp,
    quat_to_euler,
    quat_unroll,
)

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
vec3 = arrays(np.float64, 3, elements=finite).filter(lambda v: np.linalg.norm(v) > 1e-3)
raw4 = arrays(np.float64, 4, elements=finite).filter(lambda v: np.linalg.norm(v) > 1e-3)
quats = raw4.map(quat_normalize)


def same_rotation(a: np.ndarray, b: np.ndarray, tol: float = 1e-7) -> bool:
    return bool(abs(abs(np.dot(a, b)) - 1.0) < tol)


@given(quats, quats)
def test_mul_matches_matrix_product(a, b):
    expected = (Rotation.from_quat(a) * Rotation.from_quat(b)).as_quat()
    assert same_rotation(quat_mul(a, b), expected)


@given(quats, quats, quats)
def test_mul_is_associative(a, b, c):
    assert same_rotation(quat_mul(quat_mul(a, b), c), quat_mul(a, quat_mul(b, c)))


@given(quats)
def test_inverse_cancels(q):
    assert same_rotation(quat_mul(q, quat_inv(q)), np.array([0, 0, 0, 1.0]))
    assert same_rotation(quat_inv_mul(q, q), np.array([0, 0, 0, 1.0]))


@given(quats, vec3)
def test_rotate_vector_matches_scipy(q, v):
    np.testing.assert_allclose(quat_mul_vec3(q, v), Rotation.from_quat(q).apply(v), atol=1e-9)


@given(quats, quats, st.floats(0, 1))
def test_slerp_is_unit_and_hits_endpoints(a, b, t):
    mid = quat_slerp(a, b, t)
    assert abs(np.linalg.norm(mid) - 1) < 1e-9
    assert same_rotation(quat_slerp(a, b, 0.0), a)
    assert same_rotation(quat_slerp(a, b, 1.0), b)
    # constant angular speed: the angle from a is t times the whole angle
    assert abs(quat_angle(a, mid) - t * quat_angle(a, b)) < 1e-6


@given(vec3, vec3)
def test_between_turns_u_onto_v(u, v):
    q = quat_between(u, v)
    np.testing.assert_allclose(
        quat_mul_vec3(q, u / np.linalg.norm(u)), v / np.linalg.norm(v), atol=1e-7
    )


def test_between_opposite_directions():
    q = quat_between(np.array([0.0, 1, 0]), np.array([0.0, -1, 0]))
    np.testing.assert_allclose(quat_mul_vec3(q, [0, 1, 0]), [0, -1, 0], atol=1e-12)


@settings(max_examples=50)
@given(arrays(np.float64, 3, elements=st.floats(-170, 170)), st.sampled_from(EULER_ORDERS))
def test_euler_round_trip_and_bvh_meaning(angles, order):
    q = quat_from_euler(angles, order)
    # BVH meaning: channels listed left to right are intrinsic, R = R_first @ R_second @ R_third
    axes = {"X": [1, 0, 0], "Y": [0, 1, 0], "Z": [0, 0, 1]}
    matrix = np.eye(3)
    for axis, angle in zip(order, angles, strict=True):
        matrix = matrix @ Rotation.from_rotvec(np.radians(angle) * np.array(axes[axis])).as_matrix()
    assert same_rotation(q, Rotation.from_matrix(matrix).as_quat())
    assert same_rotation(quat_from_euler(quat_to_euler(q, order), order), q)


@given(quats, st.sampled_from(EULER_ORDERS), st.sampled_from(EULER_ORDERS))
def test_euler_reorder_keeps_rotation(q, first, second):
    angles = quat_to_euler(q, first)
    assert same_rotation(quat_from_euler(euler_reorder(angles, first, second), second), q, 1e-6)


@given(
    arrays(np.float64, (12, 4), elements=finite).filter(
        lambda a: np.all(np.linalg.norm(a, axis=1) > 1e-3)
    )
)
def test_unroll_keeps_rotations_and_removes_sign_flips(raw):
    q = quat_normalize(raw)
    unrolled = quat_unroll(q)
    for a, b in zip(q, unrolled, strict=True):
        assert same_rotation(a, b)
    assert np.all(np.sum(unrolled[1:] * unrolled[:-1], axis=-1) >= 0)
    assert np.all(quat_abs(unrolled)[:, 3] >= 0)
