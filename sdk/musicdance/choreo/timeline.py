"""The timeline: which phrase plays in which slot, saved as versioned JSON a game can edit.

Schema ``mdtool.timeline`` version 1 (documented in ``docs/timeline.md``): the song and library
it was made from, the frame rate and seed, and per slot the music times (start, end, the beat
each count lands on), the music descriptors the scorer used, the chosen phrase with its score,
the top-k alternatives, and the transition prior from the previous slot's phrase.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.choreo.slots import Slot
from musicdance.errors import MusicDanceError

TIMELINE_SCHEMA = "mdtool.timeline"
TIMELINE_VERSION = 1
#: Limits :meth:`Timeline.validate` holds a timeline to (the CLI's ``--fps`` has the same range).
MAX_FPS = 240.0
MAX_SONG_S = 2 * 3600.0
MAX_SLOTS = 20_000


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

    def validate(self, library=None) -> None:
        """Refuse, with one clear :class:`MusicDanceError`, a timeline that cannot be rendered:
        implausible numbers (fps, song length, slot times and beats) or, given ``library`` (a
        phrase library or anything with ``ids()`` and ``path``), phrases it does not have (a
        timeline made with another library)."""
        numbers = [self.fps, self.duration_s]
        if not all(math.isfinite(float(v)) for v in numbers):
            raise MusicDanceError("timeline fps and song duration must be finite numbers")
        if not 1.0 <= self.fps <= MAX_FPS:
            raise MusicDanceError(f"timeline fps must be between 1 and {MAX_FPS:g}")
        if not 0.0 < self.duration_s <= MAX_SONG_S:
            raise MusicDanceError(
                f"timeline song duration must be in (0, {MAX_SONG_S:g}] seconds, got "
                f"{self.duration_s}"
            )
        if not 0 < len(self.slots) <= MAX_SLOTS:
            raise MusicDanceError(f"a timeline needs 1 to {MAX_SLOTS} slots")
        previous_end = -math.inf
        for slot in self.slots:
            times = np.asarray([slot.start_s, slot.end_s, *slot.beat_times_s], dtype=float)
            beats = times[2:]
            if (
                not np.all(np.isfinite(times))
                or len(beats) < 2
                or np.any(np.diff(beats) <= 0)
                or not slot.start_s - 1e-6 <= beats[0]
                or not beats[-1] < slot.end_s
                or slot.start_s < previous_end - 1e-3
                or slot.start_s < 0
                or slot.end_s > self.duration_s + 1.0
            ):
                raise MusicDanceError(
                    f"slot {slot.index} has inconsistent times (start, end and at least two "
                    "increasing beats inside, in song order)"
                )
            previous_end = slot.end_s
        if library is None:
            return
        known = set(library.ids())
        unknown = [p for p in dict.fromkeys(self.phrase_ids()) if p not in known]
        if unknown:
            raise MusicDanceError(
                f"the timeline uses {len(unknown)} phrase(s) this library does not have (e.g. "
                f"{unknown[0]!r}); it was made with library {self.library!r}, this one is "
                f"{str(getattr(library, 'path', ''))!r}"
            )

    def check_slot(self, slot: int) -> None:
        """Raise unless ``slot`` is one of the timeline's slot numbers."""
        if not 0 <= slot < len(self.slots):
            raise MusicDanceError(
                f"slot {slot} does not exist (the timeline has {len(self.slots)})"
            )

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


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_timeline(data: dict | str | bytes) -> Timeline:
    """A :class:`Timeline` from its JSON (text or parsed), with one clear error for damage."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise MusicDanceError(f"timeline is not valid JSON ({error})") from None
    try:
        return Timeline.from_json(data)
    except MusicDanceError:
        raise
    except (AttributeError, TypeError, ValueError, KeyError) as error:
        raise MusicDanceError(f"damaged timeline ({type(error).__name__}: {error})") from None


def read_timeline(path: str | os.PathLike[str]) -> Timeline:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise MusicDanceError(f"cannot read timeline ({error.strerror or error})", path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MusicDanceError(f"timeline is not valid JSON ({error})", path) from None
    return Timeline.from_json(data, path)
