"""Piecewise time warping: make a phrase's counts land on the music's beats.

A phrase knows the frame of each of its counts; the music knows the time of each beat. The warp
maps every output time to a source time by linear interpolation between matching
(beat time, count time) pairs, so the motion between two counts is stretched or squeezed
evenly and every count lands exactly on its beat, at any tempo.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.motion.motion import Motion, sample


def warp_source_times(
    output_times_s: np.ndarray, beat_times_s: np.ndarray, count_times_s: np.ndarray
) -> np.ndarray:
    """Source-motion times ``[N]`` for ``output_times_s [N]`` so that beats meet counts.

    beat_times_s, count_times_s: ``[K]`` increasing, matched pairwise (beat k plays count k).
    Outside the first and last pair the rate of the nearest segment continues.
    """
    beats = np.asarray(beat_times_s, dtype=float)
    counts = np.asarray(count_times_s, dtype=float)
    if beats.shape != counts.shape or len(beats) < 2:
        raise MusicDanceError("time warping needs at least two matched beats and counts")
    if np.any(np.diff(beats) <= 0) or np.any(np.diff(counts) <= 0):
        raise MusicDanceError("beat and count times must be strictly increasing")
    t = np.asarray(output_times_s, dtype=float)
    source = np.interp(t, beats, counts)
    first_rate = (counts[1] - counts[0]) / (beats[1] - beats[0])
    last_rate = (counts[-1] - counts[-2]) / (beats[-1] - beats[-2])
    source = np.where(t < beats[0], counts[0] + (t - beats[0]) * first_rate, source)
    return np.where(t > beats[-1], counts[-1] + (t - beats[-1]) * last_rate, source)


def time_warp(
    motion: Motion,
    count_frames: np.ndarray,
    beat_times_s: np.ndarray,
    *,
    fps: float,
    start_s: float | None = None,
    stop_s: float | None = None,
) -> Motion:
    """Resample ``motion`` at ``fps`` so that count ``k`` (frame ``count_frames[k]``) plays at
    ``beat_times_s[k]``. The result covers ``[start_s, stop_s)`` (default: first to last beat),
    with its frame 0 at ``start_s``; source times outside the motion are clamped to its ends.
    """
    beats = np.asarray(beat_times_s, dtype=float)
    start = beats[0] if start_s is None else float(start_s)
    stop = beats[-1] if stop_s is None else float(stop_s)
    num_frames = max(int(np.ceil((stop - start) * fps - 1e-9)), 1)
    output_times = start + np.arange(num_frames) / fps
    count_times = np.asarray(count_frames, dtype=float) / motion.fps
    warped = sample(motion, warp_source_times(output_times, beats, count_times))
    return replace(warped, fps=float(fps))
