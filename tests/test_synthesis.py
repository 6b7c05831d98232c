"""Time warping onto beats, root alignment and inertialized joins."""

from __future__ import annotations

import numpy as np
import pytest

from musicdance.errors import MusicDanceError
from musicdance.motion import Motion
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.motion import concatenate, slice_frames
from musicdance.motion.quat import quat_angle, quat_from_euler, quat_from_rotvec, quat_mul
from musicdance.synthesis.blend import (
    COAST_HALFLIFE_S,
    align_root,
    coast,
    decay_spring,
    heading,
    inertialize,
    loop_extend,
    reverse,
    rotvec_rate,
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

    from musicdance.synthesis.contacts import BLEND_IN_S, MAX_RELEASE_S, lock_feet

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
    assert np.all(
        drift < 3e-3
    )  # pinned while in contact (soft IK gives up a few mm near full reach)
    assert np.ptp(before[30:60, left, 0]) > 0.03  # it used to slide
    np.testing.assert_allclose(after[:, 0], before[:, 0])  # hips untouched
    np.testing.assert_allclose(after[:, skeleton.index("Head")], before[:, skeleton.index("Head")])
    # never solved outside the contact and its short release: the leg is exactly as it was
    release = int(np.ceil(MAX_RELEASE_S * sliding.fps))
    approach = int(np.ceil(BLEND_IN_S * sliding.fps))
    np.testing.assert_array_equal(
        locked.rotations[: 30 - approach], sliding.rotations[: 30 - approach]
    )
    after_release = slice(60 + release, None)
    np.testing.assert_array_equal(locked.rotations[after_release], sliding.rotations[after_release])
    # the foot keeps its world orientation
    _, rot_before = sliding.global_transforms()
    _, rot_after = locked.global_transforms()
    assert np.degrees(quat_angle(rot_after[30:60, left], rot_before[30:60, left])).max() < 1e-6


def test_lock_feet_blends_contacts_in_and_out_and_never_solves_a_foot_in_the_air():
    """The pin is blended in and out over a few frames (a smooth step, no jump of the whole
    offset in one frame), and a leg is left exactly as it was wherever its foot is in the air:
    outside its contacts beyond the release, and during the release once the ankle has risen
    AIR_M above where the contact ended."""
    from examples_demo import demo_motion

    from musicdance.synthesis.contacts import AIR_M, contact_weights, lock_feet

    motion = demo_motion()
    skeleton = motion.skeleton
    left = skeleton.index("LeftFoot")
    leg = [skeleton.index(n) for n in ("LeftUpperLeg", "LeftLowerLeg", "LeftFoot")]
    gliding = Motion(
        skeleton,
        motion.fps,
        motion.root_positions_m + np.outer(np.arange(motion.num_frames) / motion.fps, [0.3, 0, 0]),
        motion.rotations,
    )
    before = gliding.global_positions()
    heights = before[:, left, 1]
    contacts = np.zeros((gliding.num_frames, 2), dtype=bool)
    contacts[30:60, 0] = True
    weight = contact_weights(contacts[:, 0], gliding.fps, heights_m=heights)
    assert weight[:26].max() == 0 and weight[66:].max() == 0
    assert np.all(weight[30:60] == 1.0)  # pinned through the contact: no slide
    assert 0 < weight[29] < 1.0 and 0 < weight[60] < 1.0  # blended in before, out after
    assert np.all(np.diff(weight[24:31]) >= 0) and np.all(np.diff(weight[59:]) <= 0)
    in_air = heights - heights[59] >= AIR_M
    assert np.all(weight[60:][in_air[60:]] == 0)
    # lift the foot straight after the contact: the release must not pull it back
    lifted = gliding.rotations.copy()
    lifted[60:, skeleton.index("LeftLowerLeg")] = quat_from_euler(
        np.tile([[110.0, 0.0, 0.0]], (gliding.num_frames - 60, 1)), "XYZ"
    )
    high = Motion(skeleton, gliding.fps, gliding.root_positions_m, lifted)
    locked = lock_feet(high, contacts)
    high_heights = high.global_positions()[:, left, 1]
    air = np.flatnonzero(high_heights - high_heights[59] >= AIR_M)
    air = air[air >= 60]
    assert len(air) > 0
    np.testing.assert_array_equal(locked.rotations[air][:, leg], high.rotations[air][:, leg])
    # the release spreads the catch-up over several frames: no step is the whole offset
    after = lock_feet(gliding, contacts).global_positions()
    offset = abs(after[59, left, 0] - before[59, left, 0])
    steps = np.abs(np.diff(after[59:70, left, 0]))
    assert (
        offset > 0.05 and steps.max() < 0.6 * offset + np.abs(np.diff(before[59:70, left, 0])).max()
    )


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


def test_coast_brings_a_moving_end_to_rest_without_a_jolt():
    """Played past its end, a motion coasts to rest: position and velocity continue, and the
    seam's acceleration is the end speed times ln 2 / half-life, far below holding the last
    pose (which stops the whole end velocity in one frame)."""
    motion = swaying_motion(num_frames=40)  # ends mid-sway, moving
    coasted = coast(motion, 30, halflife_s=COAST_HALFLIFE_S)
    assert coasted.num_frames == 70
    held = concatenate([motion, slice_frames(motion, 39, 40)] + [slice_frames(motion, 39, 40)] * 29)
    fps = motion.fps
    seam = slice(37, 43)

    def acceleration(m):
        return np.linalg.norm(np.diff(m.global_positions(), 2, axis=0), axis=-1).max(-1) * fps**2

    positions = motion.global_positions()
    end_speed = np.linalg.norm(positions[-1] - positions[-2], axis=-1).max() * fps
    assert end_speed > 0.3
    bound = end_speed * np.log(2) / COAST_HALFLIFE_S
    assert acceleration(coasted)[seam].max() < 1.5 * bound + acceleration(motion).max()
    assert acceleration(held)[seam].max() > 2 * acceleration(coasted)[seam].max()
    steps = np.linalg.norm(np.diff(coasted.global_positions(), axis=0), axis=-1).max(-1)
    assert steps[-1] < 0.02 * steps[38]  # at rest a second later
    np.testing.assert_array_equal(coasted.rotations[:40], motion.rotations)


def test_rotvec_rate_is_the_exponential_maps_inverse_jacobian():
    """exp(phi + rate dt) = exp(omega dt) exp(phi) to first order, at any angle up to ~170 deg
    (for small angles the rate is omega itself)."""
    rng = np.random.default_rng(3)
    axis = rng.normal(size=(50, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    phi = axis * rng.uniform(0.0, np.radians(170), size=(50, 1))
    omega = rng.normal(size=(50, 3)) * 5.0
    dt = 1e-5
    stepped = quat_from_rotvec(phi + rotvec_rate(phi, omega) * dt)
    expected = quat_mul(quat_from_rotvec(omega * dt), quat_from_rotvec(phi))
    assert np.degrees(quat_angle(stepped, expected)).max() < 1e-6
    np.testing.assert_allclose(rotvec_rate(np.zeros((1, 3)), omega[:1]), omega[:1])


def test_inertialize_keeps_the_velocity_through_a_large_offset():
    """Two phrases whose upper arms differ by 140 degrees, the incoming one twisting fast
    (20 rad/s) about the bone: the joined elbow leaves the seam at the previous phrase's pace
    (the incoming twist is not turned into a swing; without the offset's rotation and the
    exponential map's Jacobian it swings 4x faster than before the seam)."""
    previous = swaying_motion(phase=0.0)
    following = swaying_motion(phase=0.0)
    names = previous.skeleton.names
    arm, elbow = names.index("RightUpperArm"), names.index("RightLowerArm")
    t = np.arange(following.num_frames) / following.fps
    bone = previous.skeleton.offsets_m[elbow]
    twist = quat_from_rotvec(bone / np.linalg.norm(bone) * (20.0 * t)[:, None])
    tilt = quat_from_rotvec(np.array([0.0, 0.0, np.radians(140.0)]))
    following.rotations[:, arm] = quat_mul(tilt, quat_mul(previous.rotations[0, arm], twist))
    following = align_root(
        following, previous.root_positions_m[-1], float(heading(previous.rotations[-1, 0]))
    )
    joined = concatenate([previous, inertialize(previous, following, halflife_s=0.36)])
    positions = joined.global_positions()
    steps = np.linalg.norm(np.diff(positions[:, elbow] - positions[:, arm], axis=0), axis=-1)
    n = previous.num_frames
    seam, before = steps[n - 1 : n + 3].max(), steps[n - 5 : n - 1].max()
    assert seam < 1.5 * before, (seam, before)


def test_carry_targets_plant_each_step_where_the_floor_has_brought_it_half_way():
    """A foot planted for 2 s while the floor under it drifts 0.6 m: plants are held still
    (no slide), split by added lifted steps every ``STEP_M`` of drift, the feet alternate,
    and a foot on a floor that holds still is left alone."""
    from musicdance.synthesis.contacts import LIFT_M, STEP_M, carry_targets, mask_runs

    fps = 30.0
    frames = 90
    ankles = np.zeros((frames, 3))
    ankles[:, 1] = 0.08
    ankles[:, 0] = np.linspace(0.0, 0.6, frames)  # the floor drifts: the foot would slide
    contact = np.zeros(frames, dtype=bool)
    contact[15:75] = True
    ankles[~contact, 1] = 0.2  # the foot is up before and after its plant
    targets, moved = {}, {}
    for side in (0, 1):
        targets[side], moved[side], planted = carry_targets(ankles, contact, fps, side=side)
        target = targets[side]
        lifted = contact & (target[:, 1] > 0.08 + 1e-9)
        assert lifted.any() and target[contact, 1].max() <= 0.08 + LIFT_M + 1e-9
        plants = contact & ~lifted
        assert np.array_equal(planted, plants)
        runs = mask_runs(plants)
        assert len(runs) >= 2  # the 0.6 m were split into steps
        for a, b in runs:
            # still while planted, and never further than half a step from the free foot
            assert np.ptp(target[a:b, 0]) < 1e-9
            assert np.abs(target[a:b, 0] - ankles[a:b, 0]).max() <= STEP_M / 2 + 0.02
        assert moved[side][15:75].any()
    first_lift = [int(np.argmax(contact & (targets[s][:, 1] > 0.08 + 1e-9))) for s in (0, 1)]
    assert first_lift[0] != first_lift[1]  # the feet alternate
    still = np.zeros((frames, 3))
    still[:, 1] = np.where(contact, 0.08, 0.2)
    target, changed, planted = carry_targets(still, contact, fps)
    assert not changed.any() and np.array_equal(target, still)
    assert np.array_equal(planted, contact)


def test_carry_targets_hold_a_heel_raised_on_planted_toes():
    """Issue 23: a heel lifted 8 cm while the toes stay down is not a step: read by the
    foot's lowest point (``clearance_m``) the gap joins the plant and the ankle is held still
    (read by the ankle alone the foot was moved there, on its toes: the sliding the group's
    travel showed)."""
    from musicdance.synthesis.contacts import carry_targets

    fps, frames = 30.0, 40
    ankles = np.zeros((frames, 3))
    ankles[:, 0] = np.linspace(0.0, 0.1, frames)  # the floor drifts 10 cm under the foot
    ankles[:, 1] = 0.08
    ankles[18:22, 1] = 0.16  # the heel rises
    contact = np.ones(frames, dtype=bool)
    contact[18:22] = False
    clearance = np.full(frames, 0.005)  # ... on toes that stay down
    target, _, planted = carry_targets(ankles, contact, fps, clearance_m=clearance)
    assert planted.all() and np.ptp(target[:, 0]) < 1e-9
    target, _, planted = carry_targets(ankles, contact, fps)  # by the ankle: two plants
    assert not planted[18:22].any() and np.ptp(target[18:22, 0]) > 0.01


def test_carry_targets_remove_a_known_drift_and_keep_the_foot_s_own_steps():
    """With the floor's drift known (a spot's travel), a quick low step (under
    ``MIN_AIR_FRAMES`` frames above ``AIR_FREE_M``) carries none of it: the foot keeps its
    own step on a floor that holds still; and a faster drift makes longer steps, not more."""
    from musicdance.synthesis.contacts import MIN_AIR_FRAMES, STEP_M, carry_targets, mask_runs

    fps, frames = 30.0, 60
    drift = np.zeros((frames, 2))
    drift[:, 0] = np.linspace(0.0, 0.1, frames)
    own = np.where(np.arange(frames) >= 32, 0.12, 0.0)
    own[30:32] = [0.04, 0.08]  # a quick step forward, 3 cm off the floor
    ankles = np.zeros((frames, 3))
    ankles[:, 0] = drift[:, 0] + own
    ankles[:, 1] = 0.08
    clearance = np.zeros(frames)
    clearance[29:33] = 0.03
    contact = clearance == 0
    target, _, planted = carry_targets(ankles, contact, fps, clearance_m=clearance,
                                       drift_m=drift)  # fmt: skip
    assert MIN_AIR_FRAMES > 0 and planted.all()
    assert np.ptp(target[:, 0] - own) < 1e-9  # the drift is gone, the step is kept
    # 1.2 m of drift in 2 s: steps of 0.24 m (0.4 s of drift), not 8 of STEP_M
    fast = np.zeros((frames, 3))
    fast[:, 0] = np.linspace(0.0, 1.2, frames)
    fast[:, 1] = 0.08
    plants = carry_targets(fast, np.ones(frames, dtype=bool), fps, drift_m=fast[:, [0, 2]])[2]
    assert 3 <= len(mask_runs(plants)) < 1.2 / STEP_M
