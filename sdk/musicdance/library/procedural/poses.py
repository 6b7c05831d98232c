"""Named arm poses for the procedural dancer, written for the left arm.

Each pose gives the wrist position in the upper-chest frame (metres from the UpperChest joint;
+X the figure's left, +Y up, +Z forward; the shoulder joint sits at about (0.17, 0.09, 0) and
the arm reaches 0.53 m), the direction the elbow points to, the clavicle (raise, forward) and
the wrist (pitch, yaw, roll) angles in degrees. The right arm uses the mirror image.
"""

from __future__ import annotations

import numpy as np

from musicdance.errors import MusicDanceError

_BACK = (0.3, -0.2, -1.0)
_OUT_DOWN = (1.0, -0.6, -0.3)
_DOWN_BACK = (0.3, -1.0, -0.4)

# name: (wrist xyz, elbow pole, clavicle (raise, forward), hand (pitch, yaw, roll))
ARM_POSES: dict[str, tuple[tuple, tuple, tuple, tuple]] = {
    "rest": ((0.25, -0.43, 0.05), _BACK, (0, 0), (0, 0, -10)),
    "low_front": ((0.20, -0.30, 0.28), _BACK, (0, 5), (0, 0, -20)),
    "hip": ((0.26, -0.36, 0.0), (1.0, 0.0, -0.4), (3, 0), (0, -30, 0)),
    "swing_fwd": ((0.21, -0.18, 0.40), _DOWN_BACK, (0, 8), (0, 0, -20)),
    "swing_back": ((0.25, -0.38, -0.24), (0.3, 0.0, -1.0), (0, -5), (0, 0, 0)),
    "swing_high": ((0.24, 0.12, 0.48), _DOWN_BACK, (5, 10), (-10, 0, 0)),
    "chest": ((0.10, 0.02, 0.32), _OUT_DOWN, (0, 8), (0, 30, 0)),
    "clap": ((0.035, 0.05, 0.40), _OUT_DOWN, (0, 12), (0, 60, 70)),
    "clap_high": ((0.05, 0.52, 0.24), (1.0, 0.0, -0.2), (15, 5), (0, 20, 70)),
    "punch": ((0.12, 0.12, 0.58), _DOWN_BACK, (0, 15), (0, 0, 0)),
    "punch_up": ((0.20, 0.70, 0.12), (1.0, -0.2, -0.3), (28, 0), (0, 0, 90)),
    "point_diag": ((0.48, 0.44, 0.26), _DOWN_BACK, (12, 5), (0, 0, 0)),
    "point_front": ((0.20, 0.18, 0.60), _DOWN_BACK, (5, 12), (0, 0, 0)),
    "point_side": ((0.68, 0.14, 0.10), (0.0, -1.0, -0.3), (5, 0), (0, 0, 0)),
    "point_down": ((0.40, -0.38, 0.30), _BACK, (0, 5), (0, 0, 0)),
    "overhead": ((0.15, 0.74, 0.06), (1.0, 0.0, -0.3), (30, 0), (0, 0, 90)),
    "v_up": ((0.45, 0.60, 0.08), (0.5, -0.5, -0.5), (25, 0), (0, 0, 0)),
    "t_side": ((0.69, 0.10, 0.02), (0.0, -1.0, -0.2), (0, 0), (0, 0, 0)),
    "low_diag": ((0.52, -0.32, 0.14), _BACK, (0, 0), (0, 0, 0)),
    "flex": ((0.44, 0.38, 0.02), (0.2, -1.0, 0.0), (10, 0), (0, 0, 90)),
    "lock": ((0.22, 0.22, 0.28), (0.3, -1.0, -0.1), (8, 8), (40, 0, 0)),
    "pop_bent": ((0.32, -0.04, 0.30), (0.6, -0.8, -0.4), (0, 5), (0, 0, -40)),
    "across": ((-0.10, -0.04, 0.38), (1.0, -0.6, 0.1), (0, 15), (0, 20, 0)),
    "wave_up": ((0.40, 0.60, 0.28), (0.6, -0.6, -0.2), (22, 5), (20, 0, 0)),
    "frame": ((0.50, 0.16, 0.24), (0.3, -1.0, -0.1), (5, 5), (0, 0, 0)),
    "frame_hold": ((0.06, 0.02, 0.38), (1.0, -0.4, -0.1), (5, 10), (0, 60, 0)),
    "arms_out_low": ((0.48, -0.22, 0.26), _BACK, (0, 5), (0, 0, -20)),
    "elbow_up": ((0.26, 0.10, 0.20), (0.6, 0.6, -0.3), (15, 0), (0, 0, -60)),
}


def arm_pose(name: str, *, side: int, amplitude: float = 1.0) -> dict[str, np.ndarray]:
    """The pose ``name`` for the left (``side=0``) or right (``side=1``) arm.

    amplitude: 1 is the pose as written, smaller values pull the wrist and the angles towards
    ``rest``. Returns ``wrists_m``, ``elbow_poles`` (``[3]``), ``clavicle_deg`` (``[2]``) and
    ``hand_deg`` (``[3]``).
    """
    if name not in ARM_POSES:
        raise MusicDanceError(f"unknown arm pose {name!r}")
    pose = [np.asarray(v, dtype=float) for v in ARM_POSES[name]]
    rest = [np.asarray(v, dtype=float) for v in ARM_POSES["rest"]]
    wrist, pole, clavicle, hand = (r + amplitude * (p - r) for p, r in zip(pose, rest, strict=True))
    mirror = np.array([-1.0, 1.0, 1.0]) if side == 1 else np.ones(3)
    return {
        "wrists_m": wrist * mirror,
        "elbow_poles": pole * mirror,
        "clavicle_deg": clavicle,
        "hand_deg": hand,
    }
