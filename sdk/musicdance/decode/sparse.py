"""Viterbi (with an optional beam) and greedy decoding over a sparse transition graph.

The transition into slot t is given per step as listed edges plus a per-source floor:
``M_t(i -> j) = weights[kind[t - 1]][e]`` for a listed edge e (source i, target j; CSR form,
targets ascending within a source), and ``floor[i]`` for every pair not listed (0 when a row is
complete). With every pair listed and no beam, the decoders give exactly what the dense
``viterbi_decode`` / ``greedy_decode`` give for the same matrices (same sums, same tie rule: the
lowest source index wins).

Per step the work is O(B * d + K): the B best states so far (the beam; all K without one) push
along their d listed edges, and the floor transition is carried from the best source (the
second best for the best source's own listed targets), so every phrase stays reachable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdance.decode.sequence import _log, _log_emission
from musicdance.errors import MusicDanceError

__all__ = ["SparseSteps", "sparse_greedy_decode", "sparse_viterbi_decode"]


@dataclass(frozen=True, eq=False)
class SparseSteps:
    """Per-step sparse transitions over K states.

    indptr ``[K + 1]``, targets ``[E]``: listed edges (CSR by source, targets ascending);
    weights: one ``[E]`` non-negative array per step kind; kind ``[N - 1]``: the weights used
    into slot t + 1; floor ``[K]``: value of every pair not listed (per source).
    """

    indptr: np.ndarray
    targets: np.ndarray
    weights: list[np.ndarray]
    kind: np.ndarray
    floor: np.ndarray

    @property
    def num_states(self) -> int:
        return len(self.indptr) - 1

    def value(self, t: int, i: int, j: int) -> float:
        """``M(i -> j)`` into slot ``t`` (t >= 1)."""
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        at = a + int(np.searchsorted(self.targets[a:b], j))
        if at < b and self.targets[at] == j:
            return float(self.weights[int(self.kind[t - 1])][at])
        return float(self.floor[i])

    def row(self, t: int, i: int) -> np.ndarray:
        """``M(i -> .)`` into slot ``t``: ``[K]``."""
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        out = np.full(self.num_states, float(self.floor[i]))
        out[self.targets[a:b]] = self.weights[int(self.kind[t - 1])][a:b]
        return out


def _check(emission: np.ndarray, steps: SparseSteps, allowed: np.ndarray | None) -> None:
    if emission.ndim != 2 or emission.shape[0] == 0 or emission.shape[1] == 0:
        raise MusicDanceError(f"emission must be a non-empty [N, K] array, got {emission.shape}")
    n, k = emission.shape
    if steps.num_states != k or len(steps.kind) != n - 1:
        raise MusicDanceError(
            f"sparse steps are for {steps.num_states} states and {len(steps.kind) + 1} slots, "
            f"the emission is {emission.shape}"
        )
    if np.any(emission < 0) or any(np.any(w < 0) for w in steps.weights):
        raise MusicDanceError("emission and transition scores must be non-negative")
    if allowed is not None and allowed.shape != emission.shape:
        raise MusicDanceError(f"allowed must be {emission.shape}, got {allowed.shape}")


def _edges_of(indptr: np.ndarray, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(edge ids, their source)`` of ``sources`` (ascending)."""
    starts = indptr[sources]
    counts = indptr[sources + 1] - starts
    total = int(counts.sum())
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(total), np.repeat(sources, counts)


def sparse_viterbi_decode(
    emission: np.ndarray,
    steps: SparseSteps,
    allowed: np.ndarray | None = None,
    *,
    beam: int | None = None,
) -> np.ndarray:
    """The best path ``[N]`` int over the sparse graph (see the module docstring).

    beam: states pushed along their listed edges per step (None: all, exact Viterbi).
    """
    emission = np.asarray(emission, dtype=float)
    _check(emission, steps, allowed)
    log_e = _log_emission(emission, allowed)
    num_slots, num_states = log_e.shape
    log_w = [_log(w) for w in steps.weights]
    log_floor = np.where(steps.floor > 0, _log(steps.floor), -np.inf)
    has_floor = bool(np.any(steps.floor > 0))
    everyone = np.arange(num_states)
    cumulative = log_e[0].copy()
    backlinks = np.zeros((num_slots, num_states), dtype=np.int32)
    for t in range(1, num_slots):
        if beam is None or beam >= num_states:
            sources = everyone
        else:
            sources = np.sort(np.argpartition(-cumulative, beam - 1)[:beam])
        edges, src = _edges_of(steps.indptr, sources)
        values = cumulative[src] + log_w[int(steps.kind[t - 1])][edges]
        targets = steps.targets[edges]
        best = np.full(num_states, -np.inf)
        np.maximum.at(best, targets, values)
        winner = values == best[targets]
        back = np.full(num_states, num_states, dtype=np.int64)
        np.minimum.at(back, targets[winner], src[winner])  # ties: the lowest source
        if has_floor:
            via_floor = cumulative + log_floor
            first = int(np.argmax(via_floor))
            value_first = via_floor[first]
            via_floor[first] = -np.inf
            second = int(np.argmax(via_floor))
            floor_value = np.full(num_states, value_first)
            floor_source = np.full(num_states, first, dtype=np.int64)
            listed = steps.targets[steps.indptr[first] : steps.indptr[first + 1]]
            floor_value[listed] = via_floor[second]  # first's own targets are listed edges
            floor_source[listed] = second
            use = floor_value > best
            best = np.where(use, floor_value, best)
            back = np.where(use, floor_source, back)
        back[back >= num_states] = 0
        backlinks[t] = back
        cumulative = best + log_e[t]
    path = np.empty(num_slots, dtype=np.int64)
    path[-1] = int(np.argmax(cumulative))
    for t in range(num_slots - 1, 0, -1):
        path[t - 1] = backlinks[t, path[t]]
    return path


def sparse_greedy_decode(
    emission: np.ndarray, steps: SparseSteps, allowed: np.ndarray | None = None
) -> np.ndarray:
    """The paper's re-scaling slot by slot, ``d_t = argmax_k F(u_t)[k] M(d_{t-1} -> k)``."""
    emission = np.asarray(emission, dtype=float)
    _check(emission, steps, allowed)
    log_e = _log_emission(emission, allowed)
    path = np.empty(len(emission), dtype=np.int64)
    path[0] = int(np.argmax(log_e[0]))
    for t in range(1, len(emission)):
        path[t] = int(np.argmax(log_e[t] + _log(steps.row(t, int(path[t - 1])))))
    return path
