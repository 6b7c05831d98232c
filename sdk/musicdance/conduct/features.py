"""The paper's music input (seed 004, Sec. 3) and the conductor's reading of a song.

"We extract a 128-bin Mel spectrogram with a hop-length of 256, and then convert the spectrogram
to decibel (dB) units. The sampling rate of the derived spectrogram is 86.52 Hz, which we
interpolate to 90 Hz" (three mel frames per 30 fps motion frame). Here: 22050 Hz audio,
``n_fft`` 2048, Hann window, Slaney mel filters (:func:`musicdance.audio.features.mel_filterbank`),
power in dB relative to the song's loudest bin and floored 80 dB below it, linearly interpolated
to 90 Hz and mapped to [0, 1] (``(dB + 80) / 80``) as the network input.

:class:`MusicReading` adds what the procedural conductor reads: loudness per motion frame,
onsets and long silences (fermatas).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as scipy_fft

from musicdance.audio.features import frame_blocks, mel_filterbank, onset_envelope
from musicdance.audio.phrases import onset_peaks

__all__ = [
    "MEL_BANDS",
    "MEL_FPS",
    "MEL_HOP",
    "MEL_N_FFT",
    "MEL_SR_HZ",
    "MusicReading",
    "conducting_mel",
    "motion_frames",
    "read_music",
]

MEL_SR_HZ = 22050
MEL_N_FFT = 2048
MEL_HOP = 256
MEL_BANDS = 128
#: The mel rate after interpolation: three frames per motion frame.
MEL_FPS = 90.0
#: Floor of the dB mel below the song's loudest bin.
MEL_TOP_DB = 80.0
#: A silence (fermata) is at least this long and this far below the song's loudest moment.
SILENCE_MIN_S = 1.2
SILENCE_DB = 35.0


def motion_frames(duration_s: float, fps: float = 30.0) -> int:
    """Frames of a motion that covers ``duration_s`` (frame t at t / fps)."""
    return max(int(np.floor(duration_s * fps + 1e-6)) + 1, 2)


def _mel_db(y: np.ndarray, sr_hz: int, block_frames: int = 1024) -> np.ndarray:
    """Power mel in dB ``[128, n]`` at hop 256 (frame t centred on sample 256 t).

    The filterbank product runs on one BLAS thread: OpenBLAS' worker threads busy-wait
    between these small products, which doubled the mel's CPU time (0.5 -> 0.25 s for a
    4-minute song) without shortening it."""
    from threadpoolctl import threadpool_limits

    y = np.asarray(y, dtype=np.float32)
    n_frames = 1 + len(y) // MEL_HOP
    fb_t = np.ascontiguousarray(mel_filterbank(sr_hz=sr_hz, n_fft=MEL_N_FFT, n_mels=MEL_BANDS).T)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(MEL_N_FFT) / MEL_N_FFT)).astype(np.float32)
    out = np.empty((n_frames, MEL_BANDS), dtype=np.float32)
    with threadpool_limits(1, user_api="blas"):
        for t0, t1, frames in frame_blocks(y, n_fft=MEL_N_FFT, hop_length=MEL_HOP,
                                           block_frames=block_frames):  # fmt: skip
            spectrum = scipy_fft.rfft(frames * window, axis=1, overwrite_x=True)
            parts = spectrum.view(np.float32).reshape(len(spectrum), -1, 2)  # (re, im) pairs
            np.multiply(parts, parts, out=parts)
            np.matmul(parts[..., 0] + parts[..., 1], fb_t, out=out[t0:t1])
    db = 10.0 * np.log10(np.maximum(out.T, 1e-10))
    top = float(db.max()) if db.size else 0.0
    return np.maximum(db - top, -MEL_TOP_DB)


def _interpolate(values: np.ndarray, fps_in: float, times_s: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``[C, n]`` columns sampled at ``fps_in`` onto ``times_s``."""
    pos = np.clip(times_s * fps_in, 0, values.shape[1] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, values.shape[1] - 1)
    w = (pos - lo).astype(np.float32)
    return values[:, lo] * (1 - w) + values[:, hi] * w


def conducting_mel(y: np.ndarray, sr_hz: int, n_motion: int | None = None) -> np.ndarray:
    """The network input: dB mel in [0, 1], ``[128, 3 * n_motion]`` at 90 Hz.

    y: mono signal at ``sr_hz`` (22050 expected). n_motion: motion frames at 30 fps (default:
    :func:`motion_frames` of the signal's length).
    """
    if n_motion is None:
        n_motion = motion_frames(len(y) / sr_hz)
    db = _mel_db(y, sr_hz)
    times = np.arange(3 * n_motion) / MEL_FPS
    mel = _interpolate(db, sr_hz / MEL_HOP, times)
    return ((mel + MEL_TOP_DB) / MEL_TOP_DB).astype(np.float32)


@dataclass
class MusicReading:
    """What the procedural conductor reads from the audio, on the 30 fps motion grid.

    loudness: ``[T]`` in [0, 1] (mean mel power in dB, 40 dB below the loudest moment -> 0,
    smoothed over 0.5 s). onset_times_s: onsets (spectral flux peaks). silences_s: spans of at
    least :data:`SILENCE_MIN_S` more than :data:`SILENCE_DB` below the loudest moment.
    """

    fps: float
    loudness: np.ndarray
    onset_times_s: np.ndarray
    silences_s: list[tuple[float, float]]


def read_music(mel01: np.ndarray, fps: float = 30.0) -> MusicReading:
    """:class:`MusicReading` of a :func:`conducting_mel` track (``[128, 3 T]``)."""
    db = mel01 * MEL_TOP_DB - MEL_TOP_DB
    power_db = 10 * np.log10(np.maximum(np.mean(10 ** (db / 10), axis=0), 1e-10))
    frames = power_db.reshape(-1, 3).mean(axis=1)  # 90 Hz -> 30 fps
    top = float(frames.max()) if frames.size else 0.0
    width = max(1, int(0.5 * fps))
    kernel = np.ones(2 * width + 1) / (2 * width + 1)
    smooth = np.convolve(np.pad(frames, width, mode="edge"), kernel, mode="valid")
    loudness = np.clip((smooth - (top - 40.0)) / 40.0, 0.0, 1.0).astype(np.float32)
    onsets = onset_peaks(onset_envelope(db), fps=MEL_FPS) / MEL_FPS
    quiet = frames < top - SILENCE_DB
    silences = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(int), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if (stop - start) / fps >= SILENCE_MIN_S:
            silences.append((start / fps, stop / fps))
    return MusicReading(fps, loudness, np.asarray(onsets, dtype=np.float64), silences)
