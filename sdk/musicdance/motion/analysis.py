"""Kinematic analysis of dance motion: joint speeds, kinematic beats, motion tempo, foot contacts,
support foot, facing and the "looks like dance" statistics.

Every function takes global joint positions ``[T, J, 3]`` in metres (``Motion.global_positions``)
and the frame rate, and works in frames; times in seconds or beats are converted at the edge.
Y is up (see ``musicdance.motion``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d, minimum_filter1d

from musicdance.motion.quat import quat_mul_vec3

__all__ = [
    "SUPPORT_FEET",
    "TempoEstimate",
    "contacts_from_signals",
    "dance_statistics",
    "estimate_motion_tempo",
    "facing_deg",
    "foot_contacts",
    "foot_signals",
    "foot_skating_mps",
    "joint_speeds_mps",
    "kinematic_beat_salience",
    "kinematic_beats",
    "motion_tempo_bpm",
    "peak_joint_motion",
    "pose_repetition_s",
    "smoothed_speed_mps",
    "support_foot",
    "track_kinematic_beats",
]

#: Values of ``support_foot``: which foot carries the weight.
SUPPORT_FEET = ("left", "right", "both", "none")


def joint_speeds_mps(positions_m: np.ndarray, fps: float) -> np.ndarray:
    """Speed of every joint, ``[T, J]`` in metres per second (central differences)."""
    if len(positions_m) < 2:
        return np.zeros(positions_m.shape[:-1])
    velocity = np.gradient(positions_m, axis=0) * fps
    return np.linalg.norm(velocity, axis=-1)


def smoothed_speed_mps(positions_m: np.ndarray, fps: float, *, sigma_s: float = 0.05) -> np.ndarray:
    """Mean joint speed over the body, Gaussian-smoothed over ``sigma_s`` seconds, ``[T]`` m/s."""
    speed = joint_speeds_mps(positions_m, fps).mean(axis=1)
    return gaussian_filter1d(speed, sigma_s * fps, mode="nearest") if sigma_s > 0 else speed


def kinematic_beats(
    positions_m: np.ndarray,
    fps: float,
    *,
    sigma_s: float = 0.05,
    min_separation_s: float = 0.2,
    min_depth: float = 0.05,
) -> np.ndarray:
    """Frames of the kinematic beats: local minima of the smoothed mean joint speed, ``[B]`` int.

    A minimum counts when it is the lowest point within ``min_separation_s`` / 2 on each side and
    the speed rises by at least ``min_depth`` (a fraction of the take's median speed) on both
    sides within ``min_separation_s``. The first and last frames never count (their neighbourhood
    is one-sided).
    """
    speed = smoothed_speed_mps(positions_m, fps, sigma_s=sigma_s)
    if len(speed) < 3:
        return np.zeros(0, dtype=np.int64)
    half = max(1, int(round(min_separation_s * fps / 2)))
    lowest = minimum_filter1d(speed, 2 * half + 1, mode="nearest")
    # The highest speed on each side within the separation window.
    window = 2 * half + 1
    left_max = maximum_filter1d(speed, window, origin=half, mode="nearest")
    right_max = maximum_filter1d(speed, window, origin=-half, mode="nearest")
    depth = min_depth * max(float(np.median(speed)), 1e-6)
    is_beat = (
        (speed <= lowest)
        & (left_max - speed >= depth)
        & (right_max - speed >= depth)
        & (np.diff(speed, prepend=np.inf) < 0)  # first frame of a flat bottom only
    )
    is_beat[[0, -1]] = False
    return np.flatnonzero(is_beat)


def kinematic_beat_salience(
    positions_m: np.ndarray,
    fps: float,
    *,
    sigma_s: float = 0.05,
    min_prominence_mps: float = 0.05,
    speed_sigma_s: float | None = None,
) -> np.ndarray:
    """How strongly the body stops at each frame, ``[T]`` (m/s, summed over joints).

    Every local minimum of each joint's speed (smoothed over ``speed_sigma_s``, default
    ``sigma_s``) adds its prominence (how far the speed dips, in m/s) at its frame; the sum is
    smoothed over ``sigma_s``. Joints that stop together make a strong kinematic beat, one
    joint drifting to a halt a weak one.
    """
    from scipy.signal import find_peaks

    speed_sigma = sigma_s if speed_sigma_s is None else speed_sigma_s
    speeds = joint_speeds_mps(positions_m, fps)
    if speed_sigma > 0:
        speeds = gaussian_filter1d(speeds, speed_sigma * fps, axis=0)
    salience = np.zeros(len(positions_m))
    for joint_speed in speeds.T:
        frames, props = find_peaks(-joint_speed, prominence=min_prominence_mps)
        np.add.at(salience, frames, props["prominences"])
    return gaussian_filter1d(salience, sigma_s * fps, mode="constant")


@dataclass
class TempoEstimate:
    """What ``estimate_motion_tempo`` found.

    tempo_bpm: the tempo (``nan`` when none); confidence: the pulse score in ``[0, 1]`` at it;
    repetition_s: the period the poses repeat at (``nan`` when they do not clearly repeat);
    candidates: ``(bpm, score)`` of the tempos that were weighed (the best first); reason: how
    the tempo was chosen.
    """

    tempo_bpm: float
    confidence: float
    repetition_s: float = float("nan")
    candidates: list[tuple[float, float]] = field(default_factory=list)
    reason: str = ""


def _lag_value(acf: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """The autocorrelation at fractional lags (linear interpolation; 0 outside ``[1, n-2]``)."""
    lags = np.asarray(lags, dtype=float)
    i = np.floor(lags).astype(np.int64)
    inside = (i >= 1) & (i + 1 < len(acf))
    i = np.clip(i, 0, len(acf) - 2)
    f = lags - i
    return np.where(inside, acf[i] * (1 - f) + acf[i + 1] * f, 0.0)


def _autocorrelation(signal: np.ndarray) -> np.ndarray:
    """Unbiased autocorrelation of ``[T]`` or ``[T, D]`` (summed over D), 1 at lag 0."""
    n = len(signal)
    spectrum = np.fft.rfft(signal, 2 * n, axis=0)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), axis=0)[:n]
    if acf.ndim > 1:
        acf = acf.sum(axis=1)
    return acf / (max(float(acf[0]), 1e-12) * (n - np.arange(n)) / n)


def _peak_lag(acf: np.ndarray, guess: float, tolerance: float = 0.1) -> tuple[float, float]:
    """The autocorrelation maximum within ``tolerance`` of lag ``guess``, refined by a parabola:
    (lag, height); ``(nan, 0)`` when the window holds no interior maximum."""
    lo = max(1, int(np.floor(guess * (1 - tolerance))))
    hi = min(len(acf) - 2, int(np.ceil(guess * (1 + tolerance))))
    if hi <= lo:
        return float("nan"), 0.0
    k = lo + int(np.argmax(acf[lo : hi + 1]))
    if k in (lo, hi) and not (acf[k] >= acf[k - 1] and acf[k] >= acf[k + 1]):
        return float("nan"), 0.0
    a, b, c = acf[k - 1 : k + 2]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return k + float(np.clip(shift, -0.5, 0.5)), float(b)


#: Octave family of a beat period and the weight each member's autocorrelation gets.
_FAMILY = {1.0: 1.0, 2.0: 0.5, 0.5: 0.5}


def pose_repetition_s(
    positions_m: np.ndarray,
    fps: float,
    *,
    min_s: float = 1.5,
    max_s: float = 12.0,
    min_score: float = 0.5,
) -> float:
    """The period (s) at which the poses repeat: the highest autocorrelation peak of the joint
    positions relative to the hips (on the floor plane) with lags in ``[min_s, max_s]``, when
    it reaches ``min_score``; ``nan`` otherwise."""
    n = len(positions_m)
    relative = positions_m - positions_m[:, :1] * np.array([1.0, 0.0, 1.0])
    relative = relative.reshape(n, -1)
    relative = relative - relative.mean(axis=0)
    lo, hi = int(min_s * fps), min(int(max_s * fps), n // 2)
    if hi <= lo + 2:
        return float("nan")
    acf = _autocorrelation(relative)
    lags = np.arange(lo, hi)
    peaks = lags[(acf[lags] >= acf[lags - 1]) & (acf[lags] >= acf[lags + 1])]
    if len(peaks) == 0 or acf[peaks].max() < min_score:
        return float("nan")
    return float(peaks[np.argmax(acf[peaks])] / fps)


def estimate_motion_tempo(
    positions_m: np.ndarray,
    fps: float,
    *,
    fold_bpm: tuple[float, float] = (70.0, 140.0),
    position_sigma_s: float = 0.03,
) -> TempoEstimate:
    """Tempo of the movement from its kinematic beats, with octave handling.

    1. Pulse: the kinematic-beat salience (``kinematic_beat_salience`` of the speeds of
       positions smoothed over ``position_sigma_s`` against capture jitter, speeds not smoothed
       again so the stops stay sharp), minus its 1-s local mean, and its autocorrelation.
    2. Every tempo in ``fold_bpm`` (0.1 BPM steps) is scored with its octave family: the
       autocorrelation at one beat, two beats and half a beat (weights 1, 0.5, 0.5, averaged),
       so a dancer moving on every other beat or doubling up still supports the same tempo and
       the choice inside the fold range does not flip between octaves; the best is refined
       from the parabolic peaks at one and two beats.
    3. The tempos a factor 1.5 or 2 away (within 60..180 BPM) are alternatives; when one
       scores at least 0.8 of the best and the poses repeat (``pose_repetition_s``), the
       tempo whose bars or eights match the repetition period wins.
    The confidence is the family score of the chosen tempo: about 0.75 for a dancer hitting
    every beat, under 0.15 for motion with no steady pulse.
    """
    n = len(positions_m)
    smoothed = (
        gaussian_filter1d(positions_m, position_sigma_s * fps, axis=0, mode="nearest")
        if position_sigma_s > 0 and n > 1
        else positions_m
    )
    salience = kinematic_beat_salience(smoothed, fps, speed_sigma_s=0.0)
    slowest_beat = 60.0 * fps / (fold_bpm[0] / 2.0)
    if n < 2 * 60.0 * fps / fold_bpm[0] + 2 or not np.any(salience > 0):
        return TempoEstimate(float("nan"), 0.0, reason="too short or never stops")
    pulse = salience - gaussian_filter1d(salience, 1.0 * fps, mode="nearest")
    acf = _autocorrelation(pulse)

    def family_score(bpm: np.ndarray) -> np.ndarray:
        period = 60.0 * fps / np.asarray(bpm, dtype=float)
        total = sum(w * np.maximum(_lag_value(acf, k * period), 0.0) for k, w in _FAMILY.items())
        return total / sum(_FAMILY.values())

    grid = np.arange(fold_bpm[0], fold_bpm[1], 0.1)
    scores = family_score(grid)
    best = float(grid[int(np.argmax(scores))])
    # refine from the peaks at one and two beats
    refined, weights = [], []
    for k in (1.0, 2.0):
        lag, height = _peak_lag(acf, k * 60.0 * fps / best)
        if np.isfinite(lag) and height > 0 and k * lag <= slowest_beat * 2:
            refined.append(lag / k)
            weights.append(height)
    if refined:
        best = 60.0 * fps / float(np.average(refined, weights=weights))
    best_score = float(family_score(np.array([best]))[0])
    alternatives = [best * r for r in (2 / 3, 3 / 2, 0.5, 2.0) if 60.0 <= best * r <= 180.0]
    alt_scores = family_score(np.array(alternatives)) if alternatives else np.zeros(0)
    candidates = [(best, best_score), *zip(alternatives, alt_scores.tolist(), strict=True)]
    repetition = pose_repetition_s(positions_m, fps)
    reason = "strongest pulse"
    if np.isfinite(repetition):

        def mismatch(bpm: float) -> float:
            beats = repetition * bpm / 60.0  # beats per repetition: 2, 4, 8 or 16 fit
            return min(abs(np.log2(beats / m)) for m in (2.0, 4.0, 8.0, 16.0))

        close = [(b, s) for b, s in candidates if s >= 0.8 * best_score]
        fit = min(close, key=lambda c: mismatch(c[0]))
        if fit[0] != best and mismatch(fit[0]) < 0.05 and mismatch(best) > 0.1:
            best, best_score = fit
            reason = f"its bars match the movement's {repetition:.2f}-s repetition"
    return TempoEstimate(
        tempo_bpm=float(best),
        confidence=float(np.clip(best_score, 0.0, 1.0)),
        repetition_s=repetition,
        candidates=sorted(candidates, key=lambda c: -c[1]),
        reason=reason,
    )


def motion_tempo_bpm(positions_m: np.ndarray, fps: float, **options) -> tuple[float, float]:
    """``(tempo_bpm, confidence)`` of ``estimate_motion_tempo``; ``(nan, 0)`` for motion that
    never stops or is shorter than two slowest beats."""
    estimate = estimate_motion_tempo(positions_m, fps, **options)
    return estimate.tempo_bpm, estimate.confidence


def track_kinematic_beats(
    salience: np.ndarray, fps: float, tempo_bpm: float, *, tightness: float = 100.0
) -> np.ndarray:
    """Beat frames ``[B]`` that follow the motion's stops at about ``tempo_bpm``.

    Ellis' dynamic programme (as in librosa's ``beat_track``) on the kinematic-beat salience:
    each beat's score is its salience plus the best earlier beat's score, penalised by
    ``tightness`` times the squared log-ratio of the gap to the beat period. Gaps are limited
    to half..twice the period, so the tracker follows tempo drift over a long take without
    losing the grid. Frames are processed in blocks of half a period (all their predecessors
    are already final), so a 10-minute take needs a few thousand small numpy steps.
    """
    n = len(salience)
    period = 60.0 * fps / tempo_bpm
    if n == 0 or not np.isfinite(period):
        return np.zeros(0, dtype=np.int64)
    lags = np.arange(max(1, int(round(period / 2))), int(round(2 * period)) + 1)
    penalty = -tightness * np.log(lags / period) ** 2
    local = salience / max(float(salience.std()), 1e-9)
    score = local.copy()
    back = np.full(n, -1, dtype=np.int64)
    for start in range(int(lags[0]), n, int(lags[0])):
        frames = np.arange(start, min(start + int(lags[0]), n))
        previous = frames[:, None] - lags[None, :]
        valid = previous >= 0
        candidates = np.where(valid, score[np.maximum(previous, 0)] + penalty, -np.inf)
        best = np.argmax(candidates, axis=1)
        best_score = candidates[np.arange(len(frames)), best]
        linked = best_score > 0  # a chain only helps when its score is positive
        score[frames] = local[frames] + np.where(linked, best_score, 0.0)
        back[frames] = np.where(linked, previous[np.arange(len(frames)), best], -1)
    # End on the best-scoring frame within the last period, then follow the links back.
    tail = np.arange(max(0, n - int(np.ceil(period))), n)
    frame = int(tail[np.argmax(score[tail])])
    beats = []
    while frame >= 0:
        beats.append(frame)
        frame = int(back[frame])
    return np.array(beats[::-1], dtype=np.int64)


def foot_contacts(
    positions_m: np.ndarray,
    fps: float,
    foot_points: tuple[tuple[int, ...], tuple[int, ...]],
    *,
    height_m: float = 0.05,
    speed_mps: float = 0.3,
    min_frames: int = 3,
) -> np.ndarray:
    """Left/right foot contact per frame, ``[T, 2]`` bool.

    foot_points: joint indices that make up each foot, e.g. ``((ankle_l, toes_l), (ankle_r,
    toes_r))``. A point touches the floor when it is within ``height_m`` of its own lowest level
    in the take (its 2nd percentile, so mocap floors need not be at y = 0) and moves slower
    than ``speed_mps``; a foot is in contact when any of its points is. Contacts and gaps
    shorter than ``min_frames`` are removed.
    """
    heights, speeds = foot_signals(positions_m, fps, foot_points)
    return contacts_from_signals(
        heights,
        speeds,
        foot_points,
        height_m=height_m,
        speed_mps=speed_mps,
        min_frames=min_frames,
    )


def foot_signals(
    positions_m: np.ndarray, fps: float, foot_points: tuple[tuple[int, ...], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """What ``foot_contacts`` reads of a motion: the height (m) and speed (m/s) of every foot
    point, ``[T, P]`` each, points in ``foot_points`` order (one foot's, then the other's).
    Both are unchanged when the motion is turned about +Y or moved on the floor."""
    index = [joint for points in foot_points for joint in points]
    return positions_m[:, index, 1], joint_speeds_mps(positions_m[:, index], fps)


def contacts_from_signals(
    heights_m: np.ndarray,
    speeds_mps: np.ndarray,
    foot_points: tuple[tuple[int, ...], ...],
    *,
    height_m: float = 0.05,
    speed_mps: float = 0.3,
    min_frames: int = 3,
) -> np.ndarray:
    """``foot_contacts`` from ``foot_signals``' heights and speeds ``[T, P]``: ``[T, feet]``."""
    contacts = np.zeros((len(heights_m), len(foot_points)), dtype=bool)
    first = 0
    for side, points in enumerate(foot_points):
        columns = slice(first, first + len(points))
        first += len(points)
        heights = heights_m[:, columns]
        floor = np.percentile(heights, 2, axis=0)
        touching = (heights - floor < height_m) & (speeds_mps[:, columns] < speed_mps)
        contacts[:, side] = _remove_short_runs(touching.any(axis=1), min_frames)
    return contacts


