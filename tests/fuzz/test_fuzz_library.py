"""Seeded library fuzzing (issue 14): damaged copies of a real library are read, validated,
written to and repaired; every failure is one clear error, failed writes change nothing.
The long run is ``benchmarks/fuzz_library.py --seconds N``."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from library_support import sample_phrases

from fuzz.svc_fuzzing import Tally, copy_tree, damage_library, fuzz_library_one, library_seed


@pytest.fixture(scope="module")
def seed_library(tmp_path_factory):
    phrases = sample_phrases() + sample_phrases(move="rock")
    return library_seed(tmp_path_factory.mktemp("seed") / "lib", phrases), phrases[0]


@settings(max_examples=25, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(seed=st.integers(0, 2**32 - 1))
def test_damaged_libraries_fail_politely(seed_library, tmp_path_factory, seed):
    source, phrase = seed_library
    rng = random.Random(seed)
    folder = copy_tree(source, tmp_path_factory.mktemp("case") / "lib")
    damage_library(folder, rng)
    tally = Tally()
    fuzz_library_one(folder, rng, phrase, tally)
    assert tally.bad == 0, tally.summary()
