"""The conducting metrics of seed 004 (Sec. 6.2, Table 2), on keypoint tracks ``[T, 26]``.

- MSE, eq. (4): ``||Y - Y^||^2``, here the mean over frames and coordinates (the paper's
  Table 2 reports it x 10^3). Prefers small, over-smoothed motion.
- SE, eq. (5): the MSE of motion features ``E_motion(Y)`` and ``E_motion(Y^)``, E_motion from an
  M2S-Net trained on the *held-out* songs (not the one the GAN was trained with).
- W-dis, eq. (6): ``D(Y) - D(Y^)``, D a critic trained with eq. (3) beside the generator (its
  mean score over the track). Measures realism, not synchronisation.
- RDE, eq. (7): ``log(k ||sum_j PSD(Y[:, j]) - sum_j PSD(Y^[:, j])||^2 + 1)`` over frequencies
  of at least 0.7 Hz (40 BPM at half the tempo), k = 10^7; PSD by Welch's method at 30 fps
  (256-frame Hann segments, half overlap; the paper does not say which estimator).
- SCE, eq. (8): ``log(k ||Pool(sum_j |dY[:, j]|) - Pool(sum_j |dY^[:, j]|)||^2 + 1)``, the summed
  motion speed (absolute first differences, summed over the 26 coordinates) average-pooled with
  kernel 60 and stride 30 (2 s windows every second), squared differences averaged over windows,
  k = 10^7.
- SDP, eq. (9): ``SD(Y^) / SD(Y) x 100 %``, ``SD(Y) = sqrt(sum_t ||y_t - mean y||^2 / (T - 1))``.

SE and W-dis need the two networks: pass callables (``features(kp [T, 26]) -> [C, T]``,
``critic(kp) -> scores``) or use :func:`companion_networks` for the shipped ONNX graphs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "RDE_MIN_HZ",
    "SCALE_K",
    "companion_networks",
    "conducting_metrics",
    "mse",
    "rhythm_density_error",
    "sdp",
    "standard_deviation",
    "strength_contour_error",
    "sync_error",
    "wasserstein_distance",
]

#: The constant k of eqs. (7) and (8).
SCALE_K = 1e7
#: Lowest motion frequency counted by RDE (eq. 7).
RDE_MIN_HZ = 0.7
FPS = 30.0


def _pair(y: np.ndarray, y_hat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    n = min(len(y), len(y_hat))
    return y[:n], y_hat[:n]


def mse(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Eq. (4), mean over frames and coordinates."""
    y, y_hat = _pair(y, y_hat)
    return float(np.mean((y - y_hat) ** 2))


def sync_error(
    y: np.ndarray, y_hat: np.ndarray, features: Callable[[np.ndarray], np.ndarray]
) -> float:
    """Eq. (5): mean squared difference of ``features`` (E_motion) of the two tracks."""
    y, y_hat = _pair(y, y_hat)
    return float(np.mean((features(y) - features(y_hat)) ** 2))


def wasserstein_distance(
    y: np.ndarray, y_hat: np.ndarray, critic: Callable[[np.ndarray], np.ndarray]
) -> float:
    """Eq. (6): mean critic score of the real track minus that of the generated one."""
    y, y_hat = _pair(y, y_hat)
    return float(np.mean(critic(y)) - np.mean(critic(y_hat)))


def _psd(y: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import welch

    nperseg = min(256, len(y))
    freqs, power = welch(y, fs=fps, nperseg=nperseg, axis=0)
    return freqs, power.sum(axis=1)


def rhythm_density_error(y: np.ndarray, y_hat: np.ndarray, fps: float = FPS) -> float:
    """Eq. (7)."""
    y, y_hat = _pair(y, y_hat)
    freqs, p = _psd(y, fps)
    _, q = _psd(y_hat, fps)
    keep = freqs >= RDE_MIN_HZ
    return float(np.log(SCALE_K * np.sum((p[keep] - q[keep]) ** 2) + 1))


def _strength_contour(y: np.ndarray) -> np.ndarray:
    speed = np.abs(np.diff(y, axis=0)).sum(axis=1)
    if len(speed) < 60:
        return np.array([speed.mean()]) if len(speed) else np.zeros(1)
    windows = np.lib.stride_tricks.sliding_window_view(speed, 60)[::30]
    return windows.mean(axis=1)


def strength_contour_error(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Eq. (8)."""
    y, y_hat = _pair(y, y_hat)
    a, b = _strength_contour(y), _strength_contour(y_hat)
    return float(np.log(SCALE_K * np.mean((a - b) ** 2) + 1))


def standard_deviation(y: np.ndarray) -> float:
    """SD of eq. (9)."""
    y = np.asarray(y, np.float64)
    return float(np.sqrt(np.sum((y - y.mean(axis=0)) ** 2) / max(len(y) - 1, 1)))


def sdp(y: np.ndarray, y_hat: np.ndarray) -> float:
    """Eq. (9), in percent."""
    y, y_hat = _pair(y, y_hat)
    return 100.0 * standard_deviation(y_hat) / max(standard_deviation(y), 1e-12)


def companion_networks(companion) -> tuple[Callable, Callable]:
    """``features`` and ``critic`` callables from the conducting companion's
    ``motion_encoder.onnx`` and ``critic.onnx`` (keypoints ``[T, 26]`` in)."""

    def features(kp: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(kp, np.float32).T[None])
        return companion.session("motion_encoder").run(None, {"keypoints": x})[0][0]

    def critic(kp: np.ndarray) -> np.ndarray:
        n = (len(kp) // 12) * 12
        x = np.ascontiguousarray(np.asarray(kp[:n], np.float32).T[None])
        return companion.session("critic").run(None, {"keypoints": x})[0][0]

    return features, critic


def conducting_metrics(
    y: np.ndarray,
    y_hat: np.ndarray,
    *,
    features: Callable | None = None,
    critic: Callable | None = None,
    fps: float = FPS,
) -> dict[str, float | None]:
    """Table 2's metrics of ``y_hat`` against the reference ``y`` (``[T, 26]`` each; the
    shorter length is used). SE / W-dis are None without their networks."""
    return {
        "mse": mse(y, y_hat),
        "se": sync_error(y, y_hat, features) if features else None,
        "w_dis": wasserstein_distance(y, y_hat, critic) if critic else None,
        "rde": rhythm_density_error(y, y_hat, fps),
        "sce": strength_contour_error(y, y_hat),
        "sdp_percent": sdp(y, y_hat),
    }
