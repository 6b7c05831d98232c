"""Contact-aware correction: keep planted feet planted, without knee pops.

While a foot is in contact, its ankle is pinned (horizontally) where the contact began and the
leg is re-solved with two-bone IK; the hips, the foot's own orientation and everything above
stay as they were. The pin is blended in over the first ``BLEND_S`` of each contact (a smooth
step from the foot's own path, so its velocity stays continuous) and out over ``BLEND_S`` after
it while the foot leaves the floor; the leg is never solved for a foot in the air: the weight
falls to zero as the ankle rises ``AIR_M`` above where the contact ended, and outside its
contacts and releases a leg keeps the pose it had. The knee bends towards a pole that is
smoothed over the contact and falls back on the foot's forward direction when the leg is nearly
straight (where the knee's own offset says nothing), and reaches beyond ``SOFT_REACH`` of the
leg's length are eased in (soft IK) instead of snapping the knee straight. This removes the
sliding that joins (and time warping) would otherwise add.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.ndimage import gaussian_filter1d

from musicdance.motion.analysis import contacts_from_signals, foot_signals
from musicdance.motion.ik import two_bone_ik
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_between, quat_inv_mul, quat_mul, quat_mul_vec3

LEGS = (
    ("LeftUpperLeg", "LeftLowerLeg", "LeftFoot"),
    ("RightUpperLeg", "RightLowerLeg", "RightFoot"),
)
#: Seconds (at least) over which a contact's pin is blended out after it ends.
BLEND_S = 0.12
#: Seconds before a contact over which the pin is blended in while the foot comes down (one
#: frame at 30 fps: longer ramps were measured to add skating and lower no join peak).
BLEND_IN_S = 0.034
#: Contacts shorter than this (s) are touches, not plants: the leg is left as it is.
MIN_LOCK_S = 0.12
#: Speed (m/s) at which a released ankle catches up with its own path, for at most
#: ``MAX_RELEASE_S`` (and at least ``BLEND_S``).
RELEASE_MPS = 0.5
MAX_RELEASE_S = 0.2
#: Height (m) above where the contact ended at which a leaving foot is no longer solved for.
AIR_M = 0.15
#: Fraction of the leg's full length beyond which reaches are eased in (soft IK).
SOFT_REACH = 0.97
#: Gaussian sigma (frames) of the knee pole's smoothing over a contact.
POLE_SMOOTH_FRAMES = 2.0
#: Length (m) of the foot-forward hint added to the knee's own bend direction: it decides the
#: bend only when the knee's offset from the hip-ankle line is shorter than a few cm.
POLE_HINT_M = 0.03
#: ``carry_feet``: drift (m) one plant may carry before the foot steps again (a planted leg
#: then reaches at most half of it either way): ``STEP_M``, or what the floor drifts in
#: ``STRIDE_S`` when it drifts faster, at most ``MAX_STEP_M`` (longer steps, not more of them,
#: for a faster walk); an added step is ``STEP_S`` off the floor and ``LIFT_M`` high at its
#: middle (a sine to the power 1.5: lifted and set down gently, its middle frames above
#: ``AIR_FREE_M``, where moving the foot cannot read as sliding); corrections below
#: ``CARRY_TOLERANCE_M`` are left alone.
STEP_M = 0.15
STRIDE_S = 0.4
MAX_STEP_M = 0.6
STEP_S = 0.27
LIFT_M = 0.08
CARRY_TOLERANCE_M = 1e-4
#: A foot that rises less than this (m) between two contacts has not left the floor.
RISE_M = 0.02
#: Height (m) above both plants above which a foot in the air is surely off the floor, and the
#: fewest frames it must spend there for a gap to carry a correction (a quick low step).
AIR_FREE_M = 0.05
MIN_AIR_FRAMES = 3
#: A foot with a point within ``FLOOR_M`` of the floor and slower than ``TOUCH_MPS`` touches
#: it (the contact detector's reading): up to ``LANDING_FRAMES`` such frames next to a plant
#: join it (the landing and the lift-off are held, not slid), leaving ``MIN_AIR_FRAMES`` of
#: the gap free.
FLOOR_M = 0.05
TOUCH_MPS = 0.3
LANDING_FRAMES = 3


def _blend_frames(blend_s: float, fps: float) -> int:
    return max(int(round(blend_s * fps)), 1)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def mask_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` frames of each run of ``True`` in a ``[T]`` mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2], strict=True)]


def locked_runs(contact: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """The contact runs of ``contact [T]`` long enough (``MIN_LOCK_S``) to pin the foot."""
    shortest = MIN_LOCK_S * fps - 1e-6
    return [(a, b) for a, b in mask_runs(contact) if b - a >= shortest]


def contact_spans(contact: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """``[start, stop)`` frames each contact run of one foot (``contact [T]``) may act on in
    ``lock_feet``: the run with its approach (``BLEND_IN_S`` before it) and its longest
    release. Where that foot's leg is locked, a frame's pose depends only on its own pose and,
    for each span it lies in, on the poses of the first and last frames of the span's run; the
    other leg does not matter."""
    approach = _blend_frames(BLEND_IN_S, fps)
    release = _blend_frames(MAX_RELEASE_S, fps)
    return [
        (max(start - approach, 0), min(stop + release, len(contact)))
        for start, stop in mask_runs(contact)
    ]


def _span_weights(
    start: int,
    stop: int,
    total: int,
    fps: float,
    blend_s: float,
    heights_m: np.ndarray | None,
    offset_m: float,
) -> tuple[int, np.ndarray]:
    """The first frame and the weights of one contact run's span (see ``contact_weights``)."""
    approach = _blend_frames(BLEND_IN_S, fps)
    catch_up_s = offset_m / RELEASE_MPS
    release = _blend_frames(min(max(blend_s, catch_up_s), MAX_RELEASE_S), fps)
    first, end = max(start - approach, 0), min(stop + release, total)
    before = _smoothstep((np.arange(first - start, 0) + approach + 1) / (approach + 1.0))
    after = _smoothstep(1.0 - (np.arange(end - stop) + 1) / (release + 1.0))
    if heights_m is not None:  # never for a foot in the air
        before = before * _smoothstep(1.0 - (heights_m[first:start] - heights_m[start]) / AIR_M)
        after = after * _smoothstep(1.0 - (heights_m[stop:end] - heights_m[stop - 1]) / AIR_M)
    return first, np.concatenate([before, np.ones(stop - start), after])


