"""M2S-Net and M2S-GAN (seed 004): conducting motion from music, trained on the procedural
conducting corpus, exported to ONNX as a companion of the default bundle.

Networks, as the paper gives them (Sec. 4.3, Fig. 3):

- :class:`MusicEncoder` E_music: three groups of three residual 3x3 conv layers (BN, ReLU,
  skip) each followed by max pooling over frequency and time; the only time down-sampling is
  the x3 after group 1 (90 Hz -> 30 Hz); 16 channels before it, 32 after. Output ``[B, 32, T]``
  (the mean over the remaining frequency rows).
- :class:`MotionEncoder` E_motion: 10 ST-GCN layers (graph convolution over the 13 keypoints,
  temporal convolution, 1x1 residual), 32 channels, no down-sampling. Output ``[B, 32, T]``.
- :class:`M2SNet`: both encoders, concatenated per frame, three fully connected fusing layers,
  sigmoid; BCE loss eq. (1); hard negatives (same song, >= 10 s apart), easy negatives (other
  songs) in the first epoch; super-hard (0.5-5 s shifts) for Table 3; Adam 1e-3.
- :class:`Generator` G: noise ``z`` (8-d at 1 Hz) up-sampled to 30 fps by a transposed
  convolution fixed to linear interpolation, concatenated with the music codes, six dilated
  non-causal residual Conv1d layers (64 channels, kernel 5), a 1x1 output to the 26 keypoint
  coordinates in the corpus' standard deviations, low-passed by a fixed 9-tap Hann window
  (issue 21: the learned up-sampling and the unscaled, unfiltered output made the first
  shipped G move ten times too fast; ``docs/conducting.md``).
- :class:`Discriminator` D (on standardised keypoints): a group-convolution branch (each
  joint's dynamics) and a plain Conv1d branch (spatial relations), both down-sampling x12,
  concatenated, dense layers: one score per 0.4 s (2.5 Hz).
- Losses: eq. (2) ``L_G = lambda_sync ||E_motion(Y^) - E_motion(Y)||^2 - lambda_adv D(Y^)``
  (lambda_sync 0.05, lambda_adv 1) and eq. (3) ``L_D = D(Y^) - D(Y) + w_GP E(||grad D(Y~)|| - 1)^2``
  (w_GP 10); five D steps per G step; RMSprop 5e-4; E_music and E_motion frozen (Algorithm 1).

What is reduced here (recorded in the companion's manifest and ``docs/conducting.md``): the
corpus (procedural, minutes instead of 100 hours), the number of steps, and the GAN's sample
length (4 s instead of 60 s; M2S pairs 4 s instead of 10 s) and E_music's input (the 128 bands
average-pooled x4 before its first group), so that training fits two shared CPU cores.

The exported ``conductor.onnx`` is E_music and G in one graph: ``mel [B, 1, 128, 90 S]`` and
``noise [B, 8, S]`` (S seconds) -> ``keypoints [B, 26, 30 S]``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from musicdance.conduct.keypoints import COCO13, KEYPOINT_DIM
from musicdance.errors import MusicDanceError
from musicdance.train.export import SENTIS_OPERATORS

__all__ = [
    "ConductingCorpus",
    "Discriminator",
    "Generator",
    "M2SNet",
    "MotionEncoder",
    "MusicEncoder",
    "build_corpus",
    "sync_accuracy",
    "train_m2s_gan",
    "train_m2s_net",
]

NOISE_DIM = 8
CODE_DIM = 32
#: Changes with G's and D's design (a kept GAN stage of another design is retrained):
#: 2 = linearly interpolated noise, standardised output and critic input.
GENERATOR_VERSION = 2
#: Limbs of the 13 COCO keypoints (the ST-GCN graph).
EDGES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (0, 6), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12),
)  # fmt: skip
FPS = 30


# ---------------------------------------------------------------------------------- networks
class _Residual2d(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x))) + self.skip(x)


class MusicEncoder(nn.Module):
    """E_music: ``mel [B, 1, 128, 3 T]`` (90 Hz) -> codes ``[B, 32, T]`` (30 Hz)."""

    def __init__(self) -> None:
        super().__init__()
        # CPU budget: the 128 bands are average-pooled x4 before group 1 (the paper convolves all
        # 128); the three groups, their channels and the single x3 time pooling are as given.
        layers: list[nn.Module] = [nn.AvgPool2d((4, 1)), _Residual2d(1, 16), _Residual2d(16, 16),
                                   _Residual2d(16, 16), nn.MaxPool2d((2, 3))]  # fmt: skip
        layers += [_Residual2d(16, 32), _Residual2d(32, 32), _Residual2d(32, 32),
                   nn.MaxPool2d((2, 1))]  # fmt: skip
        layers += [_Residual2d(32, 32), _Residual2d(32, 32), _Residual2d(32, 32),
                   nn.MaxPool2d((2, 1))]  # fmt: skip
        self.net = nn.Sequential(*layers)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel).mean(dim=2)


def _adjacency() -> torch.Tensor:
    """Symmetrically normalised adjacency with self loops, ``[13, 13]``."""
    n = len(COCO13)
    a = np.eye(n)
    for i, j in EDGES:
        a[i, j] = a[j, i] = 1.0
    d = 1.0 / np.sqrt(a.sum(axis=1))
    return torch.tensor(a * d[:, None] * d[None, :], dtype=torch.float32)


class _STGCNLayer(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.register_buffer("adjacency", _adjacency())
        self.importance = nn.Parameter(torch.ones(len(COCO13), len(COCO13)))
        self.gcn = nn.Conv2d(cin, cout, 1)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(cout), nn.ReLU(), nn.Conv2d(cout, cout, (9, 1), padding=(4, 0)),
            nn.BatchNorm2d(cout),
        )  # fmt: skip
        self.residual = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, C, T, V]
        y = torch.matmul(self.gcn(x), self.adjacency * self.importance)
        return torch.relu(self.tcn(y) + self.residual(x))


class MotionEncoder(nn.Module):
    """E_motion: keypoints ``[B, 26, T]`` -> features ``[B, 32, T]`` (10 ST-GCN layers)."""

    def __init__(self, layers: int = 10, channels: int = CODE_DIM) -> None:
        super().__init__()
        sizes = [2] + [channels] * layers
        self.layers = nn.Sequential(
            *[_STGCNLayer(a, b) for a, b in zip(sizes, sizes[1:], strict=False)]
        )

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        b, _, t = keypoints.shape
        x = keypoints.reshape(b, len(COCO13), 2, t).permute(0, 2, 3, 1)  # [B, 2, T, V]
        return self.layers(x).mean(dim=3)


class M2SNet(nn.Module):
    """E_music, E_motion and the fusing layers f (eq. 1): a sync probability per pair."""

    def __init__(self) -> None:
        super().__init__()
        self.music = MusicEncoder()
        self.motion = MotionEncoder()
        self.fuse = nn.Sequential(
            nn.Conv1d(2 * CODE_DIM, 64, 1), nn.ReLU(), nn.Conv1d(64, 32, 1), nn.ReLU(),
            nn.Conv1d(32, 1, 1),
        )  # fmt: skip

    def forward(self, mel: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
        """Logit of "in sync" per pair ``[B]`` (the sigmoid is in the loss)."""
        codes = torch.cat([self.music(mel), self.motion(keypoints)], dim=1)
        return self.fuse(codes).mean(dim=(1, 2))


def _linear_upsampler(channels: int, factor: int) -> nn.ConvTranspose1d:
    """A fixed (not trained) transposed convolution that interpolates each channel linearly
    from one sample per ``factor`` frames: ``[B, C, S] -> [B, C, factor S]``."""
    up = nn.ConvTranspose1d(channels, channels, 2 * factor, stride=factor, padding=factor // 2,
                            groups=channels, bias=False)  # fmt: skip
    taps = 1.0 - np.abs(np.arange(2 * factor) - (factor - 0.5)) / factor
    with torch.no_grad():
        up.weight.copy_(torch.tensor(taps, dtype=torch.float32).expand(channels, 1, -1))
    up.weight.requires_grad_(False)
    return up


def _hann_smoother(channels: int, frames: int) -> nn.Conv1d:
    """A fixed low-pass over time: each channel convolved with a normalised Hann window of
    ``frames`` (odd) taps, zero-padded (the output fades to the mean pose at the two ends)."""
    frames = frames | 1
    smooth = nn.Conv1d(channels, channels, frames, padding=frames // 2, groups=channels,
                       bias=False)  # fmt: skip
    taps = np.hanning(frames + 2)[1:-1]
    with torch.no_grad():
        smooth.weight.copy_(torch.tensor(taps / taps.sum(), dtype=torch.float32).expand(
            channels, 1, -1))  # fmt: skip
    smooth.weight.requires_grad_(False)
    return smooth


class Generator(nn.Module):
    """G: music codes ``[B, 32, T]`` and noise ``[B, 8, T / 30]`` -> keypoints ``[B, 26, T]``.

    The noise (8-d at 1 Hz) is up-sampled to 30 fps by linear interpolation (a fixed transposed
    convolution), so it varies smoothly across each second. The output layer works in
    standardised keypoints: ``keypoints = mean_pose + output_gain * std_pose * out(x)``, the
    corpus' per-coordinate mean and standard deviation (so an O(1) network output is a
    conductor's amount of motion, and the hips move as little as the corpus' hips)."""

    def __init__(
        self,
        mean_pose: np.ndarray | None = None,
        std_pose: np.ndarray | None = None,
        channels: int = 64,
        output_gain: float = 1.0,
        smooth_frames: int = 0,
    ) -> None:
        super().__init__()
        self.output_gain = float(output_gain)
        self.noise_up = _linear_upsampler(NOISE_DIM, FPS)
        self.smooth = _hann_smoother(KEYPOINT_DIM, smooth_frames) if smooth_frames > 1 else None
        self.inp = nn.Conv1d(CODE_DIM + NOISE_DIM, channels, 1)
        self.blocks = nn.ModuleList(
            nn.Conv1d(channels, channels, 5, padding=2 * d, dilation=d)
            for d in (1, 2, 4, 8, 16, 32)
        )
        self.out = nn.Conv1d(channels, KEYPOINT_DIM, 1)
        pose = np.zeros(KEYPOINT_DIM) if mean_pose is None else np.asarray(mean_pose)
        spread = np.ones(KEYPOINT_DIM) if std_pose is None else np.asarray(std_pose)
        self.register_buffer("mean_pose", torch.tensor(pose, dtype=torch.float32)[None, :, None])
        self.register_buffer(
            "std_pose", torch.tensor(spread * self.output_gain, dtype=torch.float32)[None, :, None]
        )

    def forward(self, codes: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = self.inp(torch.cat([codes, self.noise_up(noise)], dim=1))
        for block in self.blocks:
            x = x + torch.relu(block(x))
        y = self.out(x)
        if self.smooth is not None:
            y = self.smooth(y)
        return y * self.std_pose + self.mean_pose


class Conductor(nn.Module):
    """The exported graph: E_music then G (``mel``, ``noise`` -> ``keypoints``)."""

    def __init__(self, music: MusicEncoder, generator: Generator) -> None:
        super().__init__()
        self.music = music
        self.generator = generator

    def forward(self, mel: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.generator(self.music(mel), noise)


class Discriminator(nn.Module):
    """D: keypoints ``[B, 26, T]`` -> scores ``[B, 1, T / 12]`` (2.5 Hz). It reads the
    keypoints standardised by the corpus' per-coordinate mean and standard deviation."""

    def __init__(self, mean_pose: np.ndarray | None = None, std_pose: np.ndarray | None = None):
        super().__init__()
        joints = len(COCO13)
        pose = np.zeros(KEYPOINT_DIM) if mean_pose is None else np.asarray(mean_pose)
        spread = np.ones(KEYPOINT_DIM) if std_pose is None else np.asarray(std_pose)
        self.register_buffer("mean_pose", torch.tensor(pose, dtype=torch.float32)[None, :, None])
        self.register_buffer("std_pose", torch.tensor(spread, dtype=torch.float32)[None, :, None])

        def branch(cin, width, groups):
            return nn.Sequential(
                nn.Conv1d(cin, width, 5, stride=2, padding=2, groups=groups), nn.LeakyReLU(0.2),
                nn.Conv1d(width, width, 5, stride=2, padding=2, groups=groups), nn.LeakyReLU(0.2),
                nn.Conv1d(width, width, 5, stride=3, padding=1, groups=groups), nn.LeakyReLU(0.2),
            )  # fmt: skip

        self.joints = branch(KEYPOINT_DIM, 4 * joints, joints)
        self.spatial = branch(KEYPOINT_DIM, 64, 1)
        self.dense = nn.Sequential(nn.Conv1d(4 * joints + 64, 64, 1), nn.LeakyReLU(0.2),
                                   nn.Conv1d(64, 1, 1))  # fmt: skip

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        scale = 1.0 / self.std_pose  # constants: the exported graph keeps only Mul and Add
        x = keypoints * scale + (-self.mean_pose * scale)
        return self.dense(torch.cat([self.joints(x), self.spatial(x)], dim=1))


