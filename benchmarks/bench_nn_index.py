"""Nearest-neighbour libraries for the transition graph: build time, query time, recall.

On the boundary vectors of the largest style of a scale library (``bench_library_scale.py``
builds them in ``build/scale/``), each candidate indexes the start poses and answers every end
pose's ``2 k`` nearest (k = ``DEFAULT_K``). Recall is against exact search (numpy brute force).
Single-threaded everywhere (the 2-core machine is shared; results must be reproducible); times
are CPU seconds of this process (``time.process_time``), as the machine's load makes wall time
noisy. ``--whole`` indexes the whole library as one group (a one-style studio library).

    python benchmarks/bench_nn_index.py [--library build/scale/lib-100000] [--queries 5000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from musicdance.library import open_library
from musicdance.library.transition_graph import (
    DEFAULT_K,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_FACTOR,
    HNSW_M,
    SEARCH_FACTOR,
    _knn_exact,
    search_vectors,
)

REPO = Path(__file__).resolve().parents[1]


def hnswlib_index(data, queries, k):
    import hnswlib

    started = time.process_time()
    index = hnswlib.Index(space="l2", dim=data.shape[1])
    index.init_index(len(data), ef_construction=HNSW_EF_CONSTRUCTION, M=HNSW_M, random_seed=0)
    index.add_items(data, np.arange(len(data)), num_threads=1)
    built = time.process_time() - started
    index.set_ef(max(HNSW_EF_FACTOR * k, 64))
    started = time.process_time()
    labels, _ = index.knn_query(queries, k=k, num_threads=1)
    return built, time.process_time() - started, labels


def faiss_hnsw(data, queries, k):
    import faiss

    faiss.omp_set_num_threads(1)
    started = time.process_time()
    index = faiss.IndexHNSWFlat(data.shape[1], HNSW_M)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(data)
    built = time.process_time() - started
    index.hnsw.efSearch = max(HNSW_EF_FACTOR * k, 64)
    started = time.process_time()
    _, labels = index.search(queries, k)
    return built, time.process_time() - started, labels


def faiss_flat(data, queries, k):
    import faiss

    faiss.omp_set_num_threads(1)
    started = time.process_time()
    index = faiss.IndexFlatL2(data.shape[1])
    index.add(data)
    built = time.process_time() - started
    started = time.process_time()
    _, labels = index.search(queries, k)
    return built, time.process_time() - started, labels


def pynndescent_index(data, queries, k):
    from pynndescent import NNDescent

    started = time.process_time()
    index = NNDescent(data, n_neighbors=30, random_state=0, n_jobs=1)
    index.prepare()
    built = time.process_time() - started
    started = time.process_time()
    labels, _ = index.query(queries, k=k)
    return built, time.process_time() - started, labels


def sklearn_balltree(data, queries, k):
    from sklearn.neighbors import NearestNeighbors

    started = time.process_time()
    index = NearestNeighbors(n_neighbors=k, algorithm="ball_tree").fit(data)
    built = time.process_time() - started
    started = time.process_time()
    labels = index.kneighbors(queries, return_distance=False)
    return built, time.process_time() - started, labels


CANDIDATES = {
    "hnswlib (HNSW)": hnswlib_index,
    "faiss-cpu (IndexHNSWFlat)": faiss_hnsw,
    "faiss-cpu (IndexFlatL2, exact)": faiss_flat,
    "pynndescent (NN-descent)": pynndescent_index,
    "scikit-learn (BallTree, exact)": sklearn_balltree,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, default=REPO / "build/scale/lib-100000")
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--skip", default="", help="Comma list of candidate names to skip.")
    parser.add_argument("--whole", action="store_true", help="Index all phrases as one group.")
    args = parser.parse_args()
    table = open_library(args.library).table()
    styles, codes = table.style_codes()
    biggest = int(np.argmax(np.bincount(codes)))
    rows = np.arange(len(codes)) if args.whole else np.flatnonzero(codes == biggest)
    data = search_vectors(table, "start")[rows]
    rng = np.random.default_rng(0)
    pick = rng.choice(len(rows), min(args.queries, len(rows)), replace=False)
    queries = search_vectors(table, "end")[rows[pick]]
    k = SEARCH_FACTOR * DEFAULT_K
    started = time.process_time()
    exact, _ = _knn_exact(data, queries, k)
    exact_s = time.process_time() - started
    group = "all styles" if args.whole else f"style {styles[biggest]!r}"
    print(f"{group}: {len(rows)} phrases indexed, {len(queries)} queries, "
          f"k = {k}, {data.shape[1]} dims; numpy brute force {exact_s:.2f} s")  # fmt: skip
    print("| library | build s | query s | recall@k |")
    print("|---|---|---|---|")
    for name, run in CANDIDATES.items():
        if any(s and s in name for s in args.skip.split(",")):
            continue
        try:
            built, queried, labels = run(data, queries, k)
        except ImportError as error:
            print(f"| {name} | not installed ({error.name}) | | |")
            continue
        pairs = zip(labels, exact, strict=True)
        hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in pairs)
        print(f"| {name} | {built:.2f} | {queried:.2f} | {hits / exact.size:.4f} |", flush=True)


if __name__ == "__main__":
    main()