def contact_weights(
    contact: np.ndarray,
    fps: float,
    blend_s: float = BLEND_S,
    heights_m: np.ndarray | None = None,
    offsets_m: np.ndarray | None = None,
) -> np.ndarray:
    """How much each frame's ankle follows its pin, ``[T]`` in 0..1: 1 during each contact run
    of at least ``MIN_LOCK_S`` (so a planted foot never slides), a smooth step up over
    ``BLEND_IN_S`` before it while the foot comes down, and a smooth step down after it, over
    ``blend_s`` or the time the ankle needs to catch up with its own path at ``RELEASE_MPS``
    (``offsets_m [T]``: the distance from the pin to the free ankle, read at the run's last
    frame), at most ``MAX_RELEASE_S``. Where ``heights_m [T]`` is given, the ramps are scaled
    by a smooth step that reaches 0 where the ankle is ``AIR_M`` above its height at the run's
    first (before) or last (after) frame: a foot in the air is never solved for."""
    weight = np.zeros(len(contact))
    for start, stop in locked_runs(contact, fps):
        offset = 0.0 if offsets_m is None else float(offsets_m[stop - 1])
        first, w = _span_weights(start, stop, len(contact), fps, blend_s, heights_m, offset)
        span = slice(first, first + len(w))
        weight[span] = np.minimum(weight[span] + w, 1.0)
    return weight


