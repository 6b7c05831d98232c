"""Time warping onto beats, root alignment and inertialized joins."""

from __future__ import annotations

import numpy as np
import pytest

from musicdance.errors import MusicDanceError
from musicdance.motion import Motion
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.quat import quat_angle, quat_from_euler
from musicdance.synthesis.blend import (
    align_root,
    decay_spring,
    heading,
    inertialize,
    loop_extend,
    reverse,
)
from musicdance.synthesis.timewarp import time_warp, warp_source_times


def swaying_motion(num_frames: int = 61, fps: float = 30.0, phase: float = 0.0) -> Motion:
    """Smooth test motion: every joint sways on a slow sine, the root walks forward."""
    skeleton = canonical_skeleton()
    t = np.arange(num_frames) / fps
    wave = np.sin(2 * np.pi * 0.5 * t + phase)[:, None, None]
    angles = 25 * wave * np.linspace(0.2, 1.0, skeleton.num_joints)[None, :, None] * [1, 0.5, 0.3]
    root = np.stack([0.1 * np.sin(t), 0.9 + 0.02 * wave[:, 0, 0], 0.3 * t], -1)
    return Motion(skeleton, fps, root, quat_from_euler(angles, "ZXY"))


def test_warp_times_hit_every_count_and_extrapolate():
    beats = np.array([1.0, 1.5, 2.2, 2.6])
    counts = np.array([0.0, 0.6, 1.2, 1.8])
    np.testing.assert_allclose(warp_source_times(beats, beats, counts), counts)
    assert warp_source_times(np.array([0.5]), beats, counts)[0] == pytest.approx(-0.6)
    assert warp_source_times(np.array([3.0]), beats, counts)[0] == pytest.approx(1.8 + 0.4 * 1.5)
    dense = warp_source_times(np.linspace(0, 4, 400), beats, counts)
    assert np.all(np.diff(dense) > 0)


def test_warp_rejects_unordered_beats():
    with pytest.raises(MusicDanceError):
        warp_source_times(np.zeros(3), np.array([1.0, 0.5]), np.array([0.0, 1.0]))


@pytest.mark.parametrize("bpm", [70.0, 100.0, 140.0])
def test_counts_land_on_beats_at_any_tempo(bpm):
    motion = swaying_motion(num_frames=121)
    count_frames = np.array([0, 15, 30, 45, 60, 75, 90, 105])  # 8 counts at 120 BPM, 30 fps
    beat_s = 60.0 / bpm
    out_fps = 60.0
    beats = 2.0 + np.arange(8) * beat_s
    beats = np.round(beats * out_fps) / out_fps  # on the output grid, to compare frames exactly
    warped = time_warp(
        motion, count_frames, beats, fps=out_fps, start_s=2.0, stop_s=beats[-1] + beat_s
    )
    for count, beat in zip(count_frames, beats, strict=True):
        frame = int(round((beat - 2.0) * out_fps))
        assert np.degrees(quat_angle(warped.rotations[frame], motion.rotations[count])).max() < 1e-6
    assert warped.num_frames == int(np.ceil((beats[-1] + beat_s - 2.0) * out_fps))


def test_decay_spring_starts_with_offset_and_velocity_and_fades():
    offset, velocity = np.array([1.0, -2.0]), np.array([3.0, 0.5])
    times = np.array([0.0, 1e-6, 1.0])
    values = decay_spring(offset, velocity, halflife_s=0.1, times_s=times)
    np.testing.assert_allclose(values[0], offset)
    np.testing.assert_allclose((values[1] - values[0]) / 1e-6, velocity, rtol=1e-3)
    assert np.abs(values[2]).max() < 1e-2


def test_align_root_places_start_and_heading():
    motion = swaying_motion()
    aligned = align_root(motion, np.array([2.0, 5.0, -1.0]), heading_rad=np.pi / 2)
    assert heading(aligned.rotations[0, 0]) == pytest.approx(np.pi / 2)
    np.testing.assert_allclose(aligned.root_positions_m[0, [0, 2]], [2.0, -1.0])
    assert aligned.root_positions_m[0, 1] == pytest.approx(motion.root_positions_m[0, 1])
    # travel is turned with the body: the walk along +Z now goes along +X
    travel = aligned.root_positions_m[-1] - aligned.root_positions_m[0]
    assert travel[0] > 0.5 and abs(travel[2]) < 0.2


