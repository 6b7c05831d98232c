"""The starter library's real-capture style: ``contemporary``, cut from CMU subject 5.

Sixteen short takes of one modern/ballet dancer (``bvh/cmu05/``) and ``cmu-iclone_005_02``
from the CMU Graphics Lab Motion Capture Database, as found in ``../shared/data``. The build
is a recipe, applied the same way every time:

1. each take is read and retargeted by the library importer's own path
   (``musicdance.library.importer``), flickers of the capture's solve are mended
   (``repair_flicker``: a raised thigh flipping by up to 178 degrees for a few frames and
   back), its still stretches before and after the dance are
   trimmed (the dancer stands for up to 4 s before starting) and its feet are put on the floor
   (the ``CC_Base`` legs, which point up at rest, get their twist about the bone from the
   retargeter: ``musicdance.motion.retarget``);
2. it is cut into eights at the tempo written in ``CONTEMPORARY_TAKES`` (the takes have no
   music; each tempo was chosen from the take's kinematic beats and its preview);
3. every phrase is validated (``musicdance.library.validate``) and curated by the rules in
   ``CURATION_LIMITS``: phrases shorter than an eight, with a validation error, with feet
   sliding, joints moving or accelerating implausibly fast, pose breaks (one-frame jumps), floor
   work the standing rig cannot dance, or hardly any movement are rejected, with the figure
   that rejected them;
4. the accepted phrases and their mirror images are ``approved``.

The data's terms (CMU): free to use in products, including commercial ones; the data itself,
even converted, may not be resold. ``phrase_library/LICENSE-CMU.md`` carries the notice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from musicdance.errors import MusicDanceError
from musicdance.library.importer import LIBRARY_FPS, phrases_from_take
from musicdance.library.phrase import ANKLES, FOOT_POINTS, HANDS, Phrase, mirror_phrase
from musicdance.library.validate import validate_phrase
from musicdance.motion.analysis import foot_skating_mps, joint_speeds_mps
from musicdance.motion.canonical import CANONICAL_JOINTS, canonical_skeleton
from musicdance.motion.motion import Motion, resample, slice_frames
from musicdance.motion.quat import quat_angle, quat_slerp

__all__ = [
    "CMU_ACKNOWLEDGEMENT",
    "CMU_LICENCE",
    "CMU_NOTICE",
    "CMU_NOTICE_NAME",
    "CONTEMPORARY_STYLE",
    "CONTEMPORARY_TAKES",
    "CURATION_LIMITS",
    "CurationResult",
    "Take",
    "contemporary_phrases",
    "curation_figures",
    "prepare_take",
    "repair_flicker",
    "rejection_reasons",
    "takes_present",
    "write_cmu_notice",
]

CONTEMPORARY_STYLE = "contemporary"
CMU_ACKNOWLEDGEMENT = (
    "The data used in this project was obtained from mocap.cs.cmu.edu. "
    "The database was created with funding from NSF EIA-0196217."
)
CMU_LICENCE = (
    "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu): free to use in products; "
    "the data itself may not be resold (see LICENSE-CMU.md)"
)


#: Written beside the phrases (``write_cmu_notice``) wherever a library holds them.
CMU_NOTICE_NAME = "LICENSE-CMU.md"
CMU_NOTICE = f"""# Motion capture from the CMU Graphics Lab Motion Capture Database

The `contemporary` phrases of this library (ids `contemporary-005_*`, source `mocap:...
(CMU subject 5)`) are cut from takes of subject 5 (modern dance and ballet, takes 02-20) of the
CMU Graphics Lab Motion Capture Database, <http://mocap.cs.cmu.edu>, in the conversion to the
iClone `CC_Base` rig published in DragonForgedTheArtist/IClone-CMU-Mocap (commit 79529f9,
`All_BVH/subjects/005/`). mdtool retargeted them onto its canonical skeleton, resampled them to
30 fps, trimmed, cut and mirrored them (`musicdance.library.contemporary`).

