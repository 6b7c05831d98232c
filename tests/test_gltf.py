"""glTF/GLB export and import: round trips, the Khronos validator, interpolation, bad input."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gltf_validator import assert_valid
from scipy.spatial.transform import Rotation

from musicdance.errors import MusicDanceError
from musicdance.io.bvh import read_bvh
from musicdance.io.gltf import read_gltf, write_glb
from musicdance.motion import Motion, Skeleton, resample
from musicdance.motion.retarget import retarget

POSITION_TOLERANCE_M = 1e-4
JOINT_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
ROOT_CHANNELS = ("Xposition", "Yposition", "Zposition", *JOINT_CHANNELS)

# (name, parent name, offset from parent in metres); the hair is the long chain.
HUMANOID = [
    ("Hips", None, (0.0, 0.95, 0.0)),
    ("Spine", "Hips", (0.0, 0.1, 0.0)),
    ("Chest", "Spine", (0.0, 0.15, 0.0)),
    ("UpperChest", "Chest", (0.0, 0.15, 0.0)),
    ("Neck", "UpperChest", (0.0, 0.1, 0.0)),
    ("Head", "Neck", (0.0, 0.1, 0.02)),
    *[(f"Hair{i}", f"Hair{i - 1}" if i > 1 else "Head", (0, -0.04, -0.03)) for i in range(1, 11)],
    *[
        joint
        for side, sign in (("Left", 1.0), ("Right", -1.0))
        for joint in (
            (f"{side}Shoulder", "UpperChest", (sign * 0.05, 0.08, 0.0)),
            (f"{side}UpperArm", f"{side}Shoulder", (sign * 0.12, 0.0, 0.0)),
            (f"{side}LowerArm", f"{side}UpperArm", (sign * 0.28, 0.0, 0.0)),
            (f"{side}Hand", f"{side}LowerArm", (sign * 0.25, 0.0, 0.0)),
            (f"{side}UpperLeg", "Hips", (sign * 0.09, -0.05, 0.0)),
            (f"{side}LowerLeg", f"{side}UpperLeg", (0.0, -0.42, 0.0)),
            (f"{side}Foot", f"{side}LowerLeg", (0.0, -0.42, -0.02)),
            (f"{side}Toes", f"{side}Foot", (0.0, -0.05, 0.12)),
        )
    ],
]


def humanoid_skeleton() -> Skeleton:
    names = tuple(name for name, _, _ in HUMANOID)
    end_sites = {names.index(leaf): np.array([0.0, 0.0, 0.05]) for leaf in ("LeftToes", "Head")}
    return Skeleton(
        names=names,
        parents=np.array([-1] + [names.index(parent) for _, parent, _ in HUMANOID[1:]]),
        offsets_m=np.array([offset for _, _, offset in HUMANOID]),
        channels=tuple(ROOT_CHANNELS if i == 0 else JOINT_CHANNELS for i in range(len(names))),
        end_sites_m=end_sites,
    )


def dancing_motion(num_frames: int = 40, fps: float = 30.0, seed: int = 0) -> Motion:
    """Random rotations on a humanoid whose root travels about two metres."""
    skeleton = humanoid_skeleton()
    rng = np.random.default_rng(seed)
    rotations = Rotation.random(num_frames * skeleton.num_joints, random_state=rng).as_quat()
    travel = np.linspace(0.0, 1.0, num_frames)[:, None] * np.array([1.5, 0.1, 1.2])
    root = skeleton.offsets_m[0] + travel + rng.normal(scale=0.02, size=(num_frames, 3))
    return Motion(
        skeleton=skeleton,
        fps=fps,
        root_positions_m=root,
        rotations=rotations.reshape(num_frames, skeleton.num_joints, 4),
    )


def stretching_motion() -> Motion:
    """A dance whose Spine and LeftHand offsets are animated (BVH position channels)."""
    motion = dancing_motion(num_frames=25, seed=1)
    skeleton = motion.skeleton
    translations = np.tile(skeleton.offsets_m, (motion.num_frames, 1, 1))
    wave = np.sin(np.linspace(0.0, 2.0 * np.pi, motion.num_frames))[:, None]
    for name in ("Spine", "LeftHand"):
        translations[:, skeleton.index(name)] += wave * np.array([0.02, 0.05, -0.03])
    motion.local_translations_m = translations
    return motion


MOTIONS: dict[str, Callable[[], Motion]] = {
    "dance_30fps": dancing_motion,
    "dance_23.976fps": lambda: dancing_motion(num_frames=31, fps=23.976, seed=2),
    "single_frame": lambda: dancing_motion(num_frames=1, seed=3),
    "animated_joint_translations": stretching_motion,
}


def assert_same_motion(actual: Motion, expected: Motion) -> None:
    """Same skeleton, fps, frame count and global joint positions (within 0.1 mm)."""
    assert actual.skeleton.names == expected.skeleton.names
    np.testing.assert_array_equal(actual.skeleton.parents, expected.skeleton.parents)
    np.testing.assert_allclose(actual.skeleton.offsets_m, expected.skeleton.offsets_m, atol=1e-6)
    assert actual.fps == expected.fps
    assert actual.num_frames == expected.num_frames
    error = np.abs(actual.global_positions() - expected.global_positions()).max()
    assert error < POSITION_TOLERANCE_M, f"global positions differ by up to {error:.2e} m"


# ------------------------------------------------------------------------------------------
# Raw GLB access, independent of the code under test


def glb_parts(path: Path) -> tuple[dict[str, Any], bytes]:
    """The JSON document and BIN chunk of a GLB file."""
    data = path.read_bytes()
    json_size = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + json_size])
    bin_start = 20 + json_size
    bin_size = struct.unpack_from("<I", data, bin_start)[0]
    return document, data[bin_start + 8 : bin_start + 8 + bin_size]


def glb_bytes(document: dict[str, Any], blob: bytes) -> bytes:
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<I4s", len(text), b"JSON") + text
    chunks += struct.pack("<I4s", len(blob), b"BIN\0") + blob
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def float_accessor(document: dict[str, Any], blob: bytes, index: int) -> np.ndarray:
    """A tightly packed float32 accessor as ``[count, components]``."""
    accessor = document["accessors"][index]
    view = document["bufferViews"][accessor["bufferView"]]
    components = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[accessor["type"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    values = np.frombuffer(blob, "<f4", accessor["count"] * components, start)
    return values.reshape(accessor["count"], components)


def channel_keys(document: dict[str, Any], blob: bytes, node: int, path: str) -> np.ndarray:
    """Output values of the first animation's channel targeting ``node``/``path``."""
    animation = document["animations"][0]
    channel = next(c for c in animation["channels"] if c["target"] == {"node": node, "path": path})
    return float_accessor(document, blob, animation["samplers"][channel["sampler"]]["output"])


