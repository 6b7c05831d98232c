"""Dance to music (seeds 000 MCLEMCD and 003 BiLSTM-BiGRU): features, networks, metrics, the
shipped ``dance-music`` companion (onnxruntime), ``mdtool recommend``, ``library tag --auto``
and the runtime's ``recommend``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO

from musicdance.audio.synth import synth_song, write_song
from musicdance.companions import find_companion
from musicdance.library import open_library
from musicdance.recognize import features as F
from musicdance.recognize.metrics import confusion, piece_accuracy, weighted_f1
from musicdance.recognize.recognizer import Recognizer, rank_songs, tempo_match

BUNDLE = REPO / "bundles" / "default"
STARTER = REPO / "phrase_library"


def _dance(style: str = "waltz", count: int = 4) -> np.ndarray:
    """Positions at 30 fps of ``count`` library phrases of ``style`` back to back."""
    library = open_library(STARTER)
    ids = [i.id for i in library.infos(styles=[style])][:count]
    return np.concatenate([library.get(i).motion.global_positions() for i in ids])


def _turned(positions: np.ndarray, yaw: float, shift) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    out = positions.copy()
    out[..., 0] = c * positions[..., 0] + s * positions[..., 2] + shift[0]
    out[..., 2] = -s * positions[..., 0] + c * positions[..., 2] + shift[1]
    return out


# -- features ----------------------------------------------------------------------------------


def test_motion_windows_do_not_depend_on_where_the_dancer_stands_or_faces():
    positions = _dance()
    windows, starts = F.motion_windows(positions, "both")
    assert windows.shape == (len(positions) // 25, 6, 25, 22)
    assert np.array_equal(starts, np.arange(len(starts)) * 25)
    moved, _ = F.motion_windows(_turned(positions, 1.1, (3.0, -2.0)), "both")
    assert np.abs(moved - windows).max() < 1e-4
    joints, _ = F.motion_windows(positions, "joints")
    limbs, _ = F.motion_windows(positions, "limbs")
    assert np.array_equal(np.concatenate([joints, limbs], axis=1), windows)
    # a limb vector is the joint minus its parent: bone lengths of the canonical skeleton
    lengths = np.linalg.norm(limbs[:, :, :, 1:], axis=1)  # [W, 25, 21]
    assert np.allclose(lengths, lengths[:1, :1], atol=1e-3)


def test_mfcc_in_numpy_matches_librosa_and_frames_align_with_motion():
    librosa = pytest.importorskip("librosa")
    y, _ = synth_song("funk", seed=3, duration_s=6.0)
    ours = F.mfcc_frames(y, F.SR_HZ)
    ref = librosa.feature.mfcc(y=y, sr=F.SR_HZ, n_mfcc=96, n_mels=128, hop_length=735, n_fft=2048)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 5e-3 * np.abs(ref).max()
    assert abs(ours.shape[1] - len(y) / F.SR_HZ * F.FPS) <= 1.0  # one MFCC frame per motion frame
    windows = F.mfcc_windows(ours, np.array([0, 25]))
    assert windows.shape == (2, 1, 96, 25)
    assert np.array_equal(windows[1, 0], ours[:, 25:50])


def test_segment_summaries_have_the_papers_130_values():
    positions = _dance(count=8)
    starts = F.segment_starts(len(positions))
    assert len(starts) >= 1
    pose = F.pose_summary(positions, starts)
    assert pose.shape == (len(starts), 130) and np.isfinite(pose).all()
    mel = np.random.default_rng(0).normal(size=(128, len(positions))).astype(np.float32)
    paper = F.paper_summary(positions, mel, starts)
    assert paper.shape == (len(starts), 130)
    assert np.allclose(paper[:, 2:], F.mel_segments(mel, starts))


def test_bad_positions_are_refused_in_one_line():
    from musicdance.errors import MusicDanceError

    with pytest.raises(MusicDanceError, match="22, 3"):
        F.motion_windows(np.zeros((40, 17, 3)))
    with pytest.raises(MusicDanceError, match="NaN"):
        F.motion_windows(np.full((40, 22, 3), np.nan))


# -- metrics -----------------------------------------------------------------------------------


def test_weighted_f1_and_majority_vote():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    true, pred = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    pred[:150] = true[:150]
    assert weighted_f1(true, pred, 5) == pytest.approx(
        sklearn_metrics.f1_score(true, pred, average="weighted"), abs=1e-12
    )
    assert confusion(true, pred, 5).sum() == 300
    groups = np.repeat(np.arange(3), 5)
    votes = np.array([0, 0, 1, 0, 2, 1, 1, 1, 0, 0, 2, 2, 0, 1, 1])
    labels = np.array([0] * 5 + [0] * 5 + [2] * 5)
    assert piece_accuracy(votes, labels, groups, 3) == (pytest.approx(1 / 3), 3)


def test_tempo_match_allows_octaves_at_a_discount():
    assert tempo_match(120.0, 120.0) == pytest.approx(1.0)
    assert tempo_match(60.0, 120.0) == pytest.approx(0.8)
    assert tempo_match(120.0, 150.0) < 0.01
    assert tempo_match(float("nan"), 120.0) == 1.0


# -- networks (torch) --------------------------------------------------------------------------


def test_networks_have_the_papers_shapes_and_the_unrolled_gru_matches():
    torch = pytest.importorskip("torch")
    from musicdance.train.bilstm import NARROW_WIDTH, BiLstmBiGru
    from musicdance.train.mclemcd import (
        FcMapping,
        MotionEncoder,
        MusicAutoEncoder,
        collaborative_losses,
    )

    torch.manual_seed(0)
    motion, music, mapping = MotionEncoder(6, 8), MusicAutoEncoder(0.3), FcMapping()
    x, a = torch.rand(4, 6, 25, 22), torch.rand(4, 1, 96, 25)
    logits, z_m = motion(x)
    recon, z_a = music(a)
    assert logits.shape == (4, 8) and z_m.shape == z_a.shape == (4, 256)
    assert recon.shape == a.shape
    widths = [m.out_features for m in mapping.net if isinstance(m, torch.nn.Linear)]
    assert widths == [512, 1024, 2048, 4096, 2048, 1024, 512, 256]
    losses = collaborative_losses(motion, music, x, a, torch.tensor([0, 1, 2, 3]),
                                  collaborative=True, mapping=mapping)  # fmt: skip
    assert set(losses) == {"motion", "music", "pair", "mo2mu", "total"}
    model = BiLstmBiGru(5).eval()
    # Fig. 4 has 2,957,573 parameters; PyTorch's LSTM carries a second bias vector (2 x 1,024)
    assert sum(p.numel() for p in model.parameters()) == 2_957_573 + 2_048
    summary = torch.randn(3, 130)
    with torch.no_grad():
        assert model.convs(summary.unsqueeze(1)).shape == (3, 256, 29)
        narrow = BiLstmBiGru(8, width=NARROW_WIDTH).eval()
        assert narrow.convs(summary.unsqueeze(1)).shape == (3, NARROW_WIDTH, 29)
        assert narrow.features(summary).shape == (3, NARROW_WIDTH)
        assert narrow(summary).shape == (3, 8)
    # the narrow variant: under a tenth of Fig. 4's parameters
    assert sum(p.numel() for p in narrow.parameters()) < 0.1 * 2_957_573


def test_export_checks_parity_and_the_sentis_graph_is_unrolled_from_onnx(tmp_path):
    torch = pytest.importorskip("torch")
    import onnx

    from musicdance.errors import MusicDanceError
    from musicdance.train.bilstm import BiLstmBiGru
    from musicdance.train.recognition import _BilstmGraph, export_onnx
    from musicdance.train.sentis import (
        ORT_RECURRENT_OPERATORS,
        SENTIS_RECURRENT_OPERATORS,
        write_sentis_graph,
    )

    torch.manual_seed(0)
    model = BiLstmBiGru(3, width=16).eval()
    example = torch.randn(2, 130)
    with pytest.raises(MusicDanceError, match="GRU"):
        export_onnx(model, example, "summary", ("logits",), tmp_path / "a.onnx",
                    SENTIS_RECURRENT_OPERATORS, dynamo=False)  # fmt: skip
    assert not (tmp_path / "a.onnx").exists()
    check = export_onnx(_BilstmGraph(model), example, "summary", ("probabilities", "features"),
                        tmp_path / "c.onnx", ORT_RECURRENT_OPERATORS, float16=True,
                        dynamo=False)  # fmt: skip
    assert "GRU" in check["operators"] and check["parity"] <= 1e-4
    report = write_sentis_graph(tmp_path / "c.onnx", tmp_path / "s.onnx")
    assert "GRU" not in report["operators"] and "LSTM" in report["operators"]
    assert set(report["operators"]) <= SENTIS_RECURRENT_OPERATORS
    assert report["parity"] <= 1e-5
    # the unrolled graph is the same function in torch too, at another batch size
    from musicdance.companions import onnx_session

    x = torch.randn(5, 130)
    got = onnx_session(tmp_path / "s.onnx").run(None, {"summary": x.numpy()})
    with torch.no_grad():
        want = _BilstmGraph(model)(x)
    assert max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True)) < 1e-4
    assert [o.name for o in onnx.load(tmp_path / "s.onnx").graph.output] == [
        "probabilities",
        "features",
    ]
    (tmp_path / "bad.onnx").write_bytes(b"not a graph")
    with pytest.raises(MusicDanceError, match="bad.onnx"):
        write_sentis_graph(tmp_path / "bad.onnx", tmp_path / "t.onnx")
    assert not (tmp_path / "t.onnx").exists()
    # shipped form: both graphs read one weights file (each weight stored once, same offsets)
    inline = (tmp_path / "c.onnx").stat().st_size
    shared = write_sentis_graph(tmp_path / "c.onnx", tmp_path / "u.onnx", weights="w.bin")
    assert shared["parity"] <= 1e-5 and shared["weights"]["file"] == "w.bin"
    external = {}
    for name in ("c.onnx", "u.onnx"):
        model = onnx.load(tmp_path / name, load_external_data=False)
        external[name] = {t.name: {e.key: e.value for e in t.external_data}
                          for t in model.graph.initializer
                          if t.data_location == onnx.TensorProto.EXTERNAL}  # fmt: skip
    assert external["c.onnx"] == external["u.onnx"] and len(external["c.onnx"]) >= 8
    stored = sum(int(e["length"]) for e in external["c.onnx"].values())
    pointers = 64 * len(external["c.onnx"])  # location, offset, length of each weight
    assert (tmp_path / "c.onnx").stat().st_size <= inline - stored + pointers
    assert (tmp_path / "u.onnx").stat().st_size <= report["bytes"] - stored + pointers
    got = onnx_session(tmp_path / "u.onnx").run(None, {"summary": x.numpy()})
    assert max(float(np.abs(g - w.numpy()).max()) for g, w in zip(got, want, strict=True)) < 1e-4
    (tmp_path / "w.bin").write_bytes((tmp_path / "w.bin").read_bytes()[:-64])  # truncated
    with pytest.raises(MusicDanceError):
        onnx_session(tmp_path / "u.onnx")


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("linear_before_reset", [0, 1])
@pytest.mark.parametrize("with_h0", [False, True])
def test_unrolled_gru_matches_onnxruntimes_gru_operator(direction, linear_before_reset, with_h0):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("torch")  # train.sentis sits in the train package
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from musicdance.train.export import operator_types
    from musicdance.train.sentis import SENTIS_RECURRENT_OPERATORS, unroll_gru

    rng = np.random.default_rng(linear_before_reset + 2 * with_h0)
    dirs, hidden, size, steps = (2 if direction == "bidirectional" else 1), 3, 2, 4
    weights = {
        "W": rng.standard_normal((dirs, 3 * hidden, size)),
        "R": rng.standard_normal((dirs, 3 * hidden, hidden)),
        "B": rng.standard_normal((dirs, 6 * hidden)),
    }
    inputs = ["X", "W", "R", "B", "", "h0" if with_h0 else ""]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [steps, "N", size])]
    if with_h0:
        graph_inputs.append(helper.make_tensor_value_info("h0", TensorProto.FLOAT,
                                                          [dirs, "N", hidden]))  # fmt: skip
    node = helper.make_node("GRU", inputs, ["Y", "Y_h"], hidden_size=hidden, direction=direction,
                            linear_before_reset=linear_before_reset)  # fmt: skip
    graph = helper.make_graph(
        [node], "gru", graph_inputs,
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [steps, dirs, "N", hidden]),
         helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [dirs, "N", hidden])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    unrolled = unroll_gru(model)
    assert "GRU" not in operator_types(unrolled)
    assert set(operator_types(unrolled)) <= SENTIS_RECURRENT_OPERATORS
    feeds = {"X": rng.standard_normal((steps, 5, size)).astype(np.float32)}
    if with_h0:
        feeds["h0"] = rng.standard_normal((dirs, 5, hidden)).astype(np.float32)

    def run(m):
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, feeds)

    for want, got in zip(run(model), run(unrolled), strict=True):
        assert want.shape == got.shape
        assert np.abs(want - got).max() <= 1e-5
    onnx.checker.check_model(unrolled)


# -- the shipped companion ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def recognizer():
    if find_companion("dance-music", BUNDLE) is None:
        pytest.skip("bundles/default has no dance-music companion")
    return Recognizer.load(BUNDLE)


def test_shipped_companion_records_its_checks(recognizer):
    manifest = recognizer.companion.manifest
    assert manifest["opset"] >= 18
    checks = manifest["checks"]
    for name, check in checks.items():
        if isinstance(check, dict) and "parity" in check:
            assert check["parity"] <= 1e-4, name
    assert checks["bilstm_sentis.onnx"]["parity_to_gru_graph"] <= 1e-5
    assert "GRU" not in checks["bilstm_sentis.onnx"]["operators"]
    assert "GRU" in checks["bilstm_bigru.onnx"]["operators"]
    # Fig. 4's width, float16 weights stored once for both BiLSTM graphs: within 7.5 MB
    assert manifest["graphs"]["bilstm_sentis"] == "bilstm_sentis.onnx"
    assert "width 256" in manifest["training"]["bilstm_variant"]
    total = sum(f["bytes"] for f in manifest["files"].values())
    assert total <= 7.5e6


def test_shipped_sentis_graph_matches_the_onnxruntime_graph(recognizer):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("torch")  # train.export and train.sentis sit in the train package
    from musicdance.train.export import operator_types
    from musicdance.train.sentis import SENTIS_RECURRENT_OPERATORS

    companion = recognizer.companion
    x = np.random.default_rng(7).standard_normal((40, 130)).astype(np.float32)
    gru = companion.session("bilstm").run(None, {"summary": x})
    engine = companion.session("bilstm_sentis").run(None, {"summary": x})
    assert gru[1].shape == engine[1].shape == (40, 256)  # Fig. 4's Dense 256
    for want, got in zip(gru, engine, strict=True):
        assert np.abs(want - got).max() <= 1e-5
    assert (gru[0].argmax(1) == engine[0].argmax(1)).all()
    graphs = companion.manifest["graphs"]
    models = {role: onnx.load(companion.path / graphs[role], load_external_data=False)
              for role in ("bilstm", "bilstm_sentis")}  # fmt: skip
    ops = operator_types(models["bilstm_sentis"])
    assert "GRU" not in ops and "LSTM" in ops and set(ops) <= SENTIS_RECURRENT_OPERATORS
    assert "GRU" in operator_types(models["bilstm"])
    # both graphs read one weights file, at the same offsets: the weights are stored once
    places = {}
    for role, model in models.items():
        places[role] = {t.name: {e.key: e.value for e in t.external_data}
                        for t in model.graph.initializer
                        if t.data_location == onnx.TensorProto.EXTERNAL}  # fmt: skip
        assert {p["location"] for p in places[role].values()} == {"bilstm_weights.bin"}
    assert places["bilstm"] == places["bilstm_sentis"]
    stored = sum(int(p["length"]) for p in places["bilstm"].values())
    weights = companion.manifest["files"]["bilstm_weights.bin"]["bytes"]
    assert 2 * 2_900_000 <= stored <= weights < stored + 4096 * len(places["bilstm"])


def test_export_sentis_writes_the_engine_graph_of_the_shipped_model(recognizer, tmp_path):
    pytest.importorskip("onnx")
    out = tmp_path / "engine" / "bilstm_sentis.onnx"
    done = _mdtool("export-sentis", out, "--bundle", BUNDLE, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "GRU" not in report["operators"] and report["parity"] <= 1e-5
    from musicdance.companions import onnx_session

    x = np.random.default_rng(2).standard_normal((5, 130)).astype(np.float32)
    gru = recognizer.companion.session("bilstm").run(None, {"summary": x})[0]
    unrolled = onnx_session(out).run(None, {"summary": x})[0]
    assert np.abs(gru - unrolled).max() <= 1e-5
    assert np.allclose(gru.sum(1), 1.0, atol=1e-5)
    bad = _mdtool("export-sentis", tmp_path / "x.txt")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert ".onnx" in bad.stderr and not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize("method", ["mclemcd", "bilstm"])
def test_classify_a_dance_gives_votes_per_segment(recognizer, method):
    positions = _dance("house", 6)
    result = recognizer.classify(positions, method)
    assert np.allclose(result.probabilities.sum(1), 1.0, atol=1e-4)
    assert sum(result.votes.values()) == len(result.probabilities)
    assert result.style in recognizer.labels and 0 < result.confidence <= 1
    turned = recognizer.classify(_turned(positions, 2.0, (1.0, 4.0)), method)
    assert np.abs(turned.probabilities - result.probabilities).max() < 1e-3


# -- CLI ---------------------------------------------------------------------------------------


def _mdtool(*args, cwd=REPO):
    """``mdtool`` in this process (Typer's runner): the models load without a new process."""
    from library_support import mdtool

    return mdtool(*args, cwd=cwd)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory, recognizer):
    from musicdance.audio.analysis import analyze_signal
    from musicdance.choreo.choreographer import choreograph
    from musicdance.choreo.render import render_timeline
    from musicdance.io.bvh import write_bvh

    root = tmp_path_factory.mktemp("catalog")
    songs = root / "songs"
    songs.mkdir()
    for genre, seed in (("waltz", 1), ("house", 2), ("hiphop", 3)):
        y, _ = synth_song(genre, seed=seed, duration_s=12.0)
        write_song(songs / f"{genre}.wav", y, sr_hz=22050)
    y, _ = synth_song("house", seed=2, duration_s=12.0)
    library = open_library(STARTER)
    timeline = choreograph(analyze_signal(y, sr_hz=22050), library, style="house", seed=0)
    write_bvh(render_timeline(timeline, library), root / "dance.bvh")
    return root


