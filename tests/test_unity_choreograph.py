"""The in-engine choreographer (Unity package, ``Runtime/Core/Choreography``) against Python.

The C# is compiled with Debian's mono (``mcs -warnaserror``) and run under ``mono``; the bundle's
graph runs through the onnxruntime C API binding (``OrtProbabilityModel``) on the native library
the onnxruntime wheel ships. Both sides get the same analysis (Python's, written as an engine
asset): for the demo song and the shared songs, with and without the bundle, the C# timeline has
the same slots and the same phrase id in every slot as ``choreograph`` (the SDK function
``mdtool choreograph`` calls; once checked against the CLI's own output), scores within 1e-6.
Bad input (no phrases, a 1-second song, NaN features, an asset of another version) gives a
clear exception. The C# render (``TimelineRenderer.Render``: time
warp, continuation takes, cut search, scaled half-lives, floor placement, inertialization,
foot locking) gives every frame of ``render_dance`` within 1e-4 for every song, and poses
sampled from it by the C# ``PoseSampler`` equal the Python runtime's; the simplified render
equals the same render built from the SDK's functions.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from conftest import REPO, SHARED_DATA

PACKAGE = REPO / "unity_bridge" / "unity" / "com.mdtool.dance"
SONGS = [
    REPO / "examples" / "demo_song.mp3",
    *sorted((SHARED_DATA / "music").glob("*.[mo][pg][3g]")),
]
#: The venv's bin first, so that ``mdtool`` is this checkout's CLI.
VENV_PATH = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
pytestmark = pytest.mark.skipif(
    shutil.which("mcs") is None or shutil.which("mono") is None,
    reason="mono is not installed (apt-get install -y --no-install-recommends mono-mcs)",
)


@functools.cache
def _analysis(song: Path):
    """The Python analysis of ``song`` (each song is analysed once per test process)."""
    from musicdance.audio.analysis import analyze

    return analyze(song)


def _run(*command, env=None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """``(runner.exe, library asset, environment)``: the compiled runner, the starter library
    exported with the default bundle by the CLI, LD_LIBRARY_PATH holding libonnxruntime.so."""
    folder = tmp_path_factory.mktemp("engine")
    exe = folder / "runner.exe"
    sources = sorted((PACKAGE / "Runtime" / "Core").rglob("*.cs"))
    built = _run("mcs", "-warnaserror", f"-out:{exe}", *sources,
                 PACKAGE / "Tests~" / "Core" / "ChoreographyRunner.cs")  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    exported = _run("mdtool", "library", "export", "--unity", folder / "asset", "--json",
                    "--library", REPO / "phrase_library", "--bundle", REPO / "bundles" / "default",
                    env={**os.environ, **VENV_PATH})  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr
    report = json.loads(exported.stdout)
    assert report["phrases"] == 520 and report["bundle"] and report["size_bytes"] > 1e6
    native = folder / "native"
    native.mkdir()
    capi = Path(onnxruntime.__file__).parent / "capi"
    (native / "libonnxruntime.so").symlink_to(next(capi.glob("libonnxruntime.so.1*")))
    env = {**os.environ, "LD_LIBRARY_PATH": str(native)}
    return exe, Path(report["path"]), env


@pytest.fixture(scope="module")
def library():
    from musicdance.library import open_library

    return open_library(REPO / "phrase_library")


@pytest.fixture(scope="module")
def bundle(library):
    from musicdance.bundle import open_default_bundle

    found, note = open_default_bundle(library, REPO / "bundles" / "default")
    assert found is not None, note
    return found


def _csharp(engine, analysis_path: Path, out: Path, *options) -> dict:
    exe, asset, env = engine
    result = _run("mono", exe, "choreograph", asset, analysis_path, out, *options, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def _same_timeline(python: dict, csharp: dict) -> None:
    assert csharp["style"] == python["style"]
    assert len(csharp["slots"]) == len(python["slots"])
    for a, b in zip(python["slots"], csharp["slots"], strict=True):
        for key in ("start_s", "end_s", "beat_times_s", "section_label", "position_in_section",
                    "music_phrase", "meter"):  # fmt: skip
            assert a[key] == b[key], (key, a[key], b[key])
        assert a["phrase_id"] == b["phrase_id"], (a["index"], a["phrase_id"], b["phrase_id"])
        assert b["score"] == pytest.approx(a["score"], rel=1e-5, abs=2e-6)
        assert (a["transition_prior"] is None) == (b["transition_prior"] is None)
        if a["transition_prior"] is not None:
            assert b["transition_prior"] == pytest.approx(a["transition_prior"], rel=1e-5, abs=2e-6)


@pytest.mark.parametrize("song", SONGS, ids=[p.stem for p in SONGS])
def test_same_phrases_as_python_with_and_without_the_bundle(
    engine, library, bundle, song, tmp_path
):
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.engine_asset import write_analysis_asset
    from musicdance.choreo.onnx_scorer import OnnxScorer

    analysis = _analysis(song)
    asset = write_analysis_asset(analysis, tmp_path / "song.mdan")
    for seed in (0, 7):
        python = choreograph(analysis, library, seed=seed).to_json()
        _same_timeline(python, _csharp(engine, asset, tmp_path / "f.json", "--seed", seed))
        python = choreograph(analysis, library, seed=seed, scorer=OnnxScorer(bundle, analysis))
        found = _csharp(engine, asset, tmp_path / "b.json", "--seed", seed, "--bundle")
        _same_timeline(python.to_json(), found)


def test_same_phrases_as_the_cli(engine, tmp_path):
    """``mdtool choreograph`` (the bundle scorer by default) and the C# side agree slot by slot."""
    from musicdance.choreo.engine_asset import write_analysis_asset

    song = REPO / "examples" / "demo_song.mp3"
    cli = _run("mdtool", "choreograph", song, "-o", tmp_path, "--format", "json", "--json",
               "--library", REPO / "phrase_library",
               env={**os.environ, **VENV_PATH})  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr
    summary = json.loads(cli.stdout)
    assert summary["scorer"].endswith("default")
    asset = write_analysis_asset(_analysis(song), tmp_path / "song.mdan")
    csharp = _csharp(engine, asset, tmp_path / "cs.json", "--bundle")
    assert [s["phrase_id"] for s in csharp["slots"]] == summary["phrases"]