def glb_to_gltf(glb: Path, out: Path, *, embed: bool) -> None:
    """Rewrite a GLB as .gltf with a base64 data URI or an external .bin beside it."""
    document, blob = glb_parts(glb)
    if embed:
        uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
    else:
        uri = out.with_suffix(".bin").name
        out.with_suffix(".bin").write_bytes(blob)
    document["buffers"][0]["uri"] = uri
    out.write_text(json.dumps(document))


# ------------------------------------------------------------------------------------------
# Round trips and validity


@pytest.mark.parametrize("make_motion", MOTIONS.values(), ids=MOTIONS.keys())
def test_round_trip_reproduces_global_positions(tmp_path: Path, make_motion) -> None:
    motion = make_motion()
    path = tmp_path / "motion.glb"
    write_glb(motion, path)
    assert_same_motion(read_gltf(path), motion)
    assert_valid(path)


def test_animated_joint_translations_survive(tmp_path: Path) -> None:
    motion = stretching_motion()
    write_glb(motion, tmp_path / "stretch.glb")
    back = read_gltf(tmp_path / "stretch.glb")
    moved = [back.skeleton.index(name) for name in ("Spine", "LeftHand")]
    assert back.local_translations_m is not None
    np.testing.assert_allclose(
        back.local_translations_m[:, moved], motion.local_translations_m[:, moved], atol=1e-6
    )
    assert all(back.skeleton.channels[j] == ROOT_CHANNELS for j in moved)
    assert back.skeleton.channels[back.skeleton.index("Chest")] == JOINT_CHANNELS


