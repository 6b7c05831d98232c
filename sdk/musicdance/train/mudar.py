"""MuDaR (seed 002) in torch: both pathways, their losses, training, ONNX export.

Explicit pathway (Sec. 3.1, visual rhythm from motion, on skeletons):

* motion features: HOOF of joint velocities, eq. (3)-(4) (:func:`musicdance.rhythm.features.hoof`),
  a linear layer and a temporal convolution give ``f_mot``;
* the pose stream replaces RGB: each joint's 6 numbers embedded (``f_rgb``, the joints are the
  ``k`` spatial positions of eq. 6 and 8);
* :class:`AudioGuidedAttention`: eq. (5)-(8), channel then spatial (joint) attention guided by
  the audio encoder's per-frame features ``f_a``;
* audio dropout, eq. (9)-(10): the first ``b * p`` items of a batch go without audio, through
  eq. (12) (``Linear(Tile(f_rgb))``), the rest through eq. (11) (the attention); eq. (13)
  concatenates them back in batch order (the paper writes ``Concat(f1, f2)``, which only
  reorders the batch) and eq. (14) is multi-head self-attention over time (the injector);
* :class:`RhythmEstimator`: eq. (15), first-order differences of ``f_mot`` and ``f_inj``, each
  through a linear layer with ReLU, concatenated, a linear classifier and a sigmoid;
* :func:`focal_loss`: eq. (19).

Implicit pathway (Sec. 3.2): :class:`AudioEncoder` (2D convolutions over the audio image of
mel, beat, onset and tempogram rows, then K transformer layers), :class:`MotionEncoder` (ST-GCN
on the canonical skeleton in place of the PWC-Net video encoder, then K transformer layers),
:func:`triplet_loss` eq. (18) with rhythm-aware negatives from other songs, eq. (16) (AVC), and
temporally shifted negatives that are not a multiple of an eighth note, eq. (17) (AVTS), in the
paper's curriculum (AVC for the first 70 % of the epochs, 35 of 50 in the paper, then AVTS);
the total loss is eq. (20).

Values the paper leaves out, chosen here (docs/rhythm.md): width C = 64, embedding D = 64,
K = 2 transformer layers of 4 heads per modality, one injector attention layer of 4 heads, the
estimator 32 wide (f_a projected to it), focal alpha = 0.5 and gamma = 2, triplet margin 0.2
on unit embeddings, eq. (16) alpha = 0.1, audio dropout p = 0.5, lambda_1 = lambda_2 = 1, Adam
at 1e-3 (the paper's 1e-4 is for batch 384 over 50 epochs on 64 GPUs; here a few hundred steps
on one CPU core), windows every 4 s.

``python -m musicdance.train.mudar`` rebuilds the shipped companion (seeded).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from musicdance.rhythm.features import (
    AUDIO_BANDS,
    HOOF_FEATURES,
    POSE_CHANNELS,
    RHYTHM_FPS,
    WINDOW_FRAMES,
)

W = WINDOW_FRAMES


# ------------------------------------------------------------------------------- layers
class SelfAttention(nn.Module):
    """Multi-head self-attention over time (MatMul and Softmax only, Sentis-friendly)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.dh = heads, dim // heads
        self.q, self.k, self.v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(-1, W, self.heads, self.dh).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        weights = torch.softmax(torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.dh), dim=-1)
        y = torch.matmul(weights, v).transpose(1, 2).reshape(-1, W, self.heads * self.dh)
        return self.out(y)


