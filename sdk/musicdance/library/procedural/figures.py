"""Moves written as data: footwork phrases, an arm line and body accents, put together.

A ``Figure`` is one move of the starter library as a table: a tuple of footwork pieces (each
a small function of the energy that places ``Step``s from a given beat, e.g. ``step_touch(0)``,
``turn(4, 4, 360)``), an arm line written as text (one token per count, ``left/right`` or one
pose name for both arms, ``a|b`` for a choice made with the phrase's seed, ``.`` for no new
key), and torso, head, pelvis, level and sway keys. A ``Flavor`` holds what a style adds to all
of its moves (groove, depth, sharpness, arm size). ``Figure.move(flavor)`` is a move function
``(Energy, rng) -> Choreo`` like the hand-written ones in ``styles``.

Coordinates as in ``styles``: metres, the dancer starts at the origin facing +Z with the left
foot at ``+STANCE_HALF_WIDTH_M`` on X; beats count from 0 (count 1). Headings in degrees,
positive turning towards the dancer's left (+X), so a right turn is negative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from musicdance.library.procedural.routine import (
    SETTLE_IN_BEATS,
    STANCE_HALF_WIDTH_M,
    TURNOUT_DEG,
    Choreo,
    Step,
)

W = STANCE_HALF_WIDTH_M
LEFT, RIGHT = 0, 1
#: Footwork piece: energy -> (steps, heading keys ``(beat, heading_deg)``).
Feet = Callable[["object"], tuple[list[Step], list[tuple[float, float]]]]


def side_of(foot: int) -> float:
    """+1 for the left foot (towards +X), -1 for the right."""
    return 1.0 if foot == LEFT else -1.0


def other(foot: int) -> int:
    return RIGHT if foot == LEFT else LEFT


def place(
    foot: int,
    dx: float = 0.0,
    dz: float = 0.0,
    heading: float = 0.0,
    centre: tuple[float, float] = (0.0, 0.0),
) -> tuple[float, float]:
    """Floor position of ``foot`` moved ``dx`` to the dancer's left and ``dz`` forward, in the
    frame of a dancer at ``centre`` facing ``heading``."""  # fmt: skip
    x, z = side_of(foot) * W + dx, dz
    h = np.radians(heading)
    return (
        float(centre[0] + np.cos(h) * x + np.sin(h) * z),
        float(centre[1] - np.sin(h) * x + np.cos(h) * z),
    )


def _step(foot: int, land: float, to: tuple[float, float], e, *, swing: float = 0.5,
          lift: float = 1.0, weight: bool = True, yaw: float | None = None,
          apex: tuple[float, float] = (0.0, 0.0)) -> Step:  # fmt: skip
    return Step(foot, land - swing, land, to, yaw_deg=yaw, lift_m=lift * e.lift,
                apex_xz_m=apex, weight=weight)  # fmt: skip


# -- footwork pieces ------------------------------------------------------------------------------


def step_touch(
    at: float, foot: int = RIGHT, size: float = 0.28, swing: float = 0.5, heading: float = 0.0
) -> Feet:
    """Four counts: ``foot`` steps out (1), the other touches in (2), back (3), touch (4)."""

    def feet(e):
        d = side_of(foot) * size * e.step
        o = other(foot)
        h = heading
        return [
            _step(foot, at + 1, place(foot, d, heading=h), e, swing=swing),
            _step(o, at + 2, place(o, d, heading=h), e, swing=swing, weight=False),
            _step(o, at + 3, place(o, heading=h), e, swing=swing),
            _step(foot, at + 4, place(foot, heading=h), e, swing=swing, weight=False),
        ], []

    return feet


def walk(
    at: float,
    path: list[tuple[int, float, float]],
    every: float = 1.0,
    swing: float = 0.8,
    lift: float = 1.0,
    heading: float = 0.0,
) -> Feet:
    """One step per ``every`` beats from ``at``: ``(foot, dx, dz)`` scaled by the step size;
    a ``dz`` or ``dx`` of 0 is the foot's own place."""  # fmt: skip

    def feet(e):
        return [
            _step(f, at + every * (k + 1), place(f, dx * e.step, dz * e.step, heading), e,
                  swing=swing * every, lift=lift)
            for k, (f, dx, dz) in enumerate(path)
        ], []  # fmt: skip

    return feet


