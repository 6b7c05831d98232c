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

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.ndimage import gaussian_filter1d

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


#: The body holds the neutral boundary pose (arms at rest, angles neutral, the groove at
#: ``BOUNDARY_GROOVE_M``) still for this many beats at the start and at the end of a phrase,
#: and eases out of and into it, so that any phrase joins any other without a velocity jump
#: (the start: ``Choreo.settle_in_beats``, this by default).
SETTLE_IN_BEATS = 0.2
SETTLE_OUT_BEATS = 0.35
#: Groove depth at the phrase boundaries (every energy meets the same hips height there),
#: reached over ``GROOVE_RAMP_BEATS`` from the phrase's own depth.
BOUNDARY_GROOVE_M = 0.07
GROOVE_RAMP_BEATS = 1.0


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
    the beat), ``"rise"`` (waltz rise and fall over each bar) or ``"none"``. max_speed_mps,
    max_accel_mps2: limits of every key-to-key move (wrist targets in metres; angles count as
    a point 0.5 m out). anticipation: strength of the arms' anticipation and follow-through.
    hip_turn_deg_per_m: hip yaw per metre the left foot is ahead of the right; hip_twist_deg:
    hip yaw towards the standing leg; landing_depth_m: how far the knees give on a landing.
    settle_in_beats: how long the body takes to leave the boundary pose (``at_boundaries``);
    anticipation_in_beats: the arms' anticipation grows in over this many beats from the start.
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
    max_speed_mps: float = 3.2
    max_accel_mps2: float = 40.0
    anticipation: float = 0.2
    hip_turn_deg_per_m: float = 45.0
    hip_twist_deg: float = 6.0
    landing_depth_m: float = 0.02
    settle_in_beats: float = SETTLE_IN_BEATS
    anticipation_in_beats: float = 0.0


