"""Vectorised unit-quaternion helpers.

Layout: ``[..., 4]`` arrays in **x, y, z, w** order (the glTF and scipy layout); identity is
``(0, 0, 0, 1)``. Rotations act on column vectors, so ``quat_mul(a, b)`` applies ``b`` first,
then ``a`` (``R(a*b) = R(a) @ R(b)``). Every function broadcasts over leading axes.

Euler angles follow BVH: an order such as ``"ZXY"`` lists intrinsic rotations left to right, so
the matrix is ``Rz @ Rx @ Ry``; angles are in degrees.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


def quat_identity(shape: tuple[int, ...] = ()) -> np.ndarray:
    """Identity quaternions of shape ``[*shape, 4]``."""
    q = np.zeros((*shape, 4))
    q[..., 3] = 1.0
    return q


def quat_normalize(q: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale ``q [..., 4]`` to unit length."""
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), eps)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` (rotate by ``b``, then by ``a``)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        axis=-1,
    )


def quat_inv(q: np.ndarray) -> np.ndarray:
    """Inverse of unit quaternions (the conjugate)."""
    return np.asarray(q, dtype=float) * np.array([-1.0, -1.0, -1.0, 1.0])


def quat_inv_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``inv(a) * b``: ``b`` expressed in the frame of ``a``."""
    return quat_mul(quat_inv(a), b)


def quat_mul_inv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * inv(b)``."""
    return quat_mul(a, quat_inv(b))


def quat_mul_vec3(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v [..., 3]`` by unit quaternions ``q [..., 4]``."""
    q = np.asarray(q, dtype=float)
    v = np.asarray(v, dtype=float)
    u = q[..., :3]
    t = 2.0 * _cross(u, v)
    return v + q[..., 3:4] * t + _cross(u, t)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` of 3-vectors ``[..., 3]`` (the same products and differences, without its
    per-call overhead: forward kinematics calls it twice per level of the hierarchy)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def quat_abs(q: np.ndarray) -> np.ndarray:
    """The same rotations with ``w >= 0`` (one of the two equal quaternions)."""
    q = np.asarray(q, dtype=float)
    return np.where(q[..., 3:4] < 0.0, -q, q)


def quat_unroll(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along ``axis`` (time) so consecutive quaternions lie in one hemisphere."""
    q = np.moveaxis(np.array(q, dtype=float), axis, 0)
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.cumprod(np.where(dots < 0.0, -1.0, 1.0), axis=0)
    q[1:] *= flips[..., None]
    return np.moveaxis(q, 0, axis)


def quat_slerp(
    a: np.ndarray, b: np.ndarray, t: np.ndarray | float, eps: float = 1e-8
) -> np.ndarray:
    """Shortest-path spherical interpolation from ``a`` (t=0) to ``b`` (t=1)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    t = np.asarray(t, dtype=float)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0.0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    small = sin_theta < eps
    safe = np.where(small, 1.0, sin_theta)
    wa = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(small, t, np.sin(t * theta) / safe)
    return quat_normalize(wa * a + wb * b)


def quat_between(u: np.ndarray, v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """The smallest rotation that turns direction ``u [..., 3]`` into direction ``v [..., 3]``."""
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), eps)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)
    w = 1.0 + np.sum(u * v, axis=-1, keepdims=True)
    xyz = np.cross(u, v)
    # Opposite directions: any axis perpendicular to u gives a half turn.
    opposite = (w < eps)[..., 0]
    if np.any(opposite):
        helper = np.where(
            np.abs(u[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
        )
        perp = np.cross(u, helper)
        perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
        xyz = np.where(opposite[..., None], perp, xyz)
        w = np.where(opposite[..., None], 0.0, w)
    return quat_normalize(np.concatenate([xyz, w], axis=-1))


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle in radians between orientations ``a`` and ``b`` (accurate near zero)."""
    delta = quat_inv_mul(a, b)
    return 2.0 * np.arctan2(np.linalg.norm(delta[..., :3], axis=-1), np.abs(delta[..., 3]))


def _check_order(order: str) -> str:
    order = order.upper()
    if order not in EULER_ORDERS:
        raise ValueError(f"Euler order must be one of {EULER_ORDERS}, got {order!r}")
    return order


def quat_from_euler(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Quaternions from intrinsic Euler angles ``[..., 3]`` in degrees, listed in ``order``."""
    angles = np.asarray(angles_deg, dtype=float)
    flat = Rotation.from_euler(_check_order(order), angles.reshape(-1, 3), degrees=True)
    return flat.as_quat().reshape(*angles.shape[:-1], 4)


def quat_to_euler(q: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles ``[..., 3]`` in degrees, listed in ``order``."""
    q = np.asarray(q, dtype=float)
    flat = Rotation.from_quat(q.reshape(-1, 4))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # gimbal lock: scipy still returns a valid set
        angles = flat.as_euler(_check_order(order), degrees=True)
    return angles.reshape(*q.shape[:-1], 3)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]``."""
    q = np.asarray(q, dtype=float)
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(*q.shape[:-1], 3, 3)


def quat_from_matrix(m: np.ndarray) -> np.ndarray:
    """Quaternions ``[..., 4]`` from rotation matrices ``[..., 3, 3]``."""
    m = np.asarray(m, dtype=float)
    return Rotation.from_matrix(m.reshape(-1, 3, 3)).as_quat().reshape(*m.shape[:-2], 4)


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """Scaled angle-axis vectors ``[..., 3]`` (radians) of the shortest rotation ``q`` describes."""
    q = quat_abs(q)
    return Rotation.from_quat(q.reshape(-1, 4)).as_rotvec().reshape(*q.shape[:-1], 3)


def quat_from_rotvec(v: np.ndarray) -> np.ndarray:
    """Quaternions ``[..., 4]`` from scaled angle-axis vectors ``[..., 3]`` (radians)."""
    v = np.asarray(v, dtype=float)
    return Rotation.from_rotvec(v.reshape(-1, 3)).as_quat().reshape(*v.shape[:-1], 4)


def euler_reorder(angles_deg: np.ndarray, from_order: str, to_order: str) -> np.ndarray:
    """Convert Euler angles between rotation orders, keeping the rotation they describe."""
    return quat_to_euler(quat_from_euler(angles_deg, from_order), to_order)
