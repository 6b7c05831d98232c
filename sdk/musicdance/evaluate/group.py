"""Figures of a group dance (``mdtool evaluate`` on a group timeline).

- ``min_distance_m`` and ``frames_closer``: the closest two hips (floor distance) over every
  frame, and the frames closer than the timeline's ``min_distance_m``;
- ``formation_error_m``: how far the hips are from the planned spot while a formation is held
  (mean and max; the sway the phrases keep is part of it);
- ``synchrony``: in unison sections, the pose agreement after alignment: every dancer's joint
  positions relative to the hips with the heading removed, against the group's mean pose (RMS
  cm per dancer and frame; mean and max);
- ``canon``: in canon sections, each dancer's measured delay behind the earliest (the lag, in
  counts, that best aligns a pose signal) against the delay intended;
- per dancer: BAS with its half-beat control, foot skating, the worst join (``join_peaks``).
"""

from __future__ import annotations

import numpy as np

from musicdance.choreo.group import GroupTimeline
from musicdance.choreo.group_render import spot_paths
from musicdance.choreo.render import frame_at
from musicdance.evaluate.metrics import beat_alignment, foot_skating_cm_s, join_peaks
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_inv, quat_mul_vec3
from musicdance.motion.rootmotion import root_curve

#: Canon sections shorter than this many slots are not measured.
MIN_CANON_SLOTS = 2

__all__ = ["canon_offsets", "evaluate_group", "formation_error_m", "hips_m", "synchrony_cm"]


def hips_m(motions: list[Motion]) -> np.ndarray:
    """``[N, T, 2]`` the hips' floor position (x, z) of every dancer."""
    frames = min(m.num_frames for m in motions)
    return np.stack([m.root_positions_m[:frames][:, [0, 2]] for m in motions])


def _held(group: GroupTimeline, frames: int) -> np.ndarray:
    spots = spot_paths(group, frames)
    moving = np.zeros(frames, dtype=bool)
    step = np.linalg.norm(np.diff(spots, axis=1), axis=-1).max(axis=0) > 1e-7
    moving[1:] |= step
    moving[:-1] |= step
    return ~moving


def formation_error_m(group: GroupTimeline, motions: list[Motion]) -> dict:
    """Distance of the hips from the planned spot on the frames where no spot moves."""
    hips = hips_m(motions)
    spots = spot_paths(group, hips.shape[1])
    held = _held(group, hips.shape[1])
    error = np.linalg.norm(hips - spots, axis=-1)[:, held]
    if not error.size:
        return {"mean": 0.0, "max": 0.0}
    return {"mean": round(float(error.mean()), 4), "max": round(float(error.max()), 4)}


def _local_poses(motion: Motion) -> np.ndarray:
    """``[T, J, 3]`` joint positions relative to the hips, heading removed (cm)."""
    positions = motion.global_positions()
    curve = root_curve(motion)
    inverse = quat_inv(curve.rotations())[:, None]
    return 100.0 * quat_mul_vec3(inverse, positions - positions[:, :1])


def _slot_frames(group: GroupTimeline, device: str) -> list[tuple[int, int]]:
    fps = group.fps
    spans = []
    for section in group.sections:
        if section.device == device:
            slots = group.base.slots
            spans.append((frame_at(slots[section.first_slot].start_s, fps),
                          frame_at(slots[section.stop_slot - 1].end_s, fps)))  # fmt: skip
    return spans


def synchrony_cm(group: GroupTimeline, motions: list[Motion]) -> dict:
    """RMS joint distance (cm) of each dancer's aligned pose from the group's mean pose over
    the unison sections' frames: mean and max over dancers and frames."""
    spans = _slot_frames(group, "unison")
    if not spans:
        return {"frames": 0, "mean": None, "max": None}
    frames = np.concatenate([np.arange(a, b) for a, b in spans])
    frames = frames[frames < min(m.num_frames for m in motions)]
    poses = np.stack([_local_poses(m)[frames] for m in motions])  # [N, F, J, 3]
    gap = np.sqrt(((poses - poses.mean(axis=0)) ** 2).sum(-1).mean(-1))  # [N, F]
    return {"frames": int(len(frames)), "mean": round(float(gap.mean()), 4),
            "max": round(float(gap.max()), 4)}  # fmt: skip


