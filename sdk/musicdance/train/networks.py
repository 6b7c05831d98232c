"""The paper's networks: encoder E, decoders D1-D3 and predictor T (appendix Tables 3-6).

Layout of the phrase input, shared with the analysis code: a log-mel "image"
``mel [B, 1, 128, 128]`` = ``[batch, channel, mel band (low to high), frame]``. The encoder
returns the temporal feature ``f_t [B, D, 4]`` (D = embedding size, 512 in the paper) and the
embedding ``u [B, D]``.

Table 3 writes the *feature* layer as ``AdaptiveAvgPool2d((None, 1))``, i.e. it keeps the first
spatial axis; the paper calls the result a *temporal* feature and decodes melody and rhythm
curves over time from it (Table 5), so here the pooling keeps the time axis (the last one, given
the band-by-frame layout above) and averages over frequency. That is the same layer with the
axes named by meaning. Table 3 also lists Conv_6 as "2048x1x1 / 1" while f_t has 512 channels:
Conv_6 is read as a 1x1 convolution from Conv_5's 2048 channels to D. Both pooling layers are
plain means (ONNX ReduceMean), which is what the adaptive pools reduce to on a 4x4 map.

Every module uses only operators that Unity Sentis / Inference Engine imports (Conv,
ConvTranspose, BatchNormalization, Relu, MaxPool, ReduceMean, Gemm/MatMul, Sigmoid, Softmax,
Add, Mul, Reshape): no recurrent layers, no loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from musicdance.model_config import (
    CURVE_LENGTH,
    MEL_BANDS,
    PHRASE_FRAMES,
    TEMPORAL_POSITIONS,
    ModelConfig,
)

__all__ = [
    "Bottleneck",
    "Encoder",
    "EncoderSpec",
    "ModelConfig",
    "Networks",
    "Predictor",
    "ProbabilityModel",
    "ResidualAttentionBlock",
    "SequenceDecoder",
    "SpectrogramDecoder",
    "build_encoder",
    "encoder_spec",
    "example_mel",
    "output_shapes",
    "parameter_count",
]


# --------------------------------------------------------------------------------------------
# Encoder E (Table 3)


class Bottleneck(nn.Module):
    """ResNet bottleneck (He et al. 2016, torchvision "v1.5": the stride sits on the 3x3 conv).

    ``x [B, C_in, H, W] -> [B, 4 * planes, H / stride, W / stride]``.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@dataclass(frozen=True)
class EncoderSpec:
    """Widths and depths of a ResNet-style encoder.

    Attributes:
        stem_channels: filters of Conv_1 (7x7 / 2).
        planes: bottleneck planes of Conv_2..Conv_5 (their outputs have 4x as many channels).
        blocks: bottleneck blocks per stage.
    """

    stem_channels: int
    planes: tuple[int, int, int, int]
    blocks: tuple[int, int, int, int]


#: Table 3: ResNet50 (3, 4, 6, 3 bottlenecks of 64, 128, 256, 512 planes), ~24.5 M parameters.
RESNET50 = EncoderSpec(stem_channels=64, planes=(64, 128, 256, 512), blocks=(3, 4, 6, 3))
#: The CPU default: the same layers, narrower and shallower, with the width kept where the map is
#: small (4x4 at Conv_5) so that most parameters cost little compute: ~3.0 M parameters at D = 512.
LIGHT = EncoderSpec(stem_channels=32, planes=(16, 32, 64, 256), blocks=(1, 2, 2, 2))


#: Channel counts of a scaled encoder are rounded to multiples of this.
WIDTH_QUANTUM = 4


def encoder_spec(kind: str, width: float = 1.0) -> EncoderSpec:
    """The :class:`EncoderSpec` of an encoder kind (``"light"`` or ``"resnet50"``).

    ``width`` multiplies the stem filters and bottleneck planes (each rounded to a multiple of
    :data:`WIDTH_QUANTUM`, at least one quantum); depths are unchanged, so the interface
    (``mel [B, 1, 128, 128] -> f_t [B, D, 4], u [B, D]``) is the same at any width.
    """
    spec = {"light": LIGHT, "resnet50": RESNET50}[kind]
    if width == 1.0:
        return spec

    def scale(channels: int) -> int:
        return max(WIDTH_QUANTUM, round(channels * width / WIDTH_QUANTUM) * WIDTH_QUANTUM)

    planes = tuple(scale(p) for p in spec.planes)
    return EncoderSpec(scale(spec.stem_channels), planes, spec.blocks)  # type: ignore[arg-type]


