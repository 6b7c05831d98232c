"""Rendering a timeline into one animation as long as the song.

Each slot's phrase is time-warped so that its counts land on the slot's beats (its end lands
where the next slot starts). Where two slots meet, the cut between them is searched within one
beat of the boundary: the frame where the outgoing phrase's pose and velocity come closest to
the incoming one's (phrases are played past their ends for this, still on the beat, when they
loop or when another phrase continues them seamlessly, as the next phrase of the same take
does). The incoming phrase is then turned and moved on the floor to continue from where
the dancer stands and faces, and joined with inertialization over a time that grows with the
pose-and-velocity gap at the cut; planted feet are pinned with leg IK while in contact.
Before the first slot and after the last the dancer holds the first and last pose.

After an edit, ``musicdance.choreo.rerender`` re-renders only what changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from musicdance.choreo.slots import Slot
from musicdance.choreo.timeline import Timeline
from musicdance.library.phrase import (
    FEATURE_WINDOW,
    FOOT_POINTS,
    Phrase,
    PhraseInfo,
    pose_features,
)
from musicdance.library.store import PhraseLibrary
from musicdance.library.transitions import pose_velocity_cost
from musicdance.motion.analysis import contacts_from_signals, foot_signals
from musicdance.motion.motion import Motion, concatenate, slice_frames
from musicdance.synthesis.blend import (
    align_root,
    coast,
    crossfade,
    extend,
    heading,
    inertialize,
    reverse,
)
from musicdance.synthesis.contacts import lock_feet
from musicdance.synthesis.timewarp import time_warp

JOIN_HALFLIFE_S = 0.18
JOINS = ("inertialize", "crossfade")
#: How far (in beats) on either side of a slot boundary the cut may move.
JOIN_SEARCH_BEATS = 1.0
#: Cost added per beat the cut moves away from the boundary (ties keep it on count 1).
JOIN_SHIFT_COST = 0.5
#: The join's half-life is ``halflife_s * clip(sqrt(cost / JOIN_COST_REF), 1, JOIN_HALFLIFE_MAX)``:
#: the inertialization offset's acceleration scales with offset / half-life^2, so a gap k times
#: the usual one gets sqrt(k) times the time to close (at most ``JOIN_HALFLIFE_MAX`` times).
JOIN_COST_REF = 1.0
JOIN_HALFLIFE_MAX = 2.0
#: The best ``JOIN_TRIAL_CUTS`` candidate cuts (by pose-and-velocity cost) and the boundary are
#: tried: joined with inertialization, the peak joint acceleration over ``JOIN_PEAK_WINDOW_S``
#: after the cut adds ``JOIN_PEAK_COST`` per ``JOIN_PEAK_REF_MPS2`` to their cost, so a cut is
#: not moved into the start of a sharp move that the join's offset would make sharper.
JOIN_TRIAL_CUTS = 3
JOIN_PEAK_COST = 0.5
JOIN_PEAK_REF_MPS2 = 100.0
JOIN_PEAK_WINDOW_S = 0.4
#: A trial whose peak exceeds ``JOIN_PEAK_SHARE`` of the sharpest moment inside the two phrases
#: (``_Piece.peak_mps2``, their slots' frames) is taken only when every trial does (then the
#: least sharp one): a join should never be the sharpest moment of the dance.
JOIN_PEAK_SHARE = 0.85


def join_halflife_s(cost: float, halflife_s: float = JOIN_HALFLIFE_S) -> float:
    """Inertialization half-life (s) for a cut whose ``pose_velocity_cost`` is ``cost``."""
    return halflife_s * float(np.clip(np.sqrt(max(cost, 0.0) / JOIN_COST_REF), 1.0,
                                      JOIN_HALFLIFE_MAX))  # fmt: skip


@dataclass
class Join:
    """Where one slot's phrase took over from the previous one.

    slot: index of the incoming slot. boundary_s: its nominal start (count 1). time_s: where
    the cut was made. cost: ``pose_velocity_cost`` of the cut; boundary_cost: of a cut at the
    boundary, for comparison. halflife_s: the inertialization half-life used for the join.
    """

    slot: int
    boundary_s: float
    time_s: float
    cost: float
    boundary_cost: float
    halflife_s: float = JOIN_HALFLIFE_S

    def to_json(self) -> dict:
        return {
            "time_s": round(self.time_s, 4),
            "shift_s": round(self.time_s - self.boundary_s, 4),
            "cost": round(self.cost, 4),
            "boundary_cost": round(self.boundary_cost, 4),
            "halflife_s": round(self.halflife_s, 4),
        }


@dataclass(frozen=True)
class RenderOptions:
    """How a timeline is rendered: every render function (``render_dance``,
    ``render_timeline``, ``rerender``) takes one (a re-render must use the same).

    halflife_s: the join's half-life. join: ``"inertialize"`` (default) or ``"crossfade"``, the
    paper's linear blend, kept as the baseline the benchmark compares against. plant_feet: pin
    each foot while it is in contact (contact-aware correction), so joins and time warping do
    not make feet slide. search_joins: look for the best cut near each boundary (else cut on
    count 1).
    """

    halflife_s: float = JOIN_HALFLIFE_S
    join: str = "inertialize"
    plant_feet: bool = True
    search_joins: bool = True

    def __post_init__(self) -> None:
        if self.join not in JOINS:
            raise ValueError(f"join must be one of {JOINS}, got {self.join!r}")


@dataclass
class RenderState:
    """What ``rerender`` needs of a render besides its motion and joins.

    slots, phrase_ids, fps, duration_s: the timeline rendered; library: the library's path;
    options: the render's options. pieces: each slot's warped phrase (a slot too short for a
    frame has none). cuts: ``[len(pieces) + 1]`` output frames where each piece's segment
    starts, then where the last one stops. placed: the segments placed on the floor and joined,
    before foot locking, one after another (``cuts[-1] - cuts[0]`` frames; frame 0 is output
    frame ``cuts[0]``). body: ``placed`` after foot locking (``placed`` without
    ``plant_feet``). heights_m, speeds_mps: foot-point heights and speeds of ``placed``
    (``foot_signals``, ``[T, 4]``) and contacts: the ``[T, 2]`` contacts the feet were locked
    on; ``None`` without ``plant_feet``.
    """

    slots: list[Slot]
    phrase_ids: list[str]
    fps: float
    duration_s: float
    library: str
    options: RenderOptions
    pieces: list[_Piece]
    cuts: list[int]
    placed: Motion
    body: Motion
    heights_m: np.ndarray | None = None
    speeds_mps: np.ndarray | None = None
    contacts: np.ndarray | None = None


@dataclass
class Rendered:
    """A rendered dance, the joins it was cut at and what a re-render needs (``state``; a
    ``Rendered`` without it re-renders in full)."""

    motion: Motion
    joins: list[Join]
    state: RenderState | None = None


@dataclass
class _Piece:
    """One slot's warped phrase; frame ``i`` of ``motion`` is output frame ``lo + i``."""

    slot: int
    motion: Motion
    lo: int
    first: int  # nominal first output frame (the slot's start)
    stop: int  # nominal stop frame (the slot's end)
    beat_frames: float  # length of the slot's first beat, in output frames
    features: np.ndarray  # pose_features of every frame of motion, [num_frames, F]
    peak_mps2: float = float("inf")  # largest joint acceleration over frames first:stop

    @property
    def hi(self) -> int:
        return self.lo + self.motion.num_frames


