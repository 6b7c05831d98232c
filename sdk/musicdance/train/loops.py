"""Training: self-supervised pre-training, fine-tuning, co-ascent and evaluation (sections 3.2-3.5,
Algorithm 1), with checkpoints, resume, seeds, progress bars and per-epoch metrics.

Stages and their paper settings (defaults here are the paper's unless noted):

- :func:`pretrain`: E, D1, D2, D3 on every training song (labels unused), eq. 4
  (L1 spectrogram + L1 melody + 10 x BCE rhythm), Adam 1e-4, learning rate x 0.1 every 50
  epochs.
- :func:`finetune`: E frozen (eval mode, so its batch norms keep their statistics), T trained
  with cross-entropy (eq. 5), SGD 1e-2, momentum 0.9, weight decay 5e-4, optional class
  balancing (Table 1 group IV). As E is frozen, the embeddings are computed once and T trains
  on them, which makes an epoch cost a few milliseconds.
- :func:`coascent`: Algorithm 1 on top of a fine-tuned model: each round re-scales T's
  predictions on the unlabelled songs with the Markov matrix M (eq. 6, greedily along each
  song), keeps pseudo-labels whose re-scaled confidence exceeds tau = 0.9, fine-tunes T on
  labelled + pseudo-labelled samples, and updates M from the pseudo-labelled neighbours
  (eq. 7) with momentum alpha = 0.5, clipped to [0.01, 1]. M starts from the library's
  transition prior (:func:`musicdance.library.transitions.transition_prior`, rows scaled so
  their maximum is 1). Learning rate: 1e-3 by default (the paper's 1e-5 belongs to its
  500-epoch schedule and moves nothing in a few CPU epochs; pass ``lr=1e-5`` for it).
- :func:`evaluate`: Top-1/5/10 of a checkpoint on the held-out (``test``) songs.

``processes > 1`` runs pre-training, fine-tuning or co-ascent in that many processes under
``DistributedDataParallel`` (gloo backend, CPU; ``musicdance.train.distributed``): each rank
trains on its shard of every epoch (``DistributedSampler``, seeded, ``set_epoch``;
``batch_size`` per process), DDP all-reduces the gradients, and rank 0 alone writes
checkpoints. Fine-tuning and co-ascent compute the frozen
encoder's embeddings in shares and gather them; co-ascent's pseudo-labels and update of M come
from probabilities computed on rank 0 and broadcast, so every rank makes the same choice.

A checkpoint is a ``torch.save`` dict of tensors and plain values (loaded with
``weights_only=True``): format, stage, model config, state dict, optimizer state, completed
epochs, history (metrics per epoch), feature parameters, phrase ids (the K classes), library
fingerprint, transition matrix (co-ascent), settings. It is written atomically after every
epoch (pre-training) or every ``save_every`` epochs and at the end (fine-tuning), so ``resume``
continues an interrupted run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data.distributed import DistributedSampler

from musicdance.atomic import atomic_write
from musicdance.audio.model_input import check_feature_parameters, feature_parameters
from musicdance.corpus.build import Corpus, CorpusArrays, open_corpus
from musicdance.errors import MusicDanceError
from musicdance.model_config import ModelConfig
from musicdance.train import losses
from musicdance.train.data import PretextDataset, make_loader, mel_tensor
from musicdance.train.distributed import (
    all_reduce_sum,
    from_rank0,
    process_notes,
    ranks_max_abs_diff,
    run_processes,
    shard_batches,
    wrap_ddp,
)
from musicdance.train.networks import Networks

__all__ = [
    "CHECKPOINT_FORMAT",
    "TOP_K",
    "TrainResult",
    "coascent",
    "embed",
    "evaluate",
    "finetune",
    "load_checkpoint",
    "networks_from_checkpoint",
    "pretrain",
    "rescale_with_transitions",
    "save_checkpoint",
    "topk_accuracy",
    "update_transitions",
]

CHECKPOINT_FORMAT = "mdtool-checkpoint/1"
STAGES = ("pretrain", "finetune", "coascent")
TOP_K = (1, 5, 10)
#: Section 3.5 / Algorithm 1.
TAU = 0.9
ALPHA = 0.5
CLIP = (0.01, 1.0)
_REQUIRED = ("format", "stage", "config", "model", "epoch", "history", "features")
#: Settings that older checkpoints lack, with the value they were trained with.
_SETTING_DEFAULTS = {"processes": 1}


@dataclass
class TrainResult:
    """What a training run did. ``history``: one dict of metrics per completed epoch/round."""

    stage: str
    checkpoint: Path
    epochs: int
    history: list[dict[str, Any]]
    seconds: float
    samples: int
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["checkpoint"] = str(self.checkpoint)
        return data


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write a checkpoint atomically (a crash never leaves a half-written file)."""
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        torch.save(payload, handle)
    return target


