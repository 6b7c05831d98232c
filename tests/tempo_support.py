"""The perturbation set for motion-tempo agreement: one take time-shifted, mirrored, retargeted
through another rig, jittered and cropped. Used by tests/test_motion_tempo.py and
benchmarks/bench_mocap_import.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from musicdance.io.bvh import read_bvh, write_bvh
from musicdance.io.files import load_motion
from musicdance.library.importer import LIBRARY_FPS
from musicdance.motion import Motion, Skeleton
from musicdance.motion.motion import mirror, resample, sample
from musicdance.motion.placement import clean_take
from musicdance.motion.retarget import retarget

#: Tempo of the real takes with a steady rhythm, read from their kinematic-beat plots
#: (docs/images/tempo_real_takes.png: the beat grid on the stops), BPM.
TEMPO_BY_EYE = {
    "perfume_A_test": 115.0,
    "animdraw_rokoko_jesse_dance": 126.0,
    "animdraw_cmu1_jumping_jacks": 113.0,
    "animdraw_fair1_dab": 101.0,
}

#: Canonical joint -> Unreal mannequin name, for the "retargeted" variant.
_UNREAL = {
    "Hips": "pelvis", "Spine": "spine_01", "Chest": "spine_02", "UpperChest": "spine_03",
    "Neck": "neck_01", "Head": "head",
    **{f"{side}{part}": f"{name}_{side[0].lower()}" for side in ("Left", "Right")
       for part, name in (("Shoulder", "clavicle"), ("UpperArm", "upperarm"),
                          ("LowerArm", "lowerarm"), ("Hand", "hand"), ("UpperLeg", "thigh"),
                          ("LowerLeg", "calf"), ("Foot", "foot"), ("Toes", "ball"))},
}  # fmt: skip


def canonical_take(path: Path) -> Motion:
    """A real take retargeted and cleaned as ``library import`` does it (source frame rate)."""
    motion, _ = retarget(load_motion(path))
    return clean_take(motion)[0]


def through_another_rig(motion: Motion, folder: Path) -> Motion:
    """The take written on an Unreal-named rig 10 % larger (BVH, centimetres), read back and
    retargeted onto the canonical skeleton again."""
    skeleton = motion.skeleton
    renamed = Skeleton(
        tuple(_UNREAL[n] for n in skeleton.names),
        skeleton.parents,
        skeleton.offsets_m * 1.1,
        skeleton.channels,
        {k: v * 1.1 for k, v in skeleton.end_sites_m.items()},
    )
    path = folder / "retargeted.bvh"
    write_bvh(Motion(renamed, motion.fps, motion.root_positions_m * 1.1, motion.rotations), path)
    return retarget(read_bvh(path))[0]


def positions_at_library_rate(motion: Motion) -> np.ndarray:
    return resample(motion, LIBRARY_FPS).global_positions()


def tempo_variants(
    motion: Motion, *, crop_s: float = 20.0, step_s: float = 1.0, seed: int = 0
) -> dict[str, np.ndarray]:
    """Name -> joint positions ``[T, J, 3]`` at the library rate, for the take and its
    perturbations: shifted by 0.37 s, mirrored, retargeted through another rig, 1-cm joint
    jitter (Gaussian, per joint and frame), and every ``crop_s`` window (``step_s`` apart;
    takes shorter than ``crop_s / 0.75`` get windows of 75 % of their length)."""
    positions = positions_at_library_rate(motion)
    shift_s = 0.37
    times = shift_s + np.arange(int((motion.duration_s - shift_s) * motion.fps)) / motion.fps
    variants = {
        "original": positions,
        "shifted 0.37 s": positions_at_library_rate(sample(motion, times)),
        "mirrored": positions_at_library_rate(mirror(motion)),
    }
    with tempfile.TemporaryDirectory() as folder:
        variants["retargeted"] = positions_at_library_rate(
            through_another_rig(motion, Path(folder))
        )
    rng = np.random.default_rng(seed)
    variants["jitter 1 cm"] = positions + rng.normal(0.0, 0.01, positions.shape)
    window_s = min(crop_s, 0.75 * motion.duration_s)
    window = int(round(window_s * LIBRARY_FPS))
    for start in range(0, len(positions) - window + 1, int(round(step_s * LIBRARY_FPS))):
        variants[f"crop {start / LIBRARY_FPS:.0f}-{(start + window) / LIBRARY_FPS:.0f} s"] = (
            positions[start : start + window]
        )
    return variants