def frame_at(time_s: float, fps: float) -> int:
    """First output frame at or after ``time_s``."""
    return math.ceil(time_s * fps - 1e-6)


def source_count_frames(info: PhraseInfo, num_counts: int) -> np.ndarray:
    """``[num_counts + 1]`` phrase frames to show on a slot's beats and at its end: the
    phrase's counts, then its end, then further counts at its spacing if the slot is longer
    (frames past the end hold the last pose, or loop for looping phrases)."""
    counts = np.asarray(info.count_frames, dtype=float)
    spacing = float(np.median(np.diff(counts))) if len(counts) > 1 else info.fps / 2
    knots = np.append(counts, max(float(info.num_frames), counts[-1] + 1.0))
    if len(knots) < num_counts + 1:
        knots = np.concatenate(
            [knots, knots[-1] + spacing * np.arange(1, num_counts + 2 - len(knots))]
        )
    return knots[: num_counts + 1]


def loops(motion: Motion) -> bool:
    """Whether ``motion`` can play as a loop: going from its last frame back to its first costs
    no more (``pose_velocity_cost``) than its largest step between consecutive frames."""
    if motion.num_frames < 3:
        return False
    positions, rotations = motion.global_transforms()
    features = pose_features(positions, rotations[:, 0], motion.fps, np.arange(motion.num_frames))
    steps = pose_velocity_cost(features[1:], features[:-1])
    return bool(pose_velocity_cost(features[-1], features[0]) <= steps.max())


