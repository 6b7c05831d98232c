"""The ``mdtool info`` and ``mdtool convert`` commands, run as a user runs them."""

from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES
from gltf_validator import assert_valid
from library_support import mdtool, mdtool_process

from musicdance.io.bvh import read_bvh
from musicdance.io.gltf import read_gltf


def test_help_lists_the_commands():
    result = mdtool("--help")
    assert result.returncode == 0
    for command in ("info", "convert"):
        assert command in result.stdout


def test_info_json_on_the_bundled_demo():
    result = mdtool("info", EXAMPLES / "demo_dance.bvh", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["fps"] == 30.0
    assert report["joints"] == 22
    assert report["convention"] == "humanbodybones"
    assert report["up_axis"] == "+Y"
    assert report["frames"] == read_bvh(EXAMPLES / "demo_dance.bvh").num_frames


def test_convert_with_retarget_and_fps(shared_bvh, tmp_path):
    out = tmp_path / "canonical.bvh"
    result = mdtool("convert", shared_bvh, out, "--retarget", "--fps", "30", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    motion = read_bvh(out)
    assert motion.skeleton.num_joints == 22 and motion.fps == 30.0
    assert report["frames"] == motion.num_frames
    source = read_bvh(shared_bvh)
    dropped_s = report["cleanup"]["reference_frames_dropped"] / source.fps  # a reference pose
    assert motion.duration_s == pytest.approx(source.duration_s - dropped_s, abs=1 / 30)


@pytest.mark.parametrize(
    "content, suffix, message",
    [
        ("HIERARCHY\nROOT Hips\n{\n", ".bvh", "MOTION"),
        ("hello", ".txt", "unknown motion file type"),
        (None, ".bvh", "no such file"),
    ],
)
def test_bad_input_gives_one_line_and_exit_1(tmp_path, content, suffix, message):
    source = tmp_path / f"input{suffix}"
    if content is not None:
        source.write_text(content)
    out = tmp_path / "out.glb"
    result = mdtool("convert", source, out)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(source.name) in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_truncated_bvh_does_not_hang_or_write(tmp_path):
    text = (EXAMPLES / "demo_dance.bvh").read_text().splitlines()
    truncated = tmp_path / "truncated.bvh"
    truncated.write_text("\n".join(text[: len(text) - 40]))
    out = tmp_path / "out.bvh"
    result = mdtool("convert", truncated, out)
    assert result.returncode == 1 and "truncated" in result.stderr
    assert list(tmp_path.iterdir()) == [truncated]


def test_debug_shows_the_traceback(tmp_path):
    source = tmp_path / "broken.bvh"
    source.write_text("HIERARCHY\n")
    result = mdtool_process("--debug", "info", source)  # a real process: its traceback
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "MusicDanceError" in result.stderr


def test_usage_error_exits_2():
    assert mdtool_process("convert").returncode == 2  # a real process: its exit code
    assert mdtool("info", "a.bvh", "--no-such-option").returncode == 2


def test_convert_names_the_clip_and_can_leave_out_the_mesh(tmp_path):
    out = tmp_path / "demo.glb"
    result = mdtool("convert", EXAMPLES / "demo_dance.bvh", out, "--name", "Demo Clip",
                    "--mesh", "none")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_valid(out)
    raw = out.read_bytes()
    length = int.from_bytes(raw[12:16], "little")
    document = json.loads(raw[20 : 20 + length])
    assert document["animations"][0]["name"] == "Demo Clip"
    assert document["scenes"][0]["name"] == "Demo Clip"
    assert "meshes" not in document
    assert read_gltf(out).num_frames == read_bvh(EXAMPLES / "demo_dance.bvh").num_frames
    bad = mdtool("convert", EXAMPLES / "demo_dance.bvh", tmp_path / "x.glb", "--mesh", "box")
    assert bad.returncode != 0 and "--mesh" in bad.stderr
    assert not (tmp_path / "x.glb").exists()
