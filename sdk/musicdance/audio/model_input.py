"""The per-phrase model input of the paper, computed by one function for training and inference.

A phrase becomes a 128 x 128 log-mel "image" (128 mel bands, time resized to 128 columns), a
128-step melody curve and a 128-step binary rhythm curve (the targets of the melody and rhythm
pre-training heads). ``phrase_model_input`` is the only implementation: the training data
pipeline and the runtime both call it (directly or through ``model_inputs``), so the two can
never drift apart.

Scaling: log-mel in dB is mapped to [0, 1] by ``(db - (ref_db - 80)) / 80`` with ``ref_db`` the
song's loudest bin (so quiet phrases stay darker than loud ones); melody is MIDI / 128 (0 where
unvoiced); rhythm is 0/1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdance.errors import MusicDanceError

__all__ = ["MODEL_SIZE", "PhraseInput", "phrase_model_input", "model_inputs", "resize_time"]

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