class TransformerLayer(nn.Module):
    """The encoder layer of Vaswani et al.: attention, feed-forward, residuals, layer norms."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attention = SelfAttention(dim, heads)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.ff(x))


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt((x * x).sum(dim=-1, keepdim=True) + 1e-12)


class _Head(nn.Module):
    """Positional embedding, K transformer layers, and the pooled unit embedding.

    The time-pooled features are batch-normalised before the projection: without it every
    window pools to nearly the same vector at initialisation (cosine 0.999), where the triplet
    loss has no gradient and training stalls at the margin."""

    def __init__(self, dim: int, emb: int, layers: int, heads: int) -> None:
        super().__init__()
        self.position = nn.Parameter(torch.zeros(1, W, dim))
        self.layers = nn.Sequential(*[TransformerLayer(dim, heads) for _ in range(layers)])
        self.pool_norm = nn.BatchNorm1d(dim)
        self.project = nn.Linear(dim, emb)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = self.layers(x + self.position)
        return frames, _unit(self.project(self.pool_norm(frames.mean(dim=1))))


class AudioEncoder(nn.Module):
    """audio [B, 1, AUDIO_BANDS, W] -> frames f_a [B, W, C], embedding [B, D]."""

    def __init__(self, dim: int = 64, emb: int = 64, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 1)),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 1)),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d((4, 1)),
        )  # fmt: skip
        rows = AUDIO_BANDS // 16
        self.flat = 32 * rows
        self.project = nn.Linear(self.flat, dim)
        self.head = _Head(dim, emb, layers, heads)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(audio).reshape(-1, self.flat, W).transpose(1, 2)
        return self.head(torch.relu(self.project(x)))


def skeleton_adjacency(names: tuple[str, ...]) -> np.ndarray:
    """Normalised adjacency with self loops ``D^-1/2 (A + I) D^-1/2`` of the canonical skeleton."""
    from musicdance.motion.canonical import canonical_skeleton

    skeleton = canonical_skeleton()
    a = np.eye(len(names))
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            a[j, parent] = a[parent, j] = 1.0
    d = 1.0 / np.sqrt(a.sum(axis=1))
    return (a * d[:, None] * d[None, :]).astype(np.float32)


class STGCNBlock(nn.Module):
    """Spatial graph convolution (1x1 conv then the adjacency) and a 9-frame temporal conv."""

    def __init__(self, cin: int, cout: int, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("adjacency", adjacency)
        self.spatial = nn.Conv2d(cin, cout, 1)
        self.temporal = nn.Conv2d(cout, cout, (9, 1), padding=(4, 0))
        self.residual = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(torch.matmul(self.spatial(x), self.adjacency))
        return torch.relu(self.temporal(y) + self.residual(x))


class MotionEncoder(nn.Module):
    """pose [B, 6, W, J] -> frames f_v [B, W, C], embedding [B, D] (ST-GCN + transformers)."""

    def __init__(self, adjacency: np.ndarray, dim: int = 64, emb: int = 64, layers: int = 2,
                 heads: int = 4) -> None:  # fmt: skip
        super().__init__()
        a = torch.from_numpy(adjacency)
        self.gcn = nn.Sequential(
            STGCNBlock(POSE_CHANNELS, dim // 2, a), STGCNBlock(dim // 2, dim, a)
        )
        self.head = _Head(dim, emb, layers, heads)

    def forward(self, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.gcn(pose).mean(dim=3).transpose(1, 2)  # [B, W, C]
        return self.head(x)


class AudioGuidedAttention(nn.Module):
    """AGVA, eq. (5)-(8): f_rgb [B, W, J, C], f_a [B, W, C] -> f_a:rgb [B, W, C]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.u_rgb_c, self.u1, self.w1 = (
            nn.Linear(dim, dim),
            nn.Linear(dim, dim),
            nn.Linear(dim, dim),
        )
        self.u_a_s, self.u_rgb_s, self.w2 = (
            nn.Linear(dim, dim),
            nn.Linear(dim, dim),
            nn.Linear(dim, 1),
        )

    def forward(self, f_rgb: torch.Tensor, f_a: torch.Tensor) -> torch.Tensor:
        a = f_a.unsqueeze(2)
        pooled = (a * torch.relu(self.u_rgb_c(f_rgb))).mean(dim=2)  # rho_a(f_a . U^c_rgb(f_rgb))
        w_c = torch.sigmoid(self.w1(torch.relu(self.u1(pooled))))  # eq. (5)
        f_c = w_c.unsqueeze(2) * f_rgb  # eq. (6)
        logits = self.w2(torch.relu(self.u_a_s(f_a)).unsqueeze(2) * torch.relu(self.u_rgb_s(f_c)))
        w_s = torch.softmax(torch.tanh(logits), dim=2)  # eq. (7), over the joints
        return (w_s * f_c).sum(dim=2)  # eq. (8)


