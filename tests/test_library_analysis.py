"""Kinematic analysis in the motion layer: beats, tempo, contacts, support foot, facing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicdance.motion.analysis import (
    _remove_short_runs,
    dance_statistics,
    facing_deg,
    foot_contacts,
    foot_skating_mps,
    joint_speeds_mps,
    kinematic_beats,
    motion_tempo_bpm,
    support_foot,
)
from musicdance.motion.quat import quat_from_euler

FPS = 60.0


def pulsing_points(bpm: float, seconds: float, num_joints: int = 4, seed: int = 0) -> np.ndarray:
    """Joints that stop on every beat: each moves back and forth with eased strokes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    beats = t * bpm / 60.0
    u = beats % 1.0
    stroke = u * u * (3 - 2 * u)  # 0 -> 1 within each beat, still at the beat
    direction = np.where(np.floor(beats) % 2 == 0, stroke, 1.0 - stroke)
    amplitude = rng.uniform(0.1, 0.4, (num_joints, 3))
    return direction[:, None, None] * amplitude[None] + rng.normal(0, 1, (num_joints, 3))[None]


@pytest.mark.parametrize("bpm", [75.0, 100.0, 128.0])
def test_kinematic_beats_sit_on_the_stops(bpm):
    positions = pulsing_points(bpm, 12.0)
    beats = kinematic_beats(positions, FPS)
    expected = np.arange(1, int(12.0 * bpm / 60.0)) * 60.0 / bpm * FPS
    distance = np.abs(expected[:, None] - beats[None, :]).min(axis=1)
    assert np.all(distance <= 2), distance
    assert len(beats) <= len(expected) + 1


@pytest.mark.parametrize("bpm", [80.0, 100.0, 124.0])
def test_motion_tempo(bpm):
    estimate, confidence = motion_tempo_bpm(pulsing_points(bpm, 20.0, seed=3), FPS)
    assert estimate == pytest.approx(bpm, rel=0.03)
    assert confidence > 0.5


def test_still_motion_has_no_beats_and_no_tempo():
    positions = np.zeros((600, 5, 3))
    assert len(kinematic_beats(positions, FPS)) == 0
    estimate, confidence = motion_tempo_bpm(positions, FPS)
    assert np.isnan(estimate) and confidence == 0.0


def test_foot_contacts_follow_planted_feet():
    num = 120
    t = np.arange(num)
    positions = np.zeros((num, 4, 3))  # ankle_l, toe_l, ankle_r, toe_r
    positions[:, [0, 2], 1] = 0.08
    lifted = (t >= 40) & (t < 70)
    positions[lifted, 0, 1] += 0.15 * np.sin(np.pi * (t[lifted] - 40) / 30)
    positions[lifted, 1, 1] += 0.15 * np.sin(np.pi * (t[lifted] - 40) / 30)
    positions[lifted, 0, 0] += np.linspace(0, 0.3, lifted.sum())
    positions[lifted, 1, 0] += np.linspace(0, 0.3, lifted.sum())
    positions[t >= 70, :2, 0] += 0.3
    contacts = foot_contacts(positions, 30.0, ((0, 1), (2, 3)))
    assert contacts[:, 1].all()
    assert contacts[:38, 0].all() and contacts[72:, 0].all() and not contacts[45:65, 0].any()
    assert foot_skating_mps(positions, 30.0, contacts, ((0, 1), (2, 3))) < 0.01


@given(st.lists(st.booleans(), min_size=1, max_size=60), st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_short_runs_are_removed(mask, min_frames):
    cleaned = _remove_short_runs(np.array(mask), min_frames)
    change = np.flatnonzero(np.diff(cleaned.astype(int))) + 1
    runs = np.diff(np.concatenate([[0], change, [len(cleaned)]]))
    interior = runs[1:-1]  # runs touching the ends may be cut short by the take itself
    assert np.all(interior >= min_frames)


def test_support_foot_labels():
    positions = np.zeros((4, 3, 3))  # root, left ankle, right ankle
    positions[:, 1, 0], positions[:, 2, 0] = 0.1, -0.1
    positions[2, 0, 0] = 0.09  # hips over the left foot
    contacts = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=bool)
    labels = support_foot(positions, contacts, 0, (1, 2))
    assert labels == ["left", "right", "left", "none"]
    positions[2, 0, 0] = 0.0
    assert support_foot(positions, contacts, 0, (1, 2))[2] == "both"


def test_facing_angles():
    angles = np.array([0.0, 90.0, -45.0, 180.0])
    q = quat_from_euler(np.stack([np.zeros(4), angles, np.zeros(4)], -1), "XYZ")
    assert np.allclose(np.abs(facing_deg(q)), np.abs(angles))
    assert facing_deg(q)[1] == pytest.approx(90.0)  # turning towards +X


def test_dance_statistics_units():
    num = 90
    positions = np.zeros((num, 4, 3))  # hips, hand, hand, foot
    positions[:, 0, 1] = 0.9 + 0.05 * np.sin(np.arange(num) / 5)
    positions[:, 0, 0] = np.arange(num) / 30.0 * 0.2  # 0.2 m/s travel
    positions[:, 1, 1] = 1.8
    positions[:, 2, 0] = np.arange(num) / 30.0  # 1 m/s
    stats = dance_statistics(positions, 30.0, hips=0, hands=(1, 2), feet=(3, 3))
    assert stats["root_travel_mps"] == pytest.approx(0.2, rel=0.05)  # ends lose a little
    assert stats["hand_speed_p95_mps"] == pytest.approx(1.0, rel=0.02)
    assert stats["hand_height_p95_m"] == pytest.approx(0.95, abs=0.06)
    assert stats["root_bounce_std_m"] == pytest.approx(0.035, abs=0.005)
    assert joint_speeds_mps(positions[:1], 30.0).shape == (1, 4)
