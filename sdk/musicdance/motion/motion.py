"""Motion: a skeleton animated at a fixed frame rate, and the verbs that act on it.

Conventions (see also ``musicdance.motion.quat``): Y-up, right-handed, metres, characters face
+Z with their left side towards +X; rotations are unit quaternions ``[..., 4]`` in x, y, z, w
order; frame ``t`` sits at time ``t / fps`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.motion.quat import quat_normalize, quat_slerp, quat_unroll
from musicdance.motion.skeleton import Skeleton, forward_kinematics


@dataclass(eq=False)
class Motion:
    """Local joint rotations and a root trajectory over time.

    skeleton: the joint hierarchy.
    fps: frames per second.
    root_positions_m: ``[T, 3]`` position of the root joint in metres.
    rotations: ``[T, J, 4]`` local joint rotations, unit quaternions xyzw.
    local_translations_m: optional ``[T, J, 3]`` animated joint offsets (BVH position channels
        on non-root joints); ``None`` means every non-root joint keeps its rest offset.
    """

    skeleton: Skeleton
    fps: float
    root_positions_m: np.ndarray
    rotations: np.ndarray
    local_translations_m: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.root_positions_m = np.asarray(self.root_positions_m, dtype=float).reshape(-1, 3)
        self.rotations = np.asarray(self.rotations, dtype=float)
        num_frames = len(self.root_positions_m)
        expected = (num_frames, self.skeleton.num_joints, 4)
        if self.rotations.shape != expected:
            raise ValueError(f"rotations must have shape {expected}, got {self.rotations.shape}")
        if self.local_translations_m is not None:
            self.local_translations_m = np.asarray(self.local_translations_m, dtype=float)
            if self.local_translations_m.shape != expected[:2] + (3,):
                raise ValueError("local_translations_m must have shape [T, J, 3]")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return len(self.root_positions_m)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last frame, in seconds."""
        return max(self.num_frames - 1, 0) / self.fps

    def global_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Global positions ``[T, J, 3]`` (metres) and rotations ``[T, J, 4]``."""
        return forward_kinematics(
            self.skeleton, self.rotations, self.root_positions_m, self.local_translations_m
        )

    def global_positions(self) -> np.ndarray:
        """Global joint positions ``[T, J, 3]`` in metres."""
        return self.global_transforms()[0]

    def problems(self) -> list[str]:
        """Descriptions of invalid data (NaN, non-unit quaternions); empty when all is fine."""
        found = []
        for label, values in (
            ("root position", self.root_positions_m),
            ("rotation", self.rotations),
            ("joint translation", self.local_translations_m),
        ):
            if values is not None and not np.all(np.isfinite(values)):
                frame = int(np.argwhere(~np.isfinite(values))[0][0])
                found.append(f"non-finite {label} value at frame {frame}")
        norms = np.linalg.norm(self.rotations, axis=-1)
        bad = np.abs(norms - 1.0) > 1e-3
        if np.any(bad & np.isfinite(norms)):
            frame, joint = (int(i) for i in np.argwhere(bad)[0])
            found.append(
                f"non-unit quaternion at frame {frame}, joint {self.skeleton.names[joint]}"
            )
        return found


def slice_frames(motion: Motion, start: int, stop: int | None = None) -> Motion:
    """Frames ``start:stop`` of ``motion`` (Python slice semantics)."""
    sel = slice(start, stop)
    translations = None if motion.local_translations_m is None else motion.local_translations_m[sel]
    return replace(
        motion,
        root_positions_m=motion.root_positions_m[sel].copy(),
        rotations=motion.rotations[sel].copy(),
        local_translations_m=translations,
    )


def concatenate(motions: list[Motion]) -> Motion:
    """Join motions that share one skeleton and frame rate, end to start."""
    if not motions:
        raise MusicDanceError("nothing to concatenate")
    first = motions[0]
    for other in motions[1:]:
        if other.skeleton.names != first.skeleton.names or other.fps != first.fps:
            raise MusicDanceError("motions to concatenate need the same skeleton and fps")
    translations = None
    if any(m.local_translations_m is not None for m in motions):
        translations = np.concatenate([_translations(m) for m in motions])
    return replace(
        first,
        root_positions_m=np.concatenate([m.root_positions_m for m in motions]),
        rotations=np.concatenate([m.rotations for m in motions]),
        local_translations_m=translations,
    )


def _translations(motion: Motion) -> np.ndarray:
    if motion.local_translations_m is not None:
        return motion.local_translations_m
    tiled = np.broadcast_to(
        motion.skeleton.offsets_m, (motion.num_frames, motion.skeleton.num_joints, 3)
    )
    return tiled.copy()


def sample(motion: Motion, times_s: np.ndarray) -> Motion:
    """Sample the motion at arbitrary times (linear positions, slerped rotations).

    Times outside ``[0, duration_s]`` are clamped. The result keeps ``motion.fps``; callers that
    sample a regular grid set the fps they used.
    """
    frame_pos = np.clip(np.asarray(times_s, dtype=float) * motion.fps, 0.0, motion.num_frames - 1)
    lo = np.floor(frame_pos).astype(np.int64)
    hi = np.minimum(lo + 1, motion.num_frames - 1)
    alpha = frame_pos - lo
    rotations = quat_unroll(motion.rotations, axis=0)
    rot = quat_slerp(rotations[lo], rotations[hi], alpha[:, None])
    root = (
        motion.root_positions_m[lo] * (1 - alpha[:, None])
        + motion.root_positions_m[hi] * alpha[:, None]
    )
    translations = None
    if motion.local_translations_m is not None:
        a = alpha[:, None, None]
        translations = (
            motion.local_translations_m[lo] * (1 - a) + motion.local_translations_m[hi] * a
        )
    return replace(motion, root_positions_m=root, rotations=rot, local_translations_m=translations)


def resample(motion: Motion, fps: float) -> Motion:
    """The same motion at another frame rate, covering the same duration."""
    if not fps > 0:
        raise MusicDanceError(f"fps must be positive, got {fps}")
    if fps == motion.fps:
        return motion
    num_frames = int(np.floor(motion.duration_s * fps + 1e-6)) + 1
    resampled = sample(motion, np.arange(num_frames) / fps)
    return replace(resampled, fps=float(fps))


def _reflect_x(q: np.ndarray) -> np.ndarray:
    """Reflect rotations through the YZ plane (x -> -x): (x, y, z, w) -> (x, -y, -z, w)."""
    return q * np.array([1.0, -1.0, -1.0, 1.0])


def mirror(motion: Motion) -> Motion:
    """Swap left and right: reflect through the YZ plane and exchange twin joints by name.

    For a left/right symmetric skeleton the result's global positions are the input's with ``x``
    negated and twin joints exchanged.
    """
    skeleton = motion.skeleton
    perm = skeleton.mirror_pairs()
    flip = np.array([-1.0, 1.0, 1.0])
    mirrored_skeleton = Skeleton(
        names=skeleton.names,
        parents=skeleton.parents,
        offsets_m=skeleton.offsets_m[perm] * flip,
        channels=skeleton.channels,
        end_sites_m={
            j: skeleton.end_sites_m[perm[j]] * flip
            for j in skeleton.end_sites_m
            if perm[j] in skeleton.end_sites_m
        },
    )
    translations = None
    if motion.local_translations_m is not None:
        translations = motion.local_translations_m[:, perm] * flip
    return Motion(
        skeleton=mirrored_skeleton,
        fps=motion.fps,
        root_positions_m=motion.root_positions_m * flip,
        rotations=quat_normalize(_reflect_x(motion.rotations[:, perm])),
        local_translations_m=translations,
    )
