"""End-to-end analysis of generated songs (real decoding) and of bad input."""

from __future__ import annotations

import json

import mir_eval
import numpy as np
import pytest
from _audio_songs import bad_files, song_files

from musicdance.audio.analysis import Analysis, analyze, analyze_signal
from musicdance.audio.model_input import MODEL_SIZE, model_inputs, phrase_model_input
from musicdance.errors import MusicDanceError


@pytest.fixture(scope="session")
def songs(tmp_path_factory):
    return song_files(tmp_path_factory.mktemp("audio_songs"))


@pytest.fixture(scope="session")
def bad(tmp_path_factory):
    return bad_files(tmp_path_factory.mktemp("audio_bad"))


@pytest.fixture(scope="session")
def analyses(songs):
    return {name: analyze(song.path) for name, song in songs.items()}


@pytest.mark.parametrize("name", ["pop", "waltz", "polka"])
def test_tempo_meter_beats_downbeats(songs, analyses, name):
    truth, a = songs[name].truth, analyses[name]
    assert a.tempo_bpm == pytest.approx(truth.bpm, rel=0.02)
    assert a.meter == truth.meter  # the waltz comes out in 3, the polka in 2
    beat_f = mir_eval.beat.f_measure(
        mir_eval.beat.trim_beats(np.asarray(truth.beat_times_s)),
        mir_eval.beat.trim_beats(a.beat_times_s),
    )
    down_f = mir_eval.beat.f_measure(np.asarray(truth.downbeat_times_s), a.downbeat_times_s)
    assert beat_f > 0.9
    assert down_f > 0.8
    assert set(np.unique(a.beat_positions)) == set(range(1, a.meter + 1))


@pytest.mark.parametrize("name", ["pop", "waltz", "polka"])
def test_phrases_obey_the_rules(analyses, name):
    a = analyses[name]
    assert a.phrases
    downbeats = set(np.round(a.downbeat_times_s, 4))
    cycle = 6 if a.meter == 3 else 8
    for prev, p in zip(a.phrases, a.phrases[1:], strict=False):
        assert p.start_s == prev.end_s  # contiguous
    for p in a.phrases:
        assert 2 <= p.n_bars <= 8
        assert round(p.start_s, 4) in downbeats
        sec = a.sections[p.section]
        assert sec.start_s <= p.start_s < p.end_s <= sec.end_s  # never crosses a section
        assert p.section_label == sec.label
        assert len(p.beat_times_s) == p.n_bars * a.meter or p is a.phrases[-1]
        assert p.counts[: 2 * cycle] == (list(range(1, cycle + 1)) * 2)[: len(p.counts[:2 * cycle])]
        assert p.tempo_bpm == pytest.approx(a.tempo_bpm, rel=0.05)
        assert p.onset_density_per_s > 0 and 100 < p.centroid_hz < 8000
        assert -60 < p.loudness_db < 0 and 0 <= p.energy <= 1


def test_phrase_boundaries_match_the_truth(songs, analyses):
    hits = total = 0
    for name, song in songs.items():
        est = [p.start_s for p in analyses[name].phrases] + [analyses[name].phrases[-1].end_s]
        ref = np.asarray(song.truth.phrase_starts_s)
        hits += len(mir_eval.util.match_events(ref, np.asarray(est), 0.5))
        total += len(ref)
    assert hits / total >= 0.75


def test_repeated_sections_share_a_label(songs, analyses):
    a = analyses["long"]
    truth = songs["long"].truth
    assert len({s.label for s in a.sections}) < len(a.sections)  # some label repeats
    ref = np.c_[truth.section_starts_s, truth.section_ends_s]
    est = np.asarray([[s.start_s, s.end_s] for s in a.sections])
    t_max = max(ref[-1, 1], est[-1, 1])
    r_iv, r_lab = mir_eval.util.adjust_intervals(ref, truth.section_labels, t_min=0, t_max=t_max)
    e_iv, e_lab = mir_eval.util.adjust_intervals(est, [s.label for s in a.sections], t_min=0,
                                                 t_max=t_max)
    _, _, f = mir_eval.segment.pairwise(r_iv, r_lab, e_iv, e_lab)
    assert f > 0.4


def test_melody_follows_the_lead(songs, analyses):
    truth, a = songs["waltz"].truth, analyses["waltz"]
    rv, rc, ev, ec = mir_eval.melody.to_cent_voicing(
        truth.melody_times_s, np.asarray(truth.melody_hz), np.arange(a.n_frames) / a.fps,
        a.melody_hz.astype(np.float64))
    assert mir_eval.melody.raw_chroma_accuracy(rv, rc, ev, ec) > 0.4
    assert mir_eval.melody.voicing_measures(rv, ev)[0] > 0.6


