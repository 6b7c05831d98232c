"""BVH reader and writers under mutated real files, known bad inputs, and deep skeletons."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.harness import (
    FAILURES,
    bvh_corpus,
    check_cli_convert,
    check_motion_file,
    count_lines,
    mutate_bvh,
    small_bvh_text,
)
from musicdance.errors import MusicDanceError
from musicdance.io.bvh import read_bvh, write_bvh
from musicdance.motion import Motion, Skeleton
from musicdance.motion.quat import quat_identity

SOURCES = [small_bvh_text(p) for p in bvh_corpus()]
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), source=st.integers(0, len(SOURCES) - 1))
def test_mutated_bvh_reads_or_fails_with_one_line(tmp_path: Path, seed: int, source: int) -> None:
    path = tmp_path / f"fuzz{seed}.bvh"
    path.write_bytes(mutate_bvh(SOURCES[source], random.Random(seed)))
    outcome, detail = check_motion_file(path, read_bvh)
    assert outcome not in FAILURES, detail


HEAD = """HIERARCHY
ROOT Hips
{
  OFFSET 0 90 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 10 0
    }
  }
}
"""
GOOD = HEAD + "MOTION\nFrames: 2\nFrame Time: 0.0333333\n" + "0 90 0 0 0 0 0 0 0\n" * 2

BAD_BVH = {
    "repeated_axis": (
        GOOD.replace(
            "Zrotation Xrotation Yrotation\n    End", "Yrotation Xrotation Yrotation\n    End"
        ),
        "rotation order 'YXY'",
    ),
    "infinite_offset": (GOOD.replace("OFFSET 0 10 0\n    CH", "OFFSET 0 inf 0\n    CH"), "OFFSET"),
    "huge_value": (GOOD.replace("0 90 0 0 0 0 0 0 0\n", "0 1e300 0 0 0 0 0 0 0\n", 1), "beyond"),
    "joint_outside_root": (
        HEAD
        + "JOINT Late\n{\n OFFSET 0 1 0\n CHANNELS 3 Zrotation Xrotation Yrotation\n}\n"
        + "MOTION\nFrames: 1\nFrame Time: 0.03\n0 90 0 0 0 0 0 0 0 0 0 0\n",
        "outside the ROOT",
    ),
    "joint_in_end_site": (
        GOOD.replace("OFFSET 0 10 0\n    }", "JOINT Tip\n{\n}\n    }"),
        "inside an End Site",
    ),
    "channel_count": (GOOD.replace("CHANNELS 3", "CHANNELS 9"), "CHANNELS count"),
    "negative_count": (GOOD.replace("CHANNELS 3", "CHANNELS -3"), "CHANNELS count"),
    "frame_time_zero": (GOOD.replace("Frame Time: 0.0333333", "Frame Time: 0"), "Frame Time"),
    "frame_time_negative": (GOOD.replace("0.0333333", "-0.0333333"), "Frame Time"),
    "frame_time_nan": (GOOD.replace("0.0333333", "nan"), "Frame Time"),
    "too_many_frames": (GOOD.replace("Frames: 2", "Frames: 99999999999"), "joint-frames"),
    "brace_without_joint": (GOOD.replace("  JOINT Spine\n", ""), "without a ROOT"),
}


@pytest.mark.parametrize(("text", "message"), BAD_BVH.values(), ids=BAD_BVH.keys())
def test_bad_bvh_is_one_line_naming_file_and_problem(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.bvh"
    path.write_text(text)
    with pytest.raises(MusicDanceError, match=message) as caught:
        read_bvh(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    outcome, detail = check_cli_convert(path, ".glb")
    assert outcome == "rejected", detail


def test_good_file_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "good.bvh"
    path.write_text(GOOD)
    assert read_bvh(path).num_frames == 2


def _chain(num_joints: int, num_frames: int = 2, fps: float = 30.0) -> Motion:
    skeleton = Skeleton(
        names=tuple(f"j{k}" for k in range(num_joints)),
        parents=np.arange(-1, num_joints - 1),
        offsets_m=np.tile([0.0, 0.01, 0.0], (num_joints, 1)),
        channels=tuple(("Zrotation", "Xrotation", "Yrotation") for _ in range(num_joints)),
    )
    return Motion(skeleton, fps, np.zeros((num_frames, 3)), quat_identity((num_frames, num_joints)))


@pytest.mark.parametrize("fps", [1e9, 0.05, float("inf")])
def test_writer_refuses_frame_rates_its_reader_rejects(tmp_path: Path, fps: float) -> None:
    target = tmp_path / "out.bvh"
    with pytest.raises(MusicDanceError, match="frame time"):
        write_bvh(_chain(3, fps=fps), target)
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_names_it_cannot_read_back(tmp_path: Path) -> None:
    motion = _chain(3)
    skeleton = Skeleton(
        ("root", "a {b}", "c"),
        motion.skeleton.parents,
        motion.skeleton.offsets_m,
        motion.skeleton.channels,
    )
    with pytest.raises(MusicDanceError, match="joint name"):
        write_bvh(
            Motion(skeleton, 30.0, motion.root_positions_m, motion.rotations), tmp_path / "x.bvh"
        )
    assert list(tmp_path.iterdir()) == []


def test_deep_skeleton_round_trips(tmp_path: Path) -> None:
    """2,000 joints in one chain: written without recursion, read back whole."""
    write_bvh(_chain(2000), tmp_path / "deep.bvh")
    assert read_bvh(tmp_path / "deep.bvh").skeleton.num_joints == 2000


def test_read_cost_grows_linearly_with_skeleton_depth(tmp_path: Path) -> None:
    """Doubling the depth of a chain skeleton at most about doubles the lines executed."""
    costs = []
    for depth in (300, 600):
        path = tmp_path / f"chain{depth}.bvh"
        write_bvh(_chain(depth), path)
        costs.append(count_lines(lambda p=path: read_bvh(p)))
    assert costs[1] <= 2.2 * costs[0], costs


def test_error_lines_print_markup_in_names_literally(tmp_path: Path) -> None:
    """A joint name such as "[/x]" is shown as written; it crashed rich's markup parser."""
    path = tmp_path / "[red]markup[x].bvh"
    path.write_text(GOOD.replace("JOINT Spine", "JOINT [/x]").replace("ROOT Hips", "ROOT [/x]"))
    outcome, detail = check_cli_convert(path, ".glb")
    assert outcome == "rejected", detail
