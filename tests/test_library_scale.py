"""Studio-scale choice path: the phrase table, the sparse transition graph, sparse decoding.

Real starter library, real songs, real SQLite; the dense path (today's ``K x K`` prior and
Viterbi) is the reference the sparse path must reproduce where both run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from musicdance.audio.analysis import analyze
from musicdance.choreo.choreographer import alternatives, choreograph
from musicdance.decode import SparseSteps, sparse_viterbi_decode, viterbi_decode
from musicdance.decode.sequence import greedy_decode
from musicdance.decode.sparse import sparse_greedy_decode
from musicdance.library import open_library
from musicdance.library.table import PhraseTable
from musicdance.library.transition_graph import (
    DEFAULT_K,
    build_graph,
    graph_for,
    graph_path,
    table_key,
)
from musicdance.library.transitions import pair_costs, transition_costs, transition_prior

REPO = Path(__file__).resolve().parents[1]
MUSIC = REPO.parent / "shared" / "data" / "music"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale") / "lib"
    shutil.copytree(REPO / "phrase_library", folder)
    return open_library(folder)


@pytest.fixture(scope="module")
def analyses():
    songs = sorted(p for p in MUSIC.glob("*") if p.suffix in (".ogg", ".mp3"))[:2]
    if not songs:
        pytest.skip("no shared music")
    return [analyze(song) for song in songs]


def test_table_matches_the_phrase_infos(library):
    table = library.table()
    infos = library.infos()
    assert table.ids.tolist() == [i.id for i in infos]
    assert np.array_equal(table.start_features, np.stack([i.start_features for i in infos]))
    assert np.array_equal(table.end_features, np.stack([i.end_features for i in infos]))
    assert np.array_equal(table.energy, [i.energy for i in infos])
    assert table is library.table()  # cached while the file is unchanged
    library.tag([infos[0].id], ["scale-test"])
    assert library.table() is not table  # any write gives a fresh table


def test_pair_costs_equal_the_dense_matrix_bit_for_bit(library):
    infos = library.infos(styles=["waltz"]) + library.infos(styles=["house"])
    table = PhraseTable.from_infos(infos)
    dense = transition_costs(infos)
    rows, cols = np.meshgrid(np.arange(len(infos)), np.arange(len(infos)), indexing="ij")
    assert np.array_equal(pair_costs(table, rows.ravel(), cols.ravel()), dense.ravel())


def test_complete_graph_prior_is_the_dense_prior(library):
    table = library.table()
    graph = build_graph(table, k=DEFAULT_K)
    assert graph.complete  # 72 phrases per style <= k
    rows = table.rows_of_style("jazz")
    sub = graph.subgraph(rows)
    prior, floor = sub.prior()
    dense = transition_prior(library.infos(styles=["jazz"]))
    assert np.array_equal(prior, dense.ravel()) and not np.any(floor)


@pytest.mark.parametrize("decoder", ["viterbi", "greedy"])
def test_sparse_path_gives_todays_dense_timeline(library, analyses, decoder):
    for analysis in analyses:
        for seed, reuse in ((0, True), (3, False)):
            dense = choreograph(analysis, library, seed=seed, decoder=decoder,
                                reuse_sections=reuse, transitions="dense")  # fmt: skip
            sparse = choreograph(analysis, library, seed=seed, decoder=decoder,
                                 reuse_sections=reuse, graph_k=len(library))  # fmt: skip
            assert sparse.to_json() == dense.to_json()
            default = choreograph(analysis, library, seed=seed, decoder=decoder,
                                  reuse_sections=reuse)  # fmt: skip
            assert default.to_json() == dense.to_json()  # styles hold <= DEFAULT_K phrases


def test_alternatives_use_the_graph_and_match_the_dense_ranking(library, analyses):
    timeline = choreograph(analyses[0], library, seed=1)
    ranked = alternatives(timeline, library, 2, top_k=8)
    infos = library.infos(styles=[timeline.style])
    ids = [i.id for i in infos]
    prior = transition_prior(infos)
    chosen = timeline.phrase_ids()
    emission = np.array([r["emission"] for r in ranked])
    expected_in = prior[ids.index(chosen[1]), [ids.index(r["phrase_id"]) for r in ranked]]
    expected_out = prior[[ids.index(r["phrase_id"]) for r in ranked], ids.index(chosen[3])]
    assert np.array_equal([r["prior_in"] for r in ranked], expected_in)
    assert np.array_equal([r["prior_out"] for r in ranked], expected_out)
    assert np.all(np.diff([r["score"] for r in ranked]) <= 0) and len(emission) == 8


def _random_sparse(rng, num_states, degree, num_slots, kinds=2):
    indptr = np.arange(num_states + 1) * degree
    targets = np.concatenate(
        [np.sort(rng.choice(num_states, degree, replace=False)) for _ in range(num_states)]
    )
    weights = [rng.uniform(0.02, 1.0, len(targets)) for _ in range(kinds)]
    kind = rng.integers(0, kinds, num_slots - 1)
    floor = rng.uniform(0.001, 0.01, num_states)
    steps = SparseSteps(indptr, targets, weights, kind, floor)
    dense = np.empty((num_slots - 1, num_states, num_states))
    for t in range(1, num_slots):
        for i in range(num_states):
            dense[t - 1, i] = steps.row(t, i)
    return steps, dense


def test_sparse_viterbi_without_beam_is_exact_on_random_graphs():
    rng = np.random.default_rng(7)
    for trial in range(20):
        num_states, degree, num_slots = 30 + trial, 1 + trial % 6, 12
        steps, dense = _random_sparse(rng, num_states, degree, num_slots)
        emission = rng.uniform(0.0, 1.0, (num_slots, num_states)) ** 4
        allowed = rng.uniform(size=emission.shape) > 0.2
        sparse = sparse_viterbi_decode(emission, steps, allowed)
        assert np.array_equal(sparse, viterbi_decode(emission, dense, allowed))
        assert np.array_equal(
            sparse_greedy_decode(emission, steps), greedy_decode(emission, dense)
        )


def test_beam_keeps_a_good_path():
    """With a beam the path may differ from exact Viterbi, but its score stays close."""
    from musicdance.decode import sequence_log_score

    rng = np.random.default_rng(3)
    steps, dense = _random_sparse(rng, 400, 8, 30)
    emission = rng.uniform(0.0, 1.0, (30, 400)) ** 6
    exact = sparse_viterbi_decode(emission, steps)
    beamed = sparse_viterbi_decode(emission, steps, beam=64)
    best = sequence_log_score(emission, dense, exact)
    assert sequence_log_score(emission, dense, beamed) >= best - 0.05 * abs(best)


def test_graph_is_cached_in_the_library_and_rebuilt_after_a_change(library, tmp_path):
    folder = tmp_path / "lib"
    shutil.copytree(library.path, folder)
    copy = open_library(folder)
    table = copy.table()
    graph = graph_for(copy.path, table, k=8, build=lambda: build_graph(table, k=8))
    path = graph_path(copy.path, table_key(table, 8))
    assert path.is_dir() and (path / "targets.npy").is_file()
    assert graph.num_edges < len(table) ** 2  # 8 + own variants per phrase, not all 72
    again = graph_for(copy.path, table, k=8)
    assert np.array_equal(again.targets, graph.targets)
    from musicdance.library import transition_graph

    transition_graph._memory.clear()  # as a fresh process: read from index/, not built

    def refuse():
        raise AssertionError("the saved graph was not used")

    loaded = graph_for(copy.path, table, k=8, build=refuse)
    assert loaded.k == 8 and isinstance(loaded.targets, np.memmap)
    for name in ("indptr", "targets", "cost", "rest_mean"):
        assert np.array_equal(getattr(loaded, name), getattr(graph, name))
    copy.remove([table.ids[0]])
    fresh = copy.table()
    rebuilt = graph_for(copy.path, fresh, k=8, build=lambda: build_graph(fresh, k=8))
    assert rebuilt.num_phrases == len(table) - 1
    assert not path.exists()  # the stale graph was removed


def test_sparse_graph_lists_the_best_successors(library):
    """With k below the style size, each phrase keeps (nearly all of) its cheapest successors
    and always its own variants. The index ranks by a Euclidean distance, the prior by a sum
    of terms, so a near-tie may be swapped: measured, not assumed."""
    table = library.table()
    graph = build_graph(table, k=6)
    styles, codes = table.style_codes()
    found = cheapest = rows = 0
    for i in range(0, len(table), 7):
        group = np.flatnonzero(codes == codes[i])
        cost = pair_costs(table, np.full(len(group), i), group)
        order = group[np.argsort(cost, kind="stable")]
        listed = set(graph.targets[graph.indptr[i] : graph.indptr[i + 1]].tolist())
        found += len(set(order[:6].tolist()) & listed)
        cheapest += int(order[0] in listed)
        rows += 1
        assert i in listed and (graph.twin[i] < 0 or graph.twin[i] in listed)
    recall_1, recall_k = cheapest / rows, found / (6 * rows)
    assert recall_1 >= 0.97 and recall_k >= 0.9, (recall_1, recall_k)


def test_sharded_build_on_a_two_worker_ray_cluster_equals_the_local_one(library):
    ray = pytest.importorskip("ray")
    table = library.table()
    local = build_graph(table, k=6, backend="exact", shard_size=10)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert ray.cluster_resources().get("CPU") == 2
        sharded = build_graph(table, k=6, backend="exact", engine="ray", shard_size=10)
    finally:
        ray.shutdown()
    unsharded = build_graph(table, k=6, backend="exact", shard_size=10_000)
    for other in (sharded, unsharded):
        assert np.array_equal(other.indptr, local.indptr)
        assert np.array_equal(other.targets, local.targets)
        assert np.array_equal(other.cost, local.cost)


def test_runtime_library_cache_is_bounded(library):
    from mdruntime.library_cache import CachedLibrary

    cached = CachedLibrary(library, max_phrases=3, max_infos=4)
    ids = cached.ids()
    assert len(cached) == len(library) and ids == library.ids()
    for phrase_id in ids[:6]:
        assert cached.get(phrase_id).id == phrase_id
        cached.info(phrase_id)
    assert len(cached._phrases) == 3 and len(cached._infos) == 4
    assert cached.get(ids[5]) is cached.get(ids[5])  # recent ones stay
    assert cached.preload() == 3
    assert ids[0] in cached and "no-such-phrase" not in cached


def test_near_duplicate_candidates_lose_no_pair(library, tmp_path):
    """The mean-descriptor bound keeps every near-duplicate the exhaustive test finds."""
    from dataclasses import replace

    from musicdance.library.importer import DescriptorIndex, near_duplicates
    from musicdance.library.phrase import Phrase

    folder = tmp_path / "lib"
    shutil.copytree(library.path, folder)
    copy = open_library(folder)
    existing = [copy.get(i) for i in copy.ids()]
    new = [
        Phrase(info=replace(p.info, id=f"again-{p.id}"), motion=p.motion, contacts=p.contacts)
        for p in existing[::23]
    ]
    index = DescriptorIndex(copy)
    candidates = index.candidates(new, set(copy.ids()))
    assert len(candidates) < len(existing)  # most phrases are skipped without decoding
    assert (folder / "index" / DescriptorIndex.FILE).is_file()
    found = near_duplicates(new, [copy.get(i) for i in candidates])
    assert found == near_duplicates(new, existing)
    assert {a for a, _, _ in found} == {p.id for p in new}  # each finds its original


def test_cli_library_index(library, tmp_path):
    import json

    from library_support import mdtool

    folder = tmp_path / "lib"
    shutil.copytree(library.path, folder)
    result = mdtool("library", "index", "--library", folder, "--k", "8", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["phrases"] == len(library) and summary["k"] == 8
    assert not summary["complete"] and summary["edges_per_phrase"] >= 9  # k + itself
    assert Path(summary["saved"]).is_dir()
    bad = mdtool("library", "index", "--library", folder, "--engine", "spark")
    assert bad.returncode != 0 and "engine must be one of local, ray" in bad.stderr
    assert "Traceback" not in bad.stderr