def _difference(x: torch.Tensor) -> torch.Tensor:
    """First-order difference along time (frame 0 minus itself: 0), [B, W, C]."""
    return x - torch.cat([x[:, :1], x[:, :-1]], dim=1)


class RhythmEstimator(nn.Module):
    """The explicit pathway: hoof [B, W, F], pose [B, W, J, 6] (f_a [B, W, C] optional) ->
    p^e [B, W] (eq. 15)."""

    def __init__(self, joints: int, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.hoof_in = nn.Linear(HOOF_FEATURES, dim)
        self.mot_conv = nn.Conv1d(dim, dim, 5, padding=2)
        self.joint_embed = nn.Linear(POSE_CHANNELS, dim)
        self.agva = AudioGuidedAttention(dim)
        self.tile = nn.Linear(joints * dim, dim)  # eq. (12)
        self.position = nn.Parameter(torch.zeros(1, W, dim))
        self.injector = SelfAttention(dim, heads)  # eq. (14)
        self.norm = nn.LayerNorm(dim)
        self.u_mot, self.u_inj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.classifier = nn.Linear(2 * dim, 1)
        self.joints, self.dim = joints, dim

    def forward(self, hoof: torch.Tensor, pose: torch.Tensor, f_a: torch.Tensor | None = None,
                audio_dropout: float = 0.0) -> torch.Tensor:  # fmt: skip
        f_mot = torch.relu(self.hoof_in(hoof)).transpose(1, 2)
        f_mot = torch.relu(self.mot_conv(f_mot)).transpose(1, 2)
        f_rgb = torch.relu(self.joint_embed(pose))  # [B, W, J, C]
        silent = f_rgb.shape[0] if f_a is None else int(f_rgb.shape[0] * audio_dropout)  # eq. 10
        parts = []
        if silent:
            parts.append(self.tile(f_rgb[:silent].reshape(-1, W, self.joints * self.dim)))
        if f_a is not None and silent < f_rgb.shape[0]:
            parts.append(self.agva(f_rgb[silent:], f_a[silent:]))  # eq. (11)
        f = parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)  # eq. (13)
        f = f + self.position
        f_inj = self.norm(f + self.injector(f))  # eq. (14)
        h = torch.cat([torch.relu(self.u_mot(_difference(f_mot))),
                       torch.relu(self.u_inj(_difference(f_inj)))], dim=-1)  # fmt: skip
        return torch.sigmoid(self.classifier(h)).squeeze(-1)  # eq. (15)


class Mudar(nn.Module):
    def __init__(self, adjacency: np.ndarray, motion_width: int = 64) -> None:
        super().__init__()
        self.audio = AudioEncoder()
        self.motion = MotionEncoder(adjacency, dim=motion_width)
        self.rhythm = RhythmEstimator(len(adjacency))
        self.audio_to_rhythm = nn.Linear(64, self.rhythm.dim)  # f_a at the estimator's width


# ------------------------------------------------------------------------------- losses
def focal_loss(p: torch.Tensor, target: torch.Tensor, alpha: float = 0.5, gamma: float = 2.0):
    """Eq. (19) per frame: -alpha_t (1 - p_t)^gamma log(p_t)."""
    p = p.clamp(1e-6, 1 - 1e-6)
    p_t = torch.where(target > 0.5, p, 1 - p)
    alpha_t = torch.where(target > 0.5, torch.full_like(p, alpha), torch.full_like(p, 1 - alpha))
    return -alpha_t * (1 - p_t) ** gamma * torch.log(p_t)


def triplet_loss(f_v, f_pos, f_neg, margin: float = 0.2) -> torch.Tensor:
    """Eq. (18): [||f_v - f_a:pos||^2 - ||f_v - f_a:neg||^2 + alpha]_+ (mean over triplets)."""
    d_pos = ((f_v - f_pos) ** 2).sum(-1)
    d_neg = ((f_v - f_neg) ** 2).sum(-1)
    return torch.relu(d_pos - d_neg + margin).mean()