def warp_slot(
    phrase: Phrase,
    slot: Slot,
    fps: float,
    *,
    margin_frames: int | tuple[int, int] = 0,
    source: tuple[Motion, int] | None = None,
) -> Motion | None:
    """The phrase resampled at ``fps`` over the slot's frames, counts on the beats, with
    ``margin_frames`` more on each side (or ``(before, after)``). source: ``(motion, shift)``,
    a longer version of the phrase's motion (``extend``) whose frame ``shift`` is the phrase's
    frame 0."""
    first, stop = frame_at(slot.start_s, fps), frame_at(slot.end_s, fps)
    if stop <= first:
        return None
    margin_before, margin_after = (
        (margin_frames, margin_frames) if isinstance(margin_frames, int) else margin_frames
    )
    motion, shift = (phrase.motion, 0) if source is None else source
    knots = source_count_frames(phrase.info, slot.num_counts) + shift
    targets = np.append(np.asarray(slot.beat_times_s, dtype=float), slot.end_s)
    return time_warp(
        motion,
        knots,
        targets,
        fps=fps,
        start_s=(first - margin_before) / fps,
        stop_s=(stop + margin_after) / fps,
    )


def _beat_frames(slot: Slot, fps: float) -> float:
    beats = slot.beat_times_s
    period_s = beats[1] - beats[0] if len(beats) > 1 else slot.end_s - slot.start_s
    return period_s * fps


def _features(piece: _Piece, start: int, stop: int) -> np.ndarray:
    """``pose_features`` of output frames ``start:stop`` of ``piece``, ``[stop - start, F]``
    (frames outside the piece take its nearest frame)."""
    frames = np.clip(np.arange(start, stop) - piece.lo, 0, piece.motion.num_frames - 1)
    return piece.features[frames]


def _all_features(
    motions: list[Motion], spans: list[tuple[int, int]]
) -> list[tuple[np.ndarray, float]]:
    """``pose_features`` of every frame of each motion, ``[T_i, F]``, and the largest joint
    acceleration (m/s^2) over its frames ``spans[i]`` (start, stop), from one
    forward-kinematics pass over all of them (the cut search reads them at every join)."""
    if not motions:
        return []
    positions, rotations = concatenate(motions).global_transforms()
    edges = np.cumsum([0, *(m.num_frames for m in motions)])
    found = []
    for m, a, b, (start, stop) in zip(motions, edges[:-1], edges[1:], spans, strict=True):
        features = pose_features(positions[a:b], rotations[a:b, 0], m.fps, np.arange(m.num_frames))
        inside = positions[a + max(start, 0) : a + min(stop, m.num_frames)]
        steps = np.diff(inside, 2, axis=0)
        peak = float(np.linalg.norm(steps, axis=-1).max() * m.fps**2) if len(steps) else np.inf
        found.append((features, peak))
    return found


