"""Pictures for docs/conducting.md: the procedural conductor's baton path per meter.

For each meter (2/4 polka, 3/4 waltz, 4/4 pop, 6/8 = the waltz regrouped in six) a generated
song with exact beats is conducted; the right wrist (the baton hand) is drawn as the orchestra
sees it (front view: the conductor's right is on the picture's left) over two bars in the
middle of the song, with the ictus of each beat numbered. A last panel shows the right hand's
height against time with the beat times (ictus on the beat).

    python scripts/plot_conducting.py docs/images/conducting-patterns.png
    python scripts/plot_conducting.py --gan docs/images/conducting-gan.png

``--gan``: on the first held-out corpus song, the right wrist's image height (keypoint y, up)
of the procedural ground truth and of the shipped M2S-GAN (noise seeds 0 and 1) against time,
with the beats.
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


def gan_figure(out: str) -> None:
    from musicdance.conduct.generate import generate_keypoints, load_conductor
    from musicdance.train.conducting import corpus_song

    companion = load_conductor("bundles/default")
    training = companion.manifest["training"]
    index = len(training["corpus"]["train"])
    mel, truth, info = corpus_song(index, training["seed"], training["corpus"]["duration_s"])
    _, song = synth_song(
        info["genre"], seed=info["seed"], duration_s=training["corpus"]["duration_s"]
    )
    t = np.arange(len(truth)) / 30.0
    sel = (t > 8) & (t < 16)
    fig, ax = plt.subplots(figsize=(12, 3.6))
    ax.plot(t[sel], -truth[sel, 21], label="ground truth (procedural)", lw=1.6)
    for seed in (0, 1):
        kp = generate_keypoints(companion, mel, seed=seed)
        ax.plot(t[sel], -kp[sel, 21], label=f"M2S-GAN, noise seed {seed}", lw=1.0)
    for bt in song.beat_times_s:
        if 8 < bt < 16:
            ax.axvline(bt, color="0.75", lw=0.8)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("right wrist height (image units)")
    ax.set_title(f"held-out {info['genre']} song ({info['bpm']:.0f} BPM): beats in grey")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--gan":
        gan_figure(sys.argv[2] if len(sys.argv) > 2 else "docs/images/conducting-gan.png")
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "docs/images/conducting-patterns.png")
