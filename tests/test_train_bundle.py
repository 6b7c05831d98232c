"""ONNX export of checkpoints, runtime bundles (checks on load), the OnnxScorer, and parity of
onnxruntime against torch on real phrase inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from library_support import mdtool, one_line_error  # noqa: E402
from train_support import LIBRARY, bundle, finetuned, reused_exports  # noqa: E402

from musicdance.audio.analysis import analyze_signal  # noqa: E402
from musicdance.audio.model_input import span_inputs  # noqa: E402
from musicdance.audio.synth import synth_song  # noqa: E402
from musicdance.bundle import file_sha256, open_bundle, write_manifest  # noqa: E402
from musicdance.choreo.choreographer import choreograph  # noqa: E402
from musicdance.choreo.onnx_scorer import OnnxScorer  # noqa: E402
from musicdance.choreo.scoring import FeatureScorer  # noqa: E402
from musicdance.choreo.slots import plan_slots  # noqa: E402
from musicdance.errors import MusicDanceError  # noqa: E402
from musicdance.library import open_library  # noqa: E402
from musicdance.train import bundle_export, export, loops  # noqa: E402
from musicdance.train.data import mel_tensor  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _trace_each_graph_once():
    """Each distinct graph is traced once in this file (train_support.reused_exports)."""
    with reused_exports():
        yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return finetuned(tmp_path_factory)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """The float16 bundle of ``checkpoint`` (shared with test_runtime_bundle.py)."""
    return bundle(tmp_path_factory)


@pytest.fixture(scope="module")
def onnx_export(checkpoint, tmp_path_factory):
    """``mdtool export-onnx CHECKPOINT`` (every network, float32) and its JSON report."""
    out = tmp_path_factory.mktemp("onnx")
    result = mdtool("export-onnx", checkpoint, "-o", out, "--json")
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def song():
    """A real song (generated, then analysed like any audio) and its slots' phrase inputs."""
    y, _ = synth_song("funk", seed=11, duration_s=24.0)
    analysis = analyze_signal(y, sr_hz=22050, path="funk.wav")
    slots = plan_slots(analysis)
    mel, _, _ = span_inputs(analysis, [(s.start_s, s.end_s) for s in slots])
    return analysis, slots, mel


@pytest.fixture(scope="module")
def library():
    return open_library(LIBRARY)


def _torch_probabilities(checkpoint, mel):
    networks = loops.networks_from_checkpoint(loops.load_checkpoint(checkpoint)).eval()
    with torch.no_grad():
        return networks.probability_model()(mel_tensor(mel)).numpy()


# ---------------------------------------------------------------------------------------------
# Parity on real phrase inputs


def test_float32_export_matches_torch_on_real_phrase_inputs(checkpoint, song, onnx_export):
    _, _, mel = song
    assert mel.shape[0] >= 4 and 0.0 <= mel.min() and mel.max() <= 1.0
    tmp_path, _ = onnx_export
    session = ort.InferenceSession(str(tmp_path / "probabilities.onnx"))
    got = session.run(None, {"mel": mel[:, None]})[0]
    expected = _torch_probabilities(checkpoint, mel)
    assert float(np.abs(got - expected).max()) <= 1e-4
    # the two-stage graphs agree too
    networks = loops.networks_from_checkpoint(loops.load_checkpoint(checkpoint)).eval()
    with torch.no_grad():
        temporal, embedding = networks.encoder(mel_tensor(mel))
        logits = networks.predictor(embedding)
    encoder = ort.InferenceSession(str(tmp_path / "encoder.onnx"))
    onnx_temporal, onnx_embedding = encoder.run(None, {"mel": mel[:, None]})
    assert float(np.abs(onnx_temporal - temporal.numpy()).max()) <= 1e-4
    predictor = ort.InferenceSession(str(tmp_path / "predictor.onnx"))
    onnx_logits = predictor.run(None, {"embedding": onnx_embedding})[0]
    assert float(np.abs(onnx_logits - logits.numpy()).max()) <= 1e-4


