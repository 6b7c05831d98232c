"""The sparse transition graph: for every phrase, its best successors, found with a
nearest-neighbour index over the boundary pose features.

The dense prior (``transition_prior``) is ``K x K``; at 100,000 phrases that is 80 GB. Most of
it is the floor: a phrase whose start pose is far from another's end pose costs more than
``-log(floor)`` to follow it, whatever the rules say. So the graph keeps, for each phrase i and
within i's style (the choreographer dances one style per song):

- the ``k`` successors j with the lowest full ``transition_costs`` (pose, velocity, support
  foot, facing, style), picked among the ``search_factor * k`` nearest start poses to i's end
  pose in a nearest-neighbour index (faiss-cpu's HNSW; pose and velocity scaled so that the
  Euclidean distance is ``sqrt(pose_cost^2 + velocity_cost^2)``, within a factor sqrt(2) of
  their sum, plus the support-foot and facing terms, ``search_vectors``);
- always i itself, its mirrored twin and the other variants of its move, so the choreographer's
  repeat, mirror and variety factors apply on listed edges.

A style group with at most ``k`` phrases is listed completely (every pair), and then the graph
is the dense matrix, entry for entry. Every pair not listed takes the prior's floor, as in the
dense matrix. The graph is cached in the library folder (``index/``), keyed by a hash of what it
depends on, so a choreographer builds it once per library version.

Building can be sharded (``engine="ray"``): the phrases of a style are cut into shards, each
Ray task builds an index over one shard's start poses and answers every end-pose query of the
style, and the driver merges the shards' candidate lists (the ``search_factor * k`` nearest
over all shards) before ranking them by the full cost.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.library.phrase import FEATURE_JOINTS
from musicdance.library.table import PhraseTable
from musicdance.library.transitions import TransitionWeights, pair_costs
from musicdance.raycluster import ray_session

__all__ = [
    "BACKENDS",
    "DEFAULT_K",
    "ENGINES",
    "GRAPH_VERSION",
    "TransitionGraph",
    "boundary_vectors",
    "search_vectors",
    "build_graph",
    "graph_for",
    "knn",
    "mirror_index",
    "move_codes",
    "move_of",
]

GRAPH_VERSION = 2
#: Successors kept per phrase (besides its own variants); see docs/library-scale.md.
DEFAULT_K = 96
#: Nearest start poses fetched per end pose, as a multiple of ``k``, before the full ranking.
SEARCH_FACTOR = 4
#: Random unlisted pairs per phrase that estimate the rest of its prior row (``rest_mean``).
REST_SAMPLES = 32
#: The prior's floor the estimate clips with (``transition_prior``'s default).
PRIOR_FLOOR = 0.01
BACKENDS = ("hnsw", "exact")
ENGINES = ("local", "ray")
INDEX_DIR = "index"
#: Graphs of libraries from this size on are saved in ``index/`` (smaller ones build in
#: milliseconds; a shipped starter library is not written to).
SAVE_MIN_PHRASES = 5000
#: HNSW settings (M, efConstruction, efSearch as a multiple of the neighbours asked).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_FACTOR = 2
_VARIANT_SUFFIXES = ("-mirror", "-calm", "-medium", "-full")
_POSE_DIMS = 3 * len(FEATURE_JOINTS) + 1
_memory: OrderedDict[str, TransitionGraph] = OrderedDict()
_memory_lock = threading.Lock()
_MEMORY_SIZE = 2


def move_of(phrase_id: str) -> str:
    """The move a phrase is a variant of: its id without mirror and energy suffixes."""
    changed = True
    while changed:
        changed = False
        for suffix in _VARIANT_SUFFIXES:
            if phrase_id.endswith(suffix):
                phrase_id, changed = phrase_id[: -len(suffix)], True
    return phrase_id


def mirror_index(ids) -> np.ndarray:
    """For each phrase id, the index of its mirrored twin (``ID`` <-> ``ID-mirror``), or -1."""
    ids = list(ids)
    index = {p: k for k, p in enumerate(ids)}
    twins = np.full(len(ids), -1, dtype=np.int64)
    for k, p in enumerate(ids):
        twin = p[: -len("-mirror")] if p.endswith("-mirror") else f"{p}-mirror"
        twins[k] = index.get(twin, -1)
    return twins


def move_codes(ids) -> np.ndarray:
    """``[K]`` int: equal codes for phrases that are variants of one move."""
    _, codes = np.unique(np.array([move_of(p) for p in ids], dtype=object).astype(str),
                         return_inverse=True)  # fmt: skip
    return codes.astype(np.int64)


@dataclass(frozen=True, eq=False)
class TransitionGraph:
    """Listed transitions of K phrases in CSR form, sorted by target within each source.

    indptr ``[K + 1]``: the edges of source i are ``indptr[i]:indptr[i + 1]``; targets ``[E]``
    (rows of the table); cost ``[E]`` (``transition_costs``); group_size ``[K]``: phrases in
    i's style (the dense prior's row length); twin / move ``[K]``: mirror twin row (-1: none)
    and move code; rest_mean ``[K]``: the mean of ``clip(exp(-cost), PRIOR_FLOOR, 1)`` over
    the pairs of row i that are not listed, estimated from ``REST_SAMPLES`` random pairs (0 in
    complete rows), so that the sparse prior's row sums match the dense ones.
    """

    indptr: np.ndarray
    targets: np.ndarray
    cost: np.ndarray
    group_size: np.ndarray
    twin: np.ndarray
    move: np.ndarray
    k: int
    rest_mean: np.ndarray | None = None

    @property
    def num_phrases(self) -> int:
        return len(self.indptr) - 1

    @property
    def num_edges(self) -> int:
        return len(self.targets)

    def degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    def sources(self) -> np.ndarray:
        """``[E]`` source row of every edge."""
        return np.repeat(np.arange(self.num_phrases), self.degrees())

    @property
    def complete(self) -> bool:
        """Every row lists its whole style group (the dense matrix, entry for entry)."""
        return bool(np.array_equal(self.degrees(), self.group_size))

    def subgraph(self, rows: np.ndarray) -> TransitionGraph:
        """The graph over ``rows`` (ascending, closed under style: every target of a listed
        row must be a listed row), renumbered ``0..len(rows) - 1``."""
        rows = np.asarray(rows, dtype=np.int64)
        new_index = np.full(self.num_phrases, -1, dtype=np.int64)
        new_index[rows] = np.arange(len(rows))
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        counts = stops - starts
        edges = _ranges(starts, counts)
        targets = new_index[self.targets[edges]]
        if np.any(targets < 0):
            raise MusicDanceError("transition subgraph: rows must be whole style groups")
        twin = np.where(self.twin[rows] >= 0, new_index[np.maximum(self.twin[rows], 0)], -1)
        return TransitionGraph(
            indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            targets=targets.astype(np.int32),
            cost=np.asarray(self.cost[edges]),
            group_size=np.asarray(self.group_size[rows]),
            twin=twin,
            move=np.asarray(self.move[rows]),
            k=self.k,
            rest_mean=None if self.rest_mean is None else np.asarray(self.rest_mean[rows]),
        )

    def prior(self, floor: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
        """``(prior [E], rest [K])``: the dense ``transition_prior``'s listed entries and, per
        source row, the value given to every entry not listed (0 in complete rows). Row sums
        are the listed entries' plus ``rest_mean`` times the unlisted count (the floor when
        the graph has no estimate)."""
        listed = np.clip(np.exp(-self.cost), floor, 1.0)
        degrees = self.degrees()
        if self.complete and len(degrees) and np.all(degrees == degrees[0]):
            # one style: the same [K, K] sum as the dense matrix, bit for bit
            row_sum = listed.reshape(len(degrees), degrees[0]).sum(axis=1)
        elif self.complete:
            bounds = zip(self.indptr[:-1], self.indptr[1:], strict=True)
            row_sum = np.array([listed[a:b].sum() for a, b in bounds])
        else:
            row_sum = np.add.reduceat(listed, self.indptr[:-1]) if len(listed) else np.zeros(0)
            missing = self.group_size - degrees
            rest = np.full(len(degrees), floor) if self.rest_mean is None else self.rest_mean
            rest = np.where(missing > 0, np.maximum(rest, floor), 0.0)
            row_sum = row_sum + missing * rest
            return listed / np.repeat(row_sum, degrees), rest / row_sum
        return listed / np.repeat(row_sum, degrees), np.zeros(len(degrees))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "indptr": self.indptr, "targets": self.targets, "cost": self.cost,
            "group_size": self.group_size, "twin": self.twin, "move": self.move,
            "k": np.array(self.k), "version": np.array(GRAPH_VERSION),
            "rest_mean": (np.zeros(self.num_phrases) if self.rest_mean is None
                          else np.asarray(self.rest_mean)),
        }  # fmt: skip

    @classmethod
    def from_arrays(cls, arrays) -> TransitionGraph:
        return cls(
            indptr=arrays["indptr"], targets=arrays["targets"], cost=arrays["cost"],
            group_size=arrays["group_size"], twin=arrays["twin"], move=arrays["move"],
            k=int(arrays["k"]), rest_mean=arrays["rest_mean"],
        )  # fmt: skip


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(starts[i], starts[i] + counts[i])``."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offsets + np.arange(total)


def boundary_vectors(features: np.ndarray, weights: TransitionWeights | None = None) -> np.ndarray:
    """Pose features ``[K, F]`` scaled so that the Euclidean distance between an end and a start
    vector is ``sqrt(pose_cost^2 + velocity_cost^2)`` of ``pose_velocity_cost``: ``[K, F]``
    float32."""
    w = weights or TransitionWeights()
    features = np.asarray(features, dtype=np.float64)
    pose, velocity = features[:, :_POSE_DIMS], features[:, _POSE_DIMS:]
    scaled = np.concatenate(
        [
            pose * np.sqrt(3.0 / max(pose.shape[1], 1)) / w.pose_m,
            velocity * np.sqrt(3.0 / max(velocity.shape[1], 1)) / w.velocity_mps,
        ],
        axis=1,
    )
    return np.ascontiguousarray(scaled, dtype=np.float32)


def search_vectors(
    table: PhraseTable, side: str, weights: TransitionWeights | None = None
) -> np.ndarray:
    """The vectors the nearest-neighbour index holds (``side="start"``, one per phrase) and is
    queried with (``side="end"``): ``boundary_vectors`` plus three dimensions for the rule
    terms, so that the Euclidean distance also grows with a support-foot clash (left against
    right: 1; against "none": 0.5, as ``transition_costs``) and with the facing after the join
    (``sin(angle / 2)``: 0 facing front, 1 facing back). ``[K, F + 3]`` float32."""
    w = weights or TransitionWeights()
    features = table.start_features if side == "start" else table.end_features
    support = table.support_start if side == "start" else table.support_end
    foot = np.where(support == 0, 0.5, np.where(support == 1, -0.5, 0.0)) * w.support
    if side == "start":  # the turn the phrase makes
        angle = np.radians(table.facing_end_deg - table.facing_start_deg)
    else:  # the turn that brings the dancer back to the front
        angle = -np.radians(table.facing_end_deg)
    facing = 0.5 * w.facing * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return np.ascontiguousarray(
        np.concatenate([boundary_vectors(features, w), foot[:, None], facing], axis=1),
        dtype=np.float32,
    )


def knn(
    data: np.ndarray, queries: np.ndarray, k: int, backend: str = "hnsw", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``data [n, F]`` to each of ``queries [q, F]`` (Euclidean):
    ``(indices [q, k] int64, squared distances [q, k] float32)``, nearest first.

    backend ``"exact"``: blocked brute force (numpy); ``"hnsw"``: faiss's HNSW graph
    (``IndexHNSWFlat``, built on one thread, so the same data gives the same index; ``seed``
    is kept for backends that take one).
    """
    k = min(int(k), len(data))
    if backend == "exact" or len(data) <= max(4 * k, 256):
        return _knn_exact(data, queries, k)
    if backend != "hnsw":
        raise MusicDanceError(f"nearest-neighbour backend must be one of {', '.join(BACKENDS)}")
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # one thread: the same data always gives the same graph
    try:
        index = faiss.IndexHNSWFlat(data.shape[1], HNSW_M)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(np.ascontiguousarray(data, dtype=np.float32))
        index.hnsw.efSearch = max(HNSW_EF_FACTOR * k, 64)
        distances, labels = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    finally:
        faiss.omp_set_num_threads(threads)
    if np.any(labels < 0):  # the search found fewer than k (tiny ef): fill from exact search
        exact_labels, exact_distances = _knn_exact(data, queries, k)
        short = np.any(labels < 0, axis=1)
        labels[short], distances[short] = exact_labels[short], exact_distances[short]
    return labels.astype(np.int64), distances.astype(np.float32)


