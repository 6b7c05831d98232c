"""The MuDaR companion at run time: onnxruntime only (no torch).

Graphs of the ``mudar`` companion (``python -m musicdance.train.mudar`` writes them; shapes
without the batch axis, ``W`` = :data:`~musicdance.rhythm.features.WINDOW_FRAMES`):

============== ======================================== ==========================================
graph          inputs                                   outputs
============== ======================================== ==========================================
audio_encoder  audio [1, AUDIO_BANDS, W]                frames [W, C], embedding [D] (unit norm)
motion_encoder pose [6, W, J] (ST-GCN layout)           frames [W, C], embedding [D] (unit norm)
rhythm         hoof [W, HOOF_FEATURES], pose [W, J, 6]  rhythm [W] in [0, 1] (eq. 15, no audio)
============== ======================================== ==========================================

Long inputs are cut into windows: for rhythm curves with a hop of half a window, blended with
triangular weights; for embeddings back to back (the last one ends at the end), averaged and
renormalised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from musicdance.companions import Companion, open_companion, require_companion
from musicdance.defaults import DEFAULT_BUNDLE
from musicdance.errors import MusicDanceError
from musicdance.rhythm.features import (
    RHYTHM_FPS,
    WINDOW_FRAMES,
    audio_channels,
    hoof,
    pose_stream,
    resample_positions,
)

__all__ = [
    "COMPANION_NAME",
    "MudarModel",
    "RhythmTempo",
    "learned_motion_tempo",
    "load_mudar",
    "peak_frames",
    "rhythm_signature",
    "tempo_from_curve",
    "window_starts",
]

COMPANION_NAME = "mudar"
TASK = "music-dance-rhythm"


def window_starts(n_frames: int, hop: int = WINDOW_FRAMES // 2) -> np.ndarray:
    """Start frames of the windows covering ``n_frames`` (the last one ends at the end)."""
    if n_frames <= WINDOW_FRAMES:
        return np.zeros(1, dtype=np.int64)
    starts = list(range(0, n_frames - WINDOW_FRAMES + 1, hop))
    if starts[-1] + WINDOW_FRAMES < n_frames:
        starts.append(n_frames - WINDOW_FRAMES)
    return np.array(starts, dtype=np.int64)


def _windows(x: np.ndarray, starts: np.ndarray, axis: int = 0) -> np.ndarray:
    """Stack windows of ``WINDOW_FRAMES`` along ``axis`` of ``x`` (edge-padded when short)."""
    n = x.shape[axis]
    if n < WINDOW_FRAMES:
        pad = [(0, 0)] * x.ndim
        pad[axis] = (0, WINDOW_FRAMES - n)
        x = np.pad(x, pad, mode="edge")
    return np.stack([np.take(x, np.arange(s, s + WINDOW_FRAMES), axis=axis) for s in starts])


def peak_frames(curve: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Frames where ``curve`` is a local maximum (over +-1 frame) and at least ``threshold``."""
    c = np.asarray(curve, dtype=np.float64)
    if len(c) == 0:
        return np.zeros(0, dtype=np.int64)
    left = np.concatenate([[-np.inf], c[:-1]])
    right = np.concatenate([c[1:], [-np.inf]])
    return np.flatnonzero((c >= threshold) & (c > left) & (c >= right))


def rhythm_signature(curve: np.ndarray, lags: tuple[int, int] = (2, 30)) -> np.ndarray:
    """Shift-invariant rhythm descriptor of a ``[T]`` curve at :data:`RHYTHM_FPS`: its
    autocorrelation at lags ``lags[0]..lags[1]`` frames (0.13-2 s), mean removed, unit norm."""
    x = np.asarray(curve, dtype=np.float64)
    x = x - x.mean()
    n = len(x)
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    acf = acf / max(float(acf[0]), 1e-12)
    lo, hi = lags
    values = np.zeros(hi - lo + 1)
    take = acf[lo : min(hi + 1, n)]
    values[: len(take)] = take
    values = values - values.mean()
    return (values / max(float(np.linalg.norm(values)), 1e-12)).astype(np.float32)


