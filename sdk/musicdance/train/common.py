"""What every training stage shares: the run result, top-k accuracy, embeddings (in shares
across ranks), labelled data and classes of a corpus, seeding, and progress reporting."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from musicdance.corpus.reader import Corpus, CorpusArrays
from musicdance.errors import MusicDanceError
from musicdance.train.data import mel_tensor

TOP_K = (1, 5, 10)


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


#: How training reports progress: ``progress(description, total)`` returns a context manager
#: that yields ``advance(steps=1, **fields)``. Called on rank 0 only; with ``processes > 1`` it
#: runs in a spawned process, so it must be picklable (a module-level function). The CLI passes
#: a rich progress bar (``mdtool.app.training_progress``); the SDK itself prints nothing.
TrainingProgress = Callable[[str, int], AbstractContextManager[Callable[..., None]]]


@contextlib.contextmanager
def report_progress(
    progress: TrainingProgress | None, description: str, total: int
) -> Iterator[Callable[..., None]]:
    """``progress(description, total)``, or a no-op ``advance`` without one."""
    if progress is None:
        yield lambda *args, **kwargs: None
        return
    with progress(description, total) as advance:
        yield advance


def labelled_data(
    corpus: Corpus, phrase_ids: list[str], split: str
) -> tuple[CorpusArrays, np.ndarray]:
    arrays = corpus.load(split=split, labelled=True)
    labels = arrays.label_indices(phrase_ids)
    keep = labels >= 0  # a labelled song may leave a slot unlabelled (none today)
    return arrays.subset(keep), labels[keep]


def corpus_classes(corpus: Corpus) -> tuple[list[str], dict[str, Any]]:
    if not corpus.phrase_ids:
        raise MusicDanceError(
            "the corpus has no labelled songs (no library); build it with labelled songs",
            corpus.path,
        )
    return corpus.phrase_ids, corpus.library or {}


def seed_everything(seed: int) -> None:
    torch.manual_seed(int(seed))
    np.random.seed(int(seed) % 2**32)


def embed_shared(encoder: nn.Module, mel: np.ndarray, rank: int, world: int) -> torch.Tensor:
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
