"""Sentis-ready graphs: GRU operators unrolled into MatMul, Sigmoid, Tanh, Mul, Add, Sub, Slice
and Gather.

Unity Sentis imports LSTM but not GRU. :func:`unroll_gru` rewrites any ONNX graph's GRU nodes
(fixed sequence length, layout 0, default activations) into operators Sentis imports, reading
the weights from the graph itself; :func:`write_sentis_graph` writes the engine's graph and
checks it against the GRU graph in onnxruntime. With ``weights`` both graphs keep their weights
in one shared external-data file (:func:`share_weights`): the ``dance-music`` companion ships the
GRU graph (what onnxruntime runs), the unrolled graph (what Sentis runs) and one copy of their
weights. Nothing here runs torch.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.train.export import SENTIS_OPERATORS, operator_types

__all__ = [
    "ORT_RECURRENT_OPERATORS",
    "SENTIS_RECURRENT_OPERATORS",
    "graph_parity",
    "share_weights",
    "unroll_gru",
    "write_sentis_graph",
]

#: Operators the engine graphs may use: export.SENTIS_OPERATORS plus these, each on Unity
#: Sentis' "Supported ONNX operators" page (LSTM is; GRU is not, hence the unrolled graph).
SENTIS_RECURRENT_OPERATORS = SENTIS_OPERATORS | {
    "LSTM",
    "LeakyRelu",
    "Tanh",
    "Sub",
    "Slice",
    "Gather",
    "Expand",
    "Shape",
    "Split",
    "Div",
    "Identity",
    "Constant",
    "ConstantOfShape",
}
#: Operators the onnxruntime BiLSTM-BiGRU graph may use (the engine set plus GRU).
ORT_RECURRENT_OPERATORS = SENTIS_RECURRENT_OPERATORS | {"GRU"}
#: Parity required between the unrolled graph and the GRU graph (max |difference|).
PARITY_LIMIT = 1e-5
#: Initializers of at least this many bytes go to the shared weights file (smaller ones, the
#: unrolling's indices among them, stay inside each graph).
EXTERNAL_MIN_BYTES = 1024
#: Offset alignment of each tensor in the weights file (a page, so a reader may map it).
EXTERNAL_ALIGN_BYTES = 4096


class _Builder:
    """Nodes and constant initializers of one rewrite, with unique names."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self._count = itertools.count()

    def name(self) -> str:
        return f"{self.prefix}_{next(self._count)}"

    def const(self, values, dtype=np.int64) -> str:
        name = self.name()
        self.constants.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        out = self.name()
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    def part(self, x: str, start: int, stop: int) -> str:
        """Slice ``[start, stop)`` of the last axis."""
        return self.op("Slice", x, self.const([start]), self.const([stop]), self.const([-1]))


def _sequence_length(model: onnx.ModelProto, tensor: str) -> int:
    inferred = onnx.shape_inference.infer_shapes(model)
    for info in [*inferred.graph.value_info, *inferred.graph.input]:
        if info.name == tensor:
            dims = info.type.tensor_type.shape.dim
            if dims and dims[0].HasField("dim_value"):
                return int(dims[0].dim_value)
    raise MusicDanceError(f"the GRU input {tensor!r} has no fixed sequence length to unroll")


