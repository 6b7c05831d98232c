"""The paper's networks (Tables 3-6), losses (eq. 1-5) and ONNX export (parity with torch)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from musicdance.errors import MusicDanceError  # noqa: E402
from musicdance.model_config import ModelConfig  # noqa: E402
from musicdance.train import export, losses  # noqa: E402
from musicdance.train.networks import (  # noqa: E402
    Networks,
    Predictor,
    SequenceDecoder,
    example_mel,
    output_shapes,
    parameter_count,
)

CONFIGS = {"light": ModelConfig.light(num_classes=40), "resnet50": ModelConfig.resnet50(40)}


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def networks(request) -> Networks:
    torch.manual_seed(0)
    return Networks(CONFIGS[request.param]).eval()


# ---------------------------------------------------------------------------------------------
# Shapes and sizes


def test_every_network_has_the_documented_shapes(networks):
    batch = 2 if networks.config.encoder == "light" else 1
    expected = output_shapes(networks.config, batch)
    mel = example_mel(batch)
    with torch.no_grad():
        temporal, embedding = networks.encoder(mel)
        reconstruction, melody, rhythm = networks.pretext(mel)
        logits = networks(mel)
        probabilities = networks.probability_model()(mel)
    assert tuple(temporal.shape) == expected["temporal"]
    assert tuple(embedding.shape) == expected["embedding"]
    torch.testing.assert_close(embedding, temporal.mean(dim=2))  # embedding layer: pool over time
    assert tuple(reconstruction.shape) == expected["mel"]
    assert tuple(melody.shape) == expected["melody"]
    assert tuple(rhythm.shape) == expected["rhythm"]
    assert tuple(logits.shape) == expected["logits"]
    assert tuple(probabilities.shape) == expected["probabilities"]
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(batch))


def test_encoder_sizes():
    light = parameter_count(Networks(ModelConfig.light()).encoder)
    assert 1_000_000 <= light <= 5_000_000  # "a few million"
    resnet = parameter_count(Networks(ModelConfig.resnet50()).encoder)
    # torchvision's ResNet50 without its classifier has 23,508,032 parameters; here Conv_1 sees
    # one channel instead of three (-2 x 64 x 7 x 7) and Conv_6 (1x1, 2048 -> 512) is added.
    assert resnet == 23_508_032 - 2 * 64 * 7 * 7 + 2048 * 512 + 512


def test_encoder_width_scales_the_light_encoder_with_the_same_interface():
    full = Networks(ModelConfig.light(num_classes=12, embedding_dim=256)).eval()
    narrow = Networks(ModelConfig.light(num_classes=12, embedding_dim=256, encoder_width=0.7))
    assert narrow.encoder.spec.stem_channels == 24
    assert narrow.encoder.spec.planes == (12, 24, 44, 180)  # 0.7 x (16, 32, 64, 256), to 4s
    assert narrow.encoder.spec.blocks == full.encoder.spec.blocks
    assert 1_300_000 <= parameter_count(narrow.encoder) <= 1_600_000
    assert parameter_count(narrow.encoder) < 0.55 * parameter_count(full.encoder)
    with torch.no_grad():
        temporal, embedding = narrow.eval().encoder(example_mel(2))
    assert tuple(temporal.shape) == (2, 256, 4) and tuple(embedding.shape) == (2, 256)
    config = narrow.config
    assert ModelConfig.from_dict(config.to_dict()) == config
    # checkpoints and bundles written before the option read as width 1.0
    legacy = {k: v for k, v in config.to_dict().items() if k != "encoder_width"}
    assert ModelConfig.from_dict(legacy).encoder_width == 1.0
    for bad in (0.1, 5.0, "wide", True):
        with pytest.raises(MusicDanceError, match="encoder_width"):
            ModelConfig.light(encoder_width=bad)
    with pytest.raises(MusicDanceError, match="light encoder"):
        ModelConfig.resnet50(encoder_width=0.5)


def test_predictor_follows_table_6():
    predictor = Predictor(num_classes=7)
    shapes = [tuple(p.shape) for name, p in predictor.named_parameters() if name.endswith("weight")]
    # Linear(512,512); 3 x [Linear(512,1024), Linear(1024,512), Linear(512,16), Linear(16,512)];
    # Linear(512,K). nn.Linear stores weights as [out, in].
    block = [(1024, 512), (512, 1024), (16, 512), (512, 16)]
    assert shapes == [(512, 512), *block, *block, *block, (7, 512)]


def test_predictor_without_attention_is_the_plain_residual_mlp():
    with_attention = Predictor(10, attention=True)
    without = Predictor(10, attention=False)
    attention_parameters = 512 * 16 + 16 + 16 * 512 + 512
    assert parameter_count(with_attention) - parameter_count(without) == 3 * attention_parameters
    assert tuple(without(torch.zeros(3, 512)).shape) == (3, 10)


def test_rhythm_decoder_ends_in_a_sigmoid():
    torch.manual_seed(1)
    decoder = SequenceDecoder(sigmoid=True).eval()
    with torch.no_grad():
        out = decoder(100.0 * torch.randn(4, 512, 4))
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    melody = SequenceDecoder(sigmoid=False).eval()
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in melody.modules())


def test_config_round_trip_and_bad_values():
    config = ModelConfig.resnet50(12, attention=False)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert config.spectrogram_decoder_divisor == 1 and ModelConfig().encoder == "light"
    for bad in (
        {"encoder": "vgg"},
        {"num_classes": 1},
        {"num_classes": True},
        {"embedding_dim": 100},
        {"spectrogram_decoder_divisor": 3},
    ):
        with pytest.raises(MusicDanceError):
            ModelConfig(**bad)
    with pytest.raises(MusicDanceError, match="unknown model config fields: k"):
        ModelConfig.from_dict({"k": 3})


# ---------------------------------------------------------------------------------------------
# Losses, against values worked out by hand


def test_pretrain_loss_is_l1_plus_l1_plus_ten_bce():
    mel_target = torch.zeros(1, 1, 128, 128)
    mel_out = torch.full_like(mel_target, 0.5)  # |0.5| everywhere -> 0.5
    melody_target = torch.zeros(1, 1, 128)
    melody_out = torch.zeros(1, 1, 128)
    melody_out[..., :32] = 2.0  # 32 of 128 values off by 2 -> 0.5
    rhythm_target = torch.ones(2, 1, 128)
    rhythm_out = torch.full((2, 1, 128), 0.5)  # -log(0.5) = ln 2
    melody_target, melody_out = melody_target.expand(2, -1, -1), melody_out.expand(2, -1, -1)
    mel_target, mel_out = mel_target.expand(2, -1, -1, -1), mel_out.expand(2, -1, -1, -1)
    terms = losses.pretrain_loss(
        (mel_out, melody_out, rhythm_out), (mel_target, melody_target, rhythm_target)
    )
    values = terms.as_floats()
    assert values["spectrogram"] == pytest.approx(0.5)
    assert values["melody"] == pytest.approx(0.5)
    assert values["rhythm"] == pytest.approx(math.log(2))
    assert values["total"] == pytest.approx(0.5 + 0.5 + 10 * math.log(2))


def test_rhythm_loss_is_binary_cross_entropy():
    probabilities = torch.tensor([[[0.9, 0.2, 0.5, 0.99]]])
    targets = torch.tensor([[[1.0, 0.0, 1.0, 0.0]]])
    by_hand = -(math.log(0.9) + math.log(0.8) + math.log(0.5) + math.log(0.01)) / 4
    assert float(losses.rhythm_loss(probabilities, targets)) == pytest.approx(by_hand, rel=1e-5)


def test_prediction_loss_is_cross_entropy():
    uniform = losses.prediction_loss(torch.zeros(3, 4), torch.tensor([0, 1, 3]))
    assert float(uniform) == pytest.approx(math.log(4))
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    labels = torch.tensor([0, 1])
    first, second = math.log(1 + math.exp(-2)), math.log(2)
    assert float(losses.prediction_loss(logits, labels)) == pytest.approx((first + second) / 2)
    weights = torch.tensor([1.0, 3.0])
    weighted = losses.prediction_loss(logits, labels, weights)
    assert float(weighted) == pytest.approx((first + 3 * second) / 4)


def test_balanced_class_weights():
    weights = losses.balanced_class_weights(torch.tensor([0, 0, 0, 1]), num_classes=3)
    # N / (K * count): 4 / 9, 4 / 3; the absent class 2 gets 0.
    torch.testing.assert_close(weights, torch.tensor([4 / 9, 4 / 3, 0.0]))
    with pytest.raises(ValueError):
        losses.balanced_class_weights(torch.tensor([5]), num_classes=3)


def test_losses_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="melody"):
        losses.melody_loss(torch.zeros(2, 1, 128), torch.zeros(2, 128))
    with pytest.raises(ValueError, match="logits"):
        losses.prediction_loss(torch.zeros(2, 4), torch.zeros(3, dtype=torch.long))


# ---------------------------------------------------------------------------------------------
# ONNX export


def _randomise_batch_norms(module: torch.nn.Module, seed: int = 3) -> None:
    """Non-trivial running statistics, so that folding batch norms into convs is exercised."""
    generator = torch.Generator().manual_seed(seed)
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            n = layer.num_features
            layer.running_mean.copy_(0.2 * torch.randn(n, generator=generator))
            layer.running_var.copy_(0.5 + torch.rand(n, generator=generator))
            layer.weight.data.copy_(0.5 + torch.rand(n, generator=generator))
            layer.bias.data.copy_(0.1 * torch.randn(n, generator=generator))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every graph of a light model at its narrowest width (the same layers, graphs and
    operators as the default width; the exporter's tracing costs about half as much)."""
    torch.manual_seed(2)
    networks = Networks(ModelConfig.light(num_classes=50, encoder_width=0.25)).eval()
    _randomise_batch_norms(networks)
    paths = export.export_networks(networks, tmp_path_factory.mktemp("onnx"))
    return networks, paths