def avc_mask(onsets: torch.Tensor, pair_ids: torch.Tensor, alpha: float = 0.1) -> torch.Tensor:
    """``[B, B]`` bool: window j is an AVC negative for window i (eq. 16 in a batch): it comes
    from another pair and its onsets ``[B, W]`` differ from i's by more than ``alpha W``."""
    differ = (onsets[:, None, :] - onsets[None, :, :]).abs().sum(-1) > alpha * onsets.shape[1]
    return differ & (pair_ids[:, None] != pair_ids[None, :])


def batch_triplet_loss(f_v: torch.Tensor, f_a: torch.Tensor, mask: torch.Tensor,
                       margin: float = 0.2) -> torch.Tensor:  # fmt: skip
    """Eq. (18) over a batch of matching windows ``f_v``, ``f_a`` ``[B, D]`` with every
    allowed negative (``mask`` ``[B, B]``), both ways (a dance against other songs, a song
    against other dances): the mean hinge over the triplets that still violate the margin
    (batch-all mining: the easy ones, already far, do not dilute the gradient)."""
    d = ((f_v[:, None, :] - f_a[None, :, :]) ** 2).sum(-1)  # d[i, j] = ||f_v^i - f_a^j||^2
    d_pos = d.diagonal()
    by_motion = torch.relu(d_pos[:, None] - d + margin)[mask]  # a dance, other songs
    by_audio = torch.relu(d_pos[None, :] - d + margin)[mask]  # a song, other dances
    hinge = torch.cat([by_motion, by_audio])
    active = hinge > 0
    return hinge[active].mean() if bool(active.any()) else hinge.sum()


def rhythm_score(onset_pos: np.ndarray, onset_neg: np.ndarray, alpha: float = 0.1) -> float:
    """Eq. (16): s_rhy = sum_t |O_pos^t - O_neg^t| - alpha T (a negative needs s_rhy > 0)."""
    return float(np.abs(onset_pos - onset_neg).sum() - alpha * len(onset_pos))


def shift_allowed(shift_frames: int, bpm: float, fps: float = RHYTHM_FPS) -> bool:
    """Eq. (17): the shift is no multiple of an eighth note (``fps * 60 / bpm / 2`` frames);
    with fractional eighths, it must stay a quarter of an eighth from every multiple."""
    eighth = fps * 60.0 / bpm / 2.0
    r = abs(shift_frames) / eighth
    return abs(r - round(r)) >= 0.25


# ------------------------------------------------------------------------------- data
class Windows:
    """Training windows (pair index, start frame) over a list of MudarPairs."""

    def __init__(self, pairs, hop: int = 60) -> None:
        self.pairs = pairs
        self.index = [(i, s) for i, p in enumerate(pairs)
                      for s in range(0, len(p.onsets) - W + 1, hop)]  # fmt: skip

    def batch(self, items, rng: np.random.Generator, task: str):
        audio, neg, hoof, pose, onsets = [], [], [], [], []
        for i, s in items:
            p = self.pairs[i]
            audio.append(p.audio[:, s : s + W])
            hoof.append(p.hoof[s : s + W])
            pose.append(p.pose[s : s + W])
            onsets.append(p.onsets[s : s + W])
            neg.append(self._negative(i, s, rng, task))
        tensors = [torch.from_numpy(np.stack(x)) for x in (audio, neg, hoof, pose, onsets)]
        return tensors[0][:, None], tensors[1][:, None], tensors[2], tensors[3], tensors[4]

    def _negative(self, i: int, s: int, rng: np.random.Generator, task: str) -> np.ndarray:
        p = self.pairs[i]
        if task == "avts":  # eq. (17): same song, shifted
            for _ in range(50):
                shift = int(rng.integers(3, 31)) * (1 if rng.random() < 0.5 else -1)
                if 0 <= s + shift <= len(p.onsets) - W and shift_allowed(shift, p.bpm):
                    return p.audio[:, s + shift : s + shift + W]
        positive = p.onsets[s : s + W]
        for _ in range(20):  # AVC, eq. (16): another song whose onsets differ enough
            j, t = self.index[int(rng.integers(len(self.index)))]
            if j != i and rhythm_score(positive, self.pairs[j].onsets[t : t + W]) > 0:
                return self.pairs[j].audio[:, t : t + W]
        j, t = self.index[int(rng.integers(len(self.index)))]
        return self.pairs[j].audio[:, t : t + W]


