"""Evaluation of a fine-tuned or co-ascent checkpoint: Top-1/5/10 on held-out songs."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from musicdance.corpus.reader import open_corpus
from musicdance.errors import MusicDanceError
from musicdance.train.checkpoints import load_checkpoint, networks_from_checkpoint
from musicdance.train.coascent import initial_transitions, rescale_with_transitions
from musicdance.train.common import corpus_classes, embed, labelled_data, topk_accuracy
from musicdance.train.finetuning import check_classes, predict_probabilities


def evaluate(
    corpus: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str],
    *,
    split: str = "test",
) -> dict[str, Any]:
    """Top-1/5/10 of a fine-tuned or co-ascent checkpoint on the labelled songs of ``split``.

    Also reports the same with the transition re-scaling of eq. 6 along each song
    (``rescaled_top*``; the checkpoint's M for co-ascent, the library prior otherwise when the
    library is at hand).
    """
    opened = open_corpus(corpus)
    phrase_ids, lib_info = corpus_classes(opened)
    loaded = load_checkpoint(checkpoint, stages=("finetune", "coascent"))
    check_classes(loaded, phrase_ids)
    networks = networks_from_checkpoint(loaded)
    arrays, labels = labelled_data(opened, phrase_ids, split)
    probabilities = predict_probabilities(networks.predictor, embed(networks.encoder, arrays.mel))
    report: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "stage": loaded["stage"],
        "split": split,
        "samples": len(arrays),
        "classes": len(phrase_ids),
        **topk_accuracy(probabilities, labels),
    }
    transition = loaded.get("transition")
    if transition is not None:
        matrix = transition.double().numpy()
    else:
        try:
            matrix = initial_transitions(lib_info["path"], phrase_ids)
        except MusicDanceError:
            matrix = None
    if matrix is not None and len(arrays):
        _, _, rescaled = rescale_with_transitions(
            probabilities.double().numpy(), arrays.song, matrix
        )
        report.update({f"rescaled_{k}": v for k, v in topk_accuracy(rescaled, labels).items()})
    counts = np.bincount(labels, minlength=len(phrase_ids)) if len(labels) else np.zeros(1)
    report["majority_top1"] = float(counts.max() / max(len(labels), 1))
    return report