def test_quaternions_are_written_xyzw(tmp_path: Path) -> None:
    """A 90 degree turn about +Z swings a child one metre above the root to -X."""
    skeleton = Skeleton(
        names=("Hips", "Spine"),
        parents=np.array([-1, 0]),
        offsets_m=np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        channels=(ROOT_CHANNELS, JOINT_CHANNELS),
    )
    half = np.sqrt(0.5)
    rotations = np.array([[[0.0, 0.0, half, half], [0.0, 0.0, 0.0, 1.0]]])
    motion = Motion(skeleton, 30.0, np.zeros((1, 3)), rotations)
    path = tmp_path / "turn.glb"
    write_glb(motion, path)
    document, blob = glb_parts(path)
    np.testing.assert_allclose(channel_keys(document, blob, 0, "rotation")[0], [0, 0, half, half])
    child = read_gltf(path).global_positions()[0, 1]
    np.testing.assert_allclose(child, [-1.0, 0.0, 0.0], atol=1e-6)


def test_extras_and_fps_are_stored(tmp_path: Path) -> None:
    extras = {"timeline": {"bpm": 128.0, "beats_s": [], "section": None, "title": "ünïcode"}}
    path = tmp_path / "extras.glb"
    write_glb(dancing_motion(fps=23.976), path, extras=extras)
    document, _ = glb_parts(path)
    assert document["scenes"][0]["extras"] == extras
    assert document["asset"]["extras"]["musicdance"]["fps"] == 23.976


def test_end_sites_survive(tmp_path: Path) -> None:
    motion = dancing_motion()
    write_glb(motion, tmp_path / "ends.glb")
    back = read_gltf(tmp_path / "ends.glb")
    assert back.skeleton.end_sites_m.keys() == motion.skeleton.end_sites_m.keys()
    for joint, offset in motion.skeleton.end_sites_m.items():
        np.testing.assert_allclose(back.skeleton.end_sites_m[joint], offset)


@pytest.mark.parametrize("embed", [True, False], ids=["base64", "external_bin"])
def test_reads_gltf_json_files(tmp_path: Path, embed: bool) -> None:
    motion = dancing_motion()
    write_glb(motion, tmp_path / "dance.glb")
    gltf = tmp_path / "dance.gltf"
    glb_to_gltf(tmp_path / "dance.glb", gltf, embed=embed)
    assert_same_motion(read_gltf(gltf), motion)
    assert_valid(gltf)


def test_reading_at_another_fps_resamples(tmp_path: Path) -> None:
    motion = dancing_motion(num_frames=20, fps=30.0)
    write_glb(motion, tmp_path / "dance.glb")
    assert_same_motion(read_gltf(tmp_path / "dance.glb", fps=60.0), resample(motion, 60.0))


@pytest.mark.parametrize("fps", [30.0, 24.0, 29.97])
def test_fps_is_inferred_from_keys_without_extras(tmp_path: Path, fps: float) -> None:
    motion = dancing_motion(num_frames=300, fps=fps)
    write_glb(motion, tmp_path / "dance.glb")
    document, blob = glb_parts(tmp_path / "dance.glb")
    del document["asset"]["extras"]
    (tmp_path / "plain.glb").write_bytes(glb_bytes(document, blob))
    back = read_gltf(tmp_path / "plain.glb")
    assert back.fps == pytest.approx(fps, rel=1e-6)
    assert back.num_frames == motion.num_frames


def test_figure_mesh_normals_match_winding(tmp_path: Path) -> None:
    write_glb(dancing_motion(), tmp_path / "dance.glb")
    document, blob = glb_parts(tmp_path / "dance.glb")
    attributes = document["meshes"][0]["primitives"][0]["attributes"]
    triangles = float_accessor(document, blob, attributes["POSITION"]).reshape(-1, 3, 3)
    normals = float_accessor(document, blob, attributes["NORMAL"]).reshape(-1, 3, 3)
    winding = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    assert np.all(np.sum(winding * normals[:, 0], axis=-1) > 0)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=1e-6)


def test_inverse_bind_matrices_undo_the_rest_pose(tmp_path: Path) -> None:
    motion = dancing_motion()
    write_glb(motion, tmp_path / "dance.glb")
    document, blob = glb_parts(tmp_path / "dance.glb")
    skin = document["skins"][0]
    matrices = float_accessor(document, blob, skin["inverseBindMatrices"]).reshape(-1, 4, 4)
    rest = motion.skeleton.rest_positions_m()
    assert skin["joints"] == list(range(motion.skeleton.num_joints))
    np.testing.assert_allclose(matrices[:, 3, :3], -rest, atol=1e-6)  # column-major storage
    np.testing.assert_allclose(matrices[:, :3, :3], np.tile(np.eye(3), (len(rest), 1, 1)))