class _MotionFeatures(nn.Module):
    """E_motion for export (the sync-error evaluator): keypoints -> features."""

    def __init__(self, encoder: MotionEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        return self.encoder(keypoints)


# ------------------------------------------------------------------------------------- corpus
@dataclass
class ConductingCorpus:
    """Songs with their conducting: mel ``[128, 3 T]`` (90 Hz, [0, 1]) and keypoints
    ``[T, 26]`` (30 fps) per song, plus a description of each (genre, seed, meter)."""

    mels: list[np.ndarray]
    keypoints: list[np.ndarray]
    info: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.mels)

    def subset(self, indices) -> ConductingCorpus:
        idx = list(indices)
        return ConductingCorpus([self.mels[i] for i in idx], [self.keypoints[i] for i in idx],
                                [self.info[i] for i in idx])  # fmt: skip

    def mean_pose(self) -> np.ndarray:
        return np.concatenate(self.keypoints).mean(axis=0)

    def std_pose(self) -> np.ndarray:
        """Per-coordinate standard deviation ``[26]`` about the mean pose (floored at 1e-4)."""
        return np.maximum(np.concatenate(self.keypoints).std(axis=0), 1e-4)


#: Genres of the generated songs and how each is conducted (3/4 songs at slow tempo also in 6).
CORPUS_GENRES = ("pop", "waltz", "ballad", "polka", "house", "funk", "swing", "hiphop")


