"""Emission models: how well each library phrase suits each slot of the music.

Every model has one interface, ``score(slots, infos) -> [N, K]`` non-negative scores. The
feature scorer is transparent: tempo the phrase suits (half and double time count, as dancers
move on every other beat at fast tempos), the music's intensity against the phrase's energy,
and the meter. The learned ONNX predictor (models issue) will sit behind the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from musicdance.choreo.slots import Slot
from musicdance.library.phrase import PhraseInfo


class EmissionModel(Protocol):
    def score(self, slots: list[Slot], infos: list[PhraseInfo]) -> np.ndarray: ...


def tempo_fit(music_bpm: np.ndarray, phrase_bpm: np.ndarray, width_octaves: float) -> np.ndarray:
    """``[N, K]`` in (0, 1]: 1 when the music's tempo (or its half or double) equals the
    phrase's capture tempo, falling off with the log-tempo gap (Gaussian, ``width_octaves``)."""
    ratio = np.log2(np.asarray(music_bpm, float)[:, None] / np.asarray(phrase_bpm, float)[None, :])
    gap = np.min(np.abs(ratio[..., None] - np.array([-1.0, 0.0, 1.0])), axis=-1)
    # half/double time is a little less natural than the straight tempo
    penalty = np.where(np.abs(ratio) > 0.5, 0.8, 1.0)
    return penalty * np.exp(-0.5 * (gap / width_octaves) ** 2)


def music_intensity(slots: list[Slot]) -> np.ndarray:
    """``[N]`` in [0, 1]: loudness energy, nudged by how busy the onsets are."""
    energy = np.array([s.energy for s in slots], dtype=float)
    density = np.array([s.onset_density_per_s for s in slots], dtype=float)
    spread = density.max() - density.min() if len(density) else 0.0
    busy = (density - density.min()) / spread if spread > 1e-9 else np.full_like(density, 0.5)
    return np.clip(0.75 * energy + 0.25 * busy, 0.0, 1.0)


@dataclass(frozen=True)
class FeatureScorer:
    """Transparent scores: tempo fit x energy fit x meter match (x a floor, never zero)."""

    tempo_width_octaves: float = 0.2
    energy_width: float = 0.22
    floor: float = 1e-3

    def score(self, slots: list[Slot], infos: list[PhraseInfo]) -> np.ndarray:
        tempo = tempo_fit(
            np.array([s.tempo_bpm for s in slots]),
            np.array([i.tempo_bpm for i in infos]),
            self.tempo_width_octaves,
        )
        intensity = music_intensity(slots)
        phrase_energy = np.array([i.energy for i in infos])
        energy = np.exp(
            -0.5 * ((intensity[:, None] - phrase_energy[None, :]) / self.energy_width) ** 2
        )
        slot_meter = np.array([3 if s.meter == 3 else 4 for s in slots])
        phrase_meter = np.array([3 if i.meter == 3 else 4 for i in infos])
        meter = np.where(slot_meter[:, None] == phrase_meter[None, :], 1.0, 0.02)
        return np.maximum(tempo * energy * meter, self.floor)
