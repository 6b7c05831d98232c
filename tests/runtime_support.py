"""Shared fixtures of the runtime tests: one generated song, the starter library, a runtime."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from conftest import REPO

STARTER = REPO / "phrase_library"


def quaternion_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Largest component difference between quaternions, sign-invariant (q and -q are equal)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.minimum(np.abs(a - b).max(axis=-1), np.abs(a + b).max(axis=-1)).max())


@cache
def song_signal() -> tuple[np.ndarray, int]:
    """A 30-s generated pop song (numpy only, deterministic)."""
    from musicdance.audio.synth import synth_song

    y, _ = synth_song("pop", bpm=116.0, seed=5, duration_s=30.0)
    return y, 22050


def write_song_file(folder: Path, name: str = "pop116.wav") -> Path:
    from musicdance.audio.synth import write_song

    y, sr = song_signal()
    return write_song(folder / name, y, sr_hz=sr)


@cache
def runtime():
    """A runtime with the feature scorer (no default bundle, whatever the working folder), so
    that its timelines and alternatives are the SDK's feature-scored ones; the CLI side of a
    comparison passes ``--no-bundle``. The default bundle has its own tests
    (test_default_scorer.py)."""
    from mdruntime import Runtime

    return Runtime(STARTER, default_bundle=False)