def train(
    pairs,
    *,
    seed: int = 0,
    epochs: int = 16,
    batch: int = 32,
    lr: float = 1e-3,
    avc_share: float = 0.7,
    audio_dropout: float = 0.5,
    lambdas=(1.0, 1.0),
    margin: float = 0.2,
    negatives: str = "batch",
    hop: int = 60,
    motion_width: int = 64,
    log=print,
    on_epoch=None,
):
    """Train a :class:`Mudar` on ``pairs``; returns the model (eval mode) and the loss history."""
    from musicdance.motion.canonical import CANONICAL_JOINTS

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Mudar(skeleton_adjacency(CANONICAL_JOINTS), motion_width)
    windows = Windows(pairs, hop=hop)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        task = "avc" if epoch < int(round(avc_share * epochs)) else "avts"  # curriculum
        order = rng.permutation(len(windows.index))
        totals = np.zeros(3)
        steps = 0
        model.train()
        for a in range(0, len(order) - batch + 1, batch):
            items = [windows.index[k] for k in order[a : a + batch]]
            audio, neg, hoof_x, pose, onsets = windows.batch(items, rng, task)
            f_a, e_a = model.audio(audio)
            _, e_v = model.motion(pose.permute(0, 3, 1, 2))
            if negatives == "batch":
                ids = torch.tensor([i for i, _ in items])
                loss_im = batch_triplet_loss(e_v, e_a, avc_mask(onsets, ids), margin)
                if task == "avts":
                    loss_im = loss_im + triplet_loss(e_v, e_a, model.audio(neg)[1], margin)
            else:
                loss_im = triplet_loss(e_v, e_a, model.audio(neg)[1], margin)
            loss_ex = torch.zeros(())
            if lambdas[1]:
                p = model.rhythm(hoof_x, pose, model.audio_to_rhythm(f_a),
                                 audio_dropout=audio_dropout)  # fmt: skip
                loss_ex = focal_loss(p, onsets).mean()
            loss = lambdas[0] * loss_im + lambdas[1] * loss_ex  # eq. (20)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            totals += [loss.item(), loss_im.item(), loss_ex.item()]
            steps += 1
        mean = totals / max(steps, 1)
        history.append({"epoch": epoch + 1, "task": task, "loss": mean[0], "implicit": mean[1],
                        "explicit": mean[2]})  # fmt: skip
        log(
            f"epoch {epoch + 1}/{epochs} {task}: loss {mean[0]:.4f} (implicit {mean[1]:.4f}, "
            f"explicit {mean[2]:.4f})"
        )
        if on_epoch is not None:
            on_epoch(epoch + 1, model)
    recalibrate_batch_norms(model, windows)
    model.eval()
    return model, history


