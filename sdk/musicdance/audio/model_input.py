"""The per-phrase model input of the paper, computed by one function for training and inference.

A phrase becomes a 128 x 128 log-mel "image" (128 mel bands, time resized to 128 columns), a
128-step melody curve and a 128-step binary rhythm curve (the targets of the melody and rhythm
pre-training heads). ``phrase_model_input`` is the only implementation: the training data
pipeline and the runtime both call it (directly or through ``model_inputs``), so the two can
never drift apart. ``span_inputs`` cuts the inputs of any time spans of an analysed song (the
choreographer's slots: one eight of the music each); ``feature_parameters`` names everything
that changes those numbers (a corpus index and a bundle manifest record it, and a cache is
re-used, a bundle accepted, only when it matches).

Scaling: log-mel in dB is mapped to [0, 1] by ``(db - (ref_db - 80)) / 80`` with ``ref_db`` the
song's loudest bin (so quiet phrases stay darker than loud ones); melody is MIDI / 128 (0 where
unvoiced); rhythm is 0/1.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from musicdance.errors import MusicDanceError

__all__ = [
    "FEATURE_FORMAT",
    "MODEL_SIZE",
    "PhraseInput",
    "check_feature_parameters",
    "feature_parameters",
    "model_inputs",
    "phrase_model_input",
    "resize_time",
    "span_inputs",
]

MODEL_SIZE = 128
DB_RANGE = 80.0


@dataclass
class PhraseInput:
    """Model input of one phrase.

    Attributes:
        mel: np.ndarray [shape=(128, 128), float32], bands x time, in [0, 1].
        melody: np.ndarray [shape=(128,), float32], MIDI / 128, 0 where unvoiced.
        rhythm: np.ndarray [shape=(128,), float32], 1 where an onset or a note starts.
    """

    mel: np.ndarray
    melody: np.ndarray
    rhythm: np.ndarray


def resize_time(x: np.ndarray, size: int, *, mode: str = "mean") -> np.ndarray:
    """Resize the last (time) axis of ``x`` to ``size`` steps.

    Args:
        x: np.ndarray [shape=(..., n)], n >= 1.
        size: output length.
        mode: ``"mean"`` (area average when shrinking, linear interpolation when growing),
            ``"max"`` (max over each output step's frames; for binary curves) or ``"nearest"``
            (for curves where 0 means "absent", e.g. unvoiced melody).

    Returns:
        np.ndarray [shape=(..., size)], float32.
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.shape[-1]
    if n == 0:
        return np.zeros(x.shape[:-1] + (size,), dtype=np.float32)
    if mode == "nearest" or (mode == "mean" and n < size):
        if mode == "nearest":
            idx = np.minimum(((np.arange(size) + 0.5) * n / size).astype(int), n - 1)
            return x[..., idx]
        pos = (np.arange(size) + 0.5) * n / size - 0.5
        lo = np.clip(np.floor(pos).astype(int), 0, n - 1)
        hi = np.clip(lo + 1, 0, n - 1)
        frac = np.clip(pos - lo, 0, 1).astype(np.float32)
        return x[..., lo] * (1 - frac) + x[..., hi] * frac
    edges = np.floor(np.linspace(0, n, size + 1)).astype(int)
    start = edges[:-1]
    stop = np.maximum(edges[1:], start + 1)
    if mode == "max":
        pieces = [x[..., a:b].max(axis=-1) for a, b in zip(start, stop, strict=True)]
        out = np.stack(pieces, axis=-1)
        return out.astype(np.float32)
    csum = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1, dtype=np.float64)],
                          axis=-1)
    return ((csum[..., stop] - csum[..., start]) / (stop - start)).astype(np.float32)


def phrase_model_input(
    log_mel_db: np.ndarray, melody_hz: np.ndarray, rhythm: np.ndarray, *, start_frame: int,
    end_frame: int, ref_db: float | None = None, size: int = MODEL_SIZE,
) -> PhraseInput:
    """Cut frames ``[start_frame, end_frame)`` of a song's features and resize them.

    Args:
        log_mel_db: np.ndarray [shape=(128, T)], log-mel power in dB (``features``).
        melody_hz: np.ndarray [shape=(T,)], melody f0 in Hz, 0 where unvoiced.
        rhythm: np.ndarray [shape=(T,)], binary rhythm curve.
        start_frame, end_frame: the phrase, in frames (end exclusive, > start).
        ref_db: dB mapped to 1.0; default the maximum of ``log_mel_db``.
        size: output time steps (128 in the paper).

    Returns:
        ``PhraseInput``.
    """
    T = log_mel_db.shape[1]
    start, end = max(0, int(start_frame)), min(T, int(end_frame))
    if end <= start:
        raise MusicDanceError(f"empty phrase: frames [{start_frame}, {end_frame}) of {T}")
    ref = float(log_mel_db.max()) if ref_db is None else float(ref_db)
    mel = np.clip((log_mel_db[:, start:end] - (ref - DB_RANGE)) / DB_RANGE, 0.0, 1.0)
    if mel.shape[0] != size:
        mel = resize_time(mel.T, size).T
    mel = resize_time(mel, size)
    midi = np.where(melody_hz[start:end] > 0,
                    69 + 12 * np.log2(np.maximum(melody_hz[start:end], 1e-9) / 440.0), 0.0)
    melody = resize_time(np.clip(midi, 0, 127) / 128.0, size, mode="nearest")
    rhy = resize_time(np.asarray(rhythm[start:end], dtype=np.float32), size, mode="max")
    return PhraseInput(mel.astype(np.float32), melody.astype(np.float32), rhy.astype(np.float32))


