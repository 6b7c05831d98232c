"""Rendering a group timeline: every dancer's dance placed on the formation paths.

1. Dancers that dance exactly the same (``GroupTimeline.render_key``) share one render
   (``render.render_dance`` of their own timeline).
2. Each render is *anchored*: its slow travel and turning (the hips' floor path and heading
   averaged over ``ANCHOR_WINDOW_S``) are removed, what is left of the hips' sway is kept
   within ``SWAY_M`` of the spot, the dancer faces the audience, and the feet are carried over
   that change by steps (``carry_feet``) on the render's own contacts.
3. Each dancer's spot follows the formations: held during a section, travelling over the
   section's ``travel_counts`` counts before it starts, a smoothstep per count (the walk
   pauses on every beat, so the dancer's kinematic beats stay on the music's).
4. Every frame is checked: where two hips would come closer than ``min_distance_m`` plus a
   margin, the paths there are pushed apart and smoothed (``formation.relax_paths``).
5. Where a dancer's spot moves, the travel is carried by the feet (``contacts.carry_targets``
   with the spot's path as the known drift): each plant of a foot removes the travel (the
   foot keeps its own motion, on a floor that holds still), a plant that would have to carry
   more than a step (``contacts.STEP_M``, longer for a faster walk) is split by an added step,
   a quick low step carries none of it, and in the air the foot goes from one plant to the
   next; the legs reach there with IK. So travel lengthens the steps (and adds some) instead
   of sliding the feet. The anchoring (step 2) plants the feet the same way: removing the
   render's slow travel and turning also moves the floor under its feet.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from musicdance.choreo.formation import min_distances_m, relax_paths
from musicdance.choreo.group import GroupTimeline
from musicdance.choreo.render import RenderOptions, frame_at, render_dance
from musicdance.library.phrase import FOOT_POINTS
from musicdance.motion.analysis import contacts_from_signals, foot_signals
from musicdance.motion.motion import Motion, concatenate, slice_frames
from musicdance.motion.quat import quat_inv, quat_mul, quat_mul_vec3
from musicdance.motion.rootmotion import RootCurve, readd_root_motion, root_curve
from musicdance.synthesis.contacts import (
    LEGS,
    carry_feet,
    carry_targets,
    foot_on_floor,
    mask_runs,
    move_feet,
)

__all__ = ["ANCHOR_WINDOW_S", "SWAY_M", "GroupRendered", "MemoLibrary", "render_group"]

#: Travel and turning slower than this window are the formation's business, not the phrase's.
ANCHOR_WINDOW_S = 6.0
#: Farthest the hips stray from the dancer's spot (half the gap kept between two spots).
SWAY_M = 0.35
#: Paths are pushed apart to ``min_distance_m + MARGIN_M``.
MARGIN_M = 0.05
#: Frames around a travelling spot's plants whose legs may be solved again.
PAD_FRAMES = 2


class MemoLibrary:
    """A phrase library whose phrases, infos and phrase continuations are read once (the
    renders of one group read the same phrases); everything else is the library's."""

    def __init__(self, library) -> None:
        self._library = library
        self._phrases: dict = {}
        self._infos: dict = {}
        self.continuation_cache: dict = {}  # read by render._warp_pieces
        self.piece_cache: dict = {}
        self.join_cache: dict = {}  # read by render._find_cuts

    def __getattr__(self, name):
        return getattr(self._library, name)

    def __len__(self) -> int:
        return len(self._library)

    def get(self, phrase_id: str):
        if phrase_id not in self._phrases:
            self._phrases[phrase_id] = self._library.get(phrase_id)
        return self._phrases[phrase_id]

    def info(self, phrase_id: str):
        return self.get(phrase_id).info

    def infos(self, **query):
        key = tuple(sorted((k, tuple(v) if isinstance(v, list | tuple) else v)
                           for k, v in query.items()))  # fmt: skip
        if key not in self._infos:
            self._infos[key] = self._library.infos(**query)
        return self._infos[key]


@dataclass
class GroupRendered:
    """A rendered group. ``anchored``: per distinct dance (``keys[d]`` for dancer d) its
    motion on the spot facing the audience and its contacts; ``spots_m [N, T, 2]``: each
    dancer's spot (x, z) per frame (relaxed apart where needed); ``hips_m [N, T, 2]``: the hips
    on the floor; ``closest_m [T]``: the closest two hips per frame. :meth:`motions` places
    every dancer (built on first use: a crowd sampled by the runtime never needs them)."""

    anchored: dict
    keys: list
    hips_m: np.ndarray
    spots_m: np.ndarray
    closest_m: np.ndarray
    timings_s: dict
    min_distance_m: float = 0.6
    plant_feet: bool = True
    _motions: list | None = None

    @property
    def distinct_renders(self) -> int:
        return len(self.anchored)

    @property
    def frames_too_close(self) -> int:
        """Frames where two hips are closer than ``min_distance_m``."""
        return int(np.sum(self.closest_m < self.min_distance_m))

    def motions(self) -> list[Motion]:
        """Every dancer's motion in the world: its dance on its spots, the feet carried by
        steps where the spot moves."""
        if self._motions is None:
            fps = next(iter(self.anchored.values()))[0].fps
            self._motions = _placed(self.anchored, self.keys, self.spots_m, fps, self.plant_feet)
        return self._motions


