"""Phrase slicing (paper, section 3.1, "merging"): 2-8 bars, on downbeats, inside sections.

Each section (from ``structure``) is cut into phrases by a small dynamic programme over its
downbeats. A cut before bar j scores its *break* evidence, judged by melody and onsets around
the downbeat: the melody rests in the beat before the downbeat and a new note starts on it, and
a drum fill (onset density in the last beat above the bar's average) leads into it. Phrase
lengths carry a prior that prefers 4 and 8 bars (music is built in 2-bar units and in eights),
then 2, then odd lengths; the programme maximises prior + break evidence under the hard limits
(2 to 8 bars, no phrase crosses a section boundary).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Phrase",
    "LENGTH_PRIOR",
    "break_scores",
    "cut_section",
    "grid_bonus",
    "hypermetric_phase",
    "count_cycle",
    "onset_peaks",
    "rhythm_target",
]

#: log-prior of a phrase length in bars.
LENGTH_PRIOR = {2: -0.6, 3: -1.6, 4: 0.0, 5: -1.6, 6: -1.0, 7: -2.0, 8: -0.3}
MIN_BARS, MAX_BARS = 2, 8


@dataclass
class Phrase:
    """A music phrase: the unit that later stages map to a dance phrase.

    Attributes:
        index: position in the song (0-based).
        start_s, end_s: time span in seconds (start on a downbeat).
        n_bars: bars in the phrase (2-8).
        section: index of the section that holds it.
        section_label: label of that section (repeated sections share it).
        beat_times_s: beats inside the phrase, in seconds.
        counts: dancer's count of each beat (1-8 for 2/4 and 4/4, 1-6 for 3/4).
        loudness_db: mean RMS level in dBFS.
        energy: loudness rescaled to 0-1 over the phrases of the song.
        onset_density_per_s: detected onsets per second.
        centroid_hz: RMS-weighted mean spectral centroid in Hz.
        tempo_bpm: local tempo from the phrase's beat intervals.
        break_score: evidence of a phrase break at its start (melody rest, fill).
    """

    index: int
    start_s: float
    end_s: float
    n_bars: int
    section: int
    section_label: str
    beat_times_s: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    loudness_db: float = 0.0
    energy: float = 0.0
    onset_density_per_s: float = 0.0
    centroid_hz: float = 0.0
    tempo_bpm: float = 0.0
    break_score: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def count_cycle(meter: int) -> int:
    """Beats per dancer's count cycle: eights for 2/4 and 4/4, sixes for 3/4."""
    return 6 if meter == 3 else 8


def onset_peaks(onset_env: np.ndarray, *, fps: float, delta: float = 0.15,
                wait_s: float = 0.05) -> np.ndarray:
    """Peak-pick onsets: local maxima over +-3 frames above the +-0.25 s mean plus ``delta``.

    Args:
        onset_env: np.ndarray [shape=(T,)]; delta: threshold above the local mean, as a fraction
            of the envelope's 99th percentile.

    Returns:
        np.ndarray [shape=(n_onsets,), int], onset frames.
    """
    env = np.asarray(onset_env, dtype=np.float64)
    if env.size < 7 or env.max() <= 0:
        return np.zeros(0, dtype=int)
    scale = np.percentile(env, 99)
    if scale <= 0:
        return np.zeros(0, dtype=int)
    pad = np.pad(env, 3, mode="edge")
    local_max = np.lib.stride_tricks.sliding_window_view(pad, 7).max(axis=1)
    w = max(1, int(0.25 * fps))
    kernel = np.ones(2 * w + 1) / (2 * w + 1)
    local_mean = np.convolve(np.pad(env, w, mode="edge"), kernel, mode="valid")
    cand = np.flatnonzero((env >= local_max) & (env > local_mean + delta * scale))
    wait = max(1, int(round(wait_s * fps)))
    keep, last = [], -wait - 1
    for c in cand:
        if c - last > wait:
            keep.append(c)
            last = c
    return np.asarray(keep, dtype=int)


def rhythm_target(
    onset_frames: np.ndarray, melody_hz: np.ndarray, *, n_frames: int
) -> np.ndarray:
    """Binary rhythm curve (the paper's rhythm pre-training target): 1 at onsets and melody notes.

    A frame is 1 where an onset was detected or a melody note starts (unvoiced to voiced, or a
    pitch jump of more than half a semitone).

    Returns:
        np.ndarray [shape=(n_frames,), uint8].
    """
    out = np.zeros(n_frames, dtype=np.uint8)
    out[onset_frames[(onset_frames >= 0) & (onset_frames < n_frames)]] = 1
    mel = np.asarray(melody_hz[:n_frames], dtype=np.float64)
    if mel.size > 1:
        midi = np.where(mel > 0, 12 * np.log2(np.maximum(mel, 1e-9) / 440.0), np.nan)
        starts = (mel[1:] > 0) & ((mel[:-1] <= 0) | (np.abs(np.diff(midi)) > 0.5))
        out[1:][np.nan_to_num(starts, nan=0).astype(bool)] = 1
    return out