@pytest.mark.parametrize("name", sorted(export.graph_specs(Networks(CONFIGS["light"]))))
def test_export_matches_torch_for_any_batch(exported, name):
    networks, paths = exported
    spec = export.graph_specs(networks)[name]
    model = onnx.load(str(paths[name]))
    assert model.ir_version == export.IR_VERSION
    assert {(o.domain, o.version) for o in model.opset_import} == {("", export.OPSET)}
    for value in model.graph.input:
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(str(paths[name]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == list(spec.input_names)
    assert [o.name for o in session.get_outputs()] == list(spec.output_names)
    for batch in (1, 3):
        inputs = export.example_inputs(spec, batch, seed=batch)
        with torch.no_grad():
            expected = spec.module(*inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        feeds = {n: x.numpy() for n, x in zip(spec.input_names, inputs, strict=True)}
        got = session.run(None, feeds)
        for ours, theirs in zip(got, expected, strict=True):
            assert ours.shape == tuple(theirs.shape)
            assert float(np.abs(ours - theirs.numpy()).max()) <= 1e-4


def test_exported_operators_are_sentis_operators(exported):
    _, paths = exported
    used = {name: export.operator_types(path) for name, path in paths.items()}
    for ops in used.values():
        assert not {"GRU", "LSTM", "Loop", "Scan", "If"} & set(ops)
        assert set(ops) <= export.SENTIS_OPERATORS
    assert used["rhythm_decoder"] == ["Conv", "ConvTranspose", "Relu", "Sigmoid"]
    assert "Softmax" in used["probabilities"] and "BatchNormalization" not in used["encoder"]


def test_folding_batch_norms_keeps_the_function():
    torch.manual_seed(4)
    networks = Networks(ModelConfig.light(num_classes=9, embedding_dim=128)).eval()
    _randomise_batch_norms(networks)
    folded = export.fold_batch_norms(__import__("copy").deepcopy(networks))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    mel = example_mel(3, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(folded(mel), networks(mel), atol=1e-4, rtol=1e-4)
        for ours, theirs in zip(folded.pretext(mel), networks.pretext(mel), strict=True):
            torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    # an orphan batch norm (no convolution before it) cannot be folded: refused
    with pytest.raises(MusicDanceError, match="follow no convolution"):
        export.fold_batch_norms(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.BatchNorm2d(3)))


def test_rounding_to_float16_and_exact_float16_storage():
    torch.manual_seed(5)
    module = torch.nn.Sequential(torch.nn.Linear(20, 30), torch.nn.ReLU(), torch.nn.Linear(30, 4))
    before = module[0].weight.detach().clone()
    export.round_to_float16(module)
    after = module[0].weight.detach()
    assert not torch.equal(before, after)
    assert float((after - before).abs().max()) <= float(before.abs().max()) * 2**-11
    assert torch.equal(after, after.half().float())
    spec = export.GraphSpec("tiny", module, ("x",), ("y",), ((20,),))
    model = export.to_float16_weights(export.to_onnx(spec), exact=True)
    x = np.random.default_rng(0).standard_normal((5, 20)).astype(np.float32)
    got = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, module(torch.from_numpy(x)).numpy(), atol=1e-5)
    huge = torch.nn.Linear(2, 2)
    with torch.no_grad():
        huge.weight.fill_(1e6)  # float16 tops out at 65504
    with pytest.raises(MusicDanceError, match="overflows float16"):
        export.round_to_float16(huge)


def test_export_keeps_the_training_mode(tmp_path):
    networks = Networks(ModelConfig.light(num_classes=5)).train()
    paths = export.export_networks(networks, tmp_path, names=("melody_decoder",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["melody_decoder.onnx"]
    assert paths["melody_decoder"] == tmp_path / "melody_decoder.onnx"
    assert all(module.training for module in networks.modules())


def test_operators_outside_the_sentis_list_are_refused():
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Tanh", ["x"], ["y"])],
        "g",
        [value("x", TensorProto.FLOAT, [1])],
        [value("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", export.OPSET)])
    model.ir_version = export.IR_VERSION
    assert export.operator_types(model) == ["Tanh"]
    with pytest.raises(MusicDanceError, match="Tanh"):
        export._check(model, "tiny")


def test_export_refuses_unknown_graph_names(tmp_path):
    with pytest.raises(MusicDanceError, match="unknown graphs"):
        export.export_networks(Networks(), tmp_path, names=("decoder9",))
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# torch stays out of the runtime


def test_runtime_packages_do_not_import_torch():
    script = textwrap.dedent(
        """
        import importlib, json, pkgutil, sys
        import musicdance, musicdance.io, musicdance.motion, musicdance.model_config
        failed = []
        for package in (musicdance.io, musicdance.motion):
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                importlib.import_module(info.name)
        names = [i.name for i in pkgutil.walk_packages(musicdance.__path__, "musicdance.")]
        for name in names + ["mdtool.cli"]:
            if name.startswith("musicdance.train."):
                continue
            try:
                importlib.import_module(name)
            except Exception as error:  # reported below: every module must import
                failed.append(f"{name}: {error!r}")
        print(json.dumps({"failed": failed, "torch": "torch" in sys.modules}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == [], "modules that do not import without torch"
    assert not report["torch"], "torch was imported"


def test_conducting_generator_moves_each_coordinate_by_the_corpus_spread():
    """G's output layer is standardised (musicdance.train.conducting.Generator): the same
    weights move a coordinate in proportion to the corpus' standard deviation of it, and
    ``--output-gain`` scales all of them about the mean pose."""
    from musicdance.train.conducting import CODE_DIM, NOISE_DIM, Generator

    pose = np.linspace(0.2, 0.8, 26)
    spread = np.full(26, 0.01)
    spread[3] = 0.001  # a coordinate that hardly moves in the corpus (a hip, say)
    codes = torch.randn(1, CODE_DIM, 60, generator=torch.Generator().manual_seed(3))
    noise = torch.randn(1, NOISE_DIM, 2, generator=torch.Generator().manual_seed(4))
    outputs = []
    for std, gain in ((np.full(26, 0.01), 1.0), (spread, 1.0), (spread, 0.1)):
        torch.manual_seed(0)
        generator = Generator(pose, std, output_gain=gain)
        with torch.no_grad():
            outputs.append(generator(codes, noise)[0].numpy() - pose[:, None])
    assert np.abs(outputs[0]).max() > 1e-3
    np.testing.assert_allclose(outputs[1][3], outputs[0][3] / 10, rtol=1e-4, atol=2e-7)
    np.testing.assert_allclose(outputs[1][4], outputs[0][4], rtol=1e-4, atol=2e-7)
    np.testing.assert_allclose(outputs[2], outputs[1] / 10, rtol=1e-4, atol=2e-7)


def test_conducting_noise_is_interpolated_linearly_between_seconds():
    """The 1 Hz noise reaches G at 30 fps by linear interpolation (a fixed transposed
    convolution) between samples placed at the middle of each second (fading to half at the
    two ends); the learned up-sampler it replaces repeated a 6-frame pattern (power at
    5-15 Hz, the shipped GAN's jitter)."""
    from musicdance.train.conducting import FPS, NOISE_DIM, Generator

    up = Generator().noise_up
    assert not any(p.requires_grad for p in up.parameters())
    z = torch.randn(2, NOISE_DIM, 6, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        frames = up(z).numpy()
    assert frames.shape == (2, NOISE_DIM, 6 * FPS)
    centres = np.arange(6) * FPS + (FPS - 1) / 2
    inner = np.arange(FPS // 2, 6 * FPS - FPS // 2)
    expected = np.stack([[np.interp(inner, centres, row) for row in batch] for batch in z.numpy()])
    np.testing.assert_allclose(frames[..., inner], expected, atol=1e-5)
    np.testing.assert_allclose(frames[..., 0], z.numpy()[..., 0] * (FPS + 1) / (2 * FPS), atol=1e-5)


def test_conducting_recipe_keeps_a_stage_until_its_settings_change(tmp_path):
    """``--stages`` (build_companion): a stage with the same settings is read back, not
    recomputed; another setting recomputes it."""
    from musicdance.train.conducting import _cached

    calls = []

    def make():
        calls.append(1)
        return {"weights": torch.arange(3.0), "n": len(calls)}

    first = _cached(tmp_path, "stage", {"steps": 5}, make)
    again = _cached(tmp_path, "stage", {"steps": 5}, make)
    other = _cached(tmp_path, "stage", {"steps": 6}, make)
    assert len(calls) == 2 and again["n"] == first["n"] == 1 and other["n"] == 2
    assert torch.equal(again["weights"], first["weights"])
    assert _cached(None, "stage", {"steps": 5}, make)["n"] == 3