def canon_offsets(group: GroupTimeline, motions: list[Motion]) -> dict:
    """Per canon section of at least ``MIN_CANON_SLOTS`` slots (a shorter one holds too few
    moves to measure a lag on), each dancer's measured delay (counts) behind the earliest
    dancer against the intended one: the lag in 0 to 3 counts that best matches the dancer's
    joint-speed signal to the earliest dancer's. Returns the largest error (counts) and the
    sections."""
    fps = group.fps
    sections = []
    worst = 0.0
    for section in group.sections:
        if section.device != "canon" or section.stop_slot - section.first_slot < MIN_CANON_SLOTS:
            continue
        slots = group.base.slots[section.first_slot : section.stop_slot]
        beats = np.concatenate([s.beat_times_s for s in slots])
        beat_frames = float(np.median(np.diff(beats))) * fps if len(beats) > 1 else fps / 2
        a, b = frame_at(slots[0].start_s, fps), frame_at(slots[-1].end_s, fps)
        offsets = [d.offsets_counts[section.first_slot] for d in group.dancers]
        reference = int(np.argmin(offsets))
        signals = [_speed_signal(m, a, b + int(3 * beat_frames)) for m in motions]
        measured = []
        for d, signal in enumerate(signals):
            lag = _best_lag(signals[reference], signal, int(3 * beat_frames) + 1)
            counts = lag / beat_frames
            intended = offsets[d] - offsets[reference]
            worst = max(worst, abs(counts - intended))
            measured.append({"dancer": group.dancers[d].name, "intended": intended,
                             "measured": round(float(counts), 3)})  # fmt: skip
        sections.append({"first_slot": section.first_slot, "dancers": measured})
    errors = np.array([abs(d["measured"] - d["intended"]) for s in sections
                       for d in s["dancers"]])  # fmt: skip
    return {"max_error_counts": round(worst, 3), "measured_sections": len(sections),
            "within_quarter_count": round(float(np.mean(errors <= 0.25)), 4)
            if len(errors) else None, "sections": sections}  # fmt: skip


def _speed_signal(motion: Motion, a: int, b: int) -> np.ndarray:
    """Joint velocities (heading-free, every joint and axis) per frame over frames ``a:b``,
    ``[F, J * 3]``, zero-mean per channel."""
    poses = _local_poses(motion)[a : min(b, motion.num_frames)]
    velocity = np.diff(poses, axis=0).reshape(max(len(poses) - 1, 0), -1)
    return velocity - velocity.mean(axis=0) if len(velocity) else velocity


def _best_lag(reference: np.ndarray, signal: np.ndarray, max_lag: int) -> int:
    """The delay (frames, 0 to ``max_lag``) of ``signal [F, C]`` behind ``reference`` with the
    smallest mean squared difference over their common span."""
    best, best_score = 0, np.inf
    length = min(len(reference), len(signal)) - max_lag
    if length < 8:
        return 0
    for lag in range(max_lag + 1):
        score = float(np.mean((reference[:length] - signal[lag : lag + length]) ** 2))
        if score < best_score:
            best, best_score = lag, score
    return best


def evaluate_group(
    group: GroupTimeline,
    motions: list[Motion],
    beat_times_s: np.ndarray,
    *,
    cut_times_s: list[list[float]] | None = None,
) -> dict:
    """Every figure of the module docs; ``cut_times_s``: per dancer the times the render cut
    at (for the worst join; the slot boundaries of each dancer's timeline when None)."""
    from musicdance.choreo.formation import min_distances_m

    hips = hips_m(motions)
    closest = min_distances_m(hips)
    dancers = []
    for d, motion in enumerate(motions):
        timeline = group.dancer_timeline(d)
        cuts = cut_times_s[d] if cut_times_s else [s.start_s for s in timeline.slots[1:]]
        span = (timeline.slots[0].start_s, timeline.slots[-1].end_s)
        joins = join_peaks(motion, cuts, span_s=span)
        bas = beat_alignment(motion, beat_times_s)
        dancers.append({
            "name": group.dancers[d].name,
            "beat_align": round(float(bas["beat_align_score"]), 4),
            "beat_align_control": round(float(bas["beat_align_score_control"]), 4),
            "foot_skating_cm_s": round(foot_skating_cm_s(motion), 4),
            "worst_join_ratio": round(float(joins.get("worst_ratio", 0.0)), 4),
            "median_join_ratio_p99": round(float(joins.get("median_ratio_p99", 0.0)), 4),
        })  # fmt: skip
    return {
        "dancers": len(motions),
        "min_distance_m": round(float(closest.min()), 4),
        "frames_closer": int(np.sum(closest < group.min_distance_m)),
        "min_distance_limit_m": group.min_distance_m,
        "formation_error_m": formation_error_m(group, motions),
        "synchrony_cm": synchrony_cm(group, motions),
        "canon": canon_offsets(group, motions),
        "devices": {
            s.device: sum(1 for t in group.sections if t.device == s.device) for s in group.sections
        },  # fmt: skip
        "per_dancer": dancers,
        "worst": {
            "beat_align": min(d["beat_align"] for d in dancers),
            "foot_skating_cm_s": max(d["foot_skating_cm_s"] for d in dancers),
            "worst_join_ratio": max(d["worst_join_ratio"] for d in dancers),
        },
    }
