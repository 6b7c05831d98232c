"""Temporal retargeting of a dance onto another song (paper Sec. 4.4, eq. 22-23).

Each method maps output (song) time to dance time from the dance's rhythm points ``P^v`` and
the song's ``P^a`` (seconds); the dance is then resampled at those times
(:func:`musicdance.motion.sample`), so rotations are slerped and nothing is invented.

* ``shift``: a window as long as the shorter of the two slides over the longer one; the crop
  holding the number of rhythm points closest to the other's is kept and its first rhythm
  point is aligned with the other's first one (rate 1 throughout).
* ``accelerate``: the k-th visual interval ``I_k^v = P_{k+1}^v - P_k^v`` is stretched to
  ``I_k^a`` (frames interpolated or dropped), rhythm point k onto rhythm point k.
* ``dtw``: dynamic time warping of the two point sequences, eq. (22)
  ``c(i, j) = d(i, j) + min(c(i-1, j-1), c(i-1, j), c(i, j-1))`` with eq. (23)
  ``d(i, j) = |P_i - P_j|`` (times from each sequence's first point); the path's one-to-one
  pairs, kept strictly increasing and with local rates in ``[1 / MAX_RATE, MAX_RATE]``, are
  the anchors of a piecewise-linear warp.
"""

from __future__ import annotations

import numpy as np

from musicdance.errors import MusicDanceError

__all__ = ["FIT_METHODS", "MAX_RATE", "dtw_pairs", "fit_time_map"]

FIT_METHODS = ("shift", "accelerate", "dtw")
#: Largest speed-up (and slow-down) a DTW anchor pair may ask for.
MAX_RATE = 2.0


def dtw_pairs(p_v: np.ndarray, p_a: np.ndarray) -> list[tuple[int, int]]:
    """The minimum-cost warping path of eq. (22)-(23) between two point sequences, as
    ``(i, j)`` index pairs from (0, 0) to the ends."""
    a = np.asarray(p_v, dtype=float) - p_v[0]
    b = np.asarray(p_a, dtype=float) - p_a[0]
    n, m = len(a), len(b)
    d = np.abs(a[:, None] - b[None, :])  # eq. (23)
    c = np.full((n + 1, m + 1), np.inf)
    c[0, 0] = 0.0
    for i in range(1, n + 1):  # eq. (22), a row at a time
        row = c[i]
        diag_up = np.minimum(c[i - 1, :-1], c[i - 1, 1:]) + d[i - 1]
        for j in range(1, m + 1):
            row[j] = min(diag_up[j - 1], row[j - 1] + d[i - 1, j - 1])
    path, i, j = [], n, m
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = np.argmin([c[i - 1, j - 1], c[i - 1, j], c[i, j - 1]])
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return path[::-1]


def _anchor_map(out_s: np.ndarray, song_t: list[float], dance_t: list[float]) -> np.ndarray:
    """Piecewise-linear song -> dance time through the anchors, rate 1 outside them."""
    x, y = np.asarray(song_t, float), np.asarray(dance_t, float)
    times = np.interp(out_s, x, y)
    times = np.where(out_s < x[0], y[0] - (x[0] - out_s), times)
    return np.where(out_s > x[-1], y[-1] + (out_s - x[-1]), times)


def fit_time_map(
    method: str,
    dance_points_s: np.ndarray,
    song_points_s: np.ndarray,
    dance_s: float,
    song_s: float,
    fps: float,
) -> tuple[np.ndarray, dict]:
    """Dance time (s) for each output frame at ``fps`` and a summary dict.

    The output lasts as long as the song (``shift``: the shorter of the two). Times outside
    the dance are clamped by the sampler (the first or last pose is held).
    """
    if method not in FIT_METHODS:
        raise MusicDanceError(f"--method takes {', '.join(FIT_METHODS)}, got {method!r}")
    p_v = np.sort(np.asarray(dance_points_s, dtype=float))
    p_a = np.sort(np.asarray(song_points_s, dtype=float))
    if len(p_v) < 2 or len(p_a) < 2:
        raise MusicDanceError("fitting needs at least two rhythm points in the dance and the song")
    info: dict = {"method": method, "dance_points": len(p_v), "song_points": len(p_a)}
    if method == "shift":
        length = min(dance_s, song_s)
        out_s = np.arange(int(np.floor(length * fps)) + 1) / fps
        dance_longer = dance_s >= song_s
        longer, shorter = (p_v, p_a) if dance_longer else (p_a, p_v)
        target = np.sum(shorter <= length)
        best, best_gap = 0.0, np.inf
        for start in np.arange(0.0, abs(dance_s - song_s) + 1e-9, 1.0 / fps):
            count = np.sum((longer >= start) & (longer <= start + length))
            if abs(count - target) < best_gap:
                best, best_gap = float(start), abs(count - target)
        crop = longer[(longer >= best) & (longer <= best + length)]
        offset = (crop[0] - best) - shorter[0] if len(crop) else 0.0
        # dance time = song time + shift
        shift = best + offset if dance_longer else -(best + offset)
        info.update(shift_s=round(float(shift), 4), crop_start_s=round(best, 4))
        return out_s + shift, info
    out_s = np.arange(int(np.floor(song_s * fps)) + 1) / fps
    if method == "accelerate":
        k = min(len(p_v), len(p_a))
        info["pairs"] = k
        return _anchor_map(out_s, list(p_a[:k]), list(p_v[:k])), info
    pairs, song_t, dance_t = dtw_pairs(p_v, p_a), [], []
    for i, j in pairs:
        if song_t and (p_a[j] <= song_t[-1] or p_v[i] <= dance_t[-1]):
            continue
        if song_t:
            rate = (p_v[i] - dance_t[-1]) / (p_a[j] - song_t[-1])
            if not 1.0 / MAX_RATE <= rate <= MAX_RATE:
                continue
        song_t.append(float(p_a[j]))
        dance_t.append(float(p_v[i]))
    info["pairs"] = len(song_t)
    return _anchor_map(out_s, song_t, dance_t), info
