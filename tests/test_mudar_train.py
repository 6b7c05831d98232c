"""Seed 002 (MuDaR) in torch: the losses of eq. (16)-(20), the negatives' rules, the audio
dropout split, a few real training steps, and the ONNX export of the three graphs (opset 18,
Sentis operators, parity <= 1e-4 through onnxruntime)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import REPO  # noqa: E402

from musicdance.motion.canonical import CANONICAL_JOINTS  # noqa: E402
from musicdance.rhythm.features import AUDIO_BANDS, HOOF_FEATURES, WINDOW_FRAMES  # noqa: E402
from musicdance.train import mudar  # noqa: E402

J = len(CANONICAL_JOINTS)


def test_losses_follow_eq_16_to_19():
    p = torch.tensor([0.9, 0.1, 0.5])
    y = torch.tensor([1.0, 0.0, 1.0])
    got = mudar.focal_loss(p, y, alpha=0.5, gamma=2.0)
    want = [-0.5 * 0.1**2 * np.log(0.9), -0.5 * 0.1**2 * np.log(0.9), -0.5 * 0.25 * np.log(0.5)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)
    v = torch.tensor([[1.0, 0.0]])
    assert mudar.triplet_loss(v, v, -v, margin=0.2).item() == 0.0
    assert mudar.triplet_loss(v, -v, v, margin=0.2).item() == pytest.approx(4.2)
    a = np.zeros(100)
    b = np.zeros(100)
    b[:5] = 1
    assert mudar.rhythm_score(a, b, alpha=0.1) < 0 < mudar.rhythm_score(a, 1 - a, alpha=0.1)
    # 120 BPM at 15 fps: an eighth note lasts 3.75 frames; 15 frames is 4 eighths exactly
    assert not mudar.shift_allowed(15, 120.0) and mudar.shift_allowed(6, 120.0)


def test_batch_negatives_follow_eq_16_and_18_both_ways():
    onsets = torch.zeros(3, 100)
    onsets[2, :20] = 1  # window 2's onsets differ from the others' by 20 > alpha T = 10
    mask = mudar.avc_mask(onsets, torch.tensor([0, 1, 1]))
    assert mask.tolist() == [[False, False, True], [False, False, False], [True, False, False]]
    e = torch.eye(2)
    every = torch.ones(2, 2, dtype=torch.bool) & ~torch.eye(2, dtype=torch.bool)
    assert mudar.batch_triplet_loss(e, e, every).item() == 0.0  # each pair already closest
    # crossed: each positive at squared distance 2, each negative at 0, both ways
    assert mudar.batch_triplet_loss(e, e.flip(0), every).item() == pytest.approx(2.2)
    assert mudar.batch_triplet_loss(e, e.flip(0), ~every & every).item() == 0.0  # none allowed


def test_audio_dropout_keeps_the_batch_and_drops_the_audio():
    torch.manual_seed(0)
    net = mudar.RhythmEstimator(J)
    hoof = torch.randn(4, WINDOW_FRAMES, HOOF_FEATURES)
    pose = torch.randn(4, WINDOW_FRAMES, J, 6)
    f_a = torch.randn(4, WINDOW_FRAMES, net.dim)
    with torch.no_grad():
        silent = net(hoof, pose)
        mixed = net(hoof, pose, f_a, audio_dropout=0.5)
    assert mixed.shape == (4, WINDOW_FRAMES) and float(mixed.min()) >= 0
    # the first b * p items went without audio (eq. 10): the same as no audio at all
    torch.testing.assert_close(mixed[:2], silent[:2])
    assert not torch.allclose(mixed[2:], silent[2:])


def test_training_steps_and_export(tmp_path):
    from musicdance.corpus.mudar import MudarPair

    rng = np.random.default_rng(0)
    pairs = []
    for i in range(3):
        n = 2 * WINDOW_FRAMES
        onsets = (rng.random(n) < 0.2).astype(np.float32)
        pairs.append(MudarPair(
            name=str(i), genre="pop", bpm=120.0,
            audio=rng.random((AUDIO_BANDS, n)).astype(np.float32), onsets=onsets, beats=onsets,
            hoof=rng.random((n, HOOF_FEATURES)).astype(np.float32),
            pose=rng.standard_normal((n, J, 6)).astype(np.float32),
            positions_m=np.zeros((n, J, 3), np.float32),
        ))  # fmt: skip
    model, history = mudar.train(pairs, epochs=2, batch=4, log=lambda *_: None)
    assert [h["task"] for h in history] == ["avc", "avts"]  # the curriculum
    assert all(np.isfinite(h["loss"]) for h in history)
    folder = tmp_path / "mudar"
    parity = mudar.export_companion(model, folder, {"rhythm_threshold": 0.5})
    assert max(parity.values()) <= 1e-4
    from musicdance.rhythm.model import load_mudar

    loaded = load_mudar(folder)
    curve = loaded.rhythm_from_inputs(pairs[0].hoof, pairs[0].pose)
    with torch.no_grad():
        want = model.rhythm(
            torch.from_numpy(pairs[0].hoof[None, :WINDOW_FRAMES]),
            torch.from_numpy(pairs[0].pose[None, :WINDOW_FRAMES]),
        )[0].numpy()
    # the first half window has weight only from the first window
    np.testing.assert_allclose(curve[:10], want[:10], atol=1e-4)
    assert (REPO / "sdk/musicdance/train/mudar.py").is_file()
