"""Shared tiny corpora for the model tests (built once per test session, in a temp folder)."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO

LIBRARY = REPO / "phrase_library"
_CACHE: dict[str, Path] = {}


def tiny_corpus(tmp_path_factory) -> Path:
    """Two unlabelled and two rule-labelled generated 20-s songs (one labelled one held out),
    analysed by the process pool; ~25 samples."""
    if "corpus" not in _CACHE:
        from musicdance.corpus.build import build_corpus, starter_sources

        folder = tmp_path_factory.mktemp("train") / "corpus"
        sources = starter_sources(unlabelled=2, labelled=2, duration_s=20.0, test_every=2)
        report = build_corpus(folder, sources, library=LIBRARY, workers=2)
        assert not report.failed, report.failed
        _CACHE["corpus"] = folder
    return _CACHE["corpus"]


def pretrained(tmp_path_factory) -> Path:
    """A pre-training checkpoint of the tiny corpus (one step, light encoder)."""
    if "pretrained" not in _CACHE:
        from musicdance.train import loops

        out = tmp_path_factory.mktemp("runs") / "pretrain.pt"
        loops.pretrain(tiny_corpus(tmp_path_factory), out, epochs=1, batch_size=4, max_batches=1)
        _CACHE["pretrained"] = out
    return _CACHE["pretrained"]


def finetuned(tmp_path_factory) -> Path:
    """A fine-tuned checkpoint (from :func:`pretrained`, a few epochs)."""
    if "finetuned" not in _CACHE:
        from musicdance.train import loops

        out = tmp_path_factory.mktemp("runs") / "finetune.pt"
        loops.finetune(
            tiny_corpus(tmp_path_factory), out, init=pretrained(tmp_path_factory), epochs=3
        )
        _CACHE["finetuned"] = out
    return _CACHE["finetuned"]
