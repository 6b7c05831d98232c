"""Greedy re-scaling (the paper's eq. 6) and a global Viterbi decoder, in the log domain.

emission: ``[N, K]`` non-negative scores ``F(u_t)`` of each of K library phrases for each of N
music phrases. transition: ``[K, K]`` non-negative prior ``M(i -> j)`` of phrase j following
phrase i, or ``[N - 1, K, K]`` with one matrix per step (step t joins slot t to slot t + 1).
allowed: optional ``[N, K]`` bool mask of phrases a slot may take (style filter, section
reuse, ...). Zero scores mean "impossible" and are never chosen while anything else is.
"""

from __future__ import annotations

import numpy as np

from musicdance.errors import MusicDanceError

_FLOOR = -1e9  # log of "impossible", finite so that sums stay comparable


def _log(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(np.asarray(values, dtype=float)), _FLOOR)


def _check(emission: np.ndarray, transition: np.ndarray, allowed: np.ndarray | None) -> None:
    if emission.ndim != 2 or emission.shape[0] == 0 or emission.shape[1] == 0:
        raise MusicDanceError(f"emission must be a non-empty [N, K] array, got {emission.shape}")
    n, k = emission.shape
    if transition.shape not in ((k, k), (n - 1, k, k)):
        raise MusicDanceError(
            f"transition must be [{k}, {k}] or [{n - 1}, {k}, {k}], got {transition.shape}"
        )
    if np.any(emission < 0) or np.any(transition < 0):
        raise MusicDanceError("emission and transition scores must be non-negative")
    if allowed is not None and allowed.shape != emission.shape:
        raise MusicDanceError(f"allowed must be {emission.shape}, got {allowed.shape}")


def _log_emission(emission: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    log_e = _log(emission)
    if allowed is not None:
        log_e = np.where(allowed, log_e, 2 * _FLOOR)
    return log_e


def _step(log_m: np.ndarray, t: int) -> np.ndarray:
    """The log transition matrix into slot ``t``."""
    return log_m if log_m.ndim == 2 else log_m[t - 1]


def greedy_decode(
    emission: np.ndarray, transition: np.ndarray, allowed: np.ndarray | None = None
) -> np.ndarray:
    """The paper's re-scaling, slot by slot: ``d_t = argmax_k F(u_t)[k] * M(d_{t-1} -> k)``.

    Returns the chosen phrase index per slot, ``[N]`` int.
    """
    emission = np.asarray(emission, dtype=float)
    transition = np.asarray(transition, dtype=float)
    _check(emission, transition, allowed)
    log_e = _log_emission(emission, allowed)
    log_m = _log(transition)
    path = np.empty(len(emission), dtype=np.int64)
    path[0] = int(np.argmax(log_e[0]))
    for t in range(1, len(emission)):
        path[t] = int(np.argmax(log_e[t] + _step(log_m, t)[path[t - 1]]))
    return path


def viterbi_decode(
    emission: np.ndarray, transition: np.ndarray, allowed: np.ndarray | None = None
) -> np.ndarray:
    """The sequence maximising ``prod_t F(u_t)[d_t] * prod_t M(d_{t-1} -> d_t)``, ``[N]`` int.

    Dynamic programming over ``[N, K]`` cumulative log scores with back-links, then a
    backtrack: O(N K^2) time, O(N K) memory.
    """
    emission = np.asarray(emission, dtype=float)
    transition = np.asarray(transition, dtype=float)
    _check(emission, transition, allowed)
    log_e = _log_emission(emission, allowed)
    log_m = _log(transition)
    num_slots, num_phrases = log_e.shape
    cumulative = log_e[0].copy()
    backlinks = np.zeros((num_slots, num_phrases), dtype=np.int64)
    for t in range(1, num_slots):
        candidates = cumulative[:, None] + _step(log_m, t)  # [from, to]
        backlinks[t] = np.argmax(candidates, axis=0)
        cumulative = candidates[backlinks[t], np.arange(num_phrases)] + log_e[t]
    path = np.empty(num_slots, dtype=np.int64)
    path[-1] = int(np.argmax(cumulative))
    for t in range(num_slots - 1, 0, -1):
        path[t - 1] = backlinks[t, path[t]]
    return path


def sequence_log_score(emission: np.ndarray, transition: np.ndarray, path: np.ndarray) -> float:
    """Log of ``prod_t F(u_t)[d_t] * prod_t M(d_{t-1} -> d_t)`` for a given path."""
    path = np.asarray(path)
    score = _log(emission[np.arange(len(path)), path]).sum()
    if transition.ndim == 3:
        return float(score + _log(transition[np.arange(len(path) - 1), path[:-1], path[1:]]).sum())
    return float(score + _log(transition[path[:-1], path[1:]]).sum())
