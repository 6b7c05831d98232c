"""The dance phrase: the unit the choreographer retrieves, with its annotations.

A phrase is a short motion on the canonical skeleton (usually one eight: 8 counts, or 6 counts
of 3/4) plus what retrieval and joining need without re-analysing the motion: the frame of
every count, left/right foot contacts per frame, the support foot and facing at the start and
the end, and pose+velocity feature vectors of the first and last frames (the transition prior
compares the end of one phrase with the start of the next).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.motion.analysis import facing_deg, foot_contacts, support_foot
from musicdance.motion.canonical import CANONICAL_JOINTS
from musicdance.motion.motion import Motion
from musicdance.motion.quat import quat_from_euler, quat_mul, quat_mul_vec3

__all__ = [
    "CANONICAL_SKELETON",
    "FEATURE_JOINTS",
    "STATUSES",
    "Phrase",
    "PhraseInfo",
    "check_phrase_id",
    "detect_contacts",
    "make_phrase",
    "mirror_phrase",
    "normalize_start",
    "pose_features",
    "transition_features",
]

#: Value of the ``skeleton`` column for motion on ``canonical_skeleton()``.
CANONICAL_SKELETON = "canonical-22"
#: Curation states, in review order.
STATUSES = ("draft", "approved", "rejected")
#: Joints whose root-relative position and velocity make the transition features.
FEATURE_JOINTS = ("LeftFoot", "RightFoot", "LeftHand", "RightHand", "Head")
#: Frames averaged at each end of a phrase for the transition features.
FEATURE_WINDOW = 3

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_J = {name: i for i, name in enumerate(CANONICAL_JOINTS)}
FOOT_POINTS = ((_J["LeftFoot"], _J["LeftToes"]), (_J["RightFoot"], _J["RightToes"]))
ANKLES = (_J["LeftFoot"], _J["RightFoot"])
HANDS = (_J["LeftHand"], _J["RightHand"])


@dataclass(frozen=True, eq=False)
class PhraseInfo:
    """Everything about a phrase except its per-frame arrays (one row of ``library.sqlite``).

    energy: 0 (calm) to 1 (full out). tempo_bpm: tempo the phrase was captured or built at.
    meter: beats per bar (4, or 3 for waltz). count_frames: frame of each count, ``[C]``.
    support_start/support_end: ``"left"``, ``"right"``, ``"both"`` or ``"none"``.
    facing_start_deg/facing_end_deg: heading of the hips (0 = +Z, positive towards +X).
    start_features/end_features: ``[F]`` float32, see ``transition_features``.
    """

    id: str
    name: str
    style: str
    energy: float
    tempo_bpm: float
    meter: int
    count_frames: tuple[int, ...]
    fps: float
    num_frames: int
    support_start: str
    support_end: str
    facing_start_deg: float
    facing_end_deg: float
    start_features: np.ndarray
    end_features: np.ndarray
    tags: tuple[str, ...] = ()
    skeleton: str = CANONICAL_SKELETON
    source: str = ""
    licence: str = ""
    status: str = "draft"
    created_at: str = ""
    updated_at: str = ""

    @property
    def num_counts(self) -> int:
        return len(self.count_frames)

    @property
    def duration_s(self) -> float:
        """Length of the phrase in seconds (``num_frames / fps``: phrases join end to start)."""
        return self.num_frames / self.fps

    def to_json(self) -> dict:
        """A JSON-ready dict (features as lists)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data.update(
            tags=list(self.tags),
            count_frames=list(self.count_frames),
            start_features=[round(float(v), 5) for v in self.start_features],
            end_features=[round(float(v), 5) for v in self.end_features],
            num_counts=self.num_counts,
            duration_s=round(self.duration_s, 4),
        )
        return data


@dataclass(eq=False)
class Phrase:
    """A phrase's annotations and its motion.

    motion: on the canonical skeleton. contacts: ``[T, 2]`` bool, left and right foot on the
    floor per frame.
    """

    info: PhraseInfo
    motion: Motion
    contacts: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        self.contacts = np.asarray(self.contacts, dtype=bool)
        if self.contacts.shape != (self.motion.num_frames, 2):
            raise ValueError(
                f"contacts must have shape {(self.motion.num_frames, 2)}, got {self.contacts.shape}"
            )

    @property
    def id(self) -> str:
        return self.info.id


def check_phrase_id(phrase_id: str) -> str:
    """``phrase_id`` if it is a valid id (letters, digits, ``_ . -``; at most 128), else raise."""
    if not isinstance(phrase_id, str) or not _ID_PATTERN.match(phrase_id):
        raise MusicDanceError(
            f"invalid phrase id {phrase_id!r}: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit, at most 128 characters)"
        )
    return phrase_id


def detect_contacts(motion: Motion, positions_m: np.ndarray | None = None) -> np.ndarray:
    """Left/right foot contacts ``[T, 2]`` of a canonical-skeleton motion (``foot_contacts``)."""
    positions = motion.global_positions() if positions_m is None else positions_m
    return foot_contacts(positions, motion.fps, FOOT_POINTS)


