"""Dance slots: the music cut into eights (sixes in 3/4), each to be filled by one phrase."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from musicdance.audio.analysis import Analysis

#: Shortest slot worth a phrase; shorter remainders are absorbed by the previous slot's end.
MIN_SLOT_COUNTS = 4


@dataclass
class Slot:
    """One stretch of music that one dance phrase fills.

    beat_times_s: the beats the phrase's counts land on, ``[C]``. end_s: where the next slot
    starts (the phrase's last count lasts until then). position_in_section: index of the slot
    within its section, so repeated sections line up slot by slot.
    """

    index: int
    start_s: float
    end_s: float
    beat_times_s: list[float]
    meter: int
    music_phrase: int
    section_label: str
    position_in_section: int
    position_in_phrase: int
    tempo_bpm: float
    energy: float
    onset_density_per_s: float

    @property
    def num_counts(self) -> int:
        return len(self.beat_times_s)

    def to_json(self) -> dict:
        data = asdict(self)
        data["beat_times_s"] = [round(t, 4) for t in self.beat_times_s]
        for key in ("start_s", "end_s", "tempo_bpm", "energy", "onset_density_per_s"):
            data[key] = round(float(data[key]), 4)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Slot:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def plan_slots(analysis: Analysis, *, half_time: bool = False) -> list[Slot]:
    """Cut every music phrase into slots of one eight (two bars; six counts in 3/4).

    half_time: dance music in an even meter in half time: the counts are every other beat
    (beats 1 and 3 of each bar), an eight spans four bars, and the slot's tempo is half the
    music's (DANCE-NOTES: at fast tempos dancers move on every other beat; the choreographer
    decides, ``choreographer.HALF_TIME_RATIO``). Music in 3/4 is never halved.
    """
    cycle = 6 if analysis.meter == 3 else 8
    slots: list[Slot] = []
    section_positions: dict[int, int] = {}
    phrases = analysis.phrases
    for p, phrase in enumerate(phrases):
        beats = [t for t in phrase.beat_times_s if phrase.start_s - 1e-6 <= t < phrase.end_s]
        tempo_bpm = float(phrase.tempo_bpm or analysis.tempo_bpm)
        if half_time and analysis.meter != 3:
            beats, tempo_bpm = beats[::2], tempo_bpm / 2.0
        groups = [beats[i : i + cycle] for i in range(0, len(beats), cycle)]
        if len(groups) > 1 and len(groups[-1]) < MIN_SLOT_COUNTS:
            tail = groups.pop()
            groups[-1] = groups[-1] + tail  # a short tail joins the previous eight
        for q, group in enumerate(groups):
            if len(group) < 2:
                continue
            following = groups[q + 1][0] if q + 1 < len(groups) else phrase.end_s
            position = section_positions.get(phrase.section, 0)
            section_positions[phrase.section] = position + 1
            slots.append(
                Slot(
                    index=len(slots),
                    start_s=float(group[0]),
                    end_s=float(following),
                    beat_times_s=[float(t) for t in group],
                    meter=int(analysis.meter),
                    music_phrase=p,
                    section_label=phrase.section_label,
                    position_in_section=position,
                    position_in_phrase=q,
                    tempo_bpm=tempo_bpm,
                    energy=float(phrase.energy),
                    onset_density_per_s=float(phrase.onset_density_per_s),
                )
            )
    return slots


def repeats_of(slots: list[Slot]) -> np.ndarray:
    """For each slot, the index of the first slot with the same section label and position
    in an earlier section (chorus 2 repeats chorus 1 slot by slot), or -1."""
    first: dict[tuple[str, int], int] = {}
    out = np.full(len(slots), -1, dtype=np.int64)
    for slot in slots:
        key = (slot.section_label, slot.position_in_section)
        if key in first:
            out[slot.index] = first[key]
        else:
            first[key] = slot.index
    return out


def slot_spans(analysis) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of every choreography slot of an analysed song."""
    return [(slot.start_s, slot.end_s) for slot in plan_slots(analysis)]