## Terms

The CMU data is free to use, including in commercially sold products such as games and apps
that contain these phrases or dances made from them. The data itself may not be resold, even
in converted form: do not sell or redistribute these phrases (or this library) as a motion
capture or animation data product of their own.

## Acknowledgement

{CMU_ACKNOWLEDGEMENT}
"""


def write_cmu_notice(folder: str | os.PathLike[str]) -> Path:
    """Write ``CMU_NOTICE`` as ``LICENSE-CMU.md`` into a library folder; returns its path."""
    path = Path(folder) / CMU_NOTICE_NAME
    path.write_text(CMU_NOTICE, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Take:
    """One source take: ``path`` relative to the data folder, the tempo it is cut at (BPM)
    and what its preview and kinematic beats showed."""

    path: str
    tempo_bpm: float
    note: str

    @property
    def stem(self) -> str:
        return Path(self.path).stem


#: The recipe. Tempo per take (the takes have no music): among the motion's own estimate
#: (``motion_tempo_bpm``) and its 2/3, 3/4, 4/3 and 3/2 relatives inside 70-140 BPM, the one
#: whose counts and kinematic beats (the body's stops) agree best: the harmonic mean of the
#: share of counts with a stop within 0.2 beat and the share of stops on a count
#: (``quality.beat_alignment``), checked against the take's preview; figures in
#: docs/library.md.
CONTEMPORARY_TAKES: tuple[Take, ...] = (
    Take("bvh/cmu-iclone_005_02.bvh", 107.0, "stands 2.7 s, then steps, arm sweeps"),
    Take("bvh/cmu05/cmu-iclone_005_03.bvh", 95.0, "sideways arabesque, turn step (3.6 s)"),
    Take("bvh/cmu05/cmu-iclone_005_04.bvh", 100.0, "stands 3.9 s, then steps into an arabesque"),
    Take("bvh/cmu05/cmu-iclone_005_05.bvh", 80.0, "raised leg, jete en tourant"),
    Take("bvh/cmu05/cmu-iclone_005_06.bvh", 101.0, "cartwheel-like start, pirouettes"),
    Take("bvh/cmu05/cmu-iclone_005_07.bvh", 78.0, "slow steps and turns"),
    Take("bvh/cmu05/cmu-iclone_005_08.bvh", 123.0, "steps and a leap"),
    Take("bvh/cmu05/cmu-iclone_005_09.bvh", 95.0, "stands 4.2 s, then steps and turns"),
    Take("bvh/cmu05/cmu-iclone_005_10.bvh", 108.0, "steps, arm lines"),
    Take("bvh/cmu05/cmu-iclone_005_11.bvh", 96.0, "sideways steps, pirouette"),
    Take("bvh/cmu05/cmu-iclone_005_13.bvh", 114.0, "stands 2 s, then quick steps, passe"),
    Take("bvh/cmu05/cmu-iclone_005_14.bvh", 115.0, "quick steps and turns"),
    Take("bvh/cmu05/cmu-iclone_005_15.bvh", 89.0, "steps and a turn"),
    Take("bvh/cmu05/cmu-iclone_005_16.bvh", 120.0, "coupe dessous, jete en tourant"),
    Take("bvh/cmu05/cmu-iclone_005_17.bvh", 110.0, "coupe dessous, grand jete en tourant"),
    Take("bvh/cmu05/cmu-iclone_005_19.bvh", 76.0, "steps and turns"),
    Take("bvh/cmu05/cmu-iclone_005_20.bvh", 127.0, "steps, pauses between moves"),
)  # fmt: skip

#: Curation thresholds (units in the names). A phrase over any is rejected.
CURATION_LIMITS = {
    # an eight-count slot would hold a shorter phrase's last pose for the missing counts
    "min_counts": 8,
    # feet sliding while in contact (validate warns above 3 cm/s, errs above 30 cm/s)
    "foot_skating_mps": 0.15,
    # fastest joint (hands and feet of a leaping dancer reach 6-8 m/s; marker swaps far more)
    "peak_joint_speed_mps": 10.0,
    # fastest acceleration of any joint against the phrase's own 99th percentile
    "accel_peak_over_p99": 4.0,
    # a one-frame jump: displacement in a frame against the mean of the frames either side
    "pose_break_m": 0.10,
    # floor work: the head lower than this above the floor (a standing rig cannot follow)
    "min_head_height_m": 0.9,
    # hardly any movement: mean hand speed
    "min_hand_speed_mps": 0.5,
}
#: Still stretches at the ends of a take: mean joint speed below this (m/s, smoothed 0.2 s).
STILL_SPEED_MPS = 0.3
#: Kept before the first and after the last moving frame, seconds.
STILL_MARGIN_S = 0.5
_HEAD = CANONICAL_JOINTS.index("Head")
_TOE_REST_HEIGHT_M = float(canonical_skeleton().rest_positions_m()[FOOT_POINTS[0][1], 1])


@dataclass
class CurationResult:
    """One phrase's verdict: ``figures`` measured, ``reasons`` it was rejected (empty: kept)."""

    phrase_id: str
    take: str
    num_counts: int
    figures: dict[str, float]
    reasons: list[str]

    def to_json(self) -> dict:
        return {
            "phrase": self.phrase_id,
            "take": self.take,
            "counts": self.num_counts,
            "figures": {k: round(v, 4) for k, v in self.figures.items()},
            "rejected": self.reasons,
        }


