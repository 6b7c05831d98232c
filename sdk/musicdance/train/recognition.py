"""Training, evaluation and export of the dance-to-music seeds (000 MCLEMCD, 003 BiLSTM-BiGRU)
on the stand-in data of :mod:`musicdance.recognize.dataset`.

MCLEMCD schedule (the paper's, epochs reduced): Adam 5e-4, batch 72; ``epochs_separate``
epochs with the motion encoder (eq. 1) and the music auto-encoders (eq. 2; plain and dropout)
trained separately, then ``epochs_joint`` more epochs along five branches that all start from
that state: ``separate`` (the same separate losses), ``cl`` (eqs. 1-4), ``cl-dropout`` (eqs.
1-4 with the dropout music encoder) and ``cl-fc`` (eqs. 1-4 through the FC mapping network).
Without collaborative learning the music encoder never reaches the motion classifier, so the
paper's "without CL, MCLEMCD-Dropout" row is the ``separate`` motion model by construction.
Feature configurations: joints, limbs, both (early fusion); late fusion averages the joints'
and the limbs' probabilities.

BiLSTM-BiGRU: RMSprop 1e-3, sparse cross-entropy, batch 32, on 8-s segment summaries
(standardised, :data:`STD_FLOOR`), at any width (Fig. 4 and shipped: 256), keeping the weights
of the epoch with the best validation accuracy.
"""

from __future__ import annotations

import copy
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.recognize import features as F
from musicdance.recognize.dataset import STYLE_GENRES, Piece
from musicdance.recognize.metrics import (
    confusion,
    cross_entropy,
    majority_votes,
    piece_accuracy,
    weighted_f1,
)
from musicdance.train.bilstm import WIDTH, BiLstmBiGru
from musicdance.train.export import IR_VERSION, OPSET, SENTIS_OPERATORS, operator_types
from musicdance.train.mclemcd import (
    MUSIC_DROPOUT,
    FcMapping,
    MotionEncoder,
    MusicAutoEncoder,
    collaborative_losses,
)
from musicdance.train.sentis import (
    ORT_RECURRENT_OPERATORS,
    write_sentis_graph,
)

__all__ = [
    "BRANCHES",
    "MclemcdData",
    "bilstm_arrays",
    "evaluate_bilstm",
    "input_checks",
    "evaluate_mclemcd",
    "export_companion",
    "mclemcd_arrays",
    "train_bilstm",
    "train_mclemcd",
]

BRANCHES = ("separate", "cl", "cl-dropout", "cl-fc")
MCLEMCD_BATCH = 72
MCLEMCD_LR = 5e-4
BILSTM_BATCH = 32
BILSTM_LR = 1e-3
#: The external-data file both BiLSTM-BiGRU graphs (onnxruntime's, Sentis') read their weights
#: from (Sentis imports an external weights file that sits beside the model).
BILSTM_WEIGHTS = "bilstm_weights.bin"
#: Floor of the summaries' standard deviations. Four pose features do not vary at all (a
#: forearm's length and its spread): with the first floor, 1e-6, their float rounding (1e-7
#: when the dancer stands elsewhere) reached the network as 0.1 standard deviations and moved
#: its probabilities by 1e-3; at 1e-3 it stays at 1e-4.
STD_FLOOR = 1e-3


def _log(progress: Callable[[str], None] | None, text: str) -> None:
    if progress:
        progress(text)


# -- MCLEMCD -----------------------------------------------------------------------------------


@dataclass
class MclemcdData:
    """Windows of every piece: motion ``[W, 6, 25, 22]`` (joints then limbs, unscaled), MFCC
    ``[W, 1, 96, 25]`` (unscaled), label ``[W]``, piece index ``[W]``, split name ``[W]``."""

    motion: np.ndarray
    mfcc: np.ndarray
    label: np.ndarray
    piece: np.ndarray
    split: np.ndarray
    styles: list[str]

    def rows(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)


