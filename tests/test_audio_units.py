"""Small pieces of the analysis on controlled input: filters, beat tracker, phrases, resizing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicdance.audio import beats as B
from musicdance.audio.features import compute_features, mel_filterbank
from musicdance.audio.model_input import resize_time
from musicdance.audio.phrases import (
    LENGTH_PRIOR,
    count_cycle,
    cut_section,
    onset_peaks,
    rhythm_target,
)
from musicdance.audio.structure import Segmentation, refine_boundaries

SR = 22050


def clicks(bpm: float, seconds: float, *, accent_every: int = 0, sr: int = SR) -> np.ndarray:
    """A click track: 10 ms noise bursts on every beat, louder on every ``accent_every``-th."""
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    burst = np.random.default_rng(0).standard_normal(int(0.01 * sr)).astype(np.float32)
    for k, t in enumerate(np.arange(0.5, seconds - 0.1, 60.0 / bpm)):
        gain = 1.0 if accent_every and k % accent_every == 0 else 0.4
        i = int(t * sr)
        y[i : i + len(burst)] += gain * burst[: len(y) - i]
    return y


def test_mel_filterbank_matches_librosa():
    import librosa

    ours = mel_filterbank(sr_hz=SR, n_fft=2048, n_mels=128)
    ref = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=128)
    assert np.allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("bpm", [64.0, 97.0, 128.0, 174.0])
def test_tempo_and_beats_of_a_click_track(bpm):
    feats = compute_features(clicks(bpm, 30.0), sr_hz=SR)
    tempo, clarity = B.estimate_tempo(feats.onset_env, fps=feats.fps)
    ratio = tempo / bpm
    assert min(abs(ratio - 1), abs(ratio - 2), abs(ratio - 0.5)) < 0.02
    assert clarity > 0.5
    frames = B.track_beats(feats.onset_env, fps=feats.fps, tempo_bpm=bpm)
    times = frames / feats.fps
    truth = np.arange(0.5, 29.9, 60.0 / bpm)
    hit = np.min(np.abs(times[:, None] - truth[None, :]), axis=1)
    assert np.mean(hit < 0.05) > 0.95 and len(times) >= 0.9 * len(truth)


def test_flat_envelope_gives_no_tempo_and_no_beats():
    env = np.zeros(2000)
    assert B.estimate_tempo(env, fps=43.0) == (0.0, 0.0)
    assert len(B.track_beats(env, fps=43.0, tempo_bpm=120)) == 0


def test_downbeat_viterbi_recovers_a_phase_shift():
    # bar starts every 4 beats, but an extra beat after beat 41 shifts the phase by one
    sal = np.full(90, -0.5)
    truth = list(range(0, 41, 4)) + list(range(45, 90, 4))
    sal[truth] = 1.5
    pos = B.track_downbeats(sal, meter=4)
    assert list(np.flatnonzero(pos == 1)) == truth
    # a short blip is not worth a phase change
    sal = np.full(90, -0.5)
    sal[0::4] = 1.5
    sal[[41]] = 3.0
    assert list(np.flatnonzero(B.track_downbeats(sal, meter=4) == 1)) == list(range(0, 90, 4))


@settings(max_examples=200, deadline=None)
@given(n_bars=st.integers(2, 64), seed=st.integers(0, 2**16))
def test_cut_section_lengths_are_legal(n_bars, seed):
    breaks = np.random.default_rng(seed).normal(size=n_bars)
    lengths = cut_section(n_bars, breaks)
    assert sum(lengths) == n_bars
    assert all(2 <= n <= 8 for n in lengths)


def test_cut_section_prefers_fours_and_follows_breaks():
    assert cut_section(16, np.zeros(16)) == [4, 4, 4, 4]
    breaks = np.zeros(12)
    breaks[6] = 3.0  # a clear melody rest before bar 6
    assert 6 in np.cumsum(cut_section(12, breaks))
    assert max(LENGTH_PRIOR, key=LENGTH_PRIOR.get) == 4


def test_counts_cycle():
    assert count_cycle(4) == 8 and count_cycle(2) == 8 and count_cycle(3) == 6


def test_onset_peaks_and_rhythm_target():
    env = np.zeros(200)
    env[[20, 60, 100, 101, 150]] = [1.0, 0.8, 0.9, 0.5, 0.7]
    peaks = onset_peaks(env, fps=43.0)
    assert list(peaks) == [20, 60, 100, 150]
    mel = np.zeros(200)
    mel[30:50] = 440.0
    mel[50:70] = 494.0
    rhythm = rhythm_target(peaks, mel, n_frames=200)
    assert set(np.flatnonzero(rhythm)) == {20, 30, 50, 60, 100, 150}


def test_resize_time_modes():
    x = np.arange(256, dtype=np.float32)
    assert np.allclose(resize_time(x, 128), np.arange(0.5, 256, 2))
    binary = np.zeros(300)
    binary[[7, 151]] = 1
    out = resize_time(binary, 128, mode="max")
    assert out.sum() == 2 and out.max() == 1
    short = resize_time(np.array([0.0, 60.0, 0.0]), 9, mode="nearest")
    assert set(short) == {0.0, 60.0} and short.shape == (9,)
    assert resize_time(np.ones((3, 50)), 128).shape == (3, 128)


def test_refine_boundaries_moves_to_the_break():
    labels = np.array([0] * 7 + [1] * 9)
    seg = Segmentation(labels, np.array([0, 7]), np.array([7, 16]), ["A", "B"])
    evidence = np.zeros(16)
    evidence[8] = 1.0
    out = refine_boundaries(seg, evidence, radius=1)
    assert list(out.starts) == [0, 8] and out.labels == ["A", "B"]