def load_checkpoint(
    path: str | os.PathLike[str], *, stages: tuple[str, ...] = STAGES
) -> dict[str, Any]:
    """Load and check a checkpoint (``weights_only=True``: no code runs from the file).

    Raises:
        MusicDanceError: missing, truncated, corrupt, not an mdtool checkpoint, made with other
            feature parameters, or of a stage not in ``stages``.
    """
    source = Path(path)
    if not source.is_file():
        raise MusicDanceError("checkpoint not found", source)
    try:
        data = torch.load(source, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError,
            OSError, AttributeError, TypeError) as error:  # fmt: skip
        raise MusicDanceError(
            f"not a readable checkpoint (corrupt or truncated?): {type(error).__name__}", source
        ) from error
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise MusicDanceError(f"not an mdtool checkpoint (expected {CHECKPOINT_FORMAT})", source)
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise MusicDanceError(f"checkpoint lacks {', '.join(missing)}", source)
    if data["stage"] not in stages:
        raise MusicDanceError(
            f"this is a {data['stage']} checkpoint; expected {' or '.join(stages)}", source
        )
    check_feature_parameters(data["features"], what="checkpoint", path=source)
    data["config"] = ModelConfig.from_dict(data["config"])
    data["path"] = str(source)
    return data


def networks_from_checkpoint(checkpoint: dict[str, Any], *, predictor: bool = True) -> Networks:
    """The networks of a loaded checkpoint (``predictor=False``: T keeps its fresh weights)."""
    networks = Networks(checkpoint["config"])
    state = checkpoint["model"]
    if not predictor:
        state = {k: v for k, v in state.items() if not k.startswith("predictor.")}
    try:
        networks.load_state_dict(state, strict=predictor)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise MusicDanceError(
            f"checkpoint weights do not fit its model config: {first}", checkpoint.get("path")
        ) from error
    return networks


def _payload(
    stage: str,
    networks: Networks,
    *,
    epoch: int,
    history: list[dict],
    seed: int,
    settings: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    phrase_ids: list[str] | None = None,
    library: dict[str, Any] | None = None,
    transition: np.ndarray | None = None,
) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "stage": stage,
        "config": networks.config.to_dict(),
        "model": networks.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "epoch": int(epoch),
        "history": history,
        "seed": int(seed),
        "settings": settings,
        "features": feature_parameters(),
        "phrase_ids": phrase_ids,
        "library": None
        if library is None
        else {k: library[k] for k in ("path", "phrases", "fingerprint")},
        "transition": None
        if transition is None
        else torch.as_tensor(transition, dtype=torch.float32),
        "rng": torch.get_rng_state(),
        "torch": str(torch.__version__),
    }


