"""Pose tracks: a rendered dance baked for engines, and vectorised pose sampling.

A :class:`PoseTrack` is the output of ``render_timeline`` (time warp onto the beats, root
alignment, inertialized joins, foot locking) kept as frames at the timeline's fps: root positions
``[T, 3]`` and local joint rotations ``[T, J, 4]`` (xyzw, canonical skeleton, sign-unrolled over
time). Sampling between frames slerps rotations and lerps the root exactly like
:func:`musicdance.motion.motion.sample`, so the pose at any time equals the rendered motion's.

The engines' sampler (``unity_bridge/unity/com.mdtool.dance``, C#) reads the same track from its
binary form (:meth:`PoseTrack.to_bytes`, format ``MDPT`` version 1, documented in
``docs/runtime.md``) and applies the same arithmetic; golden vectors keep the two equal.

:class:`CrowdSampler` samples many characters, each on its own track and clock, in one
vectorised pass: every pair of consecutive frames is precomputed (the two quaternions, the
angle between them and ``1 / sin``), so a sample costs a gather, two sines and a multiply-add.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from musicdance.errors import MusicDanceError

__all__ = [
    "POSE_TRACK_MAGIC",
    "POSE_TRACK_SCHEMA",
    "POSE_TRACK_VERSION",
    "CrowdSampler",
    "GroupSampler",
    "Pose",
    "PoseSampler",
    "PoseTrack",
]

POSE_TRACK_MAGIC = b"MDPT"
POSE_TRACK_SCHEMA = "mdtool.posetrack"
POSE_TRACK_VERSION = 1
#: Smallest angle used in the slerp weights; below it slerp and lerp agree to 1e-12.
_MIN_ANGLE = 1e-6
#: Bounds that keep a damaged or hostile file from allocating absurd arrays.
MAX_TRACK_FRAMES = 4 * 3600 * 240
MAX_TRACK_JOINTS = 512


@dataclass(frozen=True, eq=False)
class Pose:
    """Poses at sample times: ``root_positions_m [..., 3]``, ``rotations [..., J, 4]`` (local,
    xyzw, canonical skeleton); the leading axes are those of the times asked for."""

    root_positions_m: np.ndarray
    rotations: np.ndarray


@dataclass(frozen=True, eq=False)
class PoseTrack:
    """A rendered dance as frames: what engines sample.

    joint_names, parents, offsets_m: the skeleton (canonical: Unity HumanBodyBones names, metres).
    fps: frame rate; frame ``t`` is at ``t / fps`` seconds from the start of the song.
    root_positions_m: ``[T, 3]``; rotations: ``[T, J, 4]`` local, xyzw, unrolled over time
    (consecutive quaternions have a non-negative dot product).
    timeline_key: sha256 of the timeline it was rendered from (``""`` when unknown).
    slots: per timeline slot, the phrase and its time-warp knots (``targets_s``: song times of
        the beats and the slot's end; ``source_s``: phrase times shown there), so engines can
        tell which phrase and count plays at any time.
    """

    joint_names: tuple[str, ...]
    parents: np.ndarray
    offsets_m: np.ndarray
    fps: float
    root_positions_m: np.ndarray
    rotations: np.ndarray
    timeline_key: str = ""
    slots: list = field(default_factory=list)

    @classmethod
    def from_motion(cls, motion, timeline_key: str = "") -> PoseTrack:
        """Bake a :class:`~musicdance.motion.motion.Motion` (rotations unrolled over time)."""
        from musicdance.motion.quat import quat_unroll

        skeleton = motion.skeleton
        return cls(
            joint_names=tuple(skeleton.names),
            parents=np.asarray(skeleton.parents, dtype=np.int64).copy(),
            offsets_m=np.asarray(skeleton.offsets_m, dtype=float).copy(),
            fps=float(motion.fps),
            root_positions_m=np.asarray(motion.root_positions_m, dtype=float).copy(),
            rotations=quat_unroll(motion.rotations, axis=0),
            timeline_key=timeline_key,
        )

    @property
    def num_frames(self) -> int:
        return len(self.root_positions_m)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def duration_s(self) -> float:
        return max(self.num_frames - 1, 0) / self.fps

    def header(self) -> dict:
        return {
            "schema": POSE_TRACK_SCHEMA,
            "version": POSE_TRACK_VERSION,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "num_joints": self.num_joints,
            "joints": list(self.joint_names),
            "parents": [int(p) for p in self.parents],
            "offsets_m": [[round(float(v), 6) for v in row] for row in self.offsets_m],
            "rotation_layout": "xyzw",
            "handedness": "right, Y-up, +Z forward, left side +X (convert to Unity: mirror X)",
            "timeline": self.timeline_key,
            "slots": self.slots,
        }

    def to_bytes(self) -> bytes:
        """``MDPT`` v1: magic, uint32 version, uint32 header length, header JSON (space-padded
        to a multiple of 4 bytes), then little-endian float32 roots ``[T, 3]`` and rotations
        ``[T, J, 4]``."""
        header = json.dumps(self.header(), separators=(",", ":")).encode("utf-8")
        header += b" " * (-(12 + len(header)) % 4)
        body = np.concatenate(
            [self.root_positions_m.reshape(-1), self.rotations.reshape(-1)]
        ).astype("<f4")
        return (
            POSE_TRACK_MAGIC
            + struct.pack("<II", POSE_TRACK_VERSION, len(header))
            + header
            + body.tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> PoseTrack:
        """Read :meth:`to_bytes` output (``MusicDanceError`` on anything else)."""
        if len(data) < 12 or data[:4] != POSE_TRACK_MAGIC:
            raise MusicDanceError("not an mdtool pose track (MDPT magic missing)")
        version, size = struct.unpack("<II", data[4:12])
        if version != POSE_TRACK_VERSION:
            raise MusicDanceError(
                f"pose track version {version} is not supported (this reads {POSE_TRACK_VERSION})"
            )
        try:
            header = json.loads(data[12 : 12 + size].decode("utf-8"))
            t, j = int(header["num_frames"]), int(header["num_joints"])
            names = tuple(str(n) for n in header["joints"])
            parents = np.asarray(header["parents"], dtype=np.int64)
            offsets = np.asarray(header["offsets_m"], dtype=float).reshape(j, 3)
            fps = float(header["fps"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
            raise MusicDanceError(f"damaged pose track header ({error})") from None
        if not (1 <= t <= MAX_TRACK_FRAMES and 1 <= j <= MAX_TRACK_JOINTS and fps > 0):
            raise MusicDanceError(f"pose track has implausible sizes ({t} frames, {j} joints)")
        if len(names) != j or len(parents) != j:
            raise MusicDanceError("pose track header lists the wrong number of joints")
        body = np.frombuffer(data, dtype="<f4", offset=12 + size)
        if len(body) != t * 3 + t * j * 4:
            raise MusicDanceError(
                f"pose track body has {len(body)} floats, expected {t * 3 + t * j * 4}"
            )
        return cls(
            joint_names=names,
            parents=parents,
            offsets_m=offsets,
            fps=fps,
            root_positions_m=body[: t * 3].astype(float).reshape(t, 3),
            rotations=body[t * 3 :].astype(float).reshape(t, j, 4),
            timeline_key=str(header.get("timeline", "")),
            slots=list(header.get("slots", [])),
        )


class CrowdSampler:
    """Sample many characters, each on one of ``tracks``, at their own times, in one pass.

    All tracks must share the skeleton. ``dtype`` float32 (default) halves memory traffic;
    results stay within 1e-6 of float64.
    """

    def __init__(self, tracks: Sequence[PoseTrack], *, dtype=np.float32) -> None:
        if not tracks:
            raise MusicDanceError("a sampler needs at least one pose track")
        names = tracks[0].joint_names
        if any(track.joint_names != names for track in tracks):
            raise MusicDanceError("all pose tracks of one sampler need the same skeleton")
        self.tracks = list(tracks)
        self.joint_names = names
        self.dtype = np.dtype(dtype)
        starts, pairs, fps = [], [], []
        a_rot, b_rot, angles, a_root, b_root = [], [], [], [], []
        offset = 0
        for track in self.tracks:
            rot = np.asarray(track.rotations, dtype=float)
            root = np.asarray(track.root_positions_m, dtype=float)
            if len(rot) == 1:  # one frame: one pair from the frame to itself
                rot, root = np.concatenate([rot, rot]), np.concatenate([root, root])
            first, second = rot[:-1], rot[1:]
            dot = np.sum(first * second, axis=-1, keepdims=True)
            second = np.where(dot < 0.0, -second, second)  # shortest path, as quat_slerp
            angles.append(np.arccos(np.clip(np.abs(dot[..., 0]), -1.0, 1.0)))
            a_rot.append(first)
            b_rot.append(second)
            a_root.append(root[:-1])
            b_root.append(root[1:])
            starts.append(offset)
            pairs.append(len(first))
            fps.append(track.fps)
            offset += len(first)
        self._start = np.asarray(starts, dtype=np.int64)
        self._pairs = np.asarray(pairs, dtype=np.int64)
        self._fps = np.asarray(fps, dtype=float)
        theta = np.maximum(np.concatenate(angles), _MIN_ANGLE)
        self._theta = theta.astype(self.dtype)
        self._inv_sin = (1.0 / np.sin(theta)).astype(self.dtype)
        self._a_rot = np.concatenate(a_rot).astype(self.dtype)
        self._b_rot = np.concatenate(b_rot).astype(self.dtype)
        self._a_root = np.concatenate(a_root).astype(self.dtype)
        self._b_root = np.concatenate(b_root).astype(self.dtype)

    @property
    def num_tracks(self) -> int:
        return len(self.tracks)

    def sample(self, times_s, tracks=None) -> Pose:
        """Poses of characters at ``times_s``.

        times_s: seconds from the start of the song, any shape ``[...]``; with ``tracks``, its
            first axis is the character (``[C]`` or ``[C, N]``). Times outside the track are
            clamped to its first and last frame.
        tracks: ``[C]`` index of each character's track (default: every character on track 0).
        Returns a :class:`Pose` with ``root_positions_m [..., 3]`` and ``rotations [..., J, 4]``.
        """
        times = np.asarray(times_s, dtype=float)
        if tracks is None:
            which = np.zeros(times.shape, dtype=np.int64)
        else:
            index = np.asarray(tracks, dtype=np.int64)
            if index.ndim != 1 or times.ndim == 0 or len(index) != times.shape[0]:
                raise MusicDanceError("tracks needs one index per character (times' first axis)")
            if len(index) and (index.min() < 0 or index.max() >= self.num_tracks):
                raise MusicDanceError(f"track index out of range (0..{self.num_tracks - 1})")
            which = np.broadcast_to(index.reshape(-1, *([1] * (times.ndim - 1))), times.shape)
        if not np.all(np.isfinite(times)):
            raise MusicDanceError("sample times must be finite numbers")
        flat_t, flat_k = times.reshape(-1), which.reshape(-1)
        pairs = self._pairs[flat_k]
        position = np.clip(flat_t * self._fps[flat_k], 0.0, pairs.astype(float))
        local = np.minimum(np.floor(position).astype(np.int64), pairs - 1)
        alpha = (position - local).astype(self.dtype)
        row = self._start[flat_k] + local
        theta, inv = self._theta[row], self._inv_sin[row]
        wa = (np.sin((1.0 - alpha)[:, None] * theta) * inv)[..., None]
        wb = (np.sin(alpha[:, None] * theta) * inv)[..., None]
        rotations = wa * self._a_rot[row] + wb * self._b_rot[row]
        a = alpha[:, None]
        root = self._a_root[row] * (1.0 - a) + self._b_root[row] * a
        j = len(self.joint_names)
        return Pose(
            root_positions_m=root.reshape(*times.shape, 3),
            rotations=rotations.reshape(*times.shape, j, 4),
        )


class PoseSampler(CrowdSampler):
    """Pose sampling for one track (one dance); any number of characters and times at once."""

    def __init__(self, track: PoseTrack, *, dtype=np.float32) -> None:
        super().__init__([track], dtype=dtype)
        self.track = track


class GroupSampler:
    """Poses of a group's dancers: each dancer on its dance's pose track (dancers who dance
    alike share one, ``track_of [N]``), moved onto its spot path ``spots_m [N, T, 2]`` (x, z
    per frame at ``fps``), in one vectorised pass (a :class:`CrowdSampler` plus a gather).

    The legs carried by steps while a spot travels (``GroupRendered.motions``, what the exported
    files hold) are not part of the shared tracks: sampled dancers show the anchored dance's
    legs there.
    """

    def __init__(self, tracks: Sequence[PoseTrack], track_of, spots_m, fps: float,
                 *, dtype=np.float32) -> None:  # fmt: skip
        self.crowd = CrowdSampler(tracks, dtype=dtype)
        self.track_of = np.asarray(track_of, dtype=np.int64)
        self.spots_m = np.asarray(spots_m, dtype=dtype)
        if self.spots_m.ndim != 3 or self.spots_m.shape[0] != len(self.track_of):
            raise MusicDanceError("spots_m needs one [T, 2] path per dancer")
        self.fps = float(fps)

    @property
    def num_dancers(self) -> int:
        return len(self.track_of)

    def sample(self, times_s) -> Pose:
        """Every dancer at ``times_s`` (``[K]``: the same times for all, or ``[N, K]``);
        returns poses ``[N, K, ...]``."""
        times = np.asarray(times_s, dtype=float)
        if times.ndim <= 1:
            times = np.broadcast_to(times.reshape(1, -1), (self.num_dancers, times.size))
        if times.shape[0] != self.num_dancers:
            raise MusicDanceError(f"times need one row per dancer ({self.num_dancers})")
        pose = self.crowd.sample(times, tracks=self.track_of)
        frames = self.spots_m.shape[1]
        position = np.clip(times * self.fps, 0.0, frames - 1.0)
        low = np.minimum(np.floor(position).astype(np.int64), frames - 2) if frames > 1 else \
            np.zeros(position.shape, dtype=np.int64)  # fmt: skip
        alpha = (position - low)[..., None].astype(self.spots_m.dtype)
        rows = np.arange(self.num_dancers).reshape(-1, *([1] * (times.ndim - 1)))
        high = np.minimum(low + 1, frames - 1)
        spot = self.spots_m[rows, low] * (1 - alpha) + self.spots_m[rows, high] * alpha
        root = np.array(pose.root_positions_m, copy=True)
        root[..., 0] += spot[..., 0]
        root[..., 2] += spot[..., 1]
        return Pose(root_positions_m=root, rotations=pose.rotations)
