"""A slot's place in its song's structure: what a curator sees beyond the slot's own audio.

One slot's 128 x 128 log-mel does not tell a chorus from a verse across songs (a quiet song's
chorus can sound like a loud song's verse). A curator hears the whole song: which sections
come back, and which are the loud ones. :func:`slot_context` gives each slot that, as a few
numbers (:data:`CONTEXT_NAMES`):

- ``label_repeats``: how many of the song's sections share the slot's section label, over the
  most any label has (1.0: the most repeated part of the song);
- ``label_loudness_db``: the loudness of all sections with the slot's label against the song's
  mean (dB, divided by 6);
- ``label_loudness_rank``: where that loudness ranks among the song's labels (1.0: the
  loudest label, 0.0: the quietest);
- ``slot_loudness_db``: the slot's own loudness against the song's mean (dB, divided by 6);
- ``position``: the slot's middle as a fraction of the song.

Loudness is the mean power of the log-mel frames (``analysis.log_mel_db``) in dB. The numbers
are stored with every recorded edit (``Edit.slot_context``) and read by a fine-tuned bundle's
context head (``Bundle.probabilities(mel, context=...)``).
"""

from __future__ import annotations

import numpy as np

from musicdance.audio.analysis import Analysis
from musicdance.choreo.slots import Slot
from musicdance.errors import MusicDanceError

__all__ = ["CONTEXT_NAMES", "slot_context"]

#: Columns of :func:`slot_context`, in order.
CONTEXT_NAMES = ("label_repeats", "label_loudness_db", "label_loudness_rank", "slot_loudness_db",
                 "position")
_DB_SCALE = 6.0


def _frame_power(analysis: Analysis) -> np.ndarray:
    """Per-frame mean power of the log-mel ``[T]`` (linear)."""
    if analysis.log_mel_db is None:
        raise MusicDanceError(
            "this analysis has no log-mel (it was read from JSON); analyse the audio again",
            analysis.path,
        )
    return np.mean(10.0 ** (np.asarray(analysis.log_mel_db, np.float64) / 10.0), axis=0)


def _span_db(power: np.ndarray, fps: float, spans_s: np.ndarray) -> np.ndarray:
    """Mean power in dB of each ``(start_s, end_s)`` span ``[N, 2]`` -> ``[N]``."""
    edges = np.clip(np.round(np.asarray(spans_s, float) * fps).astype(int), 0, len(power) - 1)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    ends = np.maximum(edges[:, 1], edges[:, 0] + 1)
    mean = (cumulative[ends] - cumulative[edges[:, 0]]) / (ends - edges[:, 0])
    return 10.0 * np.log10(np.maximum(mean, 1e-12))


def slot_context(analysis: Analysis, slots: list[Slot]) -> np.ndarray:
    """``[N, len(CONTEXT_NAMES)]`` float32: each slot's place in the song (module docs)."""
    out = np.zeros((len(slots), len(CONTEXT_NAMES)), np.float32)
    if not slots:
        return out
    power = _frame_power(analysis)
    fps = analysis.fps
    song_db = 10.0 * np.log10(max(float(power.mean()), 1e-12))
    sections = analysis.sections
    labels = [s.label for s in sections]
    repeats = {label: labels.count(label) for label in labels}
    most = max(repeats.values(), default=1)
    section_db = _span_db(power, fps, np.array([[s.start_s, s.end_s] for s in sections]))
    label_db = {}
    for label in repeats:  # the label's sections together, weighted by their length
        rows = [k for k, s in enumerate(sections) if s.label == label]
        lengths = np.array([sections[k].end_s - sections[k].start_s for k in rows])
        linear = 10.0 ** (section_db[rows] / 10.0)
        label_db[label] = 10.0 * np.log10(np.sum(linear * lengths) / max(lengths.sum(), 1e-9))
    ordered = sorted(label_db, key=label_db.get)
    rank = {label: k / max(len(ordered) - 1, 1) for k, label in enumerate(ordered)}
    spans = np.array([[s.start_s, s.end_s] for s in slots])
    out[:, 0] = [repeats.get(s.section_label, 1) / most for s in slots]
    out[:, 1] = [(label_db.get(s.section_label, song_db) - song_db) / _DB_SCALE for s in slots]
    out[:, 2] = [rank.get(s.section_label, 0.5) for s in slots]
    out[:, 3] = (_span_db(power, fps, spans) - song_db) / _DB_SCALE
    out[:, 4] = spans.mean(axis=1) / max(float(analysis.duration_s), 1e-9)
    return out