def test_skin_joints_out_of_order_and_without_root(tmp_path: Path) -> None:
    """Children listed first and the root left out: the node tree restores the skeleton."""
    motion = dancing_motion()
    write_glb(motion, tmp_path / "dance.glb")
    document, blob = glb_parts(tmp_path / "dance.glb")
    document["skins"][0]["joints"] = document["skins"][0]["joints"][:0:-1]
    (tmp_path / "shuffled.glb").write_bytes(glb_bytes(document, blob))
    back = read_gltf(tmp_path / "shuffled.glb")
    assert sorted(back.skeleton.names) == sorted(motion.skeleton.names)
    assert back.skeleton.names[0] == "Hips"
    order = [motion.skeleton.index(name) for name in back.skeleton.names]
    error = np.abs(back.global_positions() - motion.global_positions()[:, order]).max()
    assert error < POSITION_TOLERANCE_M


# ------------------------------------------------------------------------------------------
# Files from elsewhere: no skin, other interpolations, matrices and scale


def hand_made_gltf(path: Path, interpolation: str) -> None:
    """Root (translated, scaled x2) -> Arm (turns 90 degrees about Z) -> Hand (matrix node).

    Keys at 0 s and 1 s; no skin, no mesh, no musicdance extras.
    """
    keys = np.array([0.0, 1.0], "<f4")
    moves = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]], "<f4")
    turns = Rotation.from_euler("z", [[0.0], [90.0]], degrees=True).as_quat().astype("<f4")
    if interpolation == "CUBICSPLINE":  # in-tangent, value, out-tangent per key
        moves = np.stack([moves + 5.0, moves, moves - 5.0], axis=1).reshape(-1, 3)
        turns = np.stack([turns * 0.5, turns, turns * 0.5], axis=1).reshape(-1, 4)
    arrays = [(keys, "SCALAR"), (moves, "VEC3"), (turns, "VEC4")]
    blob, views, accessors = b"", [], []
    for array, kind in arrays:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": array.nbytes})
        accessor = {"bufferView": len(views) - 1, "componentType": 5126, "count": len(array)}
        accessors.append(accessor | {"type": kind})
        blob += array.tobytes()
    accessors[0] |= {"min": [0.0], "max": [1.0]}
    hand_matrix = np.eye(4)
    hand_matrix[:3, :3] = 2.0 * Rotation.from_euler("x", 90.0, degrees=True).as_matrix()
    hand_matrix[:3, 3] = [0.0, 0.5, 0.0]
    uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
    document = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [
            {"name": "Root", "children": [1], "translation": [0, 1, 0], "scale": [2, 2, 2]},
            {"name": "Arm", "children": [2], "translation": [1, 0, 0]},
            {"name": "Hand", "matrix": hand_matrix.T.ravel().tolist()},
        ],
        "animations": [
            {
                "samplers": [
                    {"input": 0, "output": 1, "interpolation": interpolation},
                    {"input": 0, "output": 2, "interpolation": interpolation},
                ],
                "channels": [
                    {"sampler": 0, "target": {"node": 0, "path": "translation"}},
                    {"sampler": 1, "target": {"node": 1, "path": "rotation"}},
                ],
            }
        ],
        "buffers": [{"uri": uri, "byteLength": len(blob)}],
        "bufferViews": views,
        "accessors": accessors,
    }
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("interpolation", "expected_x", "expected_degrees"),
    [
        ("LINEAR", [0.0, 0.5, 1.0, 1.5, 2.0], [0.0, 22.5, 45.0, 67.5, 90.0]),
        ("STEP", [0.0, 0.0, 0.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0, 90.0]),
        ("CUBICSPLINE", [0.0, 0.5, 1.0, 1.5, 2.0], [0.0, 22.5, 45.0, 67.5, 90.0]),
    ],
)
def test_interpolation_modes(tmp_path: Path, interpolation, expected_x, expected_degrees) -> None:
    path = tmp_path / f"{interpolation}.gltf"
    hand_made_gltf(path, interpolation)
    motion = read_gltf(path, fps=4.0)
    assert motion.skeleton.names == ("Root", "Arm", "Hand")
    assert motion.num_frames == 5
    np.testing.assert_allclose(motion.root_positions_m[:, 0], expected_x, atol=1e-6)
    degrees = Rotation.from_quat(motion.rotations[:, 1]).as_euler("xyz", degrees=True)[:, 2]
    np.testing.assert_allclose(degrees, expected_degrees, atol=1e-4)
    assert_valid(path)  # the hand-made file itself is valid glTF


