"""Importing real motion capture into a library: retargeting, tempo, cutting, duplicates."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED_BVH
from library_support import sample_phrases
from tempo_support import TEMPO_BY_EYE

from musicdance.errors import MusicDanceError
from musicdance.io.bvh import write_bvh
from musicdance.io.files import load_motion, save_motion
from musicdance.library import create_library
from musicdance.library.importer import (
    import_motion_files,
    near_duplicates,
    phrases_from_take,
    prepare_import,
)
from musicdance.motion import Motion, Skeleton, concatenate
from musicdance.motion.canonical import canonical_skeleton
from musicdance.motion.quat import quat_identity
from musicdance.motion.retarget import retarget


def test_every_shared_take_imports(shared_bvh, tmp_path):
    library = create_library(tmp_path / "lib")
    if shared_bvh.stem not in TEMPO_BY_EYE:  # a walk, free modern dance: no steady beat
        with pytest.raises(MusicDanceError, match="no steady rhythm .* --bpm or the music"):
            import_motion_files(library, [shared_bvh], style="mocap")
        (report,) = import_motion_files(library, [shared_bvh], style="mocap", bpm=100.0)
        assert report.tempo_source == "given"
    else:
        (report,) = import_motion_files(library, [shared_bvh], style="mocap")
        assert report.tempo_source == "motion" and report.tempo_confidence >= 0.2
        assert report.tempo_bpm == pytest.approx(TEMPO_BY_EYE[shared_bvh.stem], rel=0.02)
    assert report.phrase_ids and library.ids() == sorted(report.phrase_ids)
    take_s = load_motion(shared_bvh).duration_s
    for phrase_id in report.phrase_ids:
        phrase = library.get(phrase_id)
        info = phrase.info
        assert 4 <= info.num_counts <= 8 and info.fps == 30.0
        assert np.all(np.diff(info.count_frames) > 0) and info.count_frames[0] == 0
        assert phrase.contacts.shape == (info.num_frames, 2)
        assert info.duration_s <= take_s + 0.1
        root = phrase.motion.root_positions_m
        assert np.allclose(root[0, [0, 2]], 0.0, atol=1e-6)  # starts at the origin
        assert abs(info.facing_start_deg) < 1.0  # facing +Z
        assert info.status == "draft" and "mocap" in info.tags
        assert info.source == f"mocap:{shared_bvh.name}"
    assert report.cleanup["placed"] is True


def test_given_tempo_sets_the_grid(tmp_path):
    path = next(p for p in SHARED_BVH if p.stem == "perfume_A_test")
    phrases, report = prepare_import(path, style="jpop", bpm=128.0)
    assert report.tempo_source == "given" and report.tempo_bpm == 128.0
    expected = load_motion(path).duration_s * 128.0 / 60.0 / 8
    assert len(phrases) >= int(expected) - 1
    for phrase in phrases:
        assert phrase.info.tempo_bpm == pytest.approx(128.0, rel=0.1)


def test_waltz_takes_cut_in_sixes():
    path = next(p for p in SHARED_BVH if p.stem == "perfume_A_test")
    phrases, _ = prepare_import(path, style="waltz", bpm=90.0, meter=3)
    assert all(p.info.meter == 3 and p.info.num_counts <= 6 for p in phrases)
    assert sum(p.info.num_counts == 6 for p in phrases) >= 5


def test_near_duplicates_and_duplicate_ids(tmp_path):
    path = next(p for p in SHARED_BVH if p.stem == "animdraw_fair1_dab")
    library = create_library(tmp_path / "lib")
    import_motion_files(library, [path], style="mocap")
    (again,) = import_motion_files(library, [path], style="mocap", id_prefix="again")
    assert again.near_duplicates and again.near_duplicates[0][2] < 1e-3
    before = library.ids()
    with pytest.raises(MusicDanceError, match="already in the library"):
        import_motion_files(library, [path], style="mocap")
    assert library.ids() == before


def test_a_failing_file_adds_nothing(tmp_path):
    library = create_library(tmp_path / "lib")
    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\nROOT Hips\n{\n")
    with pytest.raises(MusicDanceError) as error:
        import_motion_files(library, [SHARED_BVH[0], broken], style="mocap")
    assert "broken.bvh" in str(error.value)
    assert library.ids() == []
    assert not any((library.path / "motions").iterdir())


def test_skeleton_that_cannot_be_retargeted(tmp_path):
    names = tuple(f"bone{j}" for j in range(5))
    rotation = ("Zrotation", "Xrotation", "Yrotation")
    channels = (("Xposition", "Yposition", "Zposition", *rotation),) + (rotation,) * 4
    skeleton = Skeleton(
        names, np.array([-1, 0, 1, 2, 3]), np.tile([0.0, 0.3, 0.0], (5, 1)), channels
    )
    motion = Motion(skeleton, 30.0, np.zeros((60, 3)), quat_identity((60, 5)))
    path = tmp_path / "tentacle.bvh"
    write_bvh(motion, path)
    library = create_library(tmp_path / "lib")
    with pytest.raises(MusicDanceError, match="cannot retarget") as error:
        import_motion_files(library, [path], style="mocap")
    assert str(path) in str(error.value) and library.ids() == []


def test_take_without_rhythm(tmp_path):
    still = Motion(canonical_skeleton(), 30.0, np.tile([0.0, 0.93, 0.0], (300, 1)),
                   quat_identity((300, 22)))  # fmt: skip
    with pytest.raises(MusicDanceError, match="no steady rhythm"):
        phrases_from_take(still, style="x", id_prefix="still")
    path = tmp_path / "still.bvh"
    write_bvh(still, path)
    library = create_library(tmp_path / "lib")
    with pytest.raises(MusicDanceError, match="give the music's tempo with --bpm"):
        import_motion_files(library, [path], style="mocap")
    assert library.ids() == []


def test_too_short_take(tmp_path):
    take, _ = retarget(load_motion(SHARED_BVH[0]))
    short = Motion(take.skeleton, take.fps, take.root_positions_m[:40], take.rotations[:40])
    with pytest.raises(MusicDanceError, match="counts"):
        phrases_from_take(short, style="x", id_prefix="short", bpm=100.0)


def test_looped_take_follows_the_grid_and_repeats_are_reported():
    phrase = sample_phrases(mirrored=False)[0]
    looped = concatenate([phrase.motion] * 4)
    phrases, report = phrases_from_take(looped, style="x", id_prefix="loop")
    assert report["tempo_bpm"] == pytest.approx(phrase.info.tempo_bpm, rel=0.03)
    full = [p for p in phrases if p.info.num_counts == 8]
    assert len(phrases) == 4 and len(full) >= 3  # the start may move to the strongest count
    assert sum(p.info.num_frames for p in phrases) <= looped.num_frames
    repeats = near_duplicates(full, [])
    assert len(repeats) == len(full) - 1 and max(d for _, _, d in repeats) < 0.05


def test_bad_style_and_meter():
    with pytest.raises(MusicDanceError, match="style must be a plain word"):
        prepare_import(SHARED_BVH[0], style="hip hop!")
    take, _ = retarget(load_motion(SHARED_BVH[0]))
    with pytest.raises(MusicDanceError, match="meter"):
        phrases_from_take(take, style="x", id_prefix="m", meter=5)


def test_gltf_take_imports_like_its_bvh(tmp_path):
    path = next(p for p in SHARED_BVH if p.stem == "animdraw_rokoko_jesse_dance")
    glb = tmp_path / "take.glb"
    save_motion(load_motion(path), glb)
    from_bvh, bvh_report = prepare_import(path, style="mocap")
    from_glb, glb_report = prepare_import(glb, style="mocap")
    assert glb_report.tempo_bpm == pytest.approx(bvh_report.tempo_bpm, rel=0.02)
    assert [p.info.num_counts for p in from_glb] == [p.info.num_counts for p in from_bvh]