@dataclass
class RhythmTempo:
    """Tempo from a rhythm curve: ``tempo_bpm`` (nan when none) and ``confidence`` in [0, 1]
    (the octave-family autocorrelation score, on the scale of
    :func:`musicdance.motion.analysis.estimate_motion_tempo`'s)."""

    tempo_bpm: float
    confidence: float


def tempo_from_curve(
    curve: np.ndarray, fold_bpm: tuple[float, float] = (70.0, 140.0)
) -> RhythmTempo:
    """The tempo whose beat, two beats and half beat (weights 1, 0.5, 0.5) the curve's
    autocorrelation supports best, within ``fold_bpm`` (0.5-BPM grid, parabola-refined)."""
    x = np.asarray(curve, dtype=np.float64)
    x = x - np.convolve(x, np.ones(15) / 15, mode="same")  # minus the 1-s local mean
    n = len(x)
    if n < 2 * 60.0 * RHYTHM_FPS / fold_bpm[0] + 2 or not np.any(np.abs(x) > 0):
        return RhythmTempo(float("nan"), 0.0)
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    acf = acf / (max(float(acf[0]), 1e-12) * (n - np.arange(n)) / n)

    def at(lag: np.ndarray) -> np.ndarray:
        i = np.floor(lag).astype(np.int64)
        ok = (i >= 1) & (i + 1 < n)
        i = np.clip(i, 0, n - 2)
        f = lag - i
        return np.where(ok, acf[i] * (1 - f) + acf[i + 1] * f, 0.0)

    grid = np.arange(fold_bpm[0], fold_bpm[1], 0.5)
    period = 60.0 * RHYTHM_FPS / grid
    score = (np.maximum(at(period), 0) + 0.5 * np.maximum(at(2 * period), 0)
             + 0.5 * np.maximum(at(0.5 * period), 0)) / 2.0  # fmt: skip
    k = int(np.argmax(score))
    best = float(grid[k])
    if 0 < k < len(grid) - 1:
        a, b, c = score[k - 1 : k + 2]
        denom = a - 2 * b + c
        if denom < 0:
            best += 0.5 * float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
    return RhythmTempo(best, float(np.clip(score[k], 0.0, 1.0)))


