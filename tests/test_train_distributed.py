"""Fine-tuning and co-ascent under DistributedDataParallel: two CPU processes on gloo against one
process on the same global batch, rank agreement, and deterministic checkpoints."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from library_support import mdtool  # noqa: E402
from train_support import finetuned, pretrained, tiny_corpus  # noqa: E402

from musicdance.corpus.build import open_corpus  # noqa: E402
from musicdance.errors import MusicDanceError  # noqa: E402
from musicdance.train import loops  # noqa: E402

#: Per-process batch of the two-process runs; the one-process run takes twice as many.
BATCH = 2
#: Two processes on gloo against one: float32 sums in another order (threads, all-reduce).
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_corpus(tmp_path_factory)


@pytest.fixture(scope="module")
def pretrain_checkpoint(tmp_path_factory):
    return pretrained(tmp_path_factory)


@pytest.fixture(scope="module")
def finetune_checkpoint(tmp_path_factory):
    return finetuned(tmp_path_factory)


def _weights(path) -> dict:
    """A checkpoint as written (``weights_only=True``: plain tensors and values only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def _max_predictor_diff(a: dict, b: dict) -> float:
    keys = [key for key in a["model"] if key.startswith("predictor.")]
    assert keys
    return max(float((a["model"][k] - b["model"][k]).abs().max()) for k in keys)


def _without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_two_process_finetune_equals_one_process_on_the_global_batch(
    corpus, pretrain_checkpoint, tmp_path
):
    phrase_ids = open_corpus(corpus).phrase_ids
    labelled = len(open_corpus(corpus).load(split="train", labelled=True))
    assert labelled >= 2 * BATCH  # one global batch without DistributedSampler padding
    common = dict(init=pretrain_checkpoint, epochs=1, max_batches=1, balance=True, seed=5)
    two = loops.finetune(corpus, tmp_path / "two.pt", batch_size=BATCH, processes=2, **common)
    one = loops.finetune(corpus, tmp_path / "one.pt", batch_size=2 * BATCH, **common)
    half = loops.finetune(corpus, tmp_path / "half.pt", batch_size=BATCH, **common)

    assert two.notes == ["DistributedDataParallel over 2 processes (gloo)"]
    assert two.history[0]["ranks_max_abs_diff"] == 0.0  # both ranks end with the same T
    assert two.history[0]["loss"] == pytest.approx(one.history[0]["loss"], abs=1e-5)
    written = _weights(tmp_path / "two.pt")
    assert written["stage"] == "finetune" and written["settings"]["processes"] == 2
    assert written["phrase_ids"] == phrase_ids and written["epoch"] == 1
    assert _max_predictor_diff(written, _weights(tmp_path / "one.pt")) < TOLERANCE
    # the comparison tells batches apart: rank 0's share alone moves T elsewhere
    assert _max_predictor_diff(written, _weights(tmp_path / "half.pt")) > 100 * TOLERANCE
    source = _weights(pretrain_checkpoint)["model"]
    for key, value in source.items():
        if key.startswith("encoder."):
            assert torch.equal(written["model"][key], value), key  # E stays frozen
    assert len(half.history) == 1
    networks = loops.networks_from_checkpoint(loops.load_checkpoint(tmp_path / "two.pt"))
    assert all(torch.isfinite(p).all() for p in networks.parameters())


def test_two_process_coascent_is_deterministic_and_equals_one_process(
    corpus, finetune_checkpoint, tmp_path
):
    common = dict(
        init=finetune_checkpoint, rounds=2, epochs_per_round=1, tau=1e-3, max_batches=1,
        balance=True, seed=5,
    )  # fmt: skip
    two = loops.coascent(corpus, tmp_path / "two.pt", batch_size=BATCH, processes=2, **common)
    again = loops.coascent(corpus, tmp_path / "again.pt", batch_size=BATCH, processes=2, **common)
    one = loops.coascent(corpus, tmp_path / "one.pt", batch_size=2 * BATCH, **common)

    assert [row["ranks_max_abs_diff"] for row in two.history] == [0.0, 0.0]  # T and M agree
    assert two.history[0]["pseudo_labels"] > 0
    written, repeated, single = (
        _weights(tmp_path / name) for name in ("two.pt", "again.pt", "one.pt")
    )
    assert written["stage"] == "coascent" and written["settings"]["processes"] == 2
    # same seed, same world size: the same checkpoint
    assert written["model"].keys() == repeated["model"].keys()
    for key, value in written["model"].items():
        assert torch.equal(value, repeated["model"][key]), key
    assert torch.equal(written["transition"], repeated["transition"])
    assert _without_seconds(two.history) == _without_seconds(again.history)
    # and the pseudo-labels, M and T of one process on the same global batches
    pseudo = [row["pseudo_labels"] for row in two.history]
    assert pseudo == [row["pseudo_labels"] for row in one.history]
    torch.testing.assert_close(written["transition"], single["transition"], atol=1e-9, rtol=0)
    assert _max_predictor_diff(written, single) < TOLERANCE


def test_cli_finetune_and_coascent_take_processes():
    for command in ("finetune", "coascent"):
        result = mdtool("train", command, "--help")
        assert result.returncode == 0, result.stderr
        assert "--processes" in result.stdout and "--batch-size" in result.stdout


def test_resume_keeps_the_process_count(corpus, pretrain_checkpoint, tmp_path):
    out = tmp_path / "ft.pt"
    loops.finetune(corpus, out, init=pretrain_checkpoint, epochs=1, seed=2)
    with pytest.raises(MusicDanceError, match=r"settings differ .*processes 1 -> 2"):
        loops.finetune(corpus, out, init=pretrain_checkpoint, epochs=2, seed=2, processes=2,
                       resume=True)  # fmt: skip
    older = _weights(out)  # a checkpoint from before multi-process fine-tuning
    del older["settings"]["processes"]
    torch.save(older, out)
    resumed = loops.finetune(corpus, out, init=pretrain_checkpoint, epochs=2, seed=2, resume=True)
    assert [row["epoch"] for row in resumed.history] == [1, 2]