def test_node_matrix_and_scale_are_read_as_rest_pose(tmp_path: Path) -> None:
    hand_made_gltf(tmp_path / "matrix.gltf", "LINEAR")
    motion = read_gltf(tmp_path / "matrix.gltf")
    assert motion.fps == 1.0  # two keys one second apart
    np.testing.assert_allclose(motion.skeleton.offsets_m, [[0, 1, 0], [1, 0, 0], [0, 0.5, 0]])
    hand_turn = Rotation.from_euler("x", 90.0, degrees=True).as_quat()
    np.testing.assert_allclose(np.abs(motion.rotations[:, 2]), [np.abs(hand_turn)] * 2, atol=1e-9)
    # Scale is ignored: root keyed to (2, 0, 0), arm 1 m along +X, turned 90 degrees, so the
    # hand sits 0.5 m to -X of the arm.
    np.testing.assert_allclose(motion.global_positions()[-1, 2], [2.5, 0.0, 0.0], atol=1e-6)


# ------------------------------------------------------------------------------------------
# Errors


def _good_glb(folder: Path) -> Path:
    path = folder / "good.glb"
    write_glb(dancing_motion(num_frames=5), path)
    return path


def _without_animation(folder: Path) -> Path:
    document, blob = glb_parts(_good_glb(folder))
    del document["animations"]
    (folder / "still.glb").write_bytes(glb_bytes(document, blob))
    return folder / "still.glb"


def _gltf_with_bin(folder: Path, damage: Callable[[Path], None]) -> Path:
    glb_to_gltf(_good_glb(folder), folder / "split.gltf", embed=False)
    damage(folder / "split.bin")
    return folder / "split.gltf"