def takes_present(data_dir: str | os.PathLike[str]) -> bool:
    """Whether every take of the recipe is in ``data_dir``."""
    return all((Path(data_dir) / take.path).is_file() for take in CONTEMPORARY_TAKES)


def prepare_take(motion: Motion) -> tuple[Motion, dict[str, float]]:
    """A canonical-skeleton take at the library rate with its still ends trimmed and its feet
    on the floor (y = 0 where the toes rest most of the time). Returns the motion and what was done
    (``trimmed_start_s``, ``trimmed_end_s``, ``floor_shift_m``)."""
    motion = resample(motion, LIBRARY_FPS)
    positions = motion.global_positions()
    speed = joint_speeds_mps(positions, motion.fps).mean(axis=1)
    speed = gaussian_filter1d(speed, 0.2 * motion.fps, mode="nearest")
    moving = np.flatnonzero(speed > STILL_SPEED_MPS)
    if len(moving) == 0:
        raise MusicDanceError("the take never moves")
    margin = int(round(STILL_MARGIN_S * motion.fps))
    lo = max(0, int(moving[0]) - margin)
    hi = min(motion.num_frames, int(moving[-1]) + 1 + margin)
    motion = slice_frames(motion, lo, hi)
    # The floor where validate finds it: where the toes rest most of the time, less their
    # height in the rest pose.
    toes = positions[lo:hi][:, [points[1] for points in FOOT_POINTS], 1]
    floor = float(np.percentile(toes, 2)) - _TOE_REST_HEIGHT_M
    root = motion.root_positions_m - np.array([0.0, floor, 0.0])
    done = {
        "trimmed_start_s": lo / motion.fps,
        "trimmed_end_s": (len(positions) - hi) / motion.fps,
        "floor_shift_m": -floor,
    }
    return replace(motion, root_positions_m=root), done


#: A joint's rotation turning faster than this between two frames is a flicker of the solve
#: (degrees per second: 60 degrees in one 60-fps frame; a dancer's fastest joints turn
#: about 1500 deg/s).
FLICKER_DEG_PER_S = 3600.0
#: ... when the rotation comes back (within ``FLICKER_RETURN_DEG_PER_S`` of where it left)
#: within this many seconds; then the frames between are interpolated.
FLICKER_MAX_S = 0.25
FLICKER_RETURN_DEG_PER_S = 2400.0
#: ... or when the joints it moves are back within this speed (m/s) of where they were.
FLICKER_RETURN_MPS = 10.0


