"""Training: self-supervised pre-training, fine-tuning, co-ascent and evaluation (sections 3.2-3.5,
Algorithm 1), with checkpoints, resume, seeds, progress bars and per-epoch metrics.

Stages and their paper settings (defaults here are the paper's unless noted):

- :func:`pretrain`: E, D1, D2, D3 on every training song (labels unused), eq. 4
  (L1 spectrogram + L1 melody + 10 x BCE rhythm), Adam 1e-4, learning rate x 0.1 every 50
  epochs. ``processes > 1`` runs that many processes under ``DistributedDataParallel`` (gloo
  backend, CPU; each process takes its share of every epoch, ``batch_size`` per process).
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
import socket
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from musicdance.atomic import atomic_write
from musicdance.corpus.build import Corpus, CorpusArrays, open_corpus
from musicdance.corpus.inputs import check_feature_parameters, feature_parameters
from musicdance.errors import MusicDanceError
from musicdance.train import losses
from musicdance.train.config import ModelConfig
from musicdance.train.data import PretextDataset, make_loader, mel_tensor
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
        if key not in ("epochs", "rounds") and saved.get(key) != value
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
        "threads": max(1, (os.cpu_count() or 1) // processes),
    }  # fmt: skip
    del resume_from, init_checkpoint
    if processes == 1:
        _pretrain_process(0, 1, job)
    else:
        _spawn(_pretrain_process, processes, job)
    final = load_checkpoint(out, stages=("pretrain",))
    notes = [] if processes == 1 else [f"DistributedDataParallel over {processes} processes (gloo)"]
    return TrainResult(
        stage="pretrain",
        checkpoint=out,
        epochs=int(final["epoch"]),
        history=list(final["history"]),
        seconds=round(time.perf_counter() - started, 3),
        samples=count,
        notes=notes,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(function: Callable, processes: int, job: dict[str, Any]) -> None:
    import torch.multiprocessing as mp

    job = {**job, "port": _free_port()}
    # gloo binds to the interface the host name resolves to; on one machine, loopback is safe.
    saved = os.environ.get("GLOO_SOCKET_IFNAME")
    if saved is None and sys.platform.startswith("linux"):
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    try:
        mp.spawn(function, args=(processes, job), nprocs=processes, join=True)
    except mp.ProcessRaisedException as error:
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        last = lines[-1] if lines else "unknown error"
        if "MusicDanceError" in last:
            raise MusicDanceError(last.split("MusicDanceError:", 1)[-1].strip()) from None
        raise RuntimeError(f"a training process failed: {last}") from error
    except mp.ProcessExitedException as error:
        raise MusicDanceError(f"a training process died: {error}") from error
    finally:
        if saved is None:
            os.environ.pop("GLOO_SOCKET_IFNAME", None)


def _pretrain_process(rank: int, world: int, job: dict[str, Any]) -> None:
    distributed = world > 1
    if distributed:
        import torch.distributed as dist

        torch.set_num_threads(job["threads"])
        dist.init_process_group(
            "gloo", rank=rank, world_size=world, init_method=f"tcp://127.0.0.1:{job['port']}"
        )
    try:
        _pretrain_loop(rank, world, job)
    finally:
        if distributed:
            dist.destroy_process_group()


def _pretrain_loop(rank: int, world: int, job: dict[str, Any]) -> None:
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data.distributed import DistributedSampler

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
    model: nn.Module = module
    if world > 1:
        model = DistributedDataParallel(module)
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
    predictor: nn.Module,
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    *,
    optimizer: torch.optim.Optimizer,
    class_weights: torch.Tensor | None,
    batch_size: int,
    seed: int,
) -> float:
    """One epoch of T on precomputed embeddings; returns the mean loss."""
    predictor.train()
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(len(labels), generator=generator)
    total, count = 0.0, 0
    for i in range(0, len(order), batch_size):
        rows = order[i : i + batch_size]
        loss = losses.prediction_loss(predictor(embeddings[rows]), labels[rows], class_weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(rows)
        count += len(rows)
    return total / max(count, 1)


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
    resume: bool = False,
    save_every: int = 10,
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
        save_every: write the checkpoint every this many epochs (and after the last).
    """
    started = time.perf_counter()
    out = Path(out)
    if epochs < 1 or batch_size < 1 or save_every < 1:
        raise MusicDanceError("epochs, batch size and save_every must be >= 1")
    opened = open_corpus(corpus)
    phrase_ids, library = _corpus_classes(opened)
    train_arrays, train_labels = _labelled_data(opened, phrase_ids, "train")
    test_arrays, test_labels = _labelled_data(opened, phrase_ids, "test")
    if len(train_arrays) == 0:
        raise MusicDanceError("the corpus has no labelled training samples", opened.path)
    settings = {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "momentum": momentum,
        "weight_decay": weight_decay, "balance": balance, "attention": attention,
        "seed": seed, "init": None if init is None else str(init), "encoder": encoder,
        "embedding_dim": embedding_dim,
    }  # fmt: skip
    resume_from = _resume_state(out, "finetune", settings) if resume else None
    _seed_everything(seed)
    if resume_from is not None:
        networks = networks_from_checkpoint(resume_from)
        _check_classes(resume_from, phrase_ids)
    elif init is not None:
        source = load_checkpoint(init)
        config = dataclasses.replace(
            source["config"], num_classes=len(phrase_ids), attention=attention
        )
        networks = Networks(config)
        state = {k: v for k, v in source["model"].items() if not k.startswith("predictor.")}
        try:
            networks.load_state_dict(state, strict=False)
        except RuntimeError as error:
            raise MusicDanceError(f"init checkpoint does not fit: {error}", init) from error
    else:
        make = ModelConfig.resnet50 if encoder == "resnet50" else ModelConfig.light
        if encoder not in ("light", "resnet50"):
            raise MusicDanceError(f"unknown encoder {encoder!r}; expected light or resnet50")
        config = make(len(phrase_ids), attention=attention, embedding_dim=embedding_dim)
        networks = Networks(config)
    for parameter in networks.encoder.parameters():
        parameter.requires_grad_(False)
    u_train = embed(networks.encoder, train_arrays.mel)
    u_test = embed(networks.encoder, test_arrays.mel)
    y_train = torch.from_numpy(train_labels)
    y_test = torch.from_numpy(test_labels)
    weights = losses.balanced_class_weights(y_train, len(phrase_ids)) if balance else None
    optimizer = _sgd(networks.predictor, lr, momentum, weight_decay)
    history: list[dict[str, Any]] = []
    start = 0
    if resume_from is not None:
        optimizer.load_state_dict(resume_from["optimizer"])
        torch.set_rng_state(resume_from["rng"])
        history, start = list(resume_from["history"]), int(resume_from["epoch"])

    def save(epoch: int) -> None:
        save_checkpoint(
            out,
            _payload(
                "finetune", networks, epoch=epoch, history=history, seed=seed,
                settings=settings, optimizer=optimizer, phrase_ids=phrase_ids, library=library,
            ),
        )  # fmt: skip

    with _progress(progress, "finetune", epochs - start) as advance:
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            loss = _train_predictor(
                networks.predictor, u_train, y_train, optimizer=optimizer,
                class_weights=weights, batch_size=batch_size, seed=seed * 1000 + epoch,
            )  # fmt: skip
            metrics = {"epoch": epoch + 1, "loss": round(loss, 6)}
            metrics.update(topk_accuracy(_probabilities(networks.predictor, u_test), y_test))
            metrics["train_top1"] = topk_accuracy(
                _probabilities(networks.predictor, u_train), y_train, ks=(1,)
            )["top1"]
            metrics["seconds"] = round(time.perf_counter() - t0, 4)
            history.append(metrics)
            advance(loss=loss, top1=metrics["top1"])
            if (epoch + 1) % save_every == 0 or epoch + 1 == epochs:
                save(epoch + 1)
    if start >= epochs:
        save(start)
    notes = [] if len(test_arrays) else ["no test songs: top-k metrics are NaN"]
    return TrainResult(
        "finetune", out, epochs, history, round(time.perf_counter() - started, 3),
        len(train_arrays), notes,
    )  # fmt: skip


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
    resume: bool = False,
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
        balance: class balancing (default: as the init checkpoint was trained).
    """
    started = time.perf_counter()
    out = Path(out)
    if rounds < 1 or epochs_per_round < 1 or not 0.0 <= alpha <= 1.0 or not 0.0 < tau < 1.0:
        raise MusicDanceError("need rounds, epochs >= 1, 0 <= alpha <= 1 and 0 < tau < 1")
    opened = open_corpus(corpus)
    phrase_ids, lib_info = _corpus_classes(opened)
    source = load_checkpoint(init, stages=("finetune", "coascent"))
    _check_classes(source, phrase_ids)
    if balance is None:
        balance = bool((source.get("settings") or {}).get("balance", False))
    settings = {
        "rounds": rounds, "epochs_per_round": epochs_per_round, "tau": tau, "alpha": alpha,
        "lr": lr, "momentum": momentum, "weight_decay": weight_decay, "batch_size": batch_size,
        "balance": balance, "seed": seed, "init": str(init),
    }  # fmt: skip
    resume_from = _resume_state(out, "coascent", settings) if resume else None
    _seed_everything(seed)
    state = resume_from or source
    networks = networks_from_checkpoint(state)
    if state.get("transition") is not None:
        transition = state["transition"].double().numpy()
    else:
        transition = initial_transitions(library or lib_info["path"], phrase_ids)
    if transition.shape != (len(phrase_ids), len(phrase_ids)):
        raise MusicDanceError(f"transition matrix is {transition.shape}, K = {len(phrase_ids)}")
    train_arrays, train_labels = _labelled_data(opened, phrase_ids, "train")
    test_arrays, test_labels = _labelled_data(opened, phrase_ids, "test")
    unlabelled = opened.load(split="train", labelled=False)
    if len(unlabelled) == 0:
        raise MusicDanceError("co-ascent needs unlabelled songs in the corpus", opened.path)
    for parameter in networks.encoder.parameters():
        parameter.requires_grad_(False)
    u_train, u_test = (
        embed(networks.encoder, train_arrays.mel),
        embed(networks.encoder, test_arrays.mel),
    )
    u_unlabelled = embed(networks.encoder, unlabelled.mel)
    y_train, y_test = torch.from_numpy(train_labels), torch.from_numpy(test_labels)
    optimizer = _sgd(networks.predictor, lr, momentum, weight_decay)
    history = list(state["history"]) if resume_from is not None else []
    start = int(resume_from["epoch"]) if resume_from is not None else 0
    if resume_from is not None:
        optimizer.load_state_dict(resume_from["optimizer"])
        torch.set_rng_state(resume_from["rng"])
    with _progress(progress, "co-ascent", rounds - start) as advance:
        for round_index in range(start, rounds):
            t0 = time.perf_counter()
            probabilities = _probabilities(networks.predictor, u_unlabelled).double().numpy()
            labels, confidences, _ = rescale_with_transitions(
                probabilities, unlabelled.song, transition
            )
            chosen = confidences > tau
            u_all = torch.cat([u_train, u_unlabelled[torch.from_numpy(chosen)]])
            y_all = torch.cat([y_train, torch.from_numpy(labels[chosen])])
            weights = losses.balanced_class_weights(y_all, len(phrase_ids)) if balance else None
            loss = 0.0
            for epoch in range(epochs_per_round):
                loss = _train_predictor(
                    networks.predictor, u_all, y_all, optimizer=optimizer,
                    class_weights=weights, batch_size=batch_size,
                    seed=seed * 1000 + round_index * epochs_per_round + epoch,
                )  # fmt: skip
            transition = update_transitions(
                transition, labels, confidences, unlabelled.song, alpha=alpha
            )
            metrics = {
                "epoch": round_index + 1,
                "loss": round(loss, 6),
                "pseudo_labels": int(chosen.sum()),
                "unlabelled": len(chosen),
                "mean_confidence": round(float(confidences.mean()), 4),
            }
            metrics.update(topk_accuracy(_probabilities(networks.predictor, u_test), y_test))
            metrics["seconds"] = round(time.perf_counter() - t0, 4)
            history.append(metrics)
            advance(pseudo=metrics["pseudo_labels"], top1=metrics["top1"])
            save_checkpoint(
                out,
                _payload(
                    "coascent", networks, epoch=round_index + 1, history=history, seed=seed,
                    settings=settings, optimizer=optimizer, phrase_ids=phrase_ids,
                    library=lib_info, transition=transition,
                ),
            )  # fmt: skip
    if start >= rounds and not out.exists():  # pragma: no cover - defensive
        raise MusicDanceError("nothing to do and no checkpoint", out)
    return TrainResult(
        "coascent", out, rounds, history, round(time.perf_counter() - started, 3),
        len(train_arrays) + len(unlabelled),
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
