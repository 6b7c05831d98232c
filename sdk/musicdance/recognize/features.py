"""Model inputs of the two dance-to-music seeds, in plain numpy (no torch).

MCLEMCD (seed 000): 25-frame windows at 30 fps of the canonical 22-joint skeleton, as joint
coordinates ``[W, 3, 25, 22]``, limb vectors ``[W, 3, 25, 22]`` or both ``[W, 6, 25, 22]``,
and the matching MFCC windows ``[W, 1, 96, 25]`` (hop = sr / 30 so one audio frame per motion
frame). Every window is moved so that the hips start at x = z = 0 and turned so that the hips'
left-right axis starts along +X (style does not depend on where the dancer stands or faces).
Scaling to [0, 1] uses per-channel minima and maxima of the training windows
(:func:`scale_unit`), stored with the model.

BiLSTM-BiGRU (seed 003): one 130-long summary vector per segment (``SEGMENT_S`` seconds):
``pose_summary`` (pose only: 28 key-joint distances, 16 joint angles and 21 joint speeds, each
as mean and standard deviation over the segment: 56 + 32 + 42 = 130) or ``paper_summary``
(the paper's own features: the distance of the first two joints and the angle at the first
three, averaged over frames, then the 128 mean log-mel bands: 2 + 128 = 130).
"""

from __future__ import annotations

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.motion.canonical import CANONICAL_JOINTS, canonical_skeleton

__all__ = [
    "FPS",
    "MFCC_BANDS",
    "NUM_JOINTS",
    "SEGMENT_S",
    "SUMMARY_LENGTH",
    "WINDOW_FRAMES",
    "canonical_positions",
    "limb_vectors",
    "mel_segments",
    "mfcc_frames",
    "mfcc_windows",
    "motion_windows",
    "paper_summary",
    "pose_summary",
    "resample_positions",
    "scale_unit",
    "segment_starts",
    "window_starts",
]

#: Motion frame rate of every model input (frames per second).
FPS = 30.0
#: Frames per MCLEMCD window (the paper's T = 25).
WINDOW_FRAMES = 25
#: MFCC coefficients per audio frame (the paper's N_MFCCs = 96).
MFCC_BANDS = 96
#: Mel bands of the BiLSTM's mel summary (librosa's default, 128).
MEL_BANDS = 128
#: Joints of the canonical skeleton.
NUM_JOINTS = len(CANONICAL_JOINTS)
#: Length of one BiLSTM-BiGRU segment, seconds (8 s = 240 frames).
SEGMENT_S = 8.0
#: Length of the BiLSTM-BiGRU summary vector (Fig. 4: Conv1D valid 130 -> 128).
SUMMARY_LENGTH = 130
#: Sample rate the audio features are computed at (Hz); hop = SR_HZ / FPS = 735 samples.
SR_HZ = 22050
HOP_LENGTH = int(round(SR_HZ / FPS))

_SKELETON = canonical_skeleton()
_PARENTS = np.asarray(_SKELETON.parents)
_J = {name: i for i, name in enumerate(CANONICAL_JOINTS)}
_KEY = [
    "Hips",
    "Head",
    "LeftHand",
    "RightHand",
    "LeftLowerArm",
    "RightLowerArm",
    "LeftFoot",
    "RightFoot",
]
_PAIRS = np.array([(_J[a], _J[b]) for i, a in enumerate(_KEY) for b in _KEY[i + 1 :]])
_ANGLE_JOINTS = [
    "Spine",
    "Chest",
    "UpperChest",
    "Neck",
    "LeftShoulder",
    "RightShoulder",
    "LeftUpperArm",
    "RightUpperArm",
    "LeftLowerArm",
    "RightLowerArm",
    "LeftUpperLeg",
    "RightUpperLeg",
    "LeftLowerLeg",
    "RightLowerLeg",
    "LeftFoot",
    "RightFoot",
]
_ANGLE_TRIPLES = np.array(
    [(_PARENTS[_J[n]], _J[n], _SKELETON.children(_J[n])[0]) for n in _ANGLE_JOINTS]
)
_SPEED_JOINTS = np.array([i for i, n in enumerate(CANONICAL_JOINTS) if n != "Neck"])


def canonical_positions(positions_m: np.ndarray) -> np.ndarray:
    """Check ``[T, 22, 3]`` global positions (metres, Y up) and return them as float32."""
    positions = np.asarray(positions_m, dtype=np.float32)
    if positions.ndim != 3 or positions.shape[1:] != (NUM_JOINTS, 3):
        raise MusicDanceError(
            f"expected joint positions [T, {NUM_JOINTS}, 3] on the canonical skeleton, "
            f"got {list(positions.shape)}"
        )
    if not np.isfinite(positions).all():
        raise MusicDanceError("joint positions contain NaN or infinity")
    return positions


