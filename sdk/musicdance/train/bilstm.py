"""BiLSTM-BiGRU (seed 003): the network of the paper's Fig. 4 on a 130-long summary vector.

``[N, 130]`` (a 1-channel sequence of 130 values) -> Conv1D 256 (k 3) + LeakyReLU -> Conv1D
256 + LeakyReLU -> MaxPool 2 -> Dropout -> Conv1D 256 + LeakyReLU -> Conv1D 256 + LeakyReLU ->
MaxPool 2 -> Dropout (``[N, 29, 256]``) -> BiLSTM 256 (sequences, ``[N, 29, 512]``) -> Dropout
-> BiGRU 256 (last outputs of both directions, ``[N, 512]``) -> Dropout -> Dense 256 +
LeakyReLU -> Dropout -> Dense K (softmax in the loss). Baselines of the paper's Fig. 6/7:
``LSTM-BiGRU`` and ``LSTM-GRU`` (unidirectional first / both layers; the Dense input follows);
``BiLSTM-BiLSTM`` is the variant whose both recurrent layers run in Unity Sentis.

``width`` (Fig. 4: 256, what the ``dance-music`` companion ships) sets every Conv1D, LSTM, GRU
and Dense width at once; ``NARROW_WIDTH`` is the narrow variant measured beside it
(docs/models.md gives the accuracy of both on the same split and seed).

The paper does not give the dropout rate or LeakyReLU slope: Keras' defaults are taken for the
slope (0.3) and 0.3 for dropout. PyTorch's LSTM has two bias vectors where Keras has one, so
this network has 2,048 more parameters than Fig. 4's 2,957,573 (for K = 5). The engine's
graph (the BiGRU unrolled for Unity Sentis) is made from the exported ONNX graph
(:mod:`musicdance.train.sentis`) and shipped beside it, the two sharing one weights file.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ARCHITECTURES", "NARROW_WIDTH", "WIDTH", "BiLstmBiGru"]

#: Fig. 4's width (2.96 M parameters): the shipped BiLSTM-BiGRU.
WIDTH = 256
#: Width of the narrow variant measured beside it (0.18 M parameters; shipped until 0.1.x).
NARROW_WIDTH = 64
DROPOUT = 0.3
LEAKY_SLOPE = 0.3
#: Recurrent layers of each architecture: (first layer, bidirectional?), (second, bidirectional?)
ARCHITECTURES = {
    "bilstm-bigru": (("lstm", True), ("gru", True)),
    "lstm-bigru": (("lstm", False), ("gru", True)),
    "lstm-gru": (("lstm", False), ("gru", False)),
    "bilstm-bilstm": (("lstm", True), ("lstm", True)),
}


def _rnn(kind: str, size_in: int, width: int, bidirectional: bool) -> nn.Module:
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    return cls(size_in, width, batch_first=True, bidirectional=bidirectional)


class BiLstmBiGru(nn.Module):
    """Fig. 4: ``[N, 130]`` -> logits ``[N, K]``; ``features(x)`` is the Dense output
    (``[N, width]``, the vector the cosine-kNN recommendation compares)."""

    def __init__(
        self, classes: int, architecture: str = "bilstm-bigru", width: int = WIDTH
    ) -> None:
        super().__init__()
        (k1, b1), (k2, b2) = ARCHITECTURES[architecture]
        self.architecture = architecture
        self.width = width
        act = nn.LeakyReLU(LEAKY_SLOPE)
        self.convs = nn.Sequential(
            nn.Conv1d(1, width, 3),
            act,
            nn.Conv1d(width, width, 3),
            act,
            nn.MaxPool1d(2),
            nn.Dropout(DROPOUT),
            nn.Conv1d(width, width, 3),
            act,
            nn.Conv1d(width, width, 3),
            act,
            nn.MaxPool1d(2),
            nn.Dropout(DROPOUT),
        )
        self.rnn1 = _rnn(k1, width, width, b1)
        self.rnn2 = _rnn(k2, width * (2 if b1 else 1), width, b2)
        self.bidirectional2 = b2
        self.drop = nn.Dropout(DROPOUT)
        self.dense = nn.Linear(width * (2 if b2 else 1), width)
        self.act = act
        self.out = nn.Linear(width, classes)

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Conv blocks and the first recurrent layer: ``[N, 130]`` -> ``[N, 29, 512]``."""
        h = self.convs(x.unsqueeze(1)).transpose(1, 2)
        h, _ = self.rnn1(h)
        return self.drop(h)

    def last(self, h: torch.Tensor) -> torch.Tensor:
        """Second recurrent layer, last outputs (both directions concatenated)."""
        out, _ = self.rnn2(h)
        if not self.bidirectional2:
            return out[:, -1]
        return torch.cat([out[:, -1, : self.width], out[:, 0, self.width :]], dim=-1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(self.drop(self.last(self.sequence(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.features(x)))