def mclemcd_arrays(pieces: list[Piece], styles: list[str]) -> MclemcdData:
    """Non-overlapping 25-frame windows of every piece (see :mod:`recognize.features`)."""
    motion, mfcc, label, piece, split = [], [], [], [], []
    for index, p in enumerate(pieces):
        windows, starts = F.motion_windows(p.positions_m, "both")
        motion.append(windows)
        mfcc.append(F.mfcc_windows(p.mfcc, starts))
        label += [styles.index(p.style)] * len(starts)
        piece += [index] * len(starts)
        split += [p.split] * len(starts)
    return MclemcdData(
        np.concatenate(motion),
        np.concatenate(mfcc),
        np.array(label),
        np.array(piece),
        np.array(split),
        list(styles),
    )


def channel_range(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (minimum, maximum) over every other axis, float32."""
    other = tuple(i for i in range(x.ndim) if i != axis)
    return x.min(axis=other).astype(np.float32), x.max(axis=other).astype(np.float32)


def input_checks(data: MclemcdData, scales: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """What the models are fed, per split: windows per class, and per scaled input (joints,
    limbs, MFCC with the training minima and maxima) its range and the share outside [0, 1]."""
    out: dict[str, dict] = {}
    for split in ("train", "val", "test"):
        rows = data.rows(split)
        row: dict[str, Any] = {"windows_per_class": np.bincount(
            data.label[rows], minlength=len(data.styles)).tolist()}  # fmt: skip
        inputs = {f: (data.motion[rows][:, channels_of(f)], 1) for f in ("joints", "limbs")}
        inputs["mfcc"] = (data.mfcc[rows], 2)
        for name, (x, axis) in inputs.items():
            scaled = F.scale_unit(x, *scales[name], axis=axis)
            row[name] = {
                "min": round(float(scaled.min()), 4),
                "max": round(float(scaled.max()), 4),
                "outside_0_1": round(float(((scaled < 0) | (scaled > 1)).mean()), 6),
            }
        out[split] = row
    return out


def channels_of(features: str) -> slice:
    """Channels of ``features`` in the windows of :class:`MclemcdData` (joints, limbs, both)."""
    return {"joints": slice(0, 3), "limbs": slice(3, 6), "both": slice(0, 6)}[features]


@dataclass
class MclemcdModels:
    """One trained branch: motion encoder, music auto-encoder, mapping (``cl-fc`` only)."""

    motion: MotionEncoder
    music: MusicAutoEncoder
    mapping: FcMapping | None
    history: list[dict[str, float]]


def _batches(n: int, size: int, rng: np.random.Generator, cap: int | None):
    order = rng.permutation(n)
    if cap is not None:
        order = order[:cap]
    return [order[i : i + size] for i in range(0, len(order), size)]


def train_mclemcd(
    data: MclemcdData,
    features: str,
    *,
    scales: dict[str, tuple[np.ndarray, np.ndarray]],
    epochs_separate: int,
    epochs_joint: int,
    seed: int = 0,
    windows_per_epoch: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, MclemcdModels], dict[str, float]]:
    """Train the separate phase then every branch of :data:`BRANCHES` for one feature
    configuration; returns the branches and the seconds per epoch of each phase."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    rows = data.rows("train")
    cut = channels_of(features)
    lo, hi = scales[features]
    x_all = torch.from_numpy(F.scale_unit(data.motion[rows][:, cut], lo, hi, axis=1))
    a_all = torch.from_numpy(F.scale_unit(data.mfcc[rows], *scales["mfcc"], axis=2))
    y_all = torch.from_numpy(data.label[rows]).long()
    classes = len(data.styles)
    motion = MotionEncoder(x_all.shape[1], classes)
    music = MusicAutoEncoder(0.0)
    music_drop = MusicAutoEncoder(MUSIC_DROPOUT)
    timing: dict[str, float] = {}

    def run(models, *, collaborative, mapping, epochs, tag, history, optimisers=None):
        params = [p for m in models for p in m.parameters()]
        if mapping is not None:
            params += list(mapping.parameters())
        opt = torch.optim.Adam(params, lr=MCLEMCD_LR)
        motion_m, music_m = models[0], models[1]
        for epoch in range(epochs):
            for m in models:
                m.train()
            started = time.perf_counter()
            sums: dict[str, float] = {}
            batches = _batches(len(rows), MCLEMCD_BATCH, rng, windows_per_epoch)
            for batch in batches:
                x, a, y = x_all[batch], a_all[batch], y_all[batch]
                losses = collaborative_losses(
                    motion_m, music_m, x, a, y, collaborative=collaborative, mapping=mapping
                )
                total = losses["total"]
                for extra in models[2:]:  # the dropout auto-encoder of the separate phase
                    recon, _ = extra(a)
                    extra_loss = nn.functional.mse_loss(recon, a)
                    total = total + extra_loss
                    sums["music_dropout"] = sums.get("music_dropout", 0.0) + float(extra_loss)
                opt.zero_grad()
                total.backward()
                opt.step()
                for key, value in losses.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach())
            seconds = time.perf_counter() - started
            record = {k: v / len(batches) for k, v in sums.items()}
            record.update(epoch=len(history) + 1, seconds=seconds, phase=tag)
            history.append(record)
            timing.setdefault(tag, seconds)
            _log(
                progress,
                f"mclemcd {features} {tag} epoch {epoch + 1}/{epochs} "
                f"loss {record['total']:.4f} ({seconds:.1f} s)",
            )

    history: list[dict] = []
    run(
        [motion, music, music_drop],
        collaborative=False,
        mapping=None,
        epochs=epochs_separate,
        tag="separate-phase",
        history=history,
    )
    branches: dict[str, MclemcdModels] = {}
    for branch in BRANCHES:
        torch.manual_seed(seed + 1)
        m = copy.deepcopy(motion)
        mu = copy.deepcopy(music_drop if branch == "cl-dropout" else music)
        mapping = FcMapping() if branch == "cl-fc" else None
        h = list(history)
        run(
            [m, mu],
            collaborative=branch != "separate",
            mapping=mapping,
            epochs=epochs_joint,
            tag=branch,
            history=h,
        )
        branches[branch] = MclemcdModels(m.eval(), mu.eval(), mapping, h)
    return branches, timing