def _truncated(folder: Path) -> Path:
    data = _good_glb(folder).read_bytes()
    (folder / "cut.glb").write_bytes(data[: len(data) // 2])
    return folder / "cut.glb"


def _corrupt_json(folder: Path) -> Path:
    data = bytearray(_good_glb(folder).read_bytes())
    data[20] = 0xFF  # first byte of the JSON chunk
    (folder / "corrupt.glb").write_bytes(bytes(data))
    return folder / "corrupt.glb"


def _with_nan_key(folder: Path) -> Path:
    document, blob = glb_parts(_good_glb(folder))
    times = document["accessors"][document["animations"][0]["samplers"][0]["input"]]
    start = document["bufferViews"][times["bufferView"]]["byteOffset"] + 4  # second key
    blob = blob[:start] + np.array([np.nan], "<f4").tobytes() + blob[start + 4 :]
    (folder / "nan.glb").write_bytes(glb_bytes(document, blob))
    return folder / "nan.glb"


def _written(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    return make


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "text": (_written("notes.gltf", b"hello, not json"), "not a glTF or GLB file"),
    "empty": (_written("empty.glb", b""), "not a glTF or GLB file"),
    "json_without_asset": (_written("other.gltf", b'{"nodes": []}'), "no 'asset'"),
    "gltf_1": (_written("old.gltf", b'{"asset": {"version": "1.0"}}'), "unsupported glTF"),
    "glb_header_only": (_written("stub.glb", b"glTF\x02\x00\x00\x00"), "truncated GLB"),
    "truncated_glb": (_truncated, "truncated GLB"),
    "corrupt_glb_json": (_corrupt_json, "the JSON chunk is not valid JSON"),
    "nan_key_time": (_with_nan_key, "non-finite keys"),
    "no_animation": (_without_animation, "no animation"),
    "missing_bin": (lambda d: _gltf_with_bin(d, Path.unlink), "'split.bin' not found"),
    "truncated_bin": (
        lambda d: _gltf_with_bin(d, lambda p: p.write_bytes(p.read_bytes()[:100])),
        r"buffers\[0\] is truncated",
    ),
    "missing_file": (lambda d: d / "nowhere.glb", "cannot read file"),
}


@pytest.mark.parametrize(("make_file", "message"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_raise_one_line_errors(tmp_path: Path, make_file, message: str) -> None:
    path = make_file(tmp_path)
    with pytest.raises(MusicDanceError, match=message) as caught:
        read_gltf(path)
    assert caught.value.path == str(path)
    assert "\n" not in str(caught.value)


def _with_nan_root(motion: Motion) -> Motion:
    motion.root_positions_m[3, 1] = np.nan
    return motion


def _with_zero_quaternion(motion: Motion) -> Motion:
    motion.rotations[2, 5] = 0.0
    return motion


BAD_WRITES: dict[str, tuple[Callable[[Motion], Motion], Any]] = {
    "nan_root": (_with_nan_root, None),
    "zero_quaternion": (_with_zero_quaternion, None),
    "no_frames": (lambda m: dancing_motion(num_frames=0), None),
    "extras_not_json": (lambda m: m, {"beats": {1, 2}}),
    "extras_nan": (lambda m: m, {"bpm": float("nan")}),
}


@pytest.mark.parametrize(("spoil", "extras"), BAD_WRITES.values(), ids=BAD_WRITES.keys())
def test_failed_write_leaves_no_file(tmp_path: Path, spoil, extras) -> None:
    motion = spoil(dancing_motion(num_frames=6))
    with pytest.raises(MusicDanceError):
        write_glb(motion, tmp_path / "out.glb", extras=extras)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    path = _good_glb(tmp_path)
    before = path.read_bytes()
    with pytest.raises(MusicDanceError):
        write_glb(_with_nan_root(dancing_motion(num_frames=6)), path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_bad_fps_argument(tmp_path: Path) -> None:
    with pytest.raises(MusicDanceError, match="fps must be a positive number"):
        read_gltf(_good_glb(tmp_path), fps=0.0)


# ------------------------------------------------------------------------------------------
# Real motion capture


def test_shared_bvh_converts_to_valid_glb(tmp_path: Path, shared_bvh: Path) -> None:
    motion = read_bvh(shared_bvh)
    path = tmp_path / f"{shared_bvh.stem}.glb"
    write_glb(motion, path)
    assert_same_motion(read_gltf(path), motion)
    assert_valid(path)


def test_shared_bvh_retargeted_converts_to_valid_glb(tmp_path: Path, shared_bvh: Path) -> None:
    motion, _ = retarget(read_bvh(shared_bvh))
    path = tmp_path / f"{shared_bvh.stem}.canonical.glb"
    write_glb(motion, path)
    back = read_gltf(path)
    assert back.skeleton.names == motion.skeleton.names  # Unity HumanBodyBones names survive
    assert_same_motion(back, motion)
    assert_valid(path)


def test_clip_and_scene_are_named_after_the_file_or_the_name_given(tmp_path: Path) -> None:
    """Two dances imported into one engine project must not both be called ``motion``."""
    motion = dancing_motion()
    write_glb(motion, tmp_path / "salsa_night.glb")
    write_glb(motion, tmp_path / "other.glb", name="Hero Dance")
    for path, expected in ((tmp_path / "salsa_night.glb", "salsa_night"),
                           (tmp_path / "other.glb", "Hero Dance")):  # fmt: skip
        document, _ = glb_parts(path)
        assert [a["name"] for a in document["animations"]] == [expected]
        assert [s["name"] for s in document["scenes"]] == [expected]


def test_glb_without_mesh_is_valid_and_keeps_the_motion(tmp_path: Path) -> None:
    motion = dancing_motion()
    path = tmp_path / "bones.glb"
    write_glb(motion, path, mesh=False)
    document, _ = glb_parts(path)
    for key in ("meshes", "materials"):
        assert not document.get(key), key
    # the skin stays, so importers build an armature/skeleton (Blender: empties without it)
    assert document["skins"][0]["joints"] == list(range(motion.skeleton.num_joints))
    assert len(document["nodes"]) == motion.skeleton.num_joints
    assert document["scenes"][0]["nodes"] == [0]
    assert_valid(path)
    assert_same_motion(read_gltf(path), motion)
    with_mesh = tmp_path / "figure.glb"
    write_glb(motion, with_mesh)
    assert path.stat().st_size < with_mesh.stat().st_size
