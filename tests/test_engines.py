"""mdtool's files opened by the real programs games use: Blender (the ``bpy`` package, through
its own importers), Godot 3 (``godot3-server``, its editor import) and three.js (GLTFLoader and
AnimationMixer in Node). Joint positions are compared with mdtool's own forward kinematics.

Blender runs once per session (one process imports every file); Godot once. Screenshots go
to ``build/engines/`` (docs/engines.md shows copies)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES, REPO

from mdtool.cli import app
from musicdance.errors import MusicDanceError
from musicdance.io.blender import blender_python
from musicdance.io.files import load_motion, save_motion
from musicdance.motion import resample, slice_frames
from musicdance.motion.rootmotion import apply_root_motion

TOLERANCE_M = 1e-3
FPS = 24.0
SHOTS = REPO / "build" / "engines"
SAMPLE_FRAMES = [0, 1, 37, 120, 233, 400, 460]

needs_blender = pytest.mark.skipif(blender_python() is None, reason="bpy not installed")


def _cli(*args: str) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def demo():
    """The demo dance at the export frame rate (what the files hold)."""
    return resample(load_motion(EXAMPLES / "demo_dance.bvh"), FPS)


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> dict[str, Path]:
    """The demo dance written by ``mdtool convert`` every way an engine user would."""
    folder = tmp_path_factory.mktemp("engines")
    source = str(EXAMPLES / "demo_dance.bvh")
    made = {}
    for mode in ("hips", "root-bone", "in-place"):
        made[mode] = folder / f"dance_{mode.replace('-', '_')}.glb"
        _cli("convert", source, str(made[mode]), "--fps", "24", "--root-motion", mode)
    made["bones_only"] = folder / "dance_bones.glb"
    _cli("convert", source, str(made["bones_only"]), "--fps", "24", "--mesh", "none")
    made["bvh_m"] = folder / "dance_m.bvh"
    _cli("convert", source, str(made["bvh_m"]), "--fps", "24", "--units", "m")
    made["bvh_cm"] = folder / "dance_cm.bvh"
    _cli("convert", source, str(made["bvh_cm"]), "--fps", "24")
    return made


def _expected(demo, mode: str) -> tuple[tuple[str, ...], np.ndarray]:
    prepared, _ = apply_root_motion(demo, mode)
    return prepared.skeleton.names, prepared.global_positions()


# --- Blender ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fbx_file(files, tmp_path_factory) -> Path:
    if blender_python() is None:
        pytest.skip("bpy not installed")
    path = tmp_path_factory.mktemp("fbx") / "dance_fbx.fbx"
    _cli("convert", str(EXAMPLES / "demo_dance.bvh"), str(path), "--fps", "24")
    return path


@pytest.fixture(scope="session")
def blend_file(files, tmp_path_factory) -> Path:
    if blender_python() is None:
        pytest.skip("bpy not installed")
    path = tmp_path_factory.mktemp("blend") / "dance_blend.blend"
    _cli("convert", str(EXAMPLES / "demo_dance.bvh"), str(path), "--fps", "24")
    return path


@pytest.fixture(scope="session")
def blender(files, fbx_file, blend_file) -> dict[str, dict]:
    """One Blender process imports every file the way docs/engines.md says."""
    from musicdance.io.blender import run_blender_job

    items = {
        "hips": {"path": str(files["hips"]), "kind": "glb", "fps": FPS},
        "root-bone": {"path": str(files["root-bone"]), "kind": "glb", "fps": FPS},
        "in-place": {"path": str(files["in-place"]), "kind": "glb", "fps": FPS},
        "bones_only": {"path": str(files["bones_only"]), "kind": "glb", "fps": FPS},
        "bvh_m": {"path": str(files["bvh_m"]), "kind": "bvh"},
        "bvh_cm": {"path": str(files["bvh_cm"]), "kind": "bvh", "bvh_scale": 0.01},
        "fbx": {"path": str(fbx_file), "kind": "fbx"},
        "blend": {"path": str(blend_file), "kind": "blend"},
    }
    SHOTS.mkdir(parents=True, exist_ok=True)
    job = {"job": "inspect", "frames": SAMPLE_FRAMES, "items": list(items.values()),
           "render": {"item": 0, "frame": 120, "path": str(SHOTS / "blender_glb.png")}}  # fmt: skip
    result = run_blender_job(job)
    return dict(zip(items, result["items"], strict=True))


def _blender_error(found: dict, names, expected: np.ndarray) -> float:
    index = [found["bones"].index(n) for n in names]
    worst = 0.0
    for sample in found["samples"]:
        frame = SAMPLE_FRAMES[found["samples"].index(sample)]
        heads = np.array(sample["heads"])[index]
        worst = max(worst, float(np.abs(heads - expected[frame]).max()))
    return worst


@needs_blender
@pytest.mark.parametrize("mode", ["hips", "root-bone", "in-place"])
def test_blender_imports_the_glb_as_mdtool_plays_it(blender, demo, mode):
    found = blender[mode]
    names, expected = _expected(demo, mode)
    assert found["bones"] == list(names)
    clip = f"dance_{mode.replace('-', '_')}"
    assert found["action"] == clip and found["actions"] == [clip]  # clip name from the file
    assert found["action_frame_range"] == [0.0, demo.num_frames - 1]  # length of the dance
    assert found["keys"] > 0 and found["fractional_keys"] == 0  # --fps 24: keys on whole frames
    assert len(found["samples"]) == len(SAMPLE_FRAMES)
    assert _blender_error(found, names, expected) < TOLERANCE_M
    heads = np.array([s["heads"] for s in found["samples"]])  # [S, J, 3]
    height = heads[0, :, 1].max() - heads[0, :, 1].min()
    assert 1.3 < height < 2.0  # metres, not centimetres
    feet = [found["bones"].index(n) for n in ("LeftToes", "RightToes", "LeftFoot", "RightFoot")]
    lowest = heads[:, feet, 1].min(axis=1)
    assert np.all(np.abs(lowest) < 0.06)  # a foot on the floor in every sampled frame
    if mode == "root-bone":
        assert np.abs(heads[:, 0, 1]).max() < TOLERANCE_M  # Root on the floor
    if mode == "in-place":
        assert np.abs(heads[:, 0][:, [0, 2]]).max() < TOLERANCE_M  # hips stay over the origin
    if mode == "hips":
        assert np.ptp(heads[:, 0][:, [0, 2]], axis=0).max() > 0.05  # the travel is there


@needs_blender
def test_blender_sees_the_dancer_face_the_camera(blender):
    """Facing +Z (glTF) is facing Blender's -Y front view: left hip at +X."""
    found = blender["hips"]
    heads = np.array(found["samples"][0]["heads"])
    left, right = (found["bones"].index(n) for n in ("LeftUpperLeg", "RightUpperLeg"))
    across = heads[left] - heads[right]  # towards the dancer's left
    facing = np.cross(across, [0.0, 1.0, 0.0])  # left x up = forward
    assert facing[2] > 0.5 * np.linalg.norm(facing)  # +Z (glTF), Blender's -Y: to the camera