def _remove_short_runs(mask: np.ndarray, min_frames: int) -> np.ndarray:
    """Close gaps, then drop runs, shorter than ``min_frames`` in a ``[T]`` bool mask."""
    if min_frames <= 1:
        return mask
    for value in (False, True):  # fill short gaps first, then remove short contacts
        mask = mask.copy()
        change = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
        bounds = np.concatenate([[0], change, [len(mask)]])
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            if mask[start] == value and stop - start < min_frames:
                mask[start:stop] = not value
    return mask


def foot_skating_mps(
    positions_m: np.ndarray,
    fps: float,
    contacts: np.ndarray,
    foot_points: tuple[tuple[int, ...], tuple[int, ...]],
) -> float:
    """Mean horizontal sliding speed (m/s) of the feet while they are in contact.

    A foot slides at the speed of its stillest point (``foot_points``, as for
    ``foot_contacts``): pivoting on the heel or the ball of the foot is not sliding. Measured
    between consecutive frames that are both in contact, so landing or taking off does not
    count. contacts: ``[T, 2]`` bool. 0 when no foot stays down for two frames.
    """
    planted = contacts[1:] & contacts[:-1]
    if len(positions_m) < 2 or not np.any(planted):
        return 0.0
    slide = np.empty((len(positions_m) - 1, 2))
    for side, points in enumerate(foot_points):
        horizontal = positions_m[:, list(points)][..., [0, 2]]
        slide[:, side] = np.linalg.norm(np.diff(horizontal, axis=0), axis=-1).min(axis=1) * fps
    return float(slide[planted].mean())


