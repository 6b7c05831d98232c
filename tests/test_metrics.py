"""Beat alignment and foot-contact metrics on motions whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from musicdance.evaluate.metrics import (
    bailando_kinematic_beats,
    beat_alignment,
    physical_foot_contact,
)
from musicdance.motion import Motion
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.quat import quat_from_euler


def pulsing_motion(beat_s: float, duration_s: float = 8.0, fps: float = 60.0) -> Motion:
    """Arms swing so that the body stops (speed minimum) exactly on every beat."""
    skeleton = canonical_skeleton()
    t = np.arange(int(duration_s * fps) + 1) / fps
    # extremes (speed zero) on the beats; a quarter-frame shift avoids exact speed ties
    swing = 40 * np.cos(np.pi * (t + 0.25 / fps) / beat_s)
    angles = np.zeros((len(t), skeleton.num_joints, 3))
    for name in ("LeftUpperArm", "RightUpperArm", "LeftLowerArm", "RightLowerArm"):
        angles[:, skeleton.index(name), 0] = swing  # about Z: the arms flap up and down
    root = np.tile([0.0, 0.93, 0.0], (len(t), 1))
    return Motion(skeleton, fps, root, quat_from_euler(angles, "ZXY"))


def test_kinematic_beats_are_the_speed_minima():
    motion = pulsing_motion(beat_s=0.5)
    beats = bailando_kinematic_beats(motion.global_positions())
    assert len(beats) >= 14
    # a speed minimum every 30 frames (0.5 s at 60 fps)
    np.testing.assert_allclose(np.diff(beats), 30, atol=1)
    assert np.all(np.abs(beats - np.round(beats / 30) * 30) <= 1)  # on the beats


def test_on_beat_motion_scores_far_above_its_half_beat_control():
    motion = pulsing_motion(beat_s=0.5)
    music_beats = np.arange(1, 16) * 0.5
    scores = beat_alignment(motion, music_beats)
    assert scores["beat_align_score"] > 0.9
    assert scores["beat_align_score"] > 1.5 * scores["beat_align_score_control"]
    assert scores["fact_beat_align"] > 0.9
    off_beat = beat_alignment(motion, music_beats + 0.25)
    assert off_beat["beat_align_score"] < 0.3


def test_pfc_is_zero_for_planted_feet_and_grows_with_sliding():
    still = pulsing_motion(beat_s=0.5)
    assert physical_foot_contact(still) == pytest.approx(0.0, abs=1e-9)
    sliding = pulsing_motion(beat_s=0.5)
    t = np.arange(sliding.num_frames) / sliding.fps
    sliding.root_positions_m[:, 0] = 0.3 * np.sin(2 * np.pi * t)  # whole body skates side to side
    assert physical_foot_contact(sliding) > 1.0
