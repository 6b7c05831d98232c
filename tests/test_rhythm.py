"""Seed 002 (MuDaR) without torch: music and motion rhythm features, eq. (2)-(4), retrieval
(eq. 21), precision/recall, temporal retargeting (eq. 22-23), the shipped companion run
through onnxruntime, and the commands that use it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import REPO, SHARED_DATA
from library_support import mdtool

from musicdance.audio.analysis import analyze_signal
from musicdance.audio.synth import synth_song, write_song
from musicdance.companions import list_companions
from musicdance.defaults import DEFAULT_BUNDLE
from musicdance.motion.canonical import CANONICAL_JOINTS
from musicdance.rhythm.features import (
    HOOF_BINS,
    HOOF_FEATURES,
    RHYTHM_FPS,
    audio_channels,
    hoof,
    onset_maxima,
    onset_strength,
)
from musicdance.rhythm.model import peak_frames, rhythm_signature, tempo_from_curve
from musicdance.rhythm.retarget import dtw_pairs, fit_time_map
from musicdance.rhythm.retrieval import hybrid_similarity, precision_recall, recall_at_k

SHIPPED = "mudar" in list_companions(DEFAULT_BUNDLE)
needs_companion = pytest.mark.skipif(not SHIPPED, reason="no mudar companion in the bundle")


def test_onset_envelope_and_maxima_find_the_generated_beats():
    y, truth = synth_song("house", seed=2, duration_s=20.0)
    analysis = analyze_signal(y, sr_hz=truth.sr_hz)
    env = onset_strength(analysis.log_mel_db)
    assert env.shape == (analysis.log_mel_db.shape[1],) and env.min() >= 0 and env[0] == 0
    onsets_s = onset_maxima(env, analysis.fps) / analysis.fps
    beats = np.asarray(truth.beat_times_s)
    # the four-on-the-floor kick is an onset on every beat
    found = precision_recall(onsets_s, beats, 0.05)
    assert found["recall"] > 0.9
    audio, onsets = audio_channels(analysis)
    assert audio.shape[0] == 64 and onsets.shape == (audio.shape[1],)
    assert abs(audio.shape[1] / RHYTHM_FPS - analysis.duration_s) < 0.2


def _walker(names, yaw: float, frames: int = 60) -> np.ndarray:
    """A rigid body moving to its left (+X), up at 10 degrees and a little forward, facing
    ``yaw``, [T, J, 3] (no velocity on a bin boundary of eq. 4)."""
    rest = np.zeros((len(names), 3))
    rest[names.index("LeftUpperLeg")] = [0.1, 0.9, 0.0]
    rest[names.index("RightUpperLeg")] = [-0.1, 0.9, 0.0]
    for j, name in enumerate(names):
        if name not in ("LeftUpperLeg", "RightUpperLeg"):
            rest[j] = [0.05 * np.sin(j), 1.0 + 0.02 * j, 0.05 * np.cos(j)]
    t = np.arange(frames)[:, None, None] / RHYTHM_FPS
    up = np.radians(10.0)
    velocity = np.array([0.5 * np.cos(up), 0.5 * np.sin(up), 0.1])  # 0.5 m/s in the (x, y) plane
    positions = rest[None] + t * velocity
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return (positions @ rot.T).astype(np.float32)


def test_hoof_is_eq_3_4_and_ignores_where_the_dancer_faces():
    names = CANONICAL_JOINTS
    h0 = hoof(_walker(names, 0.0), names)
    h1 = hoof(_walker(names, 1.1), names)
    assert h0.shape == (60, HOOF_FEATURES)
    np.testing.assert_allclose(h0, h1, atol=1e-4)
    # torso, frontal plane: every joint moves at 0.5 m/s, 10 degrees above +x: bins 0 and 1
    # (0 and 45 degrees, within 2 pi / B) get 6 x 0.5 m/s each, the others nothing
    frontal = np.expm1(h0[30, :HOOF_BINS])
    np.testing.assert_allclose(frontal[[0, 1]], 3.0, rtol=1e-3)
    assert np.all(frontal[2:] < 1e-4)


def test_retrieval_and_precision_recall():
    emb = np.eye(4, dtype=np.float32)
    sig = np.eye(4, dtype=np.float32)[::-1]
    sim = hybrid_similarity(emb, emb, sig, sig, lam=0.5)
    np.testing.assert_allclose(np.diag(sim), 1.0)
    assert recall_at_k(sim, (1,)) == {"R@1": 1.0}
    shuffled = hybrid_similarity(emb, emb[[1, 0, 2, 3]], sig, sig, lam=1.0)
    assert recall_at_k(shuffled, (1, 2))["R@1"] == 0.5
    r = precision_recall([0.0, 0.52, 2.0], [0.0, 0.5, 1.0], 0.07)
    assert (r["precision"], r["recall"]) == (2 / 3, 2 / 3)
    assert precision_recall([], [1.0])["recall"] == 0.0


def test_tempo_and_signature_of_a_rhythm_curve():
    n = int(30 * RHYTHM_FPS)
    curve = np.zeros(n)
    curve[np.round(np.arange(0, 30, 0.5) * RHYTHM_FPS).astype(int)] = 1.0  # 120 BPM
    found = tempo_from_curve(curve)
    noise = tempo_from_curve(np.random.default_rng(0).random(n))
    assert abs(found.tempo_bpm - 120) < 2 and found.confidence > 2 * noise.confidence
    assert tempo_from_curve(np.zeros(n)).confidence == 0.0
    assert np.isclose(rhythm_signature(curve) @ rhythm_signature(np.roll(curve, 3)), 1, atol=0.05)
    assert list(peak_frames(np.array([0, 0.6, 0.2, 0.7, 0.7, 0.1]), 0.5)) == [1, 3]


def test_retargeting_eq_22_23():
    p_v = np.array([0.0, 1.0, 2.0, 3.0])
    p_a = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    assert dtw_pairs(p_v, p_v) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    path = dtw_pairs(p_v, p_a)
    assert path[0] == (0, 0) and path[-1] == (3, 4)
    fps = 10.0
    times, info = fit_time_map("accelerate", p_v, p_a, 4.0, 3.0, fps)
    # song rhythm point k plays dance rhythm point k
    np.testing.assert_allclose(np.interp(p_a[:4], np.arange(len(times)) / fps, times), p_v)
    times, info = fit_time_map("dtw", p_v, p_a, 4.0, 3.0, fps)
    assert np.all(np.diff(times) >= 0) and info["pairs"] >= 3
    times, info = fit_time_map("shift", p_v, p_a + 0.2, 4.0, 3.0, fps)
    assert np.allclose(np.diff(times), 1 / fps)  # rate 1
    with pytest.raises(Exception, match="--method"):
        fit_time_map("stretch", p_v, p_a, 4.0, 3.0, fps)


@needs_companion
def test_the_companion_runs_without_torch(tmp_path):
    """The shipped graphs through onnxruntime in a process where torch cannot be imported."""
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from musicdance.rhythm.model import load_mudar\n"
        "from musicdance.library import open_library\n"
        f"lib = open_library({str(REPO / 'phrase_library')!r})\n"
        "m = lib.get(lib.ids()[0]).motion\n"
        "model = load_mudar()\n"
        "curve = model.rhythm_curve(m.global_positions(), m.fps, m.skeleton.names)\n"
        "emb = model.motion_embedding(m.global_positions(), m.fps, m.skeleton.names)\n"
        "print(len(curve), float(curve.min()), float(curve.max()), float(np.linalg.norm(emb)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, lo, hi, norm = out.stdout.split()
    assert int(n) > 10 and 0 <= float(lo) <= float(hi) <= 1 and abs(float(norm) - 1) < 1e-4
    manifest = json.loads((DEFAULT_BUNDLE / "mudar" / "manifest.json").read_text())
    assert manifest["opset"] >= 18
    assert max(manifest["parity_max_abs"].values()) <= 1e-4
    size = sum(p.stat().st_size for p in (DEFAULT_BUNDLE / "mudar").iterdir())
    assert size < 5_000_000


def _cli(*args, check=True):
    """``mdtool`` in this process (``library_support.mdtool``): the companion loads once."""
    out = mdtool(*args, cwd=REPO)
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def house_library(tmp_path_factory):
    """The starter library's house phrases (72 of 520): MuDaR embeds every phrase of the
    library it scores, and one style is enough to check the commands."""
    from musicdance.library import open_library

    folder = tmp_path_factory.mktemp("house") / "library"
    return open_library(REPO / "phrase_library").export(folder, styles=["house"]).path


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    y, truth = synth_song("pop", seed=7, duration_s=24.0)
    path = tmp_path_factory.mktemp("song") / "pop.wav"
    write_song(path, y, sr_hz=truth.sr_hz)
    return path


REAL_TAKE = SHARED_DATA / "bvh" / "perfume_A_test.bvh"


@needs_companion
@pytest.mark.skipif(not REAL_TAKE.is_file(), reason="no real take")
def test_fit_writes_the_refitted_dance(tmp_path, song):
    for method, suffix, points in (("dtw", ".bvh", "learned"), ("accelerate", ".glb", "kinematic")):
        target = tmp_path / f"fit{suffix}"
        report = json.loads(_cli("fit", REAL_TAKE, song, "--method", method, "-o", target,
                                 "--points", points, "--json").stdout)  # fmt: skip
        assert target.is_file() and report["method"] == method and report["points"] == points
        assert abs(report["duration_s"] - sf.info(song).duration) < 0.1  # as long as the song
        assert set(report["after"]) >= {"beat_align_score", "beat_align_score_control"}
    bad = _cli("fit", REAL_TAKE, song, "--method", "warp", "-o", tmp_path / "x.bvh", check=False)
    assert bad.returncode == 2 and not (tmp_path / "x.bvh").exists()
    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\nROOT")
    bad = _cli("fit", broken, song, "-o", tmp_path / "y.bvh", check=False)
    assert bad.returncode == 1 and "broken.bvh" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "y.bvh").exists()


@needs_companion
def test_choreograph_with_mudar_emission_and_retrieve_both_ways(tmp_path, song, house_library):
    dances = tmp_path / "dances"
    for emission in ("mudar", "mix"):
        out = json.loads(
            _cli(
                "choreograph",
                song,
                "-o",
                dances,
                "--name",
                emission,
                "--format",
                "bvh",
                "--emission",
                emission,
                "--library",
                house_library,
                "--json",
            ).stdout
        )
        assert out["scorer"] == emission and len(out["phrases"]) == out["slots"]
    bad = _cli("choreograph", song, "-o", tmp_path / "z", "--emission", "best", check=False)
    assert bad.returncode == 2
    bad = _cli("choreograph", song, "-o", tmp_path / "z", "--emission", "mudar", "--dancers", "2",
               check=False)  # fmt: skip
    assert bad.returncode == 2 and "one dancer" in bad.stderr and not (tmp_path / "z").exists()
    ranked = json.loads(_cli("retrieve", song, "--dances", dances, "--json").stdout)["ranked"]
    assert len(ranked) == 2 and ranked[0]["score"] >= ranked[1]["score"]
    songs = tmp_path / "songs"
    songs.mkdir()
    (songs / song.name).write_bytes(song.read_bytes())
    ranked = json.loads(_cli("retrieve", dances / "mudar.bvh", "--songs", songs,
                             "--json").stdout)["ranked"]  # fmt: skip
    assert ranked[0]["path"].endswith("pop.wav") and -1 <= ranked[0]["rhythm"] <= 1
    report = json.loads(_cli("evaluate", dances / "mudar.bvh", song, "--json").stdout)
    assert 0 <= report["rhythm"]["learned_onsets_precision"] <= 1
    assert "kinematic_beats_recall" in report["rhythm"]


AUTO_TAKE = SHARED_DATA / "bvh" / "cmu05" / "cmu-iclone_005_03.bvh"


@needs_companion
@pytest.mark.skipif(not AUTO_TAKE.is_file(), reason="no real take")
def test_library_import_bpm_auto(tmp_path):
    out = _cli("library", "import", AUTO_TAKE, "--style", "test", "--bpm", "auto",
               "--library", tmp_path / "lib", "--json", check=False)  # fmt: skip
    if out.returncode:  # neither estimator sure enough: the refusal names the take
        assert "cmu-iclone_005_03.bvh" in out.stderr and "confidence" in out.stderr
        return
    take = json.loads(out.stdout)["files"][0]
    assert take["tempo_source"] in ("motion", "motion (learned)")
    if take["tempo_source"] == "motion (learned)":
        assert any("learned rhythm estimator" in note for note in take["notes"])
    bad = _cli("library", "import", AUTO_TAKE, "--style", "test", "--bpm", "fast",
               "--library", tmp_path / "lib2", check=False)  # fmt: skip
    assert bad.returncode == 2 and "auto" in bad.stderr


@needs_companion
def test_phrase_side_is_cached_on_disk_and_checked_against_the_motion(tmp_path, monkeypatch):
    """The second scorer of the same library reads the phrase embeddings from the cache (no
    motion-encoder run) and scores exactly as the first; a phrase whose motion checksum changed
    is embedded again."""
    from musicdance.choreo.mudar_scorer import MudarScorer, mudar_cache_dir
    from musicdance.choreo.slots import plan_slots
    from musicdance.library import open_library
    from musicdance.rhythm.model import load_mudar

    monkeypatch.setenv("MDTOOL_CACHE_DIR", str(tmp_path / "cache"))
    y, truth = synth_song("pop", seed=4, duration_s=20.0)
    analysis = analyze_signal(y, sr_hz=truth.sr_hz)
    slots = plan_slots(analysis)
    library = open_library(REPO / "phrase_library")
    ids = library.ids()[::60]
    model = load_mudar()
    embedded = []
    batch = model.motion_window_embeddings_batch
    monkeypatch.setattr(model, "motion_window_embeddings_batch",
                        lambda poses: embedded.append(len(poses)) or batch(poses))  # fmt: skip
    first = MudarScorer(model, analysis, library).score_ids(slots, ids)
    assert sum(embedded) >= len(ids) and list(mudar_cache_dir().rglob("*.npz"))
    embedded.clear()
    second = MudarScorer(model, analysis, library).score_ids(slots, ids)
    assert embedded == [] and np.array_equal(first, second)
    changed = dict(library.motion_checksums(), **{ids[0]: "0" * 64})
    monkeypatch.setattr(library, "motion_checksums", lambda: changed)
    MudarScorer(model, analysis, library).score_ids(slots, ids)
    assert sum(embedded) >= 1 and sum(embedded) < len(ids)  # only the changed phrase
    uncached = MudarScorer(model, analysis, library, cache=False).score_ids(slots, ids)
    assert np.allclose(uncached, first, atol=1e-6)


@needs_companion
def test_phrase_cache_key_changes_with_the_encoders(tmp_path):
    """A companion with other encoder weights caches its phrase embeddings under another key."""
    import shutil

    import onnx
    from onnx import numpy_helper

    from musicdance.choreo.mudar_scorer import _companion_key
    from musicdance.companions import write_companion
    from musicdance.rhythm.model import load_mudar

    shipped = load_mudar()
    folder = tmp_path / "mudar"
    shutil.copytree(DEFAULT_BUNDLE / "mudar", folder)
    graph = onnx.load(folder / "motion_encoder.onnx")
    weight = max(graph.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 1.01, weight.name))
    onnx.save(graph, folder / "motion_encoder.onnx")
    manifest = json.loads((folder / "manifest.json").read_text())
    write_companion(folder, {k: v for k, v in manifest.items() if k not in ("format", "files")})
    other = load_mudar(folder)
    assert _companion_key(other) != _companion_key(shipped)
    assert _companion_key(load_mudar(DEFAULT_BUNDLE / "mudar")) == _companion_key(shipped)


@needs_companion
def test_shipped_embeddings_alone_retrieve_held_out_pairs_above_chance():
    """S_e alone (eq. 21 with lambda_3 = 1) on 12 pairs the companion never saw (generated
    songs of seed 1, danced by the choreographer on the starter library, their first 24 s):
    a song's own dance ranks, at the median, in the top third both ways (chance: the middle,
    6.5 of 12), and at least a third of the songs find it in the top 2 (chance 1/6)."""
    from musicdance.corpus.mudar import make_pairs
    from musicdance.rhythm.model import load_mudar
    from musicdance.rhythm.retrieval import clip_similarities, median_rank

    pairs = make_pairs(12, seed=1, library_path=REPO / "phrase_library", duration_s=25.0)
    s_e, _ = clip_similarities(load_mudar(), pairs)
    for sim in (s_e, s_e.T):
        assert median_rank(sim) <= 4.0
        assert recall_at_k(sim, (2,))["R@2"] >= 1 / 3