def _joined_peaks(
    before: _Piece, after: _Piece, cuts: list[int], halflives_s: list[float]
) -> list[float]:
    """For each output frame in ``cuts``, the peak joint acceleration (m/s^2) from two frames
    before it to ``JOIN_PEAK_WINDOW_S`` after it, when ``after`` takes over from ``before``
    there (placed and inertialized as ``_place_segments`` does); one forward-kinematics pass."""
    fps = after.motion.fps
    window = int(round(JOIN_PEAK_WINDOW_S * fps)) + 1
    trials = []
    for cut, halflife_s in zip(cuts, halflives_s, strict=True):
        start = max(cut - before.lo - 3, 0)
        previous = slice_frames(before.motion, start, max(cut - before.lo, start + 2))
        frame = cut - after.lo
        following = slice_frames(
            align_root(after.motion, previous.root_positions_m[-1],
                       float(heading(previous.rotations[-1, 0])), frame=frame),
            frame, frame + window,
        )  # fmt: skip
        trials += [previous, inertialize(previous, following, halflife_s)]
    positions = concatenate(trials).global_positions()
    edges = np.cumsum([0, *(t.num_frames for t in trials)])
    return [
        float(np.linalg.norm(np.diff(positions[a:b], 2, axis=0), axis=-1).max() * fps**2)
        for a, b in zip(edges[0:-1:2], edges[2::2], strict=True)
    ]


def find_cut(
    before: _Piece, after: _Piece, search: bool = True, halflife_s: float = JOIN_HALFLIFE_S
) -> Join:
    """The output frame where ``after`` should take over from ``before``: within
    ``JOIN_SEARCH_BEATS`` of the boundary, where both are defined, the lowest
    ``pose_velocity_cost`` plus ``JOIN_SHIFT_COST`` per beat moved and, for the trial cuts, the
    measured peak of the joined frames (one above ``JOIN_PEAK_SHARE`` of the two phrases' own
    sharpest moment only when every trial is); the join's half-life from ``join_halflife_s``
    (base ``halflife_s``)."""
    fps = after.motion.fps
    boundary = after.first
    beat = after.beat_frames
    reach = int(round(JOIN_SEARCH_BEATS * beat)) if search else 0
    low = max(boundary - reach, after.lo + 1, before.first + 1)
    high = min(boundary + reach, before.hi - 2, after.stop - 1)
    low, high = min(low, boundary), max(high, boundary)
    candidates = np.arange(low, high + 1)
    cost = pose_velocity_cost(_features(before, low, high + 1), _features(after, low, high + 1))
    total = cost + JOIN_SHIFT_COST * np.abs(candidates - boundary) / max(beat, 1.0)
    if search and len(candidates) > 1:
        trials = sorted({*np.argsort(total, kind="stable")[:JOIN_TRIAL_CUTS].tolist(),
                         boundary - low})  # fmt: skip
        peaks = _joined_peaks(
            before,
            after,
            [int(candidates[k]) for k in trials],
            [join_halflife_s(float(cost[k]), halflife_s) for k in trials],
        )
        limit = JOIN_PEAK_SHARE * max(before.peak_mps2, after.peak_mps2)
        scored = [
            (p > limit, p if p > limit else 0.0,
             total[k] + JOIN_PEAK_COST * p / JOIN_PEAK_REF_MPS2)
            for k, p in zip(trials, peaks, strict=True)
        ]  # fmt: skip
        best = trials[min(range(len(trials)), key=scored.__getitem__)]
    else:
        best = int(np.argmin(total))
    return Join(
        slot=after.slot,
        boundary_s=boundary / fps,
        time_s=int(candidates[best]) / fps,
        cost=float(cost[best]),
        boundary_cost=float(cost[boundary - low]),
        halflife_s=join_halflife_s(float(cost[best]), halflife_s),
    )


