"""From a checkpoint to ONNX files and runtime bundles (``mdtool export-onnx``).

:func:`export_checkpoint` writes every network of a checkpoint as ONNX (encoder, predictor,
the three decoders and the fused probabilities graph) and checks each against torch.
:func:`export_bundle` writes a bundle (:mod:`musicdance.bundle`) from a fine-tuned or co-ascent
checkpoint: the fused graph (float16 weights by default), the transition matrix and the
manifest; the folder is assembled beside the target and swapped in only once it opens cleanly.

float16 weights are exact, not an approximation of the checkpoint: the model that ships is
:func:`released_networks` (batch norms folded into their convolutions, then every weight
rounded to float16), the graph is exported from it, and storing its weights as float16 changes
nothing (checked), so the graph is within :data:`PARITY_LIMIT` of that torch model. What the
rounding itself costs against the checkpoint is measured separately and recorded.

Every check runs on real phrase inputs: the slots of :data:`CHECK_SONGS`, generated and then
analysed like any audio (:func:`check_phrase_inputs`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
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
from musicdance.audio.model_input import feature_parameters
from musicdance.bundle import BUNDLE_FORMAT, MANIFEST_NAME, file_sha256, open_bundle, write_manifest
from musicdance.companions import carry_companions
from musicdance.errors import MusicDanceError
from musicdance.library.fingerprint import library_fingerprint
from musicdance.train import export
from musicdance.train.loops import initial_transitions, load_checkpoint, networks_from_checkpoint
from musicdance.train.networks import Networks

__all__ = [
    "CHECK_SONGS",
    "PARITY_LIMIT",
    "ROUNDING_RULE",
    "check_phrase_inputs",
    "export_bundle",
    "export_checked",
    "export_checkpoint",
    "graph_inputs",
    "parity",
    "released_networks",
    "rounding_cost",
]

#: Largest |onnxruntime - torch| accepted on every output of every written graph, against the
#: torch model it was exported from (for float16 weights: :func:`released_networks`).
PARITY_LIMIT = 1e-4
#: The songs whose slots are the check inputs: (genre, seed, seconds) for ``audio.synth``.
CHECK_SONGS: tuple[tuple[str, int, float], ...] = (("funk", 11, 24.0), ("waltz", 5, 24.0))
#: How a float16 bundle's model is made from its checkpoint (recorded in the manifest).
ROUNDING_RULE = (
    "batch norms folded into their convolutions (eval statistics, "
    "torch.nn.utils.fusion.fuse_conv_bn_eval), then every weight rounded to the nearest "
    "float16 (round half to even)"
)


@functools.lru_cache(maxsize=1)
def check_phrase_inputs() -> np.ndarray:
    """Phrase inputs ``mel [N, 128, 128]`` in [0, 1] of every slot of :data:`CHECK_SONGS`
    (16 slots), computed by the training and runtime function ``span_inputs``."""
    from musicdance.audio.analysis import analyze_signal
    from musicdance.audio.model_input import span_inputs
    from musicdance.audio.synth import synth_song
    from musicdance.choreo.slots import plan_slots

    parts = []
    for genre, seed, seconds in CHECK_SONGS:
        samples, _ = synth_song(genre, seed=seed, duration_s=seconds)
        analysis = analyze_signal(samples, sr_hz=22050, path=f"{genre}-{seed}.wav")
        spans = [(slot.start_s, slot.end_s) for slot in plan_slots(analysis)]
        parts.append(span_inputs(analysis, spans)[0])
    mel = np.concatenate(parts).astype(np.float32)
    mel.flags.writeable = False
    return mel


def _describe_inputs(mel: np.ndarray) -> str:
    songs = ", ".join(f"{genre} seed {seed} {seconds:g} s" for genre, seed, seconds in CHECK_SONGS)
    return f"phrase inputs of the {len(mel)} slots of generated songs ({songs})"


def released_networks(networks: Networks, *, float16: bool) -> Networks:
    """The model a graph or bundle ships, in eval mode: for float16 weights a copy of
    ``networks`` with :data:`ROUNDING_RULE` applied; for float32 ``networks`` itself."""
    if not float16:
        return networks.eval()
    return export.round_to_float16(export.fold_batch_norms(copy.deepcopy(networks).eval()))


def _run(model: onnx.ModelProto, spec: export.GraphSpec, inputs) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {n: x.numpy() for n, x in zip(spec.input_names, inputs, strict=True)}
    return session.run(None, feeds)


def _expected(spec: export.GraphSpec, inputs) -> list[np.ndarray]:
    with torch.no_grad(), export._eval_mode(spec.module):
        out = spec.module(*inputs)
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def _max_abs(got: list[np.ndarray], expected: list[np.ndarray]) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(got, expected, strict=True))


def parity(
    spec: export.GraphSpec, model: onnx.ModelProto | str | os.PathLike[str], inputs
) -> float:
    """Max |onnxruntime - torch| over every output of a graph for ``inputs`` (eval mode)."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(os.fspath(model))
    return _max_abs(_run(proto, spec, inputs), _expected(spec, inputs))


