"""ONNX export of the paper's networks for onnxruntime and Unity Sentis / Inference Engine.

Each graph is exported with torch's dynamo exporter at opset :data:`OPSET` (its floor), with a
dynamic batch axis named ``batch``, stamped with IR version :data:`IR_VERSION`, checked with
``onnx.checker`` and written atomically. The graphs and their tensors:

=================== ====================== ==============================================
file                inputs                 outputs
=================== ====================== ==============================================
encoder             mel [B, 1, 128, 128]   temporal [B, D, 4], embedding [B, D]        (E)
predictor           embedding [B, D]       logits [B, K]                               (T)
spectrogram_decoder embedding [B, D]       mel [B, 1, 128, 128]                        (D1)
melody_decoder      temporal [B, D, 4]     melody [B, 1, 128]                          (D2)
rhythm_decoder      temporal [B, D, 4]     rhythm [B, 1, 128], in [0, 1]               (D3)
probabilities       mel [B, 1, 128, 128]   probabilities [B, K] (E, T, softmax)
=================== ====================== ==============================================
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from torch import nn

from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.model_config import CURVE_LENGTH, MEL_BANDS, PHRASE_FRAMES, TEMPORAL_POSITIONS
from musicdance.train.networks import Bottleneck, Networks

#: The dynamo exporter's floor; Sentis 2.x / Inference Engine imports it.
OPSET = 18
#: IR 10 (onnx 1.16): read by every onnxruntime from 1.18 (the floor in pyproject) on. onnx 1.23
#: stamps IR 14 by default, which onnxruntime before 1.32 refuses.
IR_VERSION = 10
#: Example batch used while tracing; not 1, so that the exporter does not specialise the batch.
TRACE_BATCH = 2
#: Operators an exported graph may use: each is on Unity Sentis' "Supported ONNX operators" page
#: (Sentis 2.1 / Inference Engine 2.x). Export refuses anything else, so a new operator is added
#: here only after checking that page. Recurrent layers (GRU, LSTM) and control flow (Loop, Scan,
#: If) are deliberately absent.
SENTIS_OPERATORS = frozenset(
    {
        "Add",
        "BatchNormalization",
        "Cast",
        "Concat",
        "Conv",
        "ConvTranspose",
        "Flatten",
        "Gemm",
        "GlobalAveragePool",
        "MatMul",
        "MaxPool",
        "Mul",
        "ReduceMean",
        "Relu",
        "Reshape",
        "Sigmoid",
        "Softmax",
        "Squeeze",
        "Transpose",
        "Unsqueeze",
    }
)

_EXPORTER_LOGGERS = ("torch.onnx._internal.exporter._registration", "torch.onnx")


@dataclass(frozen=True)
class GraphSpec:
    """One exported graph: its module, tensor names, and the shapes of its inputs (no batch)."""

    name: str
    module: nn.Module
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    input_shapes: tuple[tuple[int, ...], ...]


class _EncoderGraph(nn.Module):
    """Wraps E so that both outputs are plain tensors of a tuple (for the exporter)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        temporal, embedding = self.encoder(mel)
        return temporal, embedding


def graph_specs(networks: Networks) -> dict[str, GraphSpec]:
    """The six graphs of :mod:`musicdance.train.export`'s table, keyed by file stem."""
    dim = networks.config.embedding_dim
    mel = (1, MEL_BANDS, PHRASE_FRAMES)
    temporal = (dim, TEMPORAL_POSITIONS)
    specs = [
        GraphSpec(
            "encoder", _EncoderGraph(networks.encoder), ("mel",), ("temporal", "embedding"), (mel,)
        ),
        GraphSpec("predictor", networks.predictor, ("embedding",), ("logits",), ((dim,),)),
        GraphSpec(
            "spectrogram_decoder", networks.spectrogram_decoder, ("embedding",), ("mel",), ((dim,),)
        ),
        GraphSpec(
            "melody_decoder", networks.melody_decoder, ("temporal",), ("melody",), (temporal,)
        ),
        GraphSpec(
            "rhythm_decoder", networks.rhythm_decoder, ("temporal",), ("rhythm",), (temporal,)
        ),
        GraphSpec(
            "probabilities", networks.probability_model(), ("mel",), ("probabilities",), (mel,)
        ),
    ]
    assert CURVE_LENGTH == PHRASE_FRAMES  # D2/D3 decode one value per input frame
    return {spec.name: spec for spec in specs}


