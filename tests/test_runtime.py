"""The runtime (``unity_bridge/mdruntime``): the same timelines as ``mdtool choreograph``, editing,
pose sampling equal to the renderer, the pose-track format, and no torch on its import path."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import REPO
from library_support import mdtool
from runtime_support import STARTER, quaternion_gap, runtime, song_signal, write_song_file

from mdruntime import CrowdSampler, PoseSampler, PoseTrack, Runtime, parse_timeline, timeline_key
from mdruntime.audio_input import sniff_audio_format
from mdruntime.library_cache import CachedLibrary
from musicdance.choreo.choreographer import alternatives, choreograph, replace_phrase
from musicdance.choreo.render import render_timeline
from musicdance.choreo.timeline import Timeline
from musicdance.errors import MusicDanceError
from musicdance.library import open_library
from musicdance.motion.motion import sample
from musicdance.synthesis.timewarp import warp_source_times


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_song_file(tmp_path_factory.mktemp("song"))


@pytest.fixture(scope="module")
def cli_timeline(song, tmp_path_factory) -> dict:
    """What ``mdtool choreograph --seed 4 --no-bundle`` writes for the song (the scorer of
    :func:`runtime_support.runtime`)."""
    out = tmp_path_factory.mktemp("cli")
    result = mdtool(
        "choreograph", song, "-o", out, "--seed", 4, "--library", STARTER, "--format", "json",
        "--no-bundle",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads((out / f"{song.stem}.timeline.json").read_text())


@pytest.fixture(scope="module")
def timeline(song) -> Timeline:
    return runtime().choreograph_file(song, seed=4)


# ---------------------------------------------------------------------------------------------
# Same code path as mdtool choreograph


def test_file_bytes_and_pcm_give_the_cli_timeline(song, cli_timeline, timeline):
    rt = runtime()
    assert timeline.to_json() == cli_timeline
    from_bytes = rt.choreograph_bytes(song.read_bytes(), name=str(song), seed=4)
    assert from_bytes.to_json() == cli_timeline
    y, sr = song_signal()
    from_pcm = rt.choreograph_pcm(y, sr, name=str(song), seed=4)
    decoded = __import__("soundfile").read(song, dtype="float32")[0]
    from_decoded = rt.choreograph_pcm(decoded, sr, name=str(song), seed=4)
    assert from_decoded.to_json() == cli_timeline  # the same samples the CLI decoded
    assert from_pcm.phrase_ids() == timeline.phrase_ids()  # before the 16-bit file rounding
    other_seed = rt.choreograph_file(song, seed=5)
    assert other_seed.to_json() != cli_timeline


def test_pcm_formats_and_bad_pcm():
    rt = runtime()
    y, sr = song_signal()
    stereo = np.stack([y, y], axis=1)
    ints = np.clip(y * 32767, -32768, 32767).astype(np.int16)
    a = rt.choreograph_pcm(stereo, sr, seed=1)
    b = rt.choreograph_pcm(ints, sr, seed=1)
    assert a.phrase_ids() == b.phrase_ids()
    assert a.song["path"] is None
    with pytest.raises(MusicDanceError, match="sample rate"):
        rt.analyze_pcm(y, 10)
    with pytest.raises(MusicDanceError, match="non-empty"):
        rt.analyze_pcm(np.zeros((0,)), sr)


def test_alternatives_and_replace_are_the_sdk_calls(timeline):
    rt = runtime()
    library = open_library(STARTER)
    for slot in (0, len(timeline.slots) - 1):
        assert rt.alternatives(timeline, slot, top_k=6) == alternatives(
            timeline, library, slot, top_k=6
        )
    ranked = rt.alternatives(timeline, 1, top_k=5)
    choice = next(r["phrase_id"] for r in ranked if not r["current"])
    edited = rt.replace(timeline, 1, choice)
    assert edited.to_json() == replace_phrase(timeline, library, 1, choice).to_json()
    assert edited.phrase_ids()[1] == choice and timeline.phrase_ids()[1] != choice
    assert timeline_key(edited) != timeline_key(timeline)
    assert rt.alternatives_scorer(timeline) == "feature"


def test_bad_edits_are_clear_errors(timeline):
    rt = runtime()
    with pytest.raises(MusicDanceError, match="slot 99 does not exist"):
        rt.alternatives(timeline, 99)
    with pytest.raises(MusicDanceError, match="slot -1 does not exist"):
        rt.replace(timeline, -1, timeline.phrase_ids()[0])
    with pytest.raises(MusicDanceError, match="no phrase with id"):
        rt.replace(timeline, 0, "no-such-phrase")
    foreign = copy.deepcopy(timeline.to_json())  # to_json shares the song dict
    foreign["slots"][2]["phrase_id"] = "other-library-move"
    foreign["library"] = "/elsewhere/library"
    with pytest.raises(MusicDanceError, match="this library does not have.*/elsewhere/library"):
        rt.pose_track(parse_timeline(foreign))
    broken = copy.deepcopy(timeline.to_json())
    broken["slots"][0]["beat_times_s"] = [2.0, 1.0]
    with pytest.raises(MusicDanceError, match="slot 0 has inconsistent times"):
        rt.replace(parse_timeline(broken), 0, timeline.phrase_ids()[0])
    huge = copy.deepcopy(timeline.to_json())
    huge["song"]["duration_s"] = 1e9
    with pytest.raises(MusicDanceError, match="song duration"):
        rt.render(parse_timeline(huge))
    for text, message in [
        ("{", "not valid JSON"),
        ('{"schema": "x"}', "not an mdtool timeline"),
        ('{"schema": "mdtool.timeline", "version": 1, "slots": [3]}', "damaged timeline"),
        ('{"schema": "mdtool.timeline", "version": 9}', "version 9 is not supported"),
        ('{"a": NaN}', "not valid JSON"),
    ]:
        with pytest.raises(MusicDanceError, match=message):
            parse_timeline(text)


def test_session_edits_with_undo(song):
    rt = runtime()
    session = rt.session(song, seed=4)
    seen = []
    session.listeners.append(seen.append)
    first = session.timeline
    ranked = session.alternatives(0)
    choice = next(r["phrase_id"] for r in ranked if not r["current"])
    session.replace(0, choice)
    assert session.timeline.phrase_ids()[0] == choice and seen == [session.timeline]
    pose = session.sample([0.5, 10.0])
    assert pose.rotations.shape == (2, 22, 4)
    assert session.undo() is first
    with pytest.raises(MusicDanceError, match="nothing to undo"):
        session.undo()


# ---------------------------------------------------------------------------------------------
# Pose sampling reproduces render_timeline


def test_sampler_reproduces_the_rendered_motion(timeline):
    rt = runtime()
    motion = render_timeline(timeline, open_library(STARTER))
    sampler = rt.sampler(timeline)
    frames = np.arange(motion.num_frames) / motion.fps
    pose = sampler.sample(frames)
    assert quaternion_gap(pose.rotations, motion.rotations) <= 1e-4
    assert float(np.abs(pose.root_positions_m - motion.root_positions_m).max()) <= 1e-4
    between = np.random.default_rng(0).uniform(-2.0, motion.duration_s + 2.0, 3000)
    reference = sample(motion, between)
    pose = sampler.sample(between)
    assert quaternion_gap(pose.rotations, reference.rotations) <= 1e-4
    assert float(np.abs(pose.root_positions_m - reference.root_positions_m).max()) <= 1e-4
    # characters x times in one call, float64 too
    grid = between[:12].reshape(3, 4)
    many = PoseSampler(rt.pose_track(timeline), dtype=np.float64).sample(grid)
    assert many.rotations.shape == (3, 4, 22, 4) and many.root_positions_m.shape == (3, 4, 3)
    assert quaternion_gap(many.rotations.reshape(12, 22, 4), reference.rotations[:12]) <= 1e-9
    assert rt.sampler(timeline) is sampler  # cached per timeline
    with pytest.raises(MusicDanceError, match="finite"):
        sampler.sample([np.nan])


def test_crowd_sampler_mixes_dances(timeline):
    rt = runtime()
    other = rt.replace(timeline, 0, rt.alternatives(timeline, 0, top_k=3)[-1]["phrase_id"])
    tracks = [rt.pose_track(timeline), rt.pose_track(other)]
    crowd = CrowdSampler(tracks)
    times = np.array([[0.2, 3.3, 7.1], [0.2, 3.3, 7.1], [5.0, 5.5, 6.0]])
    pose = crowd.sample(times, tracks=[0, 1, 1])
    for character, track in enumerate([0, 1, 1]):
        alone = PoseSampler(tracks[track]).sample(times[character])
        assert quaternion_gap(pose.rotations[character], alone.rotations) <= 1e-6
        assert np.allclose(pose.root_positions_m[character], alone.root_positions_m, atol=1e-6)
    with pytest.raises(MusicDanceError, match="one index per character"):
        crowd.sample(times, tracks=[0, 1])
    with pytest.raises(MusicDanceError, match="out of range"):
        crowd.sample(times, tracks=[0, 1, 2])


def test_pose_track_bytes_round_trip_and_slot_knots(timeline):
    rt = runtime()
    track = rt.pose_track(timeline)
    data = track.to_bytes()
    assert data[:4] == b"MDPT" and (len(data) - 12) % 4 == 0
    again = PoseTrack.from_bytes(data)
    assert again.joint_names == track.joint_names and again.fps == track.fps
    assert again.timeline_key == timeline_key(timeline)
    assert np.abs(again.rotations - track.rotations).max() < 1e-6
    assert len(again.slots) == len(timeline.slots)
    # the knots reproduce the renderer's time warp
    library = open_library(STARTER)
    for knots, slot, phrase_id in zip(
        again.slots, timeline.slots, timeline.phrase_ids(), strict=True
    ):
        assert knots["phrase_id"] == phrase_id
        info = library.info(phrase_id)
        assert knots["source_s"][0] == pytest.approx(info.count_frames[0] / info.fps)
        times = np.linspace(slot.start_s, slot.end_s, 7)
        mapped = warp_source_times(times, knots["targets_s"], knots["source_s"])
        assert np.all(np.diff(mapped) > 0)
    for bad, message in [
        (b"nope", "MDPT magic"),
        (data[:4] + b"\x07\x00\x00\x00" + data[8:], "version 7"),
        (data[:-4], "body has"),
    ]:
        with pytest.raises(MusicDanceError, match=message):
            PoseTrack.from_bytes(bad)


# ---------------------------------------------------------------------------------------------
# Pieces


def test_cached_library_answers_like_the_library():
    library = open_library(STARTER)
    cached = CachedLibrary(library)
    assert [i.id for i in cached.infos()] == [i.id for i in library.infos()]
    for style in ("house", "waltz"):
        assert [i.id for i in cached.infos(styles=[style])] == [
            i.id for i in library.infos(styles=[style])
        ]
    some = library.ids()[:3]
    assert [i.id for i in cached.infos(ids=some)] == some
    assert cached.ids() == library.ids() and len(cached) == len(library)
    assert cached.get(some[0]) is cached.get(some[0])
    with pytest.raises(MusicDanceError, match="no phrase with id"):
        cached.get("missing")


def test_audio_formats_are_recognised_by_their_bytes(song):
    assert sniff_audio_format(song.read_bytes()) == "wav"
    assert sniff_audio_format(b"ID3\x04" + bytes(20)) == "mp3"
    assert sniff_audio_format(b"\xff\xfb\x90\x00" + bytes(20)) == "mp3"
    assert sniff_audio_format(b"OggS" + bytes(20)) == "ogg"
    assert sniff_audio_format(b"fLaC" + bytes(20)) == "flac"
    assert sniff_audio_format(b"\x00\x00\x00\x20ftypM4A " + bytes(20)) == "m4a"
    with pytest.raises(MusicDanceError, match="unrecognised audio format"):
        sniff_audio_format(b"<html>hello</html>")
    with pytest.raises(MusicDanceError, match="too short"):
        sniff_audio_format(b"")
    with pytest.raises(MusicDanceError, match="cannot decode the wav upload"):
        runtime().analyze_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")


def test_runtime_matches_choreograph_with_its_own_library_object(song):
    """A Runtime over an opened library is the same as over its folder."""
    library = open_library(STARTER)
    from musicdance.audio.analysis import analyze

    analysis = analyze(song)
    rt = Runtime(library, default_bundle=False)
    assert rt.choreograph(analysis, seed=2).to_json() == choreograph(
        analysis, library, seed=2
    ).to_json()
    info = rt.info()
    assert info["library"]["phrases"] == len(library) and info["bundle"] is None
    assert info["scorer"] == "feature" and info["scorer_note"] is None
    assert info["timeline"] == {"schema": "mdtool.timeline", "version": 1}


# ---------------------------------------------------------------------------------------------
# Import inspection


#: What the runtime must never import: training and corpus code, torch, librosa, numba.
FORBIDDEN_AT_RUN_TIME = ("musicdance.corpus", "musicdance.train", "torch", "librosa", "numba")


def test_runtime_with_the_default_bundle_imports_no_training_corpus_torch_or_librosa(song):
    """The guard of the runtime's layer: with the default choice of scorer (``bundles/default``
    through onnxruntime when it was made for the library, else the features), scoring, editing,
    sampling and exporting import none of ``FORBIDDEN_AT_RUN_TIME``. (With a bundle made for
    the library in any case: ``test_runtime_bundle.test_bundle_runtime_imports_no_torch``.)"""
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import mdruntime
        rt = mdruntime.Runtime({str(STARTER)!r})  # the default bundle when it fits
        tl = rt.choreograph_file({str(song)!r}, seed=1)
        rt.alternatives(tl, 0)
        rt.sample(rt.replace(tl, 0, rt.alternatives(tl, 0)[1]["phrase_id"]), np.linspace(0, 9, 5))
        rt.sample(tl, np.linspace(0, 10, 50))
        rt.glb_bytes(tl)
        forbidden = {FORBIDDEN_AT_RUN_TIME!r}
        bad = sorted(m for m in sys.modules if any(m == f or m.startswith(f + ".")
                                                   for f in forbidden))
        print(",".join(bad))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_concurrent_requests_for_one_timeline_render_it_once(song, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    import mdruntime.runtime as runtime_module

    rt = Runtime(STARTER)
    timeline = rt.choreograph_file(song, seed=9)
    calls = []
    real = runtime_module.render_dance

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(runtime_module, "render_dance", counting)
    with ThreadPoolExecutor(max_workers=6) as pool:
        samplers = list(pool.map(lambda _: rt.sampler(timeline), range(12)))
    assert len(calls) == 1 and all(s is samplers[0] for s in samplers)
