"""A simulated curator, to test that recorded edits teach the model (``bench_curator.py``).

The curator has a hidden taste that the rules (tempo, energy, meter, transitions) do not
encode: outside the choruses it wants the calmest phrase that stays most in place; in a
chorus, the phrase that travels furthest. It listens to generated songs (``audio.synth``), so
it knows each slot's true section; the model only hears the slot's audio. Every choice is
deterministic (ties go to the first phrase id).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdance.audio.analysis import Analysis, analyze_signal
from musicdance.audio.synth import SongTruth, synth_song
from musicdance.choreo.choreographer import choreograph
from musicdance.choreo.curation import replace_phrases, slot_edit
from musicdance.choreo.onnx_scorer import scorer_for
from musicdance.choreo.timeline import Timeline
from musicdance.library.edits import Edit
from musicdance.library.phrase import PhraseInfo

__all__ = ["CuratedSong", "SimulatedCurator", "curate_song", "phrase_travel_m", "sections_at"]

#: Genres the curator's songs cycle through (``audio.synth.GENRES``).
CURATOR_GENRES = ("hiphop", "house", "pop", "funk", "waltz", "breakbeat", "swing", "ballad")


def phrase_travel_m(library) -> dict[str, float]:
    """Each phrase's travel: the furthest the root gets from its start on the floor (m)."""
    travel = {}
    for info in library.infos():
        root = library.get(info.id).motion.root_positions_m
        floor = root[:, [0, 2]] - root[0, [0, 2]]
        travel[info.id] = float(np.linalg.norm(floor, axis=1).max())
    return travel


def sections_at(truth: SongTruth, times_s: list[float]) -> list[str]:
    """The true section label (verse, chorus, ...) at each time."""
    starts = np.asarray(truth.section_starts_s)
    index = np.clip(np.searchsorted(starts, np.asarray(times_s), side="right") - 1, 0, None)
    return [truth.section_labels[int(i)] for i in index]


@dataclass(frozen=True)
class SimulatedCurator:
    """Calm and in place outside choruses, travelling in choruses (see the module docs)."""

    travel_m: dict[str, float]
    name: str = "simulated-curator"

    def choose(self, section: str, candidates: list[PhraseInfo]) -> str:
        """The phrase id this curator puts in a slot of ``section`` among ``candidates``."""
        ordered = sorted(candidates, key=lambda info: info.id)
        if section == "chorus":
            return max(ordered, key=lambda info: self.travel_m[info.id]).id
        return min(ordered, key=lambda info: (info.energy, self.travel_m[info.id])).id


@dataclass
class CuratedSong:
    """A generated song, its dance and what the curator wants in each slot."""

    analysis: Analysis
    timeline: Timeline
    sections: list[str]
    choices: list[str]

    def record(self, library, curator: SimulatedCurator, bundle=None) -> list[Edit]:
        """Replace every slot the curator disagrees with, recorded in ``library`` (the path
        every shell takes); returns the edits."""
        changes = [(k, c) for k, c in enumerate(self.choices)
                   if c != self.timeline.choices[k].phrase_id]  # fmt: skip
        _, edits = replace_phrases(self.timeline, library, changes, analysis=self.analysis,
                                   user=curator.name, bundle=bundle)  # fmt: skip
        return edits

    def all_slots(self, curator: SimulatedCurator) -> list[Edit]:
        """The curator's choice for every slot as (unrecorded) edits, for ``agreement``."""
        return [slot_edit(self.timeline, k, c, analysis=self.analysis, user=curator.name)
                for k, c in enumerate(self.choices)]  # fmt: skip


def curate_song(
    library,
    curator: SimulatedCurator,
    *,
    seed: int,
    genre: str | None = None,
    duration_s: float = 30.0,
    bundle=None,
) -> CuratedSong:
    """Generate a song (``genre``, else one of :data:`CURATOR_GENRES` by ``seed``), dance it
    (with ``bundle``, else the feature scorer) and ask the curator for every slot."""
    genre = genre or CURATOR_GENRES[seed % len(CURATOR_GENRES)]
    samples, truth = synth_song(genre, seed=seed, duration_s=duration_s)
    analysis = analyze_signal(samples, sr_hz=22050, path=f"{genre}-{seed}.wav")
    timeline = choreograph(analysis, library, seed=seed, scorer=scorer_for(bundle, analysis))
    sections = sections_at(truth, [(s.start_s + s.end_s) / 2 for s in timeline.slots])
    infos = library.infos(styles=[timeline.style])
    choices = [
        curator.choose(section, [i for i in infos if (i.meter == 3) == (slot.meter == 3)])
        for section, slot in zip(sections, timeline.slots, strict=True)
    ]
    return CuratedSong(analysis, timeline, sections, choices)