def test_inertialize_removes_the_pop_and_fades_out():
    previous = swaying_motion(phase=0.0)
    following = align_root(
        swaying_motion(phase=2.0),
        previous.root_positions_m[-1],
        float(heading(previous.rotations[-1, 0])),
    )
    joined = inertialize(previous, following, halflife_s=0.1)
    raw_jump = np.degrees(quat_angle(previous.rotations[-1], following.rotations[0])).max()
    smooth_jump = np.degrees(quat_angle(previous.rotations[-1], joined.rotations[0])).max()
    typical_step = np.degrees(quat_angle(previous.rotations[-1], previous.rotations[-2])).max()
    assert raw_jump > 5 * typical_step
    assert smooth_jump < 1.5 * typical_step + 1e-6
    late = np.degrees(quat_angle(joined.rotations[-1], following.rotations[-1])).max()
    assert late < 0.1
    np.testing.assert_allclose(joined.rotations.shape, following.rotations.shape)


def test_lock_feet_pins_planted_ankles_and_keeps_the_body():
    from examples_demo import demo_motion  # the bundled step-touch generator

    from musicdance.synthesis.contacts import lock_feet

    motion = demo_motion()
    skeleton = motion.skeleton
    left = skeleton.index("LeftFoot")
    # make the whole body glide sideways: planted feet now slide 8 cm/s (still within reach)
    sliding = Motion(
        skeleton,
        motion.fps,
        motion.root_positions_m + np.outer(np.arange(motion.num_frames) / motion.fps, [0.08, 0, 0]),
        motion.rotations,
    )
    contacts = np.zeros((sliding.num_frames, 2), dtype=bool)
    contacts[30:60, 0] = True
    locked = lock_feet(sliding, contacts)
    before, after = sliding.global_positions(), locked.global_positions()
    drift = np.ptp(after[30:60, left][:, [0, 2]], axis=0)
    assert np.all(drift < 1e-3)  # pinned while in contact
    assert np.ptp(before[30:60, left, 0]) > 0.03  # it used to slide
    np.testing.assert_allclose(after[:, 0], before[:, 0])  # hips untouched
    np.testing.assert_allclose(after[:, skeleton.index("Head")], before[:, skeleton.index("Head")])
    np.testing.assert_allclose(after[:29], before[:29], atol=1e-9)  # nothing before the contact
    # the foot keeps its world orientation
    _, rot_before = sliding.global_transforms()
    _, rot_after = locked.global_transforms()
    assert np.degrees(quat_angle(rot_after[30:60, left], rot_before[30:60, left])).max() < 1e-6


def _joint_acceleration(motion: Motion) -> np.ndarray:
    """Mean joint acceleration per frame (m/s^2), ``[T - 2]``."""
    positions = motion.global_positions()
    return np.linalg.norm(np.diff(positions, 2, axis=0), axis=-1).mean(axis=1) * motion.fps**2


def test_loop_extend_plays_the_motion_as_a_smooth_loop():
    # one full sway period (0.5 Hz over 2 s), plus an extra closing frame: a loop with a seam
    motion = swaying_motion(num_frames=60)
    looped = loop_extend(motion, 20)
    assert looped.num_frames == 60 + 2 * 20
    np.testing.assert_allclose(looped.rotations[20:80], motion.rotations)
    np.testing.assert_allclose(looped.root_positions_m[20:80], motion.root_positions_m)
    # the walk goes on forwards after the end and came from behind before the start
    assert looped.root_positions_m[-1, 2] > motion.root_positions_m[-1, 2] + 0.15
    assert looped.root_positions_m[0, 2] < motion.root_positions_m[0, 2] - 0.15
    # the seams are no rougher than the motion itself
    inside = _joint_acceleration(motion).max()
    accel = _joint_acceleration(looped)
    assert accel[15:25].max() < 1.5 * inside and accel[75:85].max() < 1.5 * inside
    assert loop_extend(motion, 0) is motion


def test_reverse_plays_backwards():
    motion = swaying_motion()
    backwards = reverse(motion)
    np.testing.assert_allclose(backwards.rotations[0], motion.rotations[-1])
    np.testing.assert_allclose(reverse(backwards).root_positions_m, motion.root_positions_m)
