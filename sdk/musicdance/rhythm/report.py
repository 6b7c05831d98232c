"""Rhythm precision and recall of a dance against its song (Sec. 4.1's protocol).

The paper's truth is the song's onset maxima (:func:`~musicdance.rhythm.features.onset_maxima`);
the exact or tracked beats are reported beside it. The learned visual rhythm (the MuDaR
companion) and the signal-processing kinematic beats (local minima of the mean joint speed,
:func:`musicdance.motion.analysis.kinematic_beats`) are measured by the same code.
"""

from __future__ import annotations

import numpy as np

from musicdance.motion.analysis import kinematic_beats
from musicdance.rhythm.features import onset_maxima, onset_strength
from musicdance.rhythm.retrieval import precision_recall

__all__ = ["TOLERANCE_S", "rhythm_report", "song_onsets_s"]

#: A predicted rhythm point is a hit within this distance of a true one (one frame at 15 fps).
TOLERANCE_S = 0.07


def song_onsets_s(analysis) -> np.ndarray:
    """Onset maxima (s) of an analysed song (needs its log-mel)."""
    return onset_maxima(onset_strength(analysis.log_mel_db), analysis.fps) / analysis.fps


def rhythm_report(positions_m: np.ndarray, fps: float, names, analysis, model=None,
                  beats_s: np.ndarray | None = None) -> dict:  # fmt: skip
    """``{estimator: {truth: precision_recall}}`` for ``learned`` (when ``model``) and
    ``kinematic``, against ``onsets`` and ``beats`` (``beats_s``, default the analysis')."""
    duration_s = (len(positions_m) - 1) / fps
    truths = {
        "onsets": song_onsets_s(analysis),
        "beats": np.asarray(analysis.beat_times_s if beats_s is None else beats_s),
    }
    truths = {k: v[(v >= 0) & (v <= duration_s)] for k, v in truths.items()}
    estimates = {"kinematic": kinematic_beats(positions_m, fps) / fps}
    if model is not None:
        estimates["learned"] = model.rhythm_times_s(positions_m, fps, names)
    return {
        name: {truth: precision_recall(points, t, TOLERANCE_S) for truth, t in truths.items()}
        for name, points in estimates.items()
    }
