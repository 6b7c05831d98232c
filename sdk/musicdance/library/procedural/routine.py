"""A small choreography language in beats, and its performance on the canonical skeleton.

A ``Choreo`` lists foot steps (when each foot leaves and lands, where, whether it takes the
weight), arm key poses, torso/pelvis/head key angles and the groove (the bounce every beat).
``perform`` turns it into frames: feet follow their steps and stay planted in between, the hips
ride over the support foot and bounce with the groove, and the limbs are solved by IK
(``rig.solve_body``).

Key poses move with *holds*: a key at beat ``b`` is held for ``hold / 2`` of the gap on each
side and the move between keys is eased, so the body is still on the counts (kinematic beats
fall on them) and snaps between them; a larger hold gives sharper, faster moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musicdance.library.procedural.poses import arm_pose
from musicdance.library.procedural.rig import (
    ANKLE_HEIGHT_M,
    HIP_DROP_M,
    LEG_M,
    BodyTargets,
    reachable_hips_height_m,
    solve_body,
)
from musicdance.motion.motion import Motion

#: Half the distance between the ankles in the neutral stance, metres.
STANCE_HALF_WIDTH_M = 0.11
#: Foot turn-out in the neutral stance, degrees (left foot turns towards +X).
TURNOUT_DEG = 8.0
#: Hips height with softly bent knees.
STAND_HEIGHT_M = ANKLE_HEIGHT_M + HIP_DROP_M + 0.965 * LEG_M


@dataclass
class Step:
    """One foot movement: leaves the floor at beat ``start``, lands at beat ``end``.

    foot: 0 left, 1 right. to_xz_m: landing ankle position on the floor. yaw_deg: landing
    heading of the foot (``None``: the dance heading plus turn-out). lift_m: apex height of
    the ankle above its floor height. apex_xz_m: horizontal bulge of the swing at its apex
    (a kick reaches forward). weight: the foot takes the weight when it lands (``False`` for a
    touch or tap).
    """

    foot: int
    start: float
    end: float
    to_xz_m: tuple[float, float]
    yaw_deg: float | None = None
    lift_m: float = 0.07
    apex_xz_m: tuple[float, float] = (0.0, 0.0)
    weight: bool = True


Key = tuple[float, tuple[float, ...]]


@dataclass
class Choreo:
    """A phrase in beats (see the module docstring). Angles in degrees, lengths in metres.

    arms: ``(beat, left pose, right pose)`` with pose names from ``poses.ARM_POSES`` (the right
    pose is mirrored). torso/pelvis/head: ``(beat, (pitch, yaw, roll))``. levels: ``(beat,
    height offset)`` of the hips. sway: ``(beat, (x, z))`` hips offset in the dance frame.
    turn: ``(beat, heading)``. groove: ``"down"`` (lowest on the beat), ``"up"`` (highest on
    the beat), ``"rise"`` (waltz rise and fall over each bar) or ``"none"``.
    """

    counts: int = 8
    meter: int = 4
    steps: list[Step] = field(default_factory=list)
    arms: list[tuple[float, str, str]] = field(default_factory=list)
    arm_hold: float = 0.3
    torso: list[Key] = field(default_factory=list)
    pelvis: list[Key] = field(default_factory=list)
    head: list[Key] = field(default_factory=list)
    body_hold: float = 0.3
    levels: list[tuple[float, float]] = field(default_factory=list)
    sway: list[Key] = field(default_factory=list)
    turn: list[tuple[float, float]] = field(default_factory=list)
    groove: str = "down"
    groove_depth_m: float = 0.05
    weight_follow: float = 0.45
    arm_amplitude: float = 1.0


def ease(u: np.ndarray) -> np.ndarray:
    """Quintic ease in [0, 1] -> [0, 1]: zero velocity and acceleration at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (u * (6.0 * u - 15.0) + 10.0)


def keyed(
    key_beats: np.ndarray, key_values: np.ndarray, beats: np.ndarray, hold: float = 0.0
) -> np.ndarray:
    """Values ``[T, ...]`` at ``beats [T]`` moving between keys ``[K, ...]`` at ``key_beats [K]``.

    Each key is held for ``hold / 2`` of the gap on either side; the move in between is eased.
    Before the first and after the last key the end values hold.
    """
    key_beats = np.asarray(key_beats, dtype=float)
    key_values = np.asarray(key_values, dtype=float)
    if len(key_beats) == 1:
        return np.broadcast_to(key_values[0], (len(beats), *key_values.shape[1:])).copy()
    i = np.clip(np.searchsorted(key_beats, beats, side="right") - 1, 0, len(key_beats) - 2)
    gap = key_beats[i + 1] - key_beats[i]
    u = (beats - key_beats[i]) / gap
    u = ease((u - hold / 2.0) / (1.0 - hold))
    u = u.reshape(-1, *([1] * (key_values.ndim - 1)))
    return key_values[i] + (key_values[i + 1] - key_values[i]) * u


