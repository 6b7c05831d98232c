"""Building a :class:`~musicdance.conduct.procedural.ConductingScore` from a song: exact beats
of a generated song (``musicdance.audio.synth.SongTruth``) or the analysis of a real one."""

from __future__ import annotations

import numpy as np

from musicdance.conduct.features import read_music
from musicdance.conduct.procedural import ConductingScore

__all__ = ["compound_meter", "score_from_analysis", "score_from_beats"]


def compound_meter(beat_positions: np.ndarray) -> np.ndarray:
    """Regroup the beats of a 3-beat meter two bars at a time: positions 1-6 (6/8 in six, beat
    4 the secondary accent). The first complete bar starts a 6/8 bar."""
    positions = np.asarray(beat_positions, dtype=int)
    bar = np.cumsum(positions == 1) - 1
    return np.where(bar % 2 == 1, positions + 3, positions)


def score_from_beats(
    mel01: np.ndarray,
    beat_times_s: np.ndarray,
    beat_positions: np.ndarray,
    meter: int,
    section_starts_s: np.ndarray | list[float] = (),
) -> ConductingScore:
    """A score from known beats (seconds, bar positions 1..meter) and the song's mel
    (:func:`musicdance.conduct.features.conducting_mel`, which sets the length)."""
    reading = read_music(mel01)
    duration_s = (len(reading.loudness) - 1) / reading.fps
    times = np.asarray(beat_times_s, dtype=float)
    keep = times <= duration_s
    return ConductingScore(
        duration_s=duration_s,
        beat_times_s=times[keep],
        beat_positions=np.asarray(beat_positions, dtype=int)[keep],
        meter=int(meter),
        section_starts_s=np.asarray(section_starts_s, dtype=float),
        reading=reading,
    )


def score_from_analysis(analysis, mel01: np.ndarray) -> ConductingScore:
    """A score from ``musicdance.audio.analysis.Analysis`` (beats, downbeats, meter, sections);
    meters other than 2, 3 and 4 are conducted in 4."""
    meter = int(analysis.meter) if int(analysis.meter) in (2, 3, 4) else 4
    positions = np.asarray(analysis.beat_positions, dtype=int)
    positions = np.where(positions > meter, (positions - 1) % meter + 1, positions)
    starts = [s.start_s for s in analysis.sections]
    return score_from_beats(mel01, analysis.beat_times_s, positions, meter, starts)