def _descends(skeleton, k: int, j: int) -> bool:
    """Whether joint ``k`` is ``j``'s child or further down."""
    k = int(skeleton.parents[k])
    while k >= 0:
        if k == j:
            return True
        k = int(skeleton.parents[k])
    return False


def repair_flicker(motion: Motion) -> tuple[Motion, int]:
    """Mend one-to-few-frame flickers of the capture's solve (the ``CC_Base`` right thigh of
    CMU subject 5 flips by up to 178 degrees for a few 60-fps frames while the leg is raised,
    throwing the knee 0.3 m and back).

    Per joint, a frame whose local rotation turns more than ``FLICKER_DEG_PER_S`` from the
    one before starts a flicker; it ends at the next such jump, within ``FLICKER_MAX_S``,
    that lands within ``FLICKER_RETURN_DEG_PER_S`` times the elapsed time of the last good
    frame, or puts the joints below back within ``FLICKER_RETURN_MPS`` of where they were
    (a straight leg flips about its own axis without moving the foot), and the frames
    between are interpolated (slerp) from the two. A jump that
    does not come back is left alone (the curation still sees it). Returns the motion and the
    number of joint-frames mended.
    """
    rotations = motion.rotations.copy()
    frame_s = 1.0 / motion.fps
    jump = np.radians(FLICKER_DEG_PER_S * frame_s)
    back = np.radians(FLICKER_RETURN_DEG_PER_S * frame_s)
    longest = max(1, int(round(FLICKER_MAX_S * motion.fps)))
    mended = 0
    positions = motion.global_positions()
    skeleton = motion.skeleton
    below = [[k for k in range(skeleton.num_joints) if _descends(skeleton, k, j)]
             for j in range(skeleton.num_joints)]  # fmt: skip
    for j in range(1, skeleton.num_joints):
        q = rotations[:, j]
        jumps = np.flatnonzero(quat_angle(q[1:], q[:-1]) > jump) + 1  # frames that jump
        t = 0
        for start in jumps:
            if start <= t:
                continue
            good = start - 1
            # the jump back: a later jump, soon, landing near where the rotation left
            later = jumps[(jumps > start) & (jumps <= good + longest + 1)]
            # back near in rotation, or (a straight limb flipping about itself) in position
            moved = (
                np.linalg.norm(positions[later][:, below[j]] - positions[good, below[j]],
                               axis=-1).max(axis=1)
                if below[j] else np.full(len(later), np.inf)
            )  # fmt: skip
            near = later[
                (quat_angle(q[later], q[good]) <= back * (later - good))
                | (moved <= FLICKER_RETURN_MPS * (later - good) * frame_s)
            ]
            if len(near) == 0:
                continue
            end = int(near[0])
            inside = np.arange(good + 1, end)
            q[inside] = quat_slerp(q[good], q[end], (inside - good) / (end - good))
            mended += len(inside)
            t = end
    return (replace(motion, rotations=rotations) if mended else motion), mended


def curation_figures(phrase: Phrase) -> dict[str, float]:
    """The figures ``CURATION_LIMITS`` judge, measured on one phrase."""
    motion = phrase.motion
    fps = motion.fps
    positions = motion.global_positions()
    speeds = joint_speeds_mps(positions, fps)
    accel = np.linalg.norm(np.diff(positions, 2, axis=0), axis=-1) * fps * fps  # [T-2, J]
    p99 = float(np.percentile(accel, 99))
    # One-frame jump: how far a frame sits from the midpoint of its neighbours.
    jump = np.linalg.norm(positions[1:-1] - 0.5 * (positions[:-2] + positions[2:]), axis=-1)
    return {
        "counts": float(len(phrase.info.count_frames)),
        "foot_skating_mps": foot_skating_mps(positions, fps, phrase.contacts, FOOT_POINTS),
        "peak_joint_speed_mps": float(speeds.max()),
        "accel_peak_over_p99": float(accel.max() / max(p99, 1e-9)),
        "pose_break_m": float(jump.max()),
        "min_head_height_m": float(positions[:, _HEAD, 1].min()),
        "hand_speed_mps": float(speeds[:, list(HANDS)].mean()),
        "foot_speed_mps": float(speeds[:, list(ANKLES)].mean()),
    }


