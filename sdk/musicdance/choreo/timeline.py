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

from musicdance.atomic import atomic_write
from musicdance.choreo.slots import Slot
from musicdance.errors import MusicDanceError

TIMELINE_SCHEMA = "mdtool.timeline"
TIMELINE_VERSION = 1
#: Bounds every timeline must respect before any work is done on it (readers and
#: :meth:`Timeline.validate` refuse more; the CLI's ``--fps`` has the same range).
MAX_FPS = 240.0
MAX_SONG_S = 2 * 3600.0
MAX_SLOTS = 20_000
MAX_BEATS_PER_SLOT = 64
MAX_ALTERNATIVES = 1_000
MAX_TEXT_CHARS = 4_096
#: Frames a render of a timeline may have (duration x fps): 2 hours at 60 fps, about 1.3 GB.
MAX_FRAMES = 432_000
#: Largest timeline file read (a 2-hour song has about 1,000 slots, some 2 MB of JSON).
MAX_TIMELINE_BYTES = 64 * 1024 * 1024
#: Deepest JSON nesting accepted (a timeline nests 4 levels).
MAX_JSON_DEPTH = 32


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
        problem = timeline_problem(self)
        if problem:
            raise MusicDanceError(f"timeline refused: {problem}")
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
        """A timeline from its parsed JSON; any damage (wrong types, missing keys, non-finite
        or inconsistent times, sizes beyond the bounds above) is one ``MusicDanceError``."""
        if isinstance(data, dict) and data.get("schema") == "mdtool.group_timeline":
            raise MusicDanceError(
                "not an mdtool timeline: this is a group timeline (mdtool.group_timeline; "
                "musicdance.choreo.group.read_group_timeline reads it)",
                path,
            )
        if not isinstance(data, dict) or data.get("schema") != TIMELINE_SCHEMA:
            raise MusicDanceError("not an mdtool timeline (schema field missing)", path)
        if data.get("version") != TIMELINE_VERSION:
            shown = data.get("version")
            shown = shown if isinstance(shown, int | float | None) else type(shown).__name__
            raise MusicDanceError(
                f"timeline version {shown} is not supported "
                f"(this mdtool reads version {TIMELINE_VERSION})",
                path,
            )
        try:
            timeline = _timeline_from_checked(data)
        except _Damage as error:
            raise MusicDanceError(f"damaged timeline: {error}", path) from None
        problem = timeline_problem(timeline)
        if problem:
            raise MusicDanceError(f"damaged timeline: {problem}", path)
        return timeline


class _Damage(ValueError):
    """A field of a timeline's JSON that is missing or of the wrong kind."""


def _get(data: dict, key: str, where: str):
    if key not in data:
        raise _Damage(f"{where}{key} is missing")
    return data[key]


