"""Model bundles: what the runtime needs to score slots with a trained model, through onnxruntime.

A bundle is a folder::

    manifest.json        format, feature parameters, model config, K, the library it was made
                         for (fingerprint, path, phrase ids in class order), files + sha256
    probabilities.onnx   fused graph: mel [B, 1, 128, 128] -> probabilities [B, K]
    transition.npy       [K, K] float32 Markov matrix M (co-ascent's, or the library prior),
                         rows scaled to a maximum of 1, values in [0.01, 1]
    (encoder.onnx, predictor.onnx, *_decoder.onnx with ``--all-graphs``)
    (context_head.npy  [K, C] float32, from ``train finetune --labels edits``: each phrase's
                       log-probability offset per unit of the slot's structure context,
                       ``musicdance.choreo.context``; manifest ``context_head``)

:func:`open_bundle` checks everything before any work starts and raises one clear
:class:`MusicDanceError` per problem: missing folder or files, unreadable or foreign manifest,
sha256 mismatch (a corrupt or edited file), feature parameters this mdtool does not compute, K
that disagrees between manifest, graph and matrix, an ONNX graph onnxruntime cannot load, and,
given a library, a bundle made for another library. torch is never imported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicdance.audio.model_input import check_feature_parameters
from musicdance.companions import file_records, file_sha256, onnx_session
from musicdance.defaults import DEFAULT_BUNDLE
from musicdance.errors import MusicDanceError
from musicdance.formats import read_format_json
from musicdance.library.fingerprint import library_fingerprint
from musicdance.model_config import ModelConfig

__all__ = [
    "BUNDLE_FORMAT",
    "DEFAULT_BUNDLE",
    "MANIFEST_NAME",
    "Bundle",
    "choose_bundle",
    "file_sha256",
    "open_bundle",
    "open_default_bundle",
    "write_manifest",
]

BUNDLE_FORMAT = "mdtool-bundle/1"
MANIFEST_NAME = "manifest.json"
PROBABILITIES = "probabilities"
_REQUIRED = ("format", "features", "model", "num_classes", "library", "graphs", "transition",
             "files")  # fmt: skip


def write_manifest(folder: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Fill ``files`` (sha256 and size of every referenced file) and write manifest.json."""
    from musicdance.atomic import atomic_write

    root = Path(folder)
    manifest = dict(manifest)
    manifest["files"] = file_records(root, _referenced(manifest))
    target = root / MANIFEST_NAME
    with atomic_write(target, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    return target


def _referenced(manifest: dict[str, Any]) -> set[str]:
    """The files a manifest names: graphs, transition matrix, context head."""
    head = manifest.get("context_head")
    return {*manifest["graphs"].values(), manifest["transition"],
            *([head["file"]] if isinstance(head, dict) else [])}  # fmt: skip


@dataclass
class Bundle:
    """An opened, checked bundle. ``phrase_ids[k]`` is the library phrase of output ``k``."""

    path: Path
    manifest: dict[str, Any]
    transition: np.ndarray
    threads: int = 0
    context_head: np.ndarray | None = None  # [K, C] log-probability offsets per context unit
    _session: Any = field(default=None, repr=False)
    _ids: dict[str, int] | None = field(default=None, repr=False)

    @property
    def phrase_ids(self) -> list[str]:
        return list(self.manifest["library"]["phrase_ids"])

    @property
    def num_classes(self) -> int:
        return int(self.manifest["num_classes"])

    @property
    def library_fingerprint(self) -> str:
        return str(self.manifest["library"]["fingerprint"])

    def column(self, phrase_id: str) -> int:
        """Output index of a phrase id (``MusicDanceError`` if the bundle does not know it)."""
        index = self._index().get(phrase_id)
        if index is None:
            raise MusicDanceError(
                f"phrase {phrase_id!r} is not one of the bundle's {self.num_classes} phrases "
                "(bundle made for another library?)",
                self.path,
            )
        return index

    def _index(self) -> dict[str, int]:
        if self._ids is None:
            self._ids = {p: k for k, p in enumerate(self.phrase_ids)}
        return self._ids

    @property
    def session(self):
        """The onnxruntime session of the probabilities graph (CPU)."""
        if self._session is None:
            self._session = onnx_session(
                self.path / self.manifest["graphs"][PROBABILITIES], self.threads
            )
        return self._session

    @property
    def context_width(self) -> int:
        """C, the slot context's width the context head reads (0: no head)."""
        return 0 if self.context_head is None else int(self.context_head.shape[1])

    def probabilities(
        self, mel: np.ndarray, *, context: np.ndarray | None = None, batch_size: int = 64
    ) -> np.ndarray:
        """``mel [N, 128, 128]`` (phrase inputs) -> probabilities ``[N, K]`` (float32).

        context: the slots' structure context ``[N, C]`` (``choreo.context.slot_context``);
        with a context head the graph's log-probabilities are offset by ``context @ head.T``
        and renormalised. Ignored by a bundle without one.
        """
        found = self._graph_probabilities(mel, batch_size)
        if self.context_head is None or context is None or not len(found):
            return found
        context = np.asarray(context, np.float64)
        if context.shape != (len(found), self.context_width):
            raise MusicDanceError(
                f"slot context must be [{len(found)}, {self.context_width}], got {context.shape}"
            )
        logits = np.log(np.maximum(found.astype(np.float64), 1e-30)) + context @ self.context_head.T
        logits -= logits.max(axis=1, keepdims=True)
        out = np.exp(logits)
        return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)

    def _graph_probabilities(self, mel: np.ndarray, batch_size: int) -> np.ndarray:
        mel = np.asarray(mel, dtype=np.float32)
        size = int(self.manifest["features"]["size"])
        if mel.ndim != 3 or mel.shape[1:] != (size, size):
            raise MusicDanceError(f"phrase inputs must be [N, {size}, {size}], got {mel.shape}")
        if len(mel) == 0:
            return np.zeros((0, self.num_classes), np.float32)
        parts = [
            self.session.run(None, {"mel": mel[i : i + batch_size, None]})[0]
            for i in range(0, len(mel), batch_size)
        ]
        return np.concatenate(parts)

    def check_library(self, library) -> None:
        """Raise unless ``library`` (a PhraseLibrary or a list of phrase ids) is the one the
        bundle was made for (same phrase ids in the same order)."""
        ids = list(library) if isinstance(library, list | tuple) else library.ids()
        if ids == self.phrase_ids:
            return
        ours = set(self.phrase_ids)
        missing = [p for p in ids if p not in ours]
        extra = [p for p in self.phrase_ids if p not in set(ids)]
        where = getattr(library, "path", None)
        details = []
        if missing:
            details.append(f"{len(missing)} library phrases unknown to it (e.g. {missing[0]})")
        if extra:
            details.append(f"{len(extra)} of its phrases not in the library (e.g. {extra[0]})")
        raise MusicDanceError(
            f"bundle {self.path} was made for another library ({self.num_classes} phrases, "
            f"fingerprint {self.library_fingerprint[:12]}; this library: {len(ids)} phrases, "
            f"{library_fingerprint(ids)[:12]}"
            + (f"; {', '.join(details)}" if details else "; same phrases, other order")
            + "). Retrain or export a bundle for this library.",
            where,
        )