@torch.no_grad()
def mclemcd_probabilities(
    models: MclemcdModels, x: np.ndarray, batch: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Motion class probabilities ``[W, K]`` and Z_m ``[W, 256]`` of scaled windows."""
    models.motion.eval()
    probs, zs = [], []
    for i in range(0, len(x), batch):
        logits, z = models.motion(torch.from_numpy(x[i : i + batch]))
        probs.append(torch.softmax(logits, -1).numpy())
        zs.append(z.numpy())
    return np.concatenate(probs), np.concatenate(zs)


@torch.no_grad()
def music_probabilities(models: MclemcdModels, a: np.ndarray, batch: int = 512) -> np.ndarray:
    """Class probabilities of scaled MFCC windows through Z_a and the motion classifier (the
    shared space of eq. 3), ``[W, K]``."""
    models.music.eval()
    out = []
    for i in range(0, len(a), batch):
        z = models.music.encode(torch.from_numpy(a[i : i + batch]))
        out.append(torch.softmax(models.motion.classifier(z), -1).numpy())
    return np.concatenate(out)


def summarise(probs: np.ndarray, label: np.ndarray, piece: np.ndarray, classes: int) -> dict:
    """Per-segment and per-piece accuracy, weighted F1, cross-entropy, confusion matrices
    (per segment and per piece)."""
    pred = probs.argmax(1)
    piece_acc, pieces = piece_accuracy(pred, label, piece, classes)
    votes = majority_votes(pred, piece, classes)
    truth = [int(label[piece == g][0]) for g in votes]
    return {
        "piece_confusion": confusion(truth, list(votes.values()), classes).tolist(),
        "segment_accuracy": float((pred == label).mean()),
        "piece_accuracy": piece_acc,
        "segments": int(len(label)),
        "pieces": pieces,
        "weighted_f1": weighted_f1(label, pred, classes),
        "cross_entropy": cross_entropy(probs, label),
        "confusion": confusion(label, pred, classes).tolist(),
    }


def evaluate_mclemcd(
    data: MclemcdData,
    trained: dict[str, dict[str, MclemcdModels]],
    scales: dict[str, tuple[np.ndarray, np.ndarray]],
    split: str = "test",
) -> dict[str, dict[str, dict]]:
    """Table 3 of the paper on ``split``: {branch: {experiment: metrics}} for experiments
    joints, limbs, late-fusion and both, plus ``songs`` (class of the song's MFCC windows)."""
    rows = data.rows(split)
    label, piece, classes = data.label[rows], data.piece[rows], len(data.styles)
    a = F.scale_unit(data.mfcc[rows], *scales["mfcc"], axis=2)
    table: dict[str, dict[str, dict]] = {}
    for branch in BRANCHES:
        probs = {}
        out: dict[str, dict] = {}
        for features, models in trained.items():
            x = F.scale_unit(data.motion[rows][:, channels_of(features)], *scales[features], axis=1)
            probs[features] = mclemcd_probabilities(models[branch], x)[0]
            out[features] = summarise(probs[features], label, piece, classes)
            if branch != "cl-fc":
                out[f"{features}-songs"] = summarise(
                    music_probabilities(models[branch], a), label, piece, classes
                )
        if "joints" in probs and "limbs" in probs:
            out["late-fusion"] = summarise(
                (probs["joints"] + probs["limbs"]) / 2, label, piece, classes
            )
        table[branch] = out
    return table


# -- BiLSTM-BiGRU ------------------------------------------------------------------------------


def bilstm_arrays(pieces: list[Piece], styles: list[str]) -> dict[str, np.ndarray]:
    """8-s segment summaries of every piece: ``pose`` ``[S, 130]``, ``paper`` ``[S, 130]``,
    ``label``, ``piece``, ``split``."""
    pose, paper, label, piece, split = [], [], [], [], []
    for index, p in enumerate(pieces):
        starts = F.segment_starts(len(p.positions_m))
        pose.append(F.pose_summary(p.positions_m, starts))
        paper.append(F.paper_summary(p.positions_m, p.log_mel_db, starts))
        label += [styles.index(p.style)] * len(starts)
        piece += [index] * len(starts)
        split += [p.split] * len(starts)
    return {
        "pose": np.concatenate(pose),
        "paper": np.concatenate(paper),
        "label": np.array(label),
        "piece": np.array(piece),
        "split": np.array(split),
    }


def standardiser(
    x: np.ndarray, floor: float = STD_FLOOR
) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation (floored at ``floor``), float32."""
    return x.mean(0).astype(np.float32), np.maximum(x.std(0), floor).astype(np.float32)


def train_bilstm(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    *,
    architecture: str = "bilstm-bigru",
    width: int = WIDTH,
    epochs: int,
    seed: int = 0,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[BiLstmBiGru, list[dict]]:
    """RMSprop 1e-3, sparse cross-entropy, batch 32 on standardised summaries ``x [S, 130]``
    (``width``: every layer's width, Fig. 4's is 256). With ``val`` (summaries, labels) the
    returned weights are those of the epoch with the best validation accuracy (the earliest
    on ties), recorded per epoch in the history."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = BiLstmBiGru(classes, architecture, width)
    opt = torch.optim.RMSprop(model.parameters(), lr=BILSTM_LR)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y).long()
    history: list[dict] = []
    best, best_state = -1.0, None
    for epoch in range(epochs):
        model.train()
        started, total, n = time.perf_counter(), 0.0, 0
        for batch in _batches(len(x), BILSTM_BATCH, rng, None):
            loss = nn.functional.cross_entropy(model(xt[batch]), yt[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, n = total + float(loss.detach()) * len(batch), n + len(batch)
        seconds = time.perf_counter() - started
        record = {"epoch": epoch + 1, "loss": total / n, "seconds": seconds}
        if val is not None:
            record["val_accuracy"] = float((bilstm_outputs(model, val[0])[0].argmax(1)
                                            == val[1]).mean())  # fmt: skip
            if record["val_accuracy"] > best:
                best, best_state = record["val_accuracy"], copy.deepcopy(model.state_dict())
        history.append(record)
        _log(
            progress,
            f"{architecture} w{width} epoch {epoch + 1}/{epochs} loss {total / n:.4f} "
            + (f"val {record['val_accuracy']:.3f} " if val is not None else "")
            + f"({seconds:.1f} s)",
        )
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval(), history


@torch.no_grad()
def bilstm_outputs(model: BiLstmBiGru, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities ``[S, K]`` and Dense features ``[S, width]``."""
    model.eval()
    xt = torch.from_numpy(x.astype(np.float32))
    features = model.features(xt)
    return torch.softmax(model.out(features), -1).numpy(), features.numpy()


def evaluate_bilstm(model, arrays, x: np.ndarray, split: str, classes: int) -> dict:
    """Metrics on ``split`` plus the paper's cosine-kNN: the share of segments whose most
    similar other-piece segment (cosine of the Dense-256 features) has the same style."""
    rows = np.flatnonzero(arrays["split"] == split)
    probs, feats = bilstm_outputs(model, x[rows])
    label, piece = arrays["label"][rows], arrays["piece"][rows]
    result = summarise(probs, label, piece, classes)
    unit = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-9)
    sim = unit @ unit.T
    sim[piece[:, None] == piece[None, :]] = -np.inf
    nearest = sim.argmax(1)
    result["knn_same_style"] = float((label[nearest] == label).mean())
    return result


# -- ONNX export -------------------------------------------------------------------------------


class _MotionGraph(nn.Module):
    def __init__(self, encoder: MotionEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, motion: torch.Tensor):
        logits, z = self.encoder(motion)
        return torch.softmax(logits, -1), z


class _MusicGraph(nn.Module):
    def __init__(self, music: MusicAutoEncoder, classifier: nn.Linear) -> None:
        super().__init__()
        self.music, self.classifier = music, classifier

    def forward(self, mfcc: torch.Tensor):
        z = self.music.encode(mfcc)
        return torch.softmax(self.classifier(z), -1), z


class _BilstmGraph(nn.Module):
    def __init__(self, model: BiLstmBiGru) -> None:
        super().__init__()
        self.model = model

    def forward(self, summary: torch.Tensor):
        features = self.model.features(summary)
        return torch.softmax(self.model.out(features), -1), features


def _half_weights(model: onnx.ModelProto, min_elements: int = 16) -> onnx.ModelProto:
    """Weights stored as float16, each followed by a Cast to float32 (the values must already
    be float16-exact: the module was rounded before export)."""
    from onnx import TensorProto, helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits, casts = [], []
    for tensor in out.graph.initializer:
        values = numpy_helper.to_array(tensor)
        if tensor.data_type != TensorProto.FLOAT or values.size < min_elements:
            inits.append(tensor)
            continue
        half = values.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), values):
            raise MusicDanceError(f"weight {tensor.name} is not float16-exact")
        inits.append(numpy_helper.from_array(half, f"{tensor.name}__fp16"))
        casts.append(
            helper.make_node(
                "Cast",
                [f"{tensor.name}__fp16"],
                [tensor.name],
                to=TensorProto.FLOAT,
                name=f"{tensor.name}__cast",
            )
        )
    nodes = casts + list(out.graph.node)
    del out.graph.initializer[:]
    out.graph.initializer.extend(inits)
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def export_onnx(
    module: nn.Module,
    example: torch.Tensor,
    input_name: str,
    output_names: tuple[str, ...],
    path: Path,
    allowed: frozenset[str] | set[str],
    *,
    float16: bool = False,
    dynamo: bool = True,
) -> dict[str, Any]:
    """Export ``module`` (eval, dynamic batch, opset :data:`OPSET`, IR :data:`IR_VERSION`),
    check it (onnx.checker, operators within ``allowed``), write it atomically and measure
    parity against torch on ``example``; returns {operators, parity, bytes}."""
    import logging
    import warnings

    from musicdance.companions import onnx_session

    module = module.eval()
    if float16:
        from musicdance.train.export import round_to_float16

        round_to_float16(module)
    previous = logging.getLogger("torch.onnx").level
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                program = torch.onnx.export(
                    module,
                    (example,),
                    dynamo=True,
                    opset_version=OPSET,
                    input_names=[input_name],
                    output_names=list(output_names),
                    dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
                    optimize=True,
                    verbose=False,
                )
                model = program.model_proto
            else:  # the TorchScript exporter: minutes faster on unrolled graphs
                buffer = io.BytesIO()
                torch.onnx.export(
                    module,
                    (example,),
                    buffer,
                    dynamo=False,
                    opset_version=OPSET,
                    input_names=[input_name],
                    output_names=list(output_names),
                    dynamic_axes={n: {0: "batch"} for n in (input_name, *output_names)},
                )
                model = onnx.load_from_string(buffer.getvalue())
    finally:
        logging.getLogger("torch.onnx").setLevel(previous)
    model.ir_version = min(model.ir_version, IR_VERSION)
    if float16:
        model = _half_weights(model)
    onnx.checker.check_model(model, full_check=True)
    ops = operator_types(model)
    unlisted = sorted(set(ops) - set(allowed))
    if unlisted:
        raise MusicDanceError(f"{path.name}: operators {unlisted} are not allowed here")
    with atomic_write(path, "wb") as handle:
        handle.write(model.SerializeToString())
    session = onnx_session(path)
    got = session.run(None, {input_name: example.numpy()})
    with torch.no_grad():
        want = module(example)
    want = want if isinstance(want, tuple) else (want,)
    parity = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True))
    return {"operators": ops, "parity": parity, "bytes": path.stat().st_size}


def export_companion(
    folder: str | os.PathLike[str],
    *,
    motion_models: dict[str, MclemcdModels],
    bilstm: BiLstmBiGru,
    scales: dict[str, tuple[np.ndarray, np.ndarray]],
    bilstm_scale: tuple[np.ndarray, np.ndarray],
    styles: list[str],
    record: dict[str, Any],
    seed: int = 0,
) -> Path:
    """Write the ``dance-music`` companion: MCLEMCD motion graphs (joints, limbs: late fusion)
    and music graphs, the BiLSTM-BiGRU for onnxruntime (GRU operator) and for Unity Sentis (its
    BiGRU unrolled, checked within 1e-5 of the GRU graph), the two reading one float16 weights
    file (:data:`BILSTM_WEIGHTS`), the scales and labels in the manifest; returns the manifest
    path."""
    from musicdance.companions import onnx_session, write_companion

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    graphs, checks = {}, {}
    for features, models in motion_models.items():
        channels = models.motion.data_bn.num_features
        example = torch.rand(2, channels, F.WINDOW_FRAMES, F.NUM_JOINTS, generator=generator)
        name = f"motion_{features}.onnx"
        checks[name] = export_onnx(
            _MotionGraph(models.motion),
            example,
            "motion",
            ("probabilities", "embedding"),
            root / name,
            SENTIS_OPERATORS,
        )
        graphs[f"motion_{features}"] = name
        example = torch.rand(2, 1, F.MFCC_BANDS, F.WINDOW_FRAMES, generator=generator)
        name = f"music_{features}.onnx"
        checks[name] = export_onnx(
            _MusicGraph(models.music, models.motion.classifier),
            example,
            "mfcc",
            ("probabilities", "embedding"),
            root / name,
            SENTIS_OPERATORS,
        )
        graphs[f"music_{features}"] = name
    example = torch.randn(2, F.SUMMARY_LENGTH, generator=generator)
    module = _BilstmGraph(bilstm)
    export_onnx(module, example, "summary", ("probabilities", "features"),
                root / "bilstm_bigru.onnx", ORT_RECURRENT_OPERATORS, float16=True,
                dynamo=False)  # fmt: skip
    sentis = write_sentis_graph(root / "bilstm_bigru.onnx", root / "bilstm_sentis.onnx",
                                seed=seed, weights=BILSTM_WEIGHTS)  # fmt: skip
    graphs["bilstm"], graphs["bilstm_sentis"] = "bilstm_bigru.onnx", "bilstm_sentis.onnx"
    operators = {
        "bilstm_bigru.onnx": operator_types(onnx.load(os.fspath(root / "bilstm_bigru.onnx"),
                                                      load_external_data=False)),
        "bilstm_sentis.onnx": sentis["operators"],
    }  # fmt: skip
    with torch.no_grad():  # both written graphs against torch (the module rounded to float16)
        want = module(example)
    for name, ops in operators.items():
        got = onnx_session(root / name).run(None, {"summary": example.numpy()})
        parity = max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True))
        checks[name] = {"operators": ops, "parity": parity, "bytes": (root / name).stat().st_size}
    checks["bilstm_sentis.onnx"]["parity_to_gru_graph"] = sentis["parity"]
    checks[BILSTM_WEIGHTS] = {"bytes": sentis["weights"]["bytes"],
                              "read_by": ["bilstm_bigru.onnx", "bilstm_sentis.onnx"]}  # fmt: skip

    def listed(values):
        return [round(float(v), 6) for v in np.asarray(values).ravel()]

    manifest = {
        "name": "dance-music",
        "task": "dance-style-recommendation",
        "graphs": graphs,
        "labels": list(styles),
        "genres": {s: STYLE_GENRES.get(s, "") for s in styles},
        "opset": OPSET,
        "ir_version": IR_VERSION,
        "features": {
            "fps": F.FPS,
            "window_frames": F.WINDOW_FRAMES,
            "mfcc_bands": F.MFCC_BANDS,
            "sr_hz": F.SR_HZ,
            "hop_length": F.HOP_LENGTH,
            "segment_s": F.SEGMENT_S,
            "summary_length": F.SUMMARY_LENGTH,
        },
        "scales": {
            **{f: {"lo": listed(scales[f][0]), "hi": listed(scales[f][1])} for f in motion_models},
            "mfcc": {"lo": listed(scales["mfcc"][0]), "hi": listed(scales["mfcc"][1])},
            "bilstm": {"mean": listed(bilstm_scale[0]), "std": listed(bilstm_scale[1])},
        },
        "runtime_graphs": {
            "onnxruntime": "bilstm (GRU operator) and motion_*/music_* (MCLEMCD, late fusion)",
            "sentis": "bilstm_sentis: the same network with its BiGRU unrolled into "
            "MatMul/Sigmoid/Tanh/Mul/Add/Sub (LSTM kept: Sentis imports LSTM); "
            "motion_*/music_* as shipped",
        },
        "data": [BILSTM_WEIGHTS],
        "shared_weights": {BILSTM_WEIGHTS: ["bilstm", "bilstm_sentis"]},
        "checks": checks,
        "training": record,
    }
    for stale in [*root.glob("*.onnx"), *root.glob("*.bin")]:  # files an earlier export had
        if stale.name not in {*graphs.values(), BILSTM_WEIGHTS}:
            stale.unlink()
    return write_companion(root, manifest)


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON atomically."""
    with atomic_write(path, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
