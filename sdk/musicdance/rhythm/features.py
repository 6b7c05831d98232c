"""Inputs of the MuDaR networks (seed 002), torch-free: music rhythm and motion features.

Everything runs at :data:`RHYTHM_FPS` frames per second in windows of :data:`WINDOW_FRAMES`
(the paper's 8-s clips; it samples video at 8 fps, a dancer's stops need finer steps, so 15).

Music side (paper Sec. 3.1.1):

* :func:`onset_strength` is the onset envelope of eq. (2) on the log-mel spectrogram of eq. (1)
  (``Analysis.log_mel_db``; the STFT there uses a Hann window where the paper names a Hamming
  one): the positive difference between frame ``n`` and a maximum-filtered reference frame
  ``n - mu`` (Boeck and Widmer's vibrato suppression, 3 mel bands wide, ``mu = 1``), summed
  over bins; it is librosa's ``onset_strength`` with ``max_size=3`` in numpy.
* :func:`onset_maxima` picks its local maxima some threshold above the local average with
  librosa's ``onset_detect`` defaults (pre-max 30 ms, pre/post average 100 ms, wait 30 ms,
  delta 0.07 on the normalised envelope): the rhythm ground truth of the explicit pathway.
* :func:`audio_channels`: the implicit pathway's audio input, a ``[64, T]`` image of
  32 mel bands, the beat curve, the onset envelope and a 30-lag tempogram (Sec. 4.1).

Motion side (Sec. 3.1.2 on skeletons): optical flow becomes joint velocities, the RGB stream
the pose stream.

* :func:`hoof` is the histogram of oriented joint velocities, eq. (3)-(4): per body part, the
  speeds of its joints summed into :data:`HOOF_BINS` orientation bins, in the frontal plane (what
  a camera in front of the dancer sees) and in the floor plane (depth, which video lacks); the
  velocities are taken in the dancer's heading frame, so the feature does not depend on where
  the dancer faces (as HOOF does not depend on the camera).
* :func:`pose_stream`: positions relative to the hips in the heading frame and joint
  velocities, ``[T, J, 6]``, the input of the ST-GCN and of the pose injector.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AUDIO_BANDS",
    "HOOF_BINS",
    "HOOF_PARTS",
    "RHYTHM_FPS",
    "WINDOW_FRAMES",
    "audio_channels",
    "beat_curve",
    "heading_frame_positions",
    "hoof",
    "onset_maxima",
    "onset_strength",
    "pose_stream",
    "resample_positions",
    "to_rhythm_frames",
]

#: Frame rate of every MuDaR input and output.
RHYTHM_FPS = 15.0
#: Frames per window (8 s, the paper's clip length).
WINDOW_FRAMES = 120
#: Rows of the audio image: 32 mel bands, beat, onset, 30 tempogram lags.
MEL_ROWS = 32
TEMPOGRAM_LAGS = 30
AUDIO_BANDS = MEL_ROWS + 2 + TEMPOGRAM_LAGS
#: Orientation bins per plane (B of eq. 4).
HOOF_BINS = 8
#: Body parts of the canonical skeleton whose velocities are histogrammed separately.
HOOF_PARTS = {
    "torso": ("Hips", "Spine", "Chest", "UpperChest", "Neck", "Head"),
    "left_arm": ("LeftShoulder", "LeftUpperArm", "LeftLowerArm", "LeftHand"),
    "right_arm": ("RightShoulder", "RightUpperArm", "RightLowerArm", "RightHand"),
    "left_leg": ("LeftUpperLeg", "LeftLowerLeg", "LeftFoot", "LeftToes"),
    "right_leg": ("RightUpperLeg", "RightLowerLeg", "RightFoot", "RightToes"),
}
HOOF_FEATURES = len(HOOF_PARTS) * 2 * HOOF_BINS
POSE_CHANNELS = 6


# ------------------------------------------------------------------------------------ music
def onset_strength(log_mel_db: np.ndarray, *, lag: int = 1, max_size: int = 3) -> np.ndarray:
    """Onset envelope OE(n) of eq. (2), ``[T]``: sum over bins of ``max(0, |X(n, k)| -
    X_ref(n - mu, k))`` with ``X_ref`` the spectrogram maximum-filtered over ``max_size`` bins
    and ``mu = lag`` (log-mel in dB, ``[bands, T]``); 0 for the first ``lag`` frames."""
    from scipy.ndimage import maximum_filter1d

    spec = np.asarray(log_mel_db, dtype=np.float32)
    ref = maximum_filter1d(spec, max_size, axis=0) if max_size > 1 else spec
    env = np.zeros(spec.shape[1], dtype=np.float32)
    if spec.shape[1] > lag:
        env[lag:] = np.maximum(spec[:, lag:] - ref[:, :-lag], 0.0).mean(axis=0)
    return env


def onset_maxima(env: np.ndarray, fps: float) -> np.ndarray:
    """Frames of the onsets: local maxima of ``env`` at least 0.07 above the local mean,
    librosa's ``onset_detect`` peak picking with its default settings, ``[N]`` int."""
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    x = np.asarray(env, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) <= 0:
        return np.zeros(0, dtype=np.int64)
    x = (x - x.min()) / np.ptp(x)
    pre_max = max(1, int(0.03 * fps))
    pre_avg = max(1, int(0.10 * fps))
    post_avg = int(0.10 * fps) + 1
    wait = int(0.03 * fps)
    # max over [n - pre_max, n] (post_max 1: the frame itself);
    # mean over [n - pre_avg, n + post_avg)
    local_max = maximum_filter1d(x, pre_max + 1, origin=pre_max // 2, mode="constant")
    width = pre_avg + post_avg
    local_mean = uniform_filter1d(x, width, origin=(pre_avg - post_avg) // 2, mode="nearest")
    candidates = np.flatnonzero((x >= local_max) & (x >= local_mean + 0.07))
    picked, last = [], -np.inf
    for frame in candidates:
        if frame > last + wait:
            picked.append(frame)
            last = frame
    return np.array(picked, dtype=np.int64)


def to_rhythm_frames(times_s: np.ndarray, n_frames: int) -> np.ndarray:
    """A ``[n_frames]`` 0/1 float32 sequence with a 1 at each time (at :data:`RHYTHM_FPS`)."""
    out = np.zeros(n_frames, dtype=np.float32)
    frames = np.round(np.asarray(times_s, dtype=float) * RHYTHM_FPS).astype(np.int64)
    out[frames[(frames >= 0) & (frames < n_frames)]] = 1.0
    return out


def _pool_frames(values: np.ndarray, src_fps: float, n_frames: int, how: str) -> np.ndarray:
    """``values [..., T_src]`` pooled into ``n_frames`` bins of 1 / RHYTHM_FPS s (mean or max)."""
    t_src = values.shape[-1]
    edges = np.round(np.arange(n_frames + 1) / RHYTHM_FPS * src_fps).astype(np.int64)
    edges = np.clip(edges, 0, t_src)
    out = np.zeros((*values.shape[:-1], n_frames), dtype=np.float32)
    for i in range(n_frames):
        a, b = edges[i], max(edges[i + 1], edges[i] + 1)
        if a >= t_src:
            break
        chunk = values[..., a:b]
        out[..., i] = chunk.max(axis=-1) if how == "max" else chunk.mean(axis=-1)
    return out


def beat_curve(beat_times_s: np.ndarray, n_frames: int, sigma_frames: float = 1.0) -> np.ndarray:
    """``[n_frames]``: Gaussian bumps (peak 1) at the beat times."""
    from scipy.ndimage import gaussian_filter1d

    impulses = to_rhythm_frames(beat_times_s, n_frames)
    curve = gaussian_filter1d(impulses, sigma_frames, mode="constant")
    return (
        curve / max(float(gaussian_filter1d(np.eye(1, 9, 4)[0], sigma_frames)[4]), 1e-9)
    ).astype(np.float32)


def _tempogram(env: np.ndarray, lags: int = TEMPOGRAM_LAGS, window: int = WINDOW_FRAMES):
    """Local autocorrelation of ``env [T]`` at lags 1..``lags`` over a centred window,
    normalised by lag 0, ``[lags, T]`` (librosa's tempogram, at the rhythm frame rate)."""
    n = len(env)
    half = window // 2
    padded = np.pad(env - env.mean(), (half, half + lags))
    frames = np.lib.stride_tricks.sliding_window_view(padded, window + lags)[:n]
    base = frames[:, :window]
    zero = np.maximum((base * base).sum(axis=1), 1e-9)
    out = np.stack([(base * frames[:, k : k + window]).sum(axis=1) / zero
                    for k in range(1, lags + 1)])  # fmt: skip
    return out.astype(np.float32)


def audio_channels(analysis) -> tuple[np.ndarray, np.ndarray]:
    """The audio image ``[AUDIO_BANDS, T]`` at :data:`RHYTHM_FPS` and the onset-maximum
    sequence ``[T]`` (0/1) of an :class:`~musicdance.audio.analysis.Analysis` with its log-mel.

    Rows: 32 mel bands (mean of 4 of the 128, scaled to [0, 1] from 80 dB below the top), the
    beat curve, the onset envelope (eq. 2, divided by its 99th percentile, clipped at 2) and
    the tempogram of that envelope at lags 1..30 frames (0.07-2 s).
    """
    if analysis.log_mel_db is None:
        raise ValueError("the analysis has no log-mel (load the song with analyze())")
    mel = np.asarray(analysis.log_mel_db, dtype=np.float32)
    src_fps = float(analysis.fps)
    n = max(1, int(np.ceil(mel.shape[1] / src_fps * RHYTHM_FPS)))
    top = float(mel.max()) if mel.size else 0.0
    scaled = np.clip((mel - (top - 80.0)) / 80.0, 0.0, 1.0)
    bands = scaled.reshape(MEL_ROWS, -1, scaled.shape[1]).mean(axis=1)
    env_src = onset_strength(mel)
    env = _pool_frames(env_src, src_fps, n, "max")
    env = np.clip(env / max(float(np.percentile(env, 99)), 1e-6), 0.0, 2.0)
    picks = onset_maxima(env_src, src_fps) / src_fps
    rows = [
        _pool_frames(bands, src_fps, n, "mean"),
        beat_curve(analysis.beat_times_s, n)[None],
        env[None],
        _tempogram(env),
    ]
    return np.concatenate(rows).astype(np.float32), to_rhythm_frames(picks, n)


# ----------------------------------------------------------------------------------- motion
def resample_positions(positions_m: np.ndarray, fps: float) -> np.ndarray:
    """Joint positions ``[T, J, 3]`` at ``fps`` linearly resampled to :data:`RHYTHM_FPS`."""
    positions = np.asarray(positions_m, dtype=np.float64)
    duration_s = (len(positions) - 1) / fps
    n = max(1, int(np.floor(duration_s * RHYTHM_FPS)) + 1)
    pos = np.arange(n) / RHYTHM_FPS * fps
    lo = np.clip(np.floor(pos).astype(np.int64), 0, len(positions) - 1)
    hi = np.minimum(lo + 1, len(positions) - 1)
    a = (pos - lo)[:, None, None]
    return (positions[lo] * (1 - a) + positions[hi] * a).astype(np.float32)


def _heading_yaw(positions_m: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """``[T]`` yaw (rad) of the line from the right to the left hip, from +X about Y."""
    left, right = names.index("LeftUpperLeg"), names.index("RightUpperLeg")
    side = positions_m[:, left] - positions_m[:, right]
    return np.arctan2(side[:, 2], side[:, 0])


def _rotate(vectors: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Rotate ``[T, ..., 3]`` about Y by ``-yaw [T]`` (into the heading frame)."""
    shape = (len(yaw),) + (1,) * (vectors.ndim - 2)
    c, s = np.cos(yaw).reshape(shape), np.sin(yaw).reshape(shape)
    x, z = vectors[..., 0], vectors[..., 2]
    out = np.empty_like(vectors)
    out[..., 0] = c * x + s * z
    out[..., 1] = vectors[..., 1]
    out[..., 2] = -s * x + c * z
    return out


def heading_frame_positions(positions_m: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Positions ``[T, J, 3]`` relative to the hips on the floor plane, rotated each frame about
    Y so the dancer faces +Z (the heading is taken from the line through the two hips)."""
    rel = positions_m - positions_m[:, :1] * np.array([1.0, 0.0, 1.0], dtype=positions_m.dtype)
    return _rotate(rel, _heading_yaw(positions_m, names))


def _velocity(positions: np.ndarray) -> np.ndarray:
    if len(positions) < 2:
        return np.zeros_like(positions)
    return np.gradient(positions, axis=0) * RHYTHM_FPS


def hoof(positions_m: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Histograms of oriented joint velocities, eq. (3)-(4), ``[T, HOOF_FEATURES]`` float32.

    ``positions_m`` at :data:`RHYTHM_FPS`. Velocities in the heading frame (with the body's
    travel, so steps count); per part and plane, H(t, k) = sum over the part's joints of the
    speed M (m/s, in that plane) times 1_theta_k(phi), where phi is the velocity's angle and
    1_theta(phi) = 1 when |theta - phi| <= 2 pi / B (eq. 4, so a velocity counts in its two or
    three nearest bins). Values are log(1 + H).
    """
    world = np.asarray(positions_m, dtype=np.float32)
    yaw = _heading_yaw(world, names)
    local = heading_frame_positions(world, names)
    travel = _velocity(world[:, 0] * np.array([1.0, 0.0, 1.0], dtype=np.float32))
    # every joint's velocity in the heading frame, the hips' travel included (steps count)
    velocity = _velocity(local) + _rotate(travel, yaw)[:, None, :]
    centres = 2 * np.pi * np.arange(HOOF_BINS) / HOOF_BINS
    parts = []
    for joints in HOOF_PARTS.values():
        index = [names.index(j) for j in joints]
        v = velocity[:, index]
        for a, b in ((0, 1), (0, 2)):  # frontal plane (x, y), floor plane (x, z)
            magnitude = np.hypot(v[..., a], v[..., b])
            angle = np.arctan2(v[..., b], v[..., a])
            gap = np.abs((angle[..., None] - centres + np.pi) % (2 * np.pi) - np.pi)
            inside = gap <= 2 * np.pi / HOOF_BINS + 1e-6
            parts.append((magnitude[..., None] * inside).sum(axis=1))
    return np.log1p(np.concatenate(parts, axis=1)).astype(np.float32)


def pose_stream(positions_m: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """``[T, J, 6]`` float32: heading-frame positions relative to the hips (m) and their
    velocities (m/s, divided by 4 to be of order 1), at :data:`RHYTHM_FPS`."""
    local = heading_frame_positions(np.asarray(positions_m, dtype=np.float32), names)
    return np.concatenate([local, _velocity(local) / 4.0], axis=-1).astype(np.float32)
