"""Fine-tuning of T on the labelled songs with E frozen (eq. 5), optionally distributed."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from musicdance.corpus.reader import open_corpus
from musicdance.errors import MusicDanceError
from musicdance.model_config import ModelConfig
from musicdance.train import losses
from musicdance.train.checkpoints import (
    checkpoint_payload,
    load_checkpoint,
    networks_from_checkpoint,
    resume_state,
    save_checkpoint,
)
from musicdance.train.common import (
    TrainingProgress,
    TrainResult,
    corpus_classes,
    embed_shared,
    labelled_data,
    report_progress,
    seed_everything,
    topk_accuracy,
)
from musicdance.train.distributed import (
    all_reduce_sum,
    process_notes,
    ranks_max_abs_diff,
    run_processes,
    shard_batches,
    wrap_ddp,
)
from musicdance.train.networks import Networks


def train_predictor(
    model: nn.Module,
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    optimizer: torch.optim.Optimizer,
    class_weights: torch.Tensor | None,
    batch_size: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world: int = 1,
    max_batches: int | None = None,
) -> float:
    """One epoch of T on precomputed embeddings, on this rank's shard (``shard_batches``).

    ``model`` is T, or T under ``DistributedDataParallel`` (which averages the gradients over
    the ranks). Returns the mean loss over every rank's samples.
    """
    model.train()
    sums = torch.zeros(2, dtype=torch.float64)  # loss x samples, samples
    batches = shard_batches(len(labels), batch_size, seed=seed, epoch=epoch, rank=rank,
                             world=world, max_batches=max_batches)  # fmt: skip
    for rows in batches:
        loss = _prediction_loss(model(embeddings[rows]), labels[rows], class_weights, world)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sums += torch.tensor([float(loss.detach()) * len(rows), len(rows)], dtype=torch.float64)
    all_reduce_sum(sums, world)
    return float(sums[0]) / max(float(sums[1]), 1.0)


def _prediction_loss(
    logits: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None, world: int
) -> torch.Tensor:
    """Eq. 5 on this rank's part of a global batch, such that DDP's average of the ranks'
    gradients is the gradient of the global batch's loss.

    Unweighted, that is each rank's mean (equal shares). With class weights the weighted mean's
    denominator must be the global batch's: ``world * sum_local(w CE) / sum_global(w)``.
    """
    if class_weights is None or world == 1:
        return losses.prediction_loss(logits, labels, class_weights)
    total = all_reduce_sum(class_weights[labels].sum().reshape(1), world)
    weighted = F.cross_entropy(logits, labels.long(), weight=class_weights, reduction="sum")
    return weighted * world / total[0]


@torch.no_grad()
def predict_probabilities(predictor: nn.Module, embeddings: torch.Tensor) -> torch.Tensor:
    predictor.eval()
    if len(embeddings) == 0:
        return torch.zeros(0, predictor.head.out_features)
    return torch.softmax(predictor(embeddings), dim=1)


def sgd(predictor: nn.Module, lr: float, momentum: float, weight_decay: float):
    return torch.optim.SGD(
        predictor.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )


def freeze_encoder(networks: Networks) -> None:
    for parameter in networks.encoder.parameters():
        parameter.requires_grad_(False)


def finetune(
    corpus: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    init: str | os.PathLike[str] | None = None,
    encoder: str = "light",
    embedding_dim: int = 512,
    attention: bool = True,
    balance: bool = False,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-2,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    seed: int = 0,
    processes: int = 1,
    resume: bool = False,
    save_every: int = 10,
    max_batches: int | None = None,
    progress: TrainingProgress | None = None,
) -> TrainResult:
    """Train T on the labelled training songs with E frozen (eq. 5).

    Args:
        init: checkpoint whose encoder (and decoders) to use, normally a pre-training one;
            None starts from a randomly initialised encoder of kind ``encoder`` with an
            embedding of ``embedding_dim`` (Table 1 group I; the paper's ImageNet weights are
            not available offline).
        attention: residual attention in T (False: Table 1 groups I-II).
        balance: weight the loss by inverse class frequency (group IV).
        epochs: total epochs (with ``resume``: including those already done).
        batch_size: samples per step and process.
        processes: > 1 runs DistributedDataParallel over that many CPU processes (gloo); the
            embeddings are computed in shares and gathered, T trains on each rank's shard.
        save_every: write the checkpoint every this many epochs (and after the last).
        max_batches: stop each epoch after this many steps (smoke tests).
    """
    started = time.perf_counter()
    out = Path(out)
    if epochs < 1 or batch_size < 1 or save_every < 1 or processes < 1:
        raise MusicDanceError("epochs, batch size, save_every and processes must be >= 1")
    opened = open_corpus(corpus)
    phrase_ids, library = corpus_classes(opened)
    train_count = len(labelled_data(opened, phrase_ids, "train")[0])
    test_count = len(labelled_data(opened, phrase_ids, "test")[0])
    if train_count == 0:
        raise MusicDanceError("the corpus has no labelled training samples", opened.path)
    if processes > train_count:
        raise MusicDanceError(
            f"{processes} processes for {train_count} labelled samples: use fewer processes"
        )
    settings = {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "momentum": momentum,
        "weight_decay": weight_decay, "balance": balance, "attention": attention,
        "seed": seed, "init": None if init is None else str(init), "encoder": encoder,
        "embedding_dim": embedding_dim, "processes": processes,
    }  # fmt: skip
    resume_from = resume_state(out, "finetune", settings) if resume else None
    if resume_from is not None:
        check_classes(resume_from, phrase_ids)
    elif init is not None:
        load_checkpoint(init)  # a clear error before any process starts
    elif encoder not in ("light", "resnet50"):
        raise MusicDanceError(f"unknown encoder {encoder!r}; expected light or resnet50")
    job = {
        "corpus": str(opened.path), "out": str(out), "settings": settings,
        "phrase_ids": phrase_ids, "library": library, "resume": resume_from is not None,
        "save_every": save_every, "max_batches": max_batches, "progress": progress,
    }  # fmt: skip
    del resume_from
    run_processes(_finetune_loop, processes, job)
    final = load_checkpoint(out, stages=("finetune",))
    notes = process_notes(processes)
    if not test_count:
        notes.append("no test songs: top-k metrics are NaN")
    return TrainResult(
        "finetune", out, epochs, list(final["history"]),
        round(time.perf_counter() - started, 3), train_count, notes,
    )  # fmt: skip


def _finetune_networks(
    settings: dict[str, Any], num_classes: int, resume_from: dict[str, Any] | None
) -> Networks:
    """The networks fine-tuning starts from: resumed, ``init``'s encoder with a new T, or new."""
    if resume_from is not None:
        return networks_from_checkpoint(resume_from)
    attention, init = settings["attention"], settings["init"]
    if init is not None:
        source = load_checkpoint(init)
        config = dataclasses.replace(source["config"], num_classes=num_classes, attention=attention)
        networks = Networks(config)
        state = {k: v for k, v in source["model"].items() if not k.startswith("predictor.")}
        try:
            networks.load_state_dict(state, strict=False)
        except RuntimeError as error:
            raise MusicDanceError(f"init checkpoint does not fit: {error}", init) from error
        return networks
    make = ModelConfig.resnet50 if settings["encoder"] == "resnet50" else ModelConfig.light
    config = make(num_classes, attention=attention, embedding_dim=settings["embedding_dim"])
    return Networks(config)