def contact_targets(
    ankles_m: np.ndarray, contact: np.ndarray, fps: float, blend_s: float = BLEND_S
) -> tuple[np.ndarray, np.ndarray]:
    """Where one ankle should be, ``[T, 3]``, and how much the leg is solved for it, ``[T]``
    (``contact_weights``): x and z move from the free path towards the first position of each
    contact run by that run's weight (runs whose ramps overlap share the frame)."""
    total = len(ankles_m)
    free = ankles_m[:, [0, 2]]
    pull = np.zeros((total, 2))
    weight = np.zeros(total)
    for start, stop in locked_runs(contact, fps):
        offset = float(np.linalg.norm(free[stop - 1] - free[start]))
        first, w = _span_weights(start, stop, total, fps, blend_s, ankles_m[:, 1], offset)
        span = slice(first, first + len(w))
        pull[span] += w[:, None] * (free[start] - free[span])
        weight[span] += w
    target = ankles_m.copy()
    target[:, [0, 2]] = free + pull / np.maximum(weight, 1.0)[:, None]
    return target, np.minimum(weight, 1.0)


def knee_poles(
    hips_m: np.ndarray,
    knees_m: np.ndarray,
    ankles_m: np.ndarray,
    forward: np.ndarray,
    contact: np.ndarray,
) -> np.ndarray:
    """Directions ``[T, 3]`` the knee bends towards: the knee's offset from the hip-ankle line
    plus ``POLE_HINT_M`` of the foot's forward direction (``forward [T, 3]``), smoothed over
    each run of ``contact`` (Gaussian, ``POLE_SMOOTH_FRAMES``) and made unit length.
    ``lock_feet`` passes the frames its pin acts on (the contact with its blends in and out):
    a pole smoothed over the contact alone turned at the release, where a nearly straight
    leg's bend is ill-defined, and the blended knee swung (131 m/s^2 in a real take's knee)."""
    along = ankles_m - hips_m
    along = along / np.maximum(np.linalg.norm(along, axis=-1, keepdims=True), 1e-9)
    offset = knees_m - hips_m
    bend = offset - np.sum(offset * along, axis=-1, keepdims=True) * along
    hint = forward - np.sum(forward * along, axis=-1, keepdims=True) * along
    hint = hint / np.maximum(np.linalg.norm(hint, axis=-1, keepdims=True), 1e-9)
    pole = bend + POLE_HINT_M * hint
    for start, stop in mask_runs(contact):
        pole[start:stop] = gaussian_filter1d(
            pole[start:stop], POLE_SMOOTH_FRAMES, axis=0, mode="nearest"
        )
    return pole / np.maximum(np.linalg.norm(pole, axis=-1, keepdims=True), 1e-9)