def render_dance(
    timeline: Timeline, library: PhraseLibrary, options: RenderOptions | None = None
) -> Rendered:
    """The whole dance at ``timeline.fps``, the joins it was cut at, and in ``state`` what
    ``rerender`` needs to re-render it after an edit (``options``: :class:`RenderOptions`,
    default ones when None)."""
    options = options or RenderOptions()
    fps = timeline.fps
    pieces = _warp_pieces(timeline, library)
    joins = _find_cuts(pieces, options, getattr(library, "join_cache", None))
    cuts = _cut_frames(pieces, joins, fps)
    placed = concatenate(_place_segments(pieces, cuts, options, _halflives(joins, options)))
    state = RenderState(
        slots=list(timeline.slots),
        phrase_ids=timeline.phrase_ids(),
        fps=fps,
        duration_s=timeline.duration_s,
        library=_library_name(library),
        options=options,
        pieces=pieces,
        cuts=cuts,
        placed=placed,
        body=placed,
    )
    if options.plant_feet:
        transforms = placed.global_transforms()  # one forward-kinematics pass serves both
        state.heights_m, state.speeds_mps = foot_signals(transforms[0], fps, FOOT_POINTS)
        state.contacts = contacts_from_signals(state.heights_m, state.speeds_mps, FOOT_POINTS)
        state.body = lock_feet(placed, state.contacts, transforms=transforms)
    return Rendered(_finish(state.body, timeline), joins, state)


def _find_cuts(pieces: list[_Piece], options: RenderOptions, shared: dict | None) -> list[Join]:
    """``find_cut`` between consecutive pieces; with ``shared`` (pieces shared by a group's
    renders), each pair of pieces is searched once."""
    joins = []
    for a, b in pairwise(pieces):
        key = (id(a), id(b), options.search_joins, options.halflife_s)
        if shared is not None and key in shared:
            joins.append(shared[key][2])
            continue
        joins.append(find_cut(a, b, options.search_joins, options.halflife_s))
        if shared is not None:
            shared[key] = (a, b, joins[-1])  # the pieces are kept so their ids stay theirs
    return joins


def render_timeline(
    timeline: Timeline, library: PhraseLibrary, options: RenderOptions | None = None
) -> Motion:
    """One motion covering the whole song at ``timeline.fps`` (``render_dance``'s motion)."""
    return render_dance(timeline, library, options).motion


def cut_times(
    timeline: Timeline, library: PhraseLibrary, options: RenderOptions | None = None
) -> list[Join]:
    """The joins ``render_dance(timeline, library, options)`` would make (where each slot's
    phrase takes over), without placing, joining or locking anything."""
    options = options or RenderOptions()
    pieces = _warp_pieces(timeline, library)
    return [find_cut(a, b, options.search_joins, options.halflife_s) for a, b in pairwise(pieces)]


def _halflives(joins: list[Join], options: RenderOptions) -> list[float]:
    """Per piece, the half-life of its join to the one before (the first piece's is the base)."""
    return [options.halflife_s, *(j.halflife_s for j in joins)]


def continuations(
    library: PhraseLibrary, phrase: Phrase, infos: list | None = None
) -> tuple[str | None, str | None]:
    """Ids of the phrases that lead seamlessly into ``phrase`` and that it leads seamlessly
    into (itself for a loop), or None: a cut from one to the other costs
    (``pose_velocity_cost``) no more than ``phrase``'s largest step between two frames, as
    the phrases cut from one take do. infos: the library's ``infos()`` if the caller has them."""
    motion = phrase.motion
    if motion.num_frames < 3:
        return None, None
    positions, rotations = motion.global_transforms()
    features = pose_features(positions, rotations[:, 0], motion.fps, np.arange(motion.num_frames))
    step = float(pose_velocity_cost(features[1:], features[:-1]).max())
    if pose_velocity_cost(features[-1], features[0]) <= step:
        return phrase.info.id, phrase.info.id
    infos = [i for i in (library.infos() if infos is None else infos)
             if i.fps == phrase.info.fps and i.id != phrase.info.id]  # fmt: skip
    if not infos:
        return None, None
    starts = np.stack([i.start_features for i in infos]).astype(float)
    ends = np.stack([i.end_features for i in infos]).astype(float)
    found: list[str | None] = []
    for rough, at_end in (
        (pose_velocity_cost(features[:FEATURE_WINDOW].mean(0), ends), False),
        (pose_velocity_cost(features[-FEATURE_WINDOW:].mean(0), starts), True),
    ):
        best = None
        for k in np.argsort(rough, kind="stable")[:2]:  # check the two nearest exactly
            other = library.get(infos[k].id).motion
            n = other.num_frames
            edge_frames = slice_frames(other, 0, 2) if at_end else slice_frames(other, n - 2, n)
            pos, rot = edge_frames.global_transforms()
            frames = np.array([0]) if at_end else np.array([1])
            edge = pose_features(pos, rot[:, 0], other.fps, frames)[0]
            cost = pose_velocity_cost(features[-1], edge) if at_end else pose_velocity_cost(
                edge, features[0])  # fmt: skip
            if cost <= step and (best is None or cost < best[0]):
                best = (float(cost), infos[k].id)
        found.append(None if best is None else best[1])
    return found[0], found[1]


