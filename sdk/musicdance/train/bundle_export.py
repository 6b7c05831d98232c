"""From a checkpoint to ONNX files and runtime bundles (``mdtool export-onnx``).

:func:`export_checkpoint` writes every network of a checkpoint as ONNX (encoder, predictor,
the three decoders and the fused probabilities graph) and checks each against torch.
:func:`export_bundle` writes a bundle (:mod:`musicdance.bundle`) from a fine-tuned or co-ascent
checkpoint: the fused graph (float16 weights by default), the transition matrix and the
manifest; the folder is assembled beside the target and swapped in only once it opens cleanly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from musicdance.atomic import atomic_write
from musicdance.bundle import BUNDLE_FORMAT, MANIFEST_NAME, open_bundle, write_manifest
from musicdance.corpus.build import library_fingerprint
from musicdance.corpus.inputs import feature_parameters
from musicdance.errors import MusicDanceError
from musicdance.train import export
from musicdance.train.loops import initial_transitions, load_checkpoint, networks_from_checkpoint

__all__ = [
    "FLOAT16_TOLERANCE",
    "PARITY_FLOAT32",
    "export_bundle",
    "export_checkpoint",
    "export_checked",
    "parity",
]

#: Largest |onnxruntime - torch| accepted on every output of a float32 graph: the export is
#: correct. Checked on every export, whatever the weight storage.
PARITY_FLOAT32 = 1e-4
#: Largest |float16 graph - torch| accepted on the probabilities. Rounding trained weights to
#: float16 moves probabilities by up to ~1.5e-2 (measured, top-1 unchanged); more means the
#: weights do not survive float16 (export with ``float16=False``).
FLOAT16_TOLERANCE = 5e-2


def _run(model: onnx.ModelProto, spec: export.GraphSpec, inputs) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {n: x.numpy() for n, x in zip(spec.input_names, inputs, strict=True)}
    return session.run(None, feeds)


def _expected(spec: export.GraphSpec, inputs) -> list[np.ndarray]:
    with torch.no_grad(), export._eval_mode(spec.module):
        out = spec.module(*inputs)
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def parity(
    spec: export.GraphSpec, model: onnx.ModelProto | str | os.PathLike[str], inputs
) -> float:
    """Max |onnxruntime - torch| over every output of a graph for ``inputs`` (eval mode)."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(os.fspath(model))
    got, expected = _run(proto, spec, inputs), _expected(spec, inputs)
    return max(float(np.abs(a - b).max()) for a, b in zip(got, expected, strict=True))


def _phrase_like_inputs(spec: export.GraphSpec, batch: int = 8) -> tuple[torch.Tensor, ...]:
    """Example inputs in the range the graph sees: mel in [0, 1], other tensors standard normal."""
    inputs = export.example_inputs(spec, batch, seed=1)
    if spec.input_names == ("mel",):
        return (torch.rand(inputs[0].shape, generator=torch.Generator().manual_seed(1)),)
    return inputs


def export_checked(
    spec: export.GraphSpec, path: str | os.PathLike[str], *, float16: bool = False, inputs=None
) -> dict[str, Any]:
    """Export one graph, check the float32 graph against torch (<= :data:`PARITY_FLOAT32`),
    optionally store its weights as float16 (then measure that deviation too), write it.

    Returns ``{"path", "bytes", "operators", "max_abs_diff"}`` (of the written graph) plus
    ``"float32_max_abs_diff"`` and, for float16, ``"top1_agreement"`` on 2-D outputs.
    """
    inputs = inputs if inputs is not None else _phrase_like_inputs(spec)
    model = export.to_onnx(spec)
    expected = _expected(spec, inputs)
    got = _run(model, spec, inputs)
    exact = max(float(np.abs(a - b).max()) for a, b in zip(got, expected, strict=True))
    if exact > PARITY_FLOAT32:
        raise MusicDanceError(
            f"{spec.name}: onnxruntime differs from torch by {exact:.2e} (> {PARITY_FLOAT32:.0e})"
        )
    report: dict[str, Any] = {"float32_max_abs_diff": exact, "max_abs_diff": exact}
    if float16:
        model = export.to_float16_weights(model)
        got = _run(model, spec, inputs)
        report["max_abs_diff"] = max(
            float(np.abs(a - b).max()) for a, b in zip(got, expected, strict=True)
        )
        if expected[0].ndim == 2:
            report["top1_agreement"] = float((got[0].argmax(1) == expected[0].argmax(1)).mean())
        if spec.name == "probabilities" and report["max_abs_diff"] > FLOAT16_TOLERANCE:
            raise MusicDanceError(
                f"float16 weights move the probabilities by {report['max_abs_diff']:.2e} "
                f"(> {FLOAT16_TOLERANCE:.0e}); export with float32 weights"
            )
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        handle.write(model.SerializeToString())
    report.update(
        path=str(target), bytes=target.stat().st_size, operators=export.operator_types(model)
    )
    return report


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    names: tuple[str, ...] | None = None,
    float16: bool = False,
) -> dict[str, Any]:
    """Export every network (or ``names``) of a checkpoint to ``out_dir/<name>.onnx``.

    Returns a report: per graph its path, size, operators and parity against torch. Raises if
    a float32 graph differs from torch by more than :data:`PARITY_FLOAT32`.
    """
    loaded = load_checkpoint(checkpoint)
    networks = networks_from_checkpoint(loaded).eval()
    specs = export.graph_specs(networks)
    unknown = sorted(set(names or ()) - set(specs))
    if unknown:
        raise MusicDanceError(f"unknown graphs {unknown}; known: {', '.join(specs)}")
    out = Path(out_dir)
    graphs = {
        name: export_checked(specs[name], out / f"{name}.onnx", float16=float16)
        for name in names or specs
    }
    return {
        "checkpoint": str(checkpoint),
        "stage": loaded["stage"],
        "config": loaded["config"].to_dict(),
        "float16": float16,
        "opset": export.OPSET,
        "ir_version": export.IR_VERSION,
        "graphs": graphs,
    }


