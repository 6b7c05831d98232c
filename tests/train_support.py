"""Shared tiny corpora, checkpoints and bundle for the model tests: each is built once per test
run, in a temp folder, and shared by every test file that asks for it (under pytest-xdist, by
every worker: the first one builds it under a file lock, the others wait and reuse it). Treat
them as read-only; copy one before changing it."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO

LIBRARY = REPO / "phrase_library"
_CACHE: dict[str, Path] = {}


def tiny_config():
    """The networks of the shared checkpoints: the light encoder at its narrowest width with a
    256-wide embedding (the same layers, graphs and operators as the shipped model, a fraction
    of its arithmetic). The tests of the documented sizes build their own networks."""
    from musicdance.model_config import ModelConfig

    return ModelConfig.light(encoder_width=0.25, embedding_dim=256, spectrogram_decoder_divisor=8)


def _shared(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """``build(path)`` once per test run, shared by every test file and xdist worker."""
    if name in _CACHE:
        return _CACHE[name]
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # the workers' temp folders (popen-gw0, ...) share this run's parent folder
        root = tmp_path_factory.getbasetemp().parent / "shared-training"
        root.mkdir(exist_ok=True)
        target, done = root / name, root / f"{name}.done"
        with open(root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not done.exists():
                if target.is_dir():  # left by a worker whose build failed
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
                build(target)
                done.touch()
    else:
        target = tmp_path_factory.mktemp(name.split(".")[0]) / name
        build(target)
    _CACHE[name] = target
    return target


def tiny_corpus(tmp_path_factory) -> Path:
    """Two unlabelled and two rule-labelled generated 20-s songs (one labelled one held out),
    analysed by the process pool; ~25 samples."""

    def build(folder: Path) -> None:
        from musicdance.corpus.build import build_corpus, starter_sources

        sources = starter_sources(unlabelled=2, labelled=2, duration_s=20.0, test_every=2)
        report = build_corpus(folder, sources, library=LIBRARY, workers=2)
        assert not report.failed, report.failed

    return _shared(tmp_path_factory, "corpus", build)


def pretrained(tmp_path_factory) -> Path:
    """A pre-training checkpoint of the tiny corpus (one step, :func:`tiny_config`)."""
    corpus = tiny_corpus(tmp_path_factory)

    def build(out: Path) -> None:
        from musicdance.train import loops

        loops.pretrain(corpus, out, config=tiny_config(), epochs=1, batch_size=4, max_batches=1)

    return _shared(tmp_path_factory, "pretrain.pt", build)


def finetuned(tmp_path_factory) -> Path:
    """A fine-tuned checkpoint (from :func:`pretrained`, a few epochs)."""
    corpus, init = tiny_corpus(tmp_path_factory), pretrained(tmp_path_factory)

    def build(out: Path) -> None:
        from musicdance.train import loops

        loops.finetune(corpus, out, init=init, epochs=3)

    return _shared(tmp_path_factory, "finetune.pt", build)


def bundle(tmp_path_factory) -> Path:
    """The runtime bundle (float16) of :func:`finetuned` for the starter library."""
    checkpoint = finetuned(tmp_path_factory)

    def build(out: Path) -> None:
        from musicdance.train import bundle_export

        report = bundle_export.export_bundle(checkpoint, out, library=LIBRARY)
        assert report["weights"] == "float16" and set(report["files"]) == {
            "manifest.json",
            "probabilities.onnx",
            "transition.npy",
        }

    return _shared(tmp_path_factory, "bundle", build)


#: Graphs traced by :func:`reused_exports`, by graph name, module class and exact weights.
_TRACED: dict[tuple[str, str, str], bytes] = {}


def _weights_key(module) -> str:
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@contextlib.contextmanager
def reused_exports() -> Iterator[None]:
    """Within the block ``export.to_onnx`` traces each graph once per test process and hands
    out copies of it after that (keyed by graph name, module class and the exact weights): the
    files that export the same released model several times (a bundle, a re-export, a refused
    export, the CLI's) pay torch's exporter (~2-5 s CPU a graph) once. The exporter is
    deterministic (the same weights give the same bytes), so each copy is what a new trace
    writes; the checks after it (parity, float16 storage, manifests) all still run."""
    import onnx

    from musicdance.train import export

    trace = export.to_onnx

    def to_onnx(spec):
        key = (spec.name, type(spec.module).__name__, _weights_key(spec.module))
        if key not in _TRACED:
            _TRACED[key] = trace(spec).SerializeToString()
        return onnx.load_from_string(_TRACED[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export, "to_onnx", to_onnx)
        yield
