"""The starter library's dance vocabulary: seven styles, twelve moves each, at any energy.

Each move is a function ``(Energy, rng) -> Choreo`` written for one eight (six counts for the
waltz) that starts and ends in the neutral stance with the arms at rest, so phrases join. The
first four of each style are written out as functions; the other eight are ``Figure`` tables
(``figures``: footwork pieces, an arm line as text, body keys) in the style's ``Flavor``. The
vocabulary follows ``DANCE-NOTES.md``: hip-hop sits in a down-groove, house pulses up, pop is
clean and sharp on the counts, jazz draws long lines and turns, popping hits on 2 and 4,
locking points, locks and freezes, and the waltz rises and falls through box steps and turns.

Coordinates: metres, the dancer starts at the origin facing +Z with the left foot at
``+STANCE_HALF_WIDTH_M`` on X. Beats count from 0 (count 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from musicdance.library.procedural.figures import (
    Figure,
    Flavor,
    alternate,
    box,
    chasse,
    kick,
    kick_ball_change,
    knee,
    lunge,
    step_touch,
    taps,
    turn,
    walk,
)
from musicdance.library.procedural.routine import STANCE_HALF_WIDTH_M, Choreo, Step

W = STANCE_HALF_WIDTH_M
LEFT, RIGHT = 0, 1
#: Arm size of house and pop (the busiest arms): their mean hand speed stays inside the real
#: takes' range (0.91-1.37 m/s, ``benchmarks/bench_library.py``).
HOUSE_ARMS = 0.8
#: House and jazz arms anticipate and follow through half as much as the other styles' (an
#: arm move on most counts: at 0.2 the wind-ups and overshoots took their hands to 1.42 and
#: 1.44 m/s mean, above the takes; smaller arms at that speed dropped the hands too low).
SOFT_ANTICIPATION = 0.1
POP_ARMS = 0.8


@dataclass(frozen=True)
class Energy:
    """How energy (0 calm .. 1 full out) scales a move: amplitude, step size, sharpness."""

    level: float

    @property
    def amp(self) -> float:
        """Arm amplitude (1 = the written pose)."""
        return 0.7 + 0.3 * self.level

    @property
    def step(self) -> float:
        """Step length factor."""
        return 0.45 + 0.4 * self.level

    @property
    def hold(self) -> float:
        """Fraction of each gap the key poses are held (sharpness)."""
        return 0.15 + 0.35 * self.level

    @property
    def lift(self) -> float:
        """Foot lift in metres."""
        return 0.05 + 0.07 * self.level

    @property
    def depth(self) -> float:
        """Groove depth factor."""
        return 0.7 + 0.7 * self.level


def home(foot: int, dx: float = 0.0, dz: float = 0.0) -> tuple[float, float]:
    """A floor position relative to the foot's neutral place (``dx`` towards the figure's left)."""
    return ((W if foot == LEFT else -W) + dx, dz)


def per_count(poses: list[tuple[str, str]], start: float = 0.0, every: float = 1.0) -> list:
    """Arm keys: one ``(left, right)`` pose pair per ``every`` beats from ``start``."""
    return [(start + every * k, left, right) for k, (left, right) in enumerate(poses)]


def closed(keys: list, counts: int) -> list:
    """Arm keys that start and end at rest (beat 0 and beat ``counts``)."""
    keys = [k for k in keys if 0.0 < k[0] < counts]
    return [(0.0, "rest", "rest"), *keys, (float(counts), "rest", "rest")]


def nods(counts: int, pitch: float, every: float = 1.0, offset: float = 0.0) -> list:
    """Head keys nodding down ``pitch`` degrees on each ``every`` beats (from ``offset``)."""
    beats = np.arange(offset, counts + 1e-9, every / 2.0)
    return [
        (float(b), (pitch if k % 2 == 0 else -0.3 * pitch, 0.0, 0.0)) for k, b in enumerate(beats)
    ]


#: The waltz and house leave the boundary pose over half a beat (the other styles over
#: ``SETTLE_IN_BEATS``, 0.2): the waltz's moves are about half as sharp as the others' and
#: house arms loft up from rest on every phrase start, so a 0.2-beat start was the roughest
#: moment at their joins (join jerk ratio 1.41 on a generated waltz, 1.18-1.29 on house).
#: Their arms' anticipation also grows in over the first beat (``Choreo.anticipation_in_beats``)
#: and the arms still leave rest at 0.1 beat: a shorter rise from rest made the waltz's hands
#: the sharpest moment at some joins (worst join 1.10 on a 143-BPM waltz).
LONG_SETTLE_IN_BEATS = 0.5


# -- hip-hop: down-groove, bounce, rocks, step-touch with arm swings and points -----------------


def hiphop_step_touch(e: Energy, rng: np.random.Generator) -> Choreo:
    s = 0.28 * e.step
    steps = []
    for bar in (0, 4):
        steps += [
            Step(RIGHT, bar + 0.5, bar + 1, home(RIGHT, -s), lift_m=e.lift),
            Step(LEFT, bar + 1.5, bar + 2, home(LEFT, -s), lift_m=e.lift, weight=False),
            Step(LEFT, bar + 2.5, bar + 3, home(LEFT), lift_m=e.lift),
            Step(RIGHT, bar + 3.5, bar + 4, home(RIGHT), lift_m=e.lift, weight=False),
        ]
    accent = ["clap", "chest", "punch"][rng.integers(3)]
    arms = per_count(
        [("swing_back", "swing_fwd"), (accent, accent), ("swing_fwd", "swing_back"),
         ("hip", "point_diag"), ("swing_back", "swing_fwd"), (accent, accent),
         ("overhead", "overhead"), ("chest", "chest")],
        start=1.0,
    )  # fmt: skip
    torso = [(b, (6.0 if b % 2 else -2.0, -12.0 if b % 4 < 2 else 12.0, 0.0)) for b in range(9)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=e.hold,
        torso=torso,
        head=nods(8, 10.0),
        groove="down",
        groove_depth_m=0.1 * e.depth,
        arm_amplitude=e.amp,
    )


def hiphop_rock(e: Energy, rng: np.random.Generator) -> Choreo:
    """Wide stance, the weight rocks side to side on every count, chest pumps, punches."""
    s = 0.16 * e.step
    steps = [
        Step(RIGHT, 0.0, 0.5, home(RIGHT, -s), lift_m=e.lift),
        Step(LEFT, 0.5, 1.0, home(LEFT, s), lift_m=e.lift),
        Step(RIGHT, 6.5, 7.0, home(RIGHT), lift_m=e.lift),
        Step(LEFT, 7.5, 7.95, home(LEFT), lift_m=e.lift),
    ]
    sway = [(b, ((0.09 if b % 2 else -0.09) * e.step, 0.0)) for b in range(1, 7)]
    sway = [(0.0, (0.0, 0.0)), *sway, (8.0, (0.0, 0.0))]
    punch = "punch_up" if rng.random() < 0.5 else "punch"
    arms = per_count(
        [("punch", "chest"), ("chest", "punch"), ("punch", "chest"), (punch, "hip"),
         ("chest", "punch"), ("point_diag", "point_diag"), ("clap_high", "clap_high")],
        start=1.0,
    )  # fmt: skip
    torso = [(b, (10.0 if b % 2 else -4.0, 15.0 if b % 2 else -15.0, 0.0)) for b in range(1, 8)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=e.hold,
        torso=[(0.0, (0.0, 0.0, 0.0)), *torso, (8.0, (0.0, 0.0, 0.0))],
        pelvis=[(b, (0.0, -10.0 if b % 2 else 10.0, 0.0)) for b in range(1, 8)],
        sway=sway,
        head=nods(8, 12.0),
        groove="down",
        groove_depth_m=0.11 * e.depth,
        arm_amplitude=e.amp,
    )


def hiphop_kick_ball_change(e: Energy, rng: np.random.Generator) -> Choreo:
    """Kick (1), ball-change (and-2), both sides, then a step-touch with points."""
    kick = (0.0, 0.32 * e.step)
    steps = [
        Step(RIGHT, 0.3, 1.0, home(RIGHT, 0.0, -0.12), lift_m=0.2 + e.lift, apex_xz_m=kick),
        Step(LEFT, 1.2, 1.5, home(LEFT), lift_m=e.lift),
        Step(RIGHT, 1.6, 2.0, home(RIGHT), lift_m=e.lift),
        Step(LEFT, 2.3, 3.0, home(LEFT, 0.0, -0.12), lift_m=0.2 + e.lift, apex_xz_m=kick),
        Step(RIGHT, 3.2, 3.5, home(RIGHT), lift_m=e.lift),
        Step(LEFT, 3.6, 4.0, home(LEFT), lift_m=e.lift),
        Step(RIGHT, 4.5, 5.0, home(RIGHT, -0.25 * e.step), lift_m=e.lift),
        Step(LEFT, 5.5, 6.0, home(LEFT, -0.25 * e.step), lift_m=e.lift, weight=False),
        Step(LEFT, 6.5, 7.0, home(LEFT), lift_m=e.lift),
        Step(RIGHT, 7.5, 7.95, home(RIGHT), lift_m=e.lift, weight=False),
    ]
    arms = per_count(
        [("swing_back", "point_front"), ("clap_high", "clap_high"), ("point_front", "swing_back"),
         ("chest", "chest"), ("hip", "point_diag"), ("clap", "clap"), ("point_diag", "hip"),
         ("v_up", "v_up") if rng.random() < 0.5 else ("clap_high", "clap_high")],
        start=1.0,
    )  # fmt: skip
    torso = [
        (1.0, (-6.0, 10.0, 0.0)), (2.0, (8.0, 0.0, 0.0)), (3.0, (-6.0, -10.0, 0.0)),
        (4.0, (8.0, 0.0, 0.0)), (5.0, (0.0, -15.0, 6.0)), (7.0, (0.0, 15.0, -6.0)),
    ]  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=e.hold,
        torso=[(0.0, (0.0, 0.0, 0.0)), *torso, (8.0, (0.0, 0.0, 0.0))],
        head=nods(8, 10.0),
        groove="down",
        groove_depth_m=0.09 * e.depth,
        arm_amplitude=e.amp,
    )


def hiphop_two_step(e: Energy, rng: np.random.Generator) -> Choreo:
    """Travel right with step-close-step-touch, then back left; arms swing across, point."""
    s = 0.3 * e.step
    steps = [
        Step(RIGHT, 0.5, 1.0, home(RIGHT, -s), lift_m=e.lift),
        Step(LEFT, 1.5, 2.0, home(LEFT, -s), lift_m=e.lift),
        Step(RIGHT, 2.5, 3.0, home(RIGHT, -2 * s), lift_m=e.lift),
        Step(LEFT, 3.5, 4.0, home(LEFT, -2 * s + 0.02, 0.05), lift_m=e.lift, weight=False),
        Step(LEFT, 4.5, 5.0, home(LEFT, -s), lift_m=e.lift),
        Step(RIGHT, 5.5, 6.0, home(RIGHT, -s), lift_m=e.lift),
        Step(LEFT, 6.5, 7.0, home(LEFT), lift_m=e.lift),
        Step(RIGHT, 7.5, 7.95, home(RIGHT), lift_m=e.lift, weight=False),
    ]
    arms = per_count(
        [("across", "swing_back"), ("swing_fwd", "across"), ("v_up", "point_diag"),
         ("chest", "chest"), ("swing_back", "across"), ("across", "swing_fwd"),
         ("point_diag", "v_up"), ("punch_up", "hip") if rng.random() < 0.5 else ("v_up", "v_up")],
        start=1.0,
    )  # fmt: skip
    torso = [(b, (5.0, -14.0 if b < 4 else 14.0, 0.0)) for b in (1.0, 3.0, 5.0, 7.0)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=e.hold,
        torso=[(0.0, (0.0, 0.0, 0.0)), *torso, (8.0, (0.0, 0.0, 0.0))],
        head=nods(8, 8.0),
        groove="down",
        groove_depth_m=0.1 * e.depth,
        arm_amplitude=e.amp,
    )


# -- house: up-groove and jack, light quick feet, lofting arms ----------------------------------


def house_jack_taps(e: Energy, rng: np.random.Generator) -> Choreo:
    """Torso jacks on every beat while the feet tap out and in on the off-beats."""
    s = 0.22 * e.step
    steps = []
    for k in range(4):
        foot = RIGHT if k % 2 == 0 else LEFT
        sign = -1.0 if foot == RIGHT else 1.0
        b = 2.0 * k
        steps += [
            Step(foot, b + 0.45, b + 1.0, home(foot, sign * s, 0.08), lift_m=e.lift, weight=False),
            Step(
                foot, b + 1.45, b + 2.0 if k < 3 else 7.95, home(foot), lift_m=e.lift, weight=False
            ),
        ]
    arms = per_count(
        [("arms_out_low", "arms_out_low"), ("swing_high", "swing_high"), ("t_side", "t_side"),
         ("overhead", "overhead"), ("wave_up", "arms_out_low"), ("arms_out_low", "wave_up"),
         ("v_up", "v_up")],
        start=1.0,
    )  # fmt: skip
    torso = [(b + 0.5 * k, ((-8.0 if k else 10.0), 0.0, 0.0)) for b in range(8) for k in (0, 1)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.6 * e.hold,
        torso=torso,
        head=nods(8, 8.0),
        groove="up",
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
        groove_depth_m=0.085 * e.depth,
        arm_amplitude=HOUSE_ARMS * e.amp,
        anticipation=SOFT_ANTICIPATION,
    )


def house_skate(e: Energy, rng: np.random.Generator) -> Choreo:
    """Wide diagonal skating steps side to side, arms swinging across like a skater."""
    s = 0.32 * e.step
    steps = [
        Step(RIGHT, 0.3, 1.0, home(RIGHT, -s, -0.1), lift_m=e.lift),
        Step(LEFT, 1.3, 2.0, home(LEFT, -s + 0.05, -0.22), lift_m=e.lift + 0.05, weight=False),
        Step(LEFT, 2.3, 3.0, home(LEFT, s, -0.1), lift_m=e.lift),
        Step(RIGHT, 3.3, 4.0, home(RIGHT, s - 0.05, -0.22), lift_m=e.lift + 0.05, weight=False),
        Step(RIGHT, 4.3, 5.0, home(RIGHT, -s, -0.1), lift_m=e.lift),
        Step(LEFT, 5.3, 6.0, home(LEFT, -s + 0.05, -0.22), lift_m=e.lift + 0.05, weight=False),
        Step(LEFT, 6.3, 7.0, home(LEFT), lift_m=e.lift),
        Step(RIGHT, 7.3, 7.95, home(RIGHT), lift_m=e.lift),
    ]
    arms = per_count(
        [("across", "t_side"), ("swing_back", "swing_fwd"), ("t_side", "across"),
         ("swing_fwd", "swing_back"), ("across", "t_side"), ("swing_back", "swing_high"),
         ("overhead", "overhead")],
        start=1.0,
    )  # fmt: skip
    torso = [(float(b), (14.0, -20.0 if b % 4 == 1 else 20.0, 0.0)) for b in (1, 3, 5)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.5 * e.hold,
        torso=[(0.0, (0.0, 0.0, 0.0)), *torso, (7.0, (4.0, 0.0, 0.0)), (8.0, (0.0, 0.0, 0.0))],
        head=nods(8, 6.0),
        groove="up",
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
        groove_depth_m=0.085 * e.depth,
        levels=[(0.0, 0.0), (1.0, -0.05), (3.0, -0.05), (5.0, -0.05), (7.0, 0.0)],
        arm_amplitude=HOUSE_ARMS * e.amp,
        anticipation=SOFT_ANTICIPATION,
    )


def house_shuffle(e: Energy, rng: np.random.Generator) -> Choreo:
    """Quick side shuffle on the off-beats travelling right and back, jacking torso."""
    s = 0.2 * e.step
    steps = []
    x = 0.0
    for k in range(3):  # travel right: step out on the and, close on the count
        b = float(k)
        x -= s
        steps += [
            Step(RIGHT, b + 0.1, b + 0.5, home(RIGHT, x), lift_m=e.lift),
            Step(LEFT, b + 0.6, b + 1.0, home(LEFT, x), lift_m=e.lift),
        ]
    steps.append(Step(RIGHT, 3.2, 4.0, home(RIGHT, x, 0.1), lift_m=e.lift + 0.06, weight=False))
    for k in range(3):  # and back left
        b = 4.0 + k
        x += s
        steps += [
            Step(LEFT, b + 0.1, b + 0.5, home(LEFT, x), lift_m=e.lift),
            Step(RIGHT, b + 0.6, b + 1.0, home(RIGHT, x), lift_m=e.lift),
        ]
    steps.append(Step(LEFT, 7.2, 7.95, home(LEFT), lift_m=e.lift + 0.06, weight=False))
    arms = per_count(
        [("low_diag", "swing_high"), ("swing_high", "low_diag"), ("low_diag", "swing_high"),
         ("v_up", "v_up"), ("swing_high", "low_diag"), ("low_diag", "swing_high"),
         ("swing_high", "low_diag"), ("overhead", "overhead")],
        start=1.0,
    )  # fmt: skip
    torso = [(b + 0.5 * k, ((10.0 if k else -6.0), 0.0, 0.0)) for b in range(8) for k in (0, 1)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.5 * e.hold,
        torso=torso,
        head=nods(8, 8.0),
        groove="up",
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
        groove_depth_m=0.085 * e.depth,
        arm_amplitude=HOUSE_ARMS * e.amp,
        anticipation=SOFT_ANTICIPATION,
    )


def house_knee_loft(e: Energy, rng: np.random.Generator) -> Choreo:
    """Knee lifts on 2, 4, 6, 8 with lofting arms that float up and open on the lifts."""
    knee = 0.24 + 0.12 * e.level
    steps = []
    for k, b in enumerate((0.5, 2.5, 4.5, 6.5)):
        foot = RIGHT if k % 2 == 0 else LEFT
        end = b + 1.0 if k < 3 else 7.95
        steps.append(Step(foot, b, end, home(foot), lift_m=knee, apex_xz_m=(0.0, 0.18)))
    arms = per_count(
        [("clap", "clap"), ("v_up", "v_up"), ("wave_up", "t_side"), ("overhead", "overhead")],
        start=1.0,
        every=2.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.5 * e.hold,
        torso=[(b, (12.0 if b % 2 else -4.0, 0.0, 0.0)) for b in range(9)],
        head=nods(8, 8.0),
        groove="up",
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
        groove_depth_m=0.085 * e.depth,
        arm_amplitude=HOUSE_ARMS * e.amp,
        anticipation=SOFT_ANTICIPATION,
    )


# -- pop: clean, sharp, on the counts; claps, waves, points, hip sways --------------------------


def pop_step_clap(e: Energy, rng: np.random.Generator) -> Choreo:
    s = 0.26 * e.step
    steps = []
    for bar in (0, 4):
        steps += [
            Step(LEFT, bar + 0.5, bar + 1, home(LEFT, s), lift_m=e.lift),
            Step(RIGHT, bar + 1.5, bar + 2, home(RIGHT, s), lift_m=e.lift, weight=False),
            Step(RIGHT, bar + 2.5, bar + 3, home(RIGHT), lift_m=e.lift),
            Step(LEFT, bar + 3.5, bar + (4 if bar == 0 else 3.95), home(LEFT), weight=False),
        ]
    high = "clap_high" if rng.random() < 0.5 else "clap"
    arms = per_count(
        [("swing_fwd", "low_diag"), ("clap", "clap"), ("low_diag", "swing_fwd"),
         (high, high), ("point_diag", "hip"), ("clap", "clap"), ("hip", "point_diag"),
         ("v_up", "v_up")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=e.hold,
        pelvis=[(b, (0.0, 0.0, 8.0 if b % 4 < 2 else -8.0)) for b in range(1, 8)],
        torso=[(b, (2.0, 10.0 if b % 4 < 2 else -10.0, -6.0 if b % 4 < 2 else 6.0))
               for b in range(1, 8)],
        head=[(b, (6.0, 15.0 if b % 4 < 2 else -15.0, 0.0)) for b in range(1, 8)],
        groove="down",
        groove_depth_m=0.09 * e.depth,
        arm_amplitude=POP_ARMS * e.amp,
    )  # fmt: skip


def pop_hip_wave(e: Energy, rng: np.random.Generator) -> Choreo:
    """Feet apart, the hips sway on every count while the arms wave up, point and pose."""
    s = 0.12 * e.step
    steps = [
        Step(RIGHT, 0.4, 1.0, home(RIGHT, -s), lift_m=e.lift),
        Step(RIGHT, 7.3, 7.95, home(RIGHT), lift_m=e.lift),
    ]
    sway = [(float(b), ((0.08 if b % 2 else -0.08) * e.step, 0.0)) for b in range(1, 8)]
    arms = per_count(
        [("wave_up", "low_diag"), ("t_side", "wave_up"), ("low_diag", "t_side"),
         ("point_diag", "hip"), ("hip", "point_diag"), ("overhead", "chest"),
         ("v_up", "v_up")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=e.hold,
        sway=[(0.0, (0.0, 0.0)), *sway, (8.0, (0.0, 0.0))],
        pelvis=[(float(b), (0.0, 0.0, 12.0 if b % 2 else -12.0)) for b in range(1, 8)],
        torso=[(float(b), (0.0, 0.0, -8.0 if b % 2 else 8.0)) for b in range(1, 8)],
        head=[(float(b), (4.0, -12.0 if b % 2 else 12.0, 0.0)) for b in range(1, 8)],
        groove="down",
        groove_depth_m=0.08 * e.depth,
        arm_amplitude=POP_ARMS * e.amp,
    )


def pop_point_walk(e: Energy, rng: np.random.Generator) -> Choreo:
    """Four steps forward with points, four steps back with hip pops, a pose on 8."""
    s = 0.22 * e.step
    steps = []
    z = 0.0
    for k in range(4):
        foot = RIGHT if k % 2 == 0 else LEFT
        z += s
        steps.append(Step(foot, k + 0.45, k + 1.0, home(foot, 0.0, z), lift_m=e.lift))
    for k in range(4):
        foot = RIGHT if k % 2 == 0 else LEFT
        z -= s
        end = 4.0 + k + 1.0 if k < 3 else 7.95
        steps.append(Step(foot, 4.0 + k + 0.45, end, home(foot, 0.0, max(z, 0.0)), lift_m=e.lift))
    point = ["point_front", "point_diag", "point_side"]
    arms = per_count(
        [(point[rng.integers(3)], "hip"), ("hip", "point_front"), ("point_diag", "swing_back"),
         ("clap_high", "clap_high"), ("hip", "hip"), ("point_down", "hip"),
         ("hip", "point_down"), ("v_up", "hip")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=e.hold,
        pelvis=[(float(b), (0.0, 0.0, 10.0 if b % 2 else -10.0)) for b in range(4, 8)],
        torso=[(float(b), (-4.0, 10.0 if b % 2 else -10.0, 0.0)) for b in range(1, 8)],
        head=[(float(b), (5.0, 0.0 if b > 4 else (20.0 if b % 2 else -20.0), 0.0))
              for b in range(1, 8)],
        groove="down",
        groove_depth_m=0.08 * e.depth,
        arm_amplitude=POP_ARMS * e.amp,
    )  # fmt: skip


def pop_box_arms(e: Energy, rng: np.random.Generator) -> Choreo:
    """A box step (cross, back, side, forward) with sharp arm shapes on every count."""
    s = 0.22 * e.step
    steps = []
    for bar in (0, 4):
        # the left foot closes on 4 and the right one settles beside it (before the end on 8)
        close, touch = (bar + 3.95, bar + 4.0) if bar == 0 else (7.75, 7.95)
        steps += [
            Step(RIGHT, bar + 0.45, bar + 1.0, home(LEFT, -0.04, 0.16), lift_m=e.lift),
            Step(LEFT, bar + 1.45, bar + 2.0, home(LEFT, 0.04, -s), lift_m=e.lift),
            Step(RIGHT, bar + 2.45, bar + 3.0, home(RIGHT, -s * 0.6), lift_m=e.lift),
            Step(LEFT, bar + 3.45, close, home(LEFT), lift_m=e.lift),
            Step(RIGHT, close + 0.01, touch, home(RIGHT), lift_m=0.02, weight=False),
        ]
    arms = per_count(
        [("punch_up", "hip"), ("chest", "chest"), ("t_side", "t_side"), ("hip", "hip"),
         ("hip", "punch_up"), ("clap", "clap"), ("point_side", "point_side"),
         ("overhead", "point_down")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=e.hold,
        torso=[(float(b), (4.0, -10.0 if b % 2 else 10.0, 0.0)) for b in range(1, 8)],
        head=nods(8, 8.0),
        groove="down",
        groove_depth_m=0.09 * e.depth,
        arm_amplitude=POP_ARMS * e.amp,
    )


# -- jazz: long lines, chasse, jazz square, kicks and turns --------------------------------------


def jazz_chasse(e: Energy, rng: np.random.Generator) -> Choreo:
    """Chasse right (1 and 2), step, point; chasse left, step, point; arms in long lines."""
    s = 0.18 * e.step
    steps = [
        Step(RIGHT, 0.3, 0.9, home(RIGHT, -s), lift_m=e.lift),
        Step(LEFT, 1.1, 1.45, home(LEFT, -s), lift_m=e.lift),
        Step(RIGHT, 1.55, 2.0, home(RIGHT, -2 * s), lift_m=e.lift),
        Step(LEFT, 2.3, 3.0, home(LEFT, -2 * s + 0.05, 0.12), lift_m=e.lift),
        Step(RIGHT, 3.3, 4.0, home(RIGHT, -2 * s - 0.15, -0.05), lift_m=e.lift, weight=False),
        Step(LEFT, 4.3, 4.9, home(LEFT, -s), lift_m=e.lift),
        Step(RIGHT, 5.1, 5.45, home(RIGHT, -s), lift_m=e.lift),
        Step(LEFT, 5.55, 6.0, home(LEFT), lift_m=e.lift),
        Step(RIGHT, 6.3, 7.0, home(RIGHT), lift_m=e.lift),
        Step(LEFT, 7.3, 7.95, home(LEFT), lift_m=e.lift, weight=False),
    ]
    arms = per_count(
        [("low_diag", "low_diag"), ("t_side", "t_side"), ("v_up", "point_side"),
         ("point_side", "v_up"), ("low_diag", "low_diag"), ("t_side", "t_side"),
         ("overhead", "overhead"), ("frame", "frame")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.5 * e.hold,
        torso=[(1.0, (-6.0, 0.0, -8.0)), (3.0, (-10.0, 10.0, 10.0)), (5.0, (-6.0, 0.0, 8.0)),
               (7.0, (-12.0, 0.0, 0.0)), (8.0, (0.0, 0.0, 0.0))],
        head=[(3.0, (-10.0, 25.0, 0.0)), (4.0, (0.0, 0.0, 0.0)), (7.0, (-15.0, 0.0, 0.0)),
              (8.0, (0.0, 0.0, 0.0))],
        groove="none",
        levels=[(0.0, 0.0), (2.0, -0.06), (3.0, 0.02), (4.0, -0.04), (6.0, -0.06), (7.0, 0.03),
                (8.0, 0.0)],
        arm_amplitude=0.9 * e.amp,
        anticipation=SOFT_ANTICIPATION,
    )  # fmt: skip


def jazz_square(e: Energy, rng: np.random.Generator) -> Choreo:
    """Jazz square twice (cross, back, side, forward) with sweeping arms and contractions."""
    s = 0.2 * e.step
    steps = []
    for bar in (0, 4):
        steps += [
            Step(RIGHT, bar + 0.4, bar + 1.0, home(LEFT, -0.05, 0.2), lift_m=e.lift),
            Step(LEFT, bar + 1.4, bar + 2.0, home(LEFT, 0.03, -s), lift_m=e.lift),
            Step(RIGHT, bar + 2.4, bar + 3.0, home(RIGHT, -0.12, -s * 0.5), lift_m=e.lift),
            Step(LEFT, bar + 3.4, bar + 3.8, home(LEFT), lift_m=e.lift),
            Step(RIGHT, bar + 3.82, bar + 4.0 if bar == 0 else 7.95, home(RIGHT), lift_m=0.03),
        ]
    arms = per_count(
        [("across", "low_diag"), ("v_up", "v_up"), ("t_side", "t_side"), ("low_front", "low_front"),
         ("low_diag", "across"), ("overhead", "overhead"), ("t_side", "t_side"),
         ("frame", "frame")],
        start=1.0,
    )  # fmt: skip
    torso = [(float(b), ((14.0, -10.0)[b % 2], (12.0, -8.0)[b % 2], 0.0)) for b in range(1, 8)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.5 * e.hold,
        torso=[(0.0, (0.0, 0.0, 0.0)), *torso, (8.0, (0.0, 0.0, 0.0))],
        head=[(float(b), ((10.0, -12.0)[b % 2], 0.0, 0.0)) for b in range(1, 9)],
        groove="none",
        levels=[(float(b), (-0.05, 0.02)[b % 2]) for b in range(1, 8)] + [(8.0, 0.0)],
        arm_amplitude=0.9 * e.amp,
        anticipation=SOFT_ANTICIPATION,
    )


def jazz_kick_turn(e: Energy, rng: np.random.Generator) -> Choreo:
    """High kick, step forward, a three-step turn, close; arms open to a layout."""
    kick = (0.0, 0.45 * e.step)
    steps = [
        Step(RIGHT, 0.3, 1.6, home(RIGHT, 0.0, 0.1), lift_m=0.35 + 0.1 * e.level, apex_xz_m=kick),
        Step(LEFT, 2.3, 3.0, home(LEFT, 0.0, 0.3), lift_m=e.lift),
        Step(RIGHT, 3.3, 4.0, home(RIGHT, -0.05, 0.3), lift_m=e.lift, weight=False),
        # Three-step turn to the right (clockwise from above: heading decreasing).
        Step(RIGHT, 4.2, 5.0, (-0.22, 0.35), yaw_deg=-120.0, lift_m=e.lift),
        Step(LEFT, 5.2, 6.0, (-0.3, 0.15), yaw_deg=-240.0, lift_m=e.lift),
        Step(RIGHT, 6.2, 7.0, home(RIGHT, -0.1, 0.15), yaw_deg=-360.0 - 8.0, lift_m=e.lift),
        Step(LEFT, 7.2, 7.95, home(LEFT, 0.0, 0.15), yaw_deg=-360.0 + 8.0, lift_m=e.lift),
    ]
    arms = per_count(
        [("t_side", "t_side"), ("v_up", "v_up"), ("point_front", "swing_back"),
         ("frame", "frame"), ("chest", "chest"), ("chest", "chest"), ("v_up", "v_up"),
         ("t_side", "t_side")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.5 * e.hold,
        turn=[(4.2, 0.0), (5.0, -120.0), (6.0, -240.0), (7.0, -360.0)],
        torso=[(1.0, (-14.0, 0.0, 0.0)), (2.0, (6.0, 0.0, 0.0)), (3.0, (-8.0, 0.0, 0.0)),
               (8.0, (0.0, 0.0, 0.0))],
        head=[(1.0, (-15.0, 0.0, 0.0)), (3.0, (0.0, 0.0, 0.0)), (7.0, (-10.0, 0.0, 0.0)),
              (8.0, (0.0, 0.0, 0.0))],
        groove="none",
        levels=[(0.0, 0.0), (1.0, 0.02), (2.0, -0.04), (3.0, 0.02), (4.0, -0.05), (5.0, 0.02),
                (7.0, 0.02), (8.0, 0.0)],
        arm_amplitude=0.9 * e.amp,
        anticipation=SOFT_ANTICIPATION,
    )  # fmt: skip


def jazz_layout(e: Energy, rng: np.random.Generator) -> Choreo:
    """Lunge right with a reach overhead, recover, lunge left; long slow lines."""
    s = 0.42 * e.step
    steps = [
        Step(RIGHT, 0.3, 1.0, home(RIGHT, -s, 0.05), lift_m=e.lift),
        Step(RIGHT, 2.4, 3.0, home(RIGHT), lift_m=e.lift),
        Step(LEFT, 4.3, 5.0, home(LEFT, s, 0.05), lift_m=e.lift),
        Step(LEFT, 6.4, 7.0, home(LEFT), lift_m=e.lift),
    ]
    arms = per_count(
        [("t_side", "low_diag"), ("overhead", "v_up"), ("low_front", "low_front"),
         ("swing_high", "swing_high"), ("low_diag", "t_side"), ("v_up", "overhead"),
         ("low_front", "low_front"), ("wave_up", "wave_up")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.4 * e.hold,
        torso=[(1.0, (-6.0, 0.0, -14.0)), (2.0, (-10.0, 0.0, -20.0)), (3.0, (16.0, 0.0, 0.0)),
               (4.0, (-4.0, 0.0, 0.0)), (5.0, (-6.0, 0.0, 14.0)), (6.0, (-10.0, 0.0, 20.0)),
               (7.0, (16.0, 0.0, 0.0)), (8.0, (0.0, 0.0, 0.0))],
        head=[(2.0, (-12.0, 20.0, 0.0)), (3.0, (10.0, 0.0, 0.0)), (6.0, (-12.0, -20.0, 0.0)),
              (7.0, (10.0, 0.0, 0.0)), (8.0, (0.0, 0.0, 0.0))],
        groove="none",
        levels=[(0.0, 0.0), (1.0, -0.06), (2.0, -0.1), (3.0, -0.02), (4.0, 0.02), (5.0, -0.06),
                (6.0, -0.1), (7.0, -0.02), (8.0, 0.0)],
        arm_amplitude=0.9 * e.amp,
        anticipation=SOFT_ANTICIPATION,
    )  # fmt: skip


# -- popping: hits on 2 and 4, fresno, arm waves, robot ------------------------------------------


def popping_fresno(e: Energy, rng: np.random.Generator) -> Choreo:
    """Step out, hit; step in, hit; side to side with arm and chest pops on every count."""
    s = 0.26 * e.step
    steps = [
        Step(RIGHT, 0.5, 1.0, home(RIGHT, -s), lift_m=e.lift),
        Step(RIGHT, 2.5, 3.0, home(RIGHT), lift_m=e.lift),
        Step(LEFT, 4.5, 5.0, home(LEFT, s), lift_m=e.lift),
        Step(LEFT, 6.5, 7.0, home(LEFT), lift_m=e.lift),
    ]
    arms = per_count(
        [("rest", "pop_bent"), ("rest", "flex"), ("pop_bent", "rest"), ("flex", "rest"),
         ("pop_bent", "rest"), ("punch_up", "pop_bent"), ("rest", "punch_up"), ("flex", "flex")],
        start=1.0,
    )  # fmt: skip
    chest = [(float(b), ((12.0, -6.0)[b % 2 == 1], 0.0, 0.0)) for b in range(1, 9)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.3 + 0.3 * e.level,
        torso=chest,
        body_hold=0.6,
        head=[(float(b), (6.0, (25.0, -25.0)[b % 2], 0.0)) for b in range(1, 9)],
        groove="down",
        groove_depth_m=0.11 * e.depth,
        arm_amplitude=e.amp,
    )


def popping_arm_wave(e: Energy, rng: np.random.Generator) -> Choreo:
    """The arms wave through shapes on every half beat with hits on 2 and 4; feet hold."""
    s = 0.14 * e.step
    steps = [
        Step(LEFT, 0.4, 1.0, home(LEFT, s), lift_m=e.lift),
        Step(LEFT, 7.3, 7.95, home(LEFT), lift_m=e.lift),
    ]
    wave = [("t_side", "wave_up"), ("wave_up", "t_side"), ("t_side", "low_diag"),
            ("low_diag", "t_side"), ("elbow_up", "t_side"), ("t_side", "elbow_up")]  # fmt: skip
    arms = [(1.0 + 0.5 * k, *wave[k % len(wave)]) for k in range(12)]
    arms.append((7.0, "flex", "flex"))
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.25 + 0.25 * e.level,
        sway=[(float(b), ((0.06, -0.06)[b % 2] * e.step, 0.0)) for b in range(1, 8)],
        torso=[(float(b), (0.0, 0.0, (10.0, -10.0)[b % 2])) for b in range(1, 8)],
        pelvis=[(float(b), (0.0, 0.0, (-6.0, 6.0)[b % 2])) for b in range(1, 8)],
        head=[(float(b), (0.0, 0.0, (-12.0, 12.0)[b % 2])) for b in range(1, 8)],
        body_hold=0.5,
        groove="down",
        groove_depth_m=0.11 * e.depth,
        arm_amplitude=e.amp,
    )


def popping_robot(e: Energy, rng: np.random.Generator) -> Choreo:
    """Robot: dime-stop steps forward and back, sharp arm angles and head turns."""
    s = 0.22 * e.step
    steps = [
        Step(RIGHT, 0.5, 1.0, home(RIGHT, 0.0, s), lift_m=e.lift),
        Step(LEFT, 1.5, 2.0, home(LEFT, 0.0, s), lift_m=e.lift),
        Step(RIGHT, 4.5, 5.0, home(RIGHT), lift_m=e.lift),
        Step(LEFT, 5.5, 6.0, home(LEFT), lift_m=e.lift),
    ]
    arms = per_count(
        [("elbow_up", "rest"), ("elbow_up", "elbow_up"), ("punch", "elbow_up"),
         ("flex", "punch"), ("lock", "lock"), ("point_diag", "lock"), ("v_up", "v_up"),
         ("flex", "flex")],
        start=1.0,
    )  # fmt: skip
    head = [(float(b), (0.0, (30.0, -30.0, 0.0)[b % 3], 0.0)) for b in range(1, 8)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.35 + 0.3 * e.level,
        torso=[(float(b), (0.0, (20.0, -20.0, 0.0)[b % 3], 0.0)) for b in range(1, 8)]
        + [(8.0, (0.0, 0.0, 0.0))],
        head=head + [(8.0, (0.0, 0.0, 0.0))],
        body_hold=0.7,
        groove="down",
        groove_depth_m=0.1 * e.depth,
        arm_amplitude=e.amp,
    )


def popping_chest_walk(e: Energy, rng: np.random.Generator) -> Choreo:
    """Walk in a small square with chest pops on 2 and 4 and bent-arm hits."""
    s = 0.25 * e.step
    path = [(RIGHT, -s, 0.0), (LEFT, -s, 0.0), (RIGHT, -s, s), (LEFT, -s, s),
            (RIGHT, 0.0, s), (LEFT, 0.0, s), (RIGHT, 0.0, 0.0), (LEFT, 0.0, 0.0)]  # fmt: skip
    steps = [
        Step(foot, k + 0.5, k + 1.0 if k < 7 else 7.95, home(foot, dx, dz), lift_m=e.lift)
        for k, (foot, dx, dz) in enumerate(path)
    ]
    arms = per_count(
        [("pop_bent", "rest"), ("chest", "chest"), ("rest", "pop_bent"), ("chest", "chest"),
         ("flex", "pop_bent"), ("pop_bent", "flex"), ("lock", "lock"), ("flex", "flex")],
        start=1.0,
    )  # fmt: skip
    chest = [(float(b), ((14.0, -8.0)[b % 2 == 1], 0.0, 0.0)) for b in range(1, 9)]
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.3 + 0.3 * e.level,
        torso=chest,
        body_hold=0.65,
        head=nods(8, 8.0),
        groove="down",
        groove_depth_m=0.11 * e.depth,
        arm_amplitude=e.amp,
    )


# -- locking: points, locks (freezes), scoobot kicks, wrist rolls --------------------------------


def locking_point_lock(e: Energy, rng: np.random.Generator) -> Choreo:
    s = 0.26 * e.step
    steps = [
        Step(RIGHT, 0.5, 1.0, home(RIGHT, -s), lift_m=e.lift),
        Step(LEFT, 1.5, 2.0, home(LEFT, -s), lift_m=e.lift, weight=False),
        Step(LEFT, 2.5, 3.0, home(LEFT), lift_m=e.lift),
        Step(RIGHT, 3.5, 4.0, home(RIGHT), lift_m=e.lift, weight=False),
        Step(RIGHT, 4.5, 5.0, home(RIGHT, -s * 0.5, 0.12), lift_m=e.lift),
    ]
    arms = per_count(
        [("point_diag", "hip"), ("lock", "lock"), ("hip", "point_diag"), ("lock", "lock"),
         ("point_front", "point_front"), ("punch_up", "hip"), ("punch_up", "hip"),
         ("hip", "hip")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps + [Step(RIGHT, 7.3, 7.95, home(RIGHT), lift_m=e.lift)],
        arms=closed(arms, 8),
        arm_hold=0.25 + 0.2 * e.level,
        torso=[(float(b), ((-6.0, 10.0)[b % 2], (15.0, -15.0)[b % 4 < 2], 0.0))
               for b in range(1, 6)] + [(6.0, (-8.0, 0.0, 0.0)), (7.0, (-8.0, 0.0, 0.0)),
                                        (8.0, (0.0, 0.0, 0.0))],
        head=[(float(b), (8.0, 0.0, 0.0)) for b in range(1, 6)] + [(6.0, (-12.0, 15.0, 0.0)),
                                                                   (7.0, (-12.0, 15.0, 0.0))],
        body_hold=0.5,
        groove="down",
        groove_depth_m=0.06 * e.depth,
        levels=[(5.0, 0.0), (6.0, -0.08), (7.0, -0.08), (8.0, 0.0)],
        arm_amplitude=e.amp,
    )  # fmt: skip


def locking_scoobot(e: Energy, rng: np.random.Generator) -> Choreo:
    """Alternating low kicks with swinging arms, knees bent, then a lock and a point."""
    kick = (0.0, 0.3 * e.step)
    steps = []
    for k, b in enumerate((0.2, 1.2, 2.2, 3.2)):
        foot = RIGHT if k % 2 == 0 else LEFT
        steps.append(Step(foot, b, b + 0.8, home(foot), lift_m=0.15 + e.lift, apex_xz_m=kick))
    steps += [
        Step(RIGHT, 4.5, 5.0, home(RIGHT, -0.2 * e.step), lift_m=e.lift),
        Step(RIGHT, 6.5, 7.0, home(RIGHT), lift_m=e.lift),
    ]
    arms = per_count(
        [("swing_high", "swing_back"), ("swing_back", "swing_high"), ("swing_high", "swing_back"),
         ("swing_back", "swing_high"), ("lock", "lock"), ("point_diag", "point_down"),
         ("lock", "lock"), ("point_front", "hip")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.25 + 0.2 * e.level,
        torso=[(float(b), (8.0, (10.0, -10.0)[b % 2], 0.0)) for b in range(1, 8)],
        head=nods(8, 10.0),
        groove="down",
        groove_depth_m=0.08 * e.depth,
        levels=[(0.0, 0.0), (1.0, -0.04), (4.0, -0.04), (5.0, 0.0)],
        arm_amplitude=e.amp,
    )


def locking_wrist_roll(e: Energy, rng: np.random.Generator) -> Choreo:
    """Wrist rolls in front of the chest, a big point up, a point down, freeze, release."""
    s = 0.2 * e.step
    steps = [
        Step(LEFT, 0.5, 1.0, home(LEFT, s), lift_m=e.lift),
        Step(LEFT, 5.5, 6.0, home(LEFT), lift_m=e.lift),
    ]
    roll = [("lock", "chest"), ("chest", "lock")]
    arms = [(1.0 + 0.5 * k, *roll[k % 2]) for k in range(6)]
    arms += [(4.0, "punch_up", "hip"), (5.0, "point_down", "hip"), (6.0, "lock", "lock"),
             (7.0, "lock", "lock")]  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.25 + 0.2 * e.level,
        torso=[(1.0, (4.0, 0.0, 0.0)), (4.0, (-12.0, 15.0, 0.0)), (5.0, (16.0, 0.0, 0.0)),
               (6.0, (0.0, 0.0, 0.0)), (8.0, (0.0, 0.0, 0.0))],
        head=[(float(b), (8.0 if b % 2 else -4.0, 0.0, 0.0)) for b in range(1, 4)]
        + [(4.0, (-20.0, 20.0, 0.0)), (5.0, (20.0, 0.0, 0.0)), (6.0, (0.0, 0.0, 0.0))],
        body_hold=0.5,
        groove="down",
        groove_depth_m=0.06 * e.depth,
        levels=[(4.0, 0.0), (5.0, -0.1), (6.0, 0.0)],
        arm_amplitude=e.amp,
    )  # fmt: skip


def locking_stop_and_go(e: Energy, rng: np.random.Generator) -> Choreo:
    """Travel forward on 1-4, freeze in a pose on 5-6 (the groove keeps breathing), go back."""
    s = 0.28 * e.step
    steps = [
        Step(RIGHT, 0.5, 1.0, home(RIGHT, 0.0, s), lift_m=e.lift),
        Step(LEFT, 1.5, 2.0, home(LEFT, 0.0, 2 * s), lift_m=e.lift),
        Step(RIGHT, 2.5, 3.0, home(RIGHT, 0.0, 2 * s), lift_m=e.lift),
        Step(LEFT, 6.05, 6.5, home(LEFT, 0.0, s), lift_m=e.lift),
        Step(RIGHT, 6.55, 7.0, home(RIGHT), lift_m=e.lift),
        Step(LEFT, 7.3, 7.95, home(LEFT), lift_m=e.lift),
    ]
    arms = per_count(
        [("swing_fwd", "swing_back"), ("swing_back", "swing_fwd"), ("point_front", "hip"),
         ("lock", "lock"), ("point_diag", "point_down"), ("point_diag", "point_down"),
         ("swing_fwd", "swing_back")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.25 + 0.2 * e.level,
        torso=[(3.0, (8.0, 0.0, 0.0)), (4.0, (-10.0, 15.0, 0.0)), (6.0, (-10.0, 15.0, 0.0)),
               (7.0, (4.0, 0.0, 0.0)), (8.0, (0.0, 0.0, 0.0))],
        head=nods(4, 10.0) + [(5.0, (-10.0, 20.0, 0.0)), (6.0, (-10.0, 20.0, 0.0)),
                              (7.0, (6.0, 0.0, 0.0)), (8.0, (0.0, 0.0, 0.0))],
        body_hold=0.5,
        groove="down",
        groove_depth_m=0.07 * e.depth,
        levels=[(3.0, 0.0), (4.0, -0.09), (6.0, -0.09), (7.0, 0.0)],
        arm_amplitude=e.amp,
    )  # fmt: skip


# -- waltz (3/4, six counts): rise and fall, box steps, balances, turns --------------------------


def waltz_box(e: Energy, rng: np.random.Generator) -> Choreo:
    """Forward-side-close, back-side-close, in a ballroom frame."""
    s = 0.26 * e.step
    steps = [
        Step(LEFT, 0.1, 1.0, home(LEFT, 0.0, s), lift_m=0.055),
        Step(RIGHT, 1.1, 2.0, home(RIGHT, -0.25, s), lift_m=0.055),
        Step(LEFT, 2.1, 3.0, home(LEFT, -0.25 + 0.02, s), lift_m=0.0555),
        Step(RIGHT, 3.1, 4.0, home(RIGHT, -0.25, 0.0), lift_m=0.055),
        Step(LEFT, 4.1, 5.0, home(LEFT), lift_m=0.055),
        Step(RIGHT, 5.1, 6.0, home(RIGHT), lift_m=0.0555),
    ]
    open_arm = "frame" if rng.random() < 0.6 else "v_up"
    arms = [(1.0, "frame", "frame_hold"), (2.0, open_arm, "frame_hold"),
            (3.5, "frame", "frame_hold"), (5.0, "t_side", "frame")]  # fmt: skip
    return Choreo(
        counts=6,
        meter=3,
        steps=steps,
        arms=closed(arms, 6),
        arm_hold=0.1,
        torso=[(0.0, (0.0, 0.0, 0.0)), (1.0, (-8.0, 8.0, -10.0)), (2.5, (-4.0, 0.0, 0.0)),
               (4.0, (-8.0, -8.0, 10.0)), (5.5, (-4.0, 0.0, 0.0)), (6.0, (0.0, 0.0, 0.0))],
        head=[(1.0, (-10.0, 25.0, 0.0)), (4.0, (-10.0, 25.0, 0.0)), (6.0, (0.0, 0.0, 0.0))],
        body_hold=0.1,
        groove="rise",
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
        groove_depth_m=0.1 * e.depth,
        arm_amplitude=1.1 * e.amp,
    )  # fmt: skip


def waltz_balance(e: Energy, rng: np.random.Generator) -> Choreo:
    """Balance left (side, close, in place) and right, swaying, arms opening."""
    s = 0.3 * e.step
    steps = [
        Step(LEFT, 0.2, 1.0, home(LEFT, s), lift_m=0.065),
        Step(RIGHT, 1.2, 2.0, home(RIGHT, s - 0.02, -0.08), lift_m=0.055, weight=False),
        Step(RIGHT, 2.2, 3.0, home(RIGHT), lift_m=0.055, weight=False),
        Step(RIGHT, 3.2, 4.0, home(RIGHT, -s), lift_m=0.065),
        Step(LEFT, 4.2, 5.0, home(LEFT, -s + 0.02, -0.08), lift_m=0.055, weight=False),
        Step(LEFT, 5.2, 6.0, home(LEFT), lift_m=0.055, weight=False),
    ]
    arms = [(1.0, "v_up", "low_diag"), (2.5, "t_side", "t_side"), (4.0, "low_diag", "v_up"),
            (4.75, "wave_up", "wave_up")]  # fmt: skip
    return Choreo(
        counts=6,
        meter=3,
        steps=steps,
        arms=closed(arms, 6),
        arm_hold=0.1,
        torso=[(1.0, (-6.0, 0.0, 12.0)), (2.5, (-4.0, 0.0, 0.0)), (4.0, (-6.0, 0.0, -12.0)),
               (5.5, (-4.0, 0.0, 0.0)), (6.0, (0.0, 0.0, 0.0))],
        head=[(1.0, (-8.0, 30.0, 0.0)), (4.0, (-8.0, -30.0, 0.0)), (6.0, (0.0, 0.0, 0.0))],
        body_hold=0.1,
        groove="rise",
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
        groove_depth_m=0.11 * e.depth,
        arm_amplitude=1.1 * e.amp,
    )  # fmt: skip


def waltz_natural_turn(e: Energy, rng: np.random.Generator) -> Choreo:
    """A box step that turns a quarter to the right over the phrase, then opens out."""
    s = 0.26 * e.step
    turn = -90.0

    def at(foot: int, dx: float, dz: float, heading: float) -> tuple[float, float]:
        x, z = home(foot, dx, dz)
        h = np.radians(heading)
        return (float(np.cos(h) * x + np.sin(h) * z), float(-np.sin(h) * x + np.cos(h) * z))

    steps = [
        Step(LEFT, 0.1, 1.0, at(LEFT, 0.0, s, 0.3 * turn), yaw_deg=0.3 * turn + 8, lift_m=0.055),
        Step(RIGHT, 1.1, 2.0, at(RIGHT, -0.25, s, 0.6 * turn), yaw_deg=0.6 * turn - 8),
        Step(LEFT, 2.1, 3.0, at(LEFT, -0.23, s, 0.8 * turn), yaw_deg=0.8 * turn + 8),
        Step(RIGHT, 3.1, 4.0, at(RIGHT, -0.25, 0.05, turn), yaw_deg=turn - 8),
        Step(LEFT, 4.1, 5.0, at(LEFT, 0.0, 0.05, turn), yaw_deg=turn + 8),
        Step(RIGHT, 5.1, 6.0, at(RIGHT, 0.0, 0.05, turn), yaw_deg=turn - 8, lift_m=0.0555),
    ]
    arms = [(1.0, "frame", "frame_hold"), (3.5, "frame", "frame_hold"), (5.0, "v_up", "t_side")]
    return Choreo(
        counts=6,
        meter=3,
        steps=steps,
        arms=closed(arms, 6),
        arm_hold=0.1,
        turn=[(0.0, 0.0), (1.0, 0.3 * turn), (2.0, 0.6 * turn), (3.0, 0.8 * turn),
              (4.0, turn)],
        torso=[(1.0, (-8.0, 0.0, -10.0)), (2.5, (-4.0, 0.0, 0.0)), (4.0, (-8.0, 0.0, 10.0)),
               (6.0, (0.0, 0.0, 0.0))],
        head=[(1.0, (-10.0, 25.0, 0.0)), (4.0, (-10.0, 25.0, 0.0)), (6.0, (0.0, 0.0, 0.0))],
        body_hold=0.1,
        groove="rise",
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
        groove_depth_m=0.1 * e.depth,
        arm_amplitude=1.1 * e.amp,
    )  # fmt: skip


def waltz_promenade(e: Energy, rng: np.random.Generator) -> Choreo:
    """Gliding forward three steps with the arms opening wide, three steps back."""
    s = 0.26 * e.step
    steps = [
        Step(LEFT, 0.1, 1.0, home(LEFT, 0.0, s), lift_m=0.065),
        Step(RIGHT, 1.1, 2.0, home(RIGHT, 0.0, 2 * s), lift_m=0.065),
        Step(LEFT, 2.1, 3.0, home(LEFT, 0.0, 2 * s), lift_m=0.0555),
        Step(RIGHT, 3.1, 4.0, home(RIGHT, 0.0, s), lift_m=0.065),
        Step(LEFT, 4.1, 5.0, home(LEFT), lift_m=0.065),
        Step(RIGHT, 5.1, 6.0, home(RIGHT), lift_m=0.0555),
    ]
    arms = [(1.0, "low_diag", "low_diag"), (2.5, "v_up", "v_up"), (4.0, "t_side", "t_side"),
            (4.75, "overhead", "wave_up")]  # fmt: skip
    return Choreo(
        counts=6,
        meter=3,
        steps=steps,
        arms=closed(arms, 6),
        arm_hold=0.1,
        torso=[(1.0, (-4.0, 10.0, 0.0)), (2.5, (-12.0, 0.0, 0.0)), (4.0, (-4.0, -10.0, 0.0)),
               (5.5, (-10.0, 0.0, 0.0)), (6.0, (0.0, 0.0, 0.0))],
        head=[(2.5, (-14.0, 0.0, 0.0)), (4.0, (0.0, -20.0, 0.0)), (6.0, (0.0, 0.0, 0.0))],
        body_hold=0.1,
        groove="rise",
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
        groove_depth_m=0.11 * e.depth,
        arm_amplitude=e.amp,  # the wide poses reach full stretch at full energy
    )  # fmt: skip


# -- figures: the rest of each style's vocabulary, written as data (``figures``) -------------------

R, L = RIGHT, LEFT
Z = (0.0, 0.0, 0.0)

FLAVORS = {
    "hiphop": Flavor("down", 0.1, 1.0, 1.0, twist_deg=10.0, nod_deg=10.0),
    "house": Flavor(
        "up",
        0.085,
        0.85 * HOUSE_ARMS,
        0.6,
        twist_deg=6.0,
        anticipation=SOFT_ANTICIPATION,
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
    ),
    "pop": Flavor("down", 0.09, POP_ARMS, 1.0, twist_deg=8.0),
    "jazz": Flavor(
        "none", 0.0, 0.9, 0.5, twist_deg=5.0, nod_deg=0.0, anticipation=SOFT_ANTICIPATION
    ),
    "popping": Flavor("down", 0.11, 1.0, 1.4, twist_deg=4.0, max_accel_mps2=50.0),
    "locking": Flavor("down", 0.07, 1.0, 1.1, twist_deg=8.0, nod_deg=10.0),
    "waltz": Flavor(
        "rise",
        0.1,
        1.1,
        0.4,
        twist_deg=3.0,
        nod_deg=0.0,
        max_accel_mps2=50.0,
        settle_in_beats=LONG_SETTLE_IN_BEATS,
        anticipation_in_beats=1.0,
    ),
}

HIPHOP = {
    "running-man": Figure(
        "Running man in place: knees up on every count, arms pumping, chest forward.",
        feet=(
            knee(0, R, 0.26),
            knee(1, L, 0.26),
            knee(2, R, 0.26),
            knee(3, L, 0.26),
            step_touch(4, R, 0.22),
        ),
        arms="swing_fwd/swing_back swing_back/swing_fwd swing_fwd/swing_back chest|clap "
        "point_diag/hip hip/point_diag punch_up|clap_high",
        torso=alternate((10.0, 8.0, 0.0), (4.0, -8.0, 0.0)),
    ),
    "body-roll": Figure(
        "Step out, a body roll down to a low level on 5-6 and back up on 7-8.",
        feet=(step_touch(0, R), walk(4, [(L, 0.22, 0.0), (L, 0.0, 0.0)], every=2.0)),
        arms="swing_back/swing_fwd chest swing_fwd/swing_back chest low_front . across/low_diag "
        "hip",
        torso=[
            (1.0, (6.0, 10, 0)),
            (3.0, (6.0, -10, 0)),
            (4.5, (-12.0, 0, 0)),
            (5.0, (8.0, 0, 0)),
            (5.5, (20.0, 0, 0)),
            (6.0, (12.0, 0, 0)),
            (7.0, (-6.0, 0, 0)),
            (8.0, Z),
        ],
        levels=[(4.0, 0.0), (5.0, -0.08), (6.0, -0.16), (7.0, -0.06), (8.0, 0.0)],
    ),
    "arm-groove": Figure(
        "A steady step-touch both ways while the arms groove on every half count.",
        feet=(step_touch(0, R, 0.2), step_touch(4, L, 0.2)),
        arms="swing_fwd/swing_back chest punch/chest chest/punch point_diag/hip . clap "
        "swing_back/across across/swing_back punch_up/hip chest . overhead|v_up clap",
        arms_every=0.5,
        torso=alternate((6.0, 12.0, 0.0), (-2.0, -12.0, 0.0), every=2.0),
    ),
    "quarter-turn": Figure(
        "Step-turn a quarter to the right, groove facing the side, turn back and point.",
        feet=(
            turn(0, 2, -90.0, per_beat=1.0),
            walk(2, [(L, 0.0, 0.0), (R, 0.0, 0.0)], heading=-90.0),
            turn(4, 2, 90.0, first=L, start_heading=-90.0, per_beat=1.0),
            walk(6, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
        ),
        arms="swing_back/swing_fwd chest|clap punch/chest chest/punch across/swing_back "
        "point_diag/hip v_up",
        torso=alternate((8.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ),
    "spin": Figure(
        "Step-touch, then a full stepping turn to the right over 5-7 and a hit on 8.",
        feet=(step_touch(0, R, 0.22), turn(4, 3, -360.0)),
        arms="swing_back/swing_fwd clap swing_fwd/swing_back chest chest across/chest punch_up/hip",
        torso=[
            (1.0, (6.0, 10, 0)),
            (3.0, (6.0, -10, 0)),
            (4.5, (-6.0, 0, 0)),
            (7.0, (8.0, 0, 0)),
            (8.0, Z),
        ],
    ),
    "drop-pose": Figure(
        "Signature poses on the accents: hit a pose on 1, hold; drop to a low pose on 5, rise.",
        feet=(
            walk(0, [(R, -0.3, 0.0)], every=1.0),
            walk(3, [(R, 0.0, 0.0)]),
            lunge(4, L, 0.25, 0.05, 2.0),
        ),
        arms="point_diag/hip . . chest punch_up|point_down/hip . . hip",
        torso=[
            (1.0, (-6.0, 18.0, 0.0)),
            (3.0, (-6.0, 18.0, 0.0)),
            (4.0, Z),
            (5.0, (16.0, -15.0, 0.0)),
            (7.0, (12.0, -15.0, 0.0)),
            (8.0, Z),
        ],
        head=[
            (1.0, (-10.0, 20.0, 0.0)),
            (3.0, (-10.0, 20.0, 0.0)),
            (5.0, (15.0, -20.0, 0.0)),
            (7.0, (10.0, -20.0, 0.0)),
            (8.0, Z),
        ],
        levels=[(4.0, 0.0), (5.0, -0.18), (6.5, -0.18), (7.5, 0.0)],
        sharp=1.5,
    ),
    "cross-walk": Figure(
        "Travelling cross steps forward on 1-4, walking back on 5-8, arms swinging.",
        feet=(
            walk(0, [(R, 0.16, 0.3), (L, -0.16, 0.6), (R, 0.16, 0.9), (L, 0.0, 0.9)]),
            walk(4, [(R, 0.0, 0.6), (L, 0.0, 0.3), (R, 0.0, 0.0), (L, 0.0, 0.0)]),
        ),
        arms="across/swing_back swing_back/across across/swing_back clap swing_back/swing_fwd "
        "swing_fwd/swing_back point_front/hip",
        torso=alternate((8.0, -14.0, 0.0), (8.0, 14.0, 0.0), stop=4.0),
    ),
    "fill": Figure(
        "Six counts of bounce-rock, then a two-count kick-ball-change fill into the next eight.",
        feet=(
            step_touch(0, R, 0.2),
            walk(4, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
            kick_ball_change(6, R),
        ),
        arms="chest swing_back/swing_fwd chest swing_fwd/swing_back hip/point_diag chest "
        "punch/hip clap_high|v_up",
        torso=alternate((10.0, 10.0, 0.0), (-4.0, -10.0, 0.0), stop=6.0),
    ),
}

HOUSE = {
    "heel-toe": Figure(
        "Heel and toe taps forward and out on every count, the torso jacking, arms low.",
        feet=(
            taps(0, [(R, 0.0, 0.22), (L, 0.0, 0.22), (R, -0.2, 0.05), (L, 0.2, 0.05)], every=1.0),
        ),
        arms="arms_out_low low_front arms_out_low swing_high low_diag/swing_high "
        "swing_high/low_diag v_up",
        torso=alternate((10.0, 0.0, 0.0), (-6.0, 0.0, 0.0), start=0.5, stop=7.5, every=0.5),
    ),
    "loose-legs": Figure(
        "Loose legs: the leg flicks out to the side and back, both sides, then steps across.",
        feet=(
            kick(0, R, 0.22, 0.15, 0.3),
            kick(2, L, 0.22, 0.15, 0.3),
            walk(4, [(R, 0.12, 0.1), (L, 0.0, 0.0), (R, 0.0, 0.0), (L, 0.0, 0.0)]),
        ),
        arms="t_side/low_diag swing_high low_diag/t_side swing_high across/t_side "
        "t_side/across v_up",
        torso=alternate((6.0, -10.0, 6.0), (6.0, 10.0, -6.0), every=2.0, stop=6.0),
    ),
    "train": Figure(
        "Travelling forward with light quick steps on the off-beats, and back.",
        feet=(
            walk(0, [(R, 0.0, 0.2), (L, 0.0, 0.4), (R, 0.0, 0.6), (L, 0.0, 0.6)], swing=0.45),
            walk(4, [(R, 0.0, 0.4), (L, 0.0, 0.2), (R, 0.0, 0.0), (L, 0.0, 0.0)], swing=0.45),
        ),
        arms="swing_fwd/swing_back swing_back/swing_fwd swing_fwd/swing_back overhead "
        "swing_back/swing_fwd swing_fwd/swing_back v_up",
        torso=alternate((12.0, 0.0, 0.0), (-4.0, 0.0, 0.0), start=0.5, stop=7.5, every=0.5),
    ),
    "half-turn": Figure(
        "Half turn to face the back on 1-2, jack there, turn back on 5-6, step out and in.",
        feet=(
            turn(0, 2, 180.0),
            walk(2, [(R, 0.0, 0.0), (L, 0.0, 0.0)], heading=180.0),
            turn(4, 2, -180.0, start_heading=180.0),
            walk(6, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
        ),
        arms="swing_high arms_out_low v_up arms_out_low swing_high low_diag overhead",
        torso=alternate((10.0, 0.0, 0.0), (-4.0, 0.0, 0.0), start=0.5, stop=7.5, every=0.5),
    ),
    "spin": Figure(
        "Skate out and back, then a full turn to the left on 5-7, arms lofting overhead.",
        feet=(
            walk(0, [(R, -0.3, -0.1), (L, -0.25, -0.15), (L, 0.0, 0.0), (R, 0.0, 0.0)]),
            turn(4, 3, 360.0),
        ),
        arms="across/t_side swing_back/swing_fwd t_side/across low_diag swing_high overhead v_up",
        torso=[
            (1.0, (12.0, -15.0, 0.0)),
            (3.0, (12.0, 15.0, 0.0)),
            (4.0, (4.0, 0, 0)),
            (7.0, (-4.0, 0.0, 0.0)),
            (8.0, Z),
        ],
    ),
    "loft-groove": Figure(
        "Arms loft and open, one shape a count, over a steady step-touch, both sides; the feet "
        "keep the groove.",
        feet=(step_touch(0, R, 0.18, swing=0.4), step_touch(4, L, 0.18, swing=0.4)),
        arms="low_diag swing_high v_up wave_up/low_diag low_diag/wave_up t_side overhead",
        torso=alternate((8.0, 6.0, 0.0), (-4.0, -6.0, 0.0), start=0.5, stop=7.5, every=0.5),
    ),
    "jack-drop": Figure(
        "Jack down to a low level over 1-4 with taps, rise on 5-8 with the arms floating up.",
        feet=(
            taps(0, [(R, -0.2, 0.0), (L, 0.2, 0.0)], every=1.0),
            taps(4, [(R, 0.0, 0.2), (L, 0.0, 0.2)], every=1.0),
        ),
        arms="low_front arms_out_low low_front arms_out_low swing_high wave_up/swing_high v_up",
        torso=alternate((16.0, 0.0, 0.0), (2.0, 0.0, 0.0), start=0.5, stop=7.5, every=0.5),
        levels=[(0.0, 0.0), (2.0, -0.1), (3.5, -0.15), (5.0, -0.06), (7.0, 0.0)],
    ),
    "fill": Figure(
        "Six counts of side shuffle, then a two-count chasse fill and a lift into the next eight.",
        feet=(
            walk(0, [(R, -0.2, 0.0), (L, -0.2, 0.0), (L, 0.0, 0.0), (R, 0.0, 0.0)], swing=0.4),
            walk(4, [(R, -0.15, 0.0), (R, 0.0, 0.0)], swing=0.4),
            chasse(6, L, 0.12),
        ),
        arms="low_diag/swing_high swing_high/low_diag low_diag/swing_high v_up arms_out_low "
        "swing_high t_side",
        torso=alternate((10.0, 0.0, 0.0), (-6.0, 0.0, 0.0), start=0.5, stop=7.5, every=0.5),
    ),
}

POP = {
    "quarter-walk": Figure(
        "Walk a quarter turn to the left with points, hit a pose to the side, walk back round.",
        feet=(
            turn(0, 2, 90.0, per_beat=1.0),
            walk(2, [(R, 0.0, 0.2), (R, 0.0, 0.0)], heading=90.0),
            turn(4, 2, -90.0, first=R, start_heading=90.0, per_beat=1.0),
            walk(6, [(L, 0.2, 0.0), (L, 0.0, 0.0)]),
        ),
        arms="point_front/hip hip/point_front point_diag/hip clap_high hip point_side/hip v_up",
        torso=alternate((-2.0, 10.0, 0.0), (-2.0, -10.0, 0.0)),
    ),
    "wave-groove": Figure(
        "Arm waves and shapes on every half count over a steady step-touch.",
        feet=(step_touch(0, L, 0.2), step_touch(4, R, 0.2)),
        arms="wave_up/low_diag t_side/wave_up low_diag/t_side clap point_diag/hip hip "
        "hip/point_diag . chest punch/chest chest/punch clap_high v_up . overhead/chest "
        "clap",
        arms_every=0.5,
        pelvis=alternate((0.0, 0.0, 8.0), (0.0, 0.0, -8.0)),
    ),
    "pose-hits": Figure(
        "Signature poses hit on 1, 3, 5 and 7 and held, the hips popping between them.",
        feet=(
            walk(0, [(R, -0.25, 0.0)]),
            walk(2, [(L, 0.1, 0.1)]),
            walk(4, [(L, 0.0, 0.0)]),
            walk(6, [(R, 0.0, 0.0)]),
        ),
        arms="v_up . point_diag/hip . clap_high|overhead/chest . hip/point_side .",
        torso=[
            (1.0, (-4.0, 12.0, 0.0)),
            (2.5, (-4.0, 12.0, 0.0)),
            (3.0, (2.0, -10, 0.0)),
            (4.5, (2.0, -10.0, 0.0)),
            (5.0, (-6.0, 0.0, 8.0)),
            (7.0, (0.0, 15.0, 0.0)),
            (8.0, Z),
        ],
        pelvis=alternate((0.0, 0.0, 12.0), (0.0, 0.0, -12.0)),
        sharp=1.6,
    ),
    "spin": Figure(
        "Step-clap, then a full turn to the right over 5-7, arms pulled in, open on 8.",
        feet=(step_touch(0, L, 0.24), turn(4, 3, -360.0)),
        arms="swing_fwd/low_diag clap low_diag/swing_fwd clap_high chest chest chest v_up",
        torso=[(1.0, (2.0, 10.0, -6.0)), (3.0, (2.0, -10.0, 6.0)), (4.5, (-4.0, 0, 0)), (8.0, Z)],
    ),
    "slide": Figure(
        "Travelling side steps to the right and back (step, close) with hip sways and claps.",
        feet=(
            walk(0, [(R, -0.3, 0.0), (L, -0.3, 0.0), (R, -0.6, 0.0), (L, -0.6, 0.0)]),
            walk(4, [(L, -0.3, 0.0), (R, -0.3, 0.0), (L, 0.0, 0.0), (R, 0.0, 0.0)]),
        ),
        arms="point_side/hip clap point_side/hip clap_high hip/point_side clap hip/point_side v_up",
        pelvis=alternate((0.0, 0.0, 10.0), (0.0, 0.0, -10.0)),
        torso=alternate((0.0, -10.0, 0.0), (0.0, 10.0, 0.0), stop=7.0, every=4.0),
    ),
    "body-wave": Figure(
        "A body wave down to a low level on 3-4 and back up on 5-6, arms tracing the wave.",
        feet=(walk(0, [(R, -0.2, 0.0)]), walk(6, [(R, 0.0, 0.0), (L, 0.0, 0.0)])),
        arms="wave_up chest low_front low_front swing_high wave_up v_up",
        torso=[
            (1.0, (-8.0, 0, 0)),
            (2.0, (10.0, 0, 0)),
            (3.0, (18.0, 0, 0)),
            (4.0, (8.0, 0, 0)),
            (5.0, (-10.0, 0, 0)),
            (6.0, (4.0, 0, 0)),
            (8.0, Z),
        ],
        levels=[(1.0, 0.0), (3.0, -0.14), (4.0, -0.16), (6.0, 0.0)],
    ),
    "half-turn": Figure(
        "Half turn to the left on 1-2, two shapes facing the back, turn back on 5-6, pose.",
        feet=(
            turn(0, 2, 180.0),
            walk(2, [(R, 0.0, 0.0), (L, 0.0, 0.0)], heading=180.0),
            turn(4, 2, -180.0, start_heading=180.0),
            walk(6, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
        ),
        arms="chest v_up point_diag/hip hip/point_diag chest clap point_diag/point_down",
        pelvis=alternate((0.0, 0.0, 8.0), (0.0, 0.0, -8.0)),
    ),
    "fill": Figure(
        "Six counts of step-clap, then a two-count fill: claps on 7-and, a pose on 8.",
        feet=(
            step_touch(0, L, 0.22),
            walk(4, [(L, 0.2, 0.0), (L, 0.0, 0.0)]),
            walk(6, [(R, -0.12, 0.08), (L, 0.1, 0.05)], every=0.5),
            walk(7, [(R, 0.0, 0.0), (L, 0.0, 0.0)], every=0.5),
        ),
        arms="swing_fwd/low_diag clap low_diag/swing_fwd clap point_diag/hip clap v_up",
        pelvis=alternate((0.0, 0.0, 8.0), (0.0, 0.0, -8.0)),
    ),
}

JAZZ = {
    "pas-de-bourree": Figure(
        "Pas de bourree (back, side, front, close) to each side, arms in long lines.",
        feet=(
            walk(0, [(R, 0.0, -0.12), (L, 0.12, 0.0), (R, 0.0, 0.1), (L, 0.0, 0.0)]),
            walk(4, [(L, 0.0, -0.12), (R, -0.12, 0.0), (L, 0.0, 0.1), (R, 0.0, 0.0)]),
        ),
        arms="low_diag t_side low_diag/t_side t_side/low_diag v_up/point_side overhead frame",
        torso=alternate((-4.0, 0.0, -8.0), (-4.0, 0.0, 8.0)),
        levels=alternate(-0.04, 0.02, end=0.0),
        sharp=2.0,
    ),
    "pirouette": Figure(
        "Prepare on 1-2, a full turn to the right on 3-5 on a high level, then a lunge line.",
        feet=(
            walk(0, [(R, 0.0, -0.15), (R, 0.0, 0.0)], swing=0.5),
            turn(2, 3, -360.0, per_beat=2.0, pause=False),
            lunge(5, L, 0.3, 0.0, 2.0),
        ),
        arms="low_front frame chest chest t_side v_up/t_side low_diag",
        torso=[
            (1.0, (8.0, 0.0, 0.0)),
            (2.0, (-4.0, 0, 0)),
            (4.0, (-4.0, 0, 0)),
            (5.0, (-10.0, -10.0, -10.0)),
            (6.0, (-10.0, -10.0, -10.0)),
            (8.0, Z),
        ],
        levels=[(1.0, -0.08), (2.0, 0.0), (3.0, 0.03), (5.0, 0.0), (6.0, -0.08), (7.0, 0.0)],
    ),
    "kick-line": Figure(
        "Kicks front on 1 and to the side on 3, both legs, arms in a T and a V.",
        feet=(
            kick(0, R, 0.38, 0.45),
            kick(2, R, 0.32, 0.25, 0.3),
            kick(4, L, 0.38, 0.45),
            kick(6, L, 0.32, 0.25, 0.3),
        ),
        arms="t_side v_up t_side low_diag t_side v_up t_side",
        torso=alternate((-8.0, 0.0, 0.0), (4.0, 0.0, 0.0)),
        head=[(1.0, (-10.0, 0, 0)), (5.0, (-10.0, 0, 0)), (8.0, Z)],
    ),
    "quarter-turn": Figure(
        "A quarter turn to the right on 1-2, long lines facing the side, turn back, reach.",
        feet=(
            turn(0, 2, -90.0, per_beat=1.0),
            walk(2, [(L, 0.0, 0.0), (R, 0.0, 0.0)], heading=-90.0),
            turn(4, 2, 90.0, first=L, start_heading=-90.0, per_beat=1.0),
            walk(6, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
        ),
        arms="low_diag t_side v_up/point_side t_side frame t_side overhead",
        torso=alternate((-6.0, 0.0, -8.0), (-8.0, 0.0, 8.0)),
        levels=alternate(0.02, -0.04, end=0.0),
        sharp=1.5,
    ),
    "port-de-bras": Figure(
        "The arms draw slow long lines over a steady side-step, the torso following them.",
        feet=(step_touch(0, R, 0.2, swing=0.6), step_touch(4, L, 0.2, swing=0.6)),
        arms="low_front low_diag t_side v_up overhead wave_up/t_side t_side low_diag",
        torso=[
            (1.0, (4.0, 0, 0)),
            (3.0, (-8.0, 0.0, -8.0)),
            (4.0, (-12.0, 0, 0)),
            (5.0, (-10.0, 10.0, 8.0)),
            (6.0, (-6.0, 0, 0)),
            (8.0, Z),
        ],
        head=[(3.0, (-12.0, 15.0, 0.0)), (5.0, (-15.0, 0, 0)), (6.0, (0.0, -15.0, 0.0)), (8.0, Z)],
    ),
    "contraction": Figure(
        "Contract down to a low level on 1-3, release and reach up on 5, layout on 6-7.",
        feet=(
            walk(0, [(R, -0.25, 0.05)], swing=0.7),
            walk(4, [(R, 0.0, 0.0)], swing=0.7),
            lunge(5, L, 0.25, -0.1, 2.0),
        ),
        arms="low_front low_front across/low_diag swing_high overhead t_side/v_up low_diag",
        torso=[
            (1.0, (18.0, 0, 0)),
            (2.0, (26.0, 0, 0)),
            (3.0, (20.0, 0, 0)),
            (4.0, (-8.0, 0, 0)),
            (5.0, (-16.0, 0, 0)),
            (6.0, (-14.0, 0.0, 12.0)),
            (8.0, Z),
        ],
        levels=[
            (0.0, 0.0),
            (1.0, -0.1),
            (2.0, -0.2),
            (3.0, -0.18),
            (4.0, 0.0),
            (5.0, 0.03),
            (6.0, -0.06),
            (8.0, 0.0),
        ],
    ),
    "half-turn": Figure(
        "Step-ball-change, a half turn to the left on 3-4, lines to the back, turn home.",
        feet=(
            walk(0, [(R, -0.15, 0.1), (L, 0.0, 0.0)], swing=0.5),
            turn(2, 2, 180.0, pause=False),
            walk(4, [(R, 0.0, 0.0)], heading=180.0),
            turn(5, 2, -180.0, first=R, start_heading=180.0, pause=False),
            walk(7, [(L, 0.0, 0.0)], swing=0.5),
        ),
        arms="low_diag t_side chest v_up t_side frame|v_up low_diag",
        torso=[(1.0, (-6.0, 10.0, 0.0)), (3.0, (-4.0, 0, 0)), (5.0, (-12.0, 0.0, 10.0)), (8.0, Z)],
        levels=[(2.0, 0.0), (3.0, 0.03), (4.0, 0.0), (5.0, -0.06), (6.0, 0.02), (8.0, 0.0)],
    ),
    "fill": Figure(
        "Six counts of jazz walks, then a two-count fill: chasse and a reach into the next eight.",
        feet=(
            walk(0, [(R, 0.1, 0.25), (L, -0.1, 0.5), (R, 0.1, 0.5), (L, 0.0, 0.25)]),
            walk(4, [(R, 0.0, 0.0), (L, 0.0, 0.0)]),
            chasse(6, R, 0.14),
        ),
        arms="low_diag/t_side t_side/low_diag low_diag/t_side v_up low_front frame overhead",
        torso=[
            (1.0, (-6.0, -10.0, 0.0)),
            (2.0, (-6.0, 10.0, 0.0)),
            (3.0, (-6.0, -10, 0.0)),
            (4.0, (-10.0, 0, 0)),
            (6.0, (6.0, 0, 0)),
            (7.0, (-14.0, 0, 0)),
            (8.0, Z),
        ],
        levels=[(5.0, 0.0), (6.0, -0.08), (7.0, 0.03), (8.0, 0.0)],
    ),
}

POPPING = {
    "dime-walk": Figure(
        "Dime-stop walk forward with a hit on every step, then back; chest pops on 2 and 4.",
        feet=(
            walk(0, [(R, 0.0, 0.25), (L, 0.0, 0.5), (R, 0.0, 0.75), (L, 0.0, 0.75)], swing=0.6),
            walk(4, [(R, 0.0, 0.5), (L, 0.0, 0.25), (R, 0.0, 0.0), (L, 0.0, 0.0)], swing=0.6),
        ),
        arms="pop_bent/rest chest rest/pop_bent chest flex/pop_bent pop_bent/flex lock flex",
        torso=alternate((12.0, 0.0, 0.0), (-8.0, 0.0, 0.0), start=2.0, stop=7.0, every=1.0),
        sharp=1.1,
    ),
    "tick-groove": Figure(
        "Arm ticks and waves on every half count over a steady side-step, hits on 2 and 4.",
        feet=(step_touch(0, R, 0.16), step_touch(4, L, 0.16)),
        arms="pop_bent/rest flex/rest elbow_up/pop_bent t_side/flex wave_up/t_side "
        "t_side/wave_up low_diag/t_side flex pop_bent/rest rest/pop_bent lock . "
        "punch_up/pop_bent flex",
        arms_every=0.5,
        torso=alternate((10.0, 0.0, 0.0), (-6.0, 0.0, 0.0), start=2.0, stop=6.0, every=2.0),
    ),
    "robot-turn": Figure(
        "Robot: a quarter turn to the left in two ticks, arm angles held, and back.",
        feet=(
            turn(0, 2, 90.0, per_beat=1.0),
            walk(2, [(R, 0.0, 0.0), (L, 0.0, 0.0)], heading=90.0),
            turn(4, 2, -90.0, first=R, start_heading=90.0, per_beat=1.0),
            walk(6, [(L, 0.15, 0.0), (L, 0.0, 0.0)]),
        ),
        arms="elbow_up/rest elbow_up punch/elbow_up flex/punch lock point_diag/lock flex",
        head=[
            (1.0, (0.0, 30.0, 0.0)),
            (2.0, (0.0, 30.0, 0.0)),
            (3.0, (0.0, -20.0, 0.0)),
            (5.0, (0.0, -30.0, 0.0)),
            (6.0, Z),
            (8.0, Z),
        ],
        sharp=1.2,
    ),
    "half-turn": Figure(
        "Half turn to the right in ticks, fresno hits facing the back, tick round to the front.",
        feet=(
            turn(0, 2, -180.0),
            walk(2, [(L, 0.2, 0.0), (L, 0.0, 0.0)], heading=-180.0),
            turn(4, 2, 180.0, first=L, start_heading=-180.0),
            walk(6, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
        ),
        arms="chest pop_bent/rest rest/pop_bent flex chest pop_bent/flex flex",
        torso=alternate((12.0, 0.0, 0.0), (-6.0, 0.0, 0.0), start=2.0, stop=7.0),
    ),
    "slow-spin": Figure(
        "Fresno on 1-4, then a full turn in eight ticks (dime stops) on 5-8.",
        feet=(
            walk(0, [(R, -0.25, 0.0), (R, 0.0, 0.0), (L, 0.25, 0.0), (L, 0.0, 0.0)]),
            turn(4, 3.9, 360.0, per_beat=2.0),
        ),
        arms="rest/pop_bent rest/flex pop_bent/rest flex/rest elbow_up lock elbow_up",
        torso=alternate((12.0, 0.0, 0.0), (-6.0, 0.0, 0.0), start=1.0, stop=4.0),
        sharp=1.2,
    ),
    "neck-drop": Figure(
        "Pop down to a low level in three hits on 1-3, hold, pop back up on 5-7.",
        feet=(walk(0, [(R, -0.3, 0.0)]), walk(6, [(R, 0.0, 0.0)])),
        arms="pop_bent flex lock lock pop_bent/flex flex/pop_bent flex",
        torso=[
            (1.0, (10.0, 0, 0)),
            (2.0, (16.0, 0, 0)),
            (3.0, (20.0, 0, 0)),
            (4.0, (20.0, 0, 0)),
            (5.0, (10.0, 0, 0)),
            (6.0, (4.0, 0, 0)),
            (8.0, Z),
        ],
        levels=[
            (0.0, 0.0),
            (1.0, -0.06),
            (2.0, -0.12),
            (3.0, -0.18),
            (4.0, -0.18),
            (5.0, -0.12),
            (6.0, -0.06),
            (7.0, 0.0),
        ],
        sharp=1.2,
    ),
    "pose-hits": Figure(
        "Signature poses hit on 1 and 5 and held with the groove breathing; chest pops between.",
        feet=(
            walk(0, [(L, 0.22, 0.0)]),
            walk(3, [(L, 0.0, 0.0)]),
            walk(4, [(R, -0.22, 0.05)]),
            walk(7, [(R, 0.0, 0.0)]),
        ),
        arms="flex . . chest lock|punch_up/pop_bent . . chest",
        torso=[
            (1.0, (-6.0, 15.0, 0.0)),
            (3.0, (-6.0, 15.0, 0.0)),
            (4.0, (12.0, 0, 0)),
            (5.0, (-6.0, -15.0, 0.0)),
            (7.0, (-6.0, -15.0, 0.0)),
            (8.0, Z),
        ],
        sharp=1.3,
    ),
    "fill": Figure(
        "Six counts of fresno, then a two-count fill: quick ticks on 7-and-8 into the next eight.",
        feet=(
            walk(0, [(R, -0.25, 0.0), (R, 0.0, 0.0), (L, 0.25, 0.0), (L, 0.0, 0.0)]),
            walk(4, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
            walk(6, [(L, 0.1, 0.08), (L, 0.0, 0.0), (R, -0.1, 0.08), (R, 0.0, 0.0)], every=0.5),
        ),
        arms="rest/pop_bent rest/flex pop_bent/rest flex/rest pop_bent punch_up/pop_bent elbow_up",
        torso=alternate((12.0, 0.0, 0.0), (-6.0, 0.0, 0.0), start=1.0, stop=6.0),
    ),
}

LOCKING = {
    "point-walk": Figure(
        "Travelling forward with points on every step, a lock on 4, walking back with points.",
        feet=(
            walk(0, [(R, 0.0, 0.3), (L, 0.0, 0.6), (R, 0.0, 0.9), (L, 0.0, 0.9)]),
            walk(4, [(R, 0.0, 0.6), (L, 0.0, 0.3), (R, 0.0, 0.0), (L, 0.0, 0.0)]),
        ),
        arms="point_front/hip hip/point_front point_diag/hip lock point_side/hip "
        "hip/point_side point_diag",
        torso=alternate((-4.0, 15.0, 0.0), (-4.0, -15.0, 0.0), stop=7.0),
    ),
    "which-a-way": Figure(
        "Which-a-way: a quarter turn to the left with a point, back with a lock, then right.",
        feet=(
            turn(0, 2, 90.0, per_beat=1.0),
            turn(2, 2, -90.0, first=R, start_heading=90.0, per_beat=1.0),
            turn(4, 2, -90.0, per_beat=1.0),
            turn(6, 2, 90.0, first=L, start_heading=-90.0, per_beat=1.0),
        ),
        arms="point_side/hip point_diag/hip lock chest hip/point_side hip/point_diag lock",
        head=[
            (1.0, (0.0, 20.0, 0.0)),
            (2.0, (0.0, 20.0, 0.0)),
            (3.0, Z),
            (5.0, (0.0, -20.0, 0.0)),
            (6.0, (0.0, -20.0, 0.0)),
            (7.0, Z),
            (8.0, Z),
        ],
        sharp=1.2,
    ),
    "half-turn": Figure(
        "Scoobot kick, a half turn to the right, lock facing the back, turn home with a point.",
        feet=(
            kick(0, R, 0.28, 0.3),
            turn(2, 2, -180.0, pause=False),
            turn(5, 2, 180.0, start_heading=-180.0, pause=False),
            walk(7, [(R, -0.15, 0.0)], swing=0.5),
        ),
        arms="swing_high/swing_back swing_back/swing_high chest lock lock point_diag/hip "
        "point_front/hip",
        torso=[
            (1.0, (8.0, 10, 0)),
            (2.0, (8.0, -10, 0)),
            (4.0, (-8.0, 0, 0)),
            (5.0, (-8.0, 0, 0)),
            (8.0, Z),
        ],
    ),
    "spin": Figure(
        "Point, point, a full spin to the left on 3-5, freeze in a lock on 6-7.",
        feet=(
            walk(0, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
            turn(2, 3, 360.0),
            walk(6, [(R, -0.2, 0.1)]),
        ),
        arms="point_diag/hip hip/point_diag chest chest flex lock lock",
        torso=[
            (1.0, (-6.0, 15.0, 0.0)),
            (2.0, (-6.0, -15.0, 0.0)),
            (3.0, Z),
            (6.0, (-10.0, 15, 0)),
            (7.0, (-10.0, 15.0, 0.0)),
            (8.0, Z),
        ],
        levels=[(5.0, 0.0), (6.0, -0.1), (7.0, -0.1), (8.0, 0.0)],
    ),
    "roll-groove": Figure(
        "Wrist rolls, points and claps on the half counts over a steady step-touch.",
        feet=(step_touch(0, R, 0.2), step_touch(4, L, 0.2)),
        arms="lock/chest chest/lock lock/chest point_diag/hip clap hip/point_diag lock . "
        "chest/lock lock/chest chest/lock punch_up/hip clap point_front/point_front lock",
        arms_every=0.5,
        torso=alternate((6.0, 10.0, 0.0), (-2.0, -10.0, 0.0), every=2.0),
    ),
    "knee-drop": Figure(
        "Step out and drop to a low level on 3 with the arms locked, hold, rise and point.",
        feet=(
            walk(0, [(R, -0.3, 0.05)]),
            walk(5, [(R, 0.0, 0.0)]),
            walk(6, [(L, 0.2, 0.0), (L, 0.0, 0.0)]),
        ),
        arms="point_down/hip lock lock . punch_up/hip point_diag/hip hip/point_diag",
        torso=[
            (1.0, (8.0, 0, 0)),
            (2.0, (16.0, 0, 0)),
            (4.0, (16.0, 0, 0)),
            (5.0, (-10.0, 15, 0)),
            (6.0, (0.0, -15, 0)),
            (8.0, Z),
        ],
        levels=[(1.0, 0.0), (2.0, -0.12), (3.0, -0.2), (4.0, -0.2), (5.0, -0.05), (6.0, 0.0)],
    ),
    "lock-pose": Figure(
        "Signature locks hit on 1 and 5 and frozen, points and claps between, release on 8.",
        feet=(
            walk(0, [(R, -0.2, 0.0)]),
            walk(3, [(R, 0.0, 0.0)]),
            walk(4, [(L, 0.2, 0.0)]),
            walk(7, [(L, 0.0, 0.0)]),
        ),
        arms="lock . . point_diag/hip lock|flex . . clap",
        torso=[
            (1.0, (-10.0, 15.0, 0.0)),
            (3.0, (-10.0, 15.0, 0.0)),
            (4.0, (6.0, 0, 0)),
            (5.0, (-10.0, -15.0, 0.0)),
            (7.0, (-10.0, -15.0, 0.0)),
            (8.0, Z),
        ],
        levels=[
            (0.0, 0.0),
            (1.0, -0.06),
            (3.0, -0.06),
            (4.0, 0.0),
            (5.0, -0.06),
            (7.0, -0.06),
            (8.0, 0.0),
        ],
        sharp=1.4,
    ),
    "fill": Figure(
        "Six counts of scoobot kicks, then a two-count fill: kick-ball-change and a point.",
        feet=(
            kick(0, R, 0.22, 0.25),
            kick(2, L, 0.22, 0.25),
            walk(4, [(R, -0.2, 0.0), (R, 0.0, 0.0)]),
            kick_ball_change(6, R, 0.15),
        ),
        arms="swing_high/swing_back swing_back/swing_high swing_high/swing_back "
        "swing_back/swing_high lock point_diag/hip lock",
        torso=alternate((8.0, 10.0, 0.0), (8.0, -10.0, 0.0), stop=6.0),
    ),
}

WALTZ_ARMS = 1.5
WALTZ = {
    "full-turn": Figure(
        "A box step turning a full circle to the right (natural), rise and fall on each bar.",
        feet=(box(0, 0.2, 0.22, -360.0, swing=0.8),),
        arms="frame/frame_hold . . frame/frame_hold . . ",
        arms_start=1.0,
        arms_every=WALTZ_ARMS / 1.5,
        torso=[(1.0, (-8.0, 0.0, -10.0)), (2.5, (-4.0, 0, 0)), (4.0, (-8.0, 0.0, 10.0)), (6.0, Z)],
        counts=6,
        meter=3,
    ),
    "twinkle": Figure(
        "Twinkle: forward, side, close; back, back, close, with a sway each way.",
        feet=(
            walk(
                0, [(L, 0.0, 0.28), (R, -0.1, 0.4), (L, -0.1, 0.4)], every=1.0, swing=0.85, lift=1.1
            ),
            walk(
                3, [(R, 0.0, 0.12), (L, 0.0, 0.0), (R, 0.0, 0.0)], every=1.0, swing=0.85, lift=1.1
            ),
        ),
        arms="frame/frame_hold v_up/frame_hold frame/frame_hold t_side/frame",
        arms_start=1.0,
        arms_every=1.5,
        torso=[(1.0, (-6.0, 0.0, 12.0)), (2.5, (-4.0, 0, 0)), (4.0, (-6.0, 0.0, -12.0)), (6.0, Z)],
        head=[(1.0, (-8.0, -25.0, 0.0)), (4.0, (-8.0, 25.0, 0.0)), (6.0, Z)],
        counts=6,
        meter=3,
    ),
    "port-de-bras": Figure(
        "A balance side to side with the weight over each foot while the arms sweep high.",
        feet=(
            walk(0, [(L, 0.28, 0.0)], swing=0.85, lift=1.1),
            taps(1, [(R, 0.15, -0.06)], every=1.0),
            walk(3, [(L, 0.0, 0.0)], swing=0.85, lift=1.1),
        ),
        arms="low_diag v_up/low_diag overhead/t_side t_side low_diag/v_up",
        arms_start=1.0,
        arms_every=1.0,
        torso=[
            (1.0, (-6.0, 0.0, 14.0)),
            (2.5, (-10.0, 0, 8.0)),
            (4.0, (-6.0, 0.0, -10.0)),
            (6.0, Z),
        ],
        head=[(1.0, (-10.0, 30.0, 0.0)), (4.0, (-10.0, -20.0, 0.0)), (6.0, Z)],
        counts=6,
        meter=3,
    ),
    "hesitation": Figure(
        "Step forward and hesitate: a slow fall to a low level through 2-3, rise back on 4-6.",
        feet=(
            walk(0, [(L, 0.0, 0.3)], swing=0.85, lift=1.1),
            walk(3, [(L, 0.0, 0.0)], swing=0.85, lift=1.1),
            walk(4, [(R, 0.0, 0.0)], swing=0.8, lift=0.9),
        ),
        arms="frame/frame_hold low_diag t_side/low_diag v_up frame/frame_hold",
        arms_start=1.0,
        arms_every=1.0,
        torso=[
            (1.0, (-6.0, 10.0, 0.0)),
            (2.0, (8.0, 0, 0)),
            (3.0, (12.0, 0, 0)),
            (4.0, (-8.0, -10.0, 0.0)),
            (6.0, Z),
        ],
        levels=[(1.0, 0.0), (2.0, -0.1), (3.0, -0.14), (4.0, -0.02), (5.0, 0.02), (6.0, 0.0)],
        counts=6,
        meter=3,
    ),
    "spin-turn": Figure(
        "A half turn to the right in three steps, then three steps turning back to the front.",
        feet=(
            turn(0, 3, -180.0, per_beat=1.0),
            turn(3, 3, 180.0, start_heading=-180.0, per_beat=1.0),
        ),
        arms="frame/frame_hold . v_up/t_side frame/frame_hold",
        arms_start=1.0,
        arms_every=1.5,
        torso=[(1.0, (-8.0, 0.0, -10.0)), (2.5, (-4.0, 0, 0)), (4.0, (-8.0, 0.0, 10.0)), (6.0, Z)],
        counts=6,
        meter=3,
    ),
    "chasse": Figure(
        "Waltz chasse: forward, side-close-side (2-and-3) travelling left, and back.",
        feet=(
            walk(0, [(L, 0.0, 0.2), (R, 0.2, 0.2)], swing=0.8, lift=1.1),
            walk(2, [(L, 0.4, 0.2), (R, 0.4, 0.2)], every=0.5, lift=1.0),
            walk(3, [(L, 0.2, 0.0), (R, 0.0, 0.0), (L, 0.0, 0.0)], swing=0.8, lift=1.0),
        ),
        arms="frame/frame_hold . t_side/frame frame/frame_hold",
        arms_start=1.0,
        arms_every=1.5,
        torso=[
            (1.0, (-6.0, 10.0, 10.0)),
            (3.0, (-4.0, 0, 0)),
            (4.0, (-6.0, -10.0, -10.0)),
            (6.0, Z),
        ],
        counts=6,
        meter=3,
    ),
    "open-pose": Figure(
        "Signature open poses on the steps out (2 and 5): step out into a promenade line, hold, "
        "close.",
        feet=(
            walk(0, [(R, -0.3, 0.1)], swing=0.85, lift=1.1),
            walk(2, [(R, 0.0, 0.0)], swing=0.85, lift=1.1),
            walk(3, [(L, 0.3, 0.1)], swing=0.85, lift=1.1),
            walk(5, [(L, 0.0, 0.0)], swing=0.8, lift=0.9),
        ),
        arms="t_side/v_up . frame/frame_hold v_up/t_side frame/frame_hold",
        torso=[
            (1.0, (-12.0, -15.0, -8.0)),
            (2.0, (-12.0, -15.0, -8.0)),
            (3.0, Z),
            (4.0, (-12.0, 15.0, 8.0)),
            (5.0, (-12.0, 15.0, 8.0)),
            (6.0, Z),
        ],
        head=[
            (1.0, (-12.0, -30.0, 0.0)),
            (2.0, (-12.0, -30.0, 0.0)),
            (3.0, Z),
            (4.0, (-12.0, 30.0, 0.0)),
            (5.0, (-12.0, 30.0, 0.0)),
            (6.0, Z),
        ],
        counts=6,
        meter=3,
    ),
    "fill": Figure(
        "Four counts of box, then a two-count lead-in: a rise with the arms sweeping up.",
        feet=(
            walk(
                0,
                [(L, 0.0, 0.25), (R, -0.25, 0.25), (L, -0.23, 0.25), (R, -0.25, 0.0)],
                swing=0.85,
                lift=1.1,
            ),
            walk(4, [(L, 0.0, 0.0), (R, 0.0, 0.0)], every=0.8, swing=0.8, lift=1.1),
        ),
        arms="frame/frame_hold . frame/frame_hold low_diag v_up",
        arms_start=1.0,
        arms_every=1.1,
        torso=[
            (1.0, (-8.0, 0.0, -10.0)),
            (2.5, (-4.0, 0, 0)),
            (4.0, (-6.0, 0, 0)),
            (5.0, (-12.0, 0, 0)),
            (6.0, Z),
        ],
        levels=[(3.5, 0.0), (4.5, -0.06), (5.5, 0.03), (6.0, 0.0)],
        counts=6,
        meter=3,
    ),
}

FIGURES = {
    "hiphop": HIPHOP,
    "house": HOUSE,
    "pop": POP,
    "jazz": JAZZ,
    "popping": POPPING,
    "locking": LOCKING,
    "waltz": WALTZ,
}


Move = Callable[[Energy, np.random.Generator], Choreo]


@dataclass(frozen=True)
class Style:
    """A style of the starter library: its tempo range (BPM), meter, and moves."""

    name: str
    tempo_bpm: tuple[float, float]
    meter: int
    moves: dict[str, Move]
    tags: tuple[str, ...] = ()


def _with_figures(style: Style) -> Style:
    """``style`` with its figure moves (``FIGURES``) after the hand-written ones."""
    figures = {name: f.move(FLAVORS[style.name]) for name, f in FIGURES[style.name].items()}
    return Style(style.name, style.tempo_bpm, style.meter, {**style.moves, **figures}, style.tags)


STYLES: dict[str, Style] = {
    style.name: _with_figures(style)
    for style in (
        Style("hiphop", (88.0, 102.0), 4, {
            "step-touch": hiphop_step_touch, "rock": hiphop_rock,
            "kick-ball-change": hiphop_kick_ball_change, "two-step": hiphop_two_step,
        }, ("down-groove",)),
        Style("house", (118.0, 126.0), 4, {
            "jack-taps": house_jack_taps, "skate": house_skate, "shuffle": house_shuffle,
            "knee-loft": house_knee_loft,
        }, ("up-groove", "footwork")),
        Style("pop", (102.0, 124.0), 4, {
            "step-clap": pop_step_clap, "hip-wave": pop_hip_wave, "point-walk": pop_point_walk,
            "box-arms": pop_box_arms,
        }, ("sharp",)),
        Style("jazz", (108.0, 132.0), 4, {
            "chasse": jazz_chasse, "jazz-square": jazz_square, "kick-turn": jazz_kick_turn,
            "layout": jazz_layout,
        }, ("long-lines",)),
        Style("popping", (92.0, 106.0), 4, {
            "fresno": popping_fresno, "arm-wave": popping_arm_wave, "robot": popping_robot,
            "chest-walk": popping_chest_walk,
        }, ("hits",)),
        Style("locking", (100.0, 116.0), 4, {
            "point-lock": locking_point_lock, "scoobot": locking_scoobot,
            "wrist-roll": locking_wrist_roll, "stop-and-go": locking_stop_and_go,
        }, ("locks", "freezes")),
        Style("waltz", (84.0, 96.0), 3, {
            "box": waltz_box, "balance": waltz_balance, "natural-turn": waltz_natural_turn,
            "promenade": waltz_promenade,
        }, ("3/4", "rise-and-fall")),
    )
}  # fmt: skip
