"""The procedural song generator and its ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from musicdance.audio.synth import GENRES, read_truth, synth_song, write_song, write_truth
from musicdance.errors import MusicDanceError


def test_at_least_eight_genres_with_the_three_meters():
    assert len(GENRES) >= 8
    assert {g.meter for g in GENRES.values()} >= {2, 3, 4}
    assert GENRES["waltz"].meter == 3
    lo = min(g.bpm_range[0] for g in GENRES.values())
    hi = max(g.bpm_range[1] for g in GENRES.values())
    assert lo <= 60 and hi >= 180


def test_same_seed_same_song_other_seed_other_song():
    a, ta = synth_song("funk", seed=1, duration_s=15)
    b, tb = synth_song("funk", seed=1, duration_s=15)
    c, _ = synth_song("funk", seed=2, duration_s=15)
    assert np.array_equal(a, b) and ta == tb
    assert len(a) != len(c) or not np.array_equal(a, c)


@pytest.mark.parametrize("genre", sorted(GENRES))
def test_ground_truth_is_consistent(genre):
    y, t = synth_song(genre, seed=7, duration_s=30, sr_hz=16000)
    assert y.dtype == np.float32 and np.abs(y).max() == pytest.approx(0.9, abs=1e-3)
    assert t.meter == GENRES[genre].meter
    lo, hi = GENRES[genre].bpm_range
    assert lo <= t.bpm <= hi
    beats = np.asarray(t.beat_times_s)
    assert np.allclose(np.diff(beats), 60.0 / t.bpm, atol=1e-4)
    assert len(beats) == t.meter * len(t.downbeat_times_s)
    assert set(t.downbeat_times_s) <= set(t.beat_times_s)
    on_downbeats = [p for p, b in zip(t.beat_positions, beats, strict=True)
                    if b in t.downbeat_times_s]
    assert on_downbeats == [1] * len(t.downbeat_times_s)
    # sections tile the song, phrases start on downbeats, every section starts a phrase
    assert np.allclose(t.section_starts_s[1:], t.section_ends_s[:-1])
    assert set(t.phrase_starts_s) <= set(t.downbeat_times_s)
    assert set(t.section_starts_s) <= set(t.phrase_starts_s)
    assert all(b in (2, 4) for b in t.phrase_bars)
    # melody: voiced somewhere, in the lead's range, silent during the intro
    mel = np.asarray(t.melody_hz)
    assert (mel > 0).mean() > 0.2
    assert 150 < mel[mel > 0].min() and mel.max() < 1400
    assert mel[: int(t.section_ends_s[0] * t.melody_fps) - 1].max() == 0


def test_repeated_sections_are_the_same_music():
    y, t = synth_song("pop", seed=5, sr_hz=16000)
    labels = t.section_labels
    assert labels.count("chorus") >= 2
    first, second = [i for i, lab in enumerate(labels) if lab == "chorus"][:2]
    seg = [y[int(t.section_starts_s[i] * 16000): int(t.section_ends_s[i] * 16000)]
           for i in (first, second)]
    n = min(len(s) for s in seg) - 16000  # leave out the fill at the end
    assert np.corrcoef(seg[0][:n], seg[1][:n])[0, 1] > 0.9


def test_bad_arguments():
    with pytest.raises(MusicDanceError, match="unknown genre"):
        synth_song("polka-dot")
    with pytest.raises(MusicDanceError, match="bpm"):
        synth_song("pop", bpm=500)


def test_write_and_read_back(tmp_path):
    y, t = synth_song("house", seed=2, duration_s=12, sr_hz=22050)
    for suffix in (".wav", ".mp3", ".flac"):
        path = write_song(tmp_path / f"s{suffix}", y, sr_hz=22050)
        assert path.stat().st_size > 1000
    write_truth(tmp_path / "t.json", t)
    assert read_truth(tmp_path / "t.json") == t
    with pytest.raises(MusicDanceError, match="must end in"):
        write_song(tmp_path / "s.aiff2", y, sr_hz=22050)
    assert not list(tmp_path.glob(".*.tmp"))


def test_one_tempo_range_for_generated_songs():
    """Every genre draws its tempo inside the one allowed range, and synth_song enforces it."""
    from musicdance.audio.synth import GENRES
    from musicdance.defaults import GENERATED_BPM_RANGE

    low, high = GENERATED_BPM_RANGE
    for genre in GENRES.values():
        assert low <= genre.bpm_range[0] <= genre.bpm_range[1] <= high, genre.name
    for bpm in (low - 1, high + 1):
        with pytest.raises(MusicDanceError, match=f"bpm must be in {low:g}-{high:g}"):
            synth_song("pop", bpm=bpm)
    synth_song("pop", bpm=high, duration_s=4.0)
