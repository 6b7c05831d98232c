"""Pictures for docs/conducting.md: the procedural conductor's baton path per meter.

For each meter (2/4 polka, 3/4 waltz, 4/4 pop, 6/8 = the waltz regrouped in six) a generated
song with exact beats is conducted; the right wrist (the baton hand) is drawn as the orchestra
sees it (front view: the conductor's right is on the picture's left) over two bars in the
middle of the song, with the ictus of each beat numbered. A last panel shows the right hand's
height against time with the beat times (ictus on the beat).

    python scripts/plot_conducting.py docs/images/conducting-patterns.png
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from musicdance.audio.synth import synth_song  # noqa: E402
from musicdance.conduct.features import conducting_mel, motion_frames  # noqa: E402
from musicdance.conduct.procedural import conduct_procedural  # noqa: E402
from musicdance.conduct.score import compound_meter, score_from_beats  # noqa: E402

CASES = (("2/4 (polka)", "polka", 2, 100), ("3/4 (waltz)", "waltz", 3, 96),
         ("4/4 (pop)", "pop", 4, 100), ("6/8 in six (waltz bars paired)", "waltz", 6, 96),
         )  # fmt: skip


def conducted(genre: str, meter: int, bpm: float, seed: int = 2):
    y, truth = synth_song(genre, seed=seed, bpm=bpm, duration_s=40)
    mel = conducting_mel(y, truth.sr_hz, motion_frames(len(y) / truth.sr_hz))
    positions = np.asarray(truth.beat_positions)
    if meter == 6:
        positions = compound_meter(positions)
    score = score_from_beats(mel, truth.beat_times_s, positions, meter, truth.section_starts_s)
    motion = conduct_procedural(score, seed=seed)
    wrist = motion.global_positions()[:, motion.skeleton.index("RightHand")]
    return score, wrist


def main(out: str) -> None:
    fig, axes = plt.subplots(1, 5, figsize=(22, 4.6))
    for ax, (title, genre, meter, bpm) in zip(axes, CASES, strict=False):
        score, wrist = conducted(genre, meter, bpm)
        downs = score.beat_times_s[score.beat_positions == 1]
        t0, t1 = downs[len(downs) // 2], downs[len(downs) // 2 + 2]
        t = np.arange(len(wrist)) / 30.0
        sel = (t >= t0) & (t <= t1)
        ax.plot(wrist[sel, 0], wrist[sel, 1], color="tab:blue", lw=1.5)
        for bt, pos in zip(score.beat_times_s, score.beat_positions, strict=True):
            if t0 <= bt < t1 - 1e-6:
                f = int(round(bt * 30))
                ax.plot(wrist[f, 0], wrist[f, 1], "o", color="tab:red", ms=5)
                ax.annotate(str(pos), (wrist[f, 0], wrist[f, 1]), textcoords="offset points",
                            xytext=(4, -12), fontsize=11, color="tab:red")  # fmt: skip
        ax.set_title(title)
        ax.set_aspect("equal")
        ax.set_xlabel("X (m), conductor's right on the left")
        ax.set_ylabel("height (m)")
    score, wrist = conducted("pop", 4, 100)
    t = np.arange(len(wrist)) / 30.0
    ax = axes[4]
    sel = (t > 6) & (t < 12)
    ax.plot(t[sel], wrist[sel, 1], lw=1.2)
    for bt, pos in zip(score.beat_times_s, score.beat_positions, strict=True):
        if 6 < bt < 12:
            ax.axvline(bt, color="tab:red" if pos == 1 else "0.7", lw=0.8)
    ax.set_title("4/4: baton height, beats (red: downbeats)")
    ax.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images/conducting-patterns.png")
