"""Small vectorised inverse-kinematics helpers for posing limbs from target positions."""

from __future__ import annotations

import numpy as np

from musicdance.motion.quat import quat_from_matrix


def _unit(v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def frame_rotation(
    rest_primary: np.ndarray, rest_secondary: np.ndarray, primary: np.ndarray, secondary: np.ndarray
) -> np.ndarray:
    """Rotations ``[..., 4]`` that turn ``rest_primary`` onto ``primary`` exactly and
    ``rest_secondary`` as close to ``secondary`` as that allows (a "look-at" with an up hint).
    """

    def basis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        x = _unit(a)
        z = _unit(np.cross(x, b))
        y = np.cross(z, x)
        return np.stack([x, y, z], axis=-1)  # columns

    rest = basis(np.asarray(rest_primary, float), np.asarray(rest_secondary, float))
    target = basis(np.asarray(primary, float), np.asarray(secondary, float))
    return quat_from_matrix(target @ np.swapaxes(rest, -1, -2))


def two_bone_ik(
    root_m: np.ndarray,
    target_m: np.ndarray,
    pole_m: np.ndarray,
    upper_length_m: float,
    lower_length_m: float,
    *,
    soft_from: float | np.ndarray | None = None,
) -> np.ndarray:
    """Middle-joint positions ``[..., 3]`` (knee or elbow) of a two-bone chain.

    root_m: chain start (hip or shoulder). target_m: where the chain should end (ankle or
    wrist); pulled in to 99.9 % of full reach when it is too far. pole_m: direction ``[..., 3]``
    the middle joint bends towards (forward for knees, backward for elbows).
    soft_from: with a fraction of full reach (e.g. 0.96; or one per chain, ``[...]``), reaches
    beyond it are eased in (``soft_reach``) so the chain straightens gradually instead of
    snapping straight.
    """
    root_m = np.asarray(root_m, float)
    reach = target_m - root_m
    distance = np.linalg.norm(reach, axis=-1, keepdims=True)
    total = upper_length_m + lower_length_m
    if soft_from is not None:
        soft = np.minimum(np.asarray(soft_from, dtype=float)[..., None], 0.998) * total
        distance = soft_reach(distance, soft, total)
    distance = np.clip(distance, abs(upper_length_m - lower_length_m) + 1e-6, 0.999 * total)
    along = _unit(reach)
    bend = _unit(pole_m - np.sum(pole_m * along, axis=-1, keepdims=True) * along)
    cos_root = (upper_length_m**2 + distance**2 - lower_length_m**2) / (
        2 * upper_length_m * distance
    )
    sin_root = np.sqrt(np.clip(1.0 - cos_root**2, 0.0, 1.0))
    return root_m + upper_length_m * (cos_root * along + sin_root * bend)


def soft_reach(distance_m: np.ndarray, soft_m: float | np.ndarray, total_m: float) -> np.ndarray:
    """Distances ``[...]`` eased towards full reach: unchanged up to ``soft_m`` (broadcast),
    beyond it ``total - (total - soft) * exp(-(d - soft) / (total - soft))``, which meets the
    straight line with the same slope and never quite reaches ``total_m`` (soft IK)."""
    distance_m = np.asarray(distance_m, dtype=float)
    room = np.maximum(total_m - np.asarray(soft_m, dtype=float), 1e-9)
    eased = total_m - room * np.exp(-np.maximum(distance_m - soft_m, 0.0) / room)
    return np.where(distance_m > soft_m, eased, distance_m)
