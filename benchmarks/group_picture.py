"""The picture in docs/group.md: 8 dancers on a generated 4-minute song (the benchmark's).

Left: top view of every dancer's hips over the whole song (the audience is below, +Z), the
formation spots of each section marked. Right: one rendered frame in the chorus, seen from the
audience, stick figures drawn from the exported motions. Below: the sections, their role and
the group device the decoder chose.

    python benchmarks/group_picture.py [--out docs/images/group-formations.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEVICE_COLOURS = {"unison": "#2e86ab", "mirror": "#a23b72", "canon": "#f18f01",
                  "call": "#c73e1d", "contrast": "#6a994e"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" /
                        "group-formations.png")  # fmt: skip
    parser.add_argument("--dancers", type=int, default=8)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicdance.atomic import atomic_write
    from musicdance.audio.analysis import analyze
    from musicdance.audio.synth import synth_song, write_song
    from musicdance.choreo.group import choreograph_group
    from musicdance.choreo.group_render import MemoLibrary, render_group
    from musicdance.library import open_library

    with tempfile.TemporaryDirectory() as folder:
        y, _ = synth_song("pop", bpm=118.0, seed=42, duration_s=240.0)
        song = write_song(Path(folder) / "four_minutes.mp3", y, sr_hz=22050)
        analysis = analyze(song)
    library = MemoLibrary(open_library(REPO / "phrase_library"))
    group = choreograph_group(analysis, library, args.dancers, seed=0)
    rendered = render_group(group, library)
    motions = rendered.motions()
    figure = plt.figure(figsize=(13, 6.2))
    grid = figure.add_gridspec(2, 2, height_ratios=[5, 0.9], width_ratios=[1, 1.25])
    top = figure.add_subplot(grid[0, 0])
    colours = plt.cm.tab10(np.arange(group.num_dancers) % 10)
    for d in range(group.num_dancers):
        hips = rendered.hips_m[d]
        top.plot(hips[:, 0], hips[:, 1], color=colours[d], linewidth=0.8, alpha=0.85,
                 label=group.dancers[d].name + (" (lead)" if group.dancers[d].lead else ""))
    for section in group.sections:
        spots = np.asarray(section.spots_m)
        top.scatter(spots[:, 0], spots[:, 1], s=14, color="#444444", zorder=3)
    top.annotate("audience", xy=(0.5, 0.01), xycoords="axes fraction", ha="center",
                 fontsize=9, color="#555555")  # fmt: skip
    top.set_aspect("equal")
    top.invert_yaxis()  # the audience (+Z) at the bottom of the page
    top.set_xlabel("x (m, stage left +)")
    top.set_ylabel("z (m, towards the audience +)")
    top.set_title(f"hips over the song ({group.num_dancers} dancers), spots per section; "
                  f"closest {rendered.closest_m.min():.2f} m", fontsize=10)  # fmt: skip
    top.legend(fontsize=7, loc="upper right", ncols=2)
    chorus = next((s for s in group.sections if s.role == "chorus"), group.sections[0])
    slot = group.base.slots[(chorus.first_slot + chorus.stop_slot) // 2]
    frame = int(round((slot.start_s + 2 * (slot.end_s - slot.start_s) / 3) * group.fps))
    view = figure.add_subplot(grid[0, 1])
    order = np.argsort([m.root_positions_m[frame, 2] for m in motions])  # far ones first
    for d in order:
        positions = motions[d].global_positions()[frame]
        parents = motions[d].skeleton.parents
        depth = positions[:, 2]
        x = positions[:, 0] * (1 + 0.05 * depth)
        height = positions[:, 1] - 0.3 * depth  # the far rows higher (seen from above)
        for j in range(1, len(parents)):
            view.plot([x[parents[j]], x[j]], [height[parents[j]], height[j]], color=colours[d],
                      linewidth=2.0, solid_capstyle="round")  # fmt: skip
    view.set_aspect("equal")
    view.axis("off")
    view.set_title(f"frame at {frame / group.fps:.1f} s ({chorus.role}, {chorus.device}, "
                   f"{chorus.formation}), seen from the audience", fontsize=10)  # fmt: skip
    strip = figure.add_subplot(grid[1, :])
    for section in group.sections:
        a = group.base.slots[section.first_slot].start_s
        b = group.base.slots[section.stop_slot - 1].end_s
        strip.barh(0, b - a, left=a, color=DEVICE_COLOURS[section.device], edgecolor="white")
        strip.text((a + b) / 2, 0, f"{section.role}\n{section.device}", ha="center",
                   va="center", fontsize=7, color="white")  # fmt: skip
    strip.set_yticks([])
    strip.set_xlim(0, group.duration_s)
    strip.set_xlabel("song time (s): section role and group device")
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out, "wb") as handle:
        figure.savefig(handle, format="png", dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