def _knn_exact(data: np.ndarray, queries: np.ndarray, k: int, block: int = 1024):
    data = np.asarray(data, dtype=np.float32)
    norms = np.einsum("ij,ij->i", data, data)
    out_i = np.empty((len(queries), k), dtype=np.int64)
    out_d = np.empty((len(queries), k), dtype=np.float32)
    for a in range(0, len(queries), block):
        q = np.asarray(queries[a : a + block], dtype=np.float32)
        d = norms[None, :] - 2.0 * q @ data.T + np.einsum("ij,ij->i", q, q)[:, None]
        if k < len(data):
            part = np.argpartition(d, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(len(data)), d.shape)
        dd = np.take_along_axis(d, part, axis=1)
        order = np.argsort(dd, axis=1, kind="stable")
        out_i[a : a + block] = np.take_along_axis(part, order, axis=1)
        out_d[a : a + block] = np.maximum(np.take_along_axis(dd, order, axis=1), 0.0)
    return out_i, out_d


def _shard_knn(task: dict) -> tuple[np.ndarray, np.ndarray]:
    """One shard: index ``task["data"]`` and answer every query; indices are global rows."""
    indices, distances = knn(task["data"], task["queries"], task["k"], task["backend"],
                             task["seed"])  # fmt: skip
    return task["offset"] + indices, distances


