"""Fine-tuning the predictor on the curators' recorded edits (``mdtool train finetune --labels
edits``).

The labels are the rows of the library's ``edits`` table (:mod:`musicdance.library.edits`):
each is a slot's phrase model input and the phrase a curator put there. The model starts from
a bundle (by default the shipped one; its float16 graph is read back into torch by
:func:`networks_from_bundle`) or from a fine-tuned / co-ascent checkpoint. As in eq. 5 the
encoder E is frozen and only the predictor T learns, with two changes for a few hundred labels:

- the cross-entropy of an edit is taken over the phrases the curator chose among (the edit's
  style, in the slot's meter), so T is not pushed away from the other styles;
- after every step T's weights move a fraction ``anchor`` of the way back to where they
  started (a decoupled L2 pull, "L2-SP"), which keeps what T knew where the edits say nothing;
- a context head learns beside T (``context=True``, the default): a ``[K, C]`` matrix whose
  product with the slot's place in the song's structure (``Edit.slot_context``,
  :mod:`musicdance.choreo.context`: section label repeats, how loud the slot and its
  label are within the song) is added to T's logits. One slot's log-mel does not tell a
  chorus from a verse across songs; this says which part of the song the slot is in. It
  starts at zero, learns at ten times T's rate without the pull back, and ships in the bundle
  as ``context_head.npy``; edits recorded without a context (before schema version 4) read
  as zeros.

The result is a checkpoint (stage ``finetune``, settings ``labels: edits``) and, through
:func:`musicdance.train.bundle_export.export_bundle`, a new bundle carrying the starting
bundle's or checkpoint's transition matrix.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from musicdance.bundle import MANIFEST_NAME, open_bundle
from musicdance.choreo.context import CONTEXT_NAMES
from musicdance.errors import MusicDanceError
from musicdance.library.edits import Edit, list_edits
from musicdance.library.fingerprint import library_fingerprint
from musicdance.model_config import ModelConfig
from musicdance.train.checkpoints import (
    checkpoint_payload,
    load_checkpoint,
    networks_from_checkpoint,
    save_checkpoint,
)
from musicdance.train.common import TrainingProgress, embed, report_progress, seed_everything
from musicdance.train.export import conv_norm_pairs, fold_batch_norms
from musicdance.train.networks import Networks

__all__ = [
    "EditLabels",
    "edit_labels",
    "finetune_on_edits",
    "fit_predictor",
    "networks_from_bundle",
]

_TRAINED = ("encoder.", "predictor.")
#: The context head's learning rate over T's: it starts from zero and has a few hundred steps.
HEAD_LR_SCALE = 50.0


def networks_from_bundle(path) -> tuple[Networks, np.ndarray]:
    """The torch networks of a bundle's probabilities graph and its transition matrix.

    The graph holds the encoder and predictor with every batch norm folded into its
    convolution (``bundle_export.released_networks``); each comes back as the convolution's
    folded weight followed by an identity batch norm (unit scale, zero mean, unit variance)
    carrying the folded bias, so the networks compute the graph's function and save as a
    normal checkpoint. The decoders are not in the graph and keep fresh weights.
    """
    import onnx
    from onnx import numpy_helper

    bundle = open_bundle(path, load_session=False)
    graph = onnx.load(str(bundle.path / bundle.manifest["graphs"]["probabilities"]))
    weights = {
        t.name.removesuffix("__fp16"): torch.from_numpy(
            numpy_helper.to_array(t).astype(np.float32)
        )
        for t in graph.graph.initializer
    }
    networks = Networks(ModelConfig.from_dict(bundle.manifest["model"])).eval()
    folded = fold_batch_norms(copy.deepcopy(networks))
    wanted = {k: v for k, v in folded.state_dict().items() if k.startswith(_TRAINED)}
    missing = [k for k, v in wanted.items() if k not in weights or weights[k].shape != v.shape]
    if missing:
        raise MusicDanceError(
            f"the bundle's graph does not hold its model's weights ({len(missing)} missing or "
            f"misshapen, e.g. {missing[0]}): made by another mdtool?",
            bundle.path,
        )
    folded.load_state_dict({k: weights[k] for k in wanted}, strict=False)
    state = networks.state_dict()
    state.update({k: v for k, v in folded.state_dict().items() if k in state and k in wanted})
    networks.load_state_dict(state)
    with torch.no_grad():
        for parent_name, conv_name, norm_name in conv_norm_pairs(networks):
            if not parent_name.startswith(_TRAINED):
                continue
            parent = networks.get_submodule(parent_name)
            conv, norm = getattr(parent, conv_name), getattr(parent, norm_name)
            key = f"{parent_name}.{conv_name}"
            conv.weight.copy_(weights[f"{key}.weight"])
            if conv.bias is not None:
                conv.bias.zero_()
            norm.weight.fill_(1.0)
            norm.bias.copy_(weights[f"{key}.bias"])
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
    return networks, bundle.transition.astype(np.float32)


class EditLabels:
    """The usable edits as training arrays: ``mel [N, 128, 128]``, ``labels [N]`` (class
    indices), ``allowed [N, K]`` (the phrases each curator chose among) and ``context [N, C]``
    (the slots' structure context, zeros where an edit has none)."""

    def __init__(self, mel: np.ndarray, labels: np.ndarray, allowed: np.ndarray, skipped: int,
                 context: np.ndarray | None = None):  # fmt: skip
        self.mel, self.labels, self.allowed, self.skipped = mel, labels, allowed, skipped
        width = len(CONTEXT_NAMES)
        self.context = np.zeros((len(labels), width), np.float32) if context is None else context

    def __len__(self) -> int:
        return len(self.labels)


def edit_labels(edits: list[Edit], infos, phrase_ids: list[str]) -> EditLabels:
    """Training arrays of ``edits`` (with model inputs) for classes ``phrase_ids``; edits
    without a model input or naming a phrase the model does not know are skipped."""
    column = {p: k for k, p in enumerate(phrase_ids)}
    style = np.array([i.style for i in infos])
    three = np.array([i.meter == 3 for i in infos])
    info_columns = np.array([column.get(i.id, -1) for i in infos])
    mels, labels, allowed, contexts = [], [], [], []
    width = len(CONTEXT_NAMES)
    for edit in edits:
        if edit.model_input is None or edit.chosen_id not in column:
            continue
        meter3 = int(edit.slot_features.get("meter", 4)) == 3
        mask = np.zeros(len(phrase_ids), bool)
        rows = (style == edit.style) & (three == meter3) & (info_columns >= 0)
        mask[info_columns[rows]] = True
        mask[column[edit.chosen_id]] = True
        mels.append(edit.model_input)
        labels.append(column[edit.chosen_id])
        allowed.append(mask)
        known = edit.slot_context is not None and len(edit.slot_context) == width
        contexts.append(edit.slot_context if known else [0.0] * width)
    size = edits[0].model_input.shape if mels else (128, 128)
    return EditLabels(
        np.stack(mels) if mels else np.zeros((0, *size), np.float32),
        np.array(labels, np.int64),
        np.stack(allowed) if allowed else np.zeros((0, len(phrase_ids)), bool),
        len(edits) - len(mels),
        np.array(contexts, np.float32).reshape(len(mels), width),
    )


def _start(init, library) -> tuple[Networks, np.ndarray | None, str, list[str]]:
    """``(networks, transition, kind, phrase ids)`` from a bundle folder or a checkpoint."""
    source = Path(init)
    if source.is_dir() or (source / MANIFEST_NAME).exists():
        bundle = open_bundle(source, library=library, load_session=False)
        networks, transition = networks_from_bundle(source)
        return networks, transition, "bundle", bundle.phrase_ids
    loaded = load_checkpoint(source, stages=("finetune", "coascent"))
    ids = list(loaded.get("phrase_ids") or [])
    if ids != library.ids():
        raise MusicDanceError(
            f"the checkpoint's {len(ids)} phrase classes are not this library's "
            f"{len(library.ids())} (trained for another library?)",
            source,
        )
    transition = loaded.get("transition")
    matrix = None if transition is None else transition.numpy().astype(np.float32)
    return networks_from_checkpoint(loaded), matrix, "checkpoint", ids


def _masked_loss(logits: torch.Tensor, labels: torch.Tensor, allowed: torch.Tensor):
    """Cross-entropy over each row's allowed classes only."""
    return F.cross_entropy(logits.masked_fill(~allowed, -1e9), labels)


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _logits(predictor, head, u: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
    """T's logits, plus the context head's offsets where there is one."""
    logits = predictor(u)
    return logits if head is None or context is None else logits + head(context)


def _top1(predictor, u, labels, allowed, head=None, context=None) -> float:
    """Share of rows whose best allowed class is the label."""
    predictor.eval()
    with torch.no_grad():
        logits = _logits(predictor, head, u, context).masked_fill(~allowed, -1e9)
    return float((logits.argmax(dim=1) == labels).float().mean())


def fit_predictor(
    predictor, u: torch.Tensor, labels: torch.Tensor, allowed: torch.Tensor, *,
    epochs: int, batch_size: int, lr: float, anchor: float, seed: int,
    progress: TrainingProgress | None = None, head=None, context: torch.Tensor | None = None,
) -> tuple[float, float, list[dict[str, Any]]]:  # fmt: skip
    """Train T on embeddings ``u [N, D]`` with class ``labels [N]`` chosen among ``allowed
    [N, K]`` (masked cross-entropy, Adam, the decoupled pull back by ``anchor`` after each
    step); with a context ``head`` (``[C] -> [K]``, no bias) and ``context [N, C]`` the head
    learns beside T, at ``HEAD_LR_SCALE`` times the rate and without the pull back. Returns
    the top-1 on them before and after, and the loss per epoch."""
    params = list(predictor.parameters())
    start_weights = [p.detach().clone() for p in params]
    groups = [{"params": params, "lr": lr}]
    if head is not None:  # starts at zero, learns faster and is not pulled back
        groups.append({"params": list(head.parameters()), "lr": lr * HEAD_LR_SCALE})
    optimizer = torch.optim.Adam(groups, lr=lr, foreach=True)
    generator = torch.Generator().manual_seed(int(seed))
    before = _top1(predictor, u, labels, allowed, head, context)
    history = []
    with report_progress(progress, "finetune on edits", epochs) as advance:
        for epoch in range(epochs):
            predictor.train()
            order = torch.randperm(len(labels), generator=generator)
            total = 0.0
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                part = None if context is None else context[rows]
                loss = _masked_loss(_logits(predictor, head, u[rows], part), labels[rows],
                                    allowed[rows])  # fmt: skip
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():  # decoupled pull towards the start (L2-SP)
                    torch._foreach_lerp_(params, start_weights, anchor)
                total += float(loss.detach()) * len(rows)
            history.append({"epoch": epoch + 1, "loss": round(total / len(labels), 6)})
            advance(loss=history[-1]["loss"])
    after = _top1(predictor, u, labels, allowed, head, context)
    history[-1]["train_top1"] = after
    return before, after, history


def finetune_on_edits(
    library,
    out: str | Path,
    *,
    init: str | Path,
    users: list[str] | None = None,
    edits: list[Edit] | None = None,
    epochs: int = 60,
    batch_size: int = 32,
    lr: float = 1e-3,
    anchor: float = 0.01,
    seed: int = 0,
    context: bool = True,
    progress: TrainingProgress | None = None,
) -> dict[str, Any]:
    """Fine-tune T on the recorded edits of ``library`` and write a checkpoint to ``out``.

    Args:
        library: the opened ``PhraseLibrary`` whose edits (and phrase classes) are used.
        init: a bundle folder (e.g. ``bundles/default``) or a finetune/coascent checkpoint
            made for ``library``.
        users: only these curators' edits (None: everyone's).
        edits: use these edits (with model inputs) instead of reading the library's.
        epochs, batch_size, lr: Adam on T (E frozen).
        anchor: fraction of the way back to T's starting weights after every step.
        context: also learn the context head (the slot's place in the song's structure);
            False: T alone, as before schema version 4.

    Returns:
        A report: edits used and skipped, the loss and the top-1 agreement on the edits
        (before and after, over the phrases each curator chose among), seconds.
    """
    started = time.perf_counter()
    if epochs < 1 or batch_size < 1:
        raise MusicDanceError("epochs and batch size must be >= 1")
    if edits is None:
        edits = list_edits(library, users=users, with_inputs=True)
    networks, transition, kind, phrase_ids = _start(init, library)
    data = edit_labels(edits, library.infos(), phrase_ids)
    if not len(data):
        raise MusicDanceError(
            f"no recorded edits with a model input to learn from ({len(edits)} edits"
            f"{' by ' + ', '.join(users) if users else ''}); replace phrases with 'mdtool edit "
            "--replace' (the song's audio must be there) or the studio first",
            library.path,
        )
    seed_everything(seed)
    head = None
    if context:
        head = torch.nn.Linear(data.context.shape[1], len(phrase_ids), bias=False)
        torch.nn.init.zeros_(head.weight)
    with _torch_threads(1):  # small steps: one thread is fastest on shared cores
        u = embed(networks.encoder, data.mel)
        before, after, history = fit_predictor(
            networks.predictor, u, torch.from_numpy(data.labels),
            torch.from_numpy(data.allowed), epochs=epochs, batch_size=batch_size, lr=lr,
            anchor=anchor, seed=seed, progress=progress, head=head,
            context=torch.from_numpy(data.context) if context else None,
        )  # fmt: skip
    ids = library.ids()
    settings = {"labels": "edits", "init": str(init), "init_kind": kind, "users": users,
                "epochs": epochs, "batch_size": batch_size, "lr": lr, "anchor": anchor,
                "seed": seed, "edits": len(data), "context": bool(context),
                "edits_with_context": int(sum(e.slot_context is not None for e in edits
                                              if e.model_input is not None))}  # fmt: skip
    library_record = {"path": str(library.path), "phrases": len(ids),
                      "fingerprint": library_fingerprint(ids)}  # fmt: skip
    payload = checkpoint_payload(
        "finetune", networks, epoch=epochs, history=history, seed=seed, settings=settings,
        phrase_ids=phrase_ids, library=library_record, transition=transition,
    )  # fmt: skip
    if head is not None:
        payload["context_head"] = {"names": list(CONTEXT_NAMES),
                                   "weight": head.weight.detach().clone()}  # fmt: skip
    save_checkpoint(out, payload)
    return {
        "checkpoint": str(out), "init": str(init), "edits_used": len(data),
        "edits_skipped": data.skipped,
        "users": sorted({e.user for e in edits if e.model_input is not None}),
        "edits_top1_before": round(before, 4), "edits_top1_after": round(after, 4),
        "final_loss": history[-1]["loss"], "epochs": epochs,
        "seconds": round(time.perf_counter() - started, 3),
    }  # fmt: skip