def pose_features(
    positions_m: np.ndarray, root_rotations: np.ndarray, fps: float, frames: np.ndarray
) -> np.ndarray:
    """Pose and velocity features ``[len(frames), F]`` (float64) of a motion at ``frames``.

    positions_m: global joint positions ``[T, J, 3]``; root_rotations: ``[T, 4]``. In the
    heading frame of the hips (origin under the hips, +Z the facing direction): the position
    (m) of each ``FEATURE_JOINTS`` joint relative to the hips on the floor plane, with its
    height above the floor; the hips' height; then the velocity (m/s) of each of those joints
    and of the hips. F = 3 * 5 + 1 + 3 * 6 = 34.
    """
    frames = np.asarray(frames)
    joints = [_J[name] for name in FEATURE_JOINTS]
    velocity = np.gradient(positions_m, axis=0) * fps if len(positions_m) > 1 else 0 * positions_m
    heading = np.radians(facing_deg(root_rotations[frames]))
    to_local = quat_from_euler(
        np.stack([np.zeros_like(heading), -np.degrees(heading), np.zeros_like(heading)], -1), "XYZ"
    )[:, None]
    root = positions_m[frames, 0:1]
    relative = positions_m[frames][:, joints] - root * np.array([1.0, 0.0, 1.0])
    local_pos = quat_mul_vec3(to_local, relative)
    local_vel = quat_mul_vec3(to_local, velocity[frames][:, [0, *joints]])
    return np.concatenate(
        [local_pos.reshape(len(frames), -1), root[:, :, 1], local_vel.reshape(len(frames), -1)],
        axis=1,
    )


def transition_features(
    positions_m: np.ndarray, root_rotations: np.ndarray, fps: float, frames: np.ndarray
) -> np.ndarray:
    """``pose_features`` averaged over ``frames`` of a phrase, ``[F]`` float32."""
    features = pose_features(positions_m, root_rotations, fps, frames)
    return features.mean(axis=0).astype(np.float32)


def make_phrase(
    motion: Motion,
    *,
    phrase_id: str,
    style: str,
    count_frames: np.ndarray,
    tempo_bpm: float,
    energy: float,
    meter: int = 4,
    name: str = "",
    tags: tuple[str, ...] = (),
    source: str = "",
    licence: str = "",
    status: str = "draft",
    contacts: np.ndarray | None = None,
) -> Phrase:
    """Annotate a canonical-skeleton motion as a phrase: contacts (detected unless given),
    support foot, facing and transition features at both ends."""
    if motion.skeleton.names != CANONICAL_JOINTS:
        raise MusicDanceError("a phrase's motion must be on the canonical skeleton (retarget it)")
    if motion.num_frames < 2 * FEATURE_WINDOW:
        raise MusicDanceError(f"phrase {phrase_id!r} is too short ({motion.num_frames} frames)")
    if status not in STATUSES:
        raise MusicDanceError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    count_frames = np.asarray(count_frames, dtype=np.int64)
    if (
        len(count_frames) < 1
        or np.any(np.diff(count_frames) <= 0)
        or count_frames[0] < 0
        or count_frames[-1] >= motion.num_frames
    ):
        raise MusicDanceError(
            f"phrase {phrase_id!r}: count frames must increase inside 0..{motion.num_frames - 1}"
        )
    positions, rotations = motion.global_transforms()
    contacts = detect_contacts(motion, positions) if contacts is None else contacts
    support = support_foot(positions, contacts, 0, ANKLES)
    facing = facing_deg(rotations[:, 0])
    head = np.arange(FEATURE_WINDOW)
    tail = np.arange(motion.num_frames - FEATURE_WINDOW, motion.num_frames)
    info = PhraseInfo(
        id=check_phrase_id(phrase_id),
        name=name or phrase_id,
        style=style,
        energy=float(np.clip(energy, 0.0, 1.0)),
        tempo_bpm=float(tempo_bpm),
        meter=int(meter),
        count_frames=tuple(int(f) for f in count_frames),
        fps=float(motion.fps),
        num_frames=motion.num_frames,
        support_start=_majority(support[: 2 * FEATURE_WINDOW]),
        support_end=_majority(support[-2 * FEATURE_WINDOW :]),
        facing_start_deg=float(facing[0]),
        facing_end_deg=float(facing[-1]),
        start_features=transition_features(positions, rotations[:, 0], motion.fps, head),
        end_features=transition_features(positions, rotations[:, 0], motion.fps, tail),
        tags=tuple(sorted(set(tags))),
        source=source,
        licence=licence,
        status=status,
    )
    return Phrase(info=info, motion=motion, contacts=contacts)


def _majority(labels: list[str]) -> str:
    """The most frequent label; a tie between the feet is ``"both"`` (so mirrors agree)."""
    values, counts = np.unique(np.asarray(labels, dtype=str), return_counts=True)
    top = set(values[counts == counts.max()].tolist())
    if len(top) > 1 and ({"left", "right"} <= top or "both" in top):
        return "both"
    return str(values[np.argmax(counts)])


def mirror_phrase(phrase: Phrase, phrase_id: str) -> Phrase:
    """The left/right mirror image of a phrase, re-annotated (contacts swapped, not re-detected)."""
    from musicdance.motion.motion import mirror

    info = phrase.info
    return make_phrase(
        mirror(phrase.motion),
        phrase_id=phrase_id,
        style=info.style,
        count_frames=np.asarray(info.count_frames),
        tempo_bpm=info.tempo_bpm,
        energy=info.energy,
        meter=info.meter,
        name=f"{info.name} (mirrored)",
        tags=(*info.tags, "mirrored"),
        source=info.source,
        licence=info.licence,
        status=info.status,
        contacts=phrase.contacts[:, ::-1],
    )


def normalize_start(motion: Motion) -> Motion:
    """The motion moved so that the hips start above the origin facing +Z (turned about Y)."""
    _, rotations = motion.global_transforms()
    heading = facing_deg(rotations[:1, 0])[0]
    turn = quat_from_euler(np.array([0.0, -heading, 0.0]), "XYZ")
    root = quat_mul_vec3(turn, motion.root_positions_m)
    root -= root[0] * np.array([1.0, 0.0, 1.0])
    rotations_local = motion.rotations.copy()
    rotations_local[:, 0] = quat_mul(turn, motion.rotations[:, 0])
    return replace(motion, root_positions_m=root, rotations=rotations_local)
