"""The real recordings in ../shared/data/music: no error, plausible tempo and phrases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicdance.audio.analysis import analyze

MUSIC = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "music"
FILES = ["stk_kart_grand_prix.ogg", "supertux_chipdisko.mp3", "nexuiz_ninesix.ogg",
         "wesnoth_love_theme.ogg"]


@pytest.mark.parametrize("name", FILES)
def test_real_recording(name):
    path = MUSIC / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    a = analyze(path)
    assert a.duration_s > 60
    assert 60 <= a.tempo_bpm <= 200
    assert a.meter in (2, 3, 4)
    assert a.phrases and all(2 <= p.n_bars <= 8 for p in a.phrases)
    bar_s = a.meter * 60.0 / a.tempo_bpm
    steady = a.pulse_clarity >= 0.15  # the orchestral piece has no reliable pulse
    for p in a.phrases:  # whole bars at the song's tempo
        if steady:
            assert p.duration_s == pytest.approx(p.n_bars * bar_s, rel=0.1)
        assert 2.0 <= p.duration_s <= 40.0
    if name in ("stk_kart_grand_prix.ogg", "supertux_chipdisko.mp3"):  # steady ~136 BPM
        assert min(abs(a.tempo_bpm - 136), abs(a.tempo_bpm - 68)) < 4
    covered = sum(p.duration_s for p in a.phrases)
    assert covered > 0.7 * a.duration_s
    assert np.all(np.diff(a.beat_times_s) > 0)
