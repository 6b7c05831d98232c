"""The starter library's real-capture style: contemporary phrases cut from CMU subject 5.

The recipe's pieces are tested on real procedural motion with known defects put in; the
whole recipe on the CMU takes in ``../shared/data`` (skipped where they are absent), against
the phrases committed in ``phrase_library/``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA
from library_support import mdtool, sample_phrases

from musicdance.library import open_library
from musicdance.library.contemporary import (
    CMU_ACKNOWLEDGEMENT,
    CMU_NOTICE_NAME,
    CONTEMPORARY_STYLE,
    CURATION_LIMITS,
    contemporary_phrases,
    prepare_take,
    rejection_reasons,
    repair_flicker,
    takes_present,
)
from musicdance.library.phrase import make_phrase
from musicdance.library.procedural.build import build_starter_library
from musicdance.library.validate import validate_phrase
from musicdance.motion.canonical import CANONICAL_JOINTS
from musicdance.motion.motion import concatenate, resample, slice_frames
from musicdance.motion.quat import quat_mul

SHIPPED = REPO / "phrase_library"
needs_takes = pytest.mark.skipif(
    not takes_present(SHARED_DATA), reason="the CMU takes are not in ../shared/data"
)
_J = {name: i for i, name in enumerate(CANONICAL_JOINTS)}


@pytest.fixture(scope="module")
def recipe():
    return contemporary_phrases(SHARED_DATA)


def _phrase():
    return sample_phrases(style="pop", move="step-clap", energy="full", mirrored=False)[0]


def test_prepare_take_trims_still_ends_and_puts_the_feet_on_the_floor():
    motion = _phrase().motion
    still_start = concatenate([slice_frames(motion, 0, 1)] * 90)  # 3 s standing
    still_end = concatenate([slice_frames(motion, motion.num_frames - 1)] * 60)
    take = concatenate([still_start, motion, still_end])
    lifted = replace(take, root_positions_m=take.root_positions_m + np.array([0.0, 0.2, 0.0]))
    prepared, done = prepare_take(lifted)
    assert 2.0 < done["trimmed_start_s"] <= 3.0 and 1.0 < done["trimmed_end_s"] <= 2.0
    assert done["floor_shift_m"] == pytest.approx(-0.2, abs=0.01)
    assert prepared.num_frames < take.num_frames - 90
    heights = prepared.root_positions_m[:, 1] - motion.root_positions_m[0, 1]
    assert abs(np.percentile(heights, 50)) < 0.05


def test_repair_flicker_mends_a_flipping_thigh_and_leaves_real_motion_alone():
    """The CC_Base solve of CMU subject 5 flips a raised thigh by up to 178 degrees for a
    few frames and back; the repair interpolates across the flicker. Real motion (a starter
    phrase at 60 fps, fast moves included) has no rotation step that large: nothing changes."""
    motion = resample(_phrase().motion, 60.0)
    same, mended = repair_flicker(motion)
    assert mended == 0 and np.array_equal(same.rotations, motion.rotations)
    rotations = motion.rotations.copy()
    thigh = _J["RightUpperLeg"]
    flip = np.array([np.sin(np.radians(85.0)), 0.0, 0.0, np.cos(np.radians(85.0))])  # 170 deg
    rotations[100:104, thigh] = quat_mul(rotations[100:104, thigh], flip)
    flickering = replace(motion, rotations=rotations)
    positions = motion.global_positions()
    assert np.abs(flickering.global_positions() - positions).max() > 0.3  # the knee flies
    mended_motion, mended = repair_flicker(flickering)
    assert mended == 4
    # back on the real path, up to interpolating 5 frames (83 ms) of real motion
    assert np.abs(mended_motion.global_positions() - positions).max() < 0.03
    assert np.array_equal(mended_motion.rotations[:100], flickering.rotations[:100])


def test_curation_rejects_broken_phrases_with_their_figures():
    phrase = _phrase()
    assert rejection_reasons(phrase) == []
    # A one-frame jump (a marker swap): the root pops 0.3 m sideways for a single frame.
    root = phrase.motion.root_positions_m.copy()
    root[40, 0] += 0.3
    popped = make_phrase(replace(phrase.motion, root_positions_m=root),
                         phrase_id="popped", style="pop",
                         count_frames=np.array(phrase.info.count_frames),
                         tempo_bpm=phrase.info.tempo_bpm, energy=phrase.info.energy,
                         contacts=phrase.contacts)  # fmt: skip
    reasons = rejection_reasons(popped)
    assert any("one-frame jump of 0.3" in r for r in reasons), reasons
    # Half an eight is not an eight.
    counts = np.array(phrase.info.count_frames)
    short = make_phrase(slice_frames(phrase.motion, 0, int(counts[4])), phrase_id="short",
                        style="pop", count_frames=counts[:4], tempo_bpm=phrase.info.tempo_bpm,
                        energy=phrase.info.energy)  # fmt: skip
    assert any("only 4 counts" in r for r in rejection_reasons(short))
    # Standing still.
    frozen = concatenate([slice_frames(phrase.motion, 0, 1)] * phrase.motion.num_frames)
    still = make_phrase(frozen, phrase_id="still", style="pop", count_frames=counts,
                        tempo_bpm=phrase.info.tempo_bpm, energy=0.0)  # fmt: skip
    assert any("hardly moves" in r for r in rejection_reasons(still))


@needs_takes
def test_the_recipe_keeps_only_clean_eights(recipe):
    phrases, results = recipe
    kept = [r for r in results if not r.reasons]
    assert len(kept) >= 5 and len(phrases) == 2 * len(kept)
    assert any(r.reasons for r in results)  # the broken takes are caught
    for phrase in phrases:
        info = phrase.info
        assert info.style == CONTEMPORARY_STYLE and info.num_counts == 8
        assert info.status == "approved" and "cmu" in info.tags
        assert "LICENSE-CMU.md" in info.licence
        assert not [f for f in validate_phrase(phrase) if f.level == "error"]
    for result in kept:
        assert result.figures["pose_break_m"] <= CURATION_LIMITS["pose_break_m"]
        assert result.figures["foot_skating_mps"] <= CURATION_LIMITS["foot_skating_mps"]


@needs_takes
def test_the_committed_phrases_are_what_the_recipe_builds(recipe):
    """``phrase_library/`` must be rebuilt (``mdtool library build-starter --force``) whenever
    the recipe or the importer changes."""
    phrases, _ = recipe
    shipped = open_library(SHIPPED)
    committed = {i.id: i for i in shipped.infos(styles=[CONTEMPORARY_STYLE])}
    assert sorted(committed) == sorted(p.id for p in phrases)
    for phrase in phrases:
        info = committed[phrase.id]
        assert info.count_frames == phrase.info.count_frames
        assert info.tempo_bpm == pytest.approx(phrase.info.tempo_bpm)
        stored = shipped.get(phrase.id).motion.global_positions()
        assert np.abs(stored - phrase.motion.global_positions()).max() < 1e-3


def test_the_notice_sits_beside_the_phrases():
    notice = (SHIPPED / CMU_NOTICE_NAME).read_text(encoding="utf-8")
    assert CMU_ACKNOWLEDGEMENT in notice and "may not be resold" in notice
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert CMU_ACKNOWLEDGEMENT in readme and "may not resell the data" in readme


def test_without_the_data_the_build_keeps_the_committed_phrases(tmp_path):
    notes: list[str] = []
    built = build_starter_library(
        tmp_path / "lib", styles=["contemporary"], data_dir=tmp_path / "absent", notes=notes
    )
    committed = open_library(SHIPPED).infos(styles=[CONTEMPORARY_STYLE])
    assert built.ids() == sorted(i.id for i in committed)
    assert "kept the" in notes[0] and "not found" in notes[0]
    assert (tmp_path / "lib" / CMU_NOTICE_NAME).is_file()
    exported = built.export(tmp_path / "subset", ids=built.ids()[:2])
    assert len(exported) == 2 and (tmp_path / "subset" / CMU_NOTICE_NAME).is_file()


def test_build_starter_cli_says_where_the_contemporary_phrases_came_from(tmp_path):
    result = mdtool("library", "build-starter", "--library", tmp_path / "lib", "--style",
                    "contemporary", "--data", tmp_path / "absent", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert '"contemporary: kept the' in result.stdout
