"""Frame-level features computed block by block from one STFT pass (numpy only).

A frame ``t`` is centred on sample ``t * hop_length`` (librosa's ``center=True`` with zero
padding), so frame times are ``t * hop_length / sr``. Features for a whole song are built from
blocks of ``block_frames`` STFT frames so that no full-length spectrogram is ever held: a
60-minute song keeps only the log-mel (128 x T float32) and a few per-frame curves.

Everything here is plain numpy (``numpy.fft``); it does not import librosa or scipy so that a
cold ``mdtool analyze`` process starts fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from musicdance.audio import melody as _melody

__all__ = [
    "HOP_LENGTH",
    "N_FFT",
    "N_MELS",
    "Features",
    "compute_features",
    "mel_filterbank",
    "chroma_filterbank",
    "frame_blocks",
    "hz_to_mel",
    "mel_to_hz",
    "onset_envelope",
    "frames_to_time",
    "time_to_frames",
]

N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
#: mel bands whose centre is below this frequency make the low-frequency (kick, bass) onset curve.
LOW_BAND_MAX_HZ = 200.0
#: floor of the log-mel, in dB below the loudest bin of the song.
TOP_DB = 80.0


@dataclass
class Features:
    """Per-frame features of a song.

    Attributes:
        sr_hz: sample rate of the analysed signal, in Hz.
        hop_length: samples between frames.
        n_fft: FFT size.
        log_mel_db: np.ndarray [shape=(128, T), float32], log-mel power in dB, floored at
            ``max - 80``.
        chroma: np.ndarray [shape=(12, T), float32], pitch-class energy (C=0), max-normalised.
        chroma_bass: np.ndarray [shape=(12, T), float32], the same from 30-250 Hz only.
        rms: np.ndarray [shape=(T,)], frame RMS (linear amplitude).
        centroid_hz: np.ndarray [shape=(T,)], spectral centroid in Hz (0 for silent frames).
        onset_env: np.ndarray [shape=(T,)], spectral-flux onset strength (mean dB rise per band).
        onset_env_low: np.ndarray [shape=(T,)], the same over bands below 200 Hz (kick, bass).
        melody_hz: np.ndarray [shape=(T,)], main-melody f0 in Hz, 0 where unvoiced.
        melody_salience: np.ndarray [shape=(T,)], harmonic-sum salience of the melody pitch
            (voicing confidence, >= 0).
    """

    sr_hz: int
    hop_length: int
    n_fft: int
    log_mel_db: np.ndarray
    chroma: np.ndarray
    chroma_bass: np.ndarray
    rms: np.ndarray
    centroid_hz: np.ndarray
    onset_env: np.ndarray
    onset_env_low: np.ndarray
    melody_hz: np.ndarray
    melody_salience: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.rms.shape[0])

    @property
    def fps(self) -> float:
        """Frames per second."""
        return self.sr_hz / self.hop_length


def frames_to_time(frames, *, sr_hz: int, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Convert frame indices to seconds: ``frames * hop_length / sr_hz``."""
    return np.asarray(frames, dtype=np.float64) * (hop_length / sr_hz)


def time_to_frames(times_s, *, sr_hz: int, hop_length: int = HOP_LENGTH) -> np.ndarray:
    """Convert seconds to the nearest frame index (int)."""
    return np.round(np.asarray(times_s, dtype=np.float64) * (sr_hz / hop_length)).astype(int)