def _warp_pieces(
    timeline: Timeline, library: PhraseLibrary, only: set[int] | None = None
) -> list[_Piece]:
    """Every slot's phrase (or only the slots numbered in ``only``) warped onto its beats.
    A phrase that loops, or that another phrase leads into or continues (``continuations``),
    is played on from that side by ``JOIN_SEARCH_BEATS`` (plus two frames) for the cut
    search; so is a phrase cut short by its slot (fewer counts than the phrase), into its own
    next frames."""
    fps = timeline.fps
    infos = None
    sources: dict[str, tuple[Phrase, tuple[Motion, int], tuple[bool, bool]]] = {}
    warped = []  # (slot, motion, margins, beat frames)
    shared = getattr(library, "piece_cache", None)  # pieces shared by a group's renders
    found: dict[int, _Piece] = {}
    for slot, phrase_id in zip(timeline.slots, timeline.phrase_ids(), strict=True):
        if only is not None and slot.index not in only:
            continue
        key = (slot.index, phrase_id, slot.start_s, slot.end_s, tuple(slot.beat_times_s), fps)
        if shared is not None and key in shared:
            found[len(warped) + len(found)] = shared[key]
            continue
        if phrase_id not in sources:
            phrase = library.get(phrase_id)
            if infos is None:
                infos = library.infos()
            known = getattr(library, "continuation_cache", None)  # shared by a group's renders
            if known is not None and phrase_id in known:
                before_id, after_id = known[phrase_id]
            else:
                before_id, after_id = continuations(library, phrase, infos)
                if known is not None:
                    known[phrase_id] = (before_id, after_id)
            neighbours = [
                None if i is None else phrase.motion if i == phrase_id else library.get(i).motion
                for i in (before_id, after_id)
            ]
            source = _coasted(
                extend(phrase.motion, phrase.motion.num_frames - 1,
                       before=neighbours[0], after=neighbours[1]),  # fmt: skip
                before_id is None,
                after_id is None,
            )
            sources[phrase_id] = (phrase, source, (before_id is not None, after_id is not None))
        phrase, source, sides = sources[phrase_id]
        beat = _beat_frames(slot, fps)
        reach = int(round(JOIN_SEARCH_BEATS * beat)) + 2
        # A slot shorter than its phrase stops mid-phrase: the phrase's own next frames
        # continue it, so the cut may move past the slot's end as into a next phrase.
        goes_on = sides[1] or slot.num_counts < len(phrase.info.count_frames)
        margins = (reach if sides[0] else 0, reach if goes_on else 0)
        motion = warp_slot(phrase, slot, fps, margin_frames=margins, source=source)
        if motion is not None:
            warped.append((slot, motion, margins, beat))
        elif shared is not None:
            found[len(warped) + len(found)] = None
    spans = []
    for slot, _, margins, _ in warped:
        first, stop = frame_at(slot.start_s, fps), frame_at(slot.end_s, fps)
        spans.append((margins[0], margins[0] + stop - first))
    features = _all_features([motion for _, motion, _, _ in warped], spans)
    pieces = []
    for (slot, motion, margins, beat), (piece_features, peak) in zip(warped, features, strict=True):
        first, stop = frame_at(slot.start_s, fps), frame_at(slot.end_s, fps)
        pieces.append(
            _Piece(slot.index, motion, first - margins[0], first, stop, beat, piece_features, peak)
        )
        if shared is not None:
            slot_key = (slot.index, timeline.choices[slot.index].phrase_id, slot.start_s,
                        slot.end_s, tuple(slot.beat_times_s), fps)  # fmt: skip
            shared[slot_key] = pieces[-1]
    if found:  # merge the shared pieces back in slot order (None: too short for a frame)
        fresh = iter(pieces)
        total = len(pieces) + len(found)
        pieces = [found[k] if k in found else next(fresh) for k in range(total)]
        pieces = [p for p in pieces if p is not None]
    return pieces


