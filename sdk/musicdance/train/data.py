"""torch ``Dataset`` wrappers over a corpus (:mod:`musicdance.corpus.build`).

The corpus keeps mel spectrograms as float16 (half the disk and memory; their quantisation,
<= 2.5e-4 on [0, 1], is far below the dB resolution of the features); the datasets hand out
float32 tensors in the networks' layout:

- :class:`PretextDataset`: ``(mel [1, 128, 128], melody [1, 128], rhythm [1, 128])``, the input
  and the three targets of pre-training (eq. 1-4);
- :class:`LabelledDataset`: ``(mel [1, 128, 128], label)`` with ``label`` an int64 class index
  into the model's phrase ids (eq. 5).

Both implement ``__getitems__`` (one numpy fancy-index per batch instead of one call per
sample); :func:`make_loader` builds a ``DataLoader`` that uses it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from musicdance.corpus.reader import CorpusArrays

__all__ = ["LabelledDataset", "PretextDataset", "make_loader", "mel_tensor"]


def mel_tensor(mel: np.ndarray) -> torch.Tensor:
    """``[N, 128, 128]`` (any float dtype) -> float32 ``[N, 1, 128, 128]``."""
    return torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32)).unsqueeze(1)


class PretextDataset(Dataset):
    """Pre-training samples: the mel input and its mel / melody / rhythm targets."""

    def __init__(self, arrays: CorpusArrays) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mel, melody, rhythm = self.__getitems__([index])
        return mel[0], melody[0], rhythm[0]

    def __getitems__(self, indices) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = np.asarray(indices, dtype=np.int64)
        a = self.arrays
        curves = [
            torch.from_numpy(np.ascontiguousarray(x[rows], dtype=np.float32)).unsqueeze(1)
            for x in (a.melody, a.rhythm)
        ]
        return mel_tensor(a.mel[rows]), curves[0], curves[1]


class LabelledDataset(Dataset):
    """Labelled samples: the mel input and the class index of its dance phrase.

    Args:
        arrays: corpus samples, every one labelled.
        labels: ``[N]`` int64 class indices (``CorpusArrays.label_indices``), all >= 0.
    """

    def __init__(self, arrays: CorpusArrays, labels: np.ndarray) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (len(arrays),) or (labels < 0).any():
            raise ValueError("labels must be [N] class indices >= 0, one per sample")
        self.arrays = arrays
        self.labels = labels

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        mel, label = self.__getitems__([index])
        return mel[0], label[0]

    def __getitems__(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.asarray(indices, dtype=np.int64)
        return mel_tensor(self.arrays.mel[rows]), torch.from_numpy(self.labels[rows])


def _passthrough(batch):
    return batch


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    sampler: Sampler | None = None,
    drop_last: bool = False,
) -> DataLoader:
    """A ``DataLoader`` that fetches whole batches through ``__getitems__``.

    ``shuffle`` draws from a generator seeded with ``seed`` (same seed, same order); a
    ``sampler`` (e.g. ``DistributedSampler``) replaces the shuffling.
    """
    generator = torch.Generator().manual_seed(int(seed)) if shuffle and sampler is None else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        generator=generator,
        collate_fn=_passthrough,
        drop_last=drop_last,
        num_workers=0,
    )