def ease(u: np.ndarray) -> np.ndarray:
    """Quintic ease in [0, 1] -> [0, 1]: zero velocity and acceleration at both ends."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (u * (6.0 * u - 15.0) + 10.0)


def keyed(
    key_beats: np.ndarray,
    key_values: np.ndarray,
    beats: np.ndarray,
    hold: float | np.ndarray = 0.0,
) -> np.ndarray:
    """Values ``[T, ...]`` at ``beats [T]`` moving between keys ``[K, ...]`` at ``key_beats [K]``.

    Each key is held for ``hold / 2`` of the gap on either side (``hold``: one value, or one
    per gap ``[K - 1]``); the move in between is eased. Before the first and after the last key
    the end values hold.
    """
    key_beats = np.asarray(key_beats, dtype=float)
    key_values = np.asarray(key_values, dtype=float)
    if len(key_beats) == 1:
        return np.broadcast_to(key_values[0], (len(beats), *key_values.shape[1:])).copy()
    i = np.clip(np.searchsorted(key_beats, beats, side="right") - 1, 0, len(key_beats) - 2)
    gap = key_beats[i + 1] - key_beats[i]
    u = (beats - key_beats[i]) / gap
    h = np.broadcast_to(np.asarray(hold, dtype=float), (len(key_beats) - 1,))[i]
    u = ease((u - h / 2.0) / (1.0 - h))
    u = u.reshape(-1, *([1] * (key_values.ndim - 1)))
    return key_values[i] + (key_values[i + 1] - key_values[i]) * u


def limited_holds(
    key_beats: np.ndarray,
    key_values: np.ndarray,
    hold: float,
    *,
    seconds_per_beat: float,
    max_speed: float,
    max_acceleration: float,
) -> np.ndarray:
    """Per-gap holds ``[K - 1]``: ``hold``, shortened where the eased move between two keys
    would be faster than ``max_speed`` or accelerate harder than ``max_acceleration`` (units of
    the values per second and per second squared; a quintic ease of distance D over tau seconds
    peaks at 1.875 D / tau and 5.77 D / tau^2)."""
    key_values = np.asarray(key_values, dtype=float).reshape(len(key_beats), -1)
    distance = np.linalg.norm(np.diff(key_values, axis=0), axis=-1)
    gap_s = np.maximum(np.diff(np.asarray(key_beats, dtype=float)), 1e-6) * seconds_per_beat
    needed_s = np.maximum(1.875 * distance / max_speed, np.sqrt(5.77 * distance / max_acceleration))
    return np.clip(np.minimum(hold, 1.0 - needed_s / gap_s), 0.0, 0.95)


def _keys(
    keys: list, beats: np.ndarray, default: tuple, hold: float, limit: tuple | None = None
) -> np.ndarray:
    """Keyed values ``[T, D]``; ``limit``: ``(seconds_per_beat, max_speed, max_acceleration)``
    for ``limited_holds`` (angles in degrees)."""
    if not keys:
        return np.broadcast_to(np.asarray(default, dtype=float), (len(beats), len(default))).copy()
    keys = sorted(keys, key=lambda k: k[0])
    keys = [
        k
        for k, after in zip(keys, [*keys[1:], None], strict=True)
        if after is None or after[0] > k[0]
    ]
    key_beats = np.array([k[0] for k in keys], dtype=float)
    values = np.array([k[1] for k in keys], dtype=float)
    if limit is not None and len(keys) > 1:
        spb, speed, acceleration = limit
        hold = limited_holds(
            key_beats, values, hold, seconds_per_beat=spb, max_speed=speed,
            max_acceleration=acceleration,
        )  # fmt: skip
    return keyed(key_beats, values, beats, hold)


def _heading_deg(choreo: Choreo, beats: np.ndarray) -> np.ndarray:
    """The dance heading ``[T]``: straight between the turn keys, the corners rounded over
    about a fifth of a beat, so a turn keeps a steady speed between its start and its end."""
    if not choreo.turn:
        return np.zeros_like(beats)
    keys = sorted(choreo.turn)
    heading = np.interp(beats, [k[0] for k in keys], [k[1] for k in keys])
    beats_per_frame = beats[1] - beats[0] if len(beats) > 1 else 1.0
    return soften(heading, 0.2 / beats_per_frame)


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
            # The foot peels off and sets down softly: no vertical speed at take-off or landing.
            e, arc = ease(u)[:, None], np.sin(np.pi * u) ** 2
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
    # Still on the count, bouncing straight through the "and" (no stop there: a stop on the
    # "and" is a kinematic beat between the counts).
    bounce = np.abs(np.cos(np.pi * beats))
    if choreo.groove == "down":
        return bounce
    if choreo.groove == "up":
        return 1.0 - bounce
    if choreo.groove == "rise":  # down on 1 of each bar, rising through 2 and 3
        bar = beats % choreo.meter
        return np.interp(bar, [0.0, 0.5, 1.5, 2.5, 3.0], [1.0, 0.55, 0.0, 0.0, 1.0])
    return np.zeros_like(beats)


def at_boundaries(choreo: Choreo) -> Choreo:
    """``choreo`` with its keys and steps kept out of the boundary settles: steps land by
    ``counts - SETTLE_OUT_BEATS`` (the last count's footwork squeezed in time); arm keys
    inside the first ``choreo.settle_in_beats`` or after the last count's beat are dropped and
    the rest pose keyed at ``SETTLE_IN_BEATS / 2`` (the arms rise into their first pose from
    there: a move that starts at a join is its gentlest) and at the last settle's edge; body
    keys (torso, pelvis, head, sway, levels) inside the settles are dropped and neutral keys
    put at 0, the settle edges and ``counts``."""
    n = float(choreo.counts)
    settle_in, settle_out = choreo.settle_in_beats, n - SETTLE_OUT_BEATS
    # Steps of the last count landing too late are squeezed in time (after the last count's
    # beat, towards the settle), keeping their order: no new moment in the air.
    last = max((step.end for step in choreo.steps), default=0.0)
    anchor = n - 1.0
    steps = list(choreo.steps)
    if last > settle_out and last > anchor:
        scale = (settle_out - anchor) / (last - anchor)

        def squeeze(beat: float) -> float:
            return beat if beat <= anchor else anchor + (beat - anchor) * scale

        steps = [replace(s, start=squeeze(s.start), end=squeeze(s.end)) for s in steps]
    # No arm key after the last count: the arms come back to rest from its pose.
    arms = [k for k in choreo.arms if settle_in < k[0] <= n - 1.0]
    arms = [(0.0, "rest", "rest"), (SETTLE_IN_BEATS / 2, "rest", "rest"), *arms,
            (settle_out, "rest", "rest"), (n, "rest", "rest")]  # fmt: skip

    def body(keys: list, zero) -> list:
        inside = [k for k in keys if settle_in < k[0] < settle_out]
        return [(0.0, zero), (settle_in, zero), *inside, (settle_out, zero), (n, zero)]

    z3 = (0.0, 0.0, 0.0)
    return replace(
        choreo,
        steps=steps,
        arms=arms,
        torso=body(choreo.torso, z3),
        pelvis=body(choreo.pelvis, z3),
        head=body(choreo.head, z3),
        sway=body(choreo.sway, (0.0, 0.0)),
        levels=[(b, v[0]) for b, v in body([(b, (v,)) for b, v in choreo.levels], (0.0,))],
    )


def perform(choreo: Choreo, *, bpm: float, fps: float) -> tuple[Motion, np.ndarray, np.ndarray]:
    """The motion of ``choreo`` at ``bpm``: ``(motion, contacts [T, 2], count_frames [C])``.

    On top of the keys, the body moves the way animators key it: every key-to-key move is
    eased and no faster than the choreography's speed limits (``limited_holds``); arms
    anticipate a move and follow through past its end (``anticipate``); the hands trail the
    forearms and the head trails the chest (overlapping action, ``trail``); the hips ride over
    the support foot, turn with the stepping feet and tilt over the standing leg while the
    shoulders counter them; the knees give on every landing. Every phrase starts and ends
    still in the same neutral boundary pose (``at_boundaries``, ``settle``), so phrases join
    without a jump in pose or velocity.
    """
    choreo = at_boundaries(choreo)
    targets, contacts, count_frames, beats, heading = _targets(choreo, bpm=bpm, fps=fps)
    neutral = Choreo(
        counts=choreo.counts,
        meter=choreo.meter,
        groove=choreo.groove,
        groove_depth_m=BOUNDARY_GROOVE_M if choreo.groove != "none" else 0.0,
    )
    boundary = _targets(neutral, bpm=bpm, fps=fps)[0]
    boundary.pelvis_deg[:, 1] += heading
    settled = settle(targets, boundary, beats, choreo.counts, choreo.settle_in_beats)
    return solve_body(settled, fps), contacts, count_frames


#: Fields of ``BodyTargets`` eased into the boundary pose (the feet are planted already and
#: the hips' horizontal place follows them).
_SETTLED = ("pelvis_deg", "spine_deg", "head_deg", "clavicle_deg", "wrists_m", "elbow_poles",
            "hand_deg")  # fmt: skip


#: Fields of ``BodyTargets`` that belong to the arms.
_ARMS = ("clavicle_deg", "wrists_m", "elbow_poles", "hand_deg")


def settle(
    targets: BodyTargets,
    boundary: BodyTargets,
    beats: np.ndarray,
    counts: int,
    settle_in_beats: float = SETTLE_IN_BEATS,
):
    """``targets`` eased into ``boundary`` (same shapes) at both ends of the phrase: equal to
    it with no velocity at beat 0 and at beat ``counts``, untouched after
    ``settle_in_beats`` and before ``counts - SETTLE_OUT_BEATS``."""
    w_end = ease((counts - beats) / SETTLE_OUT_BEATS)
    w = np.minimum(ease(beats / settle_in_beats), w_end)
    # The arms are keyed at rest until SETTLE_IN_BEATS / 2 and eased in over SETTLE_IN_BEATS at
    # most: easing them over a longer settle would steepen their rise into the first pose.
    w_arms = np.minimum(ease(beats / min(settle_in_beats, SETTLE_IN_BEATS)), w_end)
    out = {}
    for name in BodyTargets.__dataclass_fields__:
        value = getattr(targets, name)
        if name in _SETTLED or name == "hips_m":
            b = getattr(boundary, name)
            ww = (w_arms if name in _ARMS else w).reshape(-1, *([1] * (value.ndim - 1)))
            if name == "hips_m":  # the height; the hips' place comes to rest over the feet
                b = b.copy()
                half = len(value) // 2
                b[:half, [0, 2]] = value[0, [0, 2]]
                b[half:, [0, 2]] = value[-1, [0, 2]]
            value = b + (value - b) * ww
        out[name] = value
    return BodyTargets(**out)


def _targets(choreo: Choreo, *, bpm: float, fps: float):
    """``(BodyTargets, contacts [T, 2], count_frames [C], beats [T], heading_deg [T])`` of
    ``choreo`` at ``bpm`` (see ``perform``)."""
    frames_per_beat = 60.0 / bpm * fps
    seconds_per_beat = 60.0 / bpm
    num_frames = int(round(choreo.counts * frames_per_beat))
    beats = np.arange(num_frames) / frames_per_beat
    count_frames = np.round(np.arange(choreo.counts) * frames_per_beat).astype(np.int64)
    # Angles (degrees) are limited as if they moved a point 0.5 m out on a lever.
    angle_limit = (seconds_per_beat, choreo.max_speed_mps * 114.6, choreo.max_accel_mps2 * 114.6)

    heading = _heading_deg(choreo, beats)
    ankles, foot_yaw, foot_pitch, contacts = _feet(choreo, beats, heading)
    weight = _keys(_weight_keys(choreo), beats, (0.5,), 0.0)[:, 0]

    # Hips ride over the support foot, plus the choreographed sway (dance frame).
    left, right = ankles[:, 0, [0, 2]], ankles[:, 1, [0, 2]]
    hips_xz = 0.5 * (left + right) + choreo.weight_follow * (weight - 0.5)[:, None] * (left - right)
    sway = _keys(
        choreo.sway,
        beats,
        (0.0, 0.0),
        choreo.body_hold,
        angle_limit[:1] + (choreo.max_speed_mps, choreo.max_accel_mps2),
    )
    h = np.radians(heading)
    hips_xz[:, 0] += np.cos(h) * sway[:, 0] + np.sin(h) * sway[:, 1]
    hips_xz[:, 1] += -np.sin(h) * sway[:, 0] + np.cos(h) * sway[:, 1]
    hips_xz = soften(hips_xz, 0.06 * fps)

    drop = _groove(choreo, beats)
    ramp = np.minimum(
        ease(beats / GROOVE_RAMP_BEATS), ease((choreo.counts - beats) / GROOVE_RAMP_BEATS)
    )
    edge_depth = BOUNDARY_GROOVE_M if choreo.groove != "none" else 0.0
    depth = edge_depth + (choreo.groove_depth_m - edge_depth) * ramp
    pelvis = _keys(choreo.pelvis, beats, (0.0, 0.0, 0.0), choreo.body_hold, angle_limit)
    pelvis[:, 0] += 6.0 * drop * (choreo.groove == "down")  # tuck into the down-groove
    # The hips turn with the feet (the hip over the forward foot goes forward) and open towards
    # the standing leg; the standing hip rides up.
    ahead = _dance_frame_z(ankles, h)
    pelvis[:, 1] += soften(
        -choreo.hip_turn_deg_per_m * ahead + choreo.hip_twist_deg * 2.0 * (weight - 0.5),
        0.08 * fps,
    )
    pelvis[:, 2] += soften(10.0 * (weight - 0.5), 0.05 * fps)
    pelvis[:, 1] += heading

    levels = _keys(
        [(b, (v,)) for b, v in choreo.levels],
        beats,
        (0.0,),
        choreo.body_hold,
        (seconds_per_beat, choreo.max_speed_mps, choreo.max_accel_mps2),
    )[:, 0]
    height = STAND_HEIGHT_M - depth * drop + levels - _landings(choreo, beats)
    height = soften(height, 0.05 * fps)
    limit = reachable_hips_height_m(hips_xz, pelvis, ankles)
    hips = np.stack([hips_xz[:, 0], 0.0 * beats, hips_xz[:, 1]], -1)
    hips[:, 1] = height - _reach_drop(height - limit, beats, choreo.body_hold)

    torso = _keys(choreo.torso, beats, (0.0, 0.0, 0.0), choreo.body_hold, angle_limit)
    torso[:, 0] += 4.0 * drop * (choreo.groove != "none")
    torso[:, 1] -= 0.5 * (pelvis[:, 1] - heading)  # shoulders counter the hips' twist
    torso[:, 2] -= 0.6 * (pelvis[:, 2])  # and their tilt
    torso = soften(trail(torso, 0.02 * fps), 0.05 * fps)  # the chest trails the hips a little
    spine = torso[:, None, :] * np.array([0.25, 0.35, 0.4])[None, :, None]
    head = _keys(choreo.head, beats, (0.0, 0.0, 0.0), choreo.body_hold, angle_limit)
    head[:, 0] += 5.0 * drop * (choreo.groove != "none") - 0.6 * torso[:, 0]
    # The head trails the chest: it keeps its direction for a moment while the chest turns.
    lag = int(round(0.1 * fps))
    head -= 0.5 * (torso - trail(torso, lag))
    head = soften(trail(head, 0.05 * fps), 0.05 * fps)
    head_deg = np.stack([0.4 * head, 0.6 * head], axis=1)

    arms = _arms(choreo, beats, seconds_per_beat, fps)
    targets = BodyTargets(
        hips_m=hips,
        pelvis_deg=soften(pelvis, 0.04 * fps),
        spine_deg=spine,
        head_deg=head_deg,
        foot_yaw_deg=foot_yaw,
        foot_pitch_deg=foot_pitch,
        ankles_m=ankles,
        **arms,
    )
    return targets, contacts, count_frames, beats, heading


def soften(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing along time (axis 0) over ``sigma_frames``; ends held."""
    if sigma_frames <= 0:
        return values
    return gaussian_filter1d(np.asarray(values, dtype=float), sigma_frames, axis=0, mode="nearest")


def trail(values: np.ndarray, frames: float) -> np.ndarray:
    """``values [T, ...]`` delayed by ``frames`` (fractional; the first value holds)."""
    t = np.arange(len(values), dtype=float)
    source = np.clip(t - frames, 0.0, len(values) - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, len(values) - 1)
    w = (source - low).reshape(-1, *([1] * (values.ndim - 1)))
    return values[low] * (1.0 - w) + values[high] * w


def anticipate(values: np.ndarray, frames: int, amount: float | np.ndarray) -> np.ndarray:
    """Anticipation and follow-through: ``x - amount * (x[t + d] - 2 x[t] + x[t - d])``.

    Before a move starts the curve first dips against it; after the move stops it carries on a
    little and settles back (the second difference is positive while a move speeds up and
    negative while it slows down). ``frames``: d; ``amount``: one value or one per frame
    ``[T, 1]``; ends held.
    """
    if frames < 1 or np.all(np.asarray(amount) <= 0):
        return values
    padded = np.concatenate([values[:1].repeat(frames, 0), values, values[-1:].repeat(frames, 0)])
    ahead, behind = padded[2 * frames :], padded[: len(values)]
    return values - amount * (ahead - 2.0 * values + behind)


def limit_steps(values: np.ndarray, max_step: float) -> np.ndarray:
    """``values [T, D]`` moving at most ``max_step`` (Euclidean) from one frame to the next.

    The mean of a forward and a backward rate-limited pass: both obey the limit, so their mean
    does too, and the lag of one cancels the lead of the other.
    """

    def one_way(x: np.ndarray) -> np.ndarray:
        out = x.copy()
        for t in range(1, len(x)):
            delta = out[t] - out[t - 1]
            norm = np.linalg.norm(delta)
            if norm > max_step:
                out[t] = out[t - 1] + delta * (max_step / norm)
        return out

    return 0.5 * (one_way(values) + one_way(values[::-1])[::-1])


def _dance_frame_z(ankles: np.ndarray, heading_rad: np.ndarray) -> np.ndarray:
    """How far the left ankle is ahead of the right one in the dance frame, ``[T]`` metres."""
    d = ankles[:, 0] - ankles[:, 1]
    return np.sin(heading_rad) * d[:, 0] + np.cos(heading_rad) * d[:, 2]


def _landings(choreo: Choreo, beats: np.ndarray) -> np.ndarray:
    """Hips drop ``[T]`` (metres) where the knees give: after each weight-bearing landing, and
    a small crouch before a high kick or hop (anticipation)."""
    dip = np.zeros_like(beats)
    for step in choreo.steps:
        depth = choreo.landing_depth_m * (0.5 + min(step.lift_m, 0.3) / 0.15)
        if step.weight:
            u = (beats - step.end + 0.25) / 0.5  # lowest as the foot lands
            inside = (u > 0) & (u < 1)
            dip[inside] += depth * np.sin(np.pi * u[inside]) ** 2
        if step.lift_m > 0.15:
            u = (beats - step.start + 0.5) / 0.6
            inside = (u > 0) & (u < 1)
            dip[inside] += 0.5 * depth * np.sin(np.pi * u[inside]) ** 2
    return dip


#: No wrist target moves faster than this relative to the chest, metres per second.
HARD_WRIST_SPEED_MPS = 4.5
#: The shoulder joint in the upper-chest frame (left side; the right mirrors it), metres.
SHOULDER_M = np.array([0.17, 0.09, 0.0])


def _swing(wrists_m: np.ndarray, progress: np.ndarray, side: int) -> np.ndarray:
    """Wrist targets ``[T, 3]`` swinging between key wrists ``[K, 3]`` in arcs round the shoulder.

    progress ``[T]``: key index plus the eased fraction of the way to the next key. Direction
    from the shoulder and reach are interpolated separately, so the hand travels on an arc the
    arm can follow; moves between nearly opposite directions swing out in front of the body
    rather than folding the arm through the shoulder.
    """
    shoulder = SHOULDER_M * (np.array([-1.0, 1.0, 1.0]) if side == 1 else 1.0)
    out_front = np.array([0.45 if side == 0 else -0.45, 0.0, 0.9])
    rel = wrists_m - shoulder
    reach = np.linalg.norm(rel, axis=-1)
    unit = rel / np.maximum(reach, 1e-9)[:, None]
    i = np.clip(np.floor(progress).astype(int), 0, len(wrists_m) - 1)
    j = np.minimum(i + 1, len(wrists_m) - 1)
    u = (progress - i)[:, None]
    opposite = 0.5 * (1.0 - np.sum(unit[i] * unit[j], axis=-1, keepdims=True))
    direction = unit[i] + (unit[j] - unit[i]) * u
    direction += 1.2 * opposite * np.sin(np.pi * u) * out_front
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-9)
    return shoulder + direction * (reach[i] + (reach[j] - reach[i]) * u[:, 0])[:, None]