def open_bundle(
    path: str | os.PathLike[str], *, library=None, threads: int = 0, load_session: bool = True
) -> Bundle:
    """Open and check a bundle folder (see the module docs for the checks).

    Args:
        library: a :class:`~musicdance.library.PhraseLibrary` (or list of phrase ids) the
            bundle must have been made for; None skips that check.
        threads: onnxruntime intra-op threads (0: onnxruntime's choice).
        load_session: also create the onnxruntime session now (so a graph that does not load
            fails here, not in the middle of a job).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise MusicDanceError("bundle folder not found", folder)
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise MusicDanceError("not a bundle (no manifest.json)", folder)
    manifest = read_format_json(
        manifest_path, expected_format=BUNDLE_FORMAT, kind="bundle", document="manifest"
    )
    missing = [key for key in _REQUIRED if key not in manifest]
    if missing:
        raise MusicDanceError(f"bundle manifest lacks {', '.join(missing)}", manifest_path)
    check_feature_parameters(manifest["features"], what="bundle", path=folder)
    _check_files(folder, manifest)
    k = _check_classes(folder, manifest)
    transition = _load_transition(folder / manifest["transition"], k)
    bundle = Bundle(folder, manifest, transition, threads=threads,
                    context_head=_load_context_head(folder, manifest.get("context_head"), k))
    if load_session:
        _check_graph(bundle, k)
    if library is not None:
        bundle.check_library(library)
    return bundle


def _check_files(folder: Path, manifest: dict[str, Any]) -> None:
    files = manifest["files"]
    graphs = manifest["graphs"]
    if not isinstance(files, dict) or not isinstance(graphs, dict) or PROBABILITIES not in graphs:
        raise MusicDanceError("bundle manifest has no probabilities graph", folder)
    referenced = _referenced(manifest)
    for name in sorted(referenced | set(files)):
        if not isinstance(name, str) or Path(name).name != name or name.startswith("."):
            raise MusicDanceError(f"bundle manifest names a file outside the bundle: {name!r}")
        if name not in files:
            raise MusicDanceError(f"bundle manifest has no sha256 for {name}", folder)
        target = folder / name
        if not target.is_file():
            raise MusicDanceError(f"bundle file {name} is missing", folder)
        expected = files[name].get("sha256") if isinstance(files[name], dict) else None
        if file_sha256(target) != expected:
            raise MusicDanceError(
                f"bundle file {name} does not match its sha256 in manifest.json (corrupt or "
                "modified)",
                folder,
            )


def _check_classes(folder: Path, manifest: dict[str, Any]) -> int:
    library = manifest["library"]
    ids = library.get("phrase_ids") if isinstance(library, dict) else None
    if not isinstance(ids, list) or not all(isinstance(p, str) for p in ids):
        raise MusicDanceError("bundle manifest has no library phrase ids", folder)
    k = manifest["num_classes"]
    config = ModelConfig.from_dict(manifest["model"])
    if not (k == len(ids) == config.num_classes):
        raise MusicDanceError(
            f"bundle K mismatch: num_classes {k}, {len(ids)} phrase ids, model K "
            f"{config.num_classes}",
            folder,
        )
    if library.get("fingerprint") != library_fingerprint(ids):
        raise MusicDanceError("bundle library fingerprint does not match its phrase ids", folder)
    return int(k)


def _load_transition(path: Path, k: int) -> np.ndarray:
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise MusicDanceError(f"transition matrix is unreadable: {error}", path) from error
    if matrix.shape != (k, k):
        raise MusicDanceError(f"transition matrix is {matrix.shape}, expected K x K = {k}", path)
    if not np.isfinite(matrix).all() or matrix.min() < 0:
        raise MusicDanceError("transition matrix has negative or non-finite values", path)
    return matrix.astype(np.float64)


def _load_context_head(folder: Path, record, k: int) -> np.ndarray | None:
    """The optional ``[K, C]`` context head named by the manifest's ``context_head``."""
    if record is None:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("names"), list):
        raise MusicDanceError("bundle manifest's context_head has no file and names", folder)
    path = folder / str(record["file"])
    try:
        head = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise MusicDanceError(f"context head is unreadable: {error}", path) from error
    if head.shape != (k, len(record["names"])) or not np.isfinite(head).all():
        raise MusicDanceError(
            f"context head is {head.shape}, expected K x C = {k} x {len(record['names'])} "
            "finite values",
            path,
        )
    return head.astype(np.float64)


