"""MCLEMCD (seed 000): a GCN-TCN motion encoder with an FC classifier, a COALA-style music
auto-encoder on MFCC windows, and the collaborative losses that align the two.

Shapes (batch N): motion ``[N, C, 25, 22]`` (C = 3 joints, 3 limbs or 6 both) -> Z_m ``[N, 256]``
-> logits ``[N, K]``; MFCC ``[N, 1, 96, 25]`` -> Z_a ``[N, 256]`` -> reconstruction
``[N, 1, 96, 25]``. Losses: eq. 1 cross-entropy (motion classes), eq. 2 MSE (music
reconstruction), eq. 3 MSE(Z_m, Z_a) (pair), eq. 4 MSE(decoder(Z_m), a) (music from motion).
Variants: ``dropout`` (a dropout after each ReLU of the music encoder) and ``fc`` (the mapping
network 256-512-1024-2048-4096-2048-1024-512-256 between Z_m and Z_a, used by eqs. 3 and 4).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from musicdance.motion.canonical import canonical_skeleton

__all__ = [
    "EMBEDDING",
    "FcMapping",
    "MotionEncoder",
    "MusicAutoEncoder",
    "collaborative_losses",
    "skeleton_adjacency",
]

#: Size of Z_m and Z_a (the paper's 256).
EMBEDDING = 256
#: Channels, temporal stride and temporal kernel of each GCN-TCN block, kept small (training
#: runs on 2 shared CPU cores). The time stride comes first, at 16 channels, so the wider
#: blocks run on 13 and 7 frames; the last block is averaged over time and joints, then an FC
#: layer (+ BN + ReLU) widens it to Z_m's 256. Both halve the ONNX time of a 4-minute dance
#: against a 1x1 convolution to 256 at every frame and joint with strides (1, 2, 2).
BLOCKS = ((16, 2, 3), (32, 2, 3), (64, 1, 3))
#: Dropout after each ReLU of the music encoder in the dropout variant (not given by the paper).
MUSIC_DROPOUT = 0.3


def skeleton_adjacency() -> np.ndarray:
    """Symmetrically normalised adjacency of the canonical skeleton with self loops,
    ``D^-1/2 (A + I) D^-1/2``, ``[22, 22]`` float32."""
    skeleton = canonical_skeleton()
    n = skeleton.num_joints
    a = np.eye(n, dtype=np.float64)
    for child, parent in enumerate(skeleton.parents):
        if parent >= 0:
            a[child, parent] = a[parent, child] = 1.0
    d = 1.0 / np.sqrt(a.sum(axis=1))
    return (a * d[:, None] * d[None, :]).astype(np.float32)


class GraphTemporalBlock(nn.Module):
    """Spatial graph convolution (1x1 conv then ``x @ A``) + BN + ReLU, temporal convolution
    (``k x 1``, stride ``s``) + BN, residual, ReLU; ``[N, Cin, T, V] -> [N, Cout, T', V]``."""

    def __init__(self, cin: int, cout: int, stride: int, kernel: int, adjacency: torch.Tensor):
        super().__init__()
        self.register_buffer("adjacency", adjacency.clone())
        self.spatial = nn.Conv2d(cin, cout, 1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.temporal = nn.Conv2d(cout, cout, (kernel, 1), (stride, 1), (kernel // 2, 0))
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        if cin == cout and stride == 1:
            self.residual: nn.Module = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(cin, cout, 1, (stride, 1)), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.matmul(self.spatial(x), self.adjacency)
        y = self.bn2(self.temporal(self.relu(self.bn1(y))))
        return self.relu(y + self.residual(x))


class MotionEncoder(nn.Module):
    """GCN-TCN motion encoder and FC classifier: ``[N, C, 25, 22]`` -> (logits ``[N, K]``,
    Z_m ``[N, 256]``)."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        adjacency = torch.from_numpy(skeleton_adjacency())
        self.data_bn = nn.BatchNorm2d(channels)
        blocks, cin = [], channels
        for cout, stride, kernel in BLOCKS:
            blocks.append(GraphTemporalBlock(cin, cout, stride, kernel, adjacency))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.widen = nn.Sequential(
            nn.Linear(cin, EMBEDDING), nn.BatchNorm1d(EMBEDDING), nn.ReLU()
        )
        self.classifier = nn.Linear(EMBEDDING, classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.widen(self.blocks(self.data_bn(x)).mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.embed(x)
        return self.classifier(z), z


def _enc(cin: int, cout: int, kernel, stride, padding, dropout: float) -> list[nn.Module]:
    layers = [nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout), nn.ReLU()]
    return layers + ([nn.Dropout(dropout)] if dropout else [])


def _dec(cin: int, cout: int, kernel, stride, padding, out_pad, last: bool = False):
    conv = nn.ConvTranspose2d(cin, cout, kernel, stride, padding, out_pad)
    return [conv, nn.Sigmoid()] if last else [conv, nn.BatchNorm2d(cout), nn.ReLU()]


class MusicAutoEncoder(nn.Module):
    """COALA-style auto-encoder on MFCC windows: conv + BN + ReLU down to ``[16, 4, 4]`` (Z_a,
    256 values), transposed conv + BN + ReLU back to ``[1, 96, 25]`` (sigmoid output, the
    inputs being scaled to [0, 1])."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            *_enc(1, 16, 3, 2, 1, dropout),  # 96 x 25 -> 48 x 13
            *_enc(16, 32, 3, 2, 1, dropout),  # -> 24 x 7
            *_enc(32, 64, 3, 2, 1, dropout),  # -> 12 x 4
            *_enc(64, 16, 3, (3, 1), (0, 1), dropout),  # -> 4 x 4 (x 16 = 256)
        )
        self.decoder = nn.Sequential(
            *_dec(16, 64, 3, (3, 1), (0, 1), 0),  # -> 12 x 4
            *_dec(64, 32, 3, 2, 1, (1, 0)),  # -> 24 x 7
            *_dec(32, 16, 3, 2, 1, (1, 0)),  # -> 48 x 13
            *_dec(16, 1, 3, 2, 1, (1, 0), last=True),  # -> 96 x 25
        )

    def encode(self, a: torch.Tensor) -> torch.Tensor:
        return self.encoder(a).flatten(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z.reshape(-1, 16, 4, 4))

    def forward(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(a)
        return self.decode(z), z


class FcMapping(nn.Module):
    """The FC variant's mapping network from Z_m to Z_a: 256 -> 512 -> 1024 -> 2048 -> 4096 ->
    2048 -> 1024 -> 512 -> 256 (ReLU between layers)."""

    WIDTHS = (EMBEDDING, 512, 1024, 2048, 4096, 2048, 1024, 512, EMBEDDING)

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(self.WIDTHS[:-1], self.WIDTHS[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < len(self.WIDTHS) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def collaborative_losses(
    motion: MotionEncoder,
    music: MusicAutoEncoder,
    x: torch.Tensor,
    a: torch.Tensor,
    y: torch.Tensor,
    *,
    collaborative: bool,
    mapping: FcMapping | None = None,
) -> dict[str, torch.Tensor]:
    """The paper's losses for one batch: ``motion`` (eq. 1), ``music`` (eq. 2) and, when
    ``collaborative``, ``pair`` (eq. 3) and ``mo2mu`` (eq. 4); ``total`` is their sum."""
    logits, z_m = motion(x)
    recon, z_a = music(a)
    losses = {
        "motion": nn.functional.cross_entropy(logits, y),
        "music": nn.functional.mse_loss(recon, a),
    }
    if collaborative:
        mapped = mapping(z_m) if mapping is not None else z_m
        losses["pair"] = nn.functional.mse_loss(mapped, z_a)
        losses["mo2mu"] = nn.functional.mse_loss(music.decode(mapped), a)
    losses["total"] = sum(losses.values())
    return losses