def test_float16_bundle_is_exact_to_the_rounded_model(checkpoint, bundle_dir, song):
    """float16 weights ship the checkpoint rounded to float16: onnxruntime on the bundle's
    graph is within 1e-4 of that torch model on a real song's phrase inputs; what the rounding
    costs against the checkpoint is measured and recorded in the manifest."""
    _, _, mel = song
    networks = loops.networks_from_checkpoint(loops.load_checkpoint(checkpoint)).eval()
    released = bundle_export.released_networks(networks, float16=True)
    with torch.no_grad():
        expected = released.probability_model()(mel_tensor(mel)).numpy()
        unrounded = networks.probability_model()(mel_tensor(mel)).numpy()
    session = ort.InferenceSession(str(bundle_dir / "probabilities.onnx"))
    got = session.run(None, {"mel": mel[:, None]})[0]
    assert got.shape == (len(mel), len(open_library(LIBRARY)))
    assert float(np.abs(got - expected).max()) <= 1e-4
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    # the rounding is real (the released model is not the checkpoint's) and recorded
    # (the probabilities of 520 classes are small, so compare them relative to their size)
    rounding = float((np.abs(unrounded - expected) / np.maximum(np.abs(unrounded), 1e-12)).max())
    assert rounding > 1e-6
    manifest = open_bundle(bundle_dir).manifest
    assert manifest["weights"] == "float16"
    assert manifest["parity"]["max_abs_diff"] <= manifest["parity"]["limit"] == 1e-4
    assert "rounded to float16" in manifest["parity"]["reference"]
    record = manifest["float16_rounding"]
    assert record["checkpoint_sha256"] == file_sha256(checkpoint)
    cost = bundle_export.rounding_cost(networks, released, bundle_export.check_phrase_inputs())
    assert record["max_abs_diff"] == pytest.approx(cost["max_abs_diff"], rel=1e-6)
    assert record["top1_agreement"] == cost["top1_agreement"]
    assert record["samples"] == len(bundle_export.check_phrase_inputs()) >= 8
    # every stored weight is float16, and storing it changed nothing
    model = __import__("onnx").load(str(bundle_dir / "probabilities.onnx"))
    assert set(export.operator_types(model)) <= export.SENTIS_OPERATORS
    assert "Cast" in export.operator_types(model)
    assert "BatchNormalization" not in export.operator_types(model)
    assert model.ir_version == export.IR_VERSION
    big = [t for t in model.graph.initializer if np.prod(t.dims) >= 16]
    assert big and all(t.data_type == 10 for t in big)  # TensorProto.FLOAT16


def test_float16_storage_refuses_weights_that_are_not_rounded(checkpoint):
    """Without the rounding, float16 storage would move the model: refused, not hidden."""
    networks = loops.networks_from_checkpoint(loops.load_checkpoint(checkpoint)).eval()
    folded = export.fold_batch_norms(__import__("copy").deepcopy(networks))
    spec = export.graph_specs(folded)["probabilities"]
    with pytest.raises(MusicDanceError, match="not float16-exact"):
        export.to_float16_weights(export.to_onnx(spec), exact=True)


def test_an_export_beyond_the_parity_limit_fails(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_export, "PARITY_LIMIT", 0.0)
    with pytest.raises(MusicDanceError, match=r"onnxruntime differs from torch by .* \(> 0e\+00\)"):
        bundle_export.export_bundle(checkpoint, tmp_path / "b", library=LIBRARY)
    assert not (tmp_path / "b").exists()


# ---------------------------------------------------------------------------------------------
# The scorer