def model_inputs(analysis, *, size: int = MODEL_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs of every phrase of an ``Analysis`` (needs ``log_mel_db``, i.e. not from JSON).

    Returns:
        mel: np.ndarray [shape=(n_phrases, 128, 128)], melody and rhythm
        np.ndarray [shape=(n_phrases, 128)], all float32.
    """
    if analysis.log_mel_db is None:
        raise MusicDanceError(
            "this analysis has no log-mel (it was read from JSON); re-run analyze() on the audio"
        )
    fps = analysis.fps
    items = [
        phrase_model_input(
            analysis.log_mel_db, analysis.melody_hz, analysis.rhythm,
            start_frame=int(round(p.start_s * fps)), end_frame=int(round(p.end_s * fps)),
            size=size,
        )
        for p in analysis.phrases
    ]
    if not items:
        empty = np.zeros((0, size), dtype=np.float32)
        return np.zeros((0, size, size), dtype=np.float32), empty, empty.copy()
    return (np.stack([i.mel for i in items]), np.stack([i.melody for i in items]),
            np.stack([i.rhythm for i in items]))


#: Bumped whenever the phrase input changes in a way the numbers below do not capture.
FEATURE_FORMAT = "mdtool-phrase-input/1"


def feature_parameters() -> dict[str, Any]:
    """The parameters of the per-slot model input, as JSON-ready values."""
    from musicdance.audio.features import HOP_LENGTH, N_FFT, N_MELS
    from musicdance.audio.load import ANALYSIS_SR

    return {
        "format": FEATURE_FORMAT,
        "unit": "slot",
        "sr_hz": int(ANALYSIS_SR),
        "hop_length": int(HOP_LENGTH),
        "n_fft": int(N_FFT),
        "n_mels": int(N_MELS),
        "size": int(MODEL_SIZE),
        "db_range": float(DB_RANGE),
        "reference": "song-max-db",
    }


def check_feature_parameters(
    found: object, *, what: str, path: str | os.PathLike[str] | None = None
) -> None:
    """Raise a :class:`MusicDanceError` naming every difference from :func:`feature_parameters`.

    Args:
        found: the parameters a corpus index or a bundle manifest recorded.
        what: how to name the thing in the message (``"bundle"``, ``"corpus"``).
    """
    expected = feature_parameters()
    if not isinstance(found, dict):
        raise MusicDanceError(f"{what} has no feature parameters", path)
    differences = [
        f"{key} {found.get(key)!r} (this mdtool: {value!r})"
        for key, value in expected.items()
        if found.get(key) != value
    ]
    differences += [f"unknown {key} {found[key]!r}" for key in sorted(set(found) - set(expected))]
    if differences:
        raise MusicDanceError(
            f"{what} was made with other feature parameters: {'; '.join(differences)}", path
        )


def span_inputs(
    analysis, spans: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs of time spans of an analysed song.

    Args:
        analysis: an :class:`~musicdance.audio.analysis.Analysis` with its log-mel (from
            ``analyze``, not from JSON).
        spans: ``(start_s, end_s)`` pairs, each inside the song.

    Returns:
        ``mel [N, 128, 128]``, ``melody [N, 128]``, ``rhythm [N, 128]``, all float32.
    """
    if analysis.log_mel_db is None:
        raise MusicDanceError(
            "this analysis has no log-mel (it was read from JSON); analyse the audio again",
            analysis.path,
        )
    size = MODEL_SIZE
    if not len(spans):
        return (
            np.zeros((0, size, size), np.float32),
            np.zeros((0, size), np.float32),
            np.zeros((0, size), np.float32),
        )
    fps = analysis.fps
    ref_db = float(analysis.log_mel_db.max())
    mels, melodies, rhythms = [], [], []
    for start_s, end_s in spans:
        if not (0.0 <= start_s < end_s) or start_s >= analysis.duration_s:
            raise MusicDanceError(
                f"span {start_s:.3f}-{end_s:.3f} s is empty or outside the song "
                f"({analysis.duration_s:.2f} s)",
                analysis.path,
            )
        start = int(round(start_s * fps))
        end = max(int(round(end_s * fps)), start + 1)
        item = phrase_model_input(
            analysis.log_mel_db,
            analysis.melody_hz,
            analysis.rhythm,
            start_frame=start,
            end_frame=end,
            ref_db=ref_db,
            size=size,
        )
        mels.append(item.mel)
        melodies.append(item.melody)
        rhythms.append(item.rhythm)
    return np.stack(mels), np.stack(melodies), np.stack(rhythms)