def support_foot(
    positions_m: np.ndarray,
    contacts: np.ndarray,
    root: int,
    foot_joints: tuple[int, int],
    *,
    balance: float = 0.3,
) -> list[str]:
    """Which foot carries the weight at each frame: ``"left"``, ``"right"``, ``"both"``, ``"none"``.

    With one foot down, that foot. With both down, the foot horizontally nearer the root (the
    centre of mass) when the nearer distance is under ``1 - balance`` of the farther one,
    otherwise ``"both"``.
    """
    root_xz = positions_m[:, root][:, [0, 2]]
    distance = np.stack(
        [np.linalg.norm(positions_m[:, j][:, [0, 2]] - root_xz, axis=-1) for j in foot_joints], -1
    )
    near_left = distance[:, 0] < (1 - balance) * distance[:, 1]
    near_right = distance[:, 1] < (1 - balance) * distance[:, 0]
    left, right = contacts[:, 0], contacts[:, 1]
    both_down = left & right
    labels = np.full(len(contacts), "none", dtype=object)
    labels[left & ~right] = "left"
    labels[right & ~left] = "right"
    labels[both_down] = "both"
    labels[both_down & near_left] = "left"
    labels[both_down & near_right] = "right"
    return labels.tolist()


def facing_deg(root_rotations: np.ndarray) -> np.ndarray:
    """Heading of the body in degrees, ``[T]``: 0 facing +Z, positive turning towards +X (left).

    root_rotations: global hips rotations ``[T, 4]`` xyzw.
    """
    forward = quat_mul_vec3(root_rotations, np.array([0.0, 0.0, 1.0]))
    return np.degrees(np.arctan2(forward[..., 0], forward[..., 2]))