def taps(at: float, path: list[tuple[int, float, float]], every: float = 1.0) -> Feet:
    """A touch out without weight, then back home, ``every`` beats each: ``(foot, dx, dz)``."""

    def feet(e):
        steps = []
        for k, (f, dx, dz) in enumerate(path):
            b = at + 2 * every * k
            steps += [
                _step(f, b + every, place(f, dx * e.step, dz * e.step), e, swing=0.5 * every,
                      weight=False),
                _step(f, b + 2 * every, place(f), e, swing=0.5 * every, weight=False),
            ]  # fmt: skip
        return steps, []

    return feet


def kick_ball_change(at: float, foot: int = RIGHT, height: float = 0.2) -> Feet:
    """Two counts: kick ``foot`` forward (1), ball-change on "and-2"."""

    def feet(e):
        o = other(foot)
        return [
            Step(foot, at + 0.3, at + 1.0, place(foot, 0.0, -0.1), lift_m=height + e.lift,
                 apex_xz_m=(0.0, 0.32 * e.step)),
            _step(o, at + 1.5, place(o), e, swing=0.3),
            _step(foot, at + 2.0, place(foot), e, swing=0.35),
        ], []  # fmt: skip

    return feet


def kick(at: float, foot: int, height: float = 0.3, reach: float = 0.4, side: float = 0.0) -> Feet:
    """Two counts: kick ``foot`` out on 1 and put it back on 2 (no weight change)."""

    def feet(e):
        return [
            Step(foot, at + 0.3, at + 1.9, place(foot), lift_m=height + 0.1 * e.level,
                 apex_xz_m=(side_of(foot) * side * e.step, reach * e.step), weight=False),
        ], []  # fmt: skip

    return feet


def knee(at: float, foot: int, height: float = 0.3, counts: float = 1.0) -> Feet:
    """A knee lift of ``foot``, down again ``counts`` later."""

    def feet(e):
        return [
            Step(foot, at + 0.2, at + counts, place(foot), lift_m=height + 0.1 * e.level,
                 apex_xz_m=(0.0, 0.15)),
        ], []  # fmt: skip

    return feet


def chasse(at: float, foot: int = RIGHT, size: float = 0.18) -> Feet:
    """Two counts travelling towards ``foot``'s side: step (1), close (and), step (2)."""

    def feet(e):
        d = side_of(foot) * size * e.step
        o = other(foot)
        return [
            _step(foot, at + 0.9, place(foot, d), e, swing=0.55),
            _step(o, at + 1.45, place(o, d), e, swing=0.3),
            _step(foot, at + 2.0, place(foot, 2 * d), e, swing=0.4),
        ], []

    return feet


def square(at: float, foot: int = RIGHT, size: float = 0.2) -> Feet:
    """Four counts of a jazz square: ``foot`` crosses over (1), the other steps back (2), side
    (3), together (4)."""

    def feet(e):
        o = other(foot)
        s = size * e.step
        return [
            _step(foot, at + 1, place(o, -side_of(o) * 0.05, 0.2), e),
            _step(o, at + 2, place(o, 0.03 * side_of(o), -s), e),
            _step(foot, at + 3, place(foot, side_of(foot) * 0.12, -0.5 * s), e),
            _step(o, at + 3.8, place(o), e, swing=0.4),
            _step(foot, at + 4, place(foot), e, swing=0.15, lift=0.3, weight=False),
        ], []

    return feet


def lunge(at: float, foot: int, dx: float, dz: float, counts: float = 2.0) -> Feet:
    """Step ``foot`` out into a lunge on the count after ``at``, back in ``counts`` later."""

    def feet(e):
        to = place(foot, side_of(foot) * dx * e.step, dz * e.step)
        return [
            _step(foot, at + 1, to, e, swing=0.7),
            _step(foot, at + 1 + counts, place(foot), e, swing=0.7),
        ], []

    return feet