def _keys(keys: list, beats: np.ndarray, default: tuple, hold: float) -> np.ndarray:
    if not keys:
        return np.broadcast_to(np.asarray(default, dtype=float), (len(beats), len(default))).copy()
    keys = sorted(keys, key=lambda k: k[0])
    return keyed([k[0] for k in keys], [k[1] for k in keys], beats, hold)


def _heading_deg(choreo: Choreo, beats: np.ndarray) -> np.ndarray:
    turn = [(b, (h,)) for b, h in choreo.turn]
    return _keys(turn, beats, (0.0,), 0.0)[:, 0]


def _feet(
    choreo: Choreo, beats: np.ndarray, heading_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ankle positions ``[T, 2, 3]``, foot yaw and pitch ``[T, 2]``, contacts ``[T, 2]``."""
    num = len(beats)
    ankles = np.zeros((num, 2, 3))
    yaw = np.zeros((num, 2))
    pitch = np.zeros((num, 2))
    contacts = np.ones((num, 2), dtype=bool)
    for foot, sign in ((0, 1.0), (1, -1.0)):
        here = np.array([sign * STANCE_HALF_WIDTH_M, 0.0])
        here_yaw = sign * TURNOUT_DEG
        ankles[:, foot] = [here[0], ANKLE_HEIGHT_M, here[1]]
        yaw[:, foot] = here_yaw
        for step in sorted((s for s in choreo.steps if s.foot == foot), key=lambda s: s.start):
            to = np.asarray(step.to_xz_m, dtype=float)
            end_heading = float(np.interp(step.end, beats, heading_deg))
            to_yaw = end_heading + sign * TURNOUT_DEG if step.yaw_deg is None else step.yaw_deg
            swing = (beats > step.start) & (beats < step.end)
            after = beats >= step.end
            u = (beats[swing] - step.start) / (step.end - step.start)
            e, arc = ease(u)[:, None], np.sin(np.pi * u)
            xz = here + (to - here) * e + np.asarray(step.apex_xz_m) * arc[:, None]
            ankles[swing, foot] = np.stack(
                [xz[:, 0], ANKLE_HEIGHT_M + step.lift_m * arc, xz[:, 1]], -1
            )
            yaw[swing, foot] = here_yaw + (to_yaw - here_yaw) * e[:, 0]
            pitch[swing, foot] = 30.0 * arc
            contacts[swing, foot] = False
            ankles[after, foot] = [to[0], ANKLE_HEIGHT_M, to[1]]
            yaw[after, foot] = to_yaw
            here, here_yaw = to, to_yaw
    return ankles, yaw, pitch, contacts


def _weight_keys(choreo: Choreo) -> list[tuple[float, tuple[float]]]:
    """Keys of the left-foot share of the weight (1 = all on the left) implied by the steps.

    While a foot swings the other one carries the weight; a weight-bearing step carries the
    hips along with the swing so that they arrive over the new foot as it lands (on the count;
    the hips settle a moment early so the body is still on the count itself).
    """
    keys: list[tuple[float, tuple[float]]] = []
    for step in sorted(choreo.steps, key=lambda s: s.start):
        on_other = 0.0 if step.foot == 0 else 1.0
        keys.append((step.start, (on_other,)))
        if step.weight:
            keys.append((step.end - 0.3 * (step.end - step.start), (1.0 - on_other,)))
    return keys


def _reach_drop(excess_m: np.ndarray, beats: np.ndarray, hold: float) -> np.ndarray:
    """How far to lower the hips ``[T]`` so the legs reach their ankle targets.

    ``excess_m [T]`` is how far the wanted height is above the reachable one. The drop is keyed
    on the beats (the largest excess within a beat either side of each), so the hips change
    level between counts rather than sagging after each landing; it is never less than the
    excess itself.
    """
    excess = np.clip(excess_m, 0.0, None)
    key_beats = np.arange(np.floor(beats[0]), np.ceil(beats[-1]) + 1.0)
    window = np.abs(beats[None, :] - key_beats[:, None]) <= 1.0
    key_drop = np.max(np.where(window, excess[None, :], 0.0), axis=1)
    return np.maximum(keyed(key_beats, key_drop[:, None], beats, hold)[:, 0], excess)


def _groove(choreo: Choreo, beats: np.ndarray) -> np.ndarray:
    """Hips drop ``[T]`` in [0, 1] of the groove depth."""
    phase = 2.0 * np.pi * beats
    if choreo.groove == "down":
        return 0.5 + 0.5 * np.cos(phase)
    if choreo.groove == "up":
        return 0.5 - 0.5 * np.cos(phase)
    if choreo.groove == "rise":  # down on 1 of each bar, rising through 2 and 3
        bar = beats % choreo.meter
        return np.interp(bar, [0.0, 0.5, 1.5, 2.5, 3.0], [1.0, 0.55, 0.0, 0.0, 1.0])
    return np.zeros_like(beats)


def perform(choreo: Choreo, *, bpm: float, fps: float) -> tuple[Motion, np.ndarray, np.ndarray]:
    """The motion of ``choreo`` at ``bpm``: ``(motion, contacts [T, 2], count_frames [C])``."""
    frames_per_beat = 60.0 / bpm * fps
    num_frames = int(round(choreo.counts * frames_per_beat))
    beats = np.arange(num_frames) / frames_per_beat
    count_frames = np.round(np.arange(choreo.counts) * frames_per_beat).astype(np.int64)

    heading = _heading_deg(choreo, beats)
    ankles, foot_yaw, foot_pitch, contacts = _feet(choreo, beats, heading)
    weight = _keys(_weight_keys(choreo), beats, (0.5,), 0.0)[:, 0]

    # Hips ride over the support foot, plus the choreographed sway (dance frame).
    left, right = ankles[:, 0, [0, 2]], ankles[:, 1, [0, 2]]
    hips_xz = 0.5 * (left + right) + choreo.weight_follow * (weight - 0.5)[:, None] * (left - right)
    sway = _keys(choreo.sway, beats, (0.0, 0.0), choreo.body_hold)
    h = np.radians(heading)
    hips_xz[:, 0] += np.cos(h) * sway[:, 0] + np.sin(h) * sway[:, 1]
    hips_xz[:, 1] += -np.sin(h) * sway[:, 0] + np.cos(h) * sway[:, 1]

    drop = _groove(choreo, beats)
    pelvis = _keys(choreo.pelvis, beats, (0.0, 0.0, 0.0), choreo.body_hold)
    pelvis[:, 0] += 6.0 * drop * (choreo.groove == "down")  # tuck into the down-groove
    pelvis[:, 1] += heading
    pelvis[:, 2] += 6.0 * (weight - 0.5)  # the support hip rides up

    levels = _keys([(b, (v,)) for b, v in choreo.levels], beats, (0.0,), choreo.body_hold)[:, 0]
    height = STAND_HEIGHT_M - choreo.groove_depth_m * drop + levels
    limit = reachable_hips_height_m(hips_xz, pelvis, ankles)
    hips = np.stack([hips_xz[:, 0], 0.0 * beats, hips_xz[:, 1]], -1)
    hips[:, 1] = height - _reach_drop(height - limit, beats, choreo.body_hold)

    torso = _keys(choreo.torso, beats, (0.0, 0.0, 0.0), choreo.body_hold)
    torso[:, 0] += 4.0 * drop * (choreo.groove != "none")
    torso[:, 1] -= 0.5 * (pelvis[:, 1] - heading)  # shoulders counter the hips' twist
    spine = torso[:, None, :] * np.array([0.25, 0.35, 0.4])[None, :, None]
    head = _keys(choreo.head, beats, (0.0, 0.0, 0.0), choreo.body_hold)
    head[:, 0] += 5.0 * drop * (choreo.groove != "none") - 0.6 * torso[:, 0]
    head_deg = np.stack([0.4 * head, 0.6 * head], axis=1)

    arms = _arms(choreo, beats)
    targets = BodyTargets(
        hips_m=hips,
        pelvis_deg=pelvis,
        spine_deg=spine,
        head_deg=head_deg,
        foot_yaw_deg=foot_yaw,
        foot_pitch_deg=foot_pitch,
        ankles_m=ankles,
        **arms,
    )
    return solve_body(targets, fps), contacts, count_frames


def _arms(choreo: Choreo, beats: np.ndarray) -> dict[str, np.ndarray]:
    """Wrist targets, elbow poles, clavicle and hand angles ``[T, 2, ...]`` from the arm keys."""
    keys = sorted(choreo.arms or [(0.0, "rest", "rest")], key=lambda k: k[0])
    key_beats = [k[0] for k in keys]
    out = {}
    per_side = []
    for s in (0, 1):
        poses = [arm_pose(k[1 + s], side=s, amplitude=choreo.arm_amplitude) for k in keys]
        per_side.append(
            {
                name: keyed(key_beats, np.array([p[name] for p in poses]), beats, choreo.arm_hold)
                for name in poses[0]
            }
        )
    for name in per_side[0]:
        out[name] = np.stack([per_side[0][name], per_side[1][name]], axis=1)
    return out
