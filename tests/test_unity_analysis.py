"""The Unity package's C# music analysis (``Runtime/Core/Analysis``) against the Python one.

The C# ``MusicAnalyzer`` is compiled with Debian's ``mcs -warnaserror`` and run under mono on the
same float32 PCM that ``analyze_signal`` gets (the demo song and the real recordings in
``../shared/data/music``, decoded by ``musicdance.audio.load``): same tempo, beats, bar positions,
meter, downbeats, sections and phrases, log-mel within 1e-3 dB. At 44.1 and 48 kHz the C#
resampler stands in for soxr: beats within one hop and the same phrases, log-mel within 0.01 dB
below 9.4 kHz (where it is 20 dB above its floor). Bad input raises ``AnalysisException`` with a
message. Skipped where mono is missing.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import EXAMPLES, SHARED_DATA

from mdruntime import csharp_analysis as ca
from musicdance.audio.analysis import analyze_signal
from musicdance.audio.load import load_audio
from musicdance.errors import MusicDanceError

pytestmark = pytest.mark.skipif(
    not ca.available(),
    reason="mono is not installed (apt-get install -y --no-install-recommends mono-mcs)",
)
SONGS = [EXAMPLES / "demo_song.mp3", *sorted(
    p for p in (SHARED_DATA / "music").glob("*") if p.suffix in (".ogg", ".mp3", ".wav", ".flac")
)]


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    return ca.build(tmp_path_factory.mktemp("cs") / "AnalysisCli.exe")


def _assert_same_analysis(p: ca.Parity, *, log_mel_db: float) -> None:
    assert p.tempo_diff_bpm < 0.01, p
    assert p.beats_py == p.beats_cs and p.beat_max_hops <= 1.0, p
    assert p.meter_equal and p.positions_equal and p.downbeat_max_hops <= 1.0, p
    assert p.sections_equal and p.section_max_hops <= 1.0, p
    assert p.phrases_py > 0 and p.phrases_equal and p.phrase_max_hops <= 1.0, p
    assert p.log_mel_max_db < log_mel_db, p


@pytest.mark.parametrize("sr", [22050, 16000])
def test_csharp_filterbanks_equal_the_python_ones(exe, tmp_path, sr):
    """The Slaney mel filterbank (not ONNX's mel formula) and the chroma maps, computed in C#:
    the same float32 values."""
    import subprocess

    from musicdance.audio.features import chroma_filterbank, mel_filterbank

    out = tmp_path / "banks.f32"
    done = subprocess.run(["mono", str(exe), "--filterbanks", str(sr), str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    banks = np.fromfile(out, dtype="<f4").reshape(152, 1025)
    assert np.array_equal(banks[:128], mel_filterbank(sr_hz=sr))
    bass = chroma_filterbank(sr_hz=sr, fmin_hz=30.0, fmax_hz=250.0)
    assert np.array_equal(banks[128:140], chroma_filterbank(sr_hz=sr))
    assert np.array_equal(banks[140:], bass)


@pytest.mark.parametrize("song", SONGS, ids=lambda s: s.name)
def test_csharp_analysis_matches_python(exe, tmp_path, song):
    if not song.is_file():
        pytest.skip(f"{song} is not present")
    y, _ = load_audio(song)
    py = analyze_signal(y, sr_hz=22050)
    cs, log_mel = ca.run_csharp(exe, y, 22050, tmp_path)
    p = ca.compare(py, cs, log_mel)
    _assert_same_analysis(p, log_mel_db=1e-3)
    assert p.onset_env_max < 1e-4 and p.melody_agree > 0.999 and p.rhythm_agree > 0.999, p
    assert p.onsets_py == p.onsets_cs and p.descriptor_max_rel < 0.01, p
    assert cs["n_frames"] == py.n_frames and cs["duration_s"] == pytest.approx(py.duration_s)


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_csharp_resampling_keeps_beats_and_phrases(exe, tmp_path, sr):
    import soundfile as sf
    import soxr

    y, sr_file = sf.read(EXAMPLES / "demo_song.mp3", dtype="float32", always_2d=True)
    y = y.mean(axis=1).astype(np.float32)
    assert sr_file == 44100
    if sr != sr_file:
        y = soxr.resample(y, sr_file, sr).astype(np.float32)
    py = analyze_signal(y, sr_hz=sr)  # soxr
    cs, log_mel = ca.run_csharp(exe, y, sr, tmp_path)  # the C# resampler
    p = ca.compare(py, cs, log_mel)
    _assert_same_analysis(p, log_mel_db=np.inf)
    if sr > 22050:  # downsampled: the spectrum is corrected to soxr's band edge
        below, audible = ca.log_mel_gap_below_9k4(py.log_mel_db, log_mel)
        assert below < 0.01 and audible > 0.5, (below, audible)
        assert p.log_mel_max_db < 1.0 and p.onset_env_max < 0.01, p
        assert p.onsets_py == p.onsets_cs and p.descriptor_max_rel < 0.02, p


def test_soxr_response_table_is_the_generated_one(tmp_path):
    """``SoxrResponse.cs`` is what ``write_soxr_response`` writes from the installed soxr."""
    fresh = ca.write_soxr_response(tmp_path / "SoxrResponse.cs")
    table = ca.SOXR_RESPONSE_CS.read_text()
    numbers = [float(v) for v in re.findall(r"([0-9.e+-]+)f[,\n]", table)]
    assert len(numbers) == 1025 and numbers[0] == 1.0
    assert numbers == [float(v) for v in re.findall(r"([0-9.e+-]+)f[,\n]", fresh.read_text())]


@pytest.mark.parametrize(
    ("signal", "sr", "message"),
    [
        (np.zeros(0, np.float32), 22050, "empty"),
        (np.zeros(22050 * 10, np.float32), 22050, "silent input"),
        (0.1 * np.sin(np.arange(22050) * 0.2).astype(np.float32), 22050, "too short"),
        (np.full(22050 * 5, np.nan, np.float32), 22050, "NaN"),
        (np.array([0.0, np.inf] * 44100, np.float32), 22050, "infinite"),
        (np.full(22050 * 5, 5e4, np.float32), 22050, "samples reach"),
        (np.zeros(1000, np.float32), 1000, "sample rate 1000 Hz"),
        (np.zeros(1000, np.float32), 10_000_000, "sample rate 10000000 Hz"),
    ],
    ids=["empty", "silence", "one-second", "nan", "inf", "huge", "low-rate", "absurd-rate"],
)
def test_bad_input_raises_analysis_exception(exe, tmp_path, signal, sr, message):
    with pytest.raises(MusicDanceError, match=rf"^AnalysisException: .*{message}"):
        ca.run_csharp(exe, signal, sr, tmp_path)


def test_noise_without_a_pulse_is_refused_or_analysed_never_hangs(exe, tmp_path):
    rng = np.random.default_rng(3)
    y = (0.1 * rng.standard_normal(22050 * 6)).astype(np.float32)
    try:
        cs, _ = ca.run_csharp(exe, y, 22050, tmp_path)
    except MusicDanceError as error:
        assert str(error).startswith("AnalysisException: ")
    else:
        assert cs["beat_times_s"] and cs["phrases"] is not None
