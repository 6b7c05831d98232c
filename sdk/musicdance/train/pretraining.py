"""Self-supervised pre-training of E, D1-D3 (eq. 1-4), optionally distributed."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler

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
from musicdance.train.common import TrainingProgress, TrainResult, report_progress, seed_everything
from musicdance.train.data import PretextDataset, make_loader
from musicdance.train.distributed import process_notes, run_processes, wrap_ddp
from musicdance.train.networks import Networks


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
    progress: TrainingProgress | None = None,
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
        progress: reports progress (rank 0; :data:`TrainingProgress`).
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
    resume_from = resume_state(out, "pretrain", settings) if resume else None
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


def _pretrain_loop(rank: int, world: int, job: dict[str, Any]) -> None:
    settings = job["settings"]
    seed, epochs = settings["seed"], settings["epochs"]
    seed_everything(seed)
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
        with report_progress(
            job["progress"] if rank == 0 else None, f"pretrain {epoch + 1}/{epochs}", steps
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
                checkpoint_payload(
                    "pretrain", networks, epoch=epoch + 1, history=history, seed=seed,
                    settings=settings, optimizer=optimizer, scheduler=scheduler,
                ),
            )  # fmt: skip
    if start >= epochs and rank == 0 and not out.exists():  # pragma: no cover - defensive
        raise MusicDanceError("nothing to do and no checkpoint", out)