def _merge(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> np.ndarray:
    """The ``k`` nearest per query over all shards' candidate lists: ``[q, k]`` indices."""
    indices = np.concatenate([p[0] for p in parts], axis=1)
    distances = np.concatenate([p[1] for p in parts], axis=1)
    k = min(k, indices.shape[1])
    # nearest first, ties by row, so the merge does not depend on shard order
    order = np.lexsort((indices, distances), axis=-1)
    indices = np.take_along_axis(indices, order, axis=1)
    return indices[:, :k]


def _candidates_local(tasks: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [_shard_knn(task) for task in tasks]


def _candidates_ray(tasks: list[dict], workers: int) -> list[tuple[np.ndarray, np.ndarray]]:
    with ray_session(workers, "the local engine") as ray:
        remote = ray.remote(num_cpus=1, max_retries=1)(_shard_knn)
        return ray.get([remote.remote(task) for task in tasks])


def build_graph(
    table: PhraseTable,
    *,
    k: int = DEFAULT_K,
    weights: TransitionWeights | None = None,
    backend: str = "hnsw",
    engine: str = "local",
    shard_size: int = 50_000,
    workers: int = 2,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> TransitionGraph:
    """The sparse transition graph of ``table`` (see the module docstring).

    shard_size: phrases per nearest-neighbour shard; ``engine="ray"`` runs the shards as Ray
    tasks (the cluster in ``RAY_ADDRESS``, or a local one with ``workers`` CPUs).
    """
    if engine not in ENGINES:
        raise MusicDanceError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if backend not in BACKENDS:
        raise MusicDanceError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    k = max(int(k), 1)
    ids = table.ids.tolist()
    twin = mirror_index(ids)
    move = move_codes(ids)
    styles, codes = table.style_codes()
    group_size = np.bincount(codes, minlength=len(styles))[codes] if len(ids) else codes
    starts_v = boundary_vectors(table.start_features, weights) if len(ids) else None
    ends_v = boundary_vectors(table.end_features, weights) if len(ids) else None
    starts_s = search_vectors(table, "start", weights) if len(ids) else None
    ends_s = search_vectors(table, "end", weights) if len(ids) else None
    sources_all, targets_all = [], []
    for s in range(len(styles)):
        rows = np.flatnonzero(codes == s)
        if len(rows) <= k:  # the whole group: the dense matrix
            sources_all.append(np.repeat(rows, len(rows)))
            targets_all.append(np.tile(rows, len(rows)))
            continue
        search = min(len(rows), SEARCH_FACTOR * k)
        tasks = [
            {"data": starts_s[rows[a : a + shard_size]], "queries": ends_s[rows],
             "k": search, "backend": backend, "seed": seed, "offset": a}
            for a in range(0, len(rows), shard_size)
        ]  # fmt: skip
        if engine == "ray":
            parts = _candidates_ray(tasks, workers)
        else:
            parts = _candidates_local(tasks)
        near = rows[_merge(parts, search)]  # [n, search] table rows
        src, tgt = _best_successors(table, (ends_v, starts_v), rows, near, k, twin, move,
                                    weights)  # fmt: skip
        sources_all.append(src)
        targets_all.append(tgt)
        if progress:
            progress(s + 1, len(styles))
    if sources_all:
        src = np.concatenate(sources_all)
        tgt = np.concatenate(targets_all)
    else:
        src = tgt = np.zeros(0, dtype=np.int64)
    order = np.lexsort((tgt, src))
    src, tgt = src[order], tgt[order]
    cost = np.concatenate(
        [pair_costs(table, src[a : a + 200_000], tgt[a : a + 200_000], weights)
         for a in range(0, len(src), 200_000)] or [np.zeros(0)]
    )  # fmt: skip
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=len(ids)))])
    rest_mean = _rest_mean(table, indptr, tgt, codes, np.asarray(group_size), weights, seed)
    return TransitionGraph(
        indptr=indptr.astype(np.int64),
        targets=tgt.astype(np.int32),
        cost=cost.astype(np.float64),
        group_size=np.asarray(group_size, dtype=np.int64),
        twin=twin,
        move=move,
        k=k,
        rest_mean=rest_mean,
    )