def resample_positions(positions_m: np.ndarray, fps: float, target_fps: float = FPS):
    """Joint positions ``[T, J, 3]`` at ``fps`` linearly resampled to ``target_fps``."""
    positions = np.asarray(positions_m, dtype=np.float32)
    if len(positions) < 2:
        return positions
    duration_s = (len(positions) - 1) / fps
    times = np.arange(int(np.floor(duration_s * target_fps + 1e-9)) + 1) / target_fps
    source = times * fps
    low = np.minimum(np.floor(source).astype(np.int64), len(positions) - 1)
    high = np.minimum(low + 1, len(positions) - 1)
    w = (source - low).astype(np.float32)[:, None, None]
    return (1 - w) * positions[low] + w * positions[high]


def window_starts(num_frames: int, hop: int = WINDOW_FRAMES, length: int = WINDOW_FRAMES):
    """First frames of the windows of ``length`` frames every ``hop`` frames, ``[W]`` int."""
    if num_frames < length:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, num_frames - length + 1, hop, dtype=np.int64)


def _normalised(windows: np.ndarray) -> np.ndarray:
    """``[W, L, 22, 3]`` windows moved to the hips' start (x, z) and turned about Y so that
    the left-right hip axis of the first frame points along +X."""
    hips = _J["Hips"]
    origin = windows[:, :1, hips, :].copy()
    origin[..., 1] = 0.0
    moved = windows - origin[:, :, None, :]
    axis = windows[:, 0, _J["LeftUpperLeg"], :] - windows[:, 0, _J["RightUpperLeg"], :]
    yaw = np.arctan2(axis[:, 2], axis[:, 0])  # angle of the hip axis from +X towards +Z
    c, s = np.cos(yaw)[:, None, None], np.sin(yaw)[:, None, None]
    x, z = moved[..., 0], moved[..., 2]
    out = moved.copy()
    out[..., 0] = c * x + s * z
    out[..., 2] = -s * x + c * z
    return out


def limb_vectors(windows: np.ndarray) -> np.ndarray:
    """Second-order limb features: each joint minus its parent (the root's is zero),
    ``[..., 22, 3]`` in, same shape out."""
    parents = np.where(_PARENTS < 0, np.arange(NUM_JOINTS), _PARENTS)
    return windows - windows[..., parents, :]


def motion_windows(
    positions_m: np.ndarray, features: str = "joints", hop: int = WINDOW_FRAMES
) -> tuple[np.ndarray, np.ndarray]:
    """MCLEMCD motion windows of a dance at 30 fps: (``[W, C, 25, 22]`` float32, starts
    ``[W]``). features: ``joints`` (C = 3), ``limbs`` (C = 3) or ``both`` (C = 6, early
    fusion: joints then limbs). Not yet scaled (see :func:`scale_unit`)."""
    positions = canonical_positions(positions_m)
    starts = window_starts(len(positions), hop)
    if not len(starts):
        return np.zeros((0, _channels(features), WINDOW_FRAMES, NUM_JOINTS), np.float32), starts
    index = starts[:, None] + np.arange(WINDOW_FRAMES)[None, :]
    windows = _normalised(positions[index])  # [W, 25, 22, 3]
    parts = {
        "joints": [windows],
        "limbs": [limb_vectors(windows)],
        "both": [windows, limb_vectors(windows)],
    }.get(features)
    if parts is None:
        raise MusicDanceError(f"features must be joints, limbs or both, got {features!r}")
    stacked = np.concatenate(parts, axis=-1)  # [W, 25, 22, C]
    return np.ascontiguousarray(stacked.transpose(0, 3, 1, 2), dtype=np.float32), starts


def _channels(features: str) -> int:
    return 6 if features == "both" else 3


def scale_unit(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, axis: int = 1) -> np.ndarray:
    """Scale channel ``axis`` of ``x`` to [0, 1] with the training minima ``lo`` and maxima
    ``hi`` (values outside the training range fall outside [0, 1]); float32 out."""
    shape = [1] * x.ndim
    shape[axis] = -1
    lo = np.asarray(lo, np.float32).reshape(shape)
    span = np.maximum(np.asarray(hi, np.float32).reshape(shape) - lo, 1e-6)
    return ((x - lo) / span).astype(np.float32)


