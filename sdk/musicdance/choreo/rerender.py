"""Re-rendering after an edit: only what changed.

The replaced slots are warped again, the cuts on either side of them searched again, and their
segments and their neighbours' placed and joined again; every later segment is moved rigidly on
the floor (placing is equivariant under such moves, and the join's offsets have decayed after a
whole slot), and feet are locked again only where contacts or poses changed. The result equals
``render_dance`` of the edited timeline to rounding.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from musicdance.choreo.render import (
    JOIN_HALFLIFE_MAX,
    Rendered,
    RenderOptions,
    RenderState,
    _aligned,
    _cut_frames,
    _finish,
    _halflives,
    _library_name,
    _Piece,
    _place_segments,
    _warp_pieces,
    find_cut,
    render_dance,
)
from musicdance.choreo.timeline import Timeline
from musicdance.library.phrase import FOOT_POINTS
from musicdance.library.store import PhraseLibrary
from musicdance.motion.analysis import contacts_from_signals, foot_signals
from musicdance.motion.motion import Motion, concatenate, slice_frames
from musicdance.synthesis.blend import floor_move, move_on_floor
from musicdance.synthesis.contacts import LEGS, contact_spans, lock_feet, mask_runs

#: ``rerender`` recomputes segments after a replaced slot until this many join half-lives have
#: passed (the join's offset has then decayed by 2**-32, to a few 1e-9 of its size with the
#: spring's velocity term), at least ``SETTLE_MIN_S`` (which covers the crossfade's blend), and
#: moves the rest rigidly.
SETTLE_HALFLIVES = 16
SETTLE_MIN_S = 0.5


def rerender(
    previous: Rendered,
    timeline: Timeline,
    library: PhraseLibrary,
    options: RenderOptions | None = None,
) -> Rendered:
    """``render_dance(timeline, library, ...)``, derived from ``previous``: a render, with the
    same library and options, of a timeline that differs from ``timeline`` only in the phrases
    of some slots (``replace_phrase``).

    Only the changed slots are warped again, only the cuts on either side of them searched
    again, and only their segments and their neighbours' placed and joined again (adjacent
    changed slots together); every later segment is moved by the rigid floor move (turn about
    +Y, shift on the floor) that the new placement implies, and feet are locked again only
    over the frames whose pose or contacts changed (widened to whole contact runs and their
    releases). The result matches a full render to within rounding (the join offsets a re-render
    skips have decayed to a few 1e-9 of their size). Falls back to ``render_dance`` when
    ``previous`` has no ``state`` or was rendered from other slots, fps, song length, library
    or options.
    """
    options = options or RenderOptions()
    state = previous.state
    changed = _changed_slots(state, timeline, library, options)
    if changed is None:
        return render_dance(timeline, library, options)
    fps = timeline.fps
    index = {piece.slot: k for k, piece in enumerate(state.pieces)}
    changed_pieces = sorted(index[slot] for slot in changed if slot in index)
    ids = timeline.phrase_ids()
    if not changed_pieces:  # nothing changed, or only slots too short to show
        return Rendered(previous.motion, previous.joins, replace(state, phrase_ids=ids))
    pieces = list(state.pieces)
    for piece in _warp_pieces(timeline, library, only=set(changed)):
        pieces[index[piece.slot]] = piece
    joins = list(previous.joins)
    for b in sorted({b for k in changed_pieces for b in (k, k + 1) if 0 < b < len(pieces)}):
        joins[b - 1] = find_cut(pieces[b - 1], pieces[b], options.search_joins, options.halflife_s)
    cuts = _cut_frames(pieces, joins, fps)
    longest = options.halflife_s * JOIN_HALFLIFE_MAX
    settle = math.ceil(max(SETTLE_HALFLIVES * longest, SETTLE_MIN_S) * fps)
    runs = _segment_runs(changed_pieces, cuts, settle)
    halflives = _halflives(joins, options)
    placed, moves = _replace_segments(state.placed, pieces, cuts, runs, options, halflives)
    rendered = replace(state, phrase_ids=ids, pieces=pieces, cuts=cuts, placed=placed, body=placed)
    if options.plant_feet:
        dirty = [(cuts[a] - cuts[0], cuts[b + 1] - cuts[0]) for a, b in runs]
        _relock(state, rendered, dirty, moves)
    return Rendered(_finish(rendered.body, timeline), joins, rendered)


def _changed_slots(
    state: RenderState | None, timeline: Timeline, library: PhraseLibrary, options: RenderOptions
) -> list[int] | None:
    """Indices of the slots whose phrase differs between ``state`` and ``timeline``; None when
    ``state`` is missing or was rendered from other slots, fps, song length, library or
    options."""
    if (
        state is None
        or state.options != options
        or state.fps != timeline.fps
        or state.duration_s != timeline.duration_s
        or state.library != _library_name(library)
        or state.slots != list(timeline.slots)
        or not state.pieces
    ):
        return None
    pairs = zip(timeline.slots, state.phrase_ids, timeline.phrase_ids(), strict=True)
    return [slot.index for slot, old, new in pairs if old != new]


def _segment_runs(changed: list[int], cuts: list[int], settle: int) -> list[tuple[int, int]]:
    """First and last segment of each run a re-render places again: each changed piece's and
    its neighbours', then on until ``settle`` frames after the last changed piece's segment;
    runs that meet are merged. ``changed``: piece indices, ascending."""
    count = len(cuts) - 1
    runs: list[tuple[int, int]] = []
    for k in changed:
        first, last = max(k - 1, 0), min(k + 1, count - 1)
        while last + 1 < count and cuts[last + 1] - cuts[k + 1] < settle:
            last += 1
        if runs and first <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(runs[-1][1], last))
        else:
            runs.append((first, last))
    return runs


_Move = tuple[int, int, float, np.ndarray]  # body frames [start, stop), turn_rad, shift_m


def _replace_segments(
    old: Motion,
    pieces: list[_Piece],
    cuts: list[int],
    runs: list[tuple[int, int]],
    options: RenderOptions,
    halflives: list[float],
) -> tuple[Motion, list[_Move]]:
    """The placed body with each run's segments placed and joined again and the frames after
    a run (to the next) moved like the run's end moved; and those moves. ``old``: the previous
    placed body (the runs' first and last cuts are where they were)."""
    placed = _copy(old)
    first = cuts[0]
    moves: list[_Move] = []

    def segment(k: int) -> Motion:
        return slice_frames(placed, cuts[k] - first, cuts[k + 1] - first)

    for i, (a, b) in enumerate(runs):
        before = segment(a - 1) if a > 0 else None
        continuation = None
        if options.join == "crossfade" and a > 0:
            whole = _aligned(pieces[a - 1], cuts[a - 1], segment(a - 2) if a > 1 else None)
            continuation = slice_frames(whole, cuts[a] - pieces[a - 1].lo)
        fresh = concatenate(
            _place_segments(
                pieces[a : b + 1],
                cuts[a : b + 2],
                options,
                halflives[a : b + 1],
                before,
                continuation,
            )  # fmt: skip
        )
        start, stop = cuts[a] - first, cuts[b + 1] - first
        end = cuts[runs[i + 1][0]] - first if i + 1 < len(runs) else placed.num_frames
        turn, shift = floor_move(
            old.root_positions_m[stop - 1],
            old.rotations[stop - 1, 0],
            fresh.root_positions_m[-1],
            fresh.rotations[-1, 0],
        )
        _write(placed, start, fresh)
        if stop < end:
            _write(placed, stop, move_on_floor(slice_frames(old, stop, end), turn, shift))
            moves.append((stop, end, turn, shift))
    return placed, moves


def _relock(
    old: RenderState, new: RenderState, dirty: list[tuple[int, int]], moves: list[_Move]
) -> None:
    """Foot locking of ``new.placed`` from ``old``'s: contacts over the whole body from foot
    signals recomputed only around the ``dirty`` (re-placed) frames, each leg solved again
    only where poses or its contacts changed (widened to the contact runs and releases that
    reach there); elsewhere ``old.body`` moved like ``old.placed`` was (``moves``). Sets
    ``new``'s body, heights_m, speeds_mps and contacts."""
    heights, speeds = _spliced_signals(old, new.placed, dirty)
    contacts = contacts_from_signals(heights, speeds, FOOT_POINTS)
    changed = np.zeros(len(contacts), dtype=bool)
    for start, stop in dirty:
        changed[start:stop] = True
    redo = np.stack(
        [
            _widen(
                changed | (contacts[:, side] != old.contacts[:, side]),
                contact_spans(old.contacts[:, side], new.fps)
                + contact_spans(contacts[:, side], new.fps),
            )
            for side in range(len(LEGS))
        ],
        axis=1,
    )
    body = _copy(old.body)
    for start, stop, turn, shift in moves:
        _write(body, start, move_on_floor(slice_frames(old.body, start, stop), turn, shift))
    for start, stop in dirty:
        _write(body, start, slice_frames(new.placed, start, stop))
    _lock_legs(body, new.placed, contacts, redo)
    new.body, new.heights_m, new.speeds_mps, new.contacts = body, heights, speeds, contacts


def _spliced_signals(
    old: RenderState, placed: Motion, dirty: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """``foot_signals`` of ``placed``: ``old``'s (unchanged by rigid moves on the floor), and
    recomputed over the ``dirty`` frames and one frame either side (central differences)."""
    total = placed.num_frames
    heights, speeds = old.heights_m.copy(), old.speeds_mps.copy()
    for start, stop in dirty:
        low, high = max(start - 2, 0), min(stop + 2, total)
        positions = slice_frames(placed, low, high).global_positions()
        window = foot_signals(positions, placed.fps, FOOT_POINTS)
        keep = slice(low if low == 0 else low + 1, high if high == total else high - 1)
        heights[keep] = window[0][keep.start - low : keep.stop - low]
        speeds[keep] = window[1][keep.start - low : keep.stop - low]
    return heights, speeds


def _lock_legs(body: Motion, placed: Motion, contacts: np.ndarray, redo: np.ndarray) -> None:
    """Lock each leg of ``body`` (in place) from ``placed`` and ``contacts [T, 2]`` over the
    frames ``redo [T, 2]`` marks for it (whole contact spans), one forward-kinematics pass
    per stretch."""
    skeleton = placed.skeleton
    for start, stop in mask_runs(redo.any(axis=1)):
        window = slice_frames(placed, start, stop)
        positions, rotations = window.global_transforms()
        for side, names in enumerate(LEGS):
            joints = [skeleton.index(name) for name in names]
            for a, b in mask_runs(redo[start:stop, side]):
                alone = np.zeros((b - a, len(LEGS)), dtype=bool)  # the other leg stays free
                alone[:, side] = contacts[start + a : start + b, side]
                part = slice_frames(window, a, b)
                locked = lock_feet(part, alone, transforms=(positions[a:b], rotations[a:b]))
                body.rotations[start + a : start + b, joints] = locked.rotations[:, joints]


def _widen(mask: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """``mask [T]`` grown until every span (``[start, stop)``) it touches lies inside it."""
    if not spans:
        return mask
    starts, stops = np.asarray(spans, dtype=np.int64).T
    mask = mask.copy()
    while True:
        counts = np.concatenate([[0], np.cumsum(mask)])
        inside = counts[stops] - counts[starts]
        grow = np.flatnonzero((inside > 0) & (inside < stops - starts))
        if not len(grow):
            return mask
        for k in grow:
            mask[starts[k] : stops[k]] = True


def _copy(motion: Motion) -> Motion:
    """``motion`` with its own arrays."""
    return slice_frames(motion, 0)


def _write(target: Motion, start: int, part: Motion) -> None:
    """Overwrite ``target``'s frames from ``start`` with ``part``'s, in place."""
    frames = slice(start, start + part.num_frames)
    target.root_positions_m[frames] = part.root_positions_m
    target.rotations[frames] = part.rotations
    if target.local_translations_m is not None and part.local_translations_m is not None:
        target.local_translations_m[frames] = part.local_translations_m