def break_scores(
    downbeat_frames: np.ndarray, beat_period_frames: float, *, melody_hz: np.ndarray,
    onset_env: np.ndarray,
) -> np.ndarray:
    """Evidence of a phrase break just before each downbeat (from melody and onsets).

    For downbeat j: (unvoiced fraction of the melody in the beat before it) + (voiced fraction
    in the beat after it) - 1, plus the ratio of onset strength in the beat before it to the
    mean of the bar before, minus 1 (a fill), clipped to [-1, 1].

    Returns:
        np.ndarray [shape=(n_downbeats,)].
    """
    T = len(melody_hz)
    p = max(1, int(round(beat_period_frames)))
    voiced = np.concatenate([[0.0], np.cumsum(melody_hz > 0)])
    onset = np.concatenate([[0.0], np.cumsum(onset_env, dtype=np.float64)])
    d = np.clip(np.asarray(downbeat_frames, dtype=int), 0, T)
    lo, hi = np.clip(d - p, 0, T), np.clip(d + p, 0, T)
    before_unvoiced = 1 - (voiced[d] - voiced[lo]) / np.maximum(d - lo, 1)
    after_voiced = (voiced[hi] - voiced[d]) / np.maximum(hi - d, 1)
    mel_break = before_unvoiced + after_voiced - 1
    bar_lo = np.clip(d - 4 * p, 0, T)
    last_beat = (onset[d] - onset[lo]) / np.maximum(d - lo, 1)
    bar_mean = (onset[d] - onset[bar_lo]) / np.maximum(d - bar_lo, 1)
    fill = np.clip(last_beat / np.maximum(bar_mean, 1e-9) - 1, -1, 1)
    fill[bar_mean <= 1e-9] = 0
    return mel_break + 0.5 * fill


def hypermetric_phase(breaks: np.ndarray, *, unit_bars: int = 4) -> int:
    """Bar offset (0 to ``unit_bars`` - 1) of the song's grid of 4-bar units.

    Phrases start every 4 bars from some offset (a 2-bar intro shifts the grid by 2); the offset
    whose bars carry the most break evidence on average wins. Bar 0 is left out (the song's
    start always looks like a break).

    Args:
        breaks: np.ndarray [shape=(n_bars,)], from ``break_scores``.

    Returns:
        The offset, in bars.
    """
    n = len(breaks)
    if n < 2 * unit_bars:
        return 0
    means = [breaks[np.arange(phase, n, unit_bars)[np.arange(phase, n, unit_bars) > 0]].mean()
             for phase in range(unit_bars)]
    return int(np.argmax(means))


def grid_bonus(n_bars: int, phase: int, *, bonus: float = 0.3) -> np.ndarray:
    """Prior for a phrase start at each bar: ``bonus`` on the 4-bar grid, half on the 2-bar grid.

    Returns:
        np.ndarray [shape=(n_bars,)].
    """
    offset = (np.arange(n_bars) - phase) % 4
    return np.where(offset == 0, bonus, np.where(offset == 2, bonus / 2, 0.0))


def cut_section(n_bars: int, breaks: np.ndarray, *, prior=None) -> list[int]:
    """Best phrase lengths for a section of ``n_bars`` bars.

    Args:
        n_bars: bars in the section (>= 2; a 1-bar section gives one 1-bar phrase).
        breaks: np.ndarray [shape=(n_bars,)], break evidence before each bar of the section
            (index 0, the section start, is ignored: it is always a cut).
        prior: {length: log-prior}; defaults to ``LENGTH_PRIOR``.

    Returns:
        Phrase lengths in bars, summing to ``n_bars``.
    """
    prior = LENGTH_PRIOR if prior is None else prior
    if n_bars < MIN_BARS:
        return [n_bars] if n_bars > 0 else []
    best = np.full(n_bars + 1, -np.inf)
    back = np.zeros(n_bars + 1, dtype=int)
    best[0] = 0.0
    for end in range(MIN_BARS, n_bars + 1):
        for length in range(MIN_BARS, min(MAX_BARS, end) + 1):
            start = end - length
            if not np.isfinite(best[start]):
                continue
            gain = best[start] + prior[length] + (breaks[start] if start > 0 else 0.0)
            if gain > best[end]:
                best[end], back[end] = gain, length
    lengths = []
    end = n_bars
    while end > 0:
        lengths.append(int(back[end]))
        end -= back[end]
    return lengths[::-1]