def test_recommend_ranks_the_catalogue_and_caches_its_analysis(catalog):
    first = _mdtool("recommend", catalog / "dance.bvh", "--catalog", catalog / "songs", "--json")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    scores = [s["score"] for s in data["songs"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert data["catalog_analysis"]["analysed"] == 3
    assert sum(data["dance_style"]["votes"].values()) == data["dance_style"]["num_segments"]
    assert (catalog / "songs" / ".mdtool-catalog.json").is_file()
    again = _mdtool("recommend", catalog / "dance.bvh", "--catalog", catalog / "songs", "--json",
                    "--method", "bilstm", "--top", "2")  # fmt: skip
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["catalog_analysis"]["cached"] == 3 and len(data["songs"]) == 2


def test_recommend_refuses_bad_input_in_one_line(catalog, tmp_path):
    missing = _mdtool("recommend", tmp_path / "nope.bvh", "--catalog", catalog / "songs")
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "nope.bvh" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = _mdtool("recommend", catalog / "dance.bvh", "--catalog", empty)
    assert none.returncode == 1 and "no audio files" in none.stderr
    bad = _mdtool("recommend", catalog / "dance.bvh", "--catalog", catalog / "songs",
                  "--method", "knn")  # fmt: skip
    assert bad.returncode == 1 and "mclemcd" in bad.stderr


def test_library_tag_auto_stores_the_confidence(tmp_path, recognizer):
    library = open_library(STARTER)
    ids = [i.id for i in library.infos(styles=["waltz"])][:2] + [
        i.id for i in library.infos(styles=["popping"])
    ][:1]
    copy = library.export(tmp_path / "lib", ids=ids)
    run = _mdtool("library", "tag", "--auto", "-L", copy.path, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["tagged"] == 3
    stored = open_library(copy.path).style_tags()
    assert set(stored) == set(ids)
    for entry in report["phrases"]:
        assert stored[entry["id"]]["confidence"] == pytest.approx(entry["confidence"], abs=1e-4)
        assert f"style:{entry['style']}" in open_library(copy.path).info(entry["id"]).tags
    listed = json.loads(_mdtool("library", "list", "-L", copy.path, "--json").stdout)
    assert all(row["auto_style"]["confidence"] > 0 for row in listed)
    strict = _mdtool("library", "tag", "--auto", "-L", copy.path, "--min-confidence", "1", "--json")
    assert json.loads(strict.stdout)["tagged"] == 0
    assert open_library(copy.path).style_tags() == stored  # nothing below the bar was written


# -- runtime and service -----------------------------------------------------------------------


def test_runtime_recommend_from_a_pose_stream_and_a_timeline(catalog, recognizer):
    from mdruntime import Runtime

    runtime = Runtime(STARTER, catalog=catalog / "songs")
    positions = _dance("waltz", 4)
    result = runtime.recommend(positions_m=positions[::2], fps=15.0, top=2)
    assert len(result["songs"]) == 2 and result["dance_style"]["num_segments"] > 0
    direct = recognizer.classify(positions, "mclemcd")
    assert result["dance_style"]["style"] in recognizer.labels
    assert abs(result["dance_style"]["num_segments"] - len(direct.probabilities)) <= 1
    ranked = rank_songs(direct, runtime.catalog_profiles(), 3)
    assert {r.song for r in ranked} == {"waltz.wav", "house.wav", "hiphop.wav"}


def test_service_recommend_endpoint(catalog, recognizer, tmp_path):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from service_support import start_service

    served = start_service("--catalog", catalog / "songs", work_dir=tmp_path, cwd=REPO)
    try:
        poses = _dance("house", 3).round(4).tolist()
        status, ok = served.json("POST", "/v1/recommend", {"poses": poses, "fps": 30, "top": 3})
        assert status == 200, ok
        assert len(ok["songs"]) == 3 and ok["dance_style"]["num_segments"] > 0
        status, _ = served.json("POST", "/v1/recommend", {"poses": [[[0, 0]]]})
        assert status == 400
        status, _ = served.json("POST", "/v1/recommend", {"poses": poses, "timeline": {}})
        assert status == 400
        status, _ = served.json("POST", "/v1/recommend", {"poses": poses, "method": "knn"})
        assert status == 400
    finally:
        served.stop()
