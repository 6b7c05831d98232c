"""A slot's place in its song's structure: what a curator sees beyond the slot's own audio.

One slot's 128 x 128 log-mel does not tell a chorus from a verse across songs (a quiet song's
chorus can sound like a loud song's verse). A curator hears the whole song: which sections
come back, and which are the loud ones. :func:`slot_context` gives each slot that, as a few
numbers (:data:`CONTEXT_NAMES`):

- ``label_repeats``: how many of the song's sections share the slot's section label, over the
  most any label has (1.0: the most repeated part of the song);
- ``label_loudness_rank``: where that label's loudness ranks among the song's labels (1.0: the
  loudest label, 0.0: the quietest);
- ``loudness_rank``: the share of the song's music phrases quieter than the slot (1.0: the
  slot is as loud as the loudest part of the song);
- ``brightness_rank``: the same for the upper half of the mel bands (drums and cymbals);
- ``loudness_db``: the slot's loudness against the song's mean (dB, divided by 6).

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
CONTEXT_NAMES = ("label_repeats", "label_loudness_rank", "loudness_rank", "brightness_rank",
                 "loudness_db")
_DB_SCALE = 6.0
_UPPER_BANDS = 64  # the upper half of the 128 mel bands


def _frame_power(analysis: Analysis, low_band: int = 0) -> np.ndarray:
    """Per-frame mean power of the log-mel bands from ``low_band`` up ``[T]`` (linear)."""
    if analysis.log_mel_db is None:
        raise MusicDanceError(
            "this analysis has no log-mel (it was read from JSON); analyse the audio again",
            analysis.path,
        )
    bands = np.asarray(analysis.log_mel_db[low_band:], np.float64)
    return np.mean(10.0 ** (bands / 10.0), axis=0)


def _span_db(power: np.ndarray, fps: float, spans_s: np.ndarray) -> np.ndarray:
    """Mean power in dB of each ``(start_s, end_s)`` span ``[N, 2]`` -> ``[N]``."""
    spans_s = np.asarray(spans_s, float).reshape(-1, 2)
    edges = np.clip(np.round(spans_s * fps).astype(int), 0, len(power) - 1)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    ends = np.maximum(edges[:, 1], edges[:, 0] + 1)
    mean = (cumulative[ends] - cumulative[edges[:, 0]]) / (ends - edges[:, 0])
    return 10.0 * np.log10(np.maximum(mean, 1e-12))


def _rank(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Share of ``among`` below each value (ties count half), ``[N]`` in [0, 1]."""
    if not len(among):
        return np.full(len(values), 0.5)
    below = (among[None, :] < values[:, None] - 1e-9).mean(axis=1)
    tied = (np.abs(among[None, :] - values[:, None]) <= 1e-9).mean(axis=1)
    return below + 0.5 * tied


def slot_context(analysis: Analysis, slots: list[Slot]) -> np.ndarray:
    """``[N, len(CONTEXT_NAMES)]`` float32: each slot's place in the song (module docs); each
    slot's numbers depend on the song's analysis and that slot alone."""
    out = np.zeros((len(slots), len(CONTEXT_NAMES)), np.float32)
    if not slots:
        return out
    fps = analysis.fps
    power, upper = _frame_power(analysis), _frame_power(analysis, _UPPER_BANDS)
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
    label_rank = {label: k / max(len(ordered) - 1, 1) for k, label in enumerate(ordered)}
    parts = analysis.phrases or sections  # the song cut as its slots are
    part_spans = np.array([[p.start_s, p.end_s] for p in parts])
    spans = np.array([[s.start_s, s.end_s] for s in slots])
    slot_db = _span_db(power, fps, spans)
    out[:, 0] = [repeats.get(s.section_label, 1) / most for s in slots]
    out[:, 1] = [label_rank.get(s.section_label, 0.5) for s in slots]
    out[:, 2] = _rank(slot_db, _span_db(power, fps, part_spans))
    out[:, 3] = _rank(_span_db(upper, fps, spans), _span_db(upper, fps, part_spans))
    out[:, 4] = (slot_db - song_db) / _DB_SCALE
    return out