def foot_on_floor(
    positions_m: np.ndarray, skeleton, foot: str, fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """A foot's clearance ``[T]``: the height (m) of its lowest point (ankle or toes) above
    that point's floor (its 2nd percentile over the frames); and where it touches ``[T]``: a
    point within ``FLOOR_M`` of its floor and slower than ``TOUCH_MPS`` (what the contact
    detector reads as touching)."""
    points = ((skeleton.index(foot), skeleton.index(foot.replace("Foot", "Toes"))),)
    heights, speeds = foot_signals(positions_m, fps, points)
    touching = contacts_from_signals(heights, speeds, points, height_m=FLOOR_M,
                                     speed_mps=TOUCH_MPS, min_frames=1)[:, 0]  # fmt: skip
    return (heights - np.percentile(heights, 2, axis=0)).min(axis=1), touching


def carry_targets(
    ankles_m: np.ndarray,
    contact: np.ndarray,
    fps: float,
    *,
    side: int = 0,
    step_m: float = STEP_M,
    clearance_m: np.ndarray | None = None,
    touching: np.ndarray | None = None,
    settle: bool = True,
    drift_m: np.ndarray | None = None,
    hold_ends: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """When the floor under a motion drifts (the motion was moved or turned on the floor while
    its feet are down): where one ankle should be, ``[T, 3]``; where that differs from
    ``ankles_m [T, 3]`` (``[T]`` bool); and where the foot is planted then (``[T]`` bool, what
    a second call on the carried motion reads as ``contact``).

    Each plant (a run of ``contact [T]``) stays where the foot is half-way through it, so the
    leg reaches at most half the plant's slide either way; a plant sliding further than a
    step (``step_m``, longer where the floor drifts faster: ``STRIDE_S``, ``MAX_STEP_M``) is
    split at every step of slide (``side`` 1: half a step later, so the feet alternate) by an
    added step, ``STEP_S`` off the floor and ``LIFT_M`` high at its
    middle; in the air the foot follows its own path plus a correction going from where the
    last plant left it to where the next one needs it, made while the foot is more than
    ``AIR_FREE_M`` above both (where it cannot be sliding; a smoothstep over the gap when it
    is there for fewer than ``MIN_AIR_FRAMES``).

    clearance_m: ``[T]`` height of the foot's lowest point above the floor
    (``foot_on_floor``; default: the ankle's height): a heel lifted on planted toes has not
    left the floor. A gap in which the foot rises less than ``RISE_M`` is part of one plant.
    settle: a plant lasts while the foot stays within ``RISE_M / 2`` of its height (lifting
    off, landing) and takes in up to ``LANDING_FRAMES`` frames on either side where the foot
    is ``touching [T]`` (``foot_on_floor``), leaving ``MIN_AIR_FRAMES`` of each gap free.
    drift_m: ``[T, 2]`` the floor's known drift (a spot's travel): a plant removes it (the
    foot's own motion is kept), a quick low step (fewer than ``MIN_AIR_FRAMES`` frames above
    ``AIR_FREE_M``) carries none of it (it joins the plants around it), and ``step_m`` counts
    the drift. hold_ends: the first plant stays where it starts and the last where it ends,
    so the ends of a slice of frames are left as they are."""
    frames = len(ankles_m)
    flat = ankles_m[:, [0, 2]]
    along = flat if drift_m is None else np.asarray(drift_m, dtype=float)
    speed = np.linalg.norm(np.diff(along, axis=0), axis=1)  # m per frame
    stride = np.clip(speed * fps * STRIDE_S, step_m, MAX_STEP_M)  # longer steps when faster
    slid = np.concatenate([[0.0], np.cumsum(speed / stride)])  # in steps
    gap = max(int(round(STEP_S * fps)), 2)
    bump = LIFT_M * np.sin(np.pi * np.arange(1, gap + 1) / (gap + 1)) ** 1.5  # eased off the floor
    plants = np.asarray(contact, dtype=bool).copy()
    heights = ankles_m[:, 1] if clearance_m is None else clearance_m
    runs = mask_runs(plants)
    for (_, b), (a, _) in zip(runs, runs[1:], strict=False):
        above = heights[b:a] - max(heights[b - 1], heights[a])
        if drift_m is not None:
            joined = np.count_nonzero(above > AIR_FREE_M) < MIN_AIR_FRAMES
        else:
            joined = above.max() < RISE_M
        plants[b:a] |= joined  # the foot never left the floor (or too briefly to step)
    if settle:
        plants = _settled(plants, heights, touching)
    lift = np.zeros(frames)
    runs = mask_runs(plants)
    for k, (a, b) in enumerate(runs):
        marks = np.arange(math.ceil(slid[a] - side / 2), math.floor(slid[b - 1] - side / 2) + 1)
        marks = marks + side / 2 if slid[b - 1] - slid[a] > 1.0 else marks[:0]
        if hold_ends and k == 0:  # held where it starts: a step after half a step of drift
            marks = np.arange(slid[a] + 0.5, slid[b - 1], 1.0)
        elif hold_ends and k == len(runs) - 1:  # held where it ends: likewise before its end
            marks = np.arange(slid[b - 1] - 0.5, slid[a], -1.0)[::-1]
        for mark in marks:
            lo = min(max(int(np.searchsorted(slid, mark)) - gap // 2, a + 1), b - 1 - gap)
            if lo <= a or not plants[lo - 1]:
                continue  # too short a plant for a step, or the step before is too close
            plants[lo : lo + gap] = False
            lift[lo : lo + gap] = bump
    runs = mask_runs(plants)
    held = [(a + b - 1) // 2 for a, b in runs]
    if hold_ends and runs:
        held[0], held[-1] = runs[0][0], runs[-1][1] - 1
    correction = np.zeros((frames, 2))
    for (a, b), at in zip(runs, held, strict=True):
        correction[a:b] = along[at] - along[a:b]
    for (_, b), (a, _) in zip(runs, runs[1:], strict=False):
        share = _smoothstep(np.arange(1, a - b + 1) / (a - b + 1.0))
        base = max(heights[b - 1], heights[a])
        up = np.maximum(heights[b:a] + lift[b:a] - base - AIR_FREE_M, 0.0)
        if np.count_nonzero(up) >= MIN_AIR_FRAMES:  # made where the foot is off the floor
            share = np.cumsum(up) / up.sum()
        share = share[:, None]
        correction[b:a] = (1 - share) * correction[b - 1] + share * correction[a]
    target = ankles_m.copy()
    target[:, [0, 2]] += correction
    target[:, 1] += lift
    moved = (np.abs(correction).max(axis=1) > CARRY_TOLERANCE_M) | (lift > 0)
    return target, moved, plants


def _settled(plants: np.ndarray, heights: np.ndarray, touching: np.ndarray | None) -> np.ndarray:
    """``plants [T]`` lasting while the foot stays within ``RISE_M / 2`` of its height at the
    plant's ends, then taking in up to ``LANDING_FRAMES`` frames on either side where the foot
    is ``touching [T]``, leaving at least ``MIN_AIR_FRAMES`` of each gap free."""
    plants = plants.copy()
    for a, b in mask_runs(plants):
        still = heights - heights[b - 1] < RISE_M / 2
        stop = b + int(np.argmin(np.append(still[b:], False)))
        still = heights - heights[a] < RISE_M / 2
        start = a - int(np.argmin(np.append(still[:a][::-1], False)))
        plants[start:stop] = True
    if touching is None:
        return plants
    return _landings(plants, touching)


def _landings(plants: np.ndarray, touching: np.ndarray) -> np.ndarray:
    """``plants [T]`` taking in up to ``LANDING_FRAMES`` frames on either side where the foot
    is ``touching [T]``, leaving at least ``MIN_AIR_FRAMES`` of each gap free."""
    grown = plants.copy()
    for b, a in mask_runs(~plants):  # each gap [b, a): lift-off after b, landing before a
        spare = a - b - (MIN_AIR_FRAMES if 0 < b and a < len(plants) else 0)
        off = 0 if b == 0 else _leading(touching[b:a], min(LANDING_FRAMES, spare))
        on = 0 if a == len(plants) else _leading(touching[b:a][::-1], min(LANDING_FRAMES,
                                                                          spare - off))  # fmt: skip
        grown[b : b + off] = True
        grown[a - on : a] = True
    return grown


def _leading(mask: np.ndarray, most: int) -> int:
    """How many of the first ``most`` entries of ``mask`` are True before the first False."""
    if most <= 0:
        return 0
    head = mask[:most]
    return int(np.argmin(np.append(head, False)))


def carry_feet(
    motion: Motion,
    contacts: np.ndarray,
    *,
    transforms: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Motion, np.ndarray]:
    """``motion`` with its feet carried by steps over a drifting floor (``carry_targets`` on
    each foot's clearance, legs solved with IK): the way to plant feet when the motion was
    moved or turned on the floor after it was made; and its plants ``[T, 2]`` afterwards.
    contacts: ``[T, 2]``."""
    skeleton = motion.skeleton
    positions, rotations = motion.global_transforms() if transforms is None else transforms
    targets, weights, plants = [], [], []
    for side, (_, _, foot) in enumerate(LEGS):
        clearance, touching = foot_on_floor(positions, skeleton, foot, motion.fps)
        target, moved, planted = carry_targets(
            positions[:, skeleton.index(foot)], contacts[:, side], motion.fps, side=side,
            clearance_m=clearance, touching=touching,
        )  # fmt: skip
        targets.append(target)
        weights.append(moved.astype(float))
        plants.append(planted)
    carried = move_feet(motion, np.stack(targets, 1), np.stack(weights, 1),
                        transforms=(positions, rotations))  # fmt: skip
    return carried, np.stack(plants, 1)


def lock_feet(
    motion: Motion,
    contacts: np.ndarray,
    blend_s: float = BLEND_S,
    *,
    transforms: tuple[np.ndarray, np.ndarray] | None = None,
) -> Motion:
    """``motion`` (canonical skeleton) with each foot pinned during its ``contacts [T, 2]``;
    leg joints of frames outside a foot's contacts are returned unchanged.

    transforms: the motion's global positions and rotations when the caller already has them.
    """
    skeleton = motion.skeleton
    positions, rotations = motion.global_transforms() if transforms is None else transforms
    targets, weights = [], []
    for side, (_, _, foot) in enumerate(LEGS):
        target, weight = contact_targets(positions[:, skeleton.index(foot)], contacts[:, side],
                                         motion.fps, blend_s)  # fmt: skip
        targets.append(target)
        weights.append(weight)
    return move_feet(motion, np.stack(targets, 1), np.stack(weights, 1),
                     transforms=(positions, rotations))  # fmt: skip


def move_feet(
    motion: Motion,
    targets_m: np.ndarray,
    weights: np.ndarray,
    *,
    transforms: tuple[np.ndarray, np.ndarray] | None = None,
) -> Motion:
    """``motion`` with each ankle moved towards ``targets_m [T, 2, 3]`` (left, right; world
    metres) by ``weights [T, 2]`` (0..1) with two-bone IK: the knee bends towards its own bend
    (smoothed over each run of frames the foot is moved on, ``knee_poles``), reaches beyond
    ``SOFT_REACH`` are eased in, the foot keeps its world orientation; leg joints where a
    foot's weight is 0 are unchanged."""
    skeleton = motion.skeleton
    positions, rotations = motion.global_transforms() if transforms is None else transforms
    local = motion.rotations.copy()
    for side, (upper, lower, foot) in enumerate(LEGS):
        target, weight = targets_m[:, side], weights[:, side]
        moved = weight > 0
        if not moved.any():
            continue
        u, lo, f = (skeleton.index(name) for name in (upper, lower, foot))
        hip, knee, ankle = positions[:, u], positions[:, lo], positions[:, f]
        upper_len = float(np.linalg.norm(skeleton.offsets_m[lo]))
        lower_len = float(np.linalg.norm(skeleton.offsets_m[f]))
        toes = positions[:, skeleton.index(foot.replace("Foot", "Toes"))]
        forward = toes - ankle
        forward[:, 1] = 0.0
        pole = knee_poles(hip, knee, ankle, forward, moved)
        # soft IK only eases reaches beyond the free leg's own: a target the free leg already
        # reaches leaves the knee as it was, so blending the solve in and out cannot pop it
        own = np.linalg.norm(ankle - hip, axis=-1) / (upper_len + lower_len)
        soft = np.maximum(SOFT_REACH, own + 1e-4)
        new_knee = two_bone_ik(hip, target, pole, upper_len, lower_len, soft_from=soft)
        # where the pin is barely blended in, follow the free knee so the solve eases in too
        new_knee = knee + weight[:, None] * (new_knee - knee)
        new_knee = (
            hip
            + (new_knee - hip)
            / np.maximum(np.linalg.norm(new_knee - hip, axis=-1, keepdims=True), 1e-9)
            * upper_len
        )
        turn_upper = quat_between(knee - hip, new_knee - hip)
        upper_rot = quat_mul(turn_upper, rotations[:, u])
        bent_ankle = new_knee + quat_mul_vec3(turn_upper, ankle - knee)
        new_ankle = (
            new_knee
            + (target - new_knee)
            / np.linalg.norm(target - new_knee, axis=-1, keepdims=True)
            * lower_len
        )
        turn_lower = quat_between(bent_ankle - new_knee, new_ankle - new_knee)
        lower_rot = quat_mul(turn_lower, quat_mul(turn_upper, rotations[:, lo]))
        parent = rotations[:, skeleton.parents[u]]
        local[moved, u] = quat_inv_mul(parent[moved], upper_rot[moved])
        local[moved, lo] = quat_inv_mul(upper_rot[moved], lower_rot[moved])
        # the foot keeps its world orientation
        local[moved, f] = quat_inv_mul(lower_rot[moved], rotations[moved, f])
    return replace(motion, rotations=local)
