"""Quality of the procedural starter library: it has to look like dance, measurably."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from conftest import REPO

from musicdance.errors import MusicDanceError
from musicdance.library import open_library
from musicdance.library.phrase import FOOT_POINTS
from musicdance.library.procedural.build import (
    ENERGY_LEVELS,
    build_starter_library,
    starter_phrases,
)
from musicdance.library.procedural.rig import push_out_of_torso
from musicdance.library.procedural.routine import keyed
from musicdance.library.procedural.styles import STYLES
from musicdance.library.quality import (
    elbow_wrong_way_deg,
    hands_in_torso_fraction,
    knee_wrong_way_deg,
    phrase_quality,
)
from musicdance.motion import Motion, concatenate
from musicdance.motion.analysis import foot_contacts
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.quat import quat_from_euler, quat_identity


@pytest.fixture(scope="module")
def starter():
    return list(starter_phrases())


@pytest.fixture(scope="module")
def quality(starter):
    return {p.id: phrase_quality(p) for p in starter}


def test_size_styles_energies_and_mirrors(starter):
    ids = [p.id for p in starter]
    assert len(ids) >= 150 and len(set(ids)) == len(ids)
    assert len({p.info.style for p in starter}) >= 6
    assert {p.info.energy for p in starter} == set(ENERGY_LEVELS.values())
    assert all(f"{i}-mirror" in ids for i in ids if not i.endswith("-mirror"))
    for phrase in starter:
        counts = 6 if phrase.info.style == "waltz" else 8
        assert phrase.info.num_counts == counts and phrase.info.meter == (3 if counts == 6 else 4)
        low, high = STYLES[phrase.info.style].tempo_bpm
        assert low - 2 <= phrase.info.tempo_bpm <= high + 2
        assert phrase.info.status == "approved" and "procedural" in phrase.info.tags


def test_feet_stay_planted_during_contacts(starter, quality):
    skating = np.array([quality[p.id]["foot_skating_mps"] for p in starter])
    assert skating.max() < 0.01, skating.max()  # under 1 cm/s in every phrase
    agreement = []
    for phrase in starter[::3]:  # the stored contacts are what a detector sees
        detected = foot_contacts(phrase.motion.global_positions(), phrase.motion.fps, FOOT_POINTS)
        agreement.append(np.mean(detected == phrase.contacts))
    # Low gliding waltz steps are the hardest for the detector.
    assert np.mean(agreement) > 0.9 and np.min(agreement) > 0.75, agreement


def test_kinematic_beats_fall_on_the_counts(starter, quality):
    hit = np.array([quality[p.id]["count_hit_rate"] for p in starter])
    offset = np.array([quality[p.id]["mean_offset_beats"] for p in starter])
    assert hit.min() >= 0.8 and hit.mean() >= 0.97, (hit.min(), hit.mean())
    assert offset.mean() < 0.08


def test_knees_and_elbows_bend_the_natural_way_and_hands_stay_out(quality):
    assert max(q["knee_wrong_way_deg"] for q in quality.values()) < 1.0
    assert max(q["elbow_wrong_way_deg"] for q in quality.values()) < 1.0
    assert max(q["hands_in_torso_fraction"] for q in quality.values()) == 0.0


def test_whole_body_moves_like_dance(starter, quality):
    by_style = defaultdict(list)
    for phrase in starter:
        by_style[phrase.info.style].append(quality[phrase.id])
    for style, rows in by_style.items():
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        # Loose bounds around measured real dance (docs/library.md has the exact table); the
        # mean hand speed inside the real takes' range (0.91-1.37 m/s).
        assert 0.8 <= mean["hand_speed_mean_mps"] <= 1.37, (style, mean)
        assert 2.2 <= mean["hand_speed_p95_mps"] <= 4.2, (style, mean)
        assert 0.025 <= mean["root_bounce_std_m"] <= 0.06, (style, mean)
        assert 0.1 <= mean["root_travel_mps"] <= 0.4, (style, mean)
        assert 0.6 <= mean["hand_height_p95_m"] <= 1.1, (style, mean)


def test_weight_changes_feet_and_steps_move_the_root(starter):
    for phrase in starter:
        contacts = phrase.contacts
        assert contacts.any(axis=1).all(), phrase.id  # never airborne
        assert (~contacts).any(), phrase.id  # some foot leaves the floor
        root = phrase.motion.root_positions_m
        assert np.ptp(root[:, [0, 2]], axis=0).max() > 0.05, phrase.id


def test_more_energy_moves_more(starter, quality):
    speeds = defaultdict(dict)
    for phrase in starter:
        move = phrase.id.rsplit("-", 1)[0] if not phrase.id.endswith("-mirror") else None
        if move:
            speeds[move][phrase.info.energy] = quality[phrase.id]["hand_speed_mean_mps"]
    for move, by_energy in speeds.items():
        values = [by_energy[e] for e in sorted(by_energy)]
        assert values == sorted(values), move


def test_mirrors_swap_sides(starter):
    by_id = {p.id: p for p in starter}
    for phrase in starter:
        if phrase.id.endswith("-mirror"):
            original = by_id[phrase.id[: -len("-mirror")]]
            swap = {"left": "right", "right": "left"}
            assert phrase.info.support_end == swap.get(
                original.info.support_end, original.info.support_end
            )
            assert np.array_equal(phrase.contacts, original.contacts[:, ::-1])
            a = original.motion.global_positions()
            b = phrase.motion.global_positions()
            assert np.allclose(a[:, 0, 0], -b[:, 0, 0], atol=1e-6)


def test_build_is_deterministic_and_seeded():
    def subset(seed):
        return list(starter_phrases(styles=["pop"], energies=["full"], mirrored=False, seed=seed))

    first, again, other = subset(0), subset(0), subset(1)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.motion.rotations, b.motion.rotations)
        assert a.info.tempo_bpm == b.info.tempo_bpm
    assert any(a.info.tempo_bpm != c.info.tempo_bpm for a, c in zip(first, other, strict=True))


def test_build_starter_library_writes_a_library(tmp_path):
    library = build_starter_library(tmp_path / "lib", styles=["waltz"], energies=["calm"])
    assert len(library) == 2 * len(STYLES["waltz"].moves) >= 24
    phrase = library.get("waltz-box-calm")
    assert phrase_quality(phrase)["foot_skating_mps"] < 0.01
    with pytest.raises(MusicDanceError, match="not empty"):
        build_starter_library(tmp_path / "lib", styles=["waltz"], energies=["calm"])
    rebuilt = build_starter_library(
        tmp_path / "lib", styles=["jazz"], energies=["calm"], force=True
    )
    assert {i.style for i in rebuilt.infos()} == {"jazz"}
    with pytest.raises(MusicDanceError, match="unknown starter style"):
        build_starter_library(tmp_path / "other", styles=["tango"])
    assert not (tmp_path / "other").exists()


def test_keyed_holds_keys_and_eases_between():
    beats = np.linspace(0, 2, 201)
    values = keyed([0.0, 1.0, 2.0], np.array([[0.0], [1.0], [0.0]]), beats, hold=0.4)[:, 0]
    assert np.all(values[(beats <= 0.2)] == 0.0)
    assert np.all(values[(beats >= 0.8) & (beats <= 1.2)] == 1.0)
    assert values[50] == pytest.approx(0.5)


def test_wrists_are_pushed_out_of_the_torso():
    inside = np.array([[0.0, 0.0, 0.05], [0.05, -0.3, -0.05], [0.5, 0.0, 0.0]])
    pushed = push_out_of_torso(inside)
    assert pushed[0, 2] > 0.15 and pushed[1, 2] < -0.1 and pushed[1, 0] > 0.05
    assert np.array_equal(pushed[2], inside[2])
    # A hand sweeping from the front to the back goes round the side, without jumps.
    sweep = np.stack([np.full(101, 0.05), np.full(101, -0.2), np.linspace(0.3, -0.3, 101)], -1)
    path = push_out_of_torso(sweep)
    assert np.linalg.norm(np.diff(path, axis=0), axis=-1).max() < 0.03


def test_shipped_library_matches_the_code(starter):
    """``phrase_library/`` must be rebuilt (``mdtool library build-starter --force``) whenever
    the procedural dancer changes."""
    shipped = open_library(REPO / "phrase_library")
    by_id = {p.id: p for p in starter}
    procedural = shipped.infos(tags=["procedural"])
    assert sorted(i.id for i in procedural) == sorted(by_id)
    assert {i.style for i in shipped.infos()} - {i.style for i in procedural} == {"contemporary"}
    for info in procedural:
        built = by_id[info.id].info
        assert info.count_frames == built.count_frames and info.tempo_bpm == built.tempo_bpm
    for phrase_id in sorted(by_id)[::20]:
        stored = shipped.get(phrase_id).motion.global_positions()
        assert np.abs(stored - by_id[phrase_id].motion.global_positions()).max() < 1e-3


def _posed(**angles_deg) -> Motion:
    """One frame of the canonical figure with some joints turned (XYZ Euler, degrees)."""
    skeleton = canonical_skeleton()
    rotations = quat_identity((2, skeleton.num_joints))
    for name, angles in angles_deg.items():
        rotations[:, skeleton.index(name)] = quat_from_euler(angles, "XYZ")
    return Motion(skeleton, 30.0, np.array([[0.0, 0.93, 0.0]] * 2), rotations)


def test_quality_checks_catch_bad_poses():
    assert hands_in_torso_fraction(_posed()) == 0.0
    through = _posed(LeftShoulder=[0, 180, 0], LeftUpperArm=[0, 0, 90], LeftLowerArm=[0, 170, 0])
    assert hands_in_torso_fraction(through) == 1.0
    assert knee_wrong_way_deg(_posed(LeftLowerLeg=[30, 0, 0])).max() == 0.0  # flexion
    assert knee_wrong_way_deg(_posed(LeftLowerLeg=[-30, 0, 0]))[:, 0] == pytest.approx(30.0)
    assert elbow_wrong_way_deg(_posed(LeftLowerArm=[0, -60, 0])).max() == 0.0  # flexion
    # The elbow's hinge is learnt from the take: a glitch against the take's bending is caught.
    take = concatenate([_posed(LeftLowerArm=[0, -60, 0]), _posed(LeftLowerArm=[0, 60, 0])])
    assert elbow_wrong_way_deg(take)[:, 0] == pytest.approx([0, 0, 60, 60])


def test_phrases_start_and_end_still_in_one_boundary_pose(starter):
    """Any phrase joins any other of its style: every phrase starts and ends at rest (no joint
    faster than 1 m/s in its first or last frame) with the hips at the same height, whatever
    the energy."""
    heights = defaultdict(list)
    for phrase in starter:
        positions = phrase.motion.global_positions()
        speed = np.linalg.norm(np.diff(positions, axis=0), axis=-1) * phrase.motion.fps
        assert speed[0].max() < 1.0 and speed[-1].max() < 1.0, (phrase.id, speed[[0, -1]].max(1))
        heights[phrase.info.style] += [positions[0, 0, 1], positions[-1, 0, 1]]
    for style, values in heights.items():
        assert np.ptp(values) < 0.02, (style, np.ptp(values))


def test_accents_land_on_the_counts_not_between(starter):
    """The groove stops on the counts and bounces through the "and": scored against its own
    counts shifted by half a beat (the Beat Align Score's control), each style scores far
    lower than against its counts."""
    from musicdance.evaluate.metrics import beat_alignment

    by_style = defaultdict(list)
    for phrase in starter[::2]:  # the mirrors move alike
        counts_s = np.asarray(phrase.info.count_frames) / phrase.info.fps
        scores = beat_alignment(phrase.motion, counts_s)
        by_style[phrase.info.style].append(
            (scores["beat_align_score"], scores["beat_align_score_control"])
        )
    for style, rows in by_style.items():
        bas, control = np.mean(rows, axis=0)
        assert control < 0.16 and bas - control > 0.4, (style, bas, control)
