"""Retargeted takes that start clean (musicdance.motion.placement.clean_take) and the
--keep-placement / --music-offset options of import and convert."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED_BVH
from library_support import mdtool

from musicdance.io.files import load_motion
from musicdance.library.importer import LIBRARY_FPS, prepare_import
from musicdance.motion import Motion, concatenate
from musicdance.motion.analysis import facing_deg
from musicdance.motion.canonical import CANONICAL_JOINTS, canonical_skeleton
from musicdance.motion.motion import resample
from musicdance.motion.placement import clean_take, find_reference_pose
from musicdance.motion.quat import quat_from_euler, quat_identity, quat_mul, quat_mul_vec3
from musicdance.motion.retarget import retarget

FEET = [CANONICAL_JOINTS.index(n) for n in ("LeftFoot", "LeftToes", "RightFoot", "RightToes")]
REST_FEET_Y = canonical_skeleton().rest_positions_m()[FEET, 1]


def shared(stem: str):
    return next(p for p in SHARED_BVH if p.stem == stem)


def canonical(stem: str) -> Motion:
    return retarget(load_motion(shared(stem)))[0]


def moved(motion: Motion, turn_deg: float, offset_m: tuple[float, float, float]) -> Motion:
    turn = quat_from_euler(np.array([0.0, turn_deg, 0.0]), "XYZ")
    rotations = motion.rotations.copy()
    rotations[:, 0] = quat_mul(turn, rotations[:, 0])
    root = quat_mul_vec3(turn, motion.root_positions_m) + np.array(offset_m)
    return Motion(motion.skeleton, motion.fps, root, rotations)


def t_pose_frames(motion: Motion, count: int) -> Motion:
    """``count`` frames of the canonical T-pose, standing where the take starts."""
    root = np.tile(motion.root_positions_m[:1] + [0.0, 0.05, 0.0], (count, 1))
    return Motion(motion.skeleton, motion.fps, root, quat_identity((count, 22)))


def test_perfume_take_loses_its_reference_frame():
    take = canonical("perfume_A_test")
    assert find_reference_pose(take) == (1, "T-pose")
    clean, report = clean_take(take)
    assert clean.num_frames == take.num_frames - 1
    assert report.reference_frames == 1 and "reference T-pose" in report.notes[0]


@pytest.mark.parametrize("count", [1, 4])
def test_added_t_pose_is_dropped_and_a_take_that_starts_in_t_pose_is_kept(count):
    take = canonical("animdraw_rokoko_jesse_dance")
    with_reference = concatenate([t_pose_frames(take, count), take])
    assert find_reference_pose(with_reference) == (count, "T-pose")
    clean, _ = clean_take(with_reference, keep_placement=True)
    np.testing.assert_allclose(clean.rotations, take.rotations, atol=1e-9)
    # the dab take opens in a T-pose but moves out of it smoothly: nothing to drop
    assert find_reference_pose(canonical("animdraw_fair1_dab")) == (0, "")
    assert find_reference_pose(take) == (0, "")


def test_placement_faces_z_and_puts_the_feet_on_the_floor():
    take = canonical("animdraw_rokoko_jesse_dance")
    clean, report = clean_take(take)
    _, rotations = clean.global_transforms()
    assert abs(facing_deg(rotations[:1, 0])[0]) < 1e-6
    assert np.allclose(clean.root_positions_m[0, [0, 2]], 0.0, atol=1e-9)
    feet = clean.global_positions()[:, FEET, 1] - REST_FEET_Y
    assert np.percentile(feet.min(axis=1), 1) == pytest.approx(0.0, abs=1e-9)
    # the same take turned and lifted anywhere comes out the same
    other, _ = clean_take(moved(take, 123.0, (2.0, 0.4, -1.0)))
    np.testing.assert_allclose(other.global_positions(), clean.global_positions(), atol=1e-6)
    kept, kept_report = clean_take(take, keep_placement=True)
    np.testing.assert_allclose(kept.root_positions_m, take.root_positions_m)
    assert report.placed and not kept_report.placed


def test_music_offset_moves_the_beat_grid_onto_the_take():
    path = shared("animdraw_rokoko_jesse_dance")
    beats = np.arange(0.0, 12.0, 0.5)
    take = resample(clean_take(canonical("animdraw_rokoko_jesse_dance"))[0], LIBRARY_FPS)
    heights = take.global_positions()[..., 1]
    for offset in (0.0, 0.3):
        phrases, _ = prepare_import(path, style="x", music_beats_s=beats, music_offset_s=offset)
        first = phrases[0].motion.global_positions()[0, :, 1]
        np.testing.assert_allclose(first, heights[round(offset * LIBRARY_FPS)], atol=1e-6)


def test_convert_and_import_report_the_cleanup(tmp_path):
    source = shared("perfume_A_test")
    result = mdtool("convert", source, tmp_path / "out.bvh", "--retarget", "--json")
    assert result.returncode == 0, result.stderr
    cleanup = json.loads(result.stdout)["cleanup"]
    assert cleanup["reference_frames_dropped"] == 1 and cleanup["placed"] is True
    kept = mdtool("convert", source, tmp_path / "kept.bvh", "--retarget", "--keep-placement",
                  "--json")  # fmt: skip
    assert json.loads(kept.stdout)["cleanup"]["placed"] is False
    usage = mdtool("convert", source, tmp_path / "x.bvh", "--keep-placement")
    assert usage.returncode == 2 and "--retarget" in usage.stderr
    lib = tmp_path / "lib"
    imported = mdtool("library", "import", source, "--style", "pop", "--library", lib, "--json")
    assert imported.returncode == 0, imported.stderr
    (report,) = json.loads(imported.stdout)["files"]
    assert report["cleanup"]["reference_frames_dropped"] == 1
    assert any("reference T-pose" in note for note in report["notes"])
    offset = mdtool("library", "import", source, "--style", "pop", "--music-offset", "1.5",
                    "--library", lib)  # fmt: skip
    assert offset.returncode == 2 and "--music-offset needs --music" in offset.stderr
