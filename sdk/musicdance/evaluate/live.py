"""Live against offline: how a dance made while the music played compares with the dance made
from the whole song (the same library, style and seed), measured by the same code.

Beats of reference are the song's exact beats when known (generated songs), else the offline
analysis' beats. Beat lock: the first time ``t`` (on a 0.5 s grid) from which the beats the live
tracker declared reach an F-measure of at least ``LOCK_F_MEASURE`` over the next ``LOCK_SPAN_S``.
"""

from __future__ import annotations

import numpy as np

from musicdance.audio.online import beat_f_measure
from musicdance.evaluate.metrics import beat_alignment, join_peaks
from musicdance.motion.motion import Motion, slice_frames

__all__ = [
    "LOCK_F_MEASURE",
    "LOCK_SPAN_S",
    "beat_lock_s",
    "dance_figures",
    "live_figures",
    "repeat_figures",
]

LOCK_F_MEASURE = 0.8
LOCK_SPAN_S = 10.0


def beat_lock_s(
    declared_s: np.ndarray, reference_s: np.ndarray, *, after_s: float = 0.0, step_s: float = 0.5
) -> float | None:
    """Seconds from ``after_s`` to the first window start from which the declared beats reach
    ``LOCK_F_MEASURE`` over ``LOCK_SPAN_S`` (None if never)."""
    declared = np.asarray(declared_s, dtype=float)
    reference = np.asarray(reference_s, dtype=float)
    if len(reference) == 0:
        return None
    for start in np.arange(after_s, reference[-1] - LOCK_SPAN_S + step_s, step_s):
        window = (start, start + LOCK_SPAN_S)
        ours = declared[(declared >= window[0]) & (declared < window[1])]
        theirs = reference[(reference >= window[0]) & (reference < window[1])]
        if len(theirs) and beat_f_measure(ours, theirs) >= LOCK_F_MEASURE:
            return float(start - after_s)
    return None


def dance_figures(motion: Motion, beats_s: np.ndarray, cuts_s: list[float]) -> dict:
    """BAS with its half-beat control and the worst join against the phrases' own peaks."""
    alignment = beat_alignment(motion, np.asarray(beats_s, dtype=float))
    joins = join_peaks(motion, cuts_s)
    return {
        "beat_align_score": round(alignment["beat_align_score"], 4),
        "beat_align_score_control": round(alignment["beat_align_score_control"], 4),
        "bas_margin": round(
            alignment["beat_align_score"] - alignment["beat_align_score_control"], 4
        ),
        "worst_join_ratio": round(float(joins.get("worst_ratio", float("nan"))), 4),
        "joins": int(joins.get("joins", 0)),
    }


def live_figures(
    live_motion: Motion,
    declared_beats_s: np.ndarray,
    live_cuts_s: list[float],
    reference_beats_s: np.ndarray,
    *,
    offline_motion: Motion | None = None,
    offline_cuts_s: list[float] | None = None,
    locked_at_s: float | None = None,
) -> dict:
    """The live dance's figures (and the offline dance's, when given), measured after the
    live tracker locked (the idle groove before it is not choreography)."""
    reference = np.asarray(reference_beats_s, dtype=float)
    declared = np.asarray(declared_beats_s, dtype=float)
    out = {
        "beat_f_measure": round(beat_f_measure(declared, reference), 4),
        "beat_lock_s": beat_lock_s(declared, reference),
        "tracker_locked_at_s": locked_at_s,
    }
    start = live_cuts_s[0] if live_cuts_s else 0.0
    out["live"] = dance_figures(_from(live_motion, start), reference - start,
                                [c - start for c in live_cuts_s[1:]])  # fmt: skip
    if offline_motion is not None:
        cuts = [c - start for c in (offline_cuts_s or []) if c > start]
        out["offline"] = dance_figures(_from(offline_motion, start), reference - start, cuts)
        live_margin, offline_margin = out["live"]["bas_margin"], out["offline"]["bas_margin"]
        out["bas_margin_ratio"] = (
            round(live_margin / offline_margin, 4) if offline_margin > 1e-9 else None
        )
    return out


def _from(motion: Motion, start_s: float) -> Motion:
    return slice_frames(motion, int(round(start_s * motion.fps)))


def repeat_figures(choices: list[dict], sections, eight_s: float) -> dict:
    """Repeated music danced with repeated phrases, judged by the offline analysis' sections.

    ``choices``: the live session's non-idle choices (``LiveChoice.to_json``); ``sections``:
    the offline ``Analysis.sections``; ``eight_s``: the length of one eight (s). An eight is
    *eligible* when an earlier section with the same label covers the same offset from its
    start (its *twin*: the live eight starting there, within half an eight). Returns the
    eligible eights, how many of them got their twin's phrase, the eights the session marked as
    repeats (``repeat_of``) and how many of those were eligible and got their twin's phrase."""
    starts = np.array([c["start_s"] for c in choices], dtype=float)
    eligible = as_twin = repeats = repeats_at_offline = 0
    for c in choices:
        t = c["start_s"] + 0.25 * eight_s  # an eight a little early still belongs to the section
        here = [k for k, s in enumerate(sections) if s.start_s <= t < s.end_s]
        twin = None
        if here:
            section = sections[here[0]]
            offset = c["start_s"] - section.start_s
            long_enough = offset + 0.5 * eight_s
            earlier = [
                s for s in sections[: here[0]]
                if s.label == section.label and s.end_s - s.start_s > long_enough
            ]  # fmt: skip
            if earlier:
                twin_s = earlier[-1].start_s + offset
                near = np.flatnonzero(np.abs(starts - twin_s) < 0.5 * eight_s)
                twin = choices[int(near[0])] if len(near) else None
        same = twin is not None and twin["phrase_id"] == c["phrase_id"]
        eligible += twin is not None
        as_twin += same
        if c.get("repeat_of") is not None:
            repeats += 1
            repeats_at_offline += same
    return {"eligible": eligible, "danced_as_twin": as_twin, "repeats": repeats,
            "repeats_at_offline_repeats": repeats_at_offline, "eights": len(choices)}  # fmt: skip