def render_group(
    group: GroupTimeline,
    library,
    options: RenderOptions | None = None,
    *,
    renders: dict | None = None,
) -> GroupRendered:
    """Every dancer of ``group`` rendered and placed (see the module docs). renders: a cache
    ``{dancer timeline sha256: anchored motion}`` shared between calls (the runtime keeps
    one)."""
    import hashlib
    import json
    import time

    clock = time.perf_counter()
    timings: dict[str, float] = {}
    options = options or RenderOptions()
    if not isinstance(library, MemoLibrary):
        library = MemoLibrary(library)
    cache = renders if renders is not None else {}
    keys = [group.render_key(d) for d in range(group.num_dancers)]
    anchored: dict = {}
    for d, key in enumerate(keys):
        if key in anchored:
            continue
        timeline = group.dancer_timeline(d)
        text = json.dumps([timeline.to_json(), group.audience_yaw_deg, repr(options)],
                          sort_keys=True)  # fmt: skip
        full_key = hashlib.sha256(text.encode()).hexdigest()
        if full_key not in cache:
            # the feet are planted once, after anchoring (on the contacts of the joined dance)
            loose = replace(options, plant_feet=False)
            motion = render_dance(timeline, library, loose).motion
            cache[full_key] = _anchor(motion, group.audience_yaw_deg, options.plant_feet)
        anchored[key] = cache[full_key]
    timings["render"] = time.perf_counter() - clock
    clock = time.perf_counter()
    first = anchored[keys[0]][0]
    frames = first.num_frames
    sway = np.stack([anchored[key][0].root_positions_m[:, [0, 2]] for key in keys])  # [N, T, 2]
    spots = spot_paths(group, frames)
    hips = spots + sway
    limit = group.min_distance_m + MARGIN_M
    closest = min_distances_m(hips)
    if np.any(closest < limit):
        hips = _push_apart(hips, closest < limit, limit, group.fps)
        spots = hips - sway
        closest = min_distances_m(hips)
    timings["paths"] = time.perf_counter() - clock
    return GroupRendered(anchored, keys, hips, spots, closest, timings, group.min_distance_m,
                         options.plant_feet)  # fmt: skip


