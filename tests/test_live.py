"""Live choreography: the causal beat tracker on songs with exact beats, the live session (any
chunk size, rate and channel count; bounded memory; determinism), live against offline, the
CLI's files and errors, and the runtime without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from functools import cache

import numpy as np
import pytest
from conftest import REPO
from gltf_validator import assert_valid
from library_support import mdtool, one_line_error
from runtime_support import STARTER

from musicdance.audio.analysis import analyze_signal
from musicdance.audio.online import OnlineAnalyzer, beat_f_measure
from musicdance.audio.synth import synth_song, write_song
from musicdance.choreo.live import REPEAT_MEMORY, LiveChoreographer
from musicdance.errors import MusicDanceError
from musicdance.evaluate.live import beat_lock_s, live_figures
from musicdance.io.bvh import read_bvh
from musicdance.library import open_library


@cache
def _song(genre: str, bpm: float, seed: int = 1, duration_s: float = 30.0):
    return synth_song(genre, bpm=bpm, seed=seed, duration_s=duration_s)


@cache
def _owner() -> LiveChoreographer:
    return LiveChoreographer(open_library(STARTER))


def _feed(target, y, chunk: int) -> list:
    return [target.push(y[i : i + chunk]) for i in range(0, len(y), chunk)]


def _declared(session_or_analyzer, y, sr_hz: int, chunk_s: float = 0.02) -> np.ndarray:
    """Beats declared by a tracker fed ``y``: each beat of the grid once, when it is at most
    0.1 s ahead of the audio received (what a game would be told)."""
    analyzer = session_or_analyzer
    declared: list[float] = []
    chunk = int(chunk_s * sr_hz)
    for i in range(0, len(y), chunk):
        state = analyzer.push(y[i : i + chunk])
        if state.tempo_bpm <= 0:
            continue
        floor = declared[-1] + 0.5 * state.period_s if declared else -1.0
        for beat in state.beats_after(floor, 8):
            if beat > state.time_s + 0.1:
                break
            declared.append(float(beat))
    return np.array(declared)


SONGS = [("pop", 112, 4), ("waltz", 96, 3), ("house", 126, 4), ("hiphop", 88, 4)]


@pytest.mark.parametrize(("genre", "bpm", "meter"), SONGS)
def test_the_tracker_locks_within_4_s_on_the_exact_beats(genre, bpm, meter):
    y, truth = _song(genre, bpm)
    analyzer = OnlineAnalyzer(truth.sr_hz)
    declared = _declared(analyzer, y, truth.sr_hz)
    reference = np.array(truth.beat_times_s)
    assert abs(analyzer.state.tempo_bpm / bpm - 1) < 0.02
    assert analyzer.state.meter == meter and analyzer.state.meter_known
    lock = beat_lock_s(declared, reference)
    assert lock is not None and lock <= 4.0
    after = reference > 10.0
    assert beat_f_measure(declared[declared > 10.0], reference[after]) >= 0.9


def test_a_tempo_change_is_followed_within_4_s():
    y1, t1 = _song("pop", 100, seed=3, duration_s=25.0)
    y2, t2 = _song("house", 128, seed=4, duration_s=25.0)
    offset = len(y1) / t1.sr_hz
    reference = np.concatenate([t1.beat_times_s, np.array(t2.beat_times_s) + offset])
    analyzer = OnlineAnalyzer(t1.sr_hz)
    declared = _declared(analyzer, np.concatenate([y1, y2]), t1.sr_hz)
    relock = beat_lock_s(declared, reference, after_s=offset)
    assert relock is not None and relock <= 4.0
    assert abs(analyzer.state.tempo_bpm / 128 - 1) < 0.02


def test_the_tracker_does_not_depend_on_chunk_size_rate_or_channels():
    y, truth = _song("pop", 112, duration_s=15.0)
    small, large = OnlineAnalyzer(22050), OnlineAnalyzer(22050)
    _feed(small, y, 221)  # 10 ms
    _feed(large, y, 4410)  # 200 ms
    # the same frames reach the same updates; only float rounding of batched FFTs differs
    from dataclasses import astuple

    np.testing.assert_allclose(astuple(small.state), astuple(large.state), rtol=1e-6)
    # 44.1 kHz int16 stereo: the same song resampled (not bit-equal; the same beats)
    import soxr

    y44 = soxr.resample(y, 22050, 44100)
    stereo = np.round(np.stack([y44, y44], axis=1) * 32767).astype(np.int16)
    other = OnlineAnalyzer(44100)
    _feed(other, stereo, 882)
    assert abs(other.state.tempo_bpm - small.state.tempo_bpm) < 0.5
    gap = (other.state.beat_s - small.state.beat_s) / small.state.period_s
    assert abs((gap + 0.5) % 1.0 - 0.5) < 0.05


def test_silence_and_bad_samples_never_lock_or_crash():
    analyzer = OnlineAnalyzer(22050)
    _feed(analyzer, np.zeros(22050 * 6, np.float32), 441)
    assert not analyzer.state.locked and analyzer.state.tempo_bpm == 0
    noisy = np.full(4410, np.nan, np.float32)
    analyzer.push(noisy)  # NaN samples count as silence
    with pytest.raises(MusicDanceError, match="must be"):
        analyzer.push(np.zeros((2, 2, 2)))
    with pytest.raises(MusicDanceError, match="not a usable audio rate"):
        OnlineAnalyzer(12)


# ---------------------------------------------------------------------------------------------
# The live session


@cache
def _live_run(genre: str = "pop", bpm: float = 112, duration_s: float = 30.0):
    y, truth = _song(genre, bpm, duration_s=duration_s)
    session = _owner().session(truth.sr_hz, seed=3, record=True)
    frames = _feed(session, y, int(0.02 * truth.sr_hz))
    return session, frames, y, truth


def test_a_session_dances_every_frame_up_to_the_audio_plus_look_ahead():
    session, frames, y, truth = _live_run()
    times = np.concatenate([f.times_s for f in frames])
    assert np.allclose(np.diff(times), 1 / 30)
    assert times[-1] <= len(y) / truth.sr_hz + 0.1 + 1e-9
    assert times[-1] > len(y) / truth.sr_hz + 0.1 - 1 / 30
    motion = session.motion()
    assert motion.num_frames == len(times) and not motion.problems()
    record = session.timeline()
    dance = [c for c in record["choices"] if not c["idle"]]
    assert record["locked_at_s"] is not None and record["locked_at_s"] < 4.0
    styles = {open_library(STARTER).info(c["phrase_id"]).style for c in dance}
    assert styles == {record["style"]} and len(dance) >= 4
    # each phrase was chosen one eight ahead: before its own start
    assert all(c["decided_at_s"] < c["start_s"] for c in dance)
    # no move twice within three eights, except the mirrored second eight of a pair
    moves = [c["phrase_id"].removesuffix("-mirror") for c in dance]
    for a, b in zip(moves, moves[2:], strict=False):
        assert a != b
    beats = np.concatenate([f.beats_s for f in frames])
    assert np.all(np.diff(beats) > 0.4)


def test_live_against_offline_beat_alignment_and_joins():
    """Three songs, live and offline with the same style and seed: the live BAS margin over its
    half-beat control is on median within 15 % of the offline dance's (per song it varies
    with the phrases chosen: benchmarks/bench_live.py), and no live join is sharper than the
    sharpest moment inside the phrases."""
    from musicdance.audio.analysis import analyze_signal
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.render import cut_times, render_timeline

    library = open_library(STARTER)
    ratios = []
    for genre, bpm in (("pop", 112), ("house", 124), ("hiphop", 92)):
        y, truth = _song(genre, bpm, duration_s=45.0)
        session = _owner().session(truth.sr_hz, seed=3, record=True)
        _feed(session, y, int(0.02 * truth.sr_hz))
        analysis = analyze_signal(y, sr_hz=truth.sr_hz)
        timeline = choreograph(analysis, library, style=session.style, seed=3)
        offline = render_timeline(timeline, library)
        cuts = [c["start_s"] for c in session.timeline()["choices"] if not c["idle"]]
        figures = live_figures(
            session.motion(), np.array(session.declared_beats_s), cuts,
            np.array(truth.beat_times_s), offline_motion=offline,
            offline_cuts_s=[j.time_s for j in cut_times(timeline, library)],
        )  # fmt: skip
        assert figures["live"]["worst_join_ratio"] <= 1.0, (genre, figures)
        assert figures["beat_lock_s"] is not None and figures["beat_lock_s"] <= 4.0
        ratios.append(figures["bas_margin_ratio"])
    assert np.median(ratios) >= 0.85 and min(ratios) >= 0.6, ratios


def test_same_stream_and_seed_same_dance_other_seed_other_choices():
    session, _, y, truth = _live_run()
    again = _owner().session(truth.sr_hz, seed=3, record=True)
    _feed(again, y, int(0.02 * truth.sr_hz))
    np.testing.assert_array_equal(again.motion().rotations, session.motion().rotations)
    other = _owner().session(truth.sr_hz, seed=4, record=True)
    _feed(other, y, int(0.02 * truth.sr_hz))
    ids = [c["phrase_id"] for c in session.timeline()["choices"]]
    assert ids != [c["phrase_id"] for c in other.timeline()["choices"]]


def _frame_by_frame_cut_plan(session, phrase_id: str, b0: float, t: float):
    """The join search as it was before it was batched (every simulated frame posed alone and
    each trial forward-kinematised alone): ``((delay, scale), peaks of the trials tried)``."""
    from musicdance.choreo.live import (
        CUT_DELAY_COST,
        CUT_DELAYS_BEATS,
        CUT_HALFLIFE_SCALES,
        CUT_KEEP_SHARE,
        CUT_WINDOW_S,
    )  # fmt: skip
    from musicdance.motion.motion import Motion

    def pose(segment, clock, time_s):
        roots, rotations = session._segment_poses(segment, np.array([clock]), np.array([time_s]))
        return roots[0], rotations[0]

    fps, rate = session.fps, session._rate()
    dt = 1.0 / fps
    owner = session.owner
    sharpest = max(
        owner.peak_mps2(pid) * (rate * 60.0 / owner.phrase(pid).info.tempo_bpm) ** 2
        for pid in (session._segment.phrase_id, phrase_id)
    )
    plans = [(0.0, scale) for scale in CUT_HALFLIFE_SCALES]
    plans += [(delay, 1.0) for delay in CUT_DELAYS_BEATS if delay > 0]
    peaks = []
    for delay, scale in plans:
        frames, clock = list(session._previous), session._clock
        for _ in range(int(round(delay / rate / dt))):
            frames.append(pose(session._segment, clock, t))
            clock += rate * dt
        segment = session._joined_segment(phrase_id, b0, t, frames[-2:], clock)
        segment.halflife_s *= scale
        cut = len(frames)
        for k in range(int(round(CUT_WINDOW_S * fps))):
            frames.append(pose(segment, clock + k * rate * dt, t + k * dt))
        motion = Motion(session.skeleton, fps, np.array([f[0] for f in frames]),
                        np.array([f[1] for f in frames]))  # fmt: skip
        positions = motion.global_positions()[cut - 2 :]
        peaks.append(float(np.linalg.norm(np.diff(positions, 2, axis=0), axis=-1).max()) * fps**2)
        if peaks[-1] <= CUT_KEEP_SHARE * sharpest:
            return (delay, scale), peaks
    costs = [peak * (1.0 + CUT_DELAY_COST * d) for (d, _), peak in zip(plans, peaks, strict=True)]
    return plans[int(np.argmin(costs))], peaks


def test_the_batched_join_search_finds_the_joins_of_the_frame_by_frame_one():
    """The join search poses and forward-kinematises its simulated joins in batches (at most
    two per cut): every trial's peak equals the frame-by-frame simulation's, the same cut is
    chosen, a cut on count 1 reuses the search's join (equal to one made afresh), and the
    whole dance is the one the frame-by-frame search makes, frame for frame."""
    y, truth = _song("waltz", 120, duration_s=30.0)
    chunk = int(0.02 * truth.sr_hz)
    session = _owner().session(truth.sr_hz, seed=3, record=True)
    plan, join_peaks = session._cut_plan, session._join_peaks
    searched, found = [], []

    def batched_peaks(*args):
        peaks, joined = join_peaks(*args)
        found.extend(peaks)
        return peaks, joined

    def checked_plan(phrase_id, b0, t):
        expected, expected_peaks = _frame_by_frame_cut_plan(session, phrase_id, b0, t)
        fresh = session._joined_segment(phrase_id, b0, t, list(session._previous), session._clock)
        found.clear()
        batches = session.join_batches
        delay, scale, segment = plan(phrase_id, b0, t)
        assert (delay, scale) == expected
        np.testing.assert_allclose(found[: len(expected_peaks)], expected_peaks, rtol=1e-9)
        assert session.join_batches - batches == (1 if len(found) == 4 else 2)
        if delay == 0:
            for name in ("rot_offset", "rot_velocity", "root_offset", "root_velocity"):
                np.testing.assert_array_equal(getattr(segment, name), getattr(fresh, name))
            assert segment.halflife_s == fresh.halflife_s
        searched.append((delay, scale, len(expected_peaks)))
        return delay, scale, segment

    session._cut_plan, session._join_peaks = checked_plan, batched_peaks
    _feed(session, y, chunk)
    assert len(searched) >= 8
    assert any(n > 4 for *_, n in searched)  # some searches tried the later cuts
    reference = _owner().session(truth.sr_hz, seed=3, record=True)
    reference._cut_plan = lambda p, b0, t: (*_frame_by_frame_cut_plan(reference, p, b0, t)[0], None)
    _feed(reference, y, chunk)
    assert [(c.phrase_id, c.start_s) for c in reference.choices] == [
        (c.phrase_id, c.start_s) for c in session.choices
    ]
    np.testing.assert_array_equal(reference.motion().rotations, session.motion().rotations)
    np.testing.assert_array_equal(
        reference.motion().root_positions_m, session.motion().root_positions_m
    )


def test_no_push_both_searches_a_join_and_calls_the_model():
    """With the bundle and 100-ms chunks (three frames a push, so a cut and the next choice can
    fall in one push): a push runs at most two join-search batches; the model's probabilities
    are computed on the model thread, never the feeding one; a choice is picked (its model
    call's result used) only in a push that neither searched a join nor prepared it."""
    import threading

    from musicdance.bundle import open_bundle
    from musicdance.defaults import DEFAULT_BUNDLE

    library = open_library(STARTER)
    owner = LiveChoreographer(library, bundle=open_bundle(DEFAULT_BUNDLE, library=library))
    y, truth = _song("pop", 112, duration_s=30.0)
    session = owner.session(truth.sr_hz, seed=0)
    events: list[str] = []
    threads: list[str] = []
    for name in ("_prepare", "_pick"):
        method = getattr(session, name)

        def spy(*args, _method=method, _name=name):
            events.append(_name)
            return _method(*args)

        setattr(session, name, spy)
    probabilities = owner.bundle.probabilities

    def on_thread(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return probabilities(*args, **kwargs)

    owner.bundle.probabilities = on_thread
    chunk = int(0.1 * truth.sr_hz)
    pushes = []
    for i in range(0, len(y), chunk):
        events.clear()
        batches = session.join_batches
        session.push(y[i : i + chunk])
        pushes.append((session.join_batches - batches, list(events)))
    owner.bundle.probabilities = probabilities
    picks = [p for p in pushes if "_pick" in p[1]]
    assert len(picks) >= 8
    assert all(batches == 0 and "_prepare" not in events for batches, events in picks)
    assert max(batches for batches, _ in pushes) <= 2
    # with three frames a push, some cuts and the next preparation do share a push
    assert any(batches and "_prepare" in events for batches, events in pushes)
    assert threads and all(name.startswith("mdtool-live-model") for name in threads)


def test_repeated_music_is_danced_with_the_phrases_it_had_before():
    """A passage played twice, another in between: once the second playing is recognised (two
    whole eights of it heard, and the choice is made one eight ahead, so from about its fifth
    eight on), its eights repeat the phrases danced to the first playing, eight for eight;
    nothing before the second playing is called a repeat."""
    passage, truth = _song("funk", 120, seed=5, duration_s=32.0)  # 16 bars, 8 eights
    bars = int(round(16 * 4 * 60 / 120 * truth.sr_hz))
    other, _ = _song("ballad", 120, seed=6, duration_s=32.0)
    y = np.concatenate([passage[:bars], other[:bars], passage[:bars]])
    session = _owner().session(truth.sr_hz, seed=2)
    _feed(session, y, int(0.02 * truth.sr_hz))
    choices = [c for c in session.choices if not c.idle]
    second = 2 * bars / truth.sr_hz
    eight_s = 8 * 60 / 120
    repeats = [c for c in choices if c.repeat_of is not None]
    late = [c for c in choices if c.start_s >= second + 5 * eight_s - 0.5]
    assert late and all(c.repeat_of is not None for c in late)
    by_eight = {c.eight: c for c in choices}
    for c in repeats:
        assert c.start_s > second - 0.5  # nothing before the second playing is a repeat
        earlier = by_eight[c.repeat_of]
        assert earlier.phrase_id == c.phrase_id
        # the same place in the first playing, whatever the eight count in between
        assert abs((c.start_s - earlier.start_s) - second) < 0.6


def test_with_the_bundle_each_eight_is_scored_on_the_last_eight_heard():
    """With the default bundle, the session mixes the model's probabilities into the scores as
    offline, and the model's input is the last eight heard: the same log-mel as the offline
    analysis of those frames (floored at the loudest bin so far, not the song's, minus 80 dB).
    The dance then differs from the features-only one with the same seed."""
    from musicdance.bundle import open_bundle
    from musicdance.defaults import DEFAULT_BUNDLE

    library = open_library(STARTER)
    y, truth = _song("pop", 112, duration_s=30.0)
    owner = LiveChoreographer(library, bundle=open_bundle(DEFAULT_BUNDLE, library=library))
    session = owner.session(truth.sr_hz, seed=0)
    heard = []
    model_input, mix = session._model_input, session._mix_model

    def spy_input(slot):
        frames = int(round((slot.end_s - slot.start_s) * session.analyzer.fps))
        heard.append((session.analyzer.frames, session.analyzer.log_mel_db.last(frames).copy()))
        return model_input(slot)

    def spy_mix(features, probabilities, floor=1e-6):
        mixed = mix(features, probabilities, floor)
        assert mixed.shape == features.shape and not np.allclose(mixed, features)
        return mixed

    session._model_input, session._mix_model = spy_input, spy_mix
    _feed(session, y, int(0.02 * truth.sr_hz))
    with_bundle = [c.phrase_id for c in session.choices if not c.idle]
    assert len(heard) >= len(with_bundle) >= 4  # the last choice may not be danced yet
    offline = analyze_signal(y, sr_hz=truth.sr_hz).log_mel_db
    floor = float(offline.min())  # the song's loudest bin - 80 dB (live: the loudest so far)
    for end, log_mel in heard:
        expected = offline[:, end - len(log_mel) : end].T
        assert np.abs(np.maximum(log_mel, floor) - expected).max() < 1e-3
    plain = _owner().session(truth.sr_hz, seed=0)
    _feed(plain, y, int(0.02 * truth.sr_hz))
    assert with_bundle != [c.phrase_id for c in plain.choices if not c.idle]


def test_memory_is_bounded_over_a_long_stream():
    """Seven minutes of music, not recording, with the style's phrases decoded beforehand: once
    the session's capped buffers are full (the last 64 choices and eights remembered for
    repeats, 4096 latencies: about four and a half minutes here), they stay at their caps and
    the Python heap does not grow (only allocations made after the warm-up are traced)."""
    import tracemalloc

    y, truth = _song("house", 124, duration_s=60.0)  # looped; bench_live.py runs an hour
    owner = LiveChoreographer(open_library(STARTER), style="house")
    for phrase_id in owner.table.ids[owner.rows]:
        owner.peak_mps2(phrase_id)  # decodes the phrase too
    session = owner.session(truth.sr_hz, seed=0)
    chunk = int(0.05 * truth.sr_hz)
    for _minute in range(5):
        _feed(session, y, chunk)
    tracemalloc.start()
    heap = []
    for _minute in range(2):
        _feed(session, y, chunk)
        heap.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    assert len(session.choices) == 64 and len(session.latencies_s) == 4096
    assert len(session.declared_beats_s) <= 1024 and len(session._history) <= 32
    assert len(session._repeats.phrases) <= REPEAT_MEMORY
    # what the first traced minute allocated and kept replaces what the caps dropped; the
    # second minute adds nothing more
    assert heap[1] - heap[0] < 50_000, heap


def test_the_cli_writes_what_the_session_danced(tmp_path):
    y, truth = _song("pop", 112)
    song = write_song(tmp_path / "pop.wav", y, sr_hz=truth.sr_hz)
    out = tmp_path / "out"
    result = mdtool("live", song, "-o", out, "-L", STARTER, "--seed", 3, "--no-bundle", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["scorer"] == "features"
    assert summary["locked_at_s"] < 4.0 and summary["latency_ms"]["chunks"] > 1000
    assert_valid(out / "pop.glb")
    motion = read_bvh(out / "pop.bvh")
    assert abs(motion.duration_s - len(y) / truth.sr_hz) < 0.2
    record = json.loads((out / "pop.live.json").read_text())
    assert [c["phrase_id"] for c in record["choices"] if not c["idle"]] == summary["phrases"]
    # the same run in process gives the same dance as the SDK session with the same seed
    session, _, _, _ = _live_run()
    assert summary["phrases"] == [
        c["phrase_id"] for c in session.timeline()["choices"] if not c["idle"]
    ]


def test_cli_errors_are_one_line(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk")
    result = mdtool("live", broken, "-o", tmp_path / "o", "-L", STARTER)
    assert "broken.wav" in one_line_error(result)
    assert not (tmp_path / "o").exists()
    result = mdtool("live", "--input", "-o", tmp_path / "o", "-L", STARTER)
    assert "--seconds" in one_line_error(result)


def test_the_runtime_live_session_imports_no_torch_or_librosa():
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from mdruntime import Runtime
        from musicdance.audio.synth import synth_song
        rt = Runtime({str(STARTER)!r}, default_bundle=False)
        y, _ = synth_song("house", bpm=120, seed=1, duration_s=12)
        session = rt.live(sr_hz=22050, style="house")
        n = sum(len(session.push(y[i:i + 441])) for i in range(0, len(y), 441))
        assert n > 300, n
        bad = [m for m in ("torch", "librosa", "musicdance.train") if m in sys.modules]
        assert not bad, bad
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=600)  # fmt: skip
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


# ---------------------------------------------------------------------------------------------
# The service's WebSocket


def test_the_service_streams_live_poses_over_a_websocket():
    from service_support import start_service
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    from mdruntime.live_socket import unpack_frames

    y, truth = _song("house", 124, duration_s=20.0)
    served = start_service("--library", STARTER, "--no-bundle", "--token", "s3cret",
                           "--host", "127.0.0.1")  # fmt: skip
    url = f"ws://127.0.0.1:{served.port}/v1/live"
    auth = {"Authorization": "Bearer s3cret"}
    try:
        with pytest.raises(InvalidStatus):  # the token rule holds for the handshake too
            connect(f"{url}?sr_hz=22050").close()
        with connect(f"{url}?sr_hz=22050&format=s16&style=house&seed=1",
                     additional_headers=auth) as socket:  # fmt: skip
            ready = json.loads(socket.recv())
            assert ready["type"] == "ready" and len(ready["joints"]) == len(ready["parents"])
            pcm = np.round(y * 32767).astype("<i2")
            times, beats, choices = [], [], []
            for i in range(0, len(pcm), 441):
                socket.send(pcm[i : i + 441].tobytes())
                while isinstance(message := socket.recv(), str):
                    choices.append(json.loads(message))
                frames = unpack_frames(message)
                times.extend(frames["times_s"].tolist())
                beats.extend(frames["beats_s"].tolist())
            socket.send(json.dumps({"type": "end"}))
            while (summary := json.loads(socket.recv()))["type"] != "summary":
                choices.append(summary)
        assert np.allclose(np.diff(times), 1 / 30, atol=1e-5)
        assert abs(times[-1] - (len(y) / truth.sr_hz + 0.1)) < 1 / 30
        assert frames["rotations"].shape[1] == len(ready["joints"])
        assert beat_f_measure(np.array(beats), np.array(truth.beat_times_s)) >= 0.8
        assert [c["phrase_id"] for c in choices] == [
            c["phrase_id"] for c in summary["choices"]
        ] and summary["locked_at_s"] < 4.0
        # the same stream and seed through the SDK: the same phrases
        session = LiveChoreographer(open_library(STARTER), style="house").session(22050, seed=1)
        _feed(session, pcm, 441)
        assert [c.phrase_id for c in session.choices] == [c["phrase_id"] for c in choices]
        with connect(f"{url}?sr_hz=5", additional_headers=auth) as socket:
            error = json.loads(socket.recv())
            assert error["type"] == "error" and "sr_hz" in error["message"]
        with connect(f"{url}?sr_hz=22050&channels=2", additional_headers=auth) as socket:
            socket.recv()
            socket.send(b"\0\0\0")  # not whole stereo f32 frames
            assert "whole f32 frames" in json.loads(socket.recv())["message"]
    finally:
        served.stop()


@pytest.mark.skipif(
    __import__("shutil").which("mcs") is None, reason="mono is not installed (mono-mcs)"
)
def test_the_unity_live_client_plays_what_the_sdk_session_dances(tmp_path):
    """The package's C# LiveClient (compiled with mcs, run under mono) streams a song to the
    real service over a WebSocket; the poses it samples back from its LiveFrameBuffer at each
    frame time equal the SDK session's on the same stream and seed (float32 transport)."""
    from service_support import start_service

    package = REPO / "unity_bridge" / "unity" / "com.mdtool.dance"
    exe = tmp_path / "LiveClientTests.exe"
    sources = sorted((package / "Runtime" / "Core").glob("*.cs"))
    built = subprocess.run(
        ["mcs", "-warnaserror", f"-out:{exe}", *map(str, sources),
         str(package / "Tests~" / "Core" / "LiveClientTests.cs")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    y, truth = _song("hiphop", 96, duration_s=15.0)
    pcm = tmp_path / "song.f32"
    y.astype("<f4").tofile(pcm)
    served = start_service("--library", STARTER, "--no-bundle")
    try:
        run = subprocess.run(
            ["mono", str(exe), f"http://127.0.0.1:{served.port}/".replace("http", "ws"),
             str(pcm), "22050", "441", "hiphop", "5", str(tmp_path / "frames.f32"),
             str(tmp_path / "summary.json")],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        served.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    owner = LiveChoreographer(open_library(STARTER), style="hiphop")
    session = owner.session(22050, seed=5, record=True)
    _feed(session, y.astype("<f4"), 441)
    motion = session.motion()
    joints = motion.skeleton.num_joints
    received = np.fromfile(tmp_path / "frames.f32", "<f4").reshape(-1, 4 + 4 * joints)
    assert len(received) == motion.num_frames
    np.testing.assert_allclose(received[:, 1:4], motion.root_positions_m, atol=1e-5)
    rotations = received[:, 4:].reshape(-1, joints, 4)
    gap = np.minimum(np.abs(rotations - motion.rotations), np.abs(rotations + motion.rotations))
    assert gap.max() < 1e-5
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [c["phrase_id"] for c in summary["choices"]] == [
        c.phrase_id for c in session.choices
    ]
