"""Classification metrics of the seeds' tables (numpy only): per-segment accuracy, per-piece
accuracy by majority vote, confusion matrix, weighted F1, cross-entropy."""

from __future__ import annotations

import numpy as np

__all__ = ["confusion", "cross_entropy", "majority_votes", "piece_accuracy", "weighted_f1"]


def confusion(true: np.ndarray, pred: np.ndarray, classes: int) -> np.ndarray:
    """``[K, K]`` counts, rows true class, columns predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, int), np.asarray(pred, int)), 1)
    return matrix


def weighted_f1(true: np.ndarray, pred: np.ndarray, classes: int) -> float:
    """F1 per class weighted by the class's share of ``true`` (scikit-learn's ``weighted``)."""
    m = confusion(true, pred, classes).astype(np.float64)
    tp = np.diag(m)
    precision = np.divide(tp, m.sum(0), out=np.zeros(classes), where=m.sum(0) > 0)
    recall = np.divide(tp, m.sum(1), out=np.zeros(classes), where=m.sum(1) > 0)
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros(classes),
        where=precision + recall > 0,
    )
    support = m.sum(1)
    return float((f1 * support).sum() / max(support.sum(), 1))


def cross_entropy(probabilities: np.ndarray, true: np.ndarray) -> float:
    """Mean negative log-probability of the true class (sparse categorical cross-entropy)."""
    p = np.clip(probabilities[np.arange(len(true)), np.asarray(true, int)], 1e-12, 1.0)
    return float(-np.log(p).mean())


def majority_votes(pred: np.ndarray, groups: np.ndarray, classes: int) -> dict[int, int]:
    """Most frequent predicted class of each group (ties: the lowest class)."""
    out = {}
    for g in np.unique(groups):
        out[int(g)] = int(np.bincount(pred[groups == g], minlength=classes).argmax())
    return out


def piece_accuracy(pred: np.ndarray, true: np.ndarray, groups: np.ndarray, classes: int):
    """(accuracy, number of pieces) of the majority vote over each piece's segments."""
    votes = majority_votes(np.asarray(pred, int), np.asarray(groups), classes)
    truth = {int(g): int(true[groups == g][0]) for g in np.unique(groups)}
    hits = [votes[g] == truth[g] for g in votes]
    return float(np.mean(hits)) if hits else float("nan"), len(hits)