@needs_blender
def test_blender_mesh_choice_and_bvh_units(blender, demo):
    assert blender["hips"]["meshes"] >= 1 and blender["bones_only"]["meshes"] == 0
    names, expected = _expected(demo, "hips")
    for key in ("bvh_m", "bvh_cm"):  # metres at Scale 1, centimetres at Scale 0.01
        found = blender[key]
        assert abs(found["scene_fps"] - FPS) < 1e-3
        assert found["scene_frame_range"][1] >= demo.num_frames  # the whole dance plays
        assert found["fractional_keys"] == 0
        assert _blender_error(found, names, expected) < TOLERANCE_M
    assert (SHOTS / "blender_glb.png").stat().st_size > 10_000


@needs_blender
def test_a_blend_opens_with_the_dances_frame_rate_and_range(blender, demo):
    found = blender["blend"]
    assert found["scene_fps"] == FPS and found["scene_name"] == "dance_blend"
    assert found["scene_frame_range"] == [0, demo.num_frames - 1]  # the whole dance plays
    assert found["action_frame_range"] == [0.0, demo.num_frames - 1]
    assert not found["fractional_keys"]
    names, expected = _expected(demo, "hips")
    assert _blender_error(found, names, expected) < TOLERANCE_M


@needs_blender
def test_fbx_written_by_mdtool_matches_in_blender_and_back_in_mdtool(blender, fbx_file, demo):
    names, expected = _expected(demo, "hips")
    found = blender["fbx"]
    assert found["bones"] == list(names)
    assert abs(found["scene_fps"] - FPS) < 1e-6
    assert _blender_error(found, names, expected) < TOLERANCE_M
    assert found["action"].split("|")[-1] == "dance_fbx"  # the take is named after the file
    back = load_motion(fbx_file)
    assert back.fps == FPS and back.num_frames == demo.num_frames
    index = [back.skeleton.index(n) for n in names]
    assert np.abs(back.global_positions()[:, index] - expected).max() < TOLERANCE_M


