"""Rendering a timeline into one animation as long as the song.

Each slot's phrase is time-warped so that its counts land on the slot's beats (its end lands
where the next slot starts), turned and moved on the floor to continue from where the dancer
stands and faces, and joined with inertialization; planted feet are then pinned with
leg IK while in contact. Before the first slot and after the last
the dancer holds the first and last pose.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from musicdance.choreo.slots import Slot
from musicdance.choreo.timeline import Timeline
from musicdance.library.phrase import Phrase, detect_contacts
from musicdance.library.store import PhraseLibrary
from musicdance.motion.motion import Motion, concatenate
from musicdance.synthesis.blend import align_root, crossfade, heading, inertialize
from musicdance.synthesis.contacts import lock_feet
from musicdance.synthesis.timewarp import time_warp

JOIN_HALFLIFE_S = 0.12
JOINS = ("inertialize", "crossfade")


def _frame(time_s: float, fps: float) -> int:
    """First output frame at or after ``time_s``."""
    return math.ceil(time_s * fps - 1e-6)


def source_count_frames(phrase: Phrase, num_counts: int) -> np.ndarray:
    """``[num_counts + 1]`` phrase frames to show on a slot's beats and at its end: the
    phrase's counts, then its end, then further counts at its spacing if the slot is longer
    (frames past the end hold the last pose)."""
    counts = np.asarray(phrase.info.count_frames, dtype=float)
    spacing = float(np.median(np.diff(counts))) if len(counts) > 1 else phrase.info.fps / 2
    knots = np.append(counts, max(float(phrase.info.num_frames), counts[-1] + 1.0))
    if len(knots) < num_counts + 1:
        knots = np.concatenate(
            [knots, knots[-1] + spacing * np.arange(1, num_counts + 2 - len(knots))]
        )
    return knots[: num_counts + 1]


def warp_slot(phrase: Phrase, slot: Slot, fps: float) -> Motion | None:
    """The phrase resampled at ``fps`` over the slot's frames, counts on the beats."""
    first, stop = _frame(slot.start_s, fps), _frame(slot.end_s, fps)
    if stop <= first:
        return None
    source = source_count_frames(phrase, slot.num_counts)
    targets = np.append(np.asarray(slot.beat_times_s, dtype=float), slot.end_s)
    return time_warp(
        phrase.motion, source, targets, fps=fps, start_s=first / fps, stop_s=stop / fps
    )


def render_timeline(
    timeline: Timeline,
    library: PhraseLibrary,
    *,
    halflife_s: float = JOIN_HALFLIFE_S,
    join: str = "inertialize",
    plant_feet: bool = True,
) -> Motion:
    """One motion covering the whole song at ``timeline.fps``.

    join: ``"inertialize"`` (default) or ``"crossfade"``, the paper's linear blend, kept as the
    baseline the benchmark compares against. plant_feet: pin each foot while it is in contact
    (contact-aware correction), so joins and time warping do not make feet slide.
    """
    if join not in JOINS:
        raise ValueError(f"join must be one of {JOINS}, got {join!r}")
    fps = timeline.fps
    cache: dict[str, Phrase] = {}
    segments: list[Motion] = []
    for slot, phrase_id in zip(timeline.slots, timeline.phrase_ids(), strict=True):
        if phrase_id not in cache:
            cache[phrase_id] = library.get(phrase_id)
        segment = warp_slot(cache[phrase_id], slot, fps)
        if segment is None:
            continue
        if segments:
            previous = segments[-1]
            segment = align_root(
                segment, previous.root_positions_m[-1], float(heading(previous.rotations[-1, 0]))
            )
            if join == "inertialize":
                segment = inertialize(previous, segment, halflife_s)
            else:
                segment = crossfade(previous, segment)
        segments.append(segment)
    body = concatenate(segments)
    if plant_feet:
        transforms = body.global_transforms()  # one forward-kinematics pass serves both
        body = lock_feet(body, detect_contacts(body, transforms[0]), transforms=transforms)
    first = _frame(timeline.slots[0].start_s, fps)
    total = int(math.floor(timeline.duration_s * fps + 1e-6)) + 1
    after = max(total - first - body.num_frames, 0)
    return _pad(body, before=first, after=after, total=total)


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
