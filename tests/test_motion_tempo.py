"""Tempo from motion that holds up: the same take time-shifted, mirrored, retargeted through
another rig, jittered by 1 cm and cropped to any 20-s window gets the same tempo (within 2 %),
or, where a window holds no steady pulse, a confidence below the import threshold instead of a
wrong guess."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED_BVH
from library_support import sample_phrases
from tempo_support import TEMPO_BY_EYE, canonical_take, tempo_variants

from musicdance.library.importer import LIBRARY_FPS, MIN_TEMPO_CONFIDENCE
from musicdance.motion import concatenate
from musicdance.motion.analysis import estimate_motion_tempo, pose_repetition_s
from musicdance.motion.motion import resample

RHYTHMIC = [p for p in SHARED_BVH if p.stem in TEMPO_BY_EYE]


@pytest.mark.parametrize("path", RHYTHMIC, ids=[p.stem for p in RHYTHMIC])
def test_tempo_agrees_across_the_perturbation_set(path):
    variants = tempo_variants(canonical_take(path))
    estimates = {name: estimate_motion_tempo(p, LIBRARY_FPS) for name, p in variants.items()}
    reference = estimates["original"].tempo_bpm
    assert reference == pytest.approx(TEMPO_BY_EYE[path.stem], rel=0.02)
    refused = []
    for name, estimate in estimates.items():
        if estimate.confidence < MIN_TEMPO_CONFIDENCE:
            refused.append(name)
            continue
        assert estimate.tempo_bpm == pytest.approx(reference, rel=0.02), name
    # whole-take variants are all confident; only crops may lack a steady pulse
    assert all(name.startswith("crop") for name in refused), refused
    crops = [name for name in estimates if name.startswith("crop")]
    assert len(refused) <= len(crops) // 4, refused


def test_takes_without_a_steady_beat_are_not_guessed():
    for stem in ("bvh11_cmu_131_02", "cmu-iclone_005_02"):
        path = next(p for p in SHARED_BVH if p.stem == stem)
        positions = resample(canonical_take(path), LIBRARY_FPS).global_positions()
        assert estimate_motion_tempo(positions, LIBRARY_FPS).confidence < MIN_TEMPO_CONFIDENCE


def test_repetition_of_a_looped_eight():
    phrase = sample_phrases(mirrored=False)[0]
    looped = resample(concatenate([phrase.motion] * 4), LIBRARY_FPS)
    period = pose_repetition_s(looped.global_positions(), LIBRARY_FPS)
    eight_s = phrase.info.num_counts * 60.0 / phrase.info.tempo_bpm
    assert np.isfinite(period)
    assert min(abs(period - eight_s), abs(period - eight_s / 2)) < 0.1


def _ambiguous_take(sway_s: float, seconds: float = 24.0) -> np.ndarray:
    """Joints stopping every 0.5 s (120 BPM) and others, a little stronger, every 0.75 s
    (80 BPM): a pulse ambiguous by 1.5x; two arms sway with period ``sway_s`` and dominate
    the pose, so the poses repeat every ``sway_s``."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * LIBRARY_FPS)) / LIBRARY_FPS

    def strokes(period_s: float, amplitude: np.ndarray) -> np.ndarray:
        u = (t / period_s) % 1.0
        eased = u * u * (3 - 2 * u)
        return np.where(np.floor(t / period_s) % 2 == 0, eased, 1 - eased)[:, None] * amplitude

    positions = np.zeros((len(t), 15, 3)) + rng.normal(0, 0.3, (15, 3))
    for j in range(1, 7):
        positions[:, j] += strokes(0.5, rng.uniform(0.1, 0.3, 3))
    for j in range(7, 13):
        positions[:, j] += 1.3 * strokes(0.75, rng.uniform(0.1, 0.3, 3))
    positions[:, 13:, 0] += 0.8 * np.sin(2 * np.pi * t / sway_s)[:, None]
    positions[:, 0] = [0.0, 0.9, 0.0]
    return positions


def test_the_tempo_whose_eights_match_the_repetition_wins():
    # poses repeating every 6 s: eights of 80 BPM (120 BPM would make twelve counts)
    six = estimate_motion_tempo(_ambiguous_take(6.0), LIBRARY_FPS)
    assert six.repetition_s == pytest.approx(6.0, abs=0.1)
    assert six.candidates[0][0] == pytest.approx(120.0, rel=0.01)  # the stronger pulse ...
    assert six.tempo_bpm == pytest.approx(80.0, rel=0.01)  # ... loses to the one that fits
    assert "repetition" in six.reason
    # the same pulses repeating every 4 s: eights of 120 BPM
    four = estimate_motion_tempo(_ambiguous_take(4.0), LIBRARY_FPS)
    assert four.tempo_bpm == pytest.approx(120.0, rel=0.01)