def recalibrate_batch_norms(model: Mudar, windows: Windows, batch: int = 32) -> None:
    """Recompute every batch norm's running statistics with the final weights (a cumulative
    average over all training windows, no gradients). The pooled features the embedding
    batch norms see differ from window to window by little beside a large shared part that
    drifts while training; the running mean (momentum 0.1) lags that drift by more than the
    differences, which left the exported encoders' embeddings all alike."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average
    model.train()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for a in range(0, len(windows.index), batch):
            items = windows.index[a : a + batch]
            if len(items) < 2:
                continue
            audio, _, _, pose, _ = windows.batch(items, rng, "avc")
            model.audio(audio)
            model.motion(pose.permute(0, 3, 1, 2))
    for norm in norms:
        norm.momentum = 0.1


# ------------------------------------------------------------------------------- export
class _RhythmGraph(nn.Module):
    def __init__(self, estimator: RhythmEstimator) -> None:
        super().__init__()
        self.estimator = estimator

    def forward(self, hoof: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        return self.estimator(hoof, pose)


#: Operators the MuDaR graphs add to ``export.SENTIS_OPERATORS`` for their transformers and
#: differences; each is on the Sentis 2.x "Supported ONNX operators" page.
TRANSFORMER_OPERATORS = frozenset(
    {"LayerNormalization", "Div", "Sub", "Sqrt", "ReduceSum", "Slice"}
)


#: The companion's graphs (``rhythm.model``'s roles).
GRAPHS = ("audio_encoder", "motion_encoder", "rhythm")


def graph_specs(model: Mudar):
    from musicdance.motion.canonical import CANONICAL_JOINTS
    from musicdance.train.export import GraphSpec

    j = len(CANONICAL_JOINTS)
    return {
        "audio_encoder": GraphSpec("audio_encoder", model.audio, ("audio",),
                                   ("frames", "embedding"), ((1, AUDIO_BANDS, W),)),
        "motion_encoder": GraphSpec("motion_encoder", model.motion, ("pose",),
                                    ("frames", "embedding"), ((POSE_CHANNELS, W, j),)),
        "rhythm": GraphSpec("rhythm", _RhythmGraph(model.rhythm), ("hoof", "pose"), ("rhythm",),
                            ((W, HOOF_FEATURES), (W, j, POSE_CHANNELS))),
    }  # fmt: skip


def export_companion(model: Mudar, folder: Path, extra: dict,
                     graphs: tuple[str, ...] = GRAPHS) -> dict:  # fmt: skip
    """Export ``graphs`` into ``folder`` (opset 18, Sentis operator check, parity against
    torch on random inputs), write the companion manifest; returns the parity. A graph not
    exported is kept as the folder has it, with its parity and operators from the manifest."""
    import onnxruntime as ort

    from musicdance.companions import write_companion
    from musicdance.train import export as ex

    folder.mkdir(parents=True, exist_ok=True)
    allowed = ex.SENTIS_OPERATORS | TRANSFORMER_OPERATORS
    parity, operators = {}, {}
    if set(graphs) != set(GRAPHS):
        kept = json.loads((folder / "manifest.json").read_text())
        parity = {g: kept["parity_max_abs"][g] for g in GRAPHS if g not in graphs}
        operators = {g: kept["operators"][g] for g in GRAPHS if g not in graphs}
    saved = ex.SENTIS_OPERATORS
    ex.SENTIS_OPERATORS = allowed  # _check reads the module's list
    try:
        for name, spec in graph_specs(model).items():
            if name not in graphs:
                continue
            path = ex.export_graph(spec, folder / f"{name}.onnx")
            operators[name] = ex.operator_types(path)
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            inputs = ex.example_inputs(spec, batch=3, seed=1)
            with torch.no_grad():
                want = spec.module(*inputs)
            want = want if isinstance(want, tuple) else (want,)
            got = session.run(None, {n: x.numpy() for n, x in zip(spec.input_names, inputs,
                                                                  strict=True)})  # fmt: skip
            parity[name] = max(
                float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True)
            )
    finally:
        ex.SENTIS_OPERATORS = saved
    from musicdance.motion.canonical import CANONICAL_JOINTS

    write_companion(folder, {
        "name": "mudar", "task": "music-dance-rhythm",
        "graphs": {name: f"{name}.onnx" for name in GRAPHS},
        "opset": ex.OPSET, "parity_max_abs": dict(sorted(parity.items())),
        "operators": dict(sorted(operators.items())),
        "joints": list(CANONICAL_JOINTS), "fps": RHYTHM_FPS, "window_frames": W,
        **extra,
    })  # fmt: skip
    return parity


def choose_threshold(model: Mudar, pairs) -> float:
    """The rhythm threshold with the best F1 on the training pairs (0.05 steps)."""
    from musicdance.rhythm.model import peak_frames
    from musicdance.rhythm.retrieval import precision_recall

    curves = []
    with torch.no_grad():
        for p in pairs:
            starts = list(range(0, len(p.onsets) - W + 1, W))
            hoof_x = torch.from_numpy(np.stack([p.hoof[s : s + W] for s in starts]))
            pose = torch.from_numpy(np.stack([p.pose[s : s + W] for s in starts]))
            probs = model.rhythm(hoof_x, pose).numpy().reshape(-1)
            curves.append((probs, p.onsets[: len(probs)]))
    best, best_f1 = 0.5, -1.0
    for threshold in np.arange(0.2, 0.81, 0.05):
        hits = pred = true = 0.0
        for probs, onsets in curves:
            r = precision_recall(peak_frames(probs, threshold) / RHYTHM_FPS,
                                 np.flatnonzero(onsets) / RHYTHM_FPS)  # fmt: skip
            hits += r["precision"] * r["predicted"]
            pred += r["predicted"]
            true += r["true"]
        f1 = 2 * hits / max(pred + true, 1)
        if f1 > best_f1:
            best, best_f1 = float(threshold), f1
    return round(best, 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train MuDaR and write the mudar companion.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pairs", type=int, default=48, help="Training song-dance pairs.")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--pathway", choices=("both", "implicit"), default="both",
                        help="implicit: train the two encoders only (lambda_2 = 0) and keep "
                        "the companion's rhythm graph and threshold.")  # fmt: skip
    parser.add_argument(
        "--negatives",
        choices=("batch", "sampled"),
        default="batch",
        help="AVC negatives: every allowed one in the batch, or one sampled.",
    )
    parser.add_argument("--motion-width", type=int, default=64)
    parser.add_argument("--hop", type=int, default=60, help="Frames between training windows.")
    parser.add_argument("--library", default="phrase_library")
    parser.add_argument("--bundle", default="bundles/default")
    parser.add_argument("--cache", default=None, help="An .npz to keep the generated pairs in.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--checkpoint", default=None, help="Also save the torch weights here (after every epoch)."
    )
    parser.add_argument(
        "--from-checkpoint", default=None, help="Export these torch weights instead of training."
    )
    args = parser.parse_args(argv)
    from musicdance.companions import register_companion
    from musicdance.corpus.mudar import make_pairs
    from musicdance.motion.canonical import CANONICAL_JOINTS

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    pairs = make_pairs(
        args.pairs,
        seed=args.seed,
        library_path=args.library,
        cache=args.cache,
        progress=lambda i, n: print(f"pair {i}/{n}", end="\r", flush=True),
    )
    print(f"{len(pairs)} pairs in {time.perf_counter() - t0:.0f} s")
    implicit = args.pathway == "implicit"
    history: list[dict] = []
    if args.from_checkpoint:
        model = Mudar(skeleton_adjacency(CANONICAL_JOINTS), args.motion_width)
        model.load_state_dict(torch.load(args.from_checkpoint))
        recalibrate_batch_norms(model, Windows(pairs))  # a checkpoint saved mid-training
        model.eval()
    else:

        def save(_epoch: int, trained: Mudar) -> None:
            if args.checkpoint:
                torch.save(trained.state_dict(), args.checkpoint)

        model, history = train(pairs, seed=args.seed, epochs=args.epochs,
                               negatives=args.negatives, motion_width=args.motion_width,
                               hop=args.hop,
                               lambdas=(1.0, 0.0) if implicit else (1.0, 1.0),
                               on_epoch=save)  # fmt: skip
        save(args.epochs, model)
    folder = Path(args.bundle) / "mudar"
    record = {"command": " ".join(["python -m musicdance.train.mudar",
                                   *(sys.argv[1:] if argv is None else argv)]),
              "seed": args.seed, "pairs": args.pairs, "epochs": args.epochs,
              "negatives": args.negatives, "motion_width": args.motion_width, "hop": args.hop,
              "final": history[-1] if history else None}  # fmt: skip
    if implicit:
        kept = json.loads((folder / "manifest.json").read_text())
        extra = {
            "rhythm_threshold": kept["rhythm_threshold"],
            "hybrid_lambda": 0.5,
            "training": {
                **record,
                "pathway": "implicit",
                "rhythm_from": kept["training"].get("rhythm_from", kept["training"]),
            },
        }
        threshold = kept["rhythm_threshold"]
        graphs: tuple[str, ...] = ("audio_encoder", "motion_encoder")
    else:
        threshold = choose_threshold(model, pairs)
        extra = {"rhythm_threshold": threshold, "hybrid_lambda": 0.5, "training": record}
        graphs = GRAPHS
    parity = export_companion(model, folder, extra, graphs)
    register_companion(args.bundle, "mudar")
    print(json.dumps({"threshold": threshold, "parity_max_abs": parity,
                      "seconds": round(time.perf_counter() - t0, 1)}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
