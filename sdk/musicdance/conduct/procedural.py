"""A procedural conductor: the textbook beat patterns, driven by the beats, loudness and onsets.

No conducting capture is available to train on, so the corpus for M2S-Net / M2S-GAN is made the
way the starter dance library was: by rule, from what a conducting textbook prescribes
(``docs/conducting.md`` compares it with the textbook and shows the baton path per meter):

- **Beat patterns** (right hand, the baton): 2/4 down-up, 3/4 down-out-up, 4/4
  down-in-out-up, 6/8 (in six) down-in-in-out-out-up. Every ictus (the beat point) lies on the
  "ictus line", the downbeat lowest, each beat bounces out of its ictus like a ball (constant
  acceleration into the ictus, a sharp turn at it), and the last beat of the bar rebounds high
  (the upbeat rises) to fall into the next downbeat.
- **Ictus on the beat**: the turn of the bounce is at the beat time.
- **Size from loudness**: the pattern scales with the loudness (piano small, forte large).
- **Articulation from onset density**: many onsets per beat (short notes) make a staccato
  stroke (quick bounce, a stop at the top, quick fall); few make a legato one (continuous).
- **Left hand**: at rest by the waist; it cues each new section (rises and points a beat
  before it), shapes dynamics (rises palm up in a crescendo, sinks in a diminuendo) and mirrors
  the baton only in the loudest passages.
- **Preparation beat**: before the first beat the hands are raised (attention), then one beat
  at the tempo rises and falls into the first ictus.
- **Fermatas on long silences**: the baton rises, holds still through the silence and gives a
  new preparation beat into the next entry; at the end, a cut-off and the hands go down.

Legs keep a stable stance; the torso dips a little with each ictus and turns to cues; the head
nods on downbeats. Every random choice (the conductor's "personality") takes the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicdance.conduct.features import MusicReading
from musicdance.conduct.keypoints import MOTION_FPS, ArmTargets, pose_from_targets
from musicdance.errors import MusicDanceError
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.ik import two_bone_ik
from musicdance.motion.motion import Motion

__all__ = ["BEAT_PATTERNS", "ConductingScore", "Personality", "conduct_procedural"]

#: Ictus points of the right hand per meter, (u, v) in metres for a medium-sized pattern:
#: u towards the conductor's right (outwards for the baton hand), v up, relative to the focal
#: point in front of the chest. Beat 1 (the downbeat) is the lowest; the last beat is the
#: highest before the rebound into beat 1.
BEAT_PATTERNS: dict[int, tuple[tuple[float, float], ...]] = {
    2: ((0.0, -0.16), (0.07, -0.10)),
    3: ((0.0, -0.16), (0.20, -0.12), (0.07, -0.05)),
    4: ((0.0, -0.16), (-0.15, -0.12), (0.21, -0.12), (0.07, -0.05)),
    6: ((0.0, -0.16), (-0.08, -0.13), (-0.15, -0.11), (0.16, -0.13), (0.23, -0.11),
        (0.07, -0.05)),
}  # fmt: skip


@dataclass
class ConductingScore:
    """What the conductor follows: beat times (seconds) with their bar positions (1 = the
    downbeat), the meter (2, 3, 4 or 6), section starts (cues) and the music reading."""

    duration_s: float
    beat_times_s: np.ndarray
    beat_positions: np.ndarray
    meter: int
    section_starts_s: np.ndarray
    reading: MusicReading


@dataclass(frozen=True)
class Personality:
    """A conductor's style, drawn from a seed: pattern size, rebound, focal point (metres),
    body sway, left-hand activity."""

    size: float
    rebound: float
    focal_m: tuple[float, float, float]
    sway: float
    left_activity: float

    @classmethod
    def from_seed(cls, seed: int) -> Personality:
        rng = np.random.default_rng(seed)
        return cls(
            size=float(rng.uniform(0.8, 1.2)),
            rebound=float(rng.uniform(0.7, 1.1)),
            focal_m=(
                float(rng.uniform(-0.13, -0.07)),
                float(rng.uniform(1.16, 1.24)),
                float(rng.uniform(0.26, 0.32)),
            ),  # fmt: skip
            sway=float(rng.uniform(0.5, 1.5)),
            left_activity=float(rng.uniform(0.4, 1.0)),
        )


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _staccato(phi: np.ndarray) -> np.ndarray:
    """Staccato timing: the bounce in the first 30 % of the beat, a stop at the top, the fall
    in the last 30 %."""
    rise = 1 - (1 - np.clip(phi / 0.3, 0, 1)) ** 2
    fall = np.clip((phi - 0.7) / 0.3, 0, 1) ** 2
    return 0.5 * rise + 0.5 * fall


def _beats_outside_silences(score: ConductingScore) -> tuple[np.ndarray, np.ndarray]:
    times, positions = score.beat_times_s, score.beat_positions
    keep = np.ones(len(times), dtype=bool)
    for start, stop in score.reading.silences_s:
        keep &= ~((times > start + 0.05) & (times < stop - 0.05))
    return np.asarray(times[keep], float), np.asarray(positions[keep], int)


def _baton_path(score: ConductingScore, who: Personality, t: np.ndarray) -> tuple:
    """Right-hand (u, v, depth) ``[T]`` each, metres, and the per-frame pattern size."""
    pattern = BEAT_PATTERNS[score.meter]
    times, positions = _beats_outside_silences(score)
    loud = score.reading.loudness
    frame = np.clip(np.round(t * MOTION_FPS).astype(int), 0, len(loud) - 1)
    size_t = who.size * (0.45 + 0.9 * loud[frame])
    period = float(np.median(np.diff(times))) if len(times) > 1 else 0.5
    u = np.zeros_like(t)
    v = np.zeros_like(t)
    depth = np.zeros_like(t)
    onsets = score.reading.onset_times_s
    meter = score.meter

    def ictus(position: int) -> np.ndarray:
        return np.asarray(pattern[(position - 1) % meter])

    def segment(mask, t0, t1, p_from, p_to, size, hold=False):
        phi = (t[mask] - t0) / max(t1 - t0, 1e-6)
        count = np.count_nonzero((onsets >= t0) & (onsets < t1)) * period / max(t1 - t0, 1e-6)
        artic = float(np.clip((count - 1.0) / 2.0, 0.0, 1.0))
        warp = (1 - artic) * phi + artic * _staccato(phi)
        if hold:  # a fermata: rise over half a beat, hold, prepare over the last beat
            rise = min(0.5 * period / (t1 - t0), 0.5)
            prep = min(period / (t1 - t0), 0.5)
            warp = np.where(
                phi < rise,
                0.5 * phi / rise,
                np.where(phi < 1 - prep, 0.5, 0.5 + 0.5 * (phi - (1 - prep)) / prep),
            )
        a, b = ictus(p_from) * size, ictus(p_to) * size
        last = (p_from - 1) % meter == meter - 1
        height = who.rebound * size * (0.22 if (last or hold) else 0.10) * (1 - 0.35 * artic)
        u[mask] = a[0] + (b[0] - a[0]) * _smoothstep(warp)
        v[mask] = a[1] + (b[1] - a[1]) * warp + height * 4 * warp * (1 - warp)
        depth[mask] = 0.04 * size * np.sin(np.pi * warp)

    if len(times) == 0:  # no beats: stand at attention
        u[:], v[:] = 0.05, 0.08
        return u, v, depth, size_t
    # preparation: attention at the ictus of the beat before the first, then that beat at the
    # tempo (a rebound up and a fall) into the first ictus
    prep_t = times[0] - period
    first_size = float(size_t[min(int(round(times[0] * MOTION_FPS)), len(size_t) - 1)])
    ready = ictus(positions[0] - 1) * first_size
    before = t < prep_t
    u[before], v[before] = ready[0], ready[1]
    mask = (t >= prep_t) & (t < times[0])
    if mask.any():
        segment(mask, prep_t, times[0], positions[0] - 1, positions[0], first_size)
    for k in range(len(times) - 1):
        t0, t1 = times[k], times[k + 1]
        mask = (t >= t0) & (t < t1)
        if not mask.any():
            continue
        size = float(size_t[min(int(round(t0 * MOTION_FPS)), len(size_t) - 1)])
        hold = (t1 - t0) > 1.8 * period
        segment(mask, t0, t1, positions[k], positions[k + 1], size, hold=hold)
    # the end: a last rebound, a held release, the hands go down
    end = times[-1]
    mask = t >= end
    if mask.any():
        size = float(size_t[min(int(round(end * MOTION_FPS)), len(size_t) - 1)])
        a = ictus(positions[-1]) * size
        phi = np.clip((t[mask] - end) / (0.6 * period), 0, 1)
        top = a + np.array([0.0, 0.18 * size])
        lower = _smoothstep((t[mask] - end - period) / 1.5)
        rest = np.array([0.02, -0.30])
        u[mask] = a[0] + (top[0] - a[0]) * phi + (rest[0] - top[0]) * lower
        v[mask] = a[1] + (top[1] - a[1]) * (1 - (1 - phi) ** 2) + (rest[1] - top[1]) * lower
    return u, v, depth, size_t


def _gauss_bumps(t: np.ndarray, centres: np.ndarray, width_s: float) -> np.ndarray:
    if len(centres) == 0:
        return np.zeros_like(t)
    d = (t[:, None] - np.asarray(centres)[None, :]) / width_s
    return np.exp(-0.5 * d * d).max(axis=1)


def _smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    radius = max(1, int(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    k /= k.sum()
    pad = np.pad(x, [(radius, radius)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    return np.apply_along_axis(lambda c: np.convolve(c, k, mode="valid"), 0, pad)


def conduct_procedural(score: ConductingScore, seed: int = 0, fps: float = MOTION_FPS) -> Motion:
    """Conduct ``score`` on the canonical skeleton at ``fps`` (30): the song's length, upper
    body only (legs in a stable stance), the baton (right) hand leading."""
    if score.meter not in BEAT_PATTERNS:
        raise MusicDanceError(f"no beat pattern for meter {score.meter} (have 2, 3, 4, 6)")
    if fps != MOTION_FPS:
        raise MusicDanceError(f"the conductor runs at {MOTION_FPS:g} fps")
    who = Personality.from_seed(seed)
    skeleton = canonical_skeleton()
    n = len(score.reading.loudness)
    t = np.arange(n) / fps
    u, v, depth, size_t = _baton_path(score, who, t)
    fx, fy, fz = who.focal_m
    right = np.stack([fx - u, fy + v, fz + depth], axis=-1)
    right = _smooth(right, 0.8)

    # left hand: rest, cues before sections, dynamics, mirroring in the loudest passages
    loud = score.reading.loudness
    times, positions = _beats_outside_silences(score)
    period = float(np.median(np.diff(times))) if len(times) > 1 else 0.5
    cues = np.asarray([s for s in score.section_starts_s if s > (times[0] if len(times) else 0)])
    cue = _gauss_bumps(t, cues - 0.5 * period, max(period, 0.3)) * who.left_activity
    look = int(round(2.0 * fps))
    ahead = np.concatenate([loud[look:], np.full(min(look, n), loud[-1])])[:n] - loud
    dynamics = np.clip(ahead * 2.0, -0.6, 0.6) * who.left_activity
    mirror = _smoothstep((loud - 0.8) / 0.15) * who.left_activity
    rest = np.array([0.24, 1.00, 0.16])
    cue_pose = np.array([0.40, 1.38, 0.34])
    mirrored = np.stack([-fx + u, fy + v, fz + depth], axis=-1) * np.array([1, 1, 1])
    left = rest + cue[:, None] * (cue_pose - rest)
    left = left + (mirror * (1 - cue))[:, None] * (mirrored - left)
    left[:, 1] += 0.22 * dynamics * (1 - cue)
    left[:, 2] += 0.12 * np.abs(dynamics) * (1 - cue)
    started = (t >= (times[0] - period - 1.0)) if len(times) else np.ones(n, bool)
    raised = _smoothstep((t - (times[0] - period - 1.0)) / 0.8) if len(times) else np.ones(n)
    attention = np.array([0.30, 1.22, 0.30])
    left = np.where(started[:, None], left, rest)
    first = (t < times[0]) if len(times) else np.zeros(n, bool)
    left[first] = rest + raised[first, None] * (attention - rest)
    left = _smooth(left, 2.0)

    # torso and head: a dip with each ictus, a turn to the cues, a nod on the downbeats
    ictus_pulse = _gauss_bumps(t, times, 0.06) * np.clip(size_t, 0, 2)
    downbeats = times[positions == 1] if len(times) else times
    nod = _gauss_bumps(t, downbeats + 0.05, 0.10)
    bar_phase = np.interp(t, downbeats, np.arange(len(downbeats))) if len(downbeats) > 1 else t
    spine = np.stack([
        6.0 + 2.5 * ictus_pulse + 3.0 * loud,
        6.0 * cue,
        -4.0 * u / 0.25 + 1.5 * who.sway * np.sin(np.pi * bar_phase),
    ], axis=-1)  # fmt: skip
    head = np.stack([-4.0 + 5.0 * nod - 4.0 * cue, 10.0 * cue, np.zeros(n)], axis=-1)
    root = np.tile(skeleton.rest_positions_m()[0], (n, 1))
    root[:, 0] += 0.012 * who.sway * np.sin(np.pi * bar_phase)
    root[:, 1] -= 0.006 * ictus_pulse

    upper_m = float(np.linalg.norm(skeleton.offsets_m[skeleton.index("LeftLowerArm")]))
    lower_m = float(np.linalg.norm(skeleton.offsets_m[skeleton.index("LeftHand")]))

    def reaching_arms(torso: np.ndarray) -> dict[str, ArmTargets]:
        arms = {}
        for side, wrist in (("Right", right), ("Left", left)):
            sign = 1.0 if side == "Left" else -1.0
            shoulder = torso[:, skeleton.index(f"{side}UpperArm")]
            pole = np.broadcast_to(np.array([0.8 * sign, -0.6, -0.25]), wrist.shape)
            elbow = two_bone_ik(shoulder, wrist, pole, upper_m, lower_m, soft_from=0.95)
            reach = wrist - shoulder
            dist = np.linalg.norm(reach, axis=-1, keepdims=True)
            wrist = shoulder + reach / dist * np.minimum(dist, 0.999 * (upper_m + lower_m))
            arms[side] = ArmTargets(wrist_m=wrist, elbow_m=elbow)
        return arms

    return pose_from_targets(skeleton, root, spine, head, reaching_arms, fps)