def _rest_mean(table, indptr, targets, codes, group_size, weights, seed) -> np.ndarray:
    """Per row, the mean clipped prior weight of ``REST_SAMPLES`` random unlisted pairs of its
    style (0 where the row lists its whole style)."""
    num = len(group_size)
    rest = np.zeros(num)
    degrees = np.diff(indptr)
    partial = np.flatnonzero(degrees < group_size)
    if not len(partial):
        return rest
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]
    sources = np.repeat(partial, REST_SAMPLES)
    picks = rng.random(len(sources))
    sizes = group_size[sources]
    offsets = np.minimum((picks * sizes).astype(np.int64), sizes - 1)
    sampled = np.empty(len(sources), dtype=np.int64)
    for c, group in enumerate(members):
        mask = codes[sources] == c
        sampled[mask] = group[offsets[mask]]
    listed_keys = np.repeat(np.arange(num), degrees) * num + targets
    keys = sources * num + sampled
    unlisted = ~np.isin(keys, listed_keys)
    values = np.zeros(len(sources))
    for a in range(0, len(sources), 200_000):
        chunk = slice(a, a + 200_000)
        cost = pair_costs(table, sources[chunk], sampled[chunk], weights)
        values[chunk] = np.clip(np.exp(-cost), PRIOR_FLOOR, 1.0)
    total = np.bincount(sources[unlisted], values[unlisted], minlength=num)
    count = np.bincount(sources[unlisted], minlength=num)
    rest[partial] = np.where(count[partial] > 0, total[partial] / np.maximum(count[partial], 1),
                             PRIOR_FLOOR)  # fmt: skip
    return rest