def _check_graph(bundle: Bundle, k: int) -> None:
    session = bundle.session
    inputs, outputs = session.get_inputs(), session.get_outputs()
    size = int(bundle.manifest["features"]["size"])
    ok = (
        [i.name for i in inputs] == ["mel"]
        and list(inputs[0].shape[1:]) == [1, size, size]
        and [o.name for o in outputs] == ["probabilities"]
        and outputs[0].shape[-1] == k
    )
    if not ok:
        shapes = [(i.name, i.shape) for i in inputs] + [(o.name, o.shape) for o in outputs]
        raise MusicDanceError(
            f"probabilities graph has the wrong interface {shapes}; expected mel "
            f"[batch, 1, {size}, {size}] -> probabilities [batch, {k}]",
            bundle.path,
        )


def open_default_bundle(
    library, path: str | os.PathLike[str] = DEFAULT_BUNDLE, *, threads: int = 0
) -> tuple[Bundle | None, str | None]:
    """The default bundle for ``library``, if there is one.

    Returns ``(bundle, None)`` when ``path`` holds a bundle made for ``library`` (a
    PhraseLibrary or a list of phrase ids), or ``(None, why not)`` when the folder has no
    bundle or the bundle was made for another library (the caller falls back to the feature
    scorer). A bundle made for this library that fails any other check (a corrupt file, other
    feature parameters, ...) is still a :class:`MusicDanceError`: a broken install is not
    hidden.
    """
    folder = Path(path)
    if not (folder / MANIFEST_NAME).is_file():
        return None, f"no bundle at {folder}"
    ids = list(library) if isinstance(library, list | tuple) else library.ids()
    made_for = _manifest_fingerprint(folder / MANIFEST_NAME)
    if made_for is not None and made_for != library_fingerprint(ids):
        return None, f"{folder} was made for another library"
    return open_bundle(folder, library=library, threads=threads), None


def choose_bundle(
    library,
    bundle: str | os.PathLike[str] | None = None,
    *,
    use_default: bool = True,
    threads: int = 0,
    default: str | os.PathLike[str] = DEFAULT_BUNDLE,
) -> tuple[Bundle | None, str | None]:
    """The bundle that scores the slots for ``library``: the policy of every shell.

    ``bundle`` when one is named (every check must pass, else a clear error); otherwise, with
    ``use_default``, the default bundle if it was made for ``library``. Returns ``(bundle,
    None)``, ``(None, why not)`` when the default bundle does not apply (the caller scores with
    the features), or ``(None, None)`` when no bundle was wanted.
    """
    if bundle is not None:
        return open_bundle(bundle, library=library, threads=threads), None
    if not use_default:
        return None, None
    return open_default_bundle(library, default, threads=threads)


def _manifest_fingerprint(path: Path) -> str | None:
    """The library fingerprint a manifest records, or None if it cannot be read (then
    :func:`open_bundle` reports the problem)."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        fingerprint = manifest["library"]["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return fingerprint if isinstance(fingerprint, str) else None