def graph_inputs(networks: Networks, spec: export.GraphSpec, mel: np.ndarray) -> tuple:
    """Real inputs of a graph for phrase inputs ``mel [N, 128, 128]``: the mel itself, or what
    the encoder makes of it (``embedding [N, D]``, ``temporal [N, D, 4]``)."""
    batch = torch.from_numpy(np.array(mel, dtype=np.float32))[:, None]
    with torch.no_grad(), export._eval_mode(networks.encoder):
        temporal, embedding = networks.encoder(batch)
    tensors = {"mel": batch, "embedding": embedding, "temporal": temporal}
    return tuple(tensors[name] for name in spec.input_names)


def rounding_cost(original: Networks, released: Networks, mel: np.ndarray) -> dict[str, Any]:
    """What :func:`released_networks` costs against the checkpoint's model on ``mel``: max
    |probability change| over every class and slot, and the share of slots with the same top-1.
    """
    batch = torch.from_numpy(np.array(mel, dtype=np.float32))[:, None]
    with torch.no_grad():
        before = original.eval().probability_model()(batch).numpy()
        after = released.eval().probability_model()(batch).numpy()
    return {
        "max_abs_diff": float(np.abs(after - before).max()),
        "top1_agreement": float((after.argmax(1) == before.argmax(1)).mean()),
        "samples": len(mel),
    }


def export_checked(
    spec: export.GraphSpec, path: str | os.PathLike[str], inputs, *, float16: bool = False
) -> dict[str, Any]:
    """Export one graph, store its weights as float16 if asked (exactly: ``spec.module`` must be
    a :func:`released_networks` module), check the written graph against ``spec.module`` on
    ``inputs`` (<= :data:`PARITY_LIMIT` or a :class:`MusicDanceError`), write it atomically.

    Returns ``{"path", "bytes", "operators", "max_abs_diff"}`` and, for 2-D outputs,
    ``"top1_agreement"``.
    """
    model = export.to_onnx(spec)
    if float16:
        model = export.to_float16_weights(model, exact=True)
    expected = _expected(spec, inputs)
    got = _run(model, spec, inputs)
    deviation = _max_abs(got, expected)
    if deviation > PARITY_LIMIT:
        raise MusicDanceError(
            f"{spec.name}: onnxruntime differs from torch by {deviation:.2e} (> {PARITY_LIMIT:.0e})"
        )
    report: dict[str, Any] = {"max_abs_diff": deviation}
    if expected[0].ndim == 2:
        report["top1_agreement"] = float((got[0].argmax(1) == expected[0].argmax(1)).mean())
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        handle.write(model.SerializeToString())
    report.update(
        path=str(target), bytes=target.stat().st_size, operators=export.operator_types(model)
    )
    return report