def test_per_frame_curves(analyses):
    a = analyses["pop"]
    n = a.n_frames
    assert n == pytest.approx(a.duration_s * a.fps, abs=2)
    assert a.melody_hz.shape == a.rhythm.shape == (n,)
    assert set(np.unique(a.rhythm)) <= {0, 1} and 0.01 < a.rhythm.mean() < 0.5
    onset_frames = np.round(a.onset_times_s * a.fps).astype(int)
    assert a.rhythm[onset_frames].all()
    assert a.log_mel_db.shape == (128, n)


def test_json_round_trip(analyses, tmp_path):
    a = analyses["waltz"]
    path = a.save_json(tmp_path / "a.json")
    data = json.loads(path.read_text())
    assert data["meter"] == 3 and data["time_signature"] == "3/4"
    assert {"beat_times_s", "downbeat_times_s", "sections", "phrases", "melody_hz", "rhythm",
            "onset_env", "timings_s"} <= set(data)
    b = Analysis.load_json(path)
    assert b.meter == a.meter and b.tempo_bpm == pytest.approx(a.tempo_bpm, abs=1e-3)
    assert np.allclose(b.beat_times_s, a.beat_times_s, atol=1e-4)
    assert [p.n_bars for p in b.phrases] == [p.n_bars for p in a.phrases]
    assert b.phrases[0].counts == a.phrases[0].counts
    assert b.log_mel_db is None
    with pytest.raises(MusicDanceError, match="no log-mel"):
        model_inputs(b)


def test_model_input_shapes_and_ranges(analyses):
    a = analyses["pop"]
    mel, melody, rhythm = model_inputs(a)
    n = len(a.phrases)
    assert mel.shape == (n, MODEL_SIZE, MODEL_SIZE) and melody.shape == rhythm.shape == (n, 128)
    assert mel.min() >= 0 and mel.max() <= 1 and mel.std() > 0.05
    assert set(np.unique(rhythm)) <= {0.0, 1.0} and rhythm.sum() > 0
    assert ((melody == 0) | ((melody > 40 / 128) & (melody < 100 / 128))).all()
    # the shared function gives the same result when called directly on the same frames
    p = a.phrases[1]
    one = phrase_model_input(a.log_mel_db, a.melody_hz, a.rhythm,
                             start_frame=round(p.start_s * a.fps), end_frame=round(p.end_s * a.fps))
    assert np.array_equal(one.mel, mel[1]) and np.array_equal(one.rhythm, rhythm[1])


def test_silence_gives_no_phrases_and_says_so(bad):
    a = analyze(bad["silence"])
    assert a.phrases == [] and len(a.beat_times_s) == 0 and a.tempo_bpm == 0
    assert any("silent" in w for w in a.warnings)


def test_noise_is_flagged(bad):
    a = analyze(bad["noise"])
    assert a.pulse_clarity < 0.15
    assert any("weak pulse" in w for w in a.warnings)


def test_one_second_clip(bad):
    a = analyze(bad["clip1s"])
    assert a.phrases == [] and any("too short" in w for w in a.warnings)
    assert a.duration_s == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("key", ["sr8k", "sr96k", "ch6"])
def test_unusual_inputs_still_analyse(bad, key):
    a = analyze(bad[key])
    assert a.tempo_bpm == pytest.approx(124, abs=8) or a.tempo_bpm == pytest.approx(62, abs=4)
    assert a.phrases


def test_truncated_file_is_analysed_with_a_warning(bad):
    a = analyze(bad["truncated"])
    assert any("ends early" in w for w in a.warnings)
    assert len(a.beat_times_s) > 8


def test_analyze_signal_accepts_any_rate_and_stereo(songs):
    song = songs["polka"]
    stereo = np.stack([song.y, song.y], axis=1)
    a = analyze_signal(stereo, sr_hz=song.sr_hz)
    assert a.meter == 2 and a.sr_hz == 22050
    empty = analyze_signal(np.zeros(0, dtype=np.float32), sr_hz=22050)
    assert empty.phrases == [] and empty.n_frames == 1


def test_hot_path_imports_no_heavy_or_higher_layer_modules(songs):
    """The cold-start decision: analysing a song must not import librosa, scipy, numba, torch
    or motion code (each costs seconds in a fresh process, or breaks the layering)."""
    import subprocess
    import sys

    code = (
        "import sys; from musicdance.audio.analysis import analyze; "
        f"a = analyze({str(songs['polka'].path)!r}); assert a.phrases; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('librosa', 'scipy', 'numba', 'torch') or m.startswith('musicdance.motion')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
