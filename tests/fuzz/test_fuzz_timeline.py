"""Seeded timeline fuzzing (issue 14): mutated real timelines are accepted or refused with one
clear error, never an uncaught exception; accepted ones render to the frames they declare.
The long run is ``benchmarks/fuzz_timeline.py --seconds N``."""

from __future__ import annotations

import json
import random

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.svc_fuzzing import Tally, dumps_any, fuzz_timeline_one, mutate_json, mutate_text
from musicdance.audio.analysis import analyze
from musicdance.audio.synth import synth_song, write_song
from musicdance.choreo.choreographer import choreograph
from musicdance.library import open_library

STARTER = REPO / "phrase_library"


@pytest.fixture(scope="module")
def library():
    return open_library(STARTER)


@pytest.fixture(scope="module")
def seed_timeline(library, tmp_path_factory) -> dict:
    y, _ = synth_song("pop", bpm=120.0, seed=5, duration_s=16.0)
    song = write_song(tmp_path_factory.mktemp("song") / "song.wav", y, sr_hz=22050)
    return choreograph(analyze(song), library, seed=1).to_json()


_SETTINGS = settings(max_examples=120, derandomize=True, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


@_SETTINGS
@given(seed=st.integers(0, 2**32 - 1), as_text=st.booleans())
def test_mutated_timelines_fail_politely(library, seed_timeline, seed, as_text):
    rng = random.Random(seed)
    if as_text:
        text = mutate_text(json.dumps(seed_timeline), rng)
    else:
        text = dumps_any(mutate_json(seed_timeline, rng))
    tally = Tally()
    fuzz_timeline_one(text, library, tally, render=seed % 10 == 0)
    assert tally.bad == 0, tally.summary()


def test_the_seed_itself_renders(library, seed_timeline):
    tally = Tally()
    fuzz_timeline_one(json.dumps(seed_timeline), library, tally, render=True)
    assert tally.counts == {"ok": 1}, tally.summary()