def _anchor(motion: Motion, audience_yaw_deg: float, plant: bool) -> tuple[Motion, np.ndarray]:
    """The motion on the spot (x = z = 0) facing ``audience_yaw_deg`` with its sway kept
    within ``SWAY_M``, feet carried over that change (``carry_feet``); and its plants
    ``[T, 2]`` afterwards."""
    positions, _ = motion.global_transforms()
    heights, speeds = foot_signals(positions, motion.fps, FOOT_POINTS)
    contacts = contacts_from_signals(heights, speeds, FOOT_POINTS)
    curve = root_curve(motion)
    window = max(int(round(ANCHOR_WINDOW_S * motion.fps)) | 1, 3)
    slow = RootCurve(motion.fps, _moving_average(curve.positions_m, window),
                     _moving_average(curve.yaw_rad[:, None], window)[:, 0])  # fmt: skip
    inverse = quat_inv(slow.rotations())
    rotations = np.array(motion.rotations, dtype=float, copy=True)
    rotations[:, 0] = quat_mul(inverse, motion.rotations[:, 0])
    local = quat_mul_vec3(inverse, motion.root_positions_m - slow.positions_m)
    radius = np.linalg.norm(local[:, [0, 2]], axis=1)
    scale = np.minimum(1.0, SWAY_M / np.maximum(radius, 1e-9))
    local[:, 0] *= scale
    local[:, 2] *= scale
    centred = replace(motion, root_positions_m=local, rotations=rotations)
    facing = RootCurve(motion.fps, np.zeros((motion.num_frames, 3)),
                       np.full(motion.num_frames, np.deg2rad(audience_yaw_deg)))  # fmt: skip
    placed = readd_root_motion(centred, facing)
    if plant:  # the plants of the carried feet: what the formation travel carries again
        placed, contacts = carry_feet(placed, contacts)
    return placed, contacts


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0 (edges held), ``values [T, C]``."""
    pad = window // 2
    padded = np.concatenate([np.repeat(values[:1], pad, 0), values,
                             np.repeat(values[-1:], pad, 0)])  # fmt: skip
    sums = np.cumsum(np.concatenate([np.zeros((1, values.shape[1])), padded]), axis=0)
    return (sums[window:] - sums[:-window]) / window


def spot_paths(group: GroupTimeline, frames: int) -> np.ndarray:
    """``[N, T, 2]`` each dancer's planned spot per frame: the section's spot, reached over
    the ``travel_counts`` counts before the section starts, a smoothstep per count (the walk
    pauses on each beat)."""
    fps = group.fps
    times = np.arange(frames) / fps
    sections = group.sections
    paths = np.repeat(np.asarray(sections[0].spots_m, dtype=float)[:, None], frames, axis=1)
    for s in range(1, len(sections)):
        section = sections[s]
        before = np.asarray(sections[s - 1].spots_m, dtype=float)
        after = np.asarray(section.spots_m, dtype=float)
        arrive_s = group.base.slots[section.first_slot].start_s
        beats = group.base.slots[section.first_slot - 1].beat_times_s
        period_s = (beats[-1] - beats[0]) / max(len(beats) - 1, 1)
        leave_s = arrive_s - section.travel_counts * period_s
        share = _beat_steps((times - leave_s) / max(period_s, 1e-6), section.travel_counts)
        moving = times >= leave_s
        paths[:, moving] = (
            before[:, None] + share[moving][None, :, None] * (after - before)[:, None]
        )
    return paths


def _beat_steps(counts: np.ndarray, total: int) -> np.ndarray:
    """Share of a walk done after ``counts`` counts of ``total``: a smoothstep per count, so
    the walk pauses on every beat (its kinematic beats stay on the music's)."""
    if total <= 0:
        return (counts >= 0).astype(float)
    counts = np.clip(counts, 0.0, float(total))
    whole = np.minimum(np.floor(counts), total - 1)
    part = counts - whole
    return (whole + part * part * (3 - 2 * part)) / total


def _push_apart(hips: np.ndarray, close: np.ndarray, limit: float, fps: float) -> np.ndarray:
    """``hips [N, T, 2]`` relaxed apart on the runs of frames flagged ``close [T]`` (padded by
    a second so the correction eases in and out)."""
    pad = int(round(fps))
    flagged = np.convolve(close.astype(float), np.ones(2 * pad + 1), mode="same") > 0
    out = hips.copy()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flagged.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        lo, hi = max(a - 1, 0), min(b + 1, hips.shape[1])
        fixed = np.zeros(hi - lo, dtype=bool)
        fixed[0], fixed[-1] = lo < a, hi > b
        out[:, lo:hi] = relax_paths(hips[:, lo:hi], limit, fixed=fixed, iterations=400)
    return out


def _placed(anchored, keys, spots: np.ndarray, fps: float, plant: bool) -> list[Motion]:
    """Each dancer's anchored motion moved onto its spots; where the spot travels (with every
    contact run that overlaps the travel), the feet are carried by steps (``carry_feet``), all
    dancers in one pass."""
    motions, slices = [], []
    for d, key in enumerate(keys):
        motion, contacts = anchored[key]
        roots = motion.root_positions_m.copy()
        roots[:, 0] += spots[d, :, 0]
        roots[:, 2] += spots[d, :, 1]
        motions.append(replace(motion, root_positions_m=roots))
        step = np.linalg.norm(np.diff(spots[d], axis=0), axis=1) > 1e-7
        if not plant or not step.any():
            continue
        moving = np.zeros(motion.num_frames, dtype=bool)
        moving[1:] |= step
        moving[:-1] |= step
        touched = moving.copy()
        for side in range(2):
            for a, b in mask_runs(contacts[:, side]):
                touched[a:b] |= moving[a:b].any()
        touched = np.convolve(touched.astype(float), np.ones(2 * PAD_FRAMES + 1), "same") > 0
        for a, b in mask_runs(touched):
            slices.append((d, a, b))
    if not slices:
        return motions
    parts = [slice_frames(motions[d], a, b) for d, a, b in slices]
    contacts = [anchored[keys[d]][1][a:b].copy() for d, a, b in slices]
    for c in contacts:
        c[0], c[-1] = False, False  # no contact run from one slice into the next
    # each slice is planned on its own (its runs, its plants), then one IK pass for all
    part = concatenate(parts)
    positions, rotations = part.global_transforms()
    clearances = [foot_on_floor(positions, part.skeleton, foot, fps)[0] for _, _, foot in LEGS]
    targets, weights, at = [], [], 0
    for piece, c, (d, first, stop) in zip(parts, contacts, slices, strict=True):
        span = slice(at, at + piece.num_frames)
        at += piece.num_frames
        sides = []
        for side, (_, _, foot) in enumerate(LEGS):
            sides.append(carry_targets(
                positions[span, part.skeleton.index(foot)], c[:, side], fps, side=side,
                clearance_m=clearances[side][span], settle=False,
                drift_m=spots[d, first:stop], hold_ends=True,
            ))  # fmt: skip
        targets.append(np.stack([t for t, _, _ in sides], 1))
        weights.append(np.stack([w for _, w, _ in sides], 1).astype(float))
    moved = move_feet(part, np.concatenate(targets), np.concatenate(weights),
                      transforms=(positions, rotations))  # fmt: skip
    at = 0
    for d, a, b in slices:
        rotations = motions[d].rotations.copy()
        rotations[a:b] = moved.rotations[at : at + b - a]
        motions[d] = replace(motions[d], rotations=rotations)
        at += b - a
    return motions


def slot_frames(group: GroupTimeline) -> list[tuple[int, int]]:
    """``(first, stop)`` frames of every slot of the group line."""
    return [(frame_at(s.start_s, group.fps), frame_at(s.end_s, group.fps))
            for s in group.base.slots]  # fmt: skip