@pytest.mark.parametrize("sr_hz", [22050, 44100])
def test_whole_path_from_pcm_gives_the_cli_phrases(engine, tmp_path, sr_hz):
    """PCM -> the C# MusicAnalyzer -> the C# choreographer with the bundle: the same phrase in
    every slot as ``mdtool choreograph`` (which decodes and analyses the file in Python). At
    22050 Hz the PCM is what the CLI analyses; at 44.1 kHz the file's own samples go through the
    C# resampler instead of soxr."""
    import numpy as np
    import soundfile as sf

    from musicdance.audio.load import load_audio

    song = REPO / "examples" / "demo_song.mp3"
    cli = _run("mdtool", "choreograph", song, "-o", tmp_path, "--format", "json", "--json",
               "--library", REPO / "phrase_library",
               env={**os.environ, **VENV_PATH})  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr
    if sr_hz == 22050:
        y, _ = load_audio(song)
    else:
        y, sr_file = sf.read(song, dtype="float32", always_2d=True)
        assert sr_file == sr_hz
        y = y.mean(axis=1, dtype=np.float32)
    pcm = tmp_path / "song.f32"
    np.asarray(y, dtype="<f4").tofile(pcm)
    csharp = _csharp(engine, pcm, tmp_path / "cs.json", "--bundle", "--sr", sr_hz)
    assert [s["phrase_id"] for s in csharp["slots"]] == json.loads(cli.stdout)["phrases"]


