"""``--root-motion``: hips, a Root bone on the floor, or in place with the curve kept. Forward
kinematics of the exported joints must equal the original world positions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES
from gltf_validator import assert_valid

from musicdance.io.bvh import read_bvh
from musicdance.io.gltf import read_gltf, write_glb
from musicdance.motion.rootmotion import (
    ROOT_BONE,
    RootCurve,
    apply_root_motion,
    readd_root_motion,
)

TOLERANCE_M = 1e-5


@pytest.fixture(scope="module")
def dance():
    return read_bvh(EXAMPLES / "demo_dance.bvh")


def positions_by_name(motion, names) -> np.ndarray:
    positions = motion.global_positions()
    return positions[:, [motion.skeleton.index(n) for n in names]]


@pytest.mark.parametrize("mode", ["hips", "root-bone"])
def test_exported_joints_keep_their_world_positions(dance, tmp_path: Path, mode: str) -> None:
    prepared, curve = apply_root_motion(dance, mode)
    assert curve is None
    path = tmp_path / f"{mode}.glb"
    write_glb(prepared, path)
    assert_valid(path)
    back = read_gltf(path)
    names = dance.skeleton.names
    error = np.abs(positions_by_name(back, names) - dance.global_positions()).max()
    assert error < TOLERANCE_M, error
    if mode == "root-bone":
        assert back.skeleton.names[0] == ROOT_BONE
        root = back.global_positions()[:, 0]
        assert np.abs(root[:, 1]).max() < TOLERANCE_M  # on the floor
        hips = dance.global_positions()[:, 0]
        np.testing.assert_allclose(root[:, [0, 2]], hips[:, [0, 2]], atol=TOLERANCE_M)
        assert np.ptp(root[:, [0, 2]], axis=0).max() > 0.05  # it does carry the travel


def test_in_place_keeps_the_curve_and_readding_it_restores_the_dance(dance, tmp_path) -> None:
    placed, curve = apply_root_motion(dance, "in-place")
    assert isinstance(curve, RootCurve)
    hips = placed.global_positions()[:, 0]
    assert np.abs(hips[:, [0, 2]]).max() < 1e-9  # no travel left
    path = tmp_path / "in_place.glb"
    write_glb(placed, path, animation_extras={"mdtool_root_motion": curve.to_json()})
    assert_valid(path)
    raw = path.read_bytes()
    stored = json.loads(raw[20 : 20 + int.from_bytes(raw[12:16], "little")])
    stored = stored["animations"][0]["extras"]["mdtool_root_motion"]
    back = RootCurve(stored["fps"], np.array(stored["positions_m"]), np.array(stored["yaw_rad"]))
    restored = readd_root_motion(read_gltf(path), back)
    error = np.abs(restored.global_positions() - dance.global_positions()).max()
    assert error < TOLERANCE_M, error


def test_unknown_mode_is_refused(dance) -> None:
    with pytest.raises(ValueError, match="root motion mode"):
        apply_root_motion(dance, "feet")


def test_convert_root_bone_to_bvh_and_in_place_to_glb(tmp_path: Path) -> None:
    from library_support import mdtool

    source = EXAMPLES / "demo_dance.bvh"
    original = read_bvh(source).global_positions()
    bvh = tmp_path / "rooted.bvh"
    result = mdtool("convert", source, bvh, "--root-motion", "root-bone")
    assert result.returncode == 0, result.stderr
    back = read_bvh(bvh)
    assert back.skeleton.names[0] == ROOT_BONE
    names = read_bvh(source).skeleton.names
    assert np.abs(positions_by_name(back, names) - original).max() < 1e-4  # BVH: 6 decimals cm
    glb = tmp_path / "in_place.glb"
    result = mdtool("convert", source, glb, "--root-motion", "in-place")
    assert result.returncode == 0, result.stderr
    assert_valid(glb)
    raw = glb.read_bytes()
    document = json.loads(raw[20 : 20 + int.from_bytes(raw[12:16], "little")])
    assert "mdtool_root_motion" in document["animations"][0]["extras"]
    # a .bvh in place: the curve beside it, and re-adding it restores the dance
    placed = tmp_path / "in_place.bvh"
    assert mdtool("convert", source, placed, "--root-motion", "in-place").returncode == 0
    stored = json.loads((tmp_path / "in_place.root_motion.json").read_text())
    assert stored["mode"] == "in-place"
    curve = RootCurve(stored["fps"], np.array(stored["positions_m"]), np.array(stored["yaw_rad"]))
    restored = readd_root_motion(read_bvh(placed), curve)
    assert np.abs(positions_by_name(restored, names) - original).max() < 1e-4
    bad = mdtool("convert", source, tmp_path / "x.glb", "--root-motion", "feet")
    assert bad.returncode != 0 and "--root-motion" in bad.stderr


def test_convert_writes_bvh_in_metres_or_centimetres(tmp_path: Path) -> None:
    from library_support import mdtool

    source = EXAMPLES / "demo_dance.bvh"
    original = read_bvh(source).global_positions()
    heights = {}
    for units in ("m", "cm"):
        out = tmp_path / f"{units}.bvh"
        result = mdtool("convert", source, out, "--units", units)
        assert result.returncode == 0, result.stderr
        offsets = read_bvh(out, scale=1.0).skeleton.offsets_m  # raw file units
        heights[units] = np.abs(offsets).max()
        back = read_bvh(out, scale={"m": 1.0, "cm": 0.01}[units])
        assert np.abs(back.global_positions() - original).max() < 1e-4
    assert heights["cm"] == pytest.approx(100 * heights["m"], rel=1e-4)
    bad = mdtool("convert", source, tmp_path / "x.bvh", "--units", "ft")
    assert bad.returncode != 0 and "--units" in bad.stderr
