"""What to build: the network configuration that training, export and loading share.

torch-free on purpose, so that a runtime bundle manifest can be read and validated without the
``train`` extra installed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from musicdance.errors import MusicDanceError

EncoderKind = Literal["light", "resnet50"]
ENCODER_KINDS: tuple[str, ...] = ("light", "resnet50")

#: Phrase input sizes fixed by the paper (section 3.5): a 128 x 128 log-mel "image" and melody /
#: rhythm curves of length 128.
MEL_BANDS = 128
PHRASE_FRAMES = 128
CURVE_LENGTH = 128
#: Time positions of the temporal feature f_t (Table 3: 512 x 4 x 1).
TEMPORAL_POSITIONS = 4
#: Range of the light encoder's channel multiplier (:attr:`ModelConfig.encoder_width`).
MIN_ENCODER_WIDTH = 0.25
MAX_ENCODER_WIDTH = 4.0


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters that fix the shapes of every network.

    Attributes:
        encoder: ``"light"`` (default, a few million parameters, for CPU) or ``"resnet50"``
            (Table 3).
        num_classes: K, the number of dance phrases in the library (predictor output size).
        embedding_dim: size of the music embedding u and the channels of f_t (512 in the paper).
        attention: residual attention in the predictor's blocks (False: plain residual MLP, the
            ablation of Table 1 group II against group III).
        spectrogram_decoder_divisor: D1's channel counts (Table 4) are divided by this; 1 is the
            paper, the light preset uses 4 so that CPU pre-training is not dominated by D1.
        encoder_width: channel multiplier of the light encoder (stem filters and bottleneck
            planes, rounded to multiples of 4), in [0.25, 4]. 1.0 is the documented light
            encoder (~2.8 M parameters at D = 256); parameters grow about as its square (0.7:
            ~1.4 M). The ResNet50 encoder is always at the paper's width (1.0).
    """

    encoder: EncoderKind = "light"
    num_classes: int = 200
    embedding_dim: int = 512
    attention: bool = True
    spectrogram_decoder_divisor: int = 4
    encoder_width: float = 1.0

    def __post_init__(self) -> None:
        if self.encoder not in ENCODER_KINDS:
            raise MusicDanceError(
                f"unknown encoder {self.encoder!r}; expected one of {', '.join(ENCODER_KINDS)}"
            )
        if not _is_int(self.num_classes) or self.num_classes < 2:
            raise MusicDanceError(
                f"num_classes (K) must be an integer >= 2, got {self.num_classes!r}"
            )
        if not _is_int(self.embedding_dim) or self.embedding_dim < 32 or self.embedding_dim % 32:
            raise MusicDanceError(
                f"embedding_dim must be a positive multiple of 32, got {self.embedding_dim!r}"
            )
        if not isinstance(self.attention, bool):
            raise MusicDanceError(f"attention must be true or false, got {self.attention!r}")
        divisor = self.spectrogram_decoder_divisor
        if not _is_int(divisor) or divisor not in (1, 2, 4, 8):
            raise MusicDanceError(
                f"spectrogram_decoder_divisor must be 1, 2, 4 or 8, got {divisor!r}"
            )
        self._check_width()

    def _check_width(self) -> None:
        width = self.encoder_width
        if isinstance(width, bool) or not isinstance(width, int | float):
            raise MusicDanceError(f"encoder_width must be a number, got {width!r}")
        if not MIN_ENCODER_WIDTH <= width <= MAX_ENCODER_WIDTH:
            raise MusicDanceError(
                f"encoder_width must be in [{MIN_ENCODER_WIDTH}, {MAX_ENCODER_WIDTH}], got {width}"
            )
        if self.encoder != "light" and width != 1.0:
            raise MusicDanceError(
                f"encoder_width applies to the light encoder; {self.encoder} is always at the "
                f"paper's width (got {width})"
            )

    @classmethod
    def light(cls, num_classes: int = 200, **overrides: Any) -> ModelConfig:
        """The CPU default: light encoder, D1 at a quarter of the paper's width."""
        return cls(encoder="light", num_classes=num_classes, **overrides)

    @classmethod
    def resnet50(cls, num_classes: int = 200, **overrides: Any) -> ModelConfig:
        """The paper's configuration: ResNet50 encoder (Table 3), D1 at full width (Table 4)."""
        overrides.setdefault("spectrogram_decoder_divisor", 1)
        return cls(encoder="resnet50", num_classes=num_classes, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for checkpoints and bundle manifests)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown or missing fields are a :class:`MusicDanceError`."""
        if not isinstance(data, dict):
            raise MusicDanceError(f"model config must be a mapping, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise MusicDanceError(f"unknown model config fields: {', '.join(unknown)}")
        return cls(**data)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
