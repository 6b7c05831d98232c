"""Audio loading and analysis under mutated clips, hostile headers, and growth checks."""

from __future__ import annotations

import random
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.harness import (
    FAILURES,
    audio_corpus,
    check_audio_file,
    mutate_audio,
    peak_traced_bytes,
)
from musicdance.audio import structure
from musicdance.audio.analysis import analyze
from musicdance.audio.load import load_audio
from musicdance.errors import MusicDanceError

FUZZ = settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, list]:
    paths = audio_corpus(tmp_path_factory.mktemp("audio"), seconds=3.0)
    return {"clips": [(p.suffix, p.read_bytes()) for p in paths]}


@FUZZ
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_audio_analyses_or_fails_with_one_line(tmp_path: Path, corpus, seed: int):
    rng = random.Random(seed)
    suffix, data = rng.choice(corpus["clips"])
    path = tmp_path / f"fuzz{seed}{suffix}"
    path.write_bytes(mutate_audio(data, suffix, rng))
    outcome, detail = check_audio_file(path)
    assert outcome not in FAILURES, detail


def _wav(path: Path, rate_hz: int, samples: np.ndarray, *, float_format: bool = False) -> Path:
    data = samples.tobytes()
    bits = samples.dtype.itemsize * 8
    head = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt "
    head += struct.pack(
        "<IHHIIHH", 16, 3 if float_format else 1, 1, rate_hz, rate_hz * bits // 8, bits // 8, bits
    )
    path.write_bytes(head + b"data" + struct.pack("<I", len(data)) + data)
    return path


def test_one_hertz_four_hour_wav_is_refused_before_decoding(tmp_path: Path) -> None:
    """A 28 kB WAV declaring 1 Hz and 4 hours built a 13,176^2 matrix; now one error line."""
    samples = (np.random.default_rng(0).standard_normal(14_400) * 3000).astype("<i2")
    path = _wav(tmp_path / "slow.wav", 1, samples)

    def run():
        with pytest.raises(MusicDanceError, match="sample rate 1 Hz"):
            analyze(path)

    assert peak_traced_bytes(run) < 5e6


def test_float_samples_of_1e30_give_one_error_and_no_warnings(tmp_path: Path) -> None:
    path = _wav(tmp_path / "loud.wav", 22050, np.full(22050, 1e30, "<f4"), float_format=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MusicDanceError, match="samples reach 1e\\+30") as caught:
            analyze(path)
    assert str(path) in str(caught.value)


def test_song_length_limit_is_checked_from_the_header_and_configurable(tmp_path: Path) -> None:
    path = _wav(tmp_path / "long.wav", 8000, np.zeros(8000 * 90, "<i2"))  # 90 s
    with pytest.raises(MusicDanceError, match="1.5 minutes long; the limit is 1 minutes"):
        load_audio(path, max_song_s=60)
    assert len(load_audio(path, max_song_s=120)[0]) == 90 * 22050
    # --max-duration (analyse only the start) still cuts instead of refusing
    assert len(load_audio(path, max_song_s=60, max_duration_s=30)[0]) == 30 * 22050


def test_cli_reports_the_song_limit_in_one_line(tmp_path: Path, capsys) -> None:
    from mdtool.cli import main

    path = _wav(tmp_path / "long.wav", 8000, np.zeros(8000 * 90, "<i2"))
    with pytest.raises(SystemExit) as done:
        main(["analyze", str(path), "--max-song-min", "1"])
    assert done.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}: the song is 1.5 minutes long") and "\n" not in err


def test_structure_memory_grows_linearly_beyond_the_bar_cap(monkeypatch) -> None:
    """Doubling the bars beyond ``MAX_STRUCTURE_BARS`` at most about doubles the peak memory
    (without the cap it quadruples: n x n affinity matrices)."""
    monkeypatch.setattr(structure, "MAX_STRUCTURE_BARS", 128)
    rng = np.random.default_rng(0)
    peaks = []
    for n_bars in (1024, 2048):
        blocks = rng.standard_normal((8, 37))[rng.integers(0, 8, n_bars // 16)]
        feats = np.repeat(blocks, 16, axis=0) + 0.1 * rng.standard_normal((n_bars, 37))
        peaks.append(peak_traced_bytes(lambda f=feats: structure.segment_bars(f, min_bars=4)))
    assert peaks[1] <= 2.2 * peaks[0], peaks


def test_structure_labels_repeat_across_windows(monkeypatch) -> None:
    """Chorus bars in different windows get the same letter after the windows are matched."""
    monkeypatch.setattr(structure, "MAX_STRUCTURE_BARS", 64)
    rng = np.random.default_rng(1)
    verse, chorus = rng.standard_normal((2, 37)) * 3
    pattern = [verse] * 16 + [chorus] * 16
    feats = np.array(pattern * 6) + 0.05 * rng.standard_normal((192, 37))
    seg = structure.segment_bars(feats, min_bars=4)
    labels = {seg.bar_labels[k] for k in range(16, 192, 32)}  # inside each chorus
    assert len(labels) == 1


@pytest.mark.parametrize(
    ("samples", "rate_hz", "message"),
    [
        (np.full(22050, 1e30, np.float32), 22050, "samples reach 1e\\+30"),
        (np.full(22050, np.inf, np.float32), 22050, "samples reach inf"),
        (np.zeros(3000, np.float32), 1000, "sample rate 1000 Hz"),
    ],
)
def test_samples_given_directly_meet_the_same_limits(samples, rate_hz, message) -> None:
    from musicdance.audio.analysis import analyze_signal

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MusicDanceError, match=message):
            analyze_signal(samples, sr_hz=rate_hz, path="pcm")
