"""Viterbi (with an optional beam) and greedy decoding over a sparse transition graph.

The transition into slot t is given per step as listed edges plus a per-source floor:
``M_t(i -> j) = weights[kind[t - 1]][e]`` for a listed edge e (source i, target j; CSR form,
targets ascending within a source), and ``floor[i]`` for every pair not listed (0 when a row is
complete). With every pair listed and no beam, the decoders give exactly what the dense
``viterbi_decode`` / ``greedy_decode`` give for the same matrices (same sums, same tie rule: the
lowest source index wins).

Per step the work is O(B * d + K log K): the B best states so far (the beam; all K without
one) push along their d listed edges, and the floor transition is carried from the best
source (for that source's own listed targets, from the next best that does not list them), so
every phrase stays reachable. Without a beam the result is exactly the dense Viterbi over the
matrix the graph stands for (listed values, floor elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    _logs: dict = field(default_factory=dict, repr=False)

    def log_weights(self, kind: int) -> np.ndarray:
        """``log`` of ``weights[kind]`` (floored like the dense decoder's), computed once."""
        if kind not in self._logs:
            self._logs[kind] = _log(self.weights[kind])
        return self._logs[kind]

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
    if "checked" not in steps._logs:
        steps._logs["checked"] = not any(np.any(w < 0) for w in steps.weights)
    if np.any(emission < 0) or not steps._logs["checked"]:
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
    log_floor = np.where(steps.floor > 0, _log(steps.floor), -np.inf)
    has_floor = bool(np.any(steps.floor > 0))
    everyone = np.arange(num_states)
    all_edges = (np.arange(len(steps.targets)), np.repeat(everyone, np.diff(steps.indptr)))
    cumulative = log_e[0].copy()
    backlinks = np.zeros((num_slots, num_states), dtype=np.int32)
    for t in range(1, num_slots):
        if beam is None or beam >= num_states:
            edges, src = all_edges
        else:
            sources = np.sort(np.argpartition(-cumulative, beam - 1)[:beam])
            edges, src = _edges_of(steps.indptr, sources)
        values = cumulative[src] + steps.log_weights(int(steps.kind[t - 1]))[edges]
        targets = steps.targets[edges]
        best = np.full(num_states, -np.inf)
        np.maximum.at(best, targets, values)
        winner = values == best[targets]
        back = np.full(num_states, num_states, dtype=np.int64)
        np.minimum.at(back, targets[winner], src[winner])  # ties: the lowest source
        if has_floor:
            floor_value, floor_source = _floor_step(cumulative + log_floor, steps)
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


def _best_first(values: np.ndarray, head: int = 32):
    """Indices by decreasing value, ties by index: the first ``head`` by a partial sort, the
    rest (rarely needed) by a full one."""
    if len(values) > 4 * head:
        top = np.argpartition(-values, head - 1)[:head]
        top = top[np.lexsort((top, -values[top]))]
        yield from top.tolist()
        # the partition may have split a tie at its edge: resume from the full order
        order = np.argsort(-values, kind="stable")
        yield from order[head:].tolist() if np.array_equal(order[:head], top) else [
            i for i in order.tolist() if i not in set(top.tolist())
        ]
    else:
        yield from np.argsort(-values, kind="stable").tolist()


def _floor_step(via_floor: np.ndarray, steps: SparseSteps) -> tuple[np.ndarray, np.ndarray]:
    """Best score into each target over the pairs not listed: ``(value [K], source [K])``.

    The best source by ``cumulative + log floor`` serves every target it does not list; its
    listed targets go to the next best source that does not list them, and so on (exact: the
    sources are tried in order until every target is served or none is left)."""
    num_states = len(via_floor)
    value = np.full(num_states, -np.inf)
    source = np.zeros(num_states, dtype=np.int64)
    waiting = np.arange(num_states)
    listed = np.zeros(num_states, dtype=bool)
    for candidate in _best_first(via_floor):
        if not np.isfinite(via_floor[candidate]):
            break
        a, b = steps.indptr[candidate], steps.indptr[candidate + 1]
        listed[steps.targets[a:b]] = True
        served = waiting[~listed[waiting]]
        value[served] = via_floor[candidate]
        source[served] = candidate
        waiting = waiting[listed[waiting]]
        listed[steps.targets[a:b]] = False
        if not len(waiting):
            break
    return value, source


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
