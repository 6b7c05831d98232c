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
from musicdance.library.table import PhraseTable

#: Phrases scored per block (bounds the [N, block] temporaries at scale).
SCORE_BLOCK = 16_384


class EmissionModel(Protocol):
    def score(self, slots: list[Slot], infos: list[PhraseInfo]) -> np.ndarray: ...


def score_table(scorer: EmissionModel, slots: list[Slot], table: PhraseTable, library=None):
    """``[N, K]`` scores of every phrase of ``table``: the scorer's vectorised
    ``score_table`` when it has one, else ``score`` on the phrases' ``PhraseInfo`` s (read from
    ``library``)."""
    if hasattr(scorer, "score_table"):
        return scorer.score_table(slots, table)
    if library is None:
        raise TypeError("this scorer needs PhraseInfo objects: pass the library")
    by_id = {info.id: info for info in library.infos(ids=table.ids.tolist())}
    return scorer.score(slots, [by_id[p] for p in table.ids.tolist()])


def tempo_fit(music_bpm: np.ndarray, phrase_bpm: np.ndarray, width_octaves: float) -> np.ndarray:
    """``[N, K]`` in (0, 1]: 1 when the music's tempo (or its half or double) equals the
    phrase's capture tempo, falling off with the log-tempo gap (Gaussian, ``width_octaves``)."""
    ratio = np.log2(np.asarray(music_bpm, float)[:, None] / np.asarray(phrase_bpm, float)[None, :])
    # the nearest of half, straight and double time (no [N, K, 3] temporary)
    gap = np.minimum(np.minimum(np.abs(ratio - -1.0), np.abs(ratio - 0.0)), np.abs(ratio - 1.0))
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
        return self.score_arrays(
            slots,
            np.array([i.tempo_bpm for i in infos], dtype=float),
            np.array([i.energy for i in infos], dtype=float),
            np.array([i.meter for i in infos]),
        )

    def score_table(self, slots: list[Slot], table: PhraseTable) -> np.ndarray:
        """``score`` for every phrase of a ``PhraseTable`` (one vectorised pass)."""
        return self.score_arrays(slots, table.tempo_bpm, table.energy, table.meter)

    def score_arrays(
        self, slots: list[Slot], tempo_bpm: np.ndarray, energy: np.ndarray, meter: np.ndarray
    ) -> np.ndarray:
        """Scores ``[N, K]`` of phrases given as arrays ``[K]`` (tempo, energy 0..1, meter)."""
        music_bpm = np.array([s.tempo_bpm for s in slots], dtype=float)
        intensity = music_intensity(slots)
        slot_meter = np.array([3 if s.meter == 3 else 4 for s in slots])
        phrase_meter = np.where(np.asarray(meter) == 3, 3, 4)
        # slots mostly share their tempo and meter: each term is computed once per distinct
        # value and its rows repeated (elementwise, so the values are the same)
        bpms, bpm_row = np.unique(music_bpm, return_inverse=True)
        levels, level_row = np.unique(intensity, return_inverse=True)
        out = np.empty((len(slots), len(tempo_bpm)))
        for a in range(0, len(tempo_bpm), SCORE_BLOCK):
            b = a + SCORE_BLOCK
            tempo = tempo_fit(bpms, tempo_bpm[a:b], self.tempo_width_octaves)[bpm_row]
            fit = np.exp(-0.5 * ((levels[:, None] - energy[None, a:b]) / self.energy_width) ** 2)
            block = tempo * fit[level_row]
            for meter in np.unique(slot_meter):  # x 0.02 where the meters differ (x 1 is exact)
                rows = np.flatnonzero(slot_meter == meter)
                columns = np.flatnonzero(phrase_meter[a:b] != meter)
                if len(rows) and len(columns):
                    block[np.ix_(rows, columns)] *= 0.02
            np.maximum(block, self.floor, out=out[:, a:b])
        return out