@needs_blender
def test_fbx_with_a_mixamo_rig_imports_into_the_library_without_a_map(tmp_path):
    from musicdance.library import create_library
    from musicdance.library.importer import import_motion_files
    from musicdance.motion import Motion, Skeleton

    rename = {"UpperChest": "Spine2", "Chest": "Spine1", "UpperArm": "Arm", "LowerArm": "ForeArm",
              "UpperLeg": "UpLeg", "LowerLeg": "Leg", "Toes": "ToeBase"}  # fmt: skip
    dance = load_motion(EXAMPLES / "demo_dance.bvh")
    names = []
    for name in dance.skeleton.names:
        for old, new in rename.items():
            name = name.replace(old, new)
        names.append(f"mixamorig:{name}")
    s = dance.skeleton
    skeleton = Skeleton(tuple(names), s.parents, s.offsets_m, s.channels, s.end_sites_m)
    path = tmp_path / "mixamo_take.fbx"
    save_motion(Motion(skeleton, dance.fps, dance.root_positions_m, dance.rotations), path)
    library = create_library(tmp_path / "lib")
    (report,) = import_motion_files(library, [path], style="mocap", bpm=120.0)
    assert report.convention == "mixamo" and report.phrase_ids


@needs_blender
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_broken_fbx_is_one_line(tmp_path, fbx_file, damage):
    path = tmp_path / f"{damage}.fbx"
    data = fbx_file.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 3], "garbage": b"Kaydara FBX Binary  \0"
                      + bytes(range(256)) * 4, "empty": b""}[damage])  # fmt: skip
    with pytest.raises(MusicDanceError) as caught:
        load_motion(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message


# --- Godot 3 ---------------------------------------------------------------------------------

GODOT = shutil.which("godot3-server") or shutil.which("godot3")
CHECK_GD = """extends SceneTree

func _init():
\tvar root = load("res://dance.glb").instance()
\tvar player = _find(root, "AnimationPlayer")
\tvar skeleton = _find(root, "Skeleton")
\tvar out = {"animations": [], "bones": []}
\tfor name in player.get_animation_list():
\t\tout["animations"].append({"name": name, "length": player.get_animation(name).length})
\tfor i in range(skeleton.get_bone_count()):
\t\tout["bones"].append(skeleton.get_bone_name(i))
\tprint("MDTOOL_JSON " + to_json(out))
\tquit()

func _find(node, cls):
\tif node.get_class() == cls:
\t\treturn node
\tfor child in node.get_children():
\t\tvar found = _find(child, cls)
\t\tif found:
\t\t\treturn found
\treturn null
"""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@pytest.mark.skipif(GODOT is None, reason="godot3-server not installed")
def test_godot3_imports_the_glb_with_its_clip_and_bones(files, demo, tmp_path):
    project = tmp_path / "godot"
    project.mkdir()
    (project / "project.godot").write_text('config_version=4\n\n[application]\nconfig/name="x"\n')
    shutil.copy(files["root-bone"], project / "dance.glb")
    (project / "check.gd").write_text(CHECK_GD)
    # Godot 3's editor imports on start; its --quit does not return there, so wait for the
    # imported scene and stop the editor.
    editor = subprocess.Popen([GODOT, "--path", str(project), "--editor"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(1200):
            if list((project / ".import").glob("dance.glb-*.md5")):
                break
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        editor.kill()
        editor.wait()
    done = subprocess.run([GODOT, "--path", str(project), "-s", "check.gd"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    line = next(x for x in done.stdout.splitlines() if x.startswith("MDTOOL_JSON "))
    found = json.loads(line.removeprefix("MDTOOL_JSON "))
    (clip,) = found["animations"]
    assert clip["name"] == "dance_root_bone"
    assert clip["length"] == pytest.approx((demo.num_frames - 1) / FPS, abs=1e-3)
    names, _ = _expected(demo, "root-bone")
    assert found["bones"] == [_snake(n) for n in names]  # Godot 3 renames bones to snake_case


# --- three.js --------------------------------------------------------------------------------

THREE = REPO / "node_modules" / "three"
needs_three = pytest.mark.skipif(
    shutil.which("node") is None or not THREE.is_dir(), reason="node or three.js not installed"
)


def _three(path: Path, times: list[float]) -> dict:
    done = subprocess.run(
        ["node", str(REPO / "scripts" / "three_sample.mjs"), str(path), *map(str, times)],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@needs_three
@pytest.mark.parametrize("mode", ["hips", "root-bone", "in-place"])
def test_threejs_plays_the_glb_as_mdtool_does(files, demo, mode):
    frames = [0, 37, 233, 460]
    found = _three(files[mode], [f / FPS for f in frames])
    assert found["errors"] == []
    clip = f"dance_{mode.replace('-', '_')}"
    assert found["clip"] == clip and found["scene"] == clip
    assert found["duration"] == pytest.approx((demo.num_frames - 1) / FPS, abs=1e-4)
    names, expected = _expected(demo, mode)
    assert found["names"] == list(names)
    for frame, sample in zip(frames, found["samples"], strict=True):
        got = np.array([sample["positions"][n] for n in names])
        assert np.abs(got - expected[frame]).max() < TOLERANCE_M
    if mode == "in-place":
        assert "mdtool_root_motion" in found["extras_keys"]


@needs_three
@needs_blender
def test_fbx_written_by_mdtool_reads_back_in_threejs_fbxloader(fbx_file, demo):
    """A second FBX reader, independent of Blender's (the ufbx bindings crash, docs/engines.md):
    three.js's FBXLoader finds the one take, its length and the bones, and plays the joints
    where mdtool's forward kinematics puts them."""
    frames = [0, 37, 233, 460]
    done = subprocess.run(
        ["node", str(REPO / "scripts" / "three_fbx_sample.mjs"), str(fbx_file),
         *(str(f / FPS) for f in frames)],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    found = json.loads(done.stdout)
    assert found["errors"] == [] and found["takes"] == ["dance_fbx"]
    assert found["duration"] == pytest.approx((demo.num_frames - 1) / FPS, abs=1e-4)
    names, expected = _expected(demo, "hips")
    assert sorted(found["names"]) == sorted(names)  # its own traversal order
    for frame, sample in zip(frames, found["samples"], strict=True):
        got = np.array([sample["positions"][n] for n in names])
        assert np.abs(got - expected[frame]).max() < TOLERANCE_M


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page_server(files):
    """The repository root (three.js from node_modules, the check page) and the test's files
    under /files/, served on loopback."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = files["hips"].parent

    class Handler(SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            clean = path.split("?", 1)[0]
            if clean.startswith("/files/"):
                return str(folder / Path(clean).name)
            return super().translate_path(path)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(REPO)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@needs_three
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_threejs_in_headless_chromium_plays_and_draws_the_dance(files, demo, page_server, tmp_path):
    import base64

    frames = [0, 120, 460]
    times = ",".join(str(f / FPS) for f in frames)
    url = f"{page_server}/scripts/three_page.html?glb=/files/{files['hips'].name}&t={times}&shot=5"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--virtual-time-budget=60000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
        capture_output=True, text=True, check=False, timeout=None,
    )  # fmt: skip
    match = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert match and match.group(1), done.stderr[-2000:]
    import html

    found = json.loads(html.unescape(match.group(1)))
    assert found["errors"] == []
    assert found["clip"] == "dance_hips" and found["scene"] == "dance_hips"
    assert found["duration"] == pytest.approx((demo.num_frames - 1) / FPS, abs=1e-4)
    names, expected = _expected(demo, "hips")
    assert found["names"] == list(names)
    for frame, sample in zip(frames, found["samples"], strict=True):
        got = np.array([sample["positions"][n] for n in names])
        assert np.abs(got - expected[frame]).max() < TOLERANCE_M
    png = base64.b64decode(found["png"].split(",", 1)[1])
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "threejs_glb.png").write_bytes(png)


@needs_blender
def test_an_fbx_with_two_takes_reads_and_imports_both(tmp_path):
    from musicdance.io.fbx import fbx_takes, read_fbx, write_fbx_takes
    from musicdance.library import create_library
    from musicdance.library.importer import import_motion_files

    dance = load_motion(EXAMPLES / "demo_dance.bvh")
    first, second = slice_frames(dance, 0, 300), slice_frames(dance, 250)
    path = tmp_path / "pack.fbx"
    write_fbx_takes({"first": first, "second": second}, path)
    takes = fbx_takes(path)
    assert [t.split("|")[-1] for t in takes] == ["first", "second"]
    back = read_fbx(path, take="second")
    assert back.num_frames == second.num_frames
    index = [back.skeleton.index(n) for n in second.skeleton.names]
    error = np.abs(back.global_positions()[:, index] - second.global_positions()).max()
    assert error < TOLERANCE_M
    library = create_library(tmp_path / "lib")
    reports = import_motion_files(library, [path], style="mocap", bpm=120.0)
    assert len(reports) == 2 and all(r.phrase_ids for r in reports)
    assert any("second" in pid for pid in reports[1].phrase_ids)


@needs_blender
def test_choreograph_writes_fbx_beside_the_glb(tmp_path):
    from musicdance.io.fbx import read_fbx_take
    from musicdance.io.gltf import read_gltf

    _cli("choreograph", str(EXAMPLES / "demo_song.mp3"), "-o", str(tmp_path), "--name", "song",
         "--format", "glb,fbx,json", "--mesh", "none", "--json")  # fmt: skip
    from musicdance.io.blender import run_blender_job

    glb = read_gltf(tmp_path / "song.glb")
    # Blender keeps the scene's extras (the timeline) as a scene property, not the animation's
    (found,) = run_blender_job({"job": "inspect", "frames": [0], "items": [
        {"path": str(tmp_path / "song.glb"), "kind": "glb", "fps": glb.fps}]})["items"]  # fmt: skip
    assert "mdtool_timeline" in found["scene_properties"]
    assert "mdtool_markers" not in found["action_properties"]
    fbx, takes = read_fbx_take(tmp_path / "song.fbx")
    assert takes == ["skeleton|song"] and fbx.num_frames == glb.num_frames and fbx.fps == glb.fps
    index = [fbx.skeleton.index(n) for n in glb.skeleton.names]
    assert np.abs(fbx.global_positions()[:, index] - glb.global_positions()).max() < TOLERANCE_M
