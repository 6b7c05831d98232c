"""Co-ascent of T and M (Algorithm 1, eq. 6-7) on labelled + pseudo-labelled songs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from musicdance.corpus.reader import open_corpus
from musicdance.errors import MusicDanceError
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
    from_rank0,
    process_notes,
    ranks_max_abs_diff,
    run_processes,
    wrap_ddp,
)
from musicdance.train.finetuning import (
    check_classes,
    freeze_encoder,
    predict_probabilities,
    sgd,
    train_predictor,
)

#: Section 3.5 / Algorithm 1.
TAU = 0.9
ALPHA = 0.5
CLIP = (0.01, 1.0)


def rescale_with_transitions(
    probabilities: np.ndarray, songs: np.ndarray, transition: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 6 along each song, greedily: ``P'(d_t) ∝ P(d_t) M(l_{t-1} -> d_t)``.

    Args:
        probabilities: ``[N, K]`` T's softmax outputs, rows in song order.
        songs: ``[N]`` song of each row (rows of one song are consecutive, in time order).
        transition: ``[K, K]`` M, row = previous phrase.

    Returns:
        ``labels [N]`` (argmax of the re-scaled row), ``confidences [N]`` (its re-scaled
        probability, the row normalised to sum 1) and the re-scaled ``[N, K]``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    rescaled = probabilities.copy()
    labels = np.zeros(len(probabilities), dtype=np.int64)
    for t in range(len(probabilities)):
        if t > 0 and songs[t] == songs[t - 1]:
            row = probabilities[t] * transition[labels[t - 1]]
            rescaled[t] = row / max(row.sum(), 1e-30)
        labels[t] = int(np.argmax(rescaled[t]))
    confidences = rescaled[np.arange(len(labels)), labels] if len(labels) else np.zeros(0)
    return labels, confidences, rescaled


def update_transitions(
    transition: np.ndarray,
    labels: np.ndarray,
    confidences: np.ndarray,
    songs: np.ndarray,
    *,
    alpha: float = ALPHA,
    clip: tuple[float, float] = CLIP,
) -> np.ndarray:
    """Eq. 7 with momentum: the new M from pseudo-labelled neighbours.

    ``C(a -> b) = sum P(d_{t-1}) P(d_t)`` over neighbours labelled ``a, b`` (top-1 labels and
    confidences); each row of C is scaled so that its maximum is 1 (rows with no evidence
    keep M's row); then ``M' = clip(alpha M + (1 - alpha) C, 0.01, 1)``.
    """
    counts = np.zeros_like(transition, dtype=np.float64)
    same = songs[1:] == songs[:-1]
    np.add.at(
        counts, (labels[:-1][same], labels[1:][same]), (confidences[:-1] * confidences[1:])[same]
    )
    peak = counts.max(axis=1, keepdims=True)
    evidence = np.where(peak > 0, counts / np.maximum(peak, 1e-30), transition)
    return np.clip(alpha * transition + (1.0 - alpha) * evidence, clip[0], clip[1])


def initial_transitions(library_path: str | os.PathLike[str], phrase_ids: list[str]) -> np.ndarray:
    """M_0: the library's transition prior, rows scaled to a maximum of 1, clipped to [0.01, 1]."""
    from musicdance.library import open_library
    from musicdance.library.transitions import transition_prior

    library = open_library(library_path)
    infos = library.infos()
    if [info.id for info in infos] != list(phrase_ids):
        raise MusicDanceError(
            "the library's phrases are not the model's classes (another library?)", library_path
        )
    prior = transition_prior(infos)
    return np.clip(prior / prior.max(axis=1, keepdims=True), *CLIP)


def coascent(
    corpus: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    init: str | os.PathLike[str],
    library: str | os.PathLike[str] | None = None,
    rounds: int = 3,
    epochs_per_round: int = 5,
    tau: float = TAU,
    alpha: float = ALPHA,
    lr: float = 1e-3,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 64,
    balance: bool | None = None,
    seed: int = 0,
    processes: int = 1,
    resume: bool = False,
    max_batches: int | None = None,
    progress: TrainingProgress | None = None,
) -> TrainResult:
    """Algorithm 1: co-ascent of T and M on labelled + pseudo-labelled unlabelled songs.

    Args:
        init: a fine-tuning checkpoint (E, T and the phrase classes).
        library: phrase library for M_0 (default: the path recorded in the corpus).
        rounds: pseudo-labelling rounds (the paper loops until every sample is labelled;
            here a fixed count, as on small corpora confidence rarely reaches everyone).
        epochs_per_round: fine-tuning epochs between pseudo-label updates (paper: 5).
        tau, alpha: pseudo-label threshold (0.9) and M's momentum (0.5).
        batch_size: samples per step and process.
        balance: class balancing (default: as the init checkpoint was trained).
        processes: > 1 runs DistributedDataParallel over that many CPU processes (gloo). Rank 0
            computes T's probabilities on the unlabelled songs and broadcasts them, so every
            rank picks the same pseudo-labels and makes the same update of M.
        max_batches: stop each epoch after this many steps (smoke tests).
    """
    started = time.perf_counter()
    out = Path(out)
    if rounds < 1 or epochs_per_round < 1 or not 0.0 <= alpha <= 1.0 or not 0.0 < tau < 1.0:
        raise MusicDanceError("need rounds, epochs >= 1, 0 <= alpha <= 1 and 0 < tau < 1")
    if batch_size < 1 or processes < 1:
        raise MusicDanceError("batch size and processes must be >= 1")
    opened = open_corpus(corpus)
    phrase_ids, lib_info = corpus_classes(opened)
    source = load_checkpoint(init, stages=("finetune", "coascent"))
    check_classes(source, phrase_ids)
    if balance is None:
        balance = bool((source.get("settings") or {}).get("balance", False))
    settings = {
        "rounds": rounds, "epochs_per_round": epochs_per_round, "tau": tau, "alpha": alpha,
        "lr": lr, "momentum": momentum, "weight_decay": weight_decay, "batch_size": batch_size,
        "balance": balance, "seed": seed, "init": str(init), "processes": processes,
    }  # fmt: skip
    resume_from = resume_state(out, "coascent", settings) if resume else None
    state = resume_from or source
    if state.get("transition") is not None:
        transition = state["transition"].double().numpy()
    else:
        transition = initial_transitions(library or lib_info["path"], phrase_ids)
    if transition.shape != (len(phrase_ids), len(phrase_ids)):
        raise MusicDanceError(f"transition matrix is {transition.shape}, K = {len(phrase_ids)}")
    samples = len(labelled_data(opened, phrase_ids, "train")[0])
    unlabelled = len(opened.load(split="train", labelled=False))
    if unlabelled == 0:
        raise MusicDanceError("co-ascent needs unlabelled songs in the corpus", opened.path)
    if processes > samples + unlabelled:
        raise MusicDanceError(f"{processes} processes for {samples + unlabelled} samples")
    job = {
        "corpus": str(opened.path), "out": str(out), "settings": settings,
        "phrase_ids": phrase_ids, "library": lib_info, "transition": transition,
        "resume": resume_from is not None, "max_batches": max_batches, "progress": progress,
    }  # fmt: skip
    del resume_from, state, source
    run_processes(_coascent_loop, processes, job)
    final = load_checkpoint(out, stages=("coascent",))
    return TrainResult(
        "coascent", out, rounds, list(final["history"]), round(time.perf_counter() - started, 3),
        samples + unlabelled, process_notes(processes),
    )  # fmt: skip


def _shared_probabilities(
    predictor: nn.Module, embeddings: torch.Tensor, rank: int, world: int
) -> np.ndarray:
    """T's float64 probabilities, computed on rank 0 and broadcast to every rank."""
    if rank == 0:
        probabilities = predict_probabilities(predictor, embeddings).double()
    else:
        shape = (len(embeddings), predictor.head.out_features)
        probabilities = torch.zeros(shape, dtype=torch.float64)
    return from_rank0(probabilities, world).numpy()


def _coascent_loop(rank: int, world: int, job: dict[str, Any]) -> None:
    """Algorithm 1 in one process of ``world`` (see :func:`coascent`)."""
    settings, phrase_ids = job["settings"], job["phrase_ids"]
    seed, rounds, per_round = settings["seed"], settings["rounds"], settings["epochs_per_round"]
    out = Path(job["out"])
    resume_from = load_checkpoint(out, stages=("coascent",)) if job["resume"] else None
    seed_everything(seed)
    networks = networks_from_checkpoint(
        resume_from or load_checkpoint(settings["init"], stages=("finetune", "coascent"))
    )
    transition = np.array(job["transition"], dtype=np.float64)
    opened = open_corpus(job["corpus"])
    train_arrays, train_labels = labelled_data(opened, phrase_ids, "train")
    test_arrays, test_labels = labelled_data(opened, phrase_ids, "test")
    unlabelled = opened.load(split="train", labelled=False)
    freeze_encoder(networks)
    u_train = embed_shared(networks.encoder, train_arrays.mel, rank, world)
    u_test = embed_shared(networks.encoder, test_arrays.mel, rank, world)
    u_unlabelled = embed_shared(networks.encoder, unlabelled.mel, rank, world)
    y_train, y_test = torch.from_numpy(train_labels), torch.from_numpy(test_labels)
    predictor = networks.predictor
    optimizer = sgd(predictor, settings["lr"], settings["momentum"], settings["weight_decay"])
    model = wrap_ddp(predictor, world)
    history: list[dict[str, Any]] = []
    start = 0
    if resume_from is not None:
        optimizer.load_state_dict(resume_from["optimizer"])
        torch.set_rng_state(resume_from["rng"])
        history, start = list(resume_from["history"]), int(resume_from["epoch"])
    with report_progress(
        job["progress"] if rank == 0 else None, "co-ascent", rounds - start
    ) as advance:
        for round_index in range(start, rounds):
            t0 = time.perf_counter()
            probabilities = _shared_probabilities(predictor, u_unlabelled, rank, world)
            labels, confidences, _ = rescale_with_transitions(
                probabilities, unlabelled.song, transition
            )
            chosen = confidences > settings["tau"]
            u_all = torch.cat([u_train, u_unlabelled[torch.from_numpy(chosen)]])
            y_all = torch.cat([y_train, torch.from_numpy(labels[chosen])])
            weights = (
                losses.balanced_class_weights(y_all, len(phrase_ids))
                if settings["balance"]
                else None
            )
            loss = 0.0
            for epoch in range(per_round):
                loss = train_predictor(
                    model, u_all, y_all, optimizer=optimizer, class_weights=weights,
                    batch_size=settings["batch_size"], seed=seed * 1000,
                    epoch=round_index * per_round + epoch, rank=rank, world=world,
                    max_batches=job["max_batches"],
                )  # fmt: skip
            transition = update_transitions(
                transition, labels, confidences, unlabelled.song, alpha=settings["alpha"]
            )
            metrics = {
                "epoch": round_index + 1,
                "loss": round(loss, 6),
                "pseudo_labels": int(chosen.sum()),
                "unlabelled": len(chosen),
                "mean_confidence": round(float(confidences.mean()), 4),
            }
            metrics.update(topk_accuracy(predict_probabilities(predictor, u_test), y_test))
            if world > 1:
                metrics["ranks_max_abs_diff"] = ranks_max_abs_diff(
                    [*predictor.parameters(), torch.from_numpy(transition)], world
                )
            metrics["seconds"] = round(time.perf_counter() - t0, 4)
            history.append(metrics)
            advance(pseudo=metrics["pseudo_labels"], top1=metrics["top1"])
            if rank == 0:
                save_checkpoint(
                    out,
                    checkpoint_payload(
                        "coascent", networks, epoch=round_index + 1, history=history,
                        seed=seed, settings=settings, optimizer=optimizer,
                        phrase_ids=phrase_ids, library=job["library"], transition=transition,
                    ),
                )  # fmt: skip
