"""The starter library's dance vocabulary: seven styles, four moves each, at any energy.

Each move is a function ``(Energy, rng) -> Choreo`` written for one eight (six counts for the
waltz) that starts and ends in the neutral stance with the arms at rest, so phrases join. The
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

from musicdance.library.procedural.routine import STANCE_HALF_WIDTH_M, Choreo, Step

W = STANCE_HALF_WIDTH_M
LEFT, RIGHT = 0, 1


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
        groove_depth_m=0.085 * e.depth,
        arm_amplitude=0.85 * e.amp,
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
        groove_depth_m=0.085 * e.depth,
        levels=[(0.0, 0.0), (1.0, -0.05), (3.0, -0.05), (5.0, -0.05), (7.0, 0.0)],
        arm_amplitude=0.85 * e.amp,
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
        groove_depth_m=0.085 * e.depth,
        arm_amplitude=0.85 * e.amp,
    )


def house_knee_loft(e: Energy, rng: np.random.Generator) -> Choreo:
    """Knee lifts on 2, 4, 6, 8 with lofting arms that float up and open."""
    knee = 0.24 + 0.12 * e.level
    steps = []
    for k, b in enumerate((0.5, 2.5, 4.5, 6.5)):
        foot = RIGHT if k % 2 == 0 else LEFT
        end = b + 1.0 if k < 3 else 7.95
        steps.append(Step(foot, b, end, home(foot), lift_m=knee, apex_xz_m=(0.0, 0.18)))
    arms = per_count(
        [("clap", "clap"), ("v_up", "v_up"), ("clap", "clap"), ("overhead", "overhead"),
         ("punch", "punch"), ("wave_up", "t_side"), ("t_side", "wave_up")],
        start=1.0,
    )  # fmt: skip
    return Choreo(
        steps=steps,
        arms=closed(arms, 8),
        arm_hold=0.5 * e.hold,
        torso=[(b, (12.0 if b % 2 else -4.0, 0.0, 0.0)) for b in range(9)],
        head=nods(8, 8.0),
        groove="up",
        groove_depth_m=0.085 * e.depth,
        arm_amplitude=0.85 * e.amp,
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
        arm_amplitude=0.9 * e.amp,
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
        arm_amplitude=0.9 * e.amp,
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
        arm_amplitude=0.9 * e.amp,
    )  # fmt: skip


def pop_box_arms(e: Energy, rng: np.random.Generator) -> Choreo:
    """A box step (cross, back, side, forward) with sharp arm shapes on every count."""
    s = 0.22 * e.step
    steps = []
    for bar in (0, 4):
        last = bar + 4.0 if bar == 0 else 7.95
        steps += [
            Step(RIGHT, bar + 0.45, bar + 1.0, home(LEFT, -0.04, 0.16), lift_m=e.lift),
            Step(LEFT, bar + 1.45, bar + 2.0, home(LEFT, 0.04, -s), lift_m=e.lift),
            Step(RIGHT, bar + 2.45, bar + 3.0, home(RIGHT, -s * 0.6), lift_m=e.lift),
            Step(LEFT, bar + 3.45, bar + 3.95, home(LEFT), lift_m=e.lift),
            Step(RIGHT, bar + 3.96, last, home(RIGHT), lift_m=0.02, weight=False),
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
        arm_amplitude=0.9 * e.amp,
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
        Step(LEFT, 0.0, 0.9, home(LEFT, 0.0, s), lift_m=0.04),
        Step(RIGHT, 1.0, 1.9, home(RIGHT, -0.25, s), lift_m=0.04),
        Step(LEFT, 2.0, 2.9, home(LEFT, -0.25 + 0.02, s), lift_m=0.03),
        Step(RIGHT, 3.0, 3.9, home(RIGHT, -0.25, 0.0), lift_m=0.04),
        Step(LEFT, 4.0, 4.9, home(LEFT), lift_m=0.04),
        Step(RIGHT, 5.0, 5.9, home(RIGHT), lift_m=0.03),
    ]
    open_arm = "frame" if rng.random() < 0.6 else "v_up"
    arms = [(0.5, "frame", "frame_hold"), (2.0, open_arm, "frame_hold"),
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
        groove_depth_m=0.1 * e.depth,
        arm_amplitude=1.1 * e.amp,
    )  # fmt: skip


def waltz_balance(e: Energy, rng: np.random.Generator) -> Choreo:
    """Balance left (side, close, in place) and right, swaying, arms opening."""
    s = 0.3 * e.step
    steps = [
        Step(LEFT, 0.1, 0.9, home(LEFT, s), lift_m=0.05),
        Step(RIGHT, 1.1, 1.9, home(RIGHT, s - 0.02, -0.08), lift_m=0.04, weight=False),
        Step(RIGHT, 2.1, 2.9, home(RIGHT), lift_m=0.04, weight=False),
        Step(RIGHT, 3.1, 3.9, home(RIGHT, -s), lift_m=0.05),
        Step(LEFT, 4.1, 4.9, home(LEFT, -s + 0.02, -0.08), lift_m=0.04, weight=False),
        Step(LEFT, 5.1, 5.9, home(LEFT), lift_m=0.04, weight=False),
    ]
    arms = [(1.0, "v_up", "low_diag"), (2.5, "t_side", "t_side"), (4.0, "low_diag", "v_up"),
            (5.5, "wave_up", "wave_up")]  # fmt: skip
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
        Step(LEFT, 0.0, 0.9, at(LEFT, 0.0, s, 0.3 * turn), yaw_deg=0.3 * turn + 8, lift_m=0.04),
        Step(RIGHT, 1.0, 1.9, at(RIGHT, -0.25, s, 0.6 * turn), yaw_deg=0.6 * turn - 8),
        Step(LEFT, 2.0, 2.9, at(LEFT, -0.23, s, 0.8 * turn), yaw_deg=0.8 * turn + 8),
        Step(RIGHT, 3.0, 3.9, at(RIGHT, -0.25, 0.05, turn), yaw_deg=turn - 8),
        Step(LEFT, 4.0, 4.9, at(LEFT, 0.0, 0.05, turn), yaw_deg=turn + 8),
        Step(RIGHT, 5.0, 5.9, at(RIGHT, 0.0, 0.05, turn), yaw_deg=turn - 8, lift_m=0.03),
    ]
    arms = [(0.5, "frame", "frame_hold"), (3.5, "frame", "frame_hold"), (5.0, "v_up", "t_side")]
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
        groove_depth_m=0.1 * e.depth,
        arm_amplitude=1.1 * e.amp,
    )  # fmt: skip


def waltz_promenade(e: Energy, rng: np.random.Generator) -> Choreo:
    """Gliding forward three steps with the arms opening wide, three steps back."""
    s = 0.26 * e.step
    steps = [
        Step(LEFT, 0.0, 0.9, home(LEFT, 0.0, s), lift_m=0.05),
        Step(RIGHT, 1.0, 1.9, home(RIGHT, 0.0, 2 * s), lift_m=0.05),
        Step(LEFT, 2.0, 2.9, home(LEFT, 0.0, 2 * s), lift_m=0.03),
        Step(RIGHT, 3.0, 3.9, home(RIGHT, 0.0, s), lift_m=0.05),
        Step(LEFT, 4.0, 4.9, home(LEFT), lift_m=0.05),
        Step(RIGHT, 5.0, 5.9, home(RIGHT), lift_m=0.03),
    ]
    arms = [(1.0, "low_diag", "low_diag"), (2.5, "v_up", "v_up"), (4.0, "t_side", "t_side"),
            (5.5, "overhead", "wave_up")]  # fmt: skip
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
        groove_depth_m=0.11 * e.depth,
        arm_amplitude=1.1 * e.amp,
    )  # fmt: skip


Move = Callable[[Energy, np.random.Generator], Choreo]


@dataclass(frozen=True)
class Style:
    """A style of the starter library: its tempo range (BPM), meter, and moves."""

    name: str
    tempo_bpm: tuple[float, float]
    meter: int
    moves: dict[str, Move]
    tags: tuple[str, ...] = ()


STYLES: dict[str, Style] = {
    style.name: style
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