def example_inputs(spec: GraphSpec, batch: int = TRACE_BATCH, *, seed: int = 0) -> tuple:
    """Random float32 inputs for a graph: one ``[batch, *shape]`` tensor per input."""
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, *shape, generator=generator) for shape in spec.input_shapes)


def to_onnx(spec: GraphSpec) -> onnx.ModelProto:
    """Export one graph (eval mode, dynamic batch), stamp IR :data:`IR_VERSION`, check it.

    The module is traced in eval mode (batch norms use their running statistics) and put back
    in the mode it was in.
    """
    module = spec.module
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter(), torch.no_grad(), _eval_mode(module):
        program = torch.onnx.export(
            module,
            example_inputs(spec),
            dynamo=True,
            opset_version=OPSET,
            input_names=list(spec.input_names),
            output_names=list(spec.output_names),
            dynamic_shapes=tuple({0: batch} for _ in spec.input_names),
            optimize=True,
            verbose=False,
        )
    model = program.model_proto
    model.ir_version = min(model.ir_version, IR_VERSION)
    model.doc_string = f"mdtool {spec.name}: inputs {spec.input_names} -> {spec.output_names}"
    _check(model, spec.name)
    return model


def to_float16_weights(
    model: onnx.ModelProto, *, min_elements: int = 16, exact: bool = False
) -> onnx.ModelProto:
    """A copy of ``model`` whose float32 weights are stored as float16, each followed by a
    ``Cast`` back to float32: half the file size, float32 arithmetic unchanged (onnxruntime folds
    the casts when it loads the graph). Initializers smaller than ``min_elements`` stay float32.

    ``exact``: every weight must already be a float16 value (a model prepared with
    :func:`round_to_float16`), so that storage changes nothing; raises otherwise.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    initializers, casts = [], []
    for tensor in graph.initializer:
        count = 1
        for dim in tensor.dims:
            count *= dim
        if tensor.data_type != TensorProto.FLOAT or count < min_elements:
            initializers.append(tensor)
            continue
        values = numpy_helper.to_array(tensor)
        rounded = values.astype(np.float16)
        if exact and not np.array_equal(rounded.astype(np.float32), values):
            raise MusicDanceError(
                f"weight {tensor.name} is not float16-exact (the exporter changed the rounded "
                "weights?); float16 storage would move the model"
            )
        half = numpy_helper.from_array(rounded, f"{tensor.name}__fp16")
        initializers.append(half)
        casts.append(
            helper.make_node(
                "Cast",
                [half.name],
                [tensor.name],
                to=TensorProto.FLOAT,
                name=f"{tensor.name}__cast",
            )
        )
    nodes = casts + list(graph.node)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.node[:]
    graph.node.extend(nodes)
    out.doc_string = model.doc_string + " (float16 weights)"
    _check(out, graph.name or "float16")
    return out


def conv_norm_pairs(module: nn.Module) -> list[tuple[str, str, str]]:
    """``(parent name, conv name, norm name)`` of every batch norm that directly follows a
    convolution in ``module`` (a ``Sequential``'s registration order is the data flow)."""
    pairs = []
    for parent_name, parent in module.named_modules():
        if isinstance(parent, nn.Sequential):
            names = list(parent._modules)
            candidates = list(zip(names, names[1:], strict=False))
        elif isinstance(parent, Bottleneck):
            candidates = [(f"conv{index}", f"bn{index}") for index in (1, 2, 3)]
        else:
            continue
        for conv_name, norm_name in candidates:
            conv, norm = getattr(parent, conv_name), getattr(parent, norm_name)
            convolution = isinstance(conv, nn.Conv2d | nn.ConvTranspose2d)
            if convolution and isinstance(norm, nn.BatchNorm2d):
                pairs.append((parent_name, conv_name, norm_name))
    return pairs


def fold_batch_norms(module: nn.Module) -> nn.Module:
    """Fold every batch norm that follows a convolution into it, in place (eval statistics), and
    return ``module``; the batch norms become ``Identity``. Same function up to float32
    round-off (~1e-7 relative). Exporting a folded module gives ONNX initializers equal to its
    parameters (the exporter has no batch norm left to fold), which :func:`round_to_float16`
    needs. Raises if a batch norm is left that does not follow a convolution.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    module.eval()
    for parent_name, conv_name, norm_name in conv_norm_pairs(module):
        parent = module.get_submodule(parent_name)
        conv, norm = getattr(parent, conv_name), getattr(parent, norm_name)
        transpose = isinstance(conv, nn.ConvTranspose2d)
        setattr(parent, conv_name, fuse_conv_bn_eval(conv, norm, transpose=transpose))
        setattr(parent, norm_name, nn.Identity())
    left = [name for name, sub in module.named_modules() if isinstance(sub, nn.BatchNorm2d)]
    if left:
        raise MusicDanceError(f"batch norms that follow no convolution: {', '.join(left)}")
    return module


def round_to_float16(module: nn.Module) -> nn.Module:
    """Round every floating parameter and buffer of ``module`` to the nearest float16 value
    (kept as float32), in place, and return ``module``. Raises if a value overflows float16."""
    with torch.no_grad():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if not tensor.is_floating_point():
                continue
            rounded = tensor.to(torch.float16).to(tensor.dtype)
            if not torch.isfinite(rounded).all():
                raise MusicDanceError(f"{name} overflows float16; export with float32 weights")
            tensor.copy_(rounded)
    return module


def export_graph(spec: GraphSpec, path: str | os.PathLike[str], *, float16: bool = False) -> Path:
    """Export one graph to ``path`` (written atomically); returns the path.

    ``float16``: store the weights as float16 (:func:`to_float16_weights`).
    """
    model = to_onnx(spec)
    if float16:
        model = to_float16_weights(model)
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        handle.write(model.SerializeToString())
    return target


def export_networks(
    networks: Networks,
    out_dir: str | os.PathLike[str],
    names: tuple[str, ...] | None = None,
    *,
    float16: bool = False,
) -> dict[str, Path]:
    """Export the graphs ``names`` (default: all six) of ``networks`` to ``out_dir/<name>.onnx``."""
    specs = graph_specs(networks)
    unknown = sorted(set(names or ()) - set(specs))
    if unknown:
        raise MusicDanceError(f"unknown graphs {unknown}; known: {', '.join(specs)}")
    out = Path(out_dir)
    return {
        name: export_graph(specs[name], out / f"{name}.onnx", float16=float16)
        for name in names or specs
    }


def operator_types(model: str | os.PathLike[str] | onnx.ModelProto) -> list[str]:
    """Sorted operator types used by an ONNX model, sub-graphs and local functions included.

    Operators outside the default domain are written ``domain::Op``.
    """
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(os.fspath(model))
    graphs = [proto.graph] + [function for function in proto.functions]
    found: set[str] = set()
    for graph in graphs:
        for node in _walk_nodes(graph.node):
            found.add(
                node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
            )
    return sorted(found)


def _walk_nodes(nodes) -> Iterator[onnx.NodeProto]:
    """Every node, descending into graph attributes (If / Loop / Scan bodies)."""
    for node in nodes:
        yield node
        for attribute in node.attribute:
            for graph in [attribute.g, *attribute.graphs]:
                yield from _walk_nodes(graph.node)


def _check(model: onnx.ModelProto, name: str) -> None:
    """``onnx.checker`` plus this project's rules: default domain only, Sentis operators only."""
    onnx.checker.check_model(model, full_check=True)
    domains = {opset.domain for opset in model.opset_import} - {"", "ai.onnx"}
    if domains or model.functions:
        raise MusicDanceError(f"{name}: exported graph uses custom domains/functions {domains}")
    unlisted = sorted(set(operator_types(model)) - SENTIS_OPERATORS)
    if unlisted:
        raise MusicDanceError(
            f"{name}: exported graph uses {unlisted}, which are not on the "
            "list of operators Sentis imports (export.SENTIS_OPERATORS)"
        )


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode inside the block, the previous mode (per sub-module) after it."""
    modes = [(sub, sub.training) for sub in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for sub, training in modes:
            sub.training = training


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's chatter (missing torchvision ops, deprecation notes)."""
    loggers = [logging.getLogger(name) for name in _EXPORTER_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