def test_onnx_scorer_is_an_emission_model(bundle_dir, song, library):
    analysis, slots, mel = song
    infos = library.infos(styles=["house"])
    scorer = OnnxScorer(bundle_dir, analysis, library=library, feature_weight=0.0)
    scores = scorer.score(slots, infos)
    assert scores.shape == (len(slots), len(infos)) and (scores > 0).all()
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-4)
    columns = [scorer.bundle.column(i.id) for i in infos]
    raw = scorer.bundle.probabilities(mel)[:, columns]
    np.testing.assert_allclose(scores, np.maximum(raw / raw.sum(1, keepdims=True), 1e-6), 1e-5)
    features = FeatureScorer().score(slots, infos)
    only_features = OnnxScorer(scorer.bundle, analysis, feature_weight=1.0).score(slots, infos)
    np.testing.assert_allclose(only_features, features)
    mixed = OnnxScorer(scorer.bundle, analysis, feature_weight=0.25).score(slots, infos)
    np.testing.assert_allclose(mixed, scores**0.75 * features**0.25, rtol=1e-6)
    prior = scorer.transition_prior(infos)
    assert prior.shape == (len(infos), len(infos))
    np.testing.assert_allclose(prior.sum(axis=1), 1.0)
    timeline = choreograph(analysis, library, scorer=scorer, seed=2)
    assert len(timeline.choices) == len(slots)
    assert all(c.phrase_id in scorer.bundle.phrase_ids for c in timeline.choices)
    with pytest.raises(MusicDanceError, match="feature weight"):
        OnnxScorer(scorer.bundle, analysis, feature_weight=1.5)