def turn(
    at: float,
    counts: float,
    degrees: float,
    first: int | None = None,
    start_heading: float = 0.0,
    per_beat: float = 2.0,
    spread: float = 0.0,
    pause: bool = True,
) -> Feet:
    """A stepping turn of ``degrees`` over ``counts`` beats from ``at``: the feet step round
    the body, alternating, ``per_beat`` steps a beat, each landing turned further (the
    planted foot never twists on the floor). ``spread``: extra stance width, metres.
    ``pause``: the body pauses as each foot lands; ``False``: one steady spin."""  # fmt: skip

    def feet(e):
        n = max(int(round(counts * per_beat)), 2)
        lead = first if first is not None else (RIGHT if degrees < 0 else LEFT)
        steps, keys = [], [(at + 0.25 * counts / n, start_heading)]
        for k in range(n):
            foot = lead if k % 2 == 0 else other(lead)
            land = at + (k + 1) * counts / n
            heading = start_heading + degrees * (k + 1) / n
            to = place(foot, side_of(foot) * spread, 0.0, heading)
            yaw = heading + side_of(foot) * TURNOUT_DEG
            steps.append(_step(foot, land, to, e, swing=0.75 * counts / n, lift=0.8, yaw=yaw))
            # The body turns while the foot swings and pauses as it lands (still on the
            # counts, like every other step).
            if pause or k + 1 == n:
                keys.append((land - 0.1 * counts / n, heading))
            if pause and k + 1 < n:
                keys.append((land + 0.2 * counts / n, heading))
        return steps, keys

    return feet


def box(
    at: float,
    size: float = 0.26,
    width: float = 0.25,
    degrees: float = 0.0,
    start_heading: float = 0.0,
    swing: float = 0.85,
) -> Feet:
    """Six counts of a waltz box: left forward, right side, close; right back, left side,
    close; turning ``degrees`` spread over the steps (a natural turn turns right, negative).
    Each step lands on the next count (the weight arrives on the beat, as ``walk``'s do)."""

    def feet(e):
        s, w = size * e.step, width
        figure = [(LEFT, 0.0, s), (RIGHT, -w, s), (LEFT, -w + 0.02, s),
                  (RIGHT, -w, 0.0), (LEFT, 0.0, 0.0), (RIGHT, 0.0, 0.0)]  # fmt: skip
        steps, keys = [], [(at, start_heading)]
        for k, (foot, dx, dz) in enumerate(figure):
            heading = start_heading + degrees * min(k + 1, 4) / 4
            to = place(foot, dx, dz, heading)
            lift = 0.9 if k % 3 != 2 else 0.6
            steps.append(_step(foot, at + k + 1, to, e, swing=swing, lift=lift))
            keys += [(at + k + 0.9, heading), (at + k + 1.15, heading)]
        return steps, keys

    return feet


# -- body accents ---------------------------------------------------------------------------------


def alternate(
    a: tuple,
    b: tuple,
    start: float = 1.0,
    stop: float = 7.0,
    every: float = 1.0,
    end: tuple | None = (0.0, 0.0, 0.0),
    counts: int = 8,
) -> list:
    """Keys alternating between ``a`` and ``b`` every ``every`` beats from ``start`` to
    ``stop``, then back to ``end`` on the last count (``None``: no end key)."""  # fmt: skip
    beats = np.arange(start, stop + 1e-9, every)
    keys = [(float(x), a if k % 2 == 0 else b) for k, x in enumerate(beats)]
    return keys + ([(float(counts), end)] if end is not None else [])


# -- figures --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flavor:
    """What a style adds to every figure: groove (see ``Choreo``), groove depth at energy
    factor 1, arm size, sharpness (a factor on the energy's hold), hip twist, limits and the
    arms' anticipation and follow-through (``Choreo.anticipation``) and how long the body
    takes to leave the boundary pose and its anticipation to grow in (``Choreo.settle_in_beats``,
    ``anticipation_in_beats``)."""

    groove: str = "down"
    depth_m: float = 0.09
    amp: float = 1.0
    sharp: float = 1.0
    twist_deg: float = 6.0
    max_speed_mps: float = 3.2
    max_accel_mps2: float = 40.0
    nod_deg: float = 8.0
    anticipation: float = 0.2
    settle_in_beats: float = SETTLE_IN_BEATS
    anticipation_in_beats: float = 0.0


