"""Loss functions of the paper as pure functions (section 3.2 eq. 1-4, section 3.3 eq. 5).

Every loss is the mean over the batch and over elements (``reduction="mean"``), so its scale
does not depend on the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

#: Section 3.5: beta_1 = beta_2 = 1, beta_3 = 10.
BETA_SPECTROGRAM = 1.0
BETA_MELODY = 1.0
BETA_RHYTHM = 10.0


@dataclass(frozen=True)
class PretrainLosses:
    """The terms of eq. 4 (scalar tensors); ``total`` is the weighted sum that is optimised."""

    total: torch.Tensor
    spectrogram: torch.Tensor
    melody: torch.Tensor
    rhythm: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        """Plain floats for logging."""
        return {
            "total": float(self.total.detach()),
            "spectrogram": float(self.spectrogram.detach()),
            "melody": float(self.melody.detach()),
            "rhythm": float(self.rhythm.detach()),
        }


def spectrogram_loss(reconstruction: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    """Eq. 1, L_spe: mean absolute error ``|D1(E(mel)) - mel|``; both ``[B, 1, 128, 128]``."""
    _check_same_shape(reconstruction, mel, "spectrogram")
    return F.l1_loss(reconstruction, mel)


def melody_loss(prediction: torch.Tensor, melody: torch.Tensor) -> torch.Tensor:
    """Eq. 2, L_mld: mean absolute error ``|D2(f_t) - melody|``; both ``[B, 1, 128]``."""
    _check_same_shape(prediction, melody, "melody")
    return F.l1_loss(prediction, melody)


def rhythm_loss(probabilities: torch.Tensor, rhythm: torch.Tensor) -> torch.Tensor:
    """Eq. 3, L_rym: binary cross-entropy of D3's sigmoid output against targets in [0, 1].

    Both ``[B, 1, 128]``. ``log`` is clamped at -100 (torch's convention), so a saturated
    sigmoid gives a large finite loss rather than ``inf``.
    """
    _check_same_shape(probabilities, rhythm, "rhythm")
    return F.binary_cross_entropy(probabilities, rhythm.to(probabilities.dtype))


def pretrain_loss(
    outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    targets: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    betas: tuple[float, float, float] = (BETA_SPECTROGRAM, BETA_MELODY, BETA_RHYTHM),
) -> PretrainLosses:
    """Eq. 4: ``beta_1 L_spe + beta_2 L_mld + beta_3 L_rym``.

    Args:
        outputs: ``(mel' [B, 1, 128, 128], melody' [B, 1, 128], rhythm probabilities
            [B, 1, 128])``, as :meth:`Networks.pretext` returns them.
        targets: ``(mel, melody, rhythm)`` of the same shapes.
        betas: the weights (section 3.5: 1, 1, 10).
    """
    spe = spectrogram_loss(outputs[0], targets[0])
    mld = melody_loss(outputs[1], targets[1])
    rym = rhythm_loss(outputs[2], targets[2])
    total = betas[0] * spe + betas[1] * mld + betas[2] * rym
    return PretrainLosses(total=total, spectrogram=spe, melody=mld, rhythm=rym)


def prediction_loss(
    logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 5, L_pred: cross-entropy of ``softmax(logits)`` against the true dance phrase.

    Args:
        logits: ``[B, K]`` predictor output (before softmax).
        labels: ``[B]`` int64 class indices in ``[0, K)``.
        class_weights: optional ``[K]`` weights (class balancing, Table 1 group IV); the loss
            is then the weighted mean ``sum_b w[y_b] CE_b / sum_b w[y_b]``.
    """
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"expected logits [B, K] and labels [B], got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}"
        )
    return F.cross_entropy(logits, labels.long(), weight=class_weights)


def balanced_class_weights(
    labels: torch.Tensor, num_classes: int, *, power: float = 1.0
) -> torch.Tensor:
    """Class-balancing weights ``[K]`` from training labels: ``(N / (K * count_k)) ** power``.

    A class with the average frequency weighs 1; rare classes weigh more. Classes absent from
    ``labels`` get weight 0 (no sample can select them anyway). ``power=0.5`` softens the
    balancing.
    """
    counts = torch.bincount(labels.long().flatten(), minlength=num_classes).to(torch.float32)
    if counts.numel() != num_classes:
        raise ValueError(f"labels contain classes >= num_classes ({num_classes})")
    present = counts > 0
    weights = torch.zeros(num_classes, dtype=torch.float32)
    weights[present] = (counts.sum() / (num_classes * counts[present])) ** power
    return weights


def _check_same_shape(prediction: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if prediction.shape != target.shape:
        raise ValueError(
            f"{name}: prediction {tuple(prediction.shape)} and target {tuple(target.shape)} "
            "differ in shape"
        )