def _stage(in_channels: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """``blocks`` bottlenecks; the first one carries the stride and the channel change."""
    layers = [Bottleneck(in_channels, planes, stride)]
    layers += [Bottleneck(planes * Bottleneck.expansion, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Encoder E: ``mel [B, 1, 128, 128] -> (f_t [B, D, 4], u [B, D])``.

    Conv_1 (7x7/2) + BN + ReLU -> MaxPool (3x3/2) -> Conv_2..Conv_5 (bottleneck stages, strides
    1, 2, 2, 2) -> Conv_6 (1x1 conv to D channels, feature map ``[B, D, 4, 4]``) -> *feature*:
    mean over frequency -> f_t -> *embedding*: mean over time -> u.
    """

    def __init__(self, spec: EncoderSpec, embedding_dim: int = 512) -> None:
        super().__init__()
        self.spec = spec
        self.embedding_dim = embedding_dim
        self.stem = nn.Sequential(
            nn.Conv2d(1, spec.stem_channels, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(spec.stem_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages, channels = [], spec.stem_channels
        for index, (planes, blocks) in enumerate(zip(spec.planes, spec.blocks, strict=True)):
            stages.append(_stage(channels, planes, blocks, stride=1 if index == 0 else 2))
            channels = planes * Bottleneck.expansion
        self.stages = nn.Sequential(*stages)
        self.head = nn.Conv2d(channels, embedding_dim, 1)  # Conv_6
        _init_conv_bn(self)

    def feature_map(self, mel: torch.Tensor) -> torch.Tensor:
        """``mel [B, 1, 128, 128] -> [B, D, 4, 4]`` (band x time), the output of Conv_6."""
        return self.head(self.stages(self.stem(mel)))

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mel [B, 1, 128, 128] -> (f_t [B, D, 4], u [B, D])``."""
        temporal = self.feature_map(mel).mean(dim=2)
        return temporal, temporal.mean(dim=2)


def _init_conv_bn(module: nn.Module) -> None:
    """He initialisation for convolutions, unit scale / zero shift for batch norms."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


def build_encoder(config: ModelConfig) -> Encoder:
    """The encoder a :class:`ModelConfig` names."""
    return Encoder(encoder_spec(config.encoder, config.encoder_width), config.embedding_dim)


# --------------------------------------------------------------------------------------------
# Decoders D1 (Table 4), D2 and D3 (Table 5)

#: Table 4: (filters, kernel, stride, padding) of the 8 transposed convolutions; the last has no
#: batch norm / ReLU. Feature sizes 4, 8, 16, 32, 32, 64, 64, 128.
D1_LAYERS: tuple[tuple[int, int, int, int], ...] = (
    (512, 4, 1, 0),
    (512, 4, 2, 1),
    (256, 4, 2, 1),
    (256, 4, 2, 1),
    (128, 3, 1, 1),
    (128, 4, 2, 1),
    (64, 3, 1, 1),
    (1, 4, 2, 1),
)
#: Table 5: filters of the 5 transposed 1D convolutions (kernel 2, stride 2): lengths 8 ... 128.
D23_FILTERS: tuple[int, ...] = (512, 256, 128, 64, 32)


class SpectrogramDecoder(nn.Module):
    """D1: ``u [B, D] -> mel [B, 1, 128, 128]`` (DCGAN-like, 8 transposed 2D convolutions).

    ``width_divisor`` divides the filters of layers 1-7 (1 = Table 4).
    """

    def __init__(self, embedding_dim: int = 512, width_divisor: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = embedding_dim
        for index, (filters, kernel, stride, padding) in enumerate(D1_LAYERS):
            last = index == len(D1_LAYERS) - 1
            out = filters if last else filters // width_divisor
            layers.append(nn.ConvTranspose2d(channels, out, kernel, stride, padding, bias=last))
            if not last:
                layers += [nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        self.layers = nn.Sequential(*layers)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        """``u [B, D] -> [B, 1, 128, 128]``."""
        return self.layers(embedding[:, :, None, None])


class SequenceDecoder(nn.Module):
    """D2 (melody) / D3 (rhythm): ``f_t [B, D, 4] -> [B, 1, 128]`` (Table 5).

    Five ``ConvTranspose1d(k=2, s=2) + ReLU`` layers double the length 4 -> 128, then a 1x1
    ``Conv1d`` to one channel; ``sigmoid=True`` (D3) ends in a sigmoid so the output is a
    per-frame onset probability.
    """

    def __init__(self, embedding_dim: int = 512, sigmoid: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = embedding_dim
        for filters in D23_FILTERS:
            layers += [nn.ConvTranspose1d(channels, filters, 2, stride=2), nn.ReLU(inplace=True)]
            channels = filters
        layers.append(nn.Conv1d(channels, 1, 1))
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.layers = nn.Sequential(*layers)

    def forward(self, temporal: torch.Tensor) -> torch.Tensor:
        """``f_t [B, D, 4] -> [B, 1, 128]``."""
        return self.layers(temporal)


# --------------------------------------------------------------------------------------------
# Predictor T (Table 6, Fig. 6)


class ResidualAttentionBlock(nn.Module):
    """Res-Att: an SE block (Hu et al. 2018) applied to a fully connected residual branch.

    ``h = W2 relu(W1 x)`` (512 -> 1024 -> 512), ``a = sigmoid(W4 relu(W3 h))`` (512 -> 16 -> 512),
    ``out = relu(x + a * h)``; without attention ``out = relu(x + h)``. ``[B, D] -> [B, D]``.
    """

    def __init__(self, dim: int = 512, attention: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)
        self.attention = attention
        self.squeeze = nn.Linear(dim, dim // 32) if attention else None
        self.excite = nn.Linear(dim // 32, dim) if attention else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, D] -> [B, D]``."""
        branch = self.fc2(self.relu(self.fc1(x)))
        if self.squeeze is not None and self.excite is not None:
            branch = branch * torch.sigmoid(self.excite(self.relu(self.squeeze(branch))))
        return self.relu(x + branch)


class Predictor(nn.Module):
    """T: ``u [B, D] -> logits [B, K]``: Linear(D, D) + ReLU, three Res-Att blocks, Linear(D, K).

    Softmax is left to the loss (training) and to :class:`ProbabilityModel` (inference).
    """

    def __init__(self, num_classes: int, dim: int = 512, attention: bool = True) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(dim, dim), nn.ReLU())
        self.blocks = nn.Sequential(*(ResidualAttentionBlock(dim, attention) for _ in range(3)))
        self.head = nn.Linear(dim, num_classes)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        """``u [B, D] -> logits [B, K]``."""
        return self.head(self.blocks(self.stem(embedding)))


class ProbabilityModel(nn.Module):
    """Encoder + predictor + softmax: ``mel [B, 1, 128, 128] -> probabilities [B, K]``."""

    def __init__(self, encoder: Encoder, predictor: Predictor) -> None:
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``mel [B, 1, 128, 128] -> F_pred(u) [B, K]`` (rows sum to 1)."""
        _, embedding = self.encoder(mel)
        return torch.softmax(self.predictor(embedding), dim=-1)


# --------------------------------------------------------------------------------------------
# All of them


class Networks(nn.Module):
    """Every network of one :class:`ModelConfig`, as one module (one state dict per checkpoint).

    Attributes: ``encoder`` (E), ``predictor`` (T), ``spectrogram_decoder`` (D1),
    ``melody_decoder`` (D2), ``rhythm_decoder`` (D3), ``config``.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        dim = self.config.embedding_dim
        self.encoder = build_encoder(self.config)
        self.predictor = Predictor(self.config.num_classes, dim, self.config.attention)
        self.spectrogram_decoder = SpectrogramDecoder(dim, self.config.spectrogram_decoder_divisor)
        self.melody_decoder = SequenceDecoder(dim, sigmoid=False)
        self.rhythm_decoder = SequenceDecoder(dim, sigmoid=True)

    def pretext(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pre-training forward pass (eq. 1-3).

        ``mel [B, 1, 128, 128] -> (mel' [B, 1, 128, 128], melody [B, 1, 128],
        rhythm probabilities [B, 1, 128])``.
        """
        temporal, embedding = self.encoder(mel)
        return (
            self.spectrogram_decoder(embedding),
            self.melody_decoder(temporal),
            self.rhythm_decoder(temporal),
        )

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Fine-tuning / inference forward pass: ``mel [B, 1, 128, 128] -> logits [B, K]``."""
        _, embedding = self.encoder(mel)
        return self.predictor(embedding)

    def probability_model(self) -> ProbabilityModel:
        """The inference graph (shares this module's parameters)."""
        return ProbabilityModel(self.encoder, self.predictor)


def parameter_count(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def example_mel(batch: int = 2, *, seed: int = 0) -> torch.Tensor:
    """A random phrase input ``[batch, 1, 128, 128]`` (standard normal, float32)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 1, MEL_BANDS, PHRASE_FRAMES, generator=generator)


def output_shapes(config: ModelConfig, batch: int) -> dict[str, Sequence[int]]:
    """Expected output shape of each network for a batch (used by tests and export checks)."""
    dim, k = config.embedding_dim, config.num_classes
    return {
        "temporal": (batch, dim, TEMPORAL_POSITIONS),
        "embedding": (batch, dim),
        "logits": (batch, k),
        "probabilities": (batch, k),
        "mel": (batch, 1, MEL_BANDS, PHRASE_FRAMES),
        "melody": (batch, 1, CURVE_LENGTH),
        "rhythm": (batch, 1, CURVE_LENGTH),
    }