def corpus_song(index: int, seed: int, duration_s: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """Song ``index`` of the corpus: a generated song (exact beats) and its procedural
    conducting (a conductor personality per song). Returns mel, keypoints, info."""
    from musicdance.audio.synth import synth_song
    from musicdance.conduct.features import conducting_mel, motion_frames
    from musicdance.conduct.keypoints import keypoints_from_motion
    from musicdance.conduct.procedural import conduct_procedural
    from musicdance.conduct.score import compound_meter, score_from_beats

    genre = CORPUS_GENRES[index % len(CORPUS_GENRES)]
    song_seed = seed * 1000 + index
    y, truth = synth_song(genre, seed=song_seed, duration_s=duration_s)
    mel = conducting_mel(y, truth.sr_hz, motion_frames(len(y) / truth.sr_hz))
    positions, meter = np.asarray(truth.beat_positions), truth.meter
    if meter == 3 and index % 2 == 1:  # half the 3-beat songs are conducted in 6 (6/8)
        positions, meter = compound_meter(positions), 6
    score = score_from_beats(mel, truth.beat_times_s, positions, meter, truth.section_starts_s)
    motion = conduct_procedural(score, seed=song_seed)
    info = {"genre": genre, "seed": song_seed, "meter": meter, "bpm": round(truth.bpm, 2)}
    return mel, keypoints_from_motion(motion), info


def build_corpus(
    songs: int,
    *,
    seed: int = 0,
    duration_s: float = 40.0,
    start: int = 0,
    progress: Callable[[int], None] | None = None,
) -> ConductingCorpus:
    """``songs`` corpus songs (indices ``start`` ...), see :func:`corpus_song`."""
    mels, kps, infos = [], [], []
    for i in range(start, start + songs):
        mel, kp, info = corpus_song(i, seed, duration_s)
        mels.append(mel)
        kps.append(kp)
        infos.append(info)
        if progress:
            progress(1)
    return ConductingCorpus(mels, kps, infos)


# ---------------------------------------------------------------------------------- sampling
def _window(corpus: ConductingCorpus, song: int, start: int, frames: int):
    mel = corpus.mels[song][:, 3 * start : 3 * (start + frames)]
    kp = corpus.keypoints[song][start : start + frames]
    return mel, kp


NEGATIVES = ("easy", "hard", "super-hard")


def sample_pairs(
    corpus: ConductingCorpus,
    batch: int,
    rng: np.random.Generator,
    negatives: str,
    window_s: float = 4.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch of half positive, half negative (music, motion) pairs (Sec. 4.5).

    easy: motion of another song; hard: the same song at least 10 s away; super-hard: the same
    song shifted by 0.5-5 s. Returns mel ``[B, 1, 128, 3 F]``, keypoints ``[B, 26, F]``,
    labels ``[B]`` (1 = in sync)."""
    frames = int(window_s * FPS)
    mels, kps, labels = [], [], []
    lengths = [len(k) for k in corpus.keypoints]
    for b in range(batch):
        song = int(rng.integers(len(corpus)))
        start = int(rng.integers(0, lengths[song] - frames + 1))
        mel, kp = _window(corpus, song, start, frames)
        label = b % 2 == 0
        if not label:
            if negatives == "easy":
                other = int((song + rng.integers(1, len(corpus))) % len(corpus))
                o_start = int(rng.integers(0, lengths[other] - frames + 1))
                _, kp = _window(corpus, other, o_start, frames)
            else:
                low, high = (
                    (10 * FPS, lengths[song]) if negatives == "hard" else (FPS // 2, 5 * FPS)
                )
                choices = [s for s in range(0, lengths[song] - frames + 1)
                           if low <= abs(s - start) <= high]  # fmt: skip
                if not choices:
                    raise MusicDanceError(f"song {song} is too short for {negatives} negatives")
                _, kp = _window(corpus, song, int(rng.choice(choices)), frames)
        mels.append(mel)
        kps.append(kp.T)
        labels.append(float(label))
    return (torch.tensor(np.stack(mels))[:, None], torch.tensor(np.stack(kps)),
            torch.tensor(labels))  # fmt: skip


def train_m2s_net(
    corpus: ConductingCorpus,
    *,
    steps: int,
    negatives: str = "hard",
    batch: int = 10,
    seed: int = 0,
    easy_warmup_steps: int = 0,
    window_s: float = 4.0,
    log: Callable[[dict], None] | None = None,
) -> tuple[M2SNet, list[dict]]:
    """The contrastive stage (Algorithm 1, lines 1-6): BCE eq. (1), Adam 1e-3; easy negatives
    for the first ``easy_warmup_steps`` (the paper's first epoch), then ``negatives``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = M2SNet()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    history = []
    for step in range(steps):
        kind = "easy" if step < easy_warmup_steps else negatives
        mel, kp, label = sample_pairs(corpus, batch, rng, kind, window_s)
        logits = net(mel, kp)
        loss = loss_fn(logits, label)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        accuracy = float(((logits > 0).float() == label).float().mean())
        history.append({"step": step, "negatives": kind, "loss": float(loss.detach()),
                        "accuracy": accuracy})  # fmt: skip
        if log:
            log(history[-1])
    return net, history


@torch.no_grad()
def sync_accuracy(
    net: M2SNet, corpus: ConductingCorpus, negatives: str, *, pairs: int = 40, seed: int = 1
) -> float:
    """Accuracy of M2S-Net on ``pairs`` test pairs with ``negatives`` (Table 3's columns)."""
    net.eval()
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(pairs // 10):
        mel, kp, label = sample_pairs(corpus, 10, rng, negatives)
        hits += int(((net(mel, kp) > 0).float() == label).sum())
    net.train()
    return hits / (10 * (pairs // 10))


def _gradient_penalty(
    critic: Discriminator, real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    alpha = torch.rand(real.shape[0], 1, 1)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(mixed).mean(dim=(1, 2)).sum()
    (grad,) = torch.autograd.grad(score, mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def train_m2s_gan(
    corpus: ConductingCorpus,
    net: M2SNet,
    *,
    steps: int,
    batch: int = 3,
    window_s: float = 4.0,
    seed: int = 0,
    lambda_sync: float = 0.05,
    lambda_adv: float = 1.0,
    w_gp: float = 10.0,
    critic_steps: int = 5,
    output_gain: float = 1.0,
    smooth_frames: int = 0,
    log: Callable[[dict], None] | None = None,
    snapshot: Callable[[Generator, Discriminator, list[dict]], None] | None = None,
) -> tuple[Generator, Discriminator, list[dict]]:
    """The generative stage (Algorithm 1, lines 7-14): eq. (2) for G, eq. (3) for D, five D
    steps per G step, RMSprop 5e-4, E_music and E_motion frozen (taken from ``net``).

    ``snapshot(generator, critic, history)`` is called after every step: the state after
    ``n`` steps is what ``steps=n`` returns (nothing depends on the total)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean_pose, std_pose = corpus.mean_pose(), corpus.std_pose()
    generator = Generator(mean_pose, std_pose, output_gain=output_gain, smooth_frames=smooth_frames)
    critic = Discriminator(mean_pose, std_pose)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    opt_g = torch.optim.RMSprop(generator.parameters(), lr=5e-4)
    opt_d = torch.optim.RMSprop(critic.parameters(), lr=5e-4)
    frames = int(window_s * FPS)
    lengths = [len(k) for k in corpus.keypoints]
    # E_music is frozen: the codes of every song are computed once
    with torch.no_grad():
        codes = [net.music(torch.tensor(m)[None, None])[0] for m in corpus.mels]

    def batch_of():
        picks = []
        for _ in range(batch):
            song = int(rng.integers(len(corpus)))
            start = int(rng.integers(0, lengths[song] - frames + 1))
            picks.append(
                (
                    codes[song][:, start : start + frames],
                    torch.tensor(corpus.keypoints[song][start : start + frames].T),
                )
            )
        music = torch.stack([c for c, _ in picks])
        real = torch.stack([k for _, k in picks])
        noise = torch.randn(batch, NOISE_DIM, frames // FPS)
        return music, real, noise

    history = []
    for step in range(steps):
        for _ in range(critic_steps):
            music, real, noise = batch_of()
            with torch.no_grad():
                fake = generator(music, noise)
            loss_d = (critic(fake).mean() - critic(real).mean()
                      + w_gp * _gradient_penalty(critic, real, fake))  # fmt: skip
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        music, real, noise = batch_of()
        fake = generator(music, noise)
        sync = ((net.motion(fake) - net.motion(real)) ** 2).mean()
        adversarial = -critic(fake).mean()
        loss_g = lambda_sync * sync + lambda_adv * adversarial
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            w_dis = float(critic(real).mean() - critic(fake).mean())
        history.append({"step": step, "loss_g": float(loss_g.detach()),
                        "loss_d": float(loss_d.detach()),
                        "sync": float(sync), "w_dis": w_dis})  # fmt: skip
        if log:
            log(history[-1])
        if snapshot:
            snapshot(generator, critic, history)
    return generator, critic, history


# ------------------------------------------------------------------------------------ export
def _export(
    module: nn.Module, inputs: tuple, names: tuple, outputs: tuple, dynamic: tuple, path: Path
) -> None:
    """Export ``module`` at opset 18 with the checks of :mod:`musicdance.train.export`
    (onnx.checker, default domain, Sentis operator list), written atomically."""
    import onnx

    from musicdance.atomic import atomic_write
    from musicdance.train import export as ex

    module.eval()
    with ex._quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module, inputs, dynamo=True, opset_version=ex.OPSET, input_names=list(names),
            output_names=list(outputs), dynamic_shapes=dynamic, optimize=True, verbose=False,
        )  # fmt: skip
    model = program.model_proto
    model.ir_version = min(model.ir_version, ex.IR_VERSION)
    model.doc_string = f"mdtool conducting {path.stem}: {names} -> {outputs}"
    onnx.checker.check_model(model, full_check=True)
    unlisted = sorted(set(ex.operator_types(model)) - SENTIS_CONDUCTING_OPERATORS)
    if unlisted:
        raise MusicDanceError(f"{path.name}: uses {unlisted}, not on the Sentis operator list")
    with atomic_write(path, "wb") as handle:
        handle.write(model.SerializeToString())


#: The export module's Sentis list plus the operators these graphs need, each on Unity Sentis'
#: "Supported ONNX operators" page: AveragePool, LeakyRelu (D) and the shape arithmetic of
#: the dynamic time axis (Shape, Gather, Slice).
SENTIS_CONDUCTING_OPERATORS = SENTIS_OPERATORS | {
    "AveragePool",
    "LeakyRelu",
    "Shape",
    "Gather",
    "Slice",
}


def export_companion(
    folder: str | os.PathLike[str],
    net: M2SNet,
    generator: Generator,
    critic: Discriminator,
    eval_encoder: MotionEncoder,
    record: dict[str, Any],
) -> dict[str, Any]:
    """Write the companion folder: ``conductor.onnx`` (E_music + G), ``motion_encoder.onnx``
    (the held-out E_motion for SE, eq. 5), ``critic.onnx`` (D for W-dis, eq. 6), with parity
    against torch (max |onnx - torch| on real corpus windows) in the manifest."""
    import onnxruntime as ort

    from musicdance.companions import write_companion

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    seconds = torch.export.Dim("seconds", min=1, max=4 * 3600)
    batch = torch.export.Dim("batch", min=1, max=64)
    conductor = Conductor(net.music, generator).eval()
    mel = torch.rand(2, 1, 128, 90 * 4)
    noise = torch.randn(2, NOISE_DIM, 4)
    _export(
        conductor,
        (mel, noise),
        ("mel", "noise"),
        ("keypoints",),
        ({0: batch, 3: 90 * seconds}, {0: batch, 2: seconds}),
        root / "conductor.onnx",
    )
    frames = torch.export.Dim("frames", min=12, max=4 * 3600 * 30)
    kp = torch.rand(2, KEYPOINT_DIM, 120)
    _export(
        _MotionFeatures(eval_encoder).eval(),
        (kp,),
        ("keypoints",),
        ("features",),
        ({0: batch, 2: frames},),
        root / "motion_encoder.onnx",
    )
    kp12 = torch.rand(2, KEYPOINT_DIM, 120)
    frames12 = torch.export.Dim("twelfths", min=1, max=4 * 3600 * 3)
    _export(
        critic.eval(),
        (kp12,),
        ("keypoints",),
        ("scores",),
        ({0: batch, 2: 12 * frames12},),
        root / "critic.onnx",
    )
    # parity on inputs of several lengths (the time axes are dynamic)
    parity = {}
    gen = torch.Generator().manual_seed(7)
    for name, module, make in (
        ("conductor", conductor, lambda s: (torch.rand(1, 1, 128, 90 * s, generator=gen),
                                            torch.randn(1, NOISE_DIM, s, generator=gen))),
        ("motion_encoder", _MotionFeatures(eval_encoder).eval(),
         lambda s: (torch.rand(1, KEYPOINT_DIM, 30 * s, generator=gen) * 0.1 + 0.45,)),
        ("critic", critic.eval(), lambda s: (torch.rand(1, KEYPOINT_DIM, 30 * s, generator=gen),)),
    ):  # fmt: skip
        session = ort.InferenceSession(
            str(root / f"{name}.onnx"), providers=["CPUExecutionProvider"]
        )
        worst = 0.0
        for s in (3, 7, 20):
            inputs = make(s)
            with torch.no_grad():
                expected = module(*inputs).numpy()
            feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs, strict=True)}
            got = session.run(None, feeds)[0]
            worst = max(worst, float(np.max(np.abs(got - expected))))
        parity[name] = worst
    from musicdance.train.export import operator_types

    manifest = {
        "name": "conducting",
        "task": "conducting",
        "paper": "seed 004: M2S-Net / M2S-GAN (Liu et al., JCST 2022)",
        "graphs": {"conductor": "conductor.onnx", "motion_encoder": "motion_encoder.onnx",
                   "critic": "critic.onnx"},
        "data": [],
        "opset": 18,
        "inputs": {"mel": "[B, 1, 128, 90 S]: dB mel in [0, 1] at 90 Hz "
                          "(musicdance.conduct.features.conducting_mel)",
                   "noise": "[B, 8, S]: N(0, 1) at 1 Hz"},
        "outputs": {"keypoints": "[B, 26, 30 S]: 13 COCO keypoints (x, y) at 30 fps, "
                                 "normalised (musicdance.conduct.keypoints)"},
        "operators": {name: operator_types(root / f"{name}.onnx")
                      for name in ("conductor", "motion_encoder", "critic")},
        "parity_max_abs": parity,
        "training": record,
    }  # fmt: skip
    worst = max(parity.values())
    if worst > 1e-4:
        raise MusicDanceError(f"ONNX parity {worst:.2e} exceeds 1e-4", root)
    write_companion(root, manifest)
    return manifest


def _cached(stages: Path | None, name: str, key: dict, make: Callable[[], Any]) -> Any:
    """``make()``, or its result saved by an earlier call with the same ``key`` in folder
    ``stages`` (``torch.save`` files; None: no cache). A changed key recomputes the stage."""
    if stages is None:
        return make()
    stages.mkdir(parents=True, exist_ok=True)
    path = stages / f"{name}.pt"
    if path.is_file():
        saved = torch.load(path, weights_only=False)
        if saved.get("key") == key:
            return saved["value"]
    value = make()
    torch.save({"key": key, "value": value}, path)
    return value


def _mean_accuracy(history: list[dict]) -> float:
    return float(np.mean([h["accuracy"] for h in history[-20:]]))


def build_companion(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    train_songs: int = 24,
    test_songs: int = 4,
    duration_s: float = 40.0,
    net_steps: int = 150,
    warmup_steps: int = 30,
    gan_steps: int = 480,
    eval_steps: int = 60,
    lambda_sync: float = 0.05,
    output_gain: float = 1.0,
    smooth_frames: int = 9,
    stages: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The whole recipe, one seeded call: corpus, M2S-Net (train split), M2S-GAN, the held-out
    M2S-Net for SE, Table 3 accuracies of the shipped M2S-Net, export. Returns the record.

    ``stages``: a folder that keeps each stage's result (corpus, the two M2S-Nets, the GAN)
    keyed by its settings, so a rerun with a changed GAN recipe retrains the GAN only (the
    stages are seeded: a kept stage is what the run would compute again)."""
    torch.set_num_threads(1)  # faster than 2 on the shared cores (measured)
    started = time.perf_counter()
    cache = Path(stages) if stages is not None else None
    log(f"corpus: {train_songs} + {test_songs} generated songs of {duration_s:g} s")
    corpus_key = {"seed": seed, "train": train_songs, "test": test_songs, "s": duration_s}
    train, test = _cached(
        cache,
        "corpus",
        corpus_key,
        lambda: (
            build_corpus(train_songs, seed=seed, duration_s=duration_s),
            build_corpus(test_songs, seed=seed, duration_s=duration_s, start=train_songs),
        ),
    )
    log(f"corpus ready in {time.perf_counter() - started:.0f} s")

    def every(n, label):
        def show(entry):
            if entry["step"] % n == 0:
                log(f"{label} " + json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                                              for k, v in entry.items()}))  # fmt: skip

        return show

    def stage(name, key, make):
        """(result, seconds) of a kept or freshly run stage (the seconds of the run that
        computed it)."""

        def timed():
            t0 = time.perf_counter()
            value = make()
            return value, time.perf_counter() - t0

        return _cached(cache, name, {**corpus_key, **key}, timed)

    (net, net_history), net_s = stage(
        "m2s_net",
        {"steps": net_steps, "warmup": warmup_steps},
        lambda: train_m2s_net(
            train,
            steps=net_steps,
            negatives="hard",
            seed=seed,
            easy_warmup_steps=warmup_steps,
            log=every(10, "m2s-net"),
        ),
    )
    table3 = {kind: sync_accuracy(net, test, kind) for kind in NEGATIVES}
    log(f"m2s-net done in {net_s:.0f} s; held-out accuracy {table3}")
    gan_key = {"net_steps": net_steps, "steps": gan_steps, "lambda_sync": lambda_sync,
               "output_gain": output_gain, "smooth_frames": smooth_frames,
               "generator": GENERATOR_VERSION}  # fmt: skip
    (generator, critic, gan_history), gan_s = stage(
        "m2s_gan",
        gan_key,
        lambda: train_m2s_gan(
            train,
            net,
            steps=gan_steps,
            seed=seed,
            lambda_sync=lambda_sync,
            output_gain=output_gain,
            smooth_frames=smooth_frames,
            log=every(10, "m2s-gan"),
        ),
    )
    (evaluator, eval_history), eval_s = stage(
        "sync_evaluator",
        {"steps": eval_steps},
        lambda: train_m2s_net(
            test,
            steps=eval_steps,
            negatives="hard",
            seed=seed + 1,
            easy_warmup_steps=eval_steps // 5,
        ),
    )
    record = {
        "seed": seed,
        "command": "python -m musicdance.train.conducting --out bundles/default/conducting "
                   f"--seed {seed} --register bundles/default (defaults for the rest)",
        "corpus": {"train": train.info, "test": test.info, "duration_s": duration_s},
        "m2s_net": {"steps": net_steps, "easy_warmup_steps": warmup_steps, "batch": 10,
                    "window_s": 4, "negatives": "hard", "optimiser": "Adam 1e-3",
                    "seconds": round(net_s, 1),
                    "final_train_accuracy": _mean_accuracy(net_history),
                    "held_out_accuracy": table3},
        "m2s_gan": {"steps": gan_steps, "critic_steps": 5, "batch": 3, "window_s": 4,
                    "lambda_sync": lambda_sync, "lambda_adv": 1.0, "w_gp": 10.0,
                    "output_gain": output_gain, "smooth_frames": smooth_frames,
                    "noise_upsampling": "linear interpolation (fixed)",
                    "optimiser": "RMSprop 5e-4", "seconds": round(gan_s, 1),
                    "last": gan_history[-1]},
        "sync_evaluator": {"steps": eval_steps, "trained_on": "the held-out songs (Sec. 6.2.2)",
                           "seconds": round(eval_s, 1),
                           "final_accuracy": _mean_accuracy(eval_history)},
        "reduced": "paper: 90 h of capture, ~24 h per stage on a 2080Ti, 10 s M2S pairs, 60 s "
                   "GAN samples, all 128 mel bands convolved; here: the procedural corpus above, "
                   "the steps above, 4 s pairs and GAN samples, the 128 bands average-pooled x4 "
                   "before E_music's first group (two shared CPU cores)",
    }  # fmt: skip
    manifest = export_companion(out, net, generator, critic, evaluator.motion, record)
    log(
        f"exported to {out}; parity {manifest['parity_max_abs']}; "
        f"total {time.perf_counter() - started:.0f} s"
    )
    return manifest


def main(argv: list[str] | None = None) -> None:
    """``python -m musicdance.train.conducting --out DIR --seed N [--register BUNDLE]``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-songs", type=int, default=24)
    parser.add_argument("--test-songs", type=int, default=4)
    parser.add_argument("--net-steps", type=int, default=150)
    parser.add_argument("--gan-steps", type=int, default=480)
    parser.add_argument("--eval-steps", type=int, default=60)
    parser.add_argument("--lambda-sync", type=float, default=0.05, help="eq. (2); paper 0.05")
    parser.add_argument(
        "--output-gain",
        type=float,
        default=1.0,
        help="scale of G's output around the mean pose (in the corpus' standard deviations)",
    )
    parser.add_argument(
        "--smooth-frames", type=int, default=9, help="Hann low-pass on G's output (0: none)"
    )
    parser.add_argument("--stages", default=None, help="folder keeping each stage for reruns")
    parser.add_argument("--register", default=None, help="bundle folder to list it in")
    args = parser.parse_args(argv)
    build_companion(args.out, seed=args.seed, train_songs=args.train_songs,
                    test_songs=args.test_songs, net_steps=args.net_steps,
                    warmup_steps=max(1, args.net_steps // 5), gan_steps=args.gan_steps,
                    eval_steps=args.eval_steps, lambda_sync=args.lambda_sync,
                    output_gain=args.output_gain, smooth_frames=args.smooth_frames,
                    stages=args.stages)  # fmt: skip
    if args.register:
        from musicdance.companions import register_companion

        register_companion(args.register, Path(args.out).name)


if __name__ == "__main__":
    # run the imported module's main: the networks kept by --stages are then pickled as
    # musicdance.train.conducting classes, not __main__ ones (readable by any caller)
    from musicdance.train.conducting import main as _main

    _main()
