"""Training: datasets, pre-training (single and two-process DDP), fine-tuning, co-ascent,
evaluation, checkpoints (resume, corruption) and the ``mdtool train`` commands."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from library_support import mdtool, one_line_error  # noqa: E402
from train_support import finetuned, pretrained, tiny_config, tiny_corpus  # noqa: E402

from musicdance.corpus.build import open_corpus  # noqa: E402
from musicdance.errors import MusicDanceError  # noqa: E402
from musicdance.train import loops  # noqa: E402
from musicdance.train.data import LabelledDataset, PretextDataset, make_loader  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory)


@pytest.fixture(scope="module")
def pretrain_checkpoint(tmp_path_factory):
    return pretrained(tmp_path_factory)


@pytest.fixture(scope="module")
def finetune_checkpoint(tmp_path_factory):
    return finetuned(tmp_path_factory)


# ---------------------------------------------------------------------------------------------
# Datasets


def test_datasets_hand_out_float32_batches(corpus):
    opened = open_corpus(corpus)
    arrays = opened.load()
    pretext = PretextDataset(arrays)
    mel, melody, rhythm = pretext[3]
    assert mel.shape == (1, 128, 128) and melody.shape == rhythm.shape == (1, 128)
    assert mel.dtype == torch.float32
    np.testing.assert_array_equal(mel[0].numpy(), arrays.mel[3].astype(np.float32))
    batches = list(make_loader(pretext, 4, shuffle=True, seed=1))
    assert [b[0].shape[0] for b in batches][:1] == [4]
    assert sum(b[0].shape[0] for b in batches) == len(arrays)
    again = list(make_loader(pretext, 4, shuffle=True, seed=1))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again, strict=True))
    labelled = opened.load(labelled=True)
    dataset = LabelledDataset(labelled, labelled.label_indices(opened.phrase_ids))
    mel, label = dataset[0]
    assert mel.shape == (1, 128, 128) and label.dtype == torch.int64
    with pytest.raises(ValueError):
        LabelledDataset(arrays, arrays.label_indices(opened.phrase_ids))  # unlabelled rows


# ---------------------------------------------------------------------------------------------
# Small pieces, by hand


def test_topk_accuracy():
    scores = torch.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    got = loops.topk_accuracy(scores, torch.tensor([2, 0, 0]), ks=(1, 2, 3))
    assert got == pytest.approx({"top1": 1 / 3, "top2": 2 / 3, "top3": 1.0})


def test_rescale_with_transitions_is_greedy_eq6():
    probabilities = np.array([[0.6, 0.4], [0.5, 0.5], [0.5, 0.5], [0.3, 0.7]])
    songs = np.array([0, 0, 0, 1])
    transition = np.array([[0.1, 1.0], [1.0, 0.25]])
    labels, confidences, rescaled = loops.rescale_with_transitions(probabilities, songs, transition)
    # t0: argmax 0; t1: [0.5*0.1, 0.5*1] -> 1 (1/1.1); t2: [0.5*1, 0.5*0.25] -> 0 (0.8);
    # t3 starts a new song: not re-scaled.
    assert labels.tolist() == [0, 1, 0, 1]
    assert confidences == pytest.approx([0.6, 1 / 1.1, 0.8, 0.7])
    assert rescaled.sum(axis=1) == pytest.approx(np.ones(4))


def test_update_transitions_is_eq7_with_momentum_and_clip():
    transition = np.full((3, 3), 0.5)
    labels = np.array([0, 1, 0, 1, 2])
    confidences = np.array([1.0, 0.5, 1.0, 0.5, 0.9])
    songs = np.array([0, 0, 0, 0, 1])  # 1 -> 2 crosses songs: ignored
    new = loops.update_transitions(transition, labels, confidences, songs, alpha=0.5)
    # counts: 0->1: 0.5 + 0.5 = 1.0; 1->0: 0.5. Rows scaled to max 1: row 0 [0, 1, 0],
    # row 1 [1, 0, 0]; row 2 has no evidence and keeps M. Then 0.5 M + 0.5 C, clipped.
    expected = np.array([[0.25, 0.75, 0.25], [0.75, 0.25, 0.25], [0.5, 0.5, 0.5]])
    np.testing.assert_allclose(new, expected)
    clipped = loops.update_transitions(np.zeros((3, 3)), labels, confidences, songs, alpha=0.9)
    assert clipped.min() == pytest.approx(0.01) and clipped.max() <= 1.0


# ---------------------------------------------------------------------------------------------
# Pre-training


def test_pretrain_writes_a_weights_only_checkpoint_and_resumes(corpus, tmp_path):
    out = tmp_path / "pre.pt"
    first = loops.pretrain(corpus, out, epochs=1, batch_size=4, max_batches=1, seed=3)
    assert first.epochs == 1 and len(first.history) == 1
    row = first.history[0]
    assert row["samples"] == 4 and row["phrases_per_s"] > 0
    assert row["loss"] == pytest.approx(row["spectrogram"] + row["melody"] + 10 * row["rhythm"])
    raw = torch.load(out, weights_only=True)  # plain tensors and values only
    assert raw["stage"] == "pretrain" and raw["epoch"] == 1 and raw["config"]["encoder"] == "light"
    resumed = loops.pretrain(
        corpus, out, epochs=2, batch_size=4, max_batches=1, seed=3, resume=True
    )
    assert resumed.epochs == 2 and resumed.history[0] == first.history[0]
    assert resumed.history[1]["epoch"] == 2
    differ = r"cannot resume: settings differ .* \(batch_size 4 -> 8\)"
    with pytest.raises(MusicDanceError, match=differ):
        loops.pretrain(corpus, out, epochs=3, batch_size=8, seed=3, resume=True)


def test_two_process_distributed_pretraining(corpus, tmp_path):
    out = tmp_path / "ddp.pt"
    result = loops.pretrain(corpus, out, config=tiny_config(), epochs=1, batch_size=2, processes=2,
                            max_batches=2, seed=1)  # fmt: skip
    assert "DistributedDataParallel over 2 processes" in result.notes[0]
    assert result.history[0]["samples"] == 2 * 2 * 2  # processes x steps x batch
    checkpoint = loops.load_checkpoint(out, stages=("pretrain",))
    assert checkpoint["settings"]["processes"] == 2
    networks = loops.networks_from_checkpoint(checkpoint)
    assert all(torch.isfinite(p).all() for p in networks.parameters())


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("damage", ["truncated", "garbage", "pickle", "empty"])
def test_corrupt_checkpoints_are_clear_errors(pretrain_checkpoint, tmp_path, damage):
    path = tmp_path / "bad.pt"
    data = pretrain_checkpoint.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif damage == "pickle":  # a classic code-execution pickle: weights_only refuses it
        path.write_bytes(pickle.dumps({"format": loops.CHECKPOINT_FORMAT, "x": object()}))
    else:
        path.write_bytes(b"")
    with pytest.raises(MusicDanceError, match="not a readable checkpoint"):
        loops.load_checkpoint(path)


def test_checkpoints_of_other_kinds_are_refused(pretrain_checkpoint, tmp_path):
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(MusicDanceError, match="not an mdtool checkpoint"):
        loops.load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(MusicDanceError, match="this is a pretrain checkpoint; expected finetune"):
        loops.load_checkpoint(pretrain_checkpoint, stages=("finetune",))
    with pytest.raises(MusicDanceError, match="checkpoint not found"):
        loops.load_checkpoint(tmp_path / "missing.pt")
    raw = torch.load(pretrain_checkpoint, weights_only=True)
    raw["features"]["n_mels"] = 64
    torch.save(raw, tmp_path / "features.pt")
    with pytest.raises(MusicDanceError, match="other feature parameters: n_mels 64"):
        loops.load_checkpoint(tmp_path / "features.pt")


# ---------------------------------------------------------------------------------------------
# Fine-tuning, co-ascent, evaluation


def test_finetune_freezes_the_encoder_and_reports_topk(corpus, pretrain_checkpoint, tmp_path):
    out = tmp_path / "ft.pt"
    result = loops.finetune(corpus, out, init=pretrain_checkpoint, epochs=4, balance=True)
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    assert {"loss", "top1", "top5", "top10", "train_top1"} <= set(result.history[-1])
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    checkpoint = loops.load_checkpoint(out, stages=("finetune",))
    source = loops.load_checkpoint(pretrain_checkpoint)
    assert checkpoint["phrase_ids"] == open_corpus(corpus).phrase_ids
    assert checkpoint["config"].num_classes == len(checkpoint["phrase_ids"])
    for key, value in source["model"].items():
        if key.startswith("encoder."):
            assert torch.equal(checkpoint["model"][key], value), key
    assert checkpoint["settings"]["balance"] is True
    # same seed, same run
    again = loops.finetune(corpus, tmp_path / "ft2.pt", init=pretrain_checkpoint, epochs=4,
                           balance=True)  # fmt: skip
    assert again.history[-1]["loss"] == result.history[-1]["loss"]


def test_finetune_from_a_random_encoder_without_attention(corpus, tmp_path):
    result = loops.finetune(corpus, tmp_path / "g1.pt", attention=False, epochs=2, save_every=1)
    checkpoint = loops.load_checkpoint(tmp_path / "g1.pt")
    assert checkpoint["config"].attention is False and result.epochs == 2
    resumed = loops.finetune(corpus, tmp_path / "g1.pt", attention=False, epochs=3, resume=True)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]


def test_coascent_updates_the_predictor_and_the_matrix(corpus, finetune_checkpoint, tmp_path):
    out = tmp_path / "ca.pt"
    # tau below 1/K (K = 516 phrases): every slot's re-scaled maximum qualifies
    result = loops.coascent(corpus, out, init=finetune_checkpoint, rounds=2, epochs_per_round=2,
                            tau=1e-3)  # fmt: skip
    assert len(result.history) == 2
    first = result.history[0]
    assert first["pseudo_labels"] > 0 and first["unlabelled"] > 0
    checkpoint = loops.load_checkpoint(out, stages=("coascent",))
    matrix = checkpoint["transition"].numpy()
    k = len(checkpoint["phrase_ids"])
    assert matrix.shape == (k, k) and matrix.min() >= 0.01 - 1e-7 and matrix.max() <= 1.0
    initial = loops.initial_transitions(
        open_corpus(corpus).library["path"], checkpoint["phrase_ids"]
    )
    assert not np.allclose(matrix, initial)
    report = loops.evaluate(corpus, out)
    assert report["stage"] == "coascent" and report["samples"] > 0
    assert {"top1", "top5", "top10", "rescaled_top1", "majority_top1"} <= set(report)
    assert 0.0 <= report["top1"] <= report["top5"] <= report["top10"] <= 1.0


def test_coascent_needs_a_finetuned_checkpoint(corpus, pretrain_checkpoint, tmp_path):
    with pytest.raises(MusicDanceError, match="expected finetune or coascent"):
        loops.coascent(corpus, tmp_path / "ca.pt", init=pretrain_checkpoint)


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_finetune_and_evaluate_json(corpus, pretrain_checkpoint, tmp_path):
    out = tmp_path / "ft.pt"
    result = mdtool("train", "finetune", "--corpus", corpus, "--init", pretrain_checkpoint,
                    "--out", out, "--epochs", 2, "--no-attention", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stage"] == "finetune" and len(report["history"]) == 2
    evaluated = mdtool("train", "evaluate", out, "--corpus", corpus, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["classes"] == len(open_corpus(corpus).phrase_ids)


def test_cli_errors_are_one_line(corpus, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    result = mdtool("train", "evaluate", bad, "--corpus", corpus)
    assert "not a readable checkpoint" in one_line_error(result)
    result = mdtool("train", "pretrain", "--corpus", tmp_path / "nothing")
    assert "not a corpus" in one_line_error(result)
