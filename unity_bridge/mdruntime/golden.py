"""Golden vectors for the engine-side (C#) sampler, written by the Python runtime.

``write_golden(folder, runtime, timeline)`` writes what the Unity package's core tests
(``unity_bridge/unity/com.mdtool.dance/Tests~/Core``) check their arithmetic against:

- ``timeline.json`` and ``track.mdpt``: a timeline and its baked pose track;
- ``samples.json``: poses of the *renderer's* motion (``render_timeline`` then
  ``musicdance.motion.motion.sample``, float64) at every frame time, between frames and outside
  the song; the C# sampler must match within 1e-4;
- ``warp.json``: ``warp_source_times`` on each slot's knots, and the count position per time;
- ``inertialize.json``: ``musicdance.synthesis.blend.inertialize`` of two library phrases;
- ``fk.json``: ``forward_kinematics`` of a few frames; ``spring.json``: ``decay_spring``.

    python -m mdruntime.golden OUT_FOLDER [--library phrase_library] [--song SONG]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from mdruntime.runtime import Runtime
from musicdance.choreo.timeline import Timeline

__all__ = ["write_golden"]


def _dump(path: Path, data) -> None:
    path.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")


def write_golden(folder, runtime: Runtime, timeline: Timeline, *, seed: int = 0) -> Path:
    """Write the golden files for ``timeline`` into ``folder`` (created); returns it."""
    from musicdance.motion.motion import sample, slice_frames
    from musicdance.synthesis.blend import decay_spring, inertialize
    from musicdance.synthesis.timewarp import warp_source_times

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    (folder / "timeline.json").write_text(json.dumps(timeline.to_json(), indent=1), "utf-8")
    track = runtime.pose_track(timeline)
    (folder / "track.mdpt").write_bytes(track.to_bytes())
    motion = runtime.render(timeline)

    frames = np.arange(motion.num_frames) / motion.fps
    times = np.concatenate(
        [
            frames[:: max(motion.num_frames // 400, 1)],
            rng.uniform(0.0, motion.duration_s, 400),
            [-3.0, -1e-3, motion.duration_s, motion.duration_s + 5.0],
        ]
    )
    reference = sample(motion, times)
    _dump(
        folder / "samples.json",
        {
            "times_s": times.tolist(),
            "root_positions_m": reference.root_positions_m.tolist(),
            "rotations": reference.rotations.tolist(),
        },
    )

    warps, counts = [], []
    for knots, slot in zip(track.slots, timeline.slots, strict=True):
        span = slot.end_s - slot.start_s
        at = np.concatenate(
            [rng.uniform(slot.start_s - span, slot.end_s + span, 12), knots["targets_s"]]
        )
        warps.append(
            {
                "targets_s": knots["targets_s"],
                "source_s": knots["source_s"],
                "times_s": at.tolist(),
                "expected": warp_source_times(at, knots["targets_s"], knots["source_s"]).tolist(),
            }
        )
        inside = rng.uniform(slot.start_s, slot.end_s, 5)
        beats = [*slot.beat_times_s, slot.end_s]
        expected = warp_source_times(inside, beats, np.arange(len(beats), dtype=float))
        counts.extend(
            {"time_s": float(t), "count": float(c)}
            for t, c in zip(inside, expected, strict=True)
        )
    _dump(folder / "warp.json", {"warps": warps, "counts": counts})

    ids = timeline.phrase_ids()
    previous = runtime.library.get(ids[0]).motion
    following = slice_frames(runtime.library.get(ids[min(1, len(ids) - 1)]).motion, 0, 40)
    previous = slice_frames(previous, 0, 12)
    blended = inertialize(previous, following, 0.12)
    _dump(
        folder / "inertialize.json",
        {
            "fps": following.fps,
            "halflife_s": 0.12,
            "previous_rotations": previous.rotations[-2:].tolist(),
            "previous_roots": previous.root_positions_m[-2:].tolist(),
            "following_rotations": following.rotations.tolist(),
            "following_roots": following.root_positions_m.tolist(),
            "expected_rotations": blended.rotations.tolist(),
            "expected_roots": blended.root_positions_m.tolist(),
        },
    )

    picks = np.linspace(0, motion.num_frames - 1, 6).astype(int)
    positions, rotations = slice_frames(motion, 0).global_transforms()
    _dump(
        folder / "fk.json",
        {
            "frames": picks.tolist(),
            "times_s": (picks / motion.fps).tolist(),
            "positions": positions[picks].tolist(),
            "rotations": rotations[picks].tolist(),
        },
    )

    offsets = rng.normal(size=(8,))
    velocities = rng.normal(size=(8,)) * 5
    at = np.linspace(0.0, 1.0, 11)
    _dump(
        folder / "spring.json",
        {
            "halflife_s": 0.12,
            "offsets": offsets.tolist(),
            "velocities": velocities.tolist(),
            "times_s": at.tolist(),
            "expected": decay_spring(offsets, velocities, 0.12, at).tolist(),
        },
    )
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write golden vectors for the C# sampler.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--library", type=Path, default=Path("phrase_library"))
    parser.add_argument("--song", type=Path, default=None, help="default: a generated song")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    runtime = Runtime(args.library)
    if args.song is None:
        from musicdance.audio.synth import synth_song

        y, _ = synth_song("pop", bpm=112.0, seed=3, duration_s=30.0)
        timeline = runtime.choreograph_pcm(y, 22050, name="golden-pop112", seed=args.seed)
    else:
        timeline = runtime.choreograph_file(args.song, seed=args.seed)
    print(write_golden(args.out, runtime, timeline))


if __name__ == "__main__":
    main()
