"""Published dance-quality metrics, implemented to their reference definitions.

- Beat Align Score as Bailando computes it (`calc_ba_score`): on 60 fps joint positions, the
  kinematic beats are local minima of the mean joint speed smoothed by a Gaussian of sigma
  5 frames; the score is the mean over music beats of ``exp(-d^2 / (2 * 3^2))``, ``d`` the
  distance in frames to the nearest kinematic beat. FACT's direction averages over kinematic
  beats instead. Each comes with a chance control: the same motion against the music beats
  shifted by half a beat.
- Physical Foot Contact (EDGE, ``eval_pfc.py``): 30 fps, root acceleration with its upward
  component clamped at zero and normalised by its maximum, times the product of the two feet's
  slowest horizontal speeds, averaged, times 1e4. Lower is better.

Choreography-level figures read the timeline: structure consistency (repeated sections dance
the same phrases) and diversity (how many different phrases and moves a song uses).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema

from musicdance.choreo.choreographer import move_of
from musicdance.choreo.slots import repeats_of
from musicdance.choreo.timeline import Timeline
from musicdance.motion.motion import Motion, resample

BAS_FPS = 60.0
PFC_FPS = 30.0


def bailando_kinematic_beats(positions_m: np.ndarray) -> np.ndarray:
    """Frames ``[B]`` of local minima of the Gaussian-smoothed (sigma 5 frames) mean joint
    speed of ``positions_m [T, J, 3]`` (Bailando's definition; expects 60 fps)."""
    speed = np.mean(np.linalg.norm(np.diff(positions_m, axis=0), axis=-1), axis=1)
    return argrelextrema(gaussian_filter1d(speed, 5), np.less)[0]


def _alignment(targets: np.ndarray, references: np.ndarray) -> float:
    """Mean over ``targets`` of ``exp(-d^2 / 18)``, d = frames to the nearest reference."""
    if len(targets) == 0 or len(references) == 0:
        return 0.0
    distance = np.min(np.abs(targets[:, None] - references[None, :]), axis=1)
    return float(np.mean(np.exp(-(distance**2) / (2 * 3**2))))


def beat_alignment(motion: Motion, music_beats_s: np.ndarray) -> dict[str, float]:
    """Beat Align Score (Bailando), FACT's direction, and both half-beat-shift controls."""
    positions = resample(motion, BAS_FPS).global_positions()
    kinematic = bailando_kinematic_beats(positions).astype(float)
    beats_s = np.asarray(music_beats_s, dtype=float)
    beats_s = beats_s[(beats_s >= 0) & (beats_s <= motion.duration_s)]
    half_beat_s = float(np.median(np.diff(beats_s))) / 2 if len(beats_s) > 1 else 0.0
    beats = beats_s * BAS_FPS
    shifted = (beats_s + half_beat_s) * BAS_FPS
    return {
        "beat_align_score": _alignment(beats, kinematic),
        "beat_align_score_control": _alignment(shifted, kinematic),
        "fact_beat_align": _alignment(kinematic, beats),
        "fact_beat_align_control": _alignment(kinematic, shifted),
    }


def physical_foot_contact(
    motion: Motion,
    feet: tuple[str, str, str, str] = ("LeftFoot", "LeftToes", "RightFoot", "RightToes"),
) -> float:
    """EDGE's PFC score (lower is better) on the canonical skeleton's feet, Y up."""
    positions = resample(motion, PFC_FPS).global_positions()
    dt = 1.0 / PFC_FPS
    root_velocity = np.diff(positions[:, 0], axis=0) / dt
    root_acceleration = np.diff(root_velocity, axis=0) / dt
    root_acceleration[:, 1] = np.maximum(root_acceleration[:, 1], 0.0)
    root_acceleration = np.linalg.norm(root_acceleration, axis=-1)
    root_acceleration /= max(float(root_acceleration.max()), 1e-12)
    index = [motion.skeleton.index(name) for name in feet]
    flat = positions[:, index][:, :, [0, 2]]
    foot_speed = np.linalg.norm(flat[2:] - flat[1:-1], axis=-1)  # [T-2, 4], per frame
    left = np.minimum(foot_speed[:, 0], foot_speed[:, 1])
    right = np.minimum(foot_speed[:, 2], foot_speed[:, 3])
    return float(np.mean(left * right * root_acceleration) * 1e4)


def foot_skating_cm_s(motion: Motion) -> float:
    """Mean horizontal foot speed during contact, in cm/s (canonical skeleton)."""
    from musicdance.library.phrase import FOOT_POINTS, detect_contacts
    from musicdance.motion.analysis import foot_skating_mps

    positions = motion.global_positions()
    contacts = detect_contacts(motion, positions)
    return 100.0 * foot_skating_mps(positions, motion.fps, contacts, FOOT_POINTS)


def transition_smoothness(motion: Motion, join_times_s: np.ndarray, window_s: float = 0.2) -> dict:
    """How the phrase joins compare with the phrases themselves.

    Mean joint acceleration (m/s^2) and jerk (m/s^3) within ``window_s`` of the joins against
    the rest, and the peak acceleration right at each join (within 2 frames, where a velocity
    jump shows) against the 95th percentile inside phrases. Ratios near 1 (or below) mean the
    joins are as smooth as the phrases.
    """
    positions = motion.global_positions()
    dt = 1.0 / motion.fps
    acceleration = np.linalg.norm(np.diff(positions, 2, axis=0), axis=-1).mean(axis=1) / dt**2
    jerk = np.linalg.norm(np.diff(positions, 3, axis=0), axis=-1).mean(axis=1) / dt**3
    frames = np.arange(len(acceleration)) + 1
    joins = np.asarray(join_times_s, dtype=float) * motion.fps
    near = np.zeros(len(acceleration), dtype=bool)
    for join in joins:
        near |= np.abs(frames - join) <= window_s * motion.fps
    if not near.any() or near.all():
        return {}
    peaks = [acceleration[np.abs(frames - join) <= 2].max() for join in joins
             if np.any(np.abs(frames - join) <= 2)]  # fmt: skip
    within_p95 = float(np.percentile(acceleration[~near], 95))
    result = {
        "join_acceleration": float(acceleration[near].mean()),
        "within_acceleration": float(acceleration[~near].mean()),
        "join_jerk": float(jerk[near[: len(jerk)]].mean()),
        "within_jerk": float(jerk[~near[: len(jerk)]].mean()),
        "join_peak_acceleration": float(np.mean(peaks)),
        "within_p95_acceleration": within_p95,
    }
    result["acceleration_ratio"] = result["join_acceleration"] / result["within_acceleration"]
    result["jerk_ratio"] = result["join_jerk"] / result["within_jerk"]
    result["peak_ratio"] = result["join_peak_acceleration"] / max(within_p95, 1e-9)
    return result


#: Seconds after a cut over which ``join_peaks`` looks for the join's peak acceleration.
JOIN_PEAK_AFTER_S = 0.4
#: Frames before a cut included in the join's window (a velocity jump shows one frame early).
JOIN_PEAK_BEFORE_FRAMES = 2


def peak_joint_acceleration(positions_m: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the largest joint acceleration (m/s^2) and the joint that has it: ``[T]``
    float and ``[T]`` int from ``positions_m [T, J, 3]`` (central second differences; the
    first and last frames repeat their neighbours')."""
    acceleration = np.linalg.norm(np.diff(positions_m, 2, axis=0), axis=-1) * fps**2
    if not len(acceleration):
        return np.zeros(len(positions_m)), np.zeros(len(positions_m), dtype=np.int64)
    acceleration = np.concatenate([acceleration[:1], acceleration, acceleration[-1:]])
    return acceleration.max(axis=1), acceleration.argmax(axis=1)


def join_peaks(
    motion: Motion,
    cut_times_s: np.ndarray | list[float],
    *,
    span_s: tuple[float, float] | None = None,
    after_s: float = JOIN_PEAK_AFTER_S,
) -> dict:
    """Is a join ever the sharpest moment of the dance?

    For each cut, the peak joint acceleration (the largest over joints, m/s^2) from
    ``JOIN_PEAK_BEFORE_FRAMES`` frames before it to ``after_s`` after it, where it happens and
    in which joint; against the same per-frame peak inside the phrases (frames of ``span_s``,
    the dance without its held ends, outside every join window): its maximum and its 99th
    percentile. ``worst_ratio`` = worst join peak / largest peak inside the phrases (a join
    sharper than anything inside the phrases gives > 1); ``median_ratio_p99`` = median join
    peak / within-phrase 99th percentile. Empty without joins or phrase frames.
    """
    fps = motion.fps
    peak, joint = peak_joint_acceleration(motion.global_positions(), fps)
    frames = np.arange(len(peak))
    inside = np.ones(len(peak), dtype=bool)
    if span_s is not None:
        inside = (frames >= span_s[0] * fps - 1e-6) & (frames <= span_s[1] * fps + 1e-6)
    near = np.zeros(len(peak), dtype=bool)
    joins = []
    for cut_s in np.asarray(cut_times_s, dtype=float):
        cut = cut_s * fps
        window = (frames >= cut - JOIN_PEAK_BEFORE_FRAMES) & (frames <= cut + after_s * fps)
        if not window.any():
            continue
        near |= window
        where = np.flatnonzero(window)
        best = where[np.argmax(peak[where])]
        joins.append(
            {
                "cut_s": float(cut_s),
                "peak_acceleration": float(peak[best]),
                "after_cut_s": float((best - cut) / fps),
                "joint": motion.skeleton.names[joint[best]],
            }
        )
    within = peak[inside & ~near]
    if not joins or not len(within):
        return {}
    peaks = np.array([j["peak_acceleration"] for j in joins])
    within_max = float(within.max())
    within_p99 = float(np.percentile(within, 99))
    worst = joins[int(np.argmax(peaks))]
    where_max = np.flatnonzero(inside & ~near)[int(np.argmax(within))]
    return {
        "joins": len(joins),
        "worst_join": worst,
        "worst_peak_acceleration": float(peaks.max()),
        "median_peak_acceleration": float(np.median(peaks)),
        "within_max_acceleration": within_max,
        "within_max_at_s": float(where_max / fps),
        "within_max_joint": motion.skeleton.names[joint[where_max]],
        "within_p99_acceleration": within_p99,
        "worst_ratio": float(peaks.max() / max(within_max, 1e-9)),
        "worst_ratio_p99": float(peaks.max() / max(within_p99, 1e-9)),
        "median_ratio_p99": float(np.median(peaks) / max(within_p99, 1e-9)),
        "per_join": joins,
    }


def structure_consistency(timeline: Timeline) -> float | None:
    """Fraction of the slots in repeated music (a section heard before, slot by slot) that
    dance the same phrase as the first time; ``None`` when nothing repeats."""
    first = repeats_of(timeline.slots)
    repeated = np.flatnonzero(first >= 0)
    if not len(repeated):
        return None
    ids = timeline.phrase_ids()
    return float(np.mean([ids[k] == ids[first[k]] for k in repeated]))


def diversity(timeline: Timeline) -> dict[str, float]:
    """How varied the choreography is: distinct phrases and moves (a move's mirrored and
    energy variants count once) per slot, the normalised entropy of phrase use (1: every
    phrase equally often), and the share of slots that repeat the previous slot's phrase."""
    ids = timeline.phrase_ids()
    _, counts = np.unique(ids, return_counts=True)
    share = counts / counts.sum()
    entropy = float(-(share * np.log(share)).sum() / np.log(len(ids))) if len(ids) > 1 else 0.0
    back_to_back = [a == b for a, b in zip(ids, ids[1:], strict=False)]
    return {
        "distinct_phrases": int(len(counts)),
        "distinct_moves": int(len({move_of(i) for i in ids})),
        "distinct_phrase_ratio": float(len(counts) / len(ids)),
        "phrase_entropy": entropy,
        "back_to_back_repeats": float(np.mean(back_to_back)) if back_to_back else 0.0,
    }