def test_runtime_scoring_does_not_import_torch(bundle_dir):
    script = textwrap.dedent(
        f"""
        import sys
        from musicdance.audio.analysis import analyze_signal
        from musicdance.audio.synth import synth_song
        from musicdance.choreo.choreographer import choreograph
        from musicdance.choreo.onnx_scorer import OnnxScorer
        from musicdance.library import open_library
        y, _ = synth_song("pop", seed=4, duration_s=15.0)
        analysis = analyze_signal(y, sr_hz=22050)
        library = open_library({str(LIBRARY)!r})
        timeline = choreograph(analysis, library, scorer=OnnxScorer({str(bundle_dir)!r},
                               analysis, library=library))
        assert timeline.choices
        assert "torch" not in sys.modules, "torch was imported"
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------
# Bundle checks: a clear error before any work


def _copy(bundle_dir, tmp_path):
    target = tmp_path / "b"
    shutil.copytree(bundle_dir, target)
    return target


def _edit_manifest(folder, change, *, rehash=False):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    if rehash:
        write_manifest(folder, manifest)
    else:
        (folder / "manifest.json").write_text(json.dumps(manifest))


def _flip_byte(path, offset=-100):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _broken_graph(folder):
    (folder / "probabilities.onnx").write_bytes(b"\x08\x07garbage" * 100)


def _wrong_transition(folder):
    np.save(folder / "transition.npy", np.ones((3, 3), np.float32))


CASES = {
    "no folder": (lambda f: shutil.rmtree(f), "bundle folder not found"),
    "no manifest": (lambda f: (f / "manifest.json").unlink(), "not a bundle .no manifest.json"),
    "bad json": (lambda f: (f / "manifest.json").write_text("{"), "manifest is unreadable"),
    "format": (
        lambda f: _edit_manifest(f, lambda m: m.update(format="other/9")),
        "bundle format 'other/9'",
    ),
    "sha mismatch": (
        lambda f: _flip_byte(f / "probabilities.onnx"),
        "probabilities.onnx does not match its sha256",
    ),
    "missing file": (lambda f: (f / "transition.npy").unlink(), "transition.npy is missing"),
    "features": (
        lambda f: _edit_manifest(f, lambda m: m["features"].update(n_mels=96)),
        "other feature parameters: n_mels 96",
    ),
    "K": (lambda f: _edit_manifest(f, lambda m: m.update(num_classes=12)), "K mismatch"),
    "fingerprint": (
        lambda f: _edit_manifest(f, lambda m: m["library"]["phrase_ids"].reverse()),
        "fingerprint does not match",
    ),
    "escape": (
        lambda f: _edit_manifest(f, lambda m: m.update(transition="../x.npy")),
        "outside the bundle",
    ),
    "graph": (
        lambda f: (_broken_graph(f), _edit_manifest(f, lambda m: None, rehash=True)),
        "onnxruntime cannot load the graph",
    ),
    "matrix": (
        lambda f: (_wrong_transition(f), _edit_manifest(f, lambda m: None, rehash=True)),
        "transition matrix is .3, 3., expected K x K",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_bundles_are_clear_errors(bundle_dir, tmp_path, case):
    folder = _copy(bundle_dir, tmp_path)
    damage, message = CASES[case]
    damage(folder)
    with pytest.raises(MusicDanceError, match=message):
        open_bundle(folder)


def test_a_bundle_for_another_library_is_refused(bundle_dir, library):
    bundle = open_bundle(bundle_dir, library=library)  # the right one: fine
    ids = library.ids()
    with pytest.raises(MusicDanceError, match=r"made for another library .* 1 of its phrases"):
        bundle.check_library(ids[:-1])
    with pytest.raises(MusicDanceError, match="same phrases, other order"):
        bundle.check_library(list(reversed(ids)))
    with pytest.raises(MusicDanceError, match="not one of the bundle's"):
        bundle.column("moonwalk-9")


def test_export_refuses_a_checkpoint_for_another_library(checkpoint, tmp_path):
    from musicdance.library.procedural.build import build_starter_library

    other = build_starter_library(tmp_path / "waltz", styles=["waltz"])
    assert len(other) < len(open_library(LIBRARY))
    with pytest.raises(MusicDanceError, match="trained for another library"):
        bundle_export.export_bundle(checkpoint, tmp_path / "b", library=tmp_path / "waltz")
    assert not (tmp_path / "b").exists()


def test_cli_export_bundle_and_every_network(checkpoint, bundle_dir, onnx_export, song, tmp_path):
    result = mdtool("export-onnx", checkpoint, "--bundle", "-o", tmp_path / "b", "--library",
                    LIBRARY, "--float32", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["weights"] == "float32" and report["max_abs_diff"] <= 1e-4
    half = (bundle_dir / "probabilities.onnx").stat().st_size
    assert report["files"]["probabilities.onnx"] > 1.9 * half  # float16 halves the file
    # the float32 bundle is the exact export: within 1e-4 of torch on real phrase inputs
    _, _, mel = song
    got = open_bundle(tmp_path / "b", library=open_library(LIBRARY)).probabilities(mel)
    assert float(np.abs(got - _torch_probabilities(checkpoint, mel)).max()) <= 1e-4
    again = mdtool("export-onnx", checkpoint, "--bundle", "-o", tmp_path / "b")
    assert "add --force" in one_line_error(again)
    graphs = onnx_export[1]["graphs"]
    assert set(graphs) == {"encoder", "predictor", "spectrogram_decoder", "melody_decoder",
                           "rhythm_decoder", "probabilities"}  # fmt: skip
    assert all(g["max_abs_diff"] <= 1e-4 for g in graphs.values())


def test_re_exporting_the_bundle_keeps_its_companions(checkpoint, bundle_dir, tmp_path):
    """Retraining the predictor must not drop the style, rhythm or conducting models."""
    from musicdance.companions import find_companion, register_companion, write_companion

    target = _copy(bundle_dir, tmp_path)
    (target / "extra").mkdir()
    np.save(target / "extra" / "table.npy", np.eye(2))
    shutil.copy(target / "probabilities.onnx", target / "extra" / "model.onnx")
    manifest = {"name": "extra", "task": "test", "graphs": {"main": "model.onnx"}}
    write_companion(target / "extra", {**manifest, "data": ["table.npy"]})
    register_companion(target, "extra")
    bundle_export.export_bundle(checkpoint, target, library=LIBRARY, force=True)
    kept = find_companion("extra", target, task="test")
    np.testing.assert_array_equal(np.load(kept.file("table.npy")), np.eye(2))
    assert open_bundle(target).manifest["companions"]["extra"]["manifest"] == "extra/manifest.json"