def hz_to_mel(hz):
    """Slaney mel scale (librosa's default, ``htk=False``): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = hz / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(
        hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-9) / min_log_hz) / logstep, mels
    )


def mel_to_hz(mels):
    """Inverse of ``hz_to_mel``."""
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(
        mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels
    )


def mel_filterbank(
    *, sr_hz: int, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin_hz: float = 0.0,
    fmax_hz: float | None = None,
) -> np.ndarray:
    """Slaney-normalised triangular mel filters, equal to ``librosa.filters.mel`` defaults.

    Returns:
        np.ndarray [shape=(n_mels, 1 + n_fft // 2), float32].
    """
    fmax_hz = sr_hz / 2 if fmax_hz is None else fmax_hz
    fft_hz = np.linspace(0, sr_hz / 2, 1 + n_fft // 2)
    mel_hz = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2))
    fdiff = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2 : n_mels + 2] - mel_hz[:n_mels]))[:, None]
    return weights.astype(np.float32)


def chroma_filterbank(
    *, sr_hz: int, n_fft: int = N_FFT, fmin_hz: float = 55.0, fmax_hz: float = 4000.0
) -> np.ndarray:
    """Map FFT bins to 12 pitch classes with a Gaussian of 0.5 semitone in log frequency.

    Returns:
        np.ndarray [shape=(12, 1 + n_fft // 2), float32]; row 0 is C.
    """
    fft_hz = np.linspace(0, sr_hz / 2, 1 + n_fft // 2)
    midi = 69 + 12 * np.log2(np.maximum(fft_hz, 1e-6) / 440.0)
    pc = np.arange(12)[:, None]
    dist = (midi[None, :] - pc) % 12
    dist = np.minimum(dist, 12 - dist)
    weights = np.exp(-0.5 * (dist / 0.5) ** 2)
    weights[:, (fft_hz < fmin_hz) | (fft_hz > fmax_hz)] = 0
    return weights.astype(np.float32)


def onset_envelope(log_mel_db: np.ndarray, *, lag: int = 1) -> np.ndarray:
    """Spectral flux: mean over bands of the positive dB rise from ``t - lag`` to ``t``.

    Args:
        log_mel_db: np.ndarray [shape=(n_bands, T)].

    Returns:
        np.ndarray [shape=(T,), float32], 0 for the first ``lag`` frames.
    """
    n = log_mel_db.shape[1]
    env = np.zeros(n, dtype=np.float32)
    block = 8192  # columns at a time: no full-size temporary for long songs
    for t0 in range(lag, n, block):
        t1 = min(n, t0 + block)
        diff = log_mel_db[:, t0:t1] - log_mel_db[:, t0 - lag : t1 - lag]
        env[t0:t1] = np.maximum(diff, 0).mean(axis=0)
    return env


def frame_blocks(
    y: np.ndarray, *, n_fft: int, hop_length: int, block_frames: int = 2048
) -> Iterator[tuple[int, int, np.ndarray]]:
    """The centred STFT frames of ``y`` (zero-padded by ``n_fft // 2`` at both ends, frame t
    centred on sample ``t * hop_length``), ``block_frames`` at a time: ``(t0, t1, frames)`` with
    ``frames [t1 - t0, n_fft]`` float32 (a view; ``1 + len(y) // hop_length`` frames in all)."""
    n_frames = 1 + len(y) // hop_length
    half = n_fft // 2
    for t0 in range(0, n_frames, block_frames):
        t1 = min(n_frames, t0 + block_frames)
        s0, s1 = t0 * hop_length - half, (t1 - 1) * hop_length + half
        seg = np.zeros(s1 - s0, dtype=np.float32)
        a, b = max(s0, 0), min(s1, len(y))
        if b > a:
            seg[a - s0 : b - s0] = y[a:b]
        yield t0, t1, np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::hop_length][: t1 - t0]


def compute_features(
    y: np.ndarray, *, sr_hz: int, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS, block_frames: int = 2048,
) -> Features:
    """One blockwise STFT pass over ``y`` producing every frame-level feature.

    Args:
        y: np.ndarray [shape=(n,)], mono signal.
        sr_hz: sample rate in Hz.
        n_fft: FFT size (samples); hop_length: samples between frames.
        n_mels: mel bands of ``log_mel_db``.
        block_frames: frames per block (memory use is about ``block_frames * n_fft * 24`` bytes).

    Returns:
        ``Features`` with ``T = 1 + len(y) // hop_length`` frames.
    """
    y = np.asarray(y, dtype=np.float32)
    n_frames = 1 + len(y) // hop_length
    mel_fb = mel_filterbank(sr_hz=sr_hz, n_fft=n_fft, n_mels=n_mels)
    chroma_fb = chroma_filterbank(sr_hz=sr_hz, n_fft=n_fft)
    bass_fb = chroma_filterbank(sr_hz=sr_hz, n_fft=n_fft, fmin_hz=30.0, fmax_hz=250.0)
    melody = _melody.SalienceExtractor(sr_hz=sr_hz, n_fft=n_fft)
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    fft_hz = np.linspace(0, sr_hz / 2, 1 + n_fft // 2).astype(np.float32)

    mel_power = np.empty((n_mels, n_frames), dtype=np.float32)
    chroma = np.empty((12, n_frames), dtype=np.float32)
    chroma_bass = np.empty((12, n_frames), dtype=np.float32)
    rms = np.empty(n_frames, dtype=np.float32)
    centroid = np.empty(n_frames, dtype=np.float32)
    mel_f0 = np.empty(n_frames, dtype=np.float32)
    mel_sal = np.empty(n_frames, dtype=np.float32)
    half = n_fft // 2
    for t0, t1, frames in frame_blocks(y, n_fft=n_fft, hop_length=hop_length,
                                       block_frames=block_frames):  # fmt: skip
        rms[t0:t1] = np.sqrt(np.mean(np.square(frames[:, half - hop_length : half + hop_length]),
                                     axis=1))
        spec = np.fft.rfft(frames * window, axis=1)
        mag = np.abs(spec).astype(np.float32)  # (frames, bins)
        del spec
        power = np.square(mag)
        mel_power[:, t0:t1] = (power @ mel_fb.T).T
        chroma[:, t0:t1] = (power @ chroma_fb.T).T
        chroma_bass[:, t0:t1] = (power @ bass_fb.T).T
        total = mag.sum(axis=1)
        centroid[t0:t1] = np.where(total > 1e-8, (mag @ fft_hz) / np.maximum(total, 1e-8), 0.0)
        f0, sal = melody.frames(mag)
        mel_f0[t0:t1], mel_sal[t0:t1] = f0, sal

    log_mel = 10.0 * np.log10(np.maximum(mel_power, 1e-10), out=mel_power)
    top = float(log_mel.max()) if log_mel.size else 0.0
    np.maximum(log_mel, top - TOP_DB, out=log_mel)
    chroma /= np.maximum(chroma.max(axis=0, keepdims=True), 1e-10)
    chroma_bass /= np.maximum(chroma_bass.max(axis=0, keepdims=True), 1e-10)
    low_bands = hz_to_mel(LOW_BAND_MAX_HZ) > np.linspace(0, hz_to_mel(sr_hz / 2), n_mels + 2)[1:-1]
    onset = onset_envelope(log_mel)
    onset_low = onset_envelope(log_mel[low_bands])
    melody_hz = _melody.postprocess(mel_f0, mel_sal, rms, fps=sr_hz / hop_length)
    return Features(
        sr_hz=sr_hz, hop_length=hop_length, n_fft=n_fft, log_mel_db=log_mel, chroma=chroma,
        chroma_bass=chroma_bass,
        rms=rms, centroid_hz=centroid, onset_env=onset, onset_env_low=onset_low,
        melody_hz=melody_hz, melody_salience=mel_sal,
    )
