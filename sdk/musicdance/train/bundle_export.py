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
import onnxruntime as ort
import torch

from musicdance.bundle import BUNDLE_FORMAT, MANIFEST_NAME, open_bundle, write_manifest
from musicdance.corpus.build import library_fingerprint
from musicdance.corpus.inputs import feature_parameters
from musicdance.errors import MusicDanceError
from musicdance.io.atomic import atomic_write
from musicdance.train import export
from musicdance.train.loops import initial_transitions, load_checkpoint, networks_from_checkpoint

__all__ = ["PARITY_FLOAT16", "PARITY_FLOAT32", "export_bundle", "export_checkpoint", "parity"]

#: Largest |onnxruntime - torch| accepted on the exported outputs.
PARITY_FLOAT32 = 1e-4
#: The same for float16 weights, on the probabilities (rounding the weights moves them a little).
PARITY_FLOAT16 = 1e-3


def parity(spec: export.GraphSpec, path: Path, inputs: tuple[torch.Tensor, ...]) -> float:
    """Max |onnxruntime - torch| over every output of a graph for ``inputs`` (eval mode)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    module = spec.module
    with torch.no_grad(), export._eval_mode(module):
        expected = module(*inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    feeds = {n: x.numpy() for n, x in zip(spec.input_names, inputs, strict=True)}
    got = session.run(None, feeds)
    return max(float(np.abs(a - b.numpy()).max()) for a, b in zip(got, expected, strict=True))


def _phrase_like_inputs(spec: export.GraphSpec, batch: int = 4) -> tuple[torch.Tensor, ...]:
    """Example inputs in the range the graph sees: mel in [0, 1], other tensors standard normal."""
    inputs = export.example_inputs(spec, batch, seed=1)
    if spec.input_names == ("mel",):
        return (torch.rand(inputs[0].shape, generator=torch.Generator().manual_seed(1)),)
    return inputs


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    names: tuple[str, ...] | None = None,
    float16: bool = False,
) -> dict[str, Any]:
    """Export every network (or ``names``) of a checkpoint to ``out_dir/<name>.onnx``.

    Returns a report: per graph its path, size, operators and parity against torch.
    Raises if a graph differs from torch by more than the parity tolerance.
    """
    loaded = load_checkpoint(checkpoint)
    networks = networks_from_checkpoint(loaded).eval()
    paths = export.export_networks(networks, out_dir, names, float16=float16)
    specs = export.graph_specs(networks)
    limit = PARITY_FLOAT16 if float16 else PARITY_FLOAT32
    graphs = {}
    for name, path in paths.items():
        spec = specs[name]
        difference = parity(spec, path, _phrase_like_inputs(spec))
        judged = not float16 or name == "probabilities"  # float16 activations: report only
        if judged and difference > limit:
            raise MusicDanceError(
                f"{name}: onnxruntime differs from torch by {difference:.2e} (> {limit:.0e})", path
            )
        graphs[name] = {
            "path": str(path),
            "bytes": path.stat().st_size,
            "operators": export.operator_types(path),
            "max_abs_diff": difference,
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
        float16: store weights as float16 (half the size; probabilities within 1e-3).
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
        paths = export.export_networks(networks, staging, names, float16=float16)
        difference = parity(specs["probabilities"], paths["probabilities"],
                            _phrase_like_inputs(specs["probabilities"]))  # fmt: skip
        limit = PARITY_FLOAT16 if float16 else PARITY_FLOAT32
        if difference > limit:
            raise MusicDanceError(
                f"exported probabilities differ from torch by {difference:.2e} (> {limit:.0e})"
            )
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
            "parity": {"max_abs_diff": difference, "inputs": "uniform [0, 1] mel, batch 4"},
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
        "max_abs_diff": difference,
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
