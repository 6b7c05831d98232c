"""The timeline: which phrase plays in which slot, saved as versioned JSON a game can edit.

Schema ``mdtool.timeline`` version 1 (documented in ``docs/timeline.md``): the song and library
it was made from, the frame rate and seed, and per slot the music times (start, end, the beat
each count lands on), the music descriptors the scorer used, the chosen phrase with its score,
the top-k alternatives, and the transition prior from the previous slot's phrase.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from musicdance.atomic import atomic_write
from musicdance.choreo.slots import Slot
from musicdance.errors import MusicDanceError

TIMELINE_SCHEMA = "mdtool.timeline"
TIMELINE_VERSION = 1


@dataclass
class Choice:
    """The phrase in one slot, how well it scored, and what else could go there."""

    phrase_id: str
    score: float
    alternatives: list[dict] = field(default_factory=list)  # {"phrase_id", "score"}
    transition_prior: float | None = None  # M(previous phrase -> this phrase)


@dataclass
class Timeline:
    """A choreography: slots of music and the phrase chosen for each."""

    song: dict
    library: str
    fps: float
    seed: int
    style: str
    decoder: str
    slots: list[Slot]
    choices: list[Choice]

    def __post_init__(self) -> None:
        if len(self.slots) != len(self.choices):
            raise ValueError("a timeline needs one choice per slot")

    @property
    def duration_s(self) -> float:
        return float(self.song["duration_s"])

    def phrase_ids(self) -> list[str]:
        return [c.phrase_id for c in self.choices]

    def to_json(self) -> dict:
        return {
            "schema": TIMELINE_SCHEMA,
            "version": TIMELINE_VERSION,
            "song": dict(self.song),
            "library": self.library,
            "fps": self.fps,
            "seed": self.seed,
            "style": self.style,
            "decoder": self.decoder,
            "slots": [
                {
                    **slot.to_json(),
                    "phrase_id": choice.phrase_id,
                    "score": round(float(choice.score), 6),
                    "alternatives": choice.alternatives,
                    "transition_prior": (
                        None
                        if choice.transition_prior is None
                        else round(float(choice.transition_prior), 6)
                    ),
                }
                for slot, choice in zip(self.slots, self.choices, strict=True)
            ],
        }

    @classmethod
    def from_json(cls, data: dict, path: str | os.PathLike[str] | None = None) -> Timeline:
        if not isinstance(data, dict) or data.get("schema") != TIMELINE_SCHEMA:
            raise MusicDanceError("not an mdtool timeline (schema field missing)", path)
        if data.get("version") != TIMELINE_VERSION:
            raise MusicDanceError(
                f"timeline version {data.get('version')} is not supported "
                f"(this mdtool reads version {TIMELINE_VERSION})",
                path,
            )
        try:
            slots = [Slot.from_json(s) for s in data["slots"]]
            choices = [
                Choice(
                    s["phrase_id"], s["score"], s.get("alternatives", []), s.get("transition_prior")
                )
                for s in data["slots"]
            ]
            return cls(
                song=data["song"],
                library=data["library"],
                fps=float(data["fps"]),
                seed=int(data["seed"]),
                style=data["style"],
                decoder=data["decoder"],
                slots=slots,
                choices=choices,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise MusicDanceError(
                f"damaged timeline ({type(error).__name__}: {error})", path
            ) from None


def write_timeline(timeline: Timeline, path: str | os.PathLike[str]) -> None:
    """Write the timeline as indented JSON, atomically."""
    with atomic_write(path, "w") as handle:
        json.dump(timeline.to_json(), handle, indent=2)
        handle.write("\n")


def read_timeline(path: str | os.PathLike[str]) -> Timeline:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise MusicDanceError(f"cannot read timeline ({error.strerror or error})", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MusicDanceError(f"timeline is not valid JSON ({error})", path) from None
    return Timeline.from_json(data, path)
