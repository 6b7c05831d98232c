"""Hybrid music-dance retrieval, eq. (21): ``S_hyb = lambda_3 S_e + (1 - lambda_3) S_r``.

``S_e`` is the cosine similarity of the implicit pathway's embeddings; ``S_r`` the rhythm
similarity, here the cosine similarity of :func:`~musicdance.rhythm.model.rhythm_signature`
(the autocorrelation of the song's onset envelope against that of the dance's visual rhythm
curve: the same pulse, wherever the two start).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CLIP_FRAMES",
    "clip_similarities",
    "hybrid_similarity",
    "median_rank",
    "precision_recall",
    "recall_at_k",
]

#: Frames of the clips retrieval is measured on: 24 s, the paper's clip length (Table 3).
CLIP_FRAMES = 360


def hybrid_similarity(
    audio_emb: np.ndarray,
    motion_emb: np.ndarray,
    audio_sig: np.ndarray,
    motion_sig: np.ndarray,
    lam: float = 0.5,
) -> np.ndarray:
    """``[A, V]`` S_hyb of eq. (21) for A songs and V dances (embeddings and signatures unit
    norm, rows per item)."""
    s_e = np.asarray(audio_emb) @ np.asarray(motion_emb).T
    s_r = np.asarray(audio_sig) @ np.asarray(motion_sig).T
    return lam * s_e + (1.0 - lam) * s_r


def clip_similarities(model, pairs, clip_frames: int = CLIP_FRAMES):
    """``(S_e, S_r)``, each ``[A, V]``, between the songs and the dances of ``pairs``
    (:class:`~musicdance.corpus.mudar.MudarPair`, their first ``clip_frames``) under a
    :class:`~musicdance.rhythm.model.MudarModel`: the cosine of the mean window embeddings
    and of the rhythm signatures (the song's onset envelope, the dance's visual rhythm)."""
    from musicdance.rhythm.features import MEL_ROWS
    from musicdance.rhythm.model import _unit, rhythm_signature

    a_emb, v_emb, a_sig, v_sig = [], [], [], []
    for p in pairs:
        audio, pose = p.audio[:, :clip_frames], p.pose[:clip_frames]
        a_emb.append(_unit(model.audio_window_embeddings(audio).mean(axis=0)))
        v_emb.append(_unit(model.motion_window_embeddings(pose).mean(axis=0)))
        a_sig.append(rhythm_signature(audio[MEL_ROWS + 1]))
        v_sig.append(rhythm_signature(model.rhythm_from_inputs(p.hoof[:clip_frames], pose)))
    return np.stack(a_emb) @ np.stack(v_emb).T, np.stack(a_sig) @ np.stack(v_sig).T


def median_rank(similarity: np.ndarray) -> float:
    """Median rank (1 = first) of each row's own column; chance is about ``(n + 1) / 2``."""
    sim = np.asarray(similarity, dtype=float)
    own = sim[np.arange(len(sim)), np.arange(len(sim))]
    return float(np.median((sim > own[:, None]).sum(axis=1) + 1))


def recall_at_k(similarity: np.ndarray, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k of the diagonal pairs: the share of rows whose own column ranks in the top k."""
    sim = np.asarray(similarity, dtype=float)
    own = sim[np.arange(len(sim)), np.arange(len(sim))]
    rank = (sim > own[:, None]).sum(axis=1)  # 0 = first
    return {f"R@{k}": float(np.mean(rank < k)) for k in ks}


def precision_recall(
    predicted_s: np.ndarray, truth_s: np.ndarray, tolerance_s: float = 0.1
) -> dict[str, float]:
    """Rhythm precision and recall: a prediction is a hit when a true point lies within
    ``tolerance_s``; each true point is matched once (greedy in time order)."""
    pred = np.sort(np.asarray(predicted_s, dtype=float))
    truth = np.sort(np.asarray(truth_s, dtype=float))
    used = np.zeros(len(truth), dtype=bool)
    hits = 0
    for t in pred:
        if not len(truth):
            break
        j = int(np.searchsorted(truth, t))
        best = None
        for k in (j - 1, j, j + 1):
            if 0 <= k < len(truth) and not used[k] and abs(truth[k] - t) <= tolerance_s:
                if best is None or abs(truth[k] - t) < abs(truth[best] - t):
                    best = k
        if best is not None:
            used[best] = True
            hits += 1
    return {
        "precision": hits / len(pred) if len(pred) else 0.0,
        "recall": hits / len(truth) if len(truth) else 0.0,
        "predicted": int(len(pred)),
        "true": int(len(truth)),
        "tolerance_s": tolerance_s,
    }