class MudarModel:
    """The three MuDaR graphs of a companion folder, run through onnxruntime."""

    def __init__(self, companion: Companion) -> None:
        self.companion = companion
        manifest = companion.manifest
        self.joint_names: tuple[str, ...] = tuple(manifest["joints"])
        self.threshold = float(manifest.get("rhythm_threshold", 0.5))
        self.hybrid_lambda = float(manifest.get("hybrid_lambda", 0.5))

    # ----------------------------------------------------------------- low level
    def _run(self, role: str, feeds: dict[str, np.ndarray], batch: int = 64) -> list[np.ndarray]:
        session = self.companion.session(role)
        n = len(next(iter(feeds.values())))
        parts: list[list[np.ndarray]] = []
        for a in range(0, n, batch):
            out = session.run(
                None, {k: v[a : a + batch].astype(np.float32) for k, v in feeds.items()}
            )
            parts.append(out)
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]

    def _positions(self, positions_m: np.ndarray, fps: float, names: tuple[str, ...]) -> np.ndarray:
        if tuple(names) != self.joint_names:
            raise MusicDanceError("MuDaR needs motion on the canonical skeleton")
        return resample_positions(positions_m, fps)

    # ----------------------------------------------------------------- motion
    def motion_inputs(self, positions_m, fps, names) -> tuple[np.ndarray, np.ndarray]:
        """HOOF ``[T, F]`` and pose ``[T, J, 6]`` of a motion, at the rhythm frame rate."""
        positions = self._positions(positions_m, fps, names)
        return hoof(positions, self.joint_names), pose_stream(positions, self.joint_names)

    def rhythm_curve(self, positions_m: np.ndarray, fps: float, names) -> np.ndarray:
        """Visual rhythm probability per frame (eq. 15), ``[T]`` at :data:`RHYTHM_FPS`."""
        features, pose = self.motion_inputs(positions_m, fps, names)
        return self.rhythm_from_inputs(features, pose)

    def rhythm_from_inputs(self, features: np.ndarray, pose: np.ndarray) -> np.ndarray:
        n = len(features)
        starts = window_starts(n)
        (probs,) = self._run("rhythm", {"hoof": _windows(features, starts),
                                        "pose": _windows(pose, starts)})  # fmt: skip
        weight = np.minimum(np.arange(WINDOW_FRAMES) + 1, WINDOW_FRAMES - np.arange(WINDOW_FRAMES))
        total = np.zeros(max(n, WINDOW_FRAMES))
        norm = np.zeros_like(total)
        for s, p in zip(starts, probs, strict=True):
            total[s : s + WINDOW_FRAMES] += p * weight
            norm[s : s + WINDOW_FRAMES] += weight
        return (total / np.maximum(norm, 1e-9))[:n].astype(np.float32)

    def rhythm_times_s(self, positions_m: np.ndarray, fps: float, names) -> np.ndarray:
        """Times (s) of the visual rhythm points: peaks of the curve above the threshold."""
        return peak_frames(self.rhythm_curve(positions_m, fps, names), self.threshold) / RHYTHM_FPS

    def motion_window_embeddings(self, pose: np.ndarray, starts: np.ndarray | None = None):
        """``[W, D]`` unit embeddings of windows of a ``[T, J, 6]`` pose stream."""
        starts = window_starts(len(pose), WINDOW_FRAMES) if starts is None else starts
        windows = _windows(pose, starts).transpose(0, 3, 1, 2)  # [B, 6, W, J]
        _, embedding = self._run("motion_encoder", {"pose": windows})
        return embedding

    def motion_window_embeddings_batch(self, poses: np.ndarray) -> np.ndarray:
        """``[B, D]`` unit embeddings of windows ``[B, W, J, 6]``."""
        _, embedding = self._run("motion_encoder", {"pose": poses.transpose(0, 3, 1, 2)})
        return embedding

    def rhythm_windows(self, hoofs: np.ndarray, poses: np.ndarray) -> np.ndarray:
        """``[B, W]`` rhythm probabilities of windows ``[B, W, F]``, ``[B, W, J, 6]``."""
        (probs,) = self._run("rhythm", {"hoof": hoofs, "pose": poses})
        return probs

    def motion_embedding(self, positions_m: np.ndarray, fps: float, names) -> np.ndarray:
        """``[D]`` unit embedding of a whole motion (mean of its windows)."""
        _, pose = self.motion_inputs(positions_m, fps, names)
        return _unit(self.motion_window_embeddings(pose).mean(axis=0))

    # ----------------------------------------------------------------- audio
    def audio_window_embeddings(self, audio: np.ndarray, starts: np.ndarray | None = None):
        """``[W, D]`` unit embeddings of windows of an audio image ``[AUDIO_BANDS, T]``."""
        starts = window_starts(audio.shape[1], WINDOW_FRAMES) if starts is None else starts
        windows = _windows(audio, starts, axis=1)[:, None]
        _, embedding = self._run("audio_encoder", {"audio": windows})
        return embedding

    def audio_embedding(self, analysis) -> np.ndarray:
        """``[D]`` unit embedding of a whole song (mean of its windows)."""
        audio, _ = audio_channels(analysis)
        return _unit(self.audio_window_embeddings(audio).mean(axis=0))


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / max(float(np.linalg.norm(x)), 1e-12)).astype(np.float32)


def learned_motion_tempo(positions_m: np.ndarray, fps: float, names) -> RhythmTempo | None:
    """Tempo of a canonical-skeleton motion from the learned visual rhythm curve of the default
    bundle's MuDaR companion; None when the bundle has no such companion."""
    from musicdance.companions import list_companions

    if COMPANION_NAME not in list_companions(DEFAULT_BUNDLE):
        return None
    return tempo_from_curve(load_mudar().rhythm_curve(positions_m, fps, names))


def load_mudar(
    path: str | os.PathLike[str] | None = None, bundle: str | os.PathLike[str] = DEFAULT_BUNDLE
) -> MudarModel:
    """The MuDaR model from a companion folder ``path``, or the ``mudar`` companion of
    ``bundle``; a clear MusicDanceError when there is none."""
    if path is not None:
        return MudarModel(open_companion(path, task=TASK))
    return MudarModel(require_companion(
        COMPANION_NAME, bundle,
        f"the bundle has no {COMPANION_NAME} companion (build it with "
        "python -m musicdance.train.mudar)", task=TASK,
    ))  # fmt: skip
