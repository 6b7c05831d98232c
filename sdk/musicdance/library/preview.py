"""Stick-figure previews of phrases: a PNG contact sheet (one pose per count, front and side
views) or a GIF animation, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.errors import MusicDanceError
from musicdance.library.phrase import ANKLES, Phrase
from musicdance.motion.canonical import CANONICAL_JOINTS

PREVIEW_SUFFIXES = (".png", ".gif")
_LEFT_COLOUR = "#d1495b"
_RIGHT_COLOUR = "#00798c"
_CENTRE_COLOUR = "#30343f"
_HEAD = CANONICAL_JOINTS.index("Head")


def _bone_colours(names: tuple[str, ...]) -> list[str]:
    return [
        _LEFT_COLOUR if n.startswith("Left") else _RIGHT_COLOUR if n.startswith("Right") else
        _CENTRE_COLOUR
        for n in names
    ]  # fmt: skip


def _figure_frames(phrase: Phrase, max_frames: int) -> np.ndarray:
    counts = np.asarray(phrase.info.count_frames)
    if len(counts) <= max_frames:
        return counts
    return counts[np.linspace(0, len(counts) - 1, max_frames).round().astype(int)]


def _pose_artists(ax, parents: np.ndarray, colours) -> tuple[list, object, list]:
    """The artists of one stick figure on ``ax`` (bones, head circle, ankle contact markers,
    empty until :func:`_update_pose` places them) and the floor line."""
    bones = [
        ax.plot([], [], color=colours[j], linewidth=2.2, solid_capstyle="round")[0]
        for j in range(1, len(parents))
    ]
    head = ax.add_patch(_circle((0.0, 0.0), 0.09, colours[_HEAD]))
    feet = [
        ax.plot([], [], marker="^", color=colours[joint], markersize=6, linestyle="none")[0]
        for joint in ANKLES
    ]
    ax.axhline(0.0, color="#999999", linewidth=0.8)
    return bones, head, feet


def _update_pose(artists, positions: np.ndarray, parents: np.ndarray, axes, contacts) -> None:
    """Move a stick figure's artists to ``positions`` [J, 3] (metres); ``axes`` picks the
    horizontal and vertical coordinates; a marker under each ankle in contact."""
    h, v = axes
    bones, head, feet = artists
    for line, j in zip(bones, range(1, len(parents)), strict=True):
        p = parents[j]
        line.set_data([positions[p, h], positions[j, h]], [positions[p, v], positions[j, v]])
    head.center = (positions[_HEAD, h], positions[_HEAD, v] + 0.09)
    for side, (marker, joint) in enumerate(zip(feet, ANKLES, strict=True)):
        down = bool(contacts[side])
        marker.set_data([positions[joint, h]] if down else [], [0.0] if down else [])


def _draw_pose(ax, positions: np.ndarray, parents: np.ndarray, colours, axes, contacts) -> None:
    """One stick figure on ``ax``; ``axes`` picks the horizontal and vertical coordinates."""
    _update_pose(_pose_artists(ax, parents, colours), positions, parents, axes, contacts)


def _circle(centre, radius, colour):
    from matplotlib.patches import Circle

    return Circle(centre, radius, fill=False, color=colour, linewidth=2.0)


def render_contact_sheet(phrase: Phrase, path: str | os.PathLike[str], max_poses: int = 8) -> None:
    """A PNG: the pose at each count (up to ``max_poses``), front view above, side view below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions = phrase.motion.global_positions()
    frames = _figure_frames(phrase, max_poses)
    parents = phrase.motion.skeleton.parents
    colours = _bone_colours(phrase.motion.skeleton.names)
    fig, axes = plt.subplots(2, len(frames), figsize=(1.25 * len(frames), 3.6), squeeze=False)
    for k, frame in enumerate(frames):
        centre = positions[frame, 0]
        for row, (h, v) in enumerate(((0, 1), (2, 1))):
            ax = axes[row, k]
            # Front view from the audience (+Z): the figure's left (+X) on the viewer's right.
            pose = positions[frame] - np.array([centre[0], 0.0, centre[2]])
            _draw_pose(ax, pose, parents, colours, (h, v), phrase.contacts[frame])
            ax.set_xlim(-0.9, 0.9)
            ax.set_ylim(-0.05, 2.3)
            ax.set_aspect("equal")
            ax.axis("off")
        axes[0, k].set_title(f"{k + 1}", fontsize=9)
    info = phrase.info
    fig.suptitle(
        f"{info.id}  ({info.style}, {info.tempo_bpm:.0f} BPM, energy {info.energy:.1f})",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    _save(fig, path, "png")


def render_gallery(
    phrases: list[Phrase], path: str | os.PathLike[str], max_poses: int = 8, dpi: int = 60
) -> None:
    """A PNG with one row per phrase: its pose at each count, front view, labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not phrases:
        raise MusicDanceError("no phrases to draw")
    columns = max(len(_figure_frames(p, max_poses)) for p in phrases)
    fig, axes = plt.subplots(
        len(phrases), columns, figsize=(1.0 * columns, 1.75 * len(phrases)), squeeze=False
    )
    for row, phrase in enumerate(phrases):
        positions = phrase.motion.global_positions()
        parents = phrase.motion.skeleton.parents
        colours = _bone_colours(phrase.motion.skeleton.names)
        frames = _figure_frames(phrase, max_poses)
        for k in range(columns):
            ax = axes[row, k]
            ax.axis("off")
            if k >= len(frames):
                continue
            centre = positions[frames[k], 0]
            pose = positions[frames[k]] - np.array([centre[0], 0.0, centre[2]])
            _draw_pose(ax, pose, parents, colours, (0, 1), phrase.contacts[frames[k]])
            ax.set_xlim(-0.9, 0.9)
            ax.set_ylim(-0.05, 2.3)
            ax.set_aspect("equal")
        axes[row, 0].set_title(phrase.id, fontsize=7, loc="left")
    fig.tight_layout(pad=0.3)
    _save(fig, path, "png", dpi=dpi)


def render_animation(
    phrase: Phrase,
    path: str | os.PathLike[str],
    *,
    fps: float = 15.0,
    size_px: int = 240,
    turntable_deg: float = 0.0,
) -> None:
    """A GIF of the phrase (front view) at ``fps`` frames per second.

    turntable_deg: the camera circles the dancer by this many degrees over the clip (0: a
    fixed front view; 360: a full turntable), so turns, twists and depth read too.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import PillowWriter

    positions = phrase.motion.global_positions()
    step = max(1, int(round(phrase.motion.fps / fps)))
    frames = np.arange(0, phrase.motion.num_frames, step)
    parents = phrase.motion.skeleton.parents
    centre = positions[:, 0].mean(axis=0)
    fig, ax = plt.subplots(figsize=(size_px / 80, size_px / 80), dpi=80)
    # the figure is drawn once and its artists moved each frame (redrawing the axes per frame
    # cost ~10x more)
    artists = _pose_artists(ax, parents, _bone_colours(phrase.motion.skeleton.names))
    ax.set_xlim(-1.1, 1.1)
    ax.set_ylim(-0.05, 2.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(phrase.info.id, fontsize=8)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp.gif")
    writer = PillowWriter(fps=phrase.motion.fps / step)
    try:
        with writer.saving(fig, tmp, dpi=80):
            for frame in frames:
                pose = positions[frame] - np.array([centre[0], 0.0, centre[2]])
                if turntable_deg:
                    a = np.radians(turntable_deg * frame / max(phrase.motion.num_frames - 1, 1))
                    x, z = pose[:, 0].copy(), pose[:, 2].copy()
                    pose[:, 0] = np.cos(a) * x - np.sin(a) * z
                    pose[:, 2] = np.sin(a) * x + np.cos(a) * z
                _update_pose(artists, pose, parents, (0, 1), phrase.contacts[frame])
                writer.grab_frame()
        os.replace(tmp, target)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()


def render_preview(
    phrase: Phrase, path: str | os.PathLike[str], *, turntable_deg: float = 0.0
) -> None:
    """A contact sheet for ``.png``, an animation for ``.gif`` (``turntable_deg``: see
    ``render_animation``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in PREVIEW_SUFFIXES:
        raise MusicDanceError(
            f"preview must be {' or '.join(PREVIEW_SUFFIXES)}, got {suffix or '(none)'!r}", path
        )
    if suffix == ".png":
        render_contact_sheet(phrase, path)
    else:
        render_animation(phrase, path, turntable_deg=turntable_deg)


def _save(fig, path: str | os.PathLike[str], fmt: str, dpi: int = 80) -> None:
    import matplotlib.pyplot as plt

    try:
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format=fmt, dpi=dpi)
    finally:
        plt.close(fig)


def phrase_svg(phrase: Phrase, max_poses: int = 6, height_px: int = 48) -> str:
    """A small SVG strip of stick figures (front view, one per count, at most ``max_poses``),
    drawn without matplotlib: the studio's preview of a phrase (a few kB)."""
    frames = _figure_frames(phrase, max_poses)
    positions = phrase.motion.global_positions()[frames]  # [P, J, 3] metres
    parents = phrase.motion.skeleton.parents
    colours = _bone_colours(phrase.motion.skeleton.names)
    low, high = positions[..., 1].min(), positions[..., 1].max()
    scale = (height_px - 6) / max(float(high - low), 1e-6)  # px per metre
    cell_px = height_px * 0.8
    lines = []
    for k, pose in enumerate(positions):
        x = (pose[:, 0] - pose[0, 0]) * scale + cell_px * (k + 0.5)
        y = (high - pose[:, 1]) * scale + 3
        lines += [
            f'<line x1="{x[p]:.1f}" y1="{y[p]:.1f}" x2="{x[j]:.1f}" y2="{y[j]:.1f}" '
            f'stroke="{colours[j]}"/>'
            for j, p in enumerate(parents) if p >= 0
        ]  # fmt: skip
        lines.append(f'<circle cx="{x[_HEAD]:.1f}" cy="{y[_HEAD]:.1f}" r="2.5" '
                     f'fill="{_CENTRE_COLOUR}"/>')  # fmt: skip
    width_px = cell_px * len(positions)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px:.0f}" height="{height_px}" '
        f'viewBox="0 0 {width_px:.0f} {height_px}" stroke-width="1.5" stroke-linecap="round">'
        + "".join(lines) + "</svg>"
    )