def _finetune_loop(rank: int, world: int, job: dict[str, Any]) -> None:
    """Fine-tuning in one process of ``world`` (see :func:`finetune`)."""
    settings, phrase_ids = job["settings"], job["phrase_ids"]
    seed, epochs = settings["seed"], settings["epochs"]
    out = Path(job["out"])
    opened = open_corpus(job["corpus"])
    train_arrays, train_labels = labelled_data(opened, phrase_ids, "train")
    test_arrays, test_labels = labelled_data(opened, phrase_ids, "test")
    resume_from = load_checkpoint(out, stages=("finetune",)) if job["resume"] else None
    seed_everything(seed)
    networks = _finetune_networks(settings, len(phrase_ids), resume_from)
    freeze_encoder(networks)
    u_train = embed_shared(networks.encoder, train_arrays.mel, rank, world)
    u_test = embed_shared(networks.encoder, test_arrays.mel, rank, world)
    y_train, y_test = torch.from_numpy(train_labels), torch.from_numpy(test_labels)
    weights = (
        losses.balanced_class_weights(y_train, len(phrase_ids)) if settings["balance"] else None
    )
    predictor = networks.predictor
    optimizer = sgd(predictor, settings["lr"], settings["momentum"], settings["weight_decay"])
    model = wrap_ddp(predictor, world)
    history: list[dict[str, Any]] = []
    start = 0
    if resume_from is not None:
        optimizer.load_state_dict(resume_from["optimizer"])
        torch.set_rng_state(resume_from["rng"])
        history, start = list(resume_from["history"]), int(resume_from["epoch"])

    def save(epoch: int) -> None:
        if rank == 0:
            save_checkpoint(
                out,
                checkpoint_payload(
                    "finetune", networks, epoch=epoch, history=history, seed=seed,
                    settings=settings, optimizer=optimizer, phrase_ids=phrase_ids,
                    library=job["library"],
                ),
            )  # fmt: skip

    with report_progress(
        job["progress"] if rank == 0 else None, "finetune", epochs - start
    ) as advance:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            loss = train_predictor(
                model, u_train, y_train, optimizer=optimizer, class_weights=weights,
                batch_size=settings["batch_size"], seed=seed * 1000, epoch=epoch, rank=rank,
                world=world, max_batches=job["max_batches"],
            )  # fmt: skip
            metrics = {"epoch": epoch + 1, "loss": round(loss, 6)}
            metrics.update(topk_accuracy(predict_probabilities(predictor, u_test), y_test))
            metrics["train_top1"] = topk_accuracy(
                predict_probabilities(predictor, u_train), y_train, ks=(1,)
            )["top1"]
            if world > 1:
                metrics["ranks_max_abs_diff"] = ranks_max_abs_diff(
                    list(predictor.parameters()), world
                )
            metrics["seconds"] = round(time.perf_counter() - t0, 4)
            history.append(metrics)
            advance(loss=loss, top1=metrics["top1"])
            if (epoch + 1) % job["save_every"] == 0 or epoch + 1 == epochs:
                save(epoch + 1)
    if start >= epochs:
        save(start)


def check_classes(checkpoint: dict[str, Any], phrase_ids: list[str]) -> None:
    saved = checkpoint.get("phrase_ids")
    if saved != phrase_ids:
        raise MusicDanceError(
            f"the checkpoint's {len(saved or [])} phrase classes are not this corpus' "
            f"{len(phrase_ids)} (trained for another library?)",
            checkpoint.get("path"),
        )