def _export_all(
    networks: Networks, folder: Path, names: tuple[str, ...] | None, *, float16: bool
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Export and check the graphs ``names`` (default: all) of the released model of
    ``networks`` into ``folder``. Returns (per-graph reports, checks: reference, inputs and,
    for float16, the rounding cost)."""
    released = released_networks(networks, float16=float16)
    specs = export.graph_specs(released)
    unknown = sorted(set(names or ()) - set(specs))
    if unknown:
        raise MusicDanceError(f"unknown graphs {unknown}; known: {', '.join(specs)}")
    mel = check_phrase_inputs()
    graphs = {
        name: export_checked(
            specs[name],
            folder / f"{name}.onnx",
            graph_inputs(released, specs[name], mel),
            float16=float16,
        )  # fmt: skip
        for name in names or specs
    }
    checks: dict[str, Any] = {
        "reference": "the checkpoint rounded to float16 (float16_rounding.rule)"
        if float16
        else "the checkpoint",
        "inputs": _describe_inputs(mel),
        "limit": PARITY_LIMIT,
    }
    if float16:
        cost = rounding_cost(networks, released, mel)
        checks["float16_rounding"] = {"rule": ROUNDING_RULE, **cost}
    return graphs, checks


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    names: tuple[str, ...] | None = None,
    float16: bool = False,
) -> dict[str, Any]:
    """Export every network (or ``names``) of a checkpoint to ``out_dir/<name>.onnx``.

    Returns a report: per graph its path, size, operators and parity against torch (the
    float16-rounded model for ``float16``, with what the rounding costs). Raises if a graph
    differs from its torch model by more than :data:`PARITY_LIMIT`.
    """
    loaded = load_checkpoint(checkpoint)
    networks = networks_from_checkpoint(loaded).eval()
    graphs, checks = _export_all(networks, Path(out_dir), names, float16=float16)
    return {
        "checkpoint": str(checkpoint),
        "stage": loaded["stage"],
        "config": loaded["config"].to_dict(),
        "float16": float16,
        "opset": export.OPSET,
        "ir_version": export.IR_VERSION,
        "checks": checks,
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
        float16: ship the float16-rounded model (:func:`released_networks`) with float16
            weights: half the size, the graph exact to that model; what the rounding costs
            against the checkpoint is measured and recorded (``float16_rounding``).
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
    check_bundle_target(target, force)
    networks = networks_from_checkpoint(loaded).eval()
    names = None if all_graphs else ("probabilities",)
    transition = loaded.get("transition")
    matrix = (
        transition.numpy().astype(np.float32)
        if transition is not None
        else initial_transitions(library_path, phrase_ids).astype(np.float32)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        graphs, checks = _export_all(networks, staging, names, float16=float16)
        check = graphs["probabilities"]
        with atomic_write(staging / "transition.npy", "wb") as handle:
            np.save(handle, matrix, allow_pickle=False)
        head = loaded.get("context_head")
        if head is not None:  # train finetune --labels edits: the slot-context head
            with atomic_write(staging / "context_head.npy", "wb") as handle:
                np.save(handle, head["weight"].numpy().astype(np.float32), allow_pickle=False)
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
            "graphs": {name: f"{name}.onnx" for name in graphs},
            "transition": "transition.npy",
            **({"context_head": {"file": "context_head.npy", "names": list(head["names"])}}
               if head is not None else {}),  # fmt: skip
            "training": {
                "stage": loaded["stage"],
                "epochs": int(loaded["epoch"]),
                "seed": loaded.get("seed"),
                "settings": loaded.get("settings"),
                "last_metrics": history[-1] if history else None,
            },
            "parity": {
                "reference": checks["reference"],
                "inputs": checks["inputs"],
                "limit": checks["limit"],
                "max_abs_diff": check["max_abs_diff"],
                "top1_agreement": check["top1_agreement"],
                "graphs": {name: graph["max_abs_diff"] for name, graph in graphs.items()},
            },
            "float16_rounding": _rounding_record(checks, checkpoint),
        }
        if target.is_dir():  # style, rhythm, conducting models travel with the bundle
            companions = carry_companions(target, staging)
            if companions:
                manifest["companions"] = companions
        write_manifest(staging, manifest)
        open_bundle(staging, library=opened)  # the same checks the runtime makes
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = {p.name: p.stat().st_size for p in sorted(target.iterdir()) if p.is_file()}
    return {
        "bundle": str(target),
        "checkpoint": str(checkpoint),
        "num_classes": len(phrase_ids),
        "weights": manifest["weights"],
        "files": files,
        "bytes": sum(files.values()),
        "max_abs_diff": check["max_abs_diff"],
        "parity": manifest["parity"],
        "float16_rounding": manifest["float16_rounding"],
    }


def _rounding_record(
    checks: dict[str, Any], checkpoint: str | os.PathLike[str]
) -> dict[str, Any] | None:
    """The manifest's ``float16_rounding``: how the shipped model was made from the checkpoint
    (rule, checkpoint sha256) and what that costs on the check inputs; None for float32."""
    rounding = checks.get("float16_rounding")
    if rounding is None:
        return None
    return {**rounding, "checkpoint_sha256": file_sha256(checkpoint), "inputs": checks["inputs"]}


def check_bundle_target(target: Path, force: bool) -> None:
    """Raise unless ``target`` can take a bundle (missing, empty, or a bundle with ``force``)."""
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