def _check(engine, analysis_path: Path, *options) -> str:
    exe, asset, env = engine
    result = _run("mono", exe, "check", asset, analysis_path, *options, env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "   at " not in result.stdout  # one line, no stack trace
    return result.stdout.strip()


def test_bad_input_gets_a_clear_exception(engine, library, tmp_path):
    from musicdance.audio.analysis import analyze_signal
    from musicdance.audio.synth import synth_song
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.engine_asset import ASSET_VERSION, read_tagged, write_tagged
    from musicdance.errors import MusicDanceError

    analysis = _analysis(REPO / "examples" / "demo_song.mp3")
    empty = analyze_signal(np.zeros(22050 * 3, np.float32), sr_hz=22050)
    line = _check(engine, _write(empty, tmp_path / "silence.mdan"))
    assert line.startswith("DanceFormatException: no phrases to dance to"), line
    y, _ = synth_song("pop", bpm=116.0, seed=1, duration_s=1.0)
    short = analyze_signal(y, sr_hz=22050)
    try:  # a 1-second clip: the same refusal as Python's, or the same (tiny) dance
        expected = [s["phrase_id"] for s in choreograph(short, library).to_json()["slots"]]
    except MusicDanceError as error:
        assert "no phrases to dance to" in str(error)
        assert "no phrases to dance to" in _check(engine, _write(short, tmp_path / "short.mdan"))
    else:
        found = _csharp(engine, _write(short, tmp_path / "short.mdan"), tmp_path / "short.json")
        assert [s["phrase_id"] for s in found["slots"]] == expected
    kind, arrays = read_tagged(_write(analysis, tmp_path / "song.mdan"))
    arrays = {k: np.array(v) for k, v in arrays.items()}
    arrays["phrase.energy"][1] = np.nan
    write_tagged(tmp_path / "nan.mdan", kind, arrays)
    assert "music phrase 1 has NaN features" in _check(engine, tmp_path / "nan.mdan")
    exe, asset, env = engine
    data = bytearray(asset.read_bytes())
    data[4:8] = (ASSET_VERSION + 1).to_bytes(4, "little")
    other = tmp_path / "other.mdlb"
    other.write_bytes(bytes(data))
    result = _run("mono", exe, "check", other, tmp_path / "song.mdan", env=env)
    assert result.returncode == 3
    assert f"version {ASSET_VERSION + 1} is not supported" in result.stdout
    assert result.stdout.startswith("DanceAssetException")
    result = _run("mono", exe, "check", tmp_path / "song.mdan", tmp_path / "song.mdan", env=env)
    assert "not a library asset" in result.stdout


def _write(analysis, path: Path) -> Path:
    from musicdance.choreo.engine_asset import write_analysis_asset

    return write_analysis_asset(analysis, path)


def test_asset_round_trip(library, tmp_path):
    """The exported arrays read back as written: table, graph, Q15 motions, the bundle graph."""
    from musicdance.choreo.engine_asset import export_unity_library, read_tagged

    report = export_unity_library(library, tmp_path)
    kind, arrays = read_tagged(report["path"])
    assert kind == "library" and "bundle.probabilities_onnx" not in arrays
    ids = library.ids()
    assert len(arrays["ids.offsets"]) == len(ids) + 1
    k = ids.index(ids[len(ids) // 2])
    motion = library.get(ids[k]).motion
    a, b = arrays["motion.indptr"][k], arrays["motion.indptr"][k + 1]
    assert b - a == motion.num_frames
    rotations = arrays["motion.rotations_q15"][a:b] / 32767.0
    rotations /= np.linalg.norm(rotations, axis=-1, keepdims=True)
    assert np.abs(rotations - motion.rotations).max() < 1e-4
    assert np.array_equal(arrays["motion.root_m"][a:b], motion.root_positions_m.astype(np.float32))


def test_in_engine_pipeline_runs_off_the_calling_thread(engine, tmp_path):
    """``InEngineChoreography.RunAsync`` and ``RenderAsync`` (what ``DanceDirector.Choreograph``
    and ``Bake`` call) with the analysis injected as its ``IMusicAnalyzer``: worker thread,
    progress rising to 1, the same timeline as the direct call, a track as long as the song."""
    from musicdance.choreo.engine_asset import write_analysis_asset

    exe, asset, env = engine
    analysis = _analysis(REPO / "examples" / "demo_song.mp3")
    song = write_analysis_asset(analysis, tmp_path / "s.mdan")
    result = _run("mono", exe, "director", asset, song, tmp_path / "d.json", "--bundle", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["worker_thread"] and report["monotonic"] and report["progress"][-1] == 1
    assert report["frames"] == report["expected_frames"]  # RenderAsync: the song's length
    direct = _csharp(engine, song, tmp_path / "c.json", "--bundle")
    found = json.loads((tmp_path / "d.json").read_text())
    assert [s["phrase_id"] for s in found["slots"]] == [s["phrase_id"] for s in direct["slots"]]


def simplified_render(timeline, library, halflife_s: float = 0.18):
    """The Python counterpart of ``TimelineRenderer``: the SDK's ``warp_slot``, ``align_root``
    and ``inertialize``, cut on count 1 (``render_dance`` without its cut search, its half-life
    scaling, its continuation takes and its foot locking), the ends held as ``_finish`` does."""
    import math
    from dataclasses import replace

    from musicdance.choreo.render import frame_at, warp_slot
    from musicdance.motion.motion import concatenate, slice_frames
    from musicdance.synthesis.blend import align_root, heading, inertialize

    fps = timeline.fps
    pieces = []
    for slot, phrase_id in zip(timeline.slots, timeline.phrase_ids(), strict=True):
        motion = warp_slot(library.get(phrase_id), slot, fps)
        if motion is not None:
            pieces.append((frame_at(slot.start_s, fps), frame_at(slot.end_s, fps), motion))
    segments, previous = [], None
    for p, (first, stop, motion) in enumerate(pieces):
        end = pieces[p + 1][0] - first if p + 1 < len(pieces) else stop - first
        if previous is not None:
            motion = align_root(motion, previous.root_positions_m[-1],
                                float(heading(previous.rotations[-1, 0])))  # fmt: skip
        segment = slice_frames(motion, 0, max(end, 0))
        if previous is not None and segment.num_frames:
            segment = inertialize(previous, segment, halflife_s)
        if segment.num_frames:
            segments.append(segment)
            previous = segment
    body = concatenate(segments)
    before = frame_at(timeline.slots[0].start_s, fps)
    total = int(math.floor(timeline.duration_s * fps + 1e-6)) + 1
    index = np.clip(np.arange(total) - before, 0, body.num_frames - 1)
    return replace(body, root_positions_m=body.root_positions_m[index],
                   rotations=body.rotations[index])  # fmt: skip


def _render(engine, song: Path, tmp_path: Path, *options):
    """Choreograph and render ``song`` in C#: ``(timeline, frames [T, 3 + 4J], poses sampled
    every 13.7 ms [N, 3 + 4J], their times)``."""
    from musicdance.choreo.engine_asset import write_analysis_asset
    from musicdance.choreo.timeline import Timeline

    exe, asset, env = engine
    analysis = write_analysis_asset(_analysis(song), tmp_path / "song.mdan")
    prefix = tmp_path / "dance"
    result = _run("mono", exe, "render", asset, analysis, prefix, "--bundle", *options, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    timeline = Timeline.from_json(json.loads(Path(f"{prefix}.timeline.json").read_text()))
    joints = 22  # the canonical skeleton
    frames = np.fromfile(f"{prefix}.frames.f32", np.float32).reshape(-1, 3 + 4 * joints)
    poses = np.fromfile(f"{prefix}.samples.f32", np.float32).reshape(-1, 3 + 4 * joints)
    return timeline, frames, poses, np.arange(len(poses)) * 0.0137


def _close(found: np.ndarray, root_m: np.ndarray, rotations: np.ndarray) -> None:
    from runtime_support import quaternion_gap

    assert len(found) == len(root_m)
    assert np.abs(found[:, :3] - root_m).max() < 1e-4
    assert quaternion_gap(found[:, 3:].reshape(rotations.shape), rotations) < 1e-4


@pytest.mark.parametrize("song", SONGS, ids=[p.stem for p in SONGS])
def test_render_matches_the_python_runtime(engine, library, song, tmp_path):
    """The full render (cut search, continuations, half-lives, foot locking): every frame
    equals ``render_dance``'s and poses sampled by the C# ``PoseSampler`` equal the Python
    runtime's (``Runtime.sample``) within 1e-4."""
    from runtime_support import runtime

    from musicdance.choreo.render import render_dance

    timeline, frames, poses, times = _render(engine, song, tmp_path)
    expected = render_dance(timeline, library).motion
    _close(frames, expected.root_positions_m, expected.rotations)
    sampled = runtime().sample(timeline, times)
    _close(poses, sampled.root_positions_m, sampled.rotations)


def test_simple_render_matches_the_sdk_functions(engine, library, tmp_path):
    """``TimelineRenderer.RenderSimple`` (cut on count 1, fixed half-life, no
    continuation takes, no foot locking) equals ``simplified_render`` within 1e-4."""
    from musicdance.motion.motion import sample

    timeline, frames, poses, times = _render(engine, SONGS[0], tmp_path, "--simple")
    expected = simplified_render(timeline, library)
    _close(frames, expected.root_positions_m, expected.rotations)
    sampled = sample(expected, times)
    _close(poses, sampled.root_positions_m, sampled.rotations)


def test_editing_in_the_engine_matches_the_sdk(engine, library, tmp_path):
    """``TimelineEditing.Alternatives`` and ``Replace`` (what ``DanceEditor`` calls with a
    director) rank and replace as ``alternatives`` and ``replace_phrase`` do, and the edited
    dance renders to ``render_dance``'s frames."""
    from musicdance.choreo.choreographer import alternatives, replace_phrase
    from musicdance.choreo.engine_asset import write_analysis_asset
    from musicdance.choreo.render import render_dance
    from musicdance.choreo.timeline import Timeline

    exe, asset, env = engine
    song = write_analysis_asset(_analysis(SONGS[0]), tmp_path / "song.mdan")
    prefix = tmp_path / "edit"
    result = _run("mono", exe, "edit", asset, song, prefix, 3, "--bundle", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    timeline = Timeline.from_json(json.loads(Path(f"{prefix}.original.json").read_text()))
    expected = alternatives(timeline, library, 3)
    found = json.loads(Path(f"{prefix}.alternatives.json").read_text())
    assert [a["phrase_id"] for a in found] == [a["phrase_id"] for a in expected]
    assert [a["current"] for a in found] == [a["current"] for a in expected]
    for a, b in zip(expected, found, strict=True):
        assert b["score"] == pytest.approx(a["score"], rel=1e-9)
    chosen = expected[1]["phrase_id"] if expected[0]["current"] else expected[0]["phrase_id"]
    edited = replace_phrase(timeline, library, 3, chosen)
    document = json.loads(Path(f"{prefix}.timeline.json").read_text())
    assert [s["phrase_id"] for s in document["slots"]] == edited.phrase_ids()
    assert document["slots"][3]["transition_prior"] is None
    assert document["slots"][3]["score"] == pytest.approx(edited.to_json()["slots"][3]["score"])
    frames = np.fromfile(f"{prefix}.frames.f32", np.float32).reshape(-1, 3 + 4 * 22)
    motion = render_dance(edited, library).motion
    _close(frames, motion.root_positions_m, motion.rotations)


@pytest.mark.parametrize("song", SONGS[:2], ids=[p.stem for p in SONGS[:2]])
def test_model_inputs_match_span_inputs(engine, song, tmp_path):
    """``ModelInput.Span`` (the bundle graph's input per slot) equals ``span_inputs``."""
    from musicdance.audio.model_input import span_inputs
    from musicdance.choreo.engine_asset import write_analysis_asset
    from musicdance.choreo.slots import plan_slots

    exe, asset, env = engine
    analysis = _analysis(song)
    path = write_analysis_asset(analysis, tmp_path / "song.mdan")
    result = _run("mono", exe, "inputs", asset, path, tmp_path / "mel.f32", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    slots = plan_slots(analysis)
    expected, _, _ = span_inputs(analysis, [(s.start_s, s.end_s) for s in slots])
    found = np.fromfile(tmp_path / "mel.f32", np.float32).reshape(expected.shape)
    assert np.abs(found - expected).max() < 1e-6


STYLE_CASES = [
    ("demo_song", "waltz"),  # 3/4 phrases on 4/4 music: the meter factor
    ("stk_kart_grand_prix", "waltz"),  # 135 BPM: danced in half time
    ("wesnoth_love_theme", "hiphop"),  # 163 BPM: half time
    ("nexuiz_ninesix", "contemporary"),  # the style with 16 phrases
]


@pytest.mark.parametrize(("stem", "style"), STYLE_CASES, ids=[f"{a}-{b}" for a, b in STYLE_CASES])
def test_same_phrases_for_a_requested_style(engine, library, stem, style, tmp_path):
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.engine_asset import write_analysis_asset

    song = next((p for p in SONGS if p.stem == stem), None)
    if song is None:
        pytest.skip(f"{stem} is not in ../shared/data/music")
    analysis = _analysis(song)
    asset = write_analysis_asset(analysis, tmp_path / "song.mdan")
    python = choreograph(analysis, library, style=style, seed=1).to_json()
    _same_timeline(python, _csharp(engine, asset, tmp_path / "s.json", "--style", style,
                                   "--seed", 1))  # fmt: skip