def _resume_state(out: Path, stage: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint to resume from, checked against this run's settings."""
    if not out.exists():
        return None
    checkpoint = load_checkpoint(out, stages=(stage,))
    saved = checkpoint.get("settings") or {}
    changed = [
        f"{key} {saved.get(key)!r} -> {value!r}"
        for key, value in settings.items()
        if key not in ("epochs", "rounds") and saved.get(key, _SETTING_DEFAULTS.get(key)) != value
    ]
    if changed:
        raise MusicDanceError(
            f"cannot resume: settings differ from the checkpoint's ({'; '.join(changed)})", out
        )
    return checkpoint


# ---------------------------------------------------------------------------------------------
# Metrics and helpers


def topk_accuracy(
    scores: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, ks=TOP_K
) -> dict[str, float]:
    """Fraction of rows whose label is among the ``k`` highest scores, for each ``k``."""
    scores = torch.as_tensor(scores)
    labels = torch.as_tensor(labels).long()
    if len(labels) == 0:
        return {f"top{k}": float("nan") for k in ks}
    ranked = scores.topk(min(max(ks), scores.shape[1]), dim=1).indices
    hits = ranked == labels[:, None]
    return {f"top{k}": float(hits[:, :k].any(dim=1).float().mean()) for k in ks}


@torch.no_grad()
def embed(encoder: nn.Module, mel: np.ndarray, *, batch_size: int = 64) -> torch.Tensor:
    """Embeddings ``u [N, D]`` of mel inputs ``[N, 128, 128]`` (encoder in eval mode)."""
    was_training = encoder.training
    encoder.eval()
    try:
        parts = [
            encoder(mel_tensor(mel[i : i + batch_size]))[1] for i in range(0, len(mel), batch_size)
        ]
    finally:
        encoder.train(was_training)
    if not parts:
        return torch.zeros(0, encoder.embedding_dim)
    return torch.cat(parts)


@contextlib.contextmanager
def _progress(enabled: bool, description: str, total: int) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr; yields ``advance(steps=1, **fields)``."""
    if not enabled:
        yield lambda *args, **kwargs: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(steps: int = 1, **fields: Any) -> None:
            info = " ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items()
            )
            bar.update(task, advance=steps, info=info)

        yield advance


def _labelled_data(
    corpus: Corpus, phrase_ids: list[str], split: str
) -> tuple[CorpusArrays, np.ndarray]:
    arrays = corpus.load(split=split, labelled=True)
    labels = arrays.label_indices(phrase_ids)
    keep = labels >= 0  # a labelled song may leave a slot unlabelled (none today)
    return arrays.subset(keep), labels[keep]


def _corpus_classes(corpus: Corpus) -> tuple[list[str], dict[str, Any]]:
    if not corpus.phrase_ids:
        raise MusicDanceError(
            "the corpus has no labelled songs (no library); build it with labelled songs",
            corpus.path,
        )
    return corpus.phrase_ids, corpus.library or {}


def _seed_everything(seed: int) -> None:
    torch.manual_seed(int(seed))
    np.random.seed(int(seed) % 2**32)


# ---------------------------------------------------------------------------------------------
# Pre-training (eq. 1-4), optionally distributed


class _Pretext(nn.Module):
    """E + D1 + D2 + D3 as one module (what DDP wraps; T is not part of pre-training)."""

    def __init__(self, networks: Networks) -> None:
        super().__init__()
        self.encoder = networks.encoder
        self.spectrogram_decoder = networks.spectrogram_decoder
        self.melody_decoder = networks.melody_decoder
        self.rhythm_decoder = networks.rhythm_decoder

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        temporal, embedding = self.encoder(mel)
        return (
            self.spectrogram_decoder(embedding),
            self.melody_decoder(temporal),
            self.rhythm_decoder(temporal),
        )


def pretrain(
    corpus: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    config: ModelConfig | None = None,
    init: str | os.PathLike[str] | None = None,
    epochs: int = 1,
    batch_size: int = 16,
    lr: float = 1e-4,
    lr_step_epochs: int = 50,
    seed: int = 0,
    processes: int = 1,
    resume: bool = False,
    max_batches: int | None = None,
    progress: bool = False,
) -> TrainResult:
    """Self-supervised pre-training of E, D1-D3 on the corpus' training songs (eq. 4).

    Args:
        corpus: corpus folder.
        out: checkpoint to write (after every epoch).
        config: networks to build (default: light encoder); ignored when resuming or when
            ``init`` gives a checkpoint (its config is used).
        init: start from this checkpoint's encoder and decoders.
        epochs: total epochs (with ``resume``: including those already done).
        batch_size: samples per step and process.
        lr: Adam learning rate (1e-4); multiplied by 0.1 every ``lr_step_epochs``.
        processes: > 1 runs DistributedDataParallel over that many CPU processes (gloo).
        resume: continue from ``out`` if it exists.
        max_batches: stop each epoch after this many steps (smoke tests).
        progress: show a progress bar (rank 0).
    """
    started = time.perf_counter()
    out = Path(out)
    if epochs < 1 or batch_size < 1 or processes < 1:
        raise MusicDanceError("epochs, batch size and processes must be >= 1")
    opened = open_corpus(corpus)
    count = len(opened.load(split="train"))
    if count == 0:
        raise MusicDanceError("the corpus has no training samples", opened.path)
    if processes > count:
        raise MusicDanceError(f"{processes} processes for {count} samples: use fewer processes")
    settings = {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "lr_step_epochs": lr_step_epochs,
        "processes": processes, "seed": seed,
    }  # fmt: skip
    resume_from = _resume_state(out, "pretrain", settings) if resume else None
    init_checkpoint = None if init is None or resume_from else load_checkpoint(init)
    if resume_from is not None:
        config = resume_from["config"]
    elif init_checkpoint is not None:
        config = init_checkpoint["config"]
    config = config or ModelConfig.light()
    job = {
        "corpus": str(opened.path), "out": str(out), "config": config.to_dict(),
        "init": None if init_checkpoint is None else init_checkpoint["path"],
        "resume": resume_from is not None, "settings": settings, "max_batches": max_batches,
        "progress": progress,
    }  # fmt: skip
    del resume_from, init_checkpoint
    run_processes(_pretrain_loop, processes, job)
    final = load_checkpoint(out, stages=("pretrain",))
    return TrainResult(
        stage="pretrain",
        checkpoint=out,
        epochs=int(final["epoch"]),
        history=list(final["history"]),
        seconds=round(time.perf_counter() - started, 3),
        samples=count,
        notes=process_notes(processes),
    )


def _embed_shared(encoder: nn.Module, mel: np.ndarray, rank: int, world: int) -> torch.Tensor:
    """:func:`embed` of every row on every rank, each rank computing a contiguous share."""
    batch = 64
    if world == 1 or len(mel) == 0:
        return embed(encoder, mel, batch_size=batch)
    import torch.distributed as dist

    blocks = -(-len(mel) // batch)
    share = -(-blocks // world) * batch  # whole batches per rank
    mine = embed(encoder, mel[rank * share : (rank + 1) * share], batch_size=batch)
    padded = torch.zeros(share, mine.shape[1])
    padded[: len(mine)] = mine
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat(parts)[: len(mel)]


def _pretrain_loop(rank: int, world: int, job: dict[str, Any]) -> None:
    settings = job["settings"]
    seed, epochs = settings["seed"], settings["epochs"]
    _seed_everything(seed)
    out = Path(job["out"])
    arrays = open_corpus(job["corpus"]).load(split="train")
    config = ModelConfig.from_dict(job["config"])
    networks = Networks(config)
    module = _Pretext(networks)
    optimizer = torch.optim.Adam(module.parameters(), lr=settings["lr"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, settings["lr_step_epochs"], gamma=0.1)
    history: list[dict[str, Any]] = []
    start = 0
    if job["resume"]:
        checkpoint = load_checkpoint(out, stages=("pretrain",))
        networks.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        torch.set_rng_state(checkpoint["rng"])
        history, start = list(checkpoint["history"]), int(checkpoint["epoch"])
    elif job["init"]:
        source = networks_from_checkpoint(load_checkpoint(job["init"]), predictor=False)
        state = {k: v for k, v in source.state_dict().items() if not k.startswith("predictor.")}
        networks.load_state_dict(state, strict=False)
    model = wrap_ddp(module, world)
    dataset = PretextDataset(arrays)
    sampler = (
        DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        if world > 1
        else None
    )
    batch = settings["batch_size"]
    steps = -(-(len(dataset) // world if world > 1 else len(dataset)) // batch)
    if job["max_batches"]:
        steps = min(steps, job["max_batches"])
    for epoch in range(start, epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        loader = make_loader(
            dataset, batch, shuffle=True, seed=seed * 1000 + epoch, sampler=sampler
        )
        module.train()
        sums = torch.zeros(5, dtype=torch.float64)  # total, spe, mld, rym, samples
        t0 = time.perf_counter()
        with _progress(
            job["progress"] and rank == 0, f"pretrain {epoch + 1}/{epochs}", steps
        ) as advance:
            for step, (mel, melody, rhythm) in enumerate(loader):
                if step >= steps:
                    break
                terms = losses.pretrain_loss(model(mel), (mel, melody, rhythm))
                optimizer.zero_grad(set_to_none=True)
                terms.total.backward()
                optimizer.step()
                n = mel.shape[0]
                values = terms.as_floats()
                sums += torch.tensor(
                    [values["total"] * n, values["spectrogram"] * n, values["melody"] * n,
                     values["rhythm"] * n, n], dtype=torch.float64,
                )  # fmt: skip
                advance(loss=values["total"])
        scheduler.step()
        seconds = time.perf_counter() - t0
        if world > 1:
            import torch.distributed as dist

            dist.all_reduce(sums)
        samples = max(float(sums[4]), 1.0)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": float(sums[0]) / samples,
                "spectrogram": float(sums[1]) / samples,
                "melody": float(sums[2]) / samples,
                "rhythm": float(sums[3]) / samples,
                "samples": int(sums[4]),
                "seconds": round(seconds, 3),
                "phrases_per_s": round(float(sums[4]) / max(seconds, 1e-9), 2),
                "lr": float(optimizer.param_groups[0]["lr"]),
            }
        )
        if rank == 0:
            save_checkpoint(
                out,
                _payload(
                    "pretrain", networks, epoch=epoch + 1, history=history, seed=seed,
                    settings=settings, optimizer=optimizer, scheduler=scheduler,
                ),
            )  # fmt: skip
    if start >= epochs and rank == 0 and not out.exists():  # pragma: no cover - defensive
        raise MusicDanceError("nothing to do and no checkpoint", out)


# ---------------------------------------------------------------------------------------------
# Fine-tuning (eq. 5)


def _train_predictor(
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
def _probabilities(predictor: nn.Module, embeddings: torch.Tensor) -> torch.Tensor:
    predictor.eval()
    if len(embeddings) == 0:
        return torch.zeros(0, predictor.head.out_features)
    return torch.softmax(predictor(embeddings), dim=1)


def _sgd(predictor: nn.Module, lr: float, momentum: float, weight_decay: float):
    return torch.optim.SGD(
        predictor.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
    )


def _freeze_encoder(networks: Networks) -> None:
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
    progress: bool = False,
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
    phrase_ids, library = _corpus_classes(opened)
    train_count = len(_labelled_data(opened, phrase_ids, "train")[0])
    test_count = len(_labelled_data(opened, phrase_ids, "test")[0])
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
    resume_from = _resume_state(out, "finetune", settings) if resume else None
    if resume_from is not None:
        _check_classes(resume_from, phrase_ids)
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
    train_arrays, train_labels = _labelled_data(opened, phrase_ids, "train")
    test_arrays, test_labels = _labelled_data(opened, phrase_ids, "test")
    resume_from = load_checkpoint(out, stages=("finetune",)) if job["resume"] else None
    _seed_everything(seed)
    networks = _finetune_networks(settings, len(phrase_ids), resume_from)
    _freeze_encoder(networks)
    u_train = _embed_shared(networks.encoder, train_arrays.mel, rank, world)
    u_test = _embed_shared(networks.encoder, test_arrays.mel, rank, world)
    y_train, y_test = torch.from_numpy(train_labels), torch.from_numpy(test_labels)
    weights = (
        losses.balanced_class_weights(y_train, len(phrase_ids)) if settings["balance"] else None
    )
    predictor = networks.predictor
    optimizer = _sgd(predictor, settings["lr"], settings["momentum"], settings["weight_decay"])
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
                _payload(
                    "finetune", networks, epoch=epoch, history=history, seed=seed,
                    settings=settings, optimizer=optimizer, phrase_ids=phrase_ids,
                    library=job["library"],
                ),
            )  # fmt: skip

    with _progress(job["progress"] and rank == 0, "finetune", epochs - start) as advance:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            loss = _train_predictor(
                model, u_train, y_train, optimizer=optimizer, class_weights=weights,
                batch_size=settings["batch_size"], seed=seed * 1000, epoch=epoch, rank=rank,
                world=world, max_batches=job["max_batches"],
            )  # fmt: skip
            metrics = {"epoch": epoch + 1, "loss": round(loss, 6)}
            metrics.update(topk_accuracy(_probabilities(predictor, u_test), y_test))
            metrics["train_top1"] = topk_accuracy(
                _probabilities(predictor, u_train), y_train, ks=(1,)
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


def _check_classes(checkpoint: dict[str, Any], phrase_ids: list[str]) -> None:
    saved = checkpoint.get("phrase_ids")
    if saved != phrase_ids:
        raise MusicDanceError(
            f"the checkpoint's {len(saved or [])} phrase classes are not this corpus' "
            f"{len(phrase_ids)} (trained for another library?)",
            checkpoint.get("path"),
        )


# ---------------------------------------------------------------------------------------------
# Co-ascent (Algorithm 1, eq. 6-7)


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
    progress: bool = False,
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
    phrase_ids, lib_info = _corpus_classes(opened)
    source = load_checkpoint(init, stages=("finetune", "coascent"))
    _check_classes(source, phrase_ids)
    if balance is None:
        balance = bool((source.get("settings") or {}).get("balance", False))
    settings = {
        "rounds": rounds, "epochs_per_round": epochs_per_round, "tau": tau, "alpha": alpha,
        "lr": lr, "momentum": momentum, "weight_decay": weight_decay, "batch_size": batch_size,
        "balance": balance, "seed": seed, "init": str(init), "processes": processes,
    }  # fmt: skip
    resume_from = _resume_state(out, "coascent", settings) if resume else None
    state = resume_from or source
    if state.get("transition") is not None:
        transition = state["transition"].double().numpy()
    else:
        transition = initial_transitions(library or lib_info["path"], phrase_ids)
    if transition.shape != (len(phrase_ids), len(phrase_ids)):
        raise MusicDanceError(f"transition matrix is {transition.shape}, K = {len(phrase_ids)}")
    samples = len(_labelled_data(opened, phrase_ids, "train")[0])
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
        probabilities = _probabilities(predictor, embeddings).double()
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
    _seed_everything(seed)
    networks = networks_from_checkpoint(
        resume_from or load_checkpoint(settings["init"], stages=("finetune", "coascent"))
    )
    transition = np.array(job["transition"], dtype=np.float64)
    opened = open_corpus(job["corpus"])
    train_arrays, train_labels = _labelled_data(opened, phrase_ids, "train")
    test_arrays, test_labels = _labelled_data(opened, phrase_ids, "test")
    unlabelled = opened.load(split="train", labelled=False)
    _freeze_encoder(networks)
    u_train = _embed_shared(networks.encoder, train_arrays.mel, rank, world)
    u_test = _embed_shared(networks.encoder, test_arrays.mel, rank, world)
    u_unlabelled = _embed_shared(networks.encoder, unlabelled.mel, rank, world)
    y_train, y_test = torch.from_numpy(train_labels), torch.from_numpy(test_labels)
    predictor = networks.predictor
    optimizer = _sgd(predictor, settings["lr"], settings["momentum"], settings["weight_decay"])
    model = wrap_ddp(predictor, world)
    history: list[dict[str, Any]] = []
    start = 0
    if resume_from is not None:
        optimizer.load_state_dict(resume_from["optimizer"])
        torch.set_rng_state(resume_from["rng"])
        history, start = list(resume_from["history"]), int(resume_from["epoch"])
    with _progress(job["progress"] and rank == 0, "co-ascent", rounds - start) as advance:
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
                loss = _train_predictor(
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
            metrics.update(topk_accuracy(_probabilities(predictor, u_test), y_test))
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
                    _payload(
                        "coascent", networks, epoch=round_index + 1, history=history,
                        seed=seed, settings=settings, optimizer=optimizer,
                        phrase_ids=phrase_ids, library=job["library"], transition=transition,
                    ),
                )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(
    corpus: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str],
    *,
    split: str = "test",
) -> dict[str, Any]:
    """Top-1/5/10 of a fine-tuned or co-ascent checkpoint on the labelled songs of ``split``.

    Also reports the same with the transition re-scaling of eq. 6 along each song
    (``rescaled_top*``; the checkpoint's M for co-ascent, the library prior otherwise when the
    library is at hand).
    """
    opened = open_corpus(corpus)
    phrase_ids, lib_info = _corpus_classes(opened)
    loaded = load_checkpoint(checkpoint, stages=("finetune", "coascent"))
    _check_classes(loaded, phrase_ids)
    networks = networks_from_checkpoint(loaded)
    arrays, labels = _labelled_data(opened, phrase_ids, split)
    probabilities = _probabilities(networks.predictor, embed(networks.encoder, arrays.mel))
    report: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "stage": loaded["stage"],
        "split": split,
        "samples": len(arrays),
        "classes": len(phrase_ids),
        **topk_accuracy(probabilities, labels),
    }
    transition = loaded.get("transition")
    if transition is not None:
        matrix = transition.double().numpy()
    else:
        try:
            matrix = initial_transitions(lib_info["path"], phrase_ids)
        except MusicDanceError:
            matrix = None
    if matrix is not None and len(arrays):
        _, _, rescaled = rescale_with_transitions(
            probabilities.double().numpy(), arrays.song, matrix
        )
        report.update({f"rescaled_{k}": v for k, v in topk_accuracy(rescaled, labels).items()})
    counts = np.bincount(labels, minlength=len(phrase_ids)) if len(labels) else np.zeros(1)
    report["majority_top1"] = float(counts.max() / max(len(labels), 1))
    return report
