"""Decoding: formats, sample rates, channel counts, bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from _audio_songs import bad_files, song_files

from musicdance.audio.load import ANALYSIS_SR, load_audio
from musicdance.errors import MusicDanceError


@pytest.fixture(scope="session")
def songs(tmp_path_factory):
    return song_files(tmp_path_factory.mktemp("audio_songs"))


@pytest.fixture(scope="session")
def bad(tmp_path_factory):
    return bad_files(tmp_path_factory.mktemp("audio_bad"))


@pytest.mark.parametrize("name", ["pop", "waltz", "polka", "long"])
def test_decodes_mp3_ogg_flac_to_mono_at_analysis_rate(songs, name):
    song = songs[name]
    y, info = load_audio(song.path)
    assert y.ndim == 1 and y.dtype == np.float32
    assert info.sr_in_hz == song.sr_hz
    # mp3 adds encoder padding of a few ms; the others are exact to a sample or two
    assert abs(len(y) / ANALYSIS_SR - len(song.y) / song.sr_hz) < 0.1
    assert 0.3 < np.abs(y).max() < 1.2


def test_resampled_signal_matches_the_source(songs):
    """The streaming resampler must not distort: compare with the directly rendered signal."""
    song = songs["waltz"]  # ogg at 22050 Hz: no resampling, lossy codec
    y, _ = load_audio(song.path)
    n = min(len(y), len(song.y))
    corr = np.corrcoef(y[:n], song.y[:n])[0, 1]
    assert corr > 0.95


@pytest.mark.parametrize("key,sr_in,channels", [("sr8k", 8000, 1), ("sr96k", 96000, 1),
                                                 ("ch6", 22050, 6)])
def test_unusual_rates_and_channels(bad, key, sr_in, channels):
    y, info = load_audio(bad[key])
    assert (info.sr_in_hz, info.channels) == (sr_in, channels)
    assert abs(len(y) / ANALYSIS_SR - info.duration_s) < 1e-6
    assert abs(info.duration_s - sf.info(str(bad[key])).duration) < 0.05


def test_six_channels_are_averaged(tmp_path):
    sr = 22050
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    multi = np.stack([tone * g for g in (0, 0, 0, 0, 0, 0.6)], axis=1)
    path = tmp_path / "six.wav"
    sf.write(path, multi, sr, subtype="FLOAT")
    y, _ = load_audio(path)
    assert np.abs(y).max() == pytest.approx(0.1, abs=0.01)


def test_max_duration_stops_early(songs):
    y, _ = load_audio(songs["pop"].path, max_duration_s=5.0)
    assert abs(len(y) / ANALYSIS_SR - 5.0) < 0.05


@pytest.mark.parametrize(
    "key,fragment",
    [("corrupt", "cannot decode"), ("text", "not an audio file"), ("fake_wav", "cannot decode"),
     ("empty", "empty")],
)
def test_bad_files_raise_one_clear_error(bad, key, fragment):
    with pytest.raises(MusicDanceError) as info:
        load_audio(bad[key])
    assert fragment in info.value.message
    assert info.value.path == str(bad[key])


def test_missing_file(tmp_path):
    with pytest.raises(MusicDanceError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


def test_truncated_wav_decodes_what_is_there_and_says_so(bad):
    y, info = load_audio(bad["truncated"])
    assert info.truncated
    full_s = sf.info(str(bad["truncated"].with_name("full.wav"))).duration
    assert 0.45 * full_s < len(y) / ANALYSIS_SR < 0.55 * full_s


def test_m4a_without_decoder_names_what_to_install(bad):
    import audioread

    backends = [b for b in audioread.available_backends() if b.__name__ != "RawAudioFile"]
    if backends:  # a decoder exists here: the fake file must still fail cleanly
        with pytest.raises(MusicDanceError, match="cannot decode"):
            load_audio(bad["m4a"])
    else:
        with pytest.raises(MusicDanceError, match="ffmpeg"):
            load_audio(bad["m4a"])
