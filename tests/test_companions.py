"""Companion models inside a bundle folder: written with hashes, registered in the bundle's
manifest, checked on open, run through onnxruntime, and kept when the predictor is re-exported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from musicdance.bundle import DEFAULT_BUNDLE, open_bundle
from musicdance.companions import (
    find_companion,
    list_companions,
    open_companion,
    register_companion,
    write_companion,
)
from musicdance.errors import MusicDanceError


def _doubling_graph(path: Path) -> None:
    """A real ONNX graph: y = 2 x, x [batch, 3]."""
    node = helper.make_node("Add", ["x", "x"], ["y"])
    graph = helper.make_graph(
        [node],
        "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.save(model, path)


@pytest.fixture()
def bundle(tmp_path):
    """A copy of the shipped default bundle with one companion, ``double``."""
    target = tmp_path / "bundle"
    shutil.copytree(DEFAULT_BUNDLE, target)
    folder = target / "double"
    folder.mkdir()
    _doubling_graph(folder / "double.onnx")
    np.save(folder / "labels.npy", np.arange(3))
    write_companion(folder, {"name": "double", "task": "test", "graphs": {"main": "double.onnx"},
                             "data": ["labels.npy"]})  # fmt: skip
    register_companion(target, "double")
    return target


def test_a_registered_companion_runs_through_onnxruntime(bundle):
    assert "double" in set(list_companions(bundle))  # beside the shipped companions
    companion = find_companion("double", bundle, task="test")
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    (y,) = companion.session("main").run(None, {"x": x})
    np.testing.assert_array_equal(y, 2 * x)
    assert np.load(companion.file("labels.npy")).tolist() == [0, 1, 2]
    # the bundle itself still opens: the companions entry is not one of its files
    open_bundle(bundle, load_session=False)
    assert find_companion("absent", bundle) is None


def test_broken_companions_are_clear_errors(bundle):
    with pytest.raises(MusicDanceError, match="not 'conducting'"):
        find_companion("double", bundle, task="conducting")
    graph = bundle / "double" / "double.onnx"
    graph.write_bytes(graph.read_bytes() + b"\0")
    with pytest.raises(MusicDanceError, match="double.onnx does not match its sha256"):
        open_companion(bundle / "double")
    manifest = bundle / "double" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["graphs"]["main"] = "../probabilities.onnx"
    manifest.write_text(json.dumps(data))
    with pytest.raises(MusicDanceError, match="does not match the bundle's manifest"):
        find_companion("double", bundle)
    with pytest.raises(MusicDanceError, match="outside it"):
        open_companion(bundle / "double")
    with pytest.raises(MusicDanceError, match="plain folder name"):
        register_companion(bundle, "../x")


def test_every_shipped_companion_opens():
    for name in list_companions(DEFAULT_BUNDLE):
        assert find_companion(name, DEFAULT_BUNDLE).name == name
