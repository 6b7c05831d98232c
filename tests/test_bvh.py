"""BVH reading and writing on real motion capture and on hand-written edge cases."""

from __future__ import annotations

from pathlib import Path

import bvhio
import numpy as np
import pytest

from musicdance.errors import MusicDanceError
from musicdance.io.bvh import detect_unit, read_bvh, read_bvh_header, write_bvh
from musicdance.motion.quat import quat_angle

SMALL = """HIERARCHY
ROOT Hips
{
\tOFFSET 0.0 0.0 0.0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Spine
\t{
\t\tOFFSET 0.0 10.0 0.0
\t\tCHANNELS 3 Yrotation Xrotation Zrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.0 .5 0.0
\t\t}
\t}
\tJOINT Leg
\t{
\t\tOFFSET 10.0 0.0 0.0
\t\tCHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0.0 -80.0 0.0
\t\t}
\t}
}
MOTION
Frames: 3
Frame Time: .0333333
0 90 0 0 0 0 0 0 0 10 0 0 0 0 0
1 91 0 10 0 0 5 0 0 10 1 0 0 0 45
2 92 0 20 0 0 10 0 0 10 2 0 0 0 90
"""


def write_text(tmp_path: Path, text: str, name: str = "clip.bvh", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def test_round_trip_reproduces_joint_positions(shared_bvh, tmp_path):
    motion = read_bvh(shared_bvh)
    out = tmp_path / "round.bvh"
    write_bvh(motion, out)
    again = read_bvh(out)
    assert again.num_frames == motion.num_frames
    assert again.fps == pytest.approx(motion.fps)
    assert again.skeleton.names == motion.skeleton.names
    error = np.abs(again.global_positions() - motion.global_positions()).max()
    assert error < 1e-4, f"round trip moved a joint by {error:.2e} m"


def test_reader_agrees_with_bvhio(shared_bvh):
    """bvhio is the independent reference for channel order and Euler conventions."""
    motion = read_bvh(shared_bvh)
    reference = bvhio.readAsBvh(str(shared_bvh))
    joints = []

    def walk(joint):
        joints.append(joint)
        for child in joint.Children:
            walk(child)

    walk(reference.Root)
    assert [j.Name for j in joints] == list(motion.skeleton.names)
    for frame in (0, motion.num_frames // 2, motion.num_frames - 1):
        ours = motion.rotations[frame]
        theirs = np.array([[k.Rotation.x, k.Rotation.y, k.Rotation.z, k.Rotation.w]
                           for k in (j.Keyframes[frame] for j in joints)])  # fmt: skip
        assert np.degrees(quat_angle(ours, theirs)).max() < 1e-4  # bvhio stores float32


def test_units_are_detected_as_documented():
    data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bvh"
    expected = {"perfume_A_test": "cm", "bvh11_cmu_131_02": "cmu", "cmu-iclone_005_02": "cm"}
    for stem, unit in expected.items():
        path = data / f"{stem}.bvh"
        if path.exists():
            assert detect_unit(read_bvh_header(path).skeleton) == unit


def test_small_file_edge_cases(tmp_path):
    """Tabs, leading-dot numbers, end sites, position channels on a non-root joint."""
    path = write_text(tmp_path, SMALL)
    motion = read_bvh(path, scale=0.01)
    assert motion.fps == 30.0  # .0333333 snaps to 30 fps
    assert motion.skeleton.names == ("Hips", "Spine", "Leg")
    assert motion.skeleton.channels[1] == ("Yrotation", "Xrotation", "Zrotation")
    np.testing.assert_allclose(motion.skeleton.end_sites_m[1], [0, 0.005, 0])
    np.testing.assert_allclose(motion.root_positions_m[:, 1], [0.90, 0.91, 0.92])
    assert motion.local_translations_m is not None
    np.testing.assert_allclose(motion.local_translations_m[:, 2, 0], [0.10, 0.10, 0.10])
    np.testing.assert_allclose(motion.local_translations_m[:, 2, 1], [0.0, 0.01, 0.02])
    positions = motion.global_positions()
    # frame 1: root yaw 0, Zrotation 10 on the root, then the leg sits 0.1 m along rotated +X
    expected = (
        np.array([0.01, 0.91, 0.0])
        + 0.1 * np.array([np.cos(np.radians(10)), np.sin(np.radians(10)), 0])
        + np.array([-np.sin(np.radians(10)), np.cos(np.radians(10)), 0]) * 0.01
    )
    np.testing.assert_allclose(positions[1, 2], expected, atol=1e-9)
    out = tmp_path / "out.bvh"
    write_bvh(motion, out, unit="m")
    again = read_bvh(out, scale=1.0)
    np.testing.assert_allclose(again.global_positions(), positions, atol=1e-6)


def test_crlf_and_lf_mixed(tmp_path):
    lf = read_bvh(write_text(tmp_path, SMALL), scale=0.01)
    mixed_text = SMALL.replace("CHANNELS 6", "CHANNELS 6", 1)
    lines = mixed_text.split("\n")
    mixed = "\n".join(line + ("\r" if i % 2 else "") for i, line in enumerate(lines))
    other = read_bvh(write_text(tmp_path, mixed, "mixed.bvh"), scale=0.01)
    np.testing.assert_allclose(other.global_positions(), lf.global_positions())


def test_scale_override(tmp_path):
    path = write_text(tmp_path, SMALL)
    metres = read_bvh(path, scale=1.0)
    centimetres = read_bvh(path, scale=0.01)
    np.testing.assert_allclose(metres.global_positions() * 0.01, centimetres.global_positions())


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t.replace("Frames: 3", "Frames: 5"), "truncated"),
        (
            lambda t: t.replace("2 92 0 20 0 0 10 0 0 10 2 0 0 0 90", "2 92 0 20"),
            "frame 2 has 4 values",
        ),
        (lambda t: t.replace("1 91 0 10", "1 nan 0 10"), "NaN"),
        (lambda t: t.replace("1 91 0 10", "1 abc 0 10"), "not a number"),
        (
            lambda t: t.replace("Xrotation Yrotation Zrotation", "Xrotation Yrotation Wrotation"),
            "unknown channel",
        ),
        (lambda t: t.split("MOTION")[0], "no HIERARCHY and MOTION"),
        (lambda t: t.replace("Frame Time: .0333333", "Frame Time: 0"), "Frame Time"),
        (lambda t: t.replace("\t}\n}\nMOTION", "\t}\nMOTION"), "unclosed"),
    ],
)
def test_malformed_files_give_one_clear_error(tmp_path, mutate, message):
    path = write_text(tmp_path, mutate(SMALL))
    with pytest.raises(MusicDanceError) as info:
        read_bvh(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_binary_and_missing_files(tmp_path):
    binary = tmp_path / "noise.bvh"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(MusicDanceError, match="binary"):
        read_bvh(binary)
    with pytest.raises(MusicDanceError, match="cannot read"):
        read_bvh(tmp_path / "missing.bvh")


def test_invalid_motion_leaves_no_file(tmp_path):
    motion = read_bvh(write_text(tmp_path, SMALL), scale=0.01)
    motion.rotations[1, 1] = np.nan
    out = tmp_path / "never.bvh"
    with pytest.raises(MusicDanceError):
        write_bvh(motion, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["clip.bvh"]