def _arms(
    choreo: Choreo, beats: np.ndarray, seconds_per_beat: float, fps: float
) -> dict[str, np.ndarray]:
    """Wrist targets, elbow poles, clavicle and hand angles ``[T, 2, ...]`` from the arm keys.

    Wrist moves are eased within the speed limits, anticipated and followed through; elbow
    poles, clavicles and hands follow the wrist, the hands a little later (overlapping action).
    """
    keys = sorted(choreo.arms or [(0.0, "rest", "rest")], key=lambda k: k[0])
    key_beats = np.array([k[0] for k in keys], dtype=float)
    # The anticipation grows in from the phrase's start: a dip against the first rise out of
    # the boundary pose, cut short by the settle, was the sharpest jerk of a gentle start.
    amount = choreo.anticipation
    if choreo.anticipation_in_beats > 0:
        amount = amount * ease(beats / choreo.anticipation_in_beats)[:, None]
    out = {}
    per_side = []
    for s in (0, 1):
        poses = [arm_pose(k[1 + s], side=s, amplitude=choreo.arm_amplitude) for k in keys]
        wrists = np.array([p["wrists_m"] for p in poses])
        hold = choreo.arm_hold
        if len(keys) > 1:
            hold = limited_holds(
                key_beats, wrists, choreo.arm_hold, seconds_per_beat=seconds_per_beat,
                max_speed=choreo.max_speed_mps, max_acceleration=choreo.max_accel_mps2,
            )  # fmt: skip
        side = {
            name: keyed(key_beats, np.array([p[name] for p in poses]), beats, hold)
            for name in poses[0]
            if name != "wrists_m"
        }
        side["wrists_m"] = _swing(wrists, keyed(key_beats, np.arange(len(keys)), beats, hold), s)
        side["wrists_m"] = soften(
            limit_steps(
                anticipate(side["wrists_m"], int(round(0.12 * fps)), amount),
                HARD_WRIST_SPEED_MPS / fps,
            ),
            0.04 * fps,
        )
        side["elbow_poles"] = soften(side["elbow_poles"], 0.06 * fps)
        side["clavicle_deg"] = soften(trail(side["clavicle_deg"], 0.03 * fps), 0.05 * fps)
        side["hand_deg"] = soften(trail(side["hand_deg"], 0.08 * fps), 0.06 * fps)
        per_side.append(side)
    for name in per_side[0]:
        out[name] = np.stack([per_side[0][name], per_side[1][name]], axis=1)
    return out
