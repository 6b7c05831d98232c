"""Greedy and Viterbi decoding against brute force on small problems."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicdance.decode import greedy_decode, sequence_log_score, viterbi_decode
from musicdance.errors import MusicDanceError


def random_problem(seed: int, slots: int, phrases: int):
    rng = np.random.default_rng(seed)
    emission = rng.random((slots, phrases))
    emission /= emission.sum(axis=1, keepdims=True)
    transition = np.clip(rng.random((phrases, phrases)), 0.01, 1.0)
    return emission, transition


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 5), st.integers(1, 4))
def test_viterbi_finds_the_best_sequence(seed, slots, phrases):
    emission, transition = random_problem(seed, slots, phrases)
    best = max(
        itertools.product(range(phrases), repeat=slots),
        key=lambda p: sequence_log_score(emission, transition, np.array(p)),
    )
    path = viterbi_decode(emission, transition)
    assert sequence_log_score(emission, transition, path) == pytest.approx(
        sequence_log_score(emission, transition, np.array(best))
    )
    greedy = greedy_decode(emission, transition)
    assert (
        sequence_log_score(emission, transition, path)
        >= sequence_log_score(emission, transition, greedy) - 1e-9
    )


def test_greedy_is_the_papers_rescaling():
    emission = np.array([[0.6, 0.4], [0.5, 0.5], [0.9, 0.1]])
    transition = np.array([[0.1, 1.0], [1.0, 0.1]])  # alternate
    path = greedy_decode(emission, transition)
    expected = [0]
    for t in range(1, 3):
        expected.append(int(np.argmax(emission[t] * transition[expected[-1]])))
    assert path.tolist() == expected == [0, 1, 0]


def test_viterbi_looks_ahead_where_greedy_cannot():
    # Slot 0 slightly prefers phrase 0, but only phrase 1 can be followed by the strong phrase 2.
    emission = np.array([[0.55, 0.45, 0.0], [0.0, 0.0, 1.0]])
    transition = np.array([[1.0, 1.0, 0.01], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    assert greedy_decode(emission, transition).tolist() == [0, 2]
    assert viterbi_decode(emission, transition).tolist() == [1, 2]


def test_allowed_mask_is_respected():
    emission, transition = random_problem(3, 6, 5)
    allowed = np.zeros_like(emission, dtype=bool)
    allowed[:, 3] = True
    allowed[2, :] = False
    allowed[2, 1] = True
    path = viterbi_decode(emission, transition, allowed)
    assert path.tolist() == [3, 3, 1, 3, 3, 3]
    assert greedy_decode(emission, transition, allowed).tolist() == path.tolist()


def test_bad_shapes_are_reported():
    with pytest.raises(MusicDanceError, match="transition must be"):
        viterbi_decode(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(MusicDanceError, match="non-negative"):
        greedy_decode(-np.ones((3, 2)), np.ones((2, 2)))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 4), st.integers(1, 3))
def test_per_step_transitions(seed, slots, phrases):
    emission, _ = random_problem(seed, slots, phrases)
    rng = np.random.default_rng(seed + 1)
    transitions = np.clip(rng.random((slots - 1, phrases, phrases)), 0.01, 1.0)
    best = max(
        itertools.product(range(phrases), repeat=slots),
        key=lambda p: sequence_log_score(emission, transitions, np.array(p)),
    )
    path = viterbi_decode(emission, transitions)
    assert sequence_log_score(emission, transitions, path) == pytest.approx(
        sequence_log_score(emission, transitions, np.array(best))
    )