def _number(data: dict, key: str, where: str = "", *, optional: bool = False) -> float | None:
    value = data.get(key) if optional else _get(data, key, where)
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Damage(f"{where}{key} must be a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise _Damage(f"{where}{key} must be a finite number")
    return number


def _integer(data: dict, key: str, where: str = "") -> int:
    value = _get(data, key, where)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Damage(f"{where}{key} must be an integer, got {_kind(value)}")
    if not -(2**63) <= value < 2**63:
        raise _Damage(f"{where}{key} is out of range")
    return value


def _text(data: dict, key: str, where: str = "", *, optional: bool = False) -> str:
    value = data.get(key, "") if optional else _get(data, key, where)
    if optional and value is None:
        return ""
    if not isinstance(value, str):
        raise _Damage(f"{where}{key} must be a string, got {_kind(value)}")
    if len(value) > MAX_TEXT_CHARS:
        raise _Damage(f"{where}{key} is longer than {MAX_TEXT_CHARS} characters")
    return value


def _kind(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "true/false"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _timeline_from_checked(data: dict) -> Timeline:
    song = _get(data, "song", "")
    if not isinstance(song, dict):
        raise _Damage(f"song must be an object, got {_kind(song)}")
    song = dict(song)  # checked, kept as written (a round trip changes nothing)
    _number(song, "duration_s", "song.")
    for key in ("tempo_bpm", "meter"):
        if key in song:
            _number(song, key, "song.")
    if "path" in song and song["path"] is not None:
        _text(song, "path", "song.")
    raw_slots = _get(data, "slots", "")
    if not isinstance(raw_slots, list):
        raise _Damage(f"slots must be an array, got {_kind(raw_slots)}")
    if not 0 < len(raw_slots) <= MAX_SLOTS:
        raise _Damage(f"a timeline needs 1 to {MAX_SLOTS} slots, this one has {len(raw_slots)}")
    slots, choices = [], []
    for position, raw in enumerate(raw_slots):
        where = f"slots[{position}]."
        if not isinstance(raw, dict):
            raise _Damage(f"slots[{position}] must be an object, got {_kind(raw)}")
        slots.append(_slot(raw, position, where))
        choices.append(_choice(raw, where))
    return Timeline(
        song=song,
        library=_text(data, "library"),
        fps=_number(data, "fps"),
        seed=_integer(data, "seed"),
        style=_text(data, "style"),
        decoder=_text(data, "decoder"),
        slots=slots,
        choices=choices,
    )


def _slot(raw: dict, position: int, where: str) -> Slot:
    beats = _get(raw, "beat_times_s", where)
    if not isinstance(beats, list):
        raise _Damage(f"{where}beat_times_s must be an array, got {_kind(beats)}")
    if not 2 <= len(beats) <= MAX_BEATS_PER_SLOT:
        raise _Damage(
            f"{where}beat_times_s needs 2 to {MAX_BEATS_PER_SLOT} beats, has {len(beats)}"
        )
    beat_times = [
        _number({f"beat_times_s[{k}]": b}, f"beat_times_s[{k}]", where)
        for k, b in enumerate(beats)
    ]
    index = _integer(raw, "index", where)
    if index != position:
        raise _Damage(f"{where}index is {index}; slots must be numbered 0, 1, 2, ... in order")
    meter = _integer(raw, "meter", where)
    if meter not in (2, 3, 4, 6):
        raise _Damage(f"{where}meter must be 2, 3, 4 or 6, got {meter}")
    return Slot(
        index=index,
        start_s=_number(raw, "start_s", where),
        end_s=_number(raw, "end_s", where),
        beat_times_s=beat_times,
        meter=meter,
        music_phrase=_integer(raw, "music_phrase", where),
        section_label=_text(raw, "section_label", where),
        position_in_section=_integer(raw, "position_in_section", where),
        position_in_phrase=_integer(raw, "position_in_phrase", where),
        tempo_bpm=_number(raw, "tempo_bpm", where),
        energy=_number(raw, "energy", where),
        onset_density_per_s=_number(raw, "onset_density_per_s", where),
    )


def _choice(raw: dict, where: str) -> Choice:
    phrase_id = _text(raw, "phrase_id", where)
    if not phrase_id:
        raise _Damage(f"{where}phrase_id is empty")
    alternatives = raw.get("alternatives", [])
    if alternatives is None:
        alternatives = []
    if not isinstance(alternatives, list) or len(alternatives) > MAX_ALTERNATIVES:
        raise _Damage(f"{where}alternatives must be an array of at most {MAX_ALTERNATIVES}")
    checked = []
    for k, item in enumerate(alternatives):
        if not isinstance(item, dict):
            raise _Damage(f"{where}alternatives[{k}] must be an object, got {_kind(item)}")
        inner = f"{where}alternatives[{k}]."
        checked.append(
            {"phrase_id": _text(item, "phrase_id", inner), "score": _number(item, "score", inner)}
        )
    return Choice(
        phrase_id,
        _number(raw, "score", where),
        checked,
        _number(raw, "transition_prior", where, optional=True),
    )


def timeline_problem(
    timeline: Timeline, *, max_song_s: float = MAX_SONG_S, max_frames: int = MAX_FRAMES
) -> str | None:
    """What makes ``timeline`` impossible or too costly to render (None: nothing): fps and
    song length within bounds, frames (song length x fps) at most ``max_frames``, and per slot
    start, end and at least two increasing beats inside, in song order."""
    fps, duration_s = float(timeline.fps), float(timeline.duration_s)
    if not (math.isfinite(fps) and 1.0 <= fps <= MAX_FPS):
        return f"fps must be between 1 and {MAX_FPS:g}, got {fps:g}"
    if not (math.isfinite(duration_s) and 0.0 < duration_s <= max_song_s):
        return f"song duration must be in (0, {max_song_s:g}] seconds, got {duration_s:g}"
    if duration_s * fps > max_frames:
        return (
            f"{duration_s:g} s at {fps:g} fps is {duration_s * fps:.0f} frames; the limit is "
            f"{max_frames} (lower the fps or cut the song)"
        )
    if not 0 < len(timeline.slots) <= MAX_SLOTS:
        return f"a timeline needs 1 to {MAX_SLOTS} slots"
    previous_end = -math.inf
    for slot in timeline.slots:
        beats = slot.beat_times_s
        times = [slot.start_s, slot.end_s, *beats]
        if (
            not all(isinstance(t, int | float) and math.isfinite(t) for t in times)
            or not 2 <= len(beats) <= MAX_BEATS_PER_SLOT
            or any(b <= a for a, b in zip(beats, beats[1:], strict=False))
            or not slot.start_s - 1e-6 <= beats[0]
            or not beats[-1] < slot.end_s
            or slot.start_s < previous_end - 1e-3
            or slot.start_s < 0
            or slot.end_s > duration_s + 1.0
        ):
            return (
                f"slot {slot.index} has inconsistent times (start, end and 2 to "
                f"{MAX_BEATS_PER_SLOT} increasing beats inside, in song order, within the song)"
            )
        previous_end = slot.end_s
    return None


def parse_timeline_json(text: str | bytes, path: str | os.PathLike[str] | None = None) -> Timeline:
    """A timeline from JSON text: size and nesting depth are checked before parsing, NaN and
    Infinity are refused; every problem is one ``MusicDanceError``."""
    from musicdance.jsonguard import check_json_shape

    if len(text) > MAX_TIMELINE_BYTES:
        raise MusicDanceError(
            f"timeline is {len(text)} bytes; the limit is {MAX_TIMELINE_BYTES}", path
        )
    problem = check_json_shape(text, max_depth=MAX_JSON_DEPTH)
    if problem:
        raise MusicDanceError(f"timeline is not valid JSON ({problem})", path)
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MusicDanceError(f"timeline is not valid JSON ({error})", path) from None
    return Timeline.from_json(data, path)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def write_timeline(
    timeline: Timeline, path: str | os.PathLike[str], *, extra: dict | None = None
) -> None:
    """Write the timeline as indented JSON, atomically; ``extra`` adds top-level keys (the
    in-place root-motion curve, ``root_motion``)."""
    with atomic_write(path, "w") as handle:
        json.dump({**timeline.to_json(), **(extra or {})}, handle, indent=2)
        handle.write("\n")


def parse_timeline(data: dict | str | bytes) -> Timeline:
    """A :class:`Timeline` from its JSON (text or parsed), with one clear error for damage."""
    if isinstance(data, str | bytes):
        return parse_timeline_json(data)
    return Timeline.from_json(data)


def read_timeline(path: str | os.PathLike[str]) -> Timeline:
    """Read and check a ``.timeline.json`` (see :meth:`Timeline.from_json` for the checks)."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_TIMELINE_BYTES:
            raise MusicDanceError(
                f"timeline is {size} bytes; the limit is {MAX_TIMELINE_BYTES}", path
            )
        data = Path(path).read_bytes()
    except OSError as error:
        raise MusicDanceError(f"cannot read timeline ({error.strerror or error})", path) from None
    return parse_timeline_json(data, path)