def _coasted(source: tuple[Motion, int], before: bool, after: bool) -> tuple[Motion, int]:
    """``source`` (an ``extend`` result) coasting to rest (``coast``) for a second past its
    end (``after``) and, played backwards, before its start (``before``): the sides no other
    phrase continues. A real take's phrase ends mid-movement; held past its last frame, it
    would stop dead there (a jolt of its whole end velocity in one frame)."""
    motion, shift = source
    frames = int(round(motion.fps))
    if after:
        motion = coast(motion, frames)
    if before:
        motion, shift = reverse(coast(reverse(motion), frames)), shift + frames
    return motion, shift


def _cut_frames(pieces: list[_Piece], joins: list[Join], fps: float) -> list[int]:
    """``[len(pieces) + 1]`` output frames: where each piece's segment starts, then where the
    last one stops."""
    return [pieces[0].first, *(frame_at(j.time_s, fps) for j in joins), pieces[-1].stop]


def _aligned(piece: _Piece, start: int, previous: Motion | None) -> Motion:
    """``piece``'s motion turned and moved on the floor so that its output frame ``start``
    continues from where ``previous`` (the segment before it) ends and faces; as it is for
    the first piece (``previous`` None)."""
    if previous is None:
        return piece.motion
    return align_root(
        piece.motion,
        previous.root_positions_m[-1],
        float(heading(previous.rotations[-1, 0])),
        frame=start - piece.lo,
    )


def _place_segments(
    pieces: list[_Piece],
    cuts: list[int],
    options: RenderOptions,
    halflives: list[float],
    previous: Motion | None = None,
    continuation: Motion | None = None,
) -> list[Motion]:
    """Output frames ``cuts[k]:cuts[k + 1]`` of each piece, placed to continue the one before
    (the first continues ``previous``, or stays where it is without one) and joined to it
    with inertialization of half-life ``halflives[k]``. continuation: how the piece before
    ``previous`` would have gone on (for the crossfade)."""
    played: list[Motion] = []
    for k, piece in enumerate(pieces):
        start, stop = cuts[k] - piece.lo, cuts[k + 1] - piece.lo
        whole = _aligned(piece, cuts[k], previous)
        segment = slice_frames(whole, start, stop)
        if previous is not None:
            if options.join == "inertialize":
                segment = inertialize(previous, segment, halflives[k])
            else:
                segment = crossfade(previous, segment, continuation=continuation)
        played.append(segment)
        previous = segment
        continuation = slice_frames(whole, stop)  # how this piece would have gone on
    return played


def _finish(body: Motion, timeline: Timeline) -> Motion:
    """``body`` (the slots' frames) held before the first slot and after the last, as long as
    the song."""
    fps = timeline.fps
    first = frame_at(timeline.slots[0].start_s, fps)
    total = int(math.floor(timeline.duration_s * fps + 1e-6)) + 1
    after = max(total - first - body.num_frames, 0)
    return _pad(body, before=first, after=after, total=total)


def _library_name(library: PhraseLibrary) -> str:
    return str(getattr(library, "path", ""))


def _pad(motion: Motion, *, before: int, after: int, total: int) -> Motion:
    """Hold the first pose for ``before`` frames and the last for ``after``; trim to ``total``."""
    index = np.concatenate(
        [
            np.zeros(before, dtype=np.int64),
            np.arange(motion.num_frames),
            np.full(after, motion.num_frames - 1),
        ]
    )[:total]
    return replace(
        motion,
        root_positions_m=motion.root_positions_m[index],
        rotations=motion.rotations[index],
        local_translations_m=None,
    )
