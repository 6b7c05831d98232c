"""Shared generated songs for the audio tests (built once per test process, short and fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from musicdance.audio.synth import SongTruth, synth_song, write_song

_CACHE: dict[str, object] = {}

#: name -> (genre, seed, duration_s (None: the full form), file suffix, sample rate)
SONGS = {
    "pop": ("pop", 3, 40.0, ".mp3", 44100),
    "waltz": ("waltz", 4, 40.0, ".ogg", 22050),
    "polka": ("polka", 5, 30.0, ".flac", 22050),
    "long": ("hiphop", 8, None, ".wav", 22050),
}


@dataclass
class Song:
    path: Path
    truth: SongTruth
    y: np.ndarray
    sr_hz: int


def song_files(root: Path) -> dict[str, Song]:
    """Render the test songs into ``root`` (once per process) and return them by name."""
    if "songs" not in _CACHE:
        out = {}
        for name, (genre, seed, dur, suffix, sr) in SONGS.items():
            y, truth = synth_song(genre, seed=seed, duration_s=dur, sr_hz=sr)
            path = root / f"{name}{suffix}"
            write_song(path, y, sr_hz=sr)
            out[name] = Song(path, truth, y, sr)
        _CACHE["songs"] = out
    return _CACHE["songs"]  # type: ignore[return-value]


def bad_files(root: Path) -> dict[str, Path]:
    """Silence, noise, a 1-s clip, truncated/corrupt/non-audio files, 8/96 kHz, 6 channels."""
    if "bad" not in _CACHE:
        sr = 22050
        rng = np.random.default_rng(0)
        y, _ = synth_song("house", seed=11, duration_s=20, sr_hz=sr)
        files = {
            "silence": root / "silence.wav",
            "noise": root / "noise.wav",
            "clip1s": root / "clip1s.wav",
            "truncated": root / "truncated.wav",
            "corrupt": root / "corrupt.mp3",
            "text": root / "notes.txt",
            "fake_wav": root / "fake.wav",
            "empty": root / "empty.flac",
            "sr8k": root / "sr8k.wav",
            "sr96k": root / "sr96k.flac",
            "ch6": root / "six_channels.wav",
            "m4a": root / "song.m4a",
        }
        sf.write(files["silence"], np.zeros(10 * sr, dtype=np.float32), sr)
        sf.write(files["noise"], 0.3 * rng.standard_normal(10 * sr).astype(np.float32), sr)
        sf.write(files["clip1s"], y[:sr], sr)
        full = root / "full.wav"
        sf.write(full, y, sr, subtype="PCM_16")
        data = full.read_bytes()
        files["truncated"].write_bytes(data[: len(data) // 2])
        files["corrupt"].write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + rng.bytes(4000))
        files["text"].write_text("not audio\n" * 50)
        files["fake_wav"].write_text("not audio either\n" * 50)
        files["empty"].write_bytes(b"")
        y8, _ = synth_song("house", seed=11, duration_s=20, sr_hz=8000)
        sf.write(files["sr8k"], y8, 8000)
        y96, _ = synth_song("house", seed=11, duration_s=20, sr_hz=96000)
        sf.write(files["sr96k"], y96, 96000)
        gains = np.linspace(0.2, 1.0, 6, dtype=np.float32)
        sf.write(files["ch6"], y[:, None] * gains[None, :], sr)
        files["m4a"].write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)
        _CACHE["bad"] = files
    return _CACHE["bad"]  # type: ignore[return-value]