def _mel_power(y: np.ndarray, sr_hz: int) -> np.ndarray:
    """Mel power spectrogram ``[128, F]`` at hop ``HOP_LENGTH`` (librosa's
    ``melspectrogram`` defaults: centred frames, zero padding, periodic Hann, n_fft 2048),
    in numpy so that the runtime needs no librosa."""
    from musicdance.audio.features import mel_filterbank

    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise MusicDanceError(f"expected a mono signal, got shape {list(y.shape)}")
    if sr_hz != SR_HZ:
        raise MusicDanceError(f"audio must be at {SR_HZ} Hz here, got {sr_hz}")
    n_fft = 2048
    padded = np.pad(y, n_fft // 2)
    frames = 1 + (len(padded) - n_fft) // HOP_LENGTH
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    filters = mel_filterbank(sr_hz=SR_HZ, n_fft=n_fft, n_mels=MEL_BANDS)
    out = np.zeros((MEL_BANDS, max(frames, 0)), np.float32)
    for first in range(0, frames, 1024):  # blocks bound the memory of long songs
        count = min(1024, frames - first)
        index = (first + np.arange(count))[:, None] * HOP_LENGTH + np.arange(n_fft)[None, :]
        spectrum = np.abs(np.fft.rfft(padded[index] * window, axis=1)) ** 2
        out[:, first : first + count] = filters @ spectrum.T.astype(np.float32)
    return out


def _power_db(power: np.ndarray, reference: float) -> np.ndarray:
    """librosa's ``power_to_db`` (amin 1e-10, top_db 80)."""
    db = 10.0 * np.log10(np.maximum(power, 1e-10)) - 10.0 * np.log10(max(reference, 1e-10))
    return np.maximum(db, db.max(initial=-np.inf) - 80.0).astype(np.float32)


def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``[n_out, n_in]`` (scipy's ``dct(type=2, norm='ortho')``)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.sqrt(2.0 / n_in) * np.cos(np.pi / n_in * (n + 0.5) * k)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float32)


def mfcc_frames(y: np.ndarray, sr_hz: int) -> np.ndarray:
    """96 MFCCs per motion frame (hop = sr / 30, 128 mel bands; librosa's ``mfcc``
    definition), ``[96, F]`` float32. ``y`` at ``SR_HZ``."""
    db = _power_db(_mel_power(y, sr_hz), 1.0)
    return _dct_matrix(MFCC_BANDS, MEL_BANDS) @ db


def log_mel_frames(y: np.ndarray, sr_hz: int) -> np.ndarray:
    """Log-mel power in dB relative to the song's loudest bin (128 bands, hop = sr / 30),
    ``[128, F]`` float32."""
    power = _mel_power(y, sr_hz)
    return _power_db(power, float(power.max(initial=0.0)))


def mfcc_windows(mfcc: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """MFCC windows aligned with motion windows: ``[W, 1, 96, 25]`` (frames past the end of
    the audio repeat its last frame)."""
    index = np.minimum(starts[:, None] + np.arange(WINDOW_FRAMES)[None, :], mfcc.shape[1] - 1)
    return np.ascontiguousarray(mfcc[:, index].transpose(1, 0, 2)[:, None], dtype=np.float32)


def segment_starts(num_frames: int, hop_s: float = SEGMENT_S) -> np.ndarray:
    """First frames of the BiLSTM segments (``SEGMENT_S`` long, every ``hop_s`` seconds)."""
    return window_starts(num_frames, int(round(hop_s * FPS)), int(round(SEGMENT_S * FPS)))


def _angles(positions: np.ndarray, triples: np.ndarray) -> np.ndarray:
    v1 = positions[..., triples[:, 0], :] - positions[..., triples[:, 1], :]
    v2 = positions[..., triples[:, 2], :] - positions[..., triples[:, 1], :]
    cos = (v1 * v2).sum(-1) / np.maximum(
        np.linalg.norm(v1, axis=-1) * np.linalg.norm(v2, axis=-1), 1e-9
    )
    return np.arccos(np.clip(cos, -1.0, 1.0))


def pose_summary(positions_m: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Pose-only summaries of the segments at ``starts``: ``[S, 130]`` float32 (distances in
    metres, angles in radians, speeds in metres per second; mean then standard deviation)."""
    positions = canonical_positions(positions_m)
    length = int(round(SEGMENT_S * FPS))
    out = np.zeros((len(starts), SUMMARY_LENGTH), np.float32)
    for row, start in enumerate(starts):
        seg = positions[start : start + length]
        dist = np.linalg.norm(seg[:, _PAIRS[:, 0]] - seg[:, _PAIRS[:, 1]], axis=-1)
        ang = _angles(seg, _ANGLE_TRIPLES)
        speed = np.linalg.norm(np.diff(seg[:, _SPEED_JOINTS], axis=0), axis=-1) * FPS
        out[row] = np.concatenate(
            [dist.mean(0), dist.std(0), ang.mean(0), ang.std(0), speed.mean(0), speed.std(0)]
        )
    return out


def mel_segments(log_mel_db: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Mean log-mel of each segment (the paper's ``np.mean(log_spectrogram, axis=1)``),
    ``[S, 128]`` float32."""
    length = int(round(SEGMENT_S * FPS))
    out = np.zeros((len(starts), MEL_BANDS), np.float32)
    for row, start in enumerate(starts):
        block = log_mel_db[:, start : start + length]
        out[row] = block.mean(axis=1) if block.shape[1] else log_mel_db[:, -1]
    return out


def paper_summary(positions_m: np.ndarray, log_mel_db: np.ndarray, starts: np.ndarray):
    """The paper's own features per segment: ``[S, 130]`` = distance of joints 0-1 and angle
    at joint 1 between joints 0 and 2 (frame means), then the 128 mean log-mel bands."""
    positions = canonical_positions(positions_m)
    length = int(round(SEGMENT_S * FPS))
    pose = np.zeros((len(starts), 2), np.float32)
    for row, start in enumerate(starts):
        seg = positions[start : start + length]
        pose[row, 0] = np.linalg.norm(seg[:, 0] - seg[:, 1], axis=-1).mean()
        pose[row, 1] = _angles(seg, np.array([[0, 1, 2]]))[:, 0].mean()
    return np.concatenate([pose, mel_segments(log_mel_db, starts)], axis=1)
