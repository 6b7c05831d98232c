"""BiLSTM-BiGRU (seed 003): the network of the paper's Fig. 4 on a 130-long summary vector.

``[N, 130]`` (a 1-channel sequence of 130 values) -> Conv1D 256 (k 3) + LeakyReLU -> Conv1D
256 + LeakyReLU -> MaxPool 2 -> Dropout -> Conv1D 256 + LeakyReLU -> Conv1D 256 + LeakyReLU ->
MaxPool 2 -> Dropout (``[N, 29, 256]``) -> BiLSTM 256 (sequences, ``[N, 29, 512]``) -> Dropout
-> BiGRU 256 (last outputs of both directions, ``[N, 512]``) -> Dropout -> Dense 256 +
LeakyReLU -> Dropout -> Dense K (softmax in the loss). Baselines of the paper's Fig. 6/7:
``LSTM-BiGRU`` and ``LSTM-GRU`` (unidirectional first / both layers; the Dense input follows);
``BiLSTM-BiLSTM`` is the variant whose both recurrent layers run in Unity Sentis.

The paper does not give the dropout rate or LeakyReLU slope: Keras' defaults are taken for the
slope (0.3) and 0.3 for dropout. PyTorch's LSTM has two bias vectors where Keras has one, so
this network has 2,048 more parameters than Fig. 4's 2,957,573 (for K = 5).
:class:`UnrolledBiGru` computes the same BiGRU with MatMul/Sigmoid/Tanh/Mul/Add/Sub only.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ARCHITECTURES", "BiLstmBiGru", "UnrolledBiGru", "SentisBiLstmBiGru"]

WIDTH = 256
DROPOUT = 0.3
LEAKY_SLOPE = 0.3
#: Recurrent layers of each architecture: (first layer, bidirectional?), (second, bidirectional?)
ARCHITECTURES = {
    "bilstm-bigru": (("lstm", True), ("gru", True)),
    "lstm-bigru": (("lstm", False), ("gru", True)),
    "lstm-gru": (("lstm", False), ("gru", False)),
    "bilstm-bilstm": (("lstm", True), ("lstm", True)),
}


def _rnn(kind: str, size_in: int, bidirectional: bool) -> nn.Module:
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    return cls(size_in, WIDTH, batch_first=True, bidirectional=bidirectional)


class BiLstmBiGru(nn.Module):
    """Fig. 4: ``[N, 130]`` -> logits ``[N, K]``; ``features(x)`` is the Dense-256 output (the
    vector the cosine-kNN recommendation compares)."""

    def __init__(self, classes: int, architecture: str = "bilstm-bigru") -> None:
        super().__init__()
        (k1, b1), (k2, b2) = ARCHITECTURES[architecture]
        self.architecture = architecture
        act = nn.LeakyReLU(LEAKY_SLOPE)
        self.convs = nn.Sequential(
            nn.Conv1d(1, WIDTH, 3),
            act,
            nn.Conv1d(WIDTH, WIDTH, 3),
            act,
            nn.MaxPool1d(2),
            nn.Dropout(DROPOUT),
            nn.Conv1d(WIDTH, WIDTH, 3),
            act,
            nn.Conv1d(WIDTH, WIDTH, 3),
            act,
            nn.MaxPool1d(2),
            nn.Dropout(DROPOUT),
        )
        self.rnn1 = _rnn(k1, WIDTH, b1)
        self.rnn2 = _rnn(k2, WIDTH * (2 if b1 else 1), b2)
        self.bidirectional2 = b2
        self.drop = nn.Dropout(DROPOUT)
        self.dense = nn.Linear(WIDTH * (2 if b2 else 1), WIDTH)
        self.act = act
        self.out = nn.Linear(WIDTH, classes)

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
        return torch.cat([out[:, -1, :WIDTH], out[:, 0, WIDTH:]], dim=-1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(self.drop(self.last(self.sequence(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.features(x)))


class UnrolledBiGru(nn.Module):
    """A bidirectional ``nn.GRU`` (batch first, one layer) unrolled over a fixed length into
    MatMul, Add, Sub, Mul, Sigmoid and Tanh; returns the last output of each direction
    concatenated, ``[N, 2H]`` (what :meth:`BiLstmBiGru.last` returns)."""

    def __init__(self, gru: nn.GRU, length: int) -> None:
        super().__init__()
        self.length = length
        self.hidden = gru.hidden_size
        for suffix in ("", "_reverse"):
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
                value = getattr(gru, name + suffix).detach().clone()
                if name.startswith("weight"):
                    value = value.t().contiguous()
                self.register_buffer((name + suffix).replace("_l0", ""), value)

    def _run(self, x: torch.Tensor, suffix: str, order) -> torch.Tensor:
        w_ih, w_hh = getattr(self, "weight_ih" + suffix), getattr(self, "weight_hh" + suffix)
        b_ih, b_hh = getattr(self, "bias_ih" + suffix), getattr(self, "bias_hh" + suffix)
        size = self.hidden
        projected = torch.matmul(x, w_ih) + b_ih  # [N, L, 3H]: r, z, n input parts
        h = None
        for t in order:
            gi = projected[:, t]
            gh = b_hh if h is None else torch.matmul(h, w_hh) + b_hh
            r = torch.sigmoid(gi[:, :size] + gh[..., :size])
            z = torch.sigmoid(gi[:, size : 2 * size] + gh[..., size : 2 * size])
            n = torch.tanh(gi[:, 2 * size :] + r * gh[..., 2 * size :])
            h = n - z * n if h is None else n + z * (h - n)  # (1 - z) n + z h, h0 = 0
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        forward = self._run(x, "", range(self.length))
        backward = self._run(x, "_reverse", range(self.length - 1, -1, -1))
        return torch.cat([forward, backward], dim=-1)


class SentisBiLstmBiGru(nn.Module):
    """The trained BiLSTM-BiGRU with its BiGRU unrolled (:class:`UnrolledBiGru`): the same
    function (parity checked at export) from operators Unity Sentis imports; returns
    probabilities ``[N, K]``."""

    def __init__(self, model: BiLstmBiGru, length: int = 29) -> None:
        super().__init__()
        if model.architecture != "bilstm-bigru":
            raise ValueError("only the BiLSTM-BiGRU has a BiGRU to unroll")
        self.model = model
        self.gru = UnrolledBiGru(model.rnn2, length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        features = m.act(m.dense(self.gru(m.sequence(x))))
        return torch.softmax(m.out(features), dim=-1)