def _check_supported(node: onnx.NodeProto) -> tuple[int, str, int]:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else str(direction)
    if attrs.get("layout", 0) != 0 or "clip" in attrs:
        raise MusicDanceError(f"GRU {node.name!r}: layout 1 or clip cannot be unrolled here")
    acts = [a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", [])]
    if acts and [a.lower() for a in acts] != ["sigmoid", "tanh"] * (len(acts) // 2):
        raise MusicDanceError(f"GRU {node.name!r}: only the default activations are unrolled")
    if len(node.input) > 4 and node.input[4]:
        raise MusicDanceError(f"GRU {node.name!r}: sequence_lens cannot be unrolled")
    return int(attrs["hidden_size"]), direction, int(attrs.get("linear_before_reset", 0))


def _unrolled(node: onnx.NodeProto, length: int, b: _Builder) -> None:
    """Append the nodes computing ``node``'s outputs (Y ``[L, D, N, H]``, Y_h ``[D, N, H]``)."""
    hidden, direction, linear_before_reset = _check_supported(node)
    x, w, r = node.input[:3]
    bias = node.input[3] if len(node.input) > 3 and node.input[3] else ""
    h0 = node.input[5] if len(node.input) > 5 and node.input[5] else ""
    directions = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[direction]
    per_direction, last = [], []
    size = hidden
    for d, backwards in enumerate(directions):
        index = b.const(d)
        w_t = b.op("Transpose", b.op("Gather", w, index, axis=0), perm=[1, 0])  # [I, 3H]
        r_t = b.op("Transpose", b.op("Gather", r, index, axis=0), perm=[1, 0])  # [H, 3H]
        if bias:
            bias_d = b.op("Gather", bias, index, axis=0)
            w_b, r_b = b.part(bias_d, 0, 3 * size), b.part(bias_d, 3 * size, 6 * size)
        else:
            w_b = r_b = b.const(np.zeros(3 * size, np.float32), np.float32)
        projected = b.op("Add", b.op("MatMul", x, w_t), w_b)  # [L, N, 3H]: z, r, h parts
        h = b.op("Gather", h0, index, axis=0) if h0 else None
        outputs: dict[int, str] = {}
        for t in range(length - 1, -1, -1) if backwards else range(length):
            xt = b.op("Gather", projected, b.const(t), axis=0)  # [N, 3H]
            gh = r_b if h is None else b.op("Add", b.op("MatMul", h, r_t), r_b)
            z = b.op("Sigmoid", b.op("Add", b.part(xt, 0, size), b.part(gh, 0, size)))
            reset = b.op("Sigmoid", b.op("Add", b.part(xt, size, 2 * size),
                                         b.part(gh, size, 2 * size)))  # fmt: skip
            if linear_before_reset:
                inner = b.op("Mul", reset, b.part(gh, 2 * size, 3 * size))
            elif h is None:
                inner = b.part(r_b, 2 * size, 3 * size)
            else:
                r_h = b.op("Slice", r_t, b.const([2 * size]), b.const([3 * size]), b.const([1]))
                inner = b.op("Add", b.op("MatMul", b.op("Mul", reset, h), r_h),
                             b.part(r_b, 2 * size, 3 * size))  # fmt: skip
            n = b.op("Tanh", b.op("Add", b.part(xt, 2 * size, 3 * size), inner))
            if h is None:  # h0 = 0: (1 - z) n
                h = b.op("Sub", n, b.op("Mul", z, n))
            else:  # (1 - z) n + z h = n + z (h - n)
                h = b.op("Add", n, b.op("Mul", z, b.op("Sub", h, n)))
            outputs[t] = h
        axis0 = b.const([0])
        steps = [b.op("Unsqueeze", outputs[t], axis0) for t in range(length)]
        per_direction.append(b.op("Unsqueeze", b.op("Concat", *steps, axis=0), b.const([1])))
        last.append(b.op("Unsqueeze", h, axis0))
    if node.output[0]:
        b.nodes.append(helper.make_node("Concat", per_direction, [node.output[0]],
                                        name=b.name(), axis=1))  # fmt: skip
    if len(node.output) > 1 and node.output[1]:
        b.nodes.append(helper.make_node("Concat", last, [node.output[1]], name=b.name(), axis=0))


def unroll_gru(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with every GRU node replaced by its unrolled computation (the same
    outputs, so the rest of the graph is unchanged); a MusicDanceError for a GRU it cannot
    unroll (dynamic length, sequence_lens, layout 1, clip, other activations)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes: list[onnx.NodeProto] = []
    constants: list[onnx.TensorProto] = []
    for i, node in enumerate(model.graph.node):
        if node.op_type != "GRU" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        builder = _Builder(f"unrolled_gru{i}")
        _unrolled(node, _sequence_length(model, node.input[0]), builder)
        nodes += builder.nodes
        constants += builder.constants
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    out.graph.initializer.extend(constants)
    onnx.checker.check_model(out, full_check=True)
    return out


def _example_input(model: onnx.ModelProto, batch: int, seed: int) -> dict[str, np.ndarray]:
    graph_input = model.graph.input[0]
    dims = [d.dim_value if d.HasField("dim_value") else batch
            for d in graph_input.type.tensor_type.shape.dim]  # fmt: skip
    if graph_input.type.tensor_type.elem_type != TensorProto.FLOAT:
        raise MusicDanceError(f"input {graph_input.name!r} is not float32")
    x = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
    return {graph_input.name: x}


def share_weights(
    models: dict[str, onnx.ModelProto], folder: str | os.PathLike[str], weights: str
) -> dict[str, int]:
    """Write ``models`` ({file name: model}) into ``folder`` with every initializer of at least
    :data:`EXTERNAL_MIN_BYTES` moved to one external-data file ``weights`` that all of them
    read (same name, same bytes, same offset; page-aligned). The models must agree on the
    values of the initializers they share. Files are written atomically, the weights first.
    Returns {file name: bytes}."""
    root = Path(folder)
    tables: dict[str, bytes] = {}
    for model in models.values():
        for tensor in model.graph.initializer:
            data = numpy_helper.to_array(tensor).tobytes()
            if len(data) < EXTERNAL_MIN_BYTES:
                continue
            key = f"{tensor.name}:{tensor.data_type}:{list(tensor.dims)}"
            if tables.setdefault(key, data) != data:
                raise MusicDanceError(f"the graphs disagree on the weight {tensor.name!r}")
    offsets, blob = {}, bytearray()
    for key, data in tables.items():
        blob += bytes(-len(blob) % EXTERNAL_ALIGN_BYTES)
        offsets[key] = len(blob)
        blob += data
    root.mkdir(parents=True, exist_ok=True)
    with atomic_write(root / weights, "wb") as handle:
        handle.write(bytes(blob))
    sizes = {weights: len(blob)}
    for name, model in models.items():
        out = onnx.ModelProto()
        out.CopyFrom(model)
        for tensor in out.graph.initializer:
            key = f"{tensor.name}:{tensor.data_type}:{list(tensor.dims)}"
            if key in offsets:
                data = tables[key]
                for field in ("raw_data", "float_data", "int32_data", "int64_data"):
                    tensor.ClearField(field)
                del tensor.external_data[:]
                for k, v in (("location", weights), ("offset", offsets[key]),
                             ("length", len(data))):  # fmt: skip
                    entry = tensor.external_data.add()
                    entry.key, entry.value = k, str(v)
                tensor.data_location = TensorProto.EXTERNAL
        with atomic_write(root / name, "wb") as handle:
            handle.write(out.SerializeToString())
        onnx.checker.check_model(os.fspath(root / name), full_check=True)
        sizes[name] = (root / name).stat().st_size
    return sizes


def graph_parity(
    a: str | os.PathLike[str], b: str | os.PathLike[str], *, batch: int = 16, seed: int = 0
) -> float:
    """Max |difference| of two graph files' outputs in onnxruntime on a seeded standard-normal
    batch of ``a``'s input."""
    from musicdance.companions import onnx_session

    model = onnx.load(os.fspath(a), load_external_data=False)
    feeds = _example_input(model, batch, seed)
    want = onnx_session(a).run(None, feeds)
    got = onnx_session(b).run(None, feeds)
    return max(float(np.abs(g - w).max()) for g, w in zip(got, want, strict=True))


def write_sentis_graph(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    seed: int = 0,
    weights: str | None = None,
) -> dict[str, Any]:
    """Write ``source``'s graph with its GRUs unrolled to ``target`` (atomically) after checking
    its operators (:data:`SENTIS_RECURRENT_OPERATORS`) and its parity with ``source`` in
    onnxruntime on a seeded batch (at most :data:`PARITY_LIMIT`); returns {source, graph,
    operators, parity, bytes}. With ``weights`` (a file name; ``target`` beside ``source``)
    ``source`` is rewritten too so that both graphs read their weights from that one file
    (:func:`share_weights`), and the parity is measured again on the written files."""
    source, target = Path(source), Path(target)
    try:
        model = onnx.load(os.fspath(source))
    except Exception as error:  # protobuf raises its own types
        raise MusicDanceError(f"not an ONNX graph: {error}", source) from error
    unrolled = unroll_gru(model)
    ops = operator_types(unrolled)
    unlisted = sorted(set(ops) - SENTIS_RECURRENT_OPERATORS)
    if unlisted:
        raise MusicDanceError(f"operators {unlisted} would remain for Sentis", source)
    feeds = _example_input(model, 16, seed)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3

    def run(m: onnx.ModelProto) -> list[np.ndarray]:
        session = ort.InferenceSession(m.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])  # fmt: skip
        return session.run(None, feeds)

    parity = max(float(np.abs(g - w).max())
                 for g, w in zip(run(unrolled), run(model), strict=True))  # fmt: skip
    if parity > PARITY_LIMIT:
        raise MusicDanceError(f"the unrolled graph differs from the GRU graph by {parity:.2e}")
    report: dict[str, Any] = {"source": str(source), "graph": str(target), "operators": ops}
    if weights is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target, "wb") as handle:
            handle.write(unrolled.SerializeToString())
    else:
        if target.parent.resolve() != source.parent.resolve():
            raise MusicDanceError("with shared weights the two graphs sit in one folder", target)
        sizes = share_weights({source.name: model, target.name: unrolled}, source.parent,
                              weights)  # fmt: skip
        parity = graph_parity(source, target, seed=seed)
        if parity > PARITY_LIMIT:
            raise MusicDanceError(f"the written graphs differ by {parity:.2e}", target)
        report["weights"] = {"file": weights, "bytes": sizes[weights],
                             "source_bytes": sizes[source.name]}  # fmt: skip
    return {**report, "parity": parity, "bytes": target.stat().st_size}