def export_bundle(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    library: str | os.PathLike[str] | None = None,
    float16: bool = True,
    all_graphs: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Write a runtime bundle from a fine-tuned or co-ascent checkpoint.

    Args:
        library: the phrase library the model was trained for (default: the path the
            checkpoint recorded); its phrase ids must be the checkpoint's classes.
        float16: store weights as float16 (half the size; the float32 graph is still checked
            against torch first, and the float16 deviation is measured and recorded).
        all_graphs: also include encoder, predictor and decoders.
        force: replace an existing bundle folder (a folder that is not a bundle is never
            replaced).

    Returns:
        A report: the bundle folder, its files and sizes, parity, K.
    """
    from musicdance.library import open_library

    loaded = load_checkpoint(checkpoint, stages=("finetune", "coascent"))
    phrase_ids = loaded.get("phrase_ids")
    if not phrase_ids:
        raise MusicDanceError("checkpoint has no phrase classes", checkpoint)
    library_path = Path(library) if library is not None else Path(loaded["library"]["path"])
    opened = open_library(library_path)
    if opened.ids() != list(phrase_ids):
        raise MusicDanceError(
            f"checkpoint {checkpoint} was trained for another library ({len(phrase_ids)} "
            f"phrases); this one has {len(opened)} (fingerprint "
            f"{library_fingerprint(opened.ids())[:12]})",
            library_path,
        )
    target = Path(out)
    _check_target(target, force)
    networks = networks_from_checkpoint(loaded).eval()
    specs = export.graph_specs(networks)
    names = tuple(specs) if all_graphs else ("probabilities",)
    transition = loaded.get("transition")
    matrix = (
        transition.numpy().astype(np.float32)
        if transition is not None
        else initial_transitions(library_path, phrase_ids).astype(np.float32)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        checks = {
            name: export_checked(specs[name], staging / f"{name}.onnx", float16=float16)
            for name in names
        }
        check = checks["probabilities"]
        with atomic_write(staging / "transition.npy", "wb") as handle:
            np.save(handle, matrix, allow_pickle=False)
        history = list(loaded["history"])
        manifest = {
            "format": BUNDLE_FORMAT,
            "created_by": f"mdtool {_version()}",
            "features": feature_parameters(),
            "model": loaded["config"].to_dict(),
            "num_classes": len(phrase_ids),
            "weights": "float16" if float16 else "float32",
            "opset": export.OPSET,
            "ir_version": export.IR_VERSION,
            "library": {
                "path": str(library_path),
                "fingerprint": library_fingerprint(phrase_ids),
                "phrases": len(phrase_ids),
                "phrase_ids": list(phrase_ids),
            },
            "graphs": {name: f"{name}.onnx" for name in names},
            "transition": "transition.npy",
            "training": {
                "stage": loaded["stage"],
                "epochs": int(loaded["epoch"]),
                "seed": loaded.get("seed"),
                "settings": loaded.get("settings"),
                "last_metrics": history[-1] if history else None,
            },
            "parity": {
                "inputs": "uniform [0, 1] mel, batch 8",
                "float32_max_abs_diff": check["float32_max_abs_diff"],
                "max_abs_diff": check["max_abs_diff"],
                "top1_agreement": check.get("top1_agreement", 1.0),
            },
        }
        write_manifest(staging, manifest)
        open_bundle(staging, library=opened)  # the same checks the runtime makes
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = {p.name: p.stat().st_size for p in sorted(target.iterdir())}
    return {
        "bundle": str(target),
        "checkpoint": str(checkpoint),
        "num_classes": len(phrase_ids),
        "weights": manifest["weights"],
        "files": files,
        "bytes": sum(files.values()),
        "max_abs_diff": check["max_abs_diff"],
        "float32_max_abs_diff": check["float32_max_abs_diff"],
    }


def _check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise MusicDanceError("the bundle path exists and is not a folder", target)
    if target.is_dir() and any(target.iterdir()):
        if not (target / MANIFEST_NAME).is_file():
            raise MusicDanceError(
                "this folder has files but is not a bundle; choose another", target
            )
        if not force:
            raise MusicDanceError("a bundle is already there; add --force to replace it", target)


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` with ``staging`` (rename; the old folder is removed afterwards)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    os.chmod(target, 0o777 & ~_umask())
    if old is not None:
        with contextlib.suppress(OSError):
            shutil.rmtree(old)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _version() -> str:
    try:
        return metadata.version("mdtool")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "unknown"
