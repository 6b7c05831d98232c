"""Incremental re-rendering after an edit: ``rerender`` gives the motion of a full render of the
edited timeline while warping, cutting and foot-locking only around the replaced slots."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from runtime_support import runtime

import mdruntime.runtime as runtime_module
import musicdance.choreo.render as render
import musicdance.choreo.rerender as rerender_module
from mdruntime import parse_timeline
from musicdance.audio.analysis import analyze
from musicdance.audio.synth import synth_song, write_song
from musicdance.choreo.choreographer import alternatives, choreograph, replace_phrase
from musicdance.choreo.render import Rendered, RenderOptions, render_dance
from musicdance.choreo.rerender import rerender
from musicdance.choreo.timeline import Timeline
from musicdance.library import open_library
from musicdance.synthesis.contacts import LEGS

STARTER = REPO / "phrase_library"
#: Largest difference (m) allowed between a re-render and a full render.
TOLERANCE_M = 1e-6


@pytest.fixture(scope="module")
def library():
    return open_library(STARTER)


@pytest.fixture(scope="module")
def timeline(tmp_path_factory, library) -> Timeline:
    y, _ = synth_song("pop", bpm=112.0, seed=11, duration_s=50.0)
    song: Path = write_song(tmp_path_factory.mktemp("song") / "pop112.wav", y, sr_hz=22050)
    return choreograph(analyze(song), library, seed=3)


@pytest.fixture(scope="module")
def rendered(timeline, library) -> Rendered:
    return render_dance(timeline, library)


def _edit(timeline: Timeline, library, slots: list[int]) -> Timeline:
    """``timeline`` with another phrase (its best-ranked alternative) in each of ``slots``."""
    for slot in slots:
        ranked = alternatives(timeline, library, slot, top_k=5)
        other = next(r["phrase_id"] for r in ranked if not r["current"])
        timeline = replace_phrase(timeline, library, slot, other)
    return timeline


def _assert_same(ours: Rendered, full: Rendered) -> None:
    """Same motion (global joint and root positions, rotations) and the same joins."""
    assert ours.motion.num_frames == full.motion.num_frames
    positions = np.abs(ours.motion.global_positions() - full.motion.global_positions()).max()
    root = np.abs(ours.motion.root_positions_m - full.motion.root_positions_m).max()
    assert positions <= TOLERANCE_M and root <= TOLERANCE_M, (positions, root)
    assert [j.to_json() for j in ours.joins] == [j.to_json() for j in full.joins]


class _Work:
    """Counts what a render does: slots warped, cuts searched, frames foot-locked."""

    def __init__(self, monkeypatch) -> None:
        self.warped, self.cuts, self.locked = [], 0, 0
        warp, cut, lock = render.warp_slot, render.find_cut, render.lock_feet

        def warp_slot(phrase, slot, fps, **kwargs):
            self.warped.append(slot.index)
            return warp(phrase, slot, fps, **kwargs)

        def find_cut(before, after, search=True, *args):
            self.cuts += 1
            return cut(before, after, search, *args)

        def lock_feet(motion, contacts, *args, **kwargs):
            self.locked += motion.num_frames * int(np.any(contacts, axis=0).sum())  # leg-frames
            return lock(motion, contacts, *args, **kwargs)

        monkeypatch.setattr(render, "warp_slot", warp_slot)
        for module in (render, rerender_module):  # full renders and re-renders
            monkeypatch.setattr(module, "find_cut", find_cut)
            monkeypatch.setattr(module, "lock_feet", lock_feet)


def _slots(count: int, case: str) -> list[int]:
    middle = count // 2
    return {
        "first": [0],
        "middle": [middle],
        "last": [count - 1],
        "two adjacent": [middle, middle + 1],
        "two apart": [1, count - 2],
    }[case]


@pytest.mark.parametrize("case", ["first", "middle", "last", "two adjacent", "two apart"])
def test_rerender_matches_a_full_render_and_does_less(
    case, timeline, library, rendered, monkeypatch
):
    slots = _slots(len(timeline.slots), case)
    edited = _edit(timeline, library, slots)
    full = render_dance(edited, library)
    work = _Work(monkeypatch)
    ours = rerender(rendered, edited, library)
    _assert_same(ours, full)
    assert sorted(work.warped) == slots  # only the replaced slots are warped again
    boundaries = {b for s in slots for b in (s, s + 1) if 0 < b < len(timeline.slots)}
    assert work.cuts == len(boundaries)  # only the cuts beside them are searched again
    legs = 2 * rendered.state.body.num_frames
    assert 0 < work.locked < (0.6 if len(slots) > 1 else 0.4) * legs  # feet locked locally
    # a full render does all of it
    work = _Work(monkeypatch)
    render_dance(edited, library)
    assert len(work.warped) == len(timeline.slots) and work.locked == legs


def test_rerender_chains_and_keeps_the_options(timeline, library, rendered):
    count = len(timeline.slots)
    once = _edit(timeline, library, [2])
    twice = _edit(once, library, [count - 3])
    chained = rerender(rerender(rendered, once, library), twice, library)
    _assert_same(chained, render_dance(twice, library))
    for options in (
        {"join": "crossfade"},
        {"plant_feet": False},
        {"search_joins": False},
        {"halflife_s": 0.5},  # slow joins: more segments are placed again before moving rigidly
    ):
        options = RenderOptions(**options)
        before = render_dance(timeline, library, options)
        _assert_same(
            rerender(before, once, library, options), render_dance(once, library, options)
        )


def test_slow_joins_place_more_segments_again(timeline, library):
    cuts = render_dance(timeline, library).state.cuts
    settle = round(2.5 * (cuts[3] - cuts[2]))  # two and a half slots
    runs = rerender_module._segment_runs([2], cuts, settle)
    assert runs[0][0] == 1 and runs[0][1] >= 5
    assert rerender_module._segment_runs([2], cuts, 1) == [(1, 3)]
    assert rerender_module._segment_runs([2, 4], cuts, 1) == [(1, 5)]  # neighbours meet: one run
    assert rerender_module._segment_runs([1, 6], cuts, 1) == [(0, 2), (5, 7)]


def test_rerender_relocks_feet_where_contacts_changed_elsewhere(
    timeline, library, rendered, monkeypatch
):
    """Contacts are detected over the whole dance (the floor is a percentile of it), so an edit
    can change them far from the replaced slot: those frames are foot-locked again. Simulated
    here with a previous render whose contacts and locked legs are wrong in a far stretch."""
    count = len(timeline.slots)
    edited = _edit(timeline, library, [1])
    state = rendered.state
    far = slice(state.cuts[count - 2] - state.cuts[0], state.cuts[count - 1] - state.cuts[0])
    contacts, body = state.contacts.copy(), rerender_module._copy(state.body)
    contacts[far] = ~contacts[far]
    legs = [body.skeleton.index(name) for names in LEGS for name in names]
    body.rotations[far, legs] = body.rotations[far, legs][..., [3, 0, 1, 2]]  # wrong leg poses
    damaged = Rendered(
        rendered.motion, rendered.joins, replace(state, contacts=contacts, body=body)
    )
    work = _Work(monkeypatch)
    ours = rerender(damaged, edited, library)
    _assert_same(ours, render_dance(edited, library))
    assert work.locked >= far.stop - far.start


def test_rerender_falls_back_to_a_full_render(timeline, library, rendered, monkeypatch):
    edited = _edit(timeline, library, [3])
    full = render_dance(edited, library)
    stateless = Rendered(rendered.motion, rendered.joins)
    other_fps = Timeline(**{**edited.__dict__, "fps": 24.0})
    for previous, target, options in (
        (stateless, edited, {}),  # nothing kept
        (rendered, edited, {"join": "crossfade"}),  # other options
        (rendered, other_fps, {}),  # other fps
    ):
        work = _Work(monkeypatch)
        ours = rerender(previous, target, library, RenderOptions(**options))
        assert len(work.warped) == len(timeline.slots)
        if target is edited and not options:
            _assert_same(ours, full)
    assert rerender(rendered, timeline, library).motion is rendered.motion  # nothing changed
    with pytest.raises(ValueError, match="join must be one of"):
        rerender(rendered, edited, library, RenderOptions(join="morph"))


def test_runtime_re_renders_a_replace_from_the_cached_render(timeline, library, monkeypatch):
    """The runtime's replace -> render (in memory, and as the service sees it: timelines sent
    back and forth as JSON) derives the edited dance from the cached render of its source."""
    calls = []

    def rerender_spy(previous, edited, *args, **kwargs):
        calls.append(previous.state is not None)
        return rerender(previous, edited, *args, **kwargs)

    monkeypatch.setattr(runtime_module, "rerender", rerender_spy)
    rt = runtime.__wrapped__()  # a fresh runtime: empty caches
    sent = parse_timeline(json.dumps(timeline.to_json()))
    rt.pose_track(sent)
    other = _edit(sent, library, [2]).phrase_ids()[2]
    edited = parse_timeline(json.dumps(rt.replace(sent, 2, other).to_json()))
    work = _Work(monkeypatch)
    motion = rt.render(edited)
    assert calls == [True] and work.warped == [2]
    full = render_dance(edited, library).motion
    assert np.abs(motion.global_positions() - full.global_positions()).max() <= TOLERANCE_M
    # an edit of the edit, through a session-like chain, stays incremental
    again = rt.replace(edited, 5, _edit(edited, library, [5]).phrase_ids()[5])
    rt.pose_track(again)
    assert calls == [True, True]
    # a timeline nobody edited here renders in full
    rt.render(_edit(sent, library, [4]))
    assert calls == [True, True]