def rejection_reasons(phrase: Phrase, figures: dict[str, float] | None = None) -> list[str]:
    """Why the phrase fails curation (validation errors and ``CURATION_LIMITS``); empty: keep."""
    f = curation_figures(phrase) if figures is None else figures
    limits = CURATION_LIMITS
    reasons = [
        f"validation: {finding.message}"
        for finding in validate_phrase(phrase)
        if finding.level == "error"
    ]
    if f["counts"] < limits["min_counts"]:
        reasons.append(f"only {f['counts']:.0f} counts (an eight needs {limits['min_counts']})")
    for key, text in (
        ("foot_skating_mps", "feet slide at {:.2f} m/s in contact"),
        ("peak_joint_speed_mps", "a joint moves at {:.1f} m/s"),
        ("accel_peak_over_p99", "peak acceleration {:.1f} x the phrase's 99th percentile"),
        ("pose_break_m", "a one-frame jump of {:.2f} m"),
    ):
        if f[key] > limits[key]:
            reasons.append(f"{text.format(f[key])} (limit {limits[key]:g})")
    if f["min_head_height_m"] < limits["min_head_height_m"]:
        reasons.append(
            f"floor work: the head comes down to {f['min_head_height_m']:.2f} m "
            f"(limit {limits['min_head_height_m']:g})"
        )
    if f["hand_speed_mps"] < limits["min_hand_speed_mps"]:
        reasons.append(
            f"hardly moves: hands at {f['hand_speed_mps']:.2f} m/s on average "
            f"(limit {limits['min_hand_speed_mps']:g})"
        )
    return reasons


def contemporary_phrases(
    data_dir: str | os.PathLike[str], *, mirrored: bool = True
) -> tuple[list[Phrase], list[CurationResult]]:
    """Import, cut and curate the recipe's takes from ``data_dir`` (``../shared/data``).

    Returns the approved phrases (with their mirror images when ``mirrored``) and the verdict
    on every phrase cut. Deterministic: the same files give the same phrases.
    """
    from musicdance.io.files import load_motion
    from musicdance.motion.retarget import retarget

    data_dir = Path(data_dir)
    phrases: list[Phrase] = []
    results: list[CurationResult] = []
    for take in CONTEMPORARY_TAKES:
        path = data_dir / take.path
        if not path.is_file():
            raise MusicDanceError("take of the contemporary recipe not found", path)
        try:
            canonical, _ = retarget(load_motion(path))
            motion, _ = prepare_take(repair_flicker(canonical)[0])
            cut, _ = phrases_from_take(
                motion,
                style=CONTEMPORARY_STYLE,
                id_prefix=f"contemporary-{take.stem.removeprefix('cmu-iclone_')}",
                bpm=take.tempo_bpm,
                source=f"mocap:{path.name} (CMU subject 5)",
                licence=CMU_LICENCE,
                tags=("cmu", "real-capture"),
                status="approved",
            )
        except MusicDanceError as error:
            raise MusicDanceError(error.message, path) from None
        for phrase in cut:
            figures = curation_figures(phrase)
            reasons = rejection_reasons(phrase, figures)
            counts = len(phrase.info.count_frames)
            results.append(CurationResult(phrase.id, take.stem, counts, figures, reasons))
            if reasons:
                continue
            phrases.append(phrase)
            if mirrored:
                phrases.append(mirror_phrase(phrase, f"{phrase.id}-mirror"))
    return phrases, results