@dataclass(frozen=True)
class Figure:
    """One move as data (see the module docstring)."""

    doc: str
    feet: tuple
    arms: str
    arms_start: float = 1.0
    arms_every: float = 1.0
    torso: list = field(default_factory=list)
    head: list | None = None
    pelvis: list = field(default_factory=list)
    levels: list = field(default_factory=list)
    sway: list = field(default_factory=list)
    counts: int = 8
    meter: int = 4
    amp: float = 1.0
    sharp: float = 1.0

    def move(self, flavor: Flavor) -> Callable:
        """The move function ``(Energy, rng) -> Choreo`` of this figure in ``flavor``."""

        def build(e, rng: np.random.Generator) -> Choreo:
            steps, turn_keys = [], []
            for piece in self.feet:
                s, k = piece(e)
                steps += s
                turn_keys += k
            last = self.counts - 0.05
            for s in steps:
                s.end = min(s.end, last)
                s.start = min(s.start, s.end - 0.15)
            head = self.head if self.head is not None else _nods(self.counts, flavor.nod_deg)
            return Choreo(
                counts=self.counts,
                meter=self.meter,
                steps=steps,
                arms=arm_line(self.arms, rng, self.arms_start, self.arms_every, self.counts),
                arm_hold=min(0.9, flavor.sharp * self.sharp * e.hold),
                torso=list(self.torso),
                pelvis=list(self.pelvis),
                head=list(head),
                body_hold=min(0.8, 0.3 * flavor.sharp * self.sharp),
                levels=[(b, v * (0.6 + 0.5 * e.level)) for b, v in self.levels],
                sway=[(b, (x * e.step, z * e.step)) for b, (x, z) in self.sway],
                turn=_turn_keys(turn_keys),
                groove=flavor.groove,
                groove_depth_m=flavor.depth_m * e.depth,
                arm_amplitude=flavor.amp * self.amp * e.amp,
                max_speed_mps=flavor.max_speed_mps,
                max_accel_mps2=flavor.max_accel_mps2,
                anticipation=flavor.anticipation,
                hip_twist_deg=flavor.twist_deg,
                settle_in_beats=flavor.settle_in_beats,
                anticipation_in_beats=flavor.anticipation_in_beats,
            )

        build.__doc__ = self.doc
        return build


def _turn_keys(keys: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Heading keys sorted, with repeated beats dropped (the later piece wins)."""
    out: dict[float, float] = {}
    for beat, heading in sorted(keys, key=lambda k: k[0]):
        out[round(beat, 6)] = heading
    return sorted(out.items())


def _nods(counts: int, pitch: float) -> list:
    beats = np.arange(0.0, counts + 1e-9, 0.5)
    return [(float(b), (pitch if k % 2 == 0 else -0.3 * pitch, 0.0, 0.0))
            for k, b in enumerate(beats)]  # fmt: skip


def arm_line(
    text: str, rng: np.random.Generator, start: float = 1.0, every: float = 1.0, counts: int = 8
) -> list[tuple[float, str, str]]:
    """Arm keys from text: whitespace-separated tokens one ``every`` beats from ``start``;
    ``left/right`` or one pose for both arms, ``a|b`` a seeded choice, ``.`` no key. The
    phrase starts and ends with the arms at rest."""  # fmt: skip
    keys = [(0.0, "rest", "rest")]
    for k, token in enumerate(text.split()):
        beat = start + every * k
        if token == "." or not 0.0 < beat < counts:
            continue
        choices = token.split("|")
        token = choices[int(rng.integers(len(choices)))] if len(choices) > 1 else token
        left, _, right = token.partition("/")
        keys.append((beat, left, right or left))
    return keys + [(float(counts), "rest", "rest")]