def _rank_costs(table, vectors, sources, targets, weights) -> np.ndarray:
    """``pair_costs`` in float32 from the scaled boundary vectors (for ranking candidates;
    the kept edges get their exact float64 cost)."""
    w = weights or TransitionWeights()
    ends_v, starts_v = vectors
    delta = ends_v[sources] - starts_v[targets]
    pose = np.sqrt(np.einsum("ij,ij->i", delta[:, :_POSE_DIMS], delta[:, :_POSE_DIMS]))
    velocity = np.sqrt(np.einsum("ij,ij->i", delta[:, _POSE_DIMS:], delta[:, _POSE_DIMS:]))
    end, start = table.support_end[sources], table.support_start[targets]
    support = np.where((end < 2) & (start < 2), (end != start).astype(np.float32),
                       np.where((end == 2) | (start == 2), 0.5, 0.0))  # fmt: skip
    turn = table.facing_end_deg[targets] - table.facing_start_deg[targets]
    after = (table.facing_end_deg[sources] + turn + 180.0) % 360.0 - 180.0
    return pose + velocity + w.support * support + w.facing * np.abs(after) / 180.0


def _best_successors(table, vectors, rows, near, k, twin, move, weights):
    """Rows' ``k`` cheapest successors among ``near`` plus their own variants: (src, tgt)."""
    n, search = near.shape
    best = np.empty((n, min(k, search)), dtype=np.int64)
    block = max(1, 200_000 // search)
    for a in range(0, n, block):
        part = near[a : a + block]
        src = np.repeat(rows[a : a + block], search)
        cost = _rank_costs(table, vectors, src, part.ravel(), weights).reshape(len(part), search)
        keep = np.argsort(cost, axis=1, kind="stable")[:, : best.shape[1]]
        best[a : a + block] = np.take_along_axis(part, keep, axis=1)
    sources = [np.repeat(rows, best.shape[1]), rows]
    targets = [best.ravel(), rows]
    has_twin = twin[rows] >= 0
    sources.append(rows[has_twin])
    targets.append(twin[rows][has_twin])
    # other variants of the same move (within the style group)
    group_move = move[rows]
    order = np.argsort(group_move, kind="stable")
    sorted_moves = group_move[order]
    bounds = np.flatnonzero(np.diff(sorted_moves)) + 1
    for members in np.split(order, bounds):
        if 1 < len(members) <= 64:
            member_rows = rows[members]
            sources.append(np.repeat(member_rows, len(member_rows)))
            targets.append(np.tile(member_rows, len(member_rows)))
    pairs = np.unique(
        np.stack([np.concatenate(sources), np.concatenate(targets)], axis=1), axis=0
    )
    return pairs[:, 0], pairs[:, 1]


# -- the cached graph of a library -----------------------------------------------------------


def content_hash(table: PhraseTable) -> str:
    """Hash of what any graph of ``table`` depends on (ids, styles, boundary annotations);
    computed once per table (and kept with the table's on-disk copy)."""
    cached = table._index.get("content_hash")
    if cached is None:
        digest = hashlib.blake2b(digest_size=16)
        digest.update("\0".join(table.ids.tolist()).encode())
        digest.update("\0".join(table.style.tolist()).encode())
        for name in ("support_start", "support_end", "facing_start_deg", "facing_end_deg",
                     "start_features", "end_features"):  # fmt: skip
            digest.update(np.ascontiguousarray(getattr(table, name)).tobytes())
        cached = table._index["content_hash"] = digest.hexdigest()
    return cached


def table_key(table: PhraseTable, k: int, weights: TransitionWeights | None = None) -> str:
    """Hash of everything the graph depends on (phrases, boundary annotations, k, weights)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"v{GRAPH_VERSION};k={k};{weights or TransitionWeights()!r}".encode())
    digest.update(content_hash(table).encode())
    return digest.hexdigest()


def graph_path(library_path: str | os.PathLike[str], key: str) -> Path:
    return Path(library_path) / INDEX_DIR / f"transitions-{key}"


def graph_for(
    library_path: str | os.PathLike[str] | None,
    table: PhraseTable,
    *,
    k: int = DEFAULT_K,
    build: Callable[[], TransitionGraph] | None = None,
) -> TransitionGraph:
    """The graph of ``table`` with ``k``: from this process's memory, else from the library's
    ``index/`` folder, else built (and saved there for libraries of ``SAVE_MIN_PHRASES`` or
    more, or when ``build`` is given, if the folder is writable; a read-only library keeps it
    in memory only). ``build`` overrides how it is built (sharded, Ray)."""
    key = table._index.get(("graph_key", k))
    if key is None:
        key = table._index[("graph_key", k)] = table_key(table, k)
    with _memory_lock:
        graph = _memory.get(key)
        if graph is not None:
            _memory.move_to_end(key)
            return graph
    path = graph_path(library_path, key) if library_path is not None else None
    graph = None
    if path is not None and path.is_dir():
        graph = load_graph(path)
    if graph is None:
        graph = build() if build else build_graph(table, k=k)
        if path is not None and (build is not None or len(table) >= SAVE_MIN_PHRASES):
            save_graph(graph, path)
    with _memory_lock:
        _memory[key] = graph
        while len(_memory) > _MEMORY_SIZE:
            _memory.popitem(last=False)
    return graph


_GRAPH_ARRAYS = (
    "indptr", "targets", "cost", "group_size", "twin", "move", "k", "version", "rest_mean",
)  # fmt: skip


def load_graph(path: Path) -> TransitionGraph | None:
    """A graph saved by ``save_graph``, memory-mapped (only the pages a style's rows touch are
    read); None when it is missing, damaged or of another version."""
    try:
        arrays = {
            name: np.load(path / f"{name}.npy", mmap_mode=None if name in ("k", "version") else "r")
            for name in _GRAPH_ARRAYS
        }
        if int(arrays["version"]) != GRAPH_VERSION:
            return None
        graph = TransitionGraph.from_arrays(arrays)
        if graph.indptr[-1] != len(graph.targets) or len(graph.cost) != len(graph.targets):
            return None
        return graph
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_graph(graph: TransitionGraph, path: Path) -> bool:
    """Write the graph as a folder of ``.npy`` files (built beside it, then renamed); stale
    graphs beside it are removed. Returns False when the folder is not writable."""
    import shutil
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            for name, values in graph.to_arrays().items():
                np.save(staging / f"{name}.npy", np.asarray(values))
            os.replace(staging, path)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not path.is_dir():
                raise
    except OSError:
        return False
    for old in path.parent.glob("transitions-*"):
        if old != path and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        elif old != path:
            with contextlib.suppress(OSError):
                old.unlink()
    return True