def dance_statistics(
    positions_m: np.ndarray,
    fps: float,
    *,
    hips: int,
    hands: tuple[int, int],
    feet: tuple[int, int],
) -> dict[str, float]:
    """The "looks like dance" figures of a motion (metres, seconds).

    hand_speed_mean/p95_mps: speed of both hands pooled. foot_speed_mean/p95_mps: both ankles.
    root_travel_mps: horizontal path length of the hips per second (path smoothed over 0.1 s so
    capture jitter does not count). root_bounce_std_m: standard deviation of the hips' height.
    hand_height_p95_m: 95th percentile over frames of the higher hand's height above the hips.
    """
    speeds = joint_speeds_mps(positions_m, fps)
    hand_speed = speeds[:, list(hands)].ravel()
    foot_speed = speeds[:, list(feet)].ravel()
    root_xz = gaussian_filter1d(positions_m[:, hips][:, [0, 2]], 0.1 * fps, axis=0, mode="nearest")
    duration_s = max(len(positions_m) - 1, 1) / fps
    travel = np.linalg.norm(np.diff(root_xz, axis=0), axis=-1).sum() / duration_s
    hand_height = positions_m[:, list(hands), 1].max(axis=1) - positions_m[:, hips, 1]
    return {
        "hand_speed_mean_mps": float(hand_speed.mean()),
        "hand_speed_p95_mps": float(np.percentile(hand_speed, 95)),
        "foot_speed_mean_mps": float(foot_speed.mean()),
        "foot_speed_p95_mps": float(np.percentile(foot_speed, 95)),
        "root_travel_mps": float(travel),
        "root_bounce_std_m": float(positions_m[:, hips, 1].std()),
        "hand_height_p95_m": float(np.percentile(hand_height, 95)),
    }


def peak_joint_motion(positions_m: np.ndarray, fps: float) -> dict[str, float]:
    """How sharply the fastest joint moves: per frame the largest joint value, then over frames.

    speed_p99_mps: 99th percentile over frames of the largest joint speed (finite differences).
    acceleration_p99_mps2: the same for the acceleration (second differences). max_step_m:
    the largest distance any joint moves from one frame to the next. Compare motions at the
    same frame rate (differences sharpen with it); the library benchmark uses 30 fps.
    """
    if len(positions_m) < 3:
        return {"speed_p99_mps": 0.0, "acceleration_p99_mps2": 0.0, "max_step_m": 0.0}
    step = np.linalg.norm(np.diff(positions_m, axis=0), axis=-1).max(axis=1)
    acceleration = np.linalg.norm(np.diff(positions_m, 2, axis=0), axis=-1).max(axis=1) * fps**2
    return {
        "speed_p99_mps": float(np.percentile(step * fps, 99)),
        "acceleration_p99_mps2": float(np.percentile(acceleration, 99)),
        "max_step_m": float(step.max()),
    }
