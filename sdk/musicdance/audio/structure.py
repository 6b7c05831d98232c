"""Long-fragment structure: section boundaries and labels by Laplacian segmentation over bars.

Follows McFee and Ellis (2014), "Analyzing song structure with spectral clustering" (librosa's
Laplacian segmentation example), with bars instead of beats as the time unit so that sections
start on downbeats and the matrices stay small (about 100 x 100 for a 4-minute song):

1. bar features: mean chroma, bass chroma and mel cepstrum (timbre) of each bar, standardised;
   stacked with the next bar's features (time-delay embedding) for the recurrence graph;
2. recurrence affinity: mutual k-nearest neighbours between bars, Gaussian weights;
3. sequence affinity: Gaussian weights between consecutive bars;
4. the two are balanced (``mu``) so that a random walk is as likely to follow time as to jump
   to a repetition; the symmetric normalised Laplacian's low eigenvectors embed the bars;
5. k-means in that embedding for k chosen by the eigen-gap; runs of one cluster are sections,
   and sections of the same cluster share a label (chorus 1 and chorus 2 get the same letter).

Everything is numpy (``numpy.linalg.eigh`` and a small seeded k-means). The matrices are
``n_bars x n_bars``, so songs longer than ``MAX_STRUCTURE_BARS`` bars are segmented in windows of
at most that many bars whose clusters are then matched across windows (k-means over the
clusters' mean features): memory stays linear in the song's length beyond the cap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_STRUCTURE_BARS", "Segmentation", "bar_features", "segment_bars", "refine_boundaries",
    "kmeans",
]

#: Most bars segmented in one piece (an ``n x n`` affinity matrix of 8 bytes per entry, about
#: 8 MB at 1024 bars; a 4-minute song has about 100 bars, a 60-minute one at 120 BPM 1800).
MAX_STRUCTURE_BARS = 1024


@dataclass
class Segmentation:
    """Sections over bars.

    Attributes:
        bar_labels: np.ndarray [shape=(n_bars,), int], cluster of each bar.
        starts: np.ndarray [shape=(n_sections,), int], first bar of each section.
        stops: np.ndarray [shape=(n_sections,), int], bar after the last of each section.
        labels: list of str, one letter per section (A, B, ... by first appearance).
    """

    bar_labels: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    labels: list[str]


def bar_features(
    bar_frames: np.ndarray, *, chroma: np.ndarray, chroma_bass: np.ndarray,
    log_mel_db: np.ndarray, n_ceps: int = 13,
) -> np.ndarray:
    """Mean chroma, bass chroma and mel cepstrum per bar, each group standardised.

    Args:
        bar_frames: np.ndarray [shape=(n_bars + 1,), int], frame where each bar starts, plus
            the end of the last bar.
        chroma, chroma_bass: np.ndarray [shape=(12, T)].
        log_mel_db: np.ndarray [shape=(n_mels, T)].
        n_ceps: cepstral coefficients kept (coefficient 0, loudness, included).

    Returns:
        np.ndarray [shape=(n_bars, 24 + n_ceps)].
    """
    n_mels = log_mel_db.shape[0]
    k = np.arange(n_ceps)[:, None]
    dct = np.cos(np.pi * k * (np.arange(n_mels)[None, :] + 0.5) / n_mels)  # DCT-II basis
    groups = []
    n_frames = chroma.shape[1]
    starts = np.minimum(np.asarray(bar_frames[:-1], dtype=int), n_frames - 1)
    stop = int(min(max(bar_frames[-1], starts[-1] + 1), n_frames))
    widths = np.maximum(np.diff(np.concatenate([starts, [stop]])), 1)
    for mat in (chroma, chroma_bass, log_mel_db):
        # per-bar sums without a full-length float64 cumulative sum (long songs)
        sums = np.add.reduceat(mat[:, :stop], starts, axis=1, dtype=np.float64)
        groups.append((sums / widths).T)
    groups[2] = groups[2] @ dct.T / n_mels
    out = []
    for g in groups:
        g = g - g.mean(axis=0)
        scale = np.sqrt((g**2).sum(axis=1).mean())
        out.append(g / scale if scale > 1e-9 else g)
    return np.concatenate(out, axis=1)


def kmeans(x: np.ndarray, k: int, *, seed: int = 0, n_init: int = 8, n_iter: int = 50):
    """Plain Lloyd k-means with k-means++ seeding; returns (labels, inertia)."""
    rng = np.random.default_rng(seed)
    n = len(x)
    best = (np.zeros(n, dtype=int), np.inf)
    for _ in range(n_init):
        centres = [x[rng.integers(n)]]
        for _ in range(1, k):
            d = np.min(((x[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
            p = d / d.sum() if d.sum() > 0 else np.full(n, 1.0 / n)
            centres.append(x[rng.choice(n, p=p)])
        c = np.array(centres)
        for _ in range(n_iter):
            labels = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
            new = np.array([x[labels == j].mean(0) if (labels == j).any() else c[j]
                            for j in range(k)])
            if np.allclose(new, c):
                break
            c = new
        inertia = float(((x - c[labels]) ** 2).sum())
        if inertia < best[1]:
            best = (labels, inertia)
    return best


def segment_bars(
    feats: np.ndarray, *, max_sections: int = 8, min_bars: int = 2, n_stack: int = 4,
    min_labels: int = 2, seed: int = 0,
) -> Segmentation:
    """Laplacian segmentation of a bar sequence.

    Args:
        feats: np.ndarray [shape=(n_bars, d)], from ``bar_features``.
        max_sections: largest number of distinct section labels considered.
        min_bars: sections shorter than this are merged into the more similar neighbour.
        n_stack: bars stacked (time-delay embedding) for the recurrence affinity.
        min_labels: smallest number of distinct labels the eigen-gap may choose.
        seed: k-means seed.

    Returns:
        ``Segmentation``. Fewer than 4 bars give one section.
    """
    n = len(feats)
    if n > MAX_STRUCTURE_BARS:
        return _segment_windows(
            feats, max_sections=max_sections, min_bars=min_bars, n_stack=n_stack,
            min_labels=min_labels, seed=seed,
        )
    if n < 4:
        return _from_labels(np.zeros(n, dtype=int), feats, min_bars)
    stacked = np.concatenate(
        [np.vstack([feats[j:], np.repeat(feats[-1:], j, axis=0)]) for j in range(n_stack)], axis=1
    )
    sq = (stacked**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * stacked @ stacked.T, 0.0)
    knn = max(2, int(np.ceil(np.sqrt(n) / 2)))
    order = np.argsort(d2 + np.diag(np.full(n, np.inf)), axis=1)[:, :knn]
    near = np.zeros((n, n), dtype=bool)
    near[np.repeat(np.arange(n), knn), order.ravel()] = True
    near &= near.T
    # exclude trivial neighbours within 1 bar
    idx = np.arange(n)
    near &= np.abs(idx[:, None] - idx[None, :]) > 1
    sigma = np.median(d2[near]) if near.any() else np.median(d2)
    rec = np.where(near, np.exp(-d2 / max(sigma, 1e-9)), 0.0)
    seq_d2 = ((feats[1:] - feats[:-1]) ** 2).sum(-1)
    seq_w = np.exp(-seq_d2 / max(np.median(seq_d2), 1e-9))
    path = np.zeros((n, n))
    path[idx[:-1], idx[1:]] = seq_w
    path[idx[1:], idx[:-1]] = seq_w
    deg_path, deg_rec = path.sum(1), rec.sum(1)
    mu = deg_path.dot(deg_path + deg_rec) / max(((deg_path + deg_rec) ** 2).sum(), 1e-9)
    aff = mu * rec + (1 - mu) * path
    deg = aff.sum(1)
    inv = 1.0 / np.sqrt(np.maximum(deg, 1e-9))
    lap = np.eye(n) - inv[:, None] * aff * inv[None, :]
    evals, evecs = np.linalg.eigh(lap)
    k_max = int(min(max_sections, max(2, n // 4)))
    k_min = int(min(min_labels, k_max))
    gaps = np.diff(evals[: k_max + 1])  # gaps[i] = evals[i + 1] - evals[i]
    k = int(np.argmax(gaps[k_min - 1 : k_max]) + k_min)
    emb = evecs[:, :k] / np.maximum(np.linalg.norm(evecs[:, :k], axis=1, keepdims=True), 1e-9)
    labels, _ = kmeans(emb, k, seed=seed)
    return _from_labels(labels, feats, min_bars)


def _segment_windows(
    feats: np.ndarray, *, max_sections: int, min_bars: int, n_stack: int, min_labels: int,
    seed: int,
) -> Segmentation:
    """``segment_bars`` over windows of at most ``MAX_STRUCTURE_BARS`` bars, labels unified.

    Each window's clusters are described by their mean bar features; k-means over those
    descriptions, with k the median number of labels the windows found, gives the
    song-wide labels. Memory is ``O(MAX_STRUCTURE_BARS^2 + n_bars)``.
    """
    n = len(feats)
    n_windows = -(-n // MAX_STRUCTURE_BARS)
    bounds = np.linspace(0, n, n_windows + 1).round().astype(int)
    local = np.empty(n, dtype=int)
    means = []
    counts = []
    for w, (s, e) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        part = segment_bars(
            feats[s:e], max_sections=max_sections, min_bars=min_bars, n_stack=n_stack,
            min_labels=min_labels, seed=seed + w,
        )
        found = np.unique(part.bar_labels)
        counts.append(len(found))
        for label in found:
            local[s:e][part.bar_labels == label] = len(means)
            means.append(feats[s:e][part.bar_labels == label].mean(axis=0))
    means = np.asarray(means)
    k = int(min(max_sections, max(round(float(np.median(counts))), min_labels, 1), len(means)))
    cluster_of, _ = kmeans(means, k, seed=seed)
    return _from_labels(cluster_of[local], feats, min_bars)


def refine_boundaries(
    seg: Segmentation, evidence: np.ndarray, *, radius: int = 2, min_bars: int = 2,
    grid_bonus: float = 0.3, grid_phase: int | None = None,
) -> Segmentation:
    """Move each section boundary to the bar within ``radius`` with the strongest break evidence.

    Cluster labels change gradually at a boundary, so the Laplacian boundary is often a bar or
    two off; a phrase break (melody rest, drum fill) pins it down. Labels are then re-assigned by
    majority vote of the bar clusters inside each section.

    Args:
        seg: a ``Segmentation``.
        evidence: np.ndarray [shape=(n_bars,)], break evidence before each bar.
        radius: bars a boundary may move.
        min_bars: no section becomes shorter than this.
        grid_bonus: added where the section that the boundary closes is a multiple of 4 bars
            (half of it for a multiple of 2): sections are built from 2- and 4-bar units.
        grid_phase: when given, the grid is the song's 4-bar grid starting at this bar instead
            (and a section of ``grid_phase`` >= 2 bars is split off the start: a short intro).
    """
    n = len(seg.bar_labels)
    bounds = [0] + [int(b) for b in seg.starts[1:]] + [n]
    for i in range(1, len(bounds) - 1):
        lo = max(bounds[i - 1] + min_bars, bounds[i] - radius)
        hi = min(bounds[i + 1] - min_bars, bounds[i] + radius)
        if hi >= lo:
            cand = np.arange(lo, hi + 1)
            # prefer the original position on ties, then the strongest evidence
            length = cand - (bounds[i - 1] if grid_phase is None else grid_phase)
            grid = np.where(length % 4 == 0, grid_bonus, np.where(length % 2 == 0,
                                                                   grid_bonus / 2, 0.0))
            score = evidence[cand] + grid - 0.05 * np.abs(cand - bounds[i])
            bounds[i] = int(cand[np.argmax(score)])
    labels = np.empty(n, dtype=int)
    intro = None
    if grid_phase is not None and grid_phase >= 2 and bounds[1] - grid_phase >= min_bars:
        bounds.insert(1, int(grid_phase))
        intro = int(seg.bar_labels.max()) + 1
    for s, e in zip(bounds[:-1], bounds[1:], strict=True):
        vals, counts = np.unique(seg.bar_labels[s:e], return_counts=True)
        labels[s:e] = vals[np.argmax(counts)]
    if intro is not None:
        labels[: bounds[1]] = intro
    starts = np.asarray(bounds[:-1])
    stops = np.asarray(bounds[1:])
    letters: dict[int, str] = {}
    names = []
    for s in starts:
        letters.setdefault(int(labels[s]), _letter(len(letters)))
        names.append(letters[int(labels[s])])
    return Segmentation(labels, starts, stops, names)


def _from_labels(labels: np.ndarray, feats: np.ndarray, min_bars: int) -> Segmentation:
    labels = np.asarray(labels, dtype=int).copy()
    n = len(labels)
    if n == 0:
        return Segmentation(labels, np.zeros(0, int), np.zeros(0, int), [])
    for _ in range(n):
        starts = np.flatnonzero(np.concatenate([[True], labels[1:] != labels[:-1]]))
        stops = np.concatenate([starts[1:], [n]])
        short = np.flatnonzero(stops - starts < min_bars)
        if short.size == 0 or len(starts) == 1:
            break
        j = short[np.argmin((stops - starts)[short])]
        s, e = starts[j], stops[j]
        mean = feats[s:e].mean(0)
        cands = []
        if j > 0:
            cands.append((((feats[starts[j - 1] : s].mean(0) - mean) ** 2).sum(), labels[s - 1]))
        if j + 1 < len(starts):
            cands.append((((feats[e : stops[j + 1]].mean(0) - mean) ** 2).sum(), labels[e]))
        labels[s:e] = min(cands)[1]
    starts = np.flatnonzero(np.concatenate([[True], labels[1:] != labels[:-1]]))
    stops = np.concatenate([starts[1:], [n]])
    letters: dict[int, str] = {}
    names = []
    for s in starts:
        lab = int(labels[s])
        if lab not in letters:
            letters[lab] = _letter(len(letters))
        names.append(letters[lab])
    return Segmentation(labels, starts, stops, names)


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"S{i}"
