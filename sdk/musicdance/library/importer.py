"""Import motion capture into a phrase library.

A take (BVH or glTF) is retargeted onto the canonical skeleton and resampled to the library
rate; its beats come from the music tempo the user gives or, without one, from the motion
itself (kinematic beats: the moments the body stops, ``musicdance.motion.analysis``), tracked
through the take so tempo drift is followed. The take is cut into phrases of one eight (six
counts in 3/4) starting at the strongest count; foot contacts are detected on the whole take,
and each phrase is compared with the library and the other new phrases to report
near-duplicates.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.library.phrase import (
    HANDS,
    Phrase,
    detect_contacts,
    make_phrase,
    normalize_start,
)
from musicdance.library.store import PhraseLibrary
from musicdance.motion.analysis import (
    estimate_motion_tempo,
    joint_speeds_mps,
    kinematic_beat_salience,
    track_kinematic_beats,
)
from musicdance.motion.canonical import CANONICAL_JOINTS
from musicdance.motion.motion import Motion, resample, slice_frames

__all__ = [
    "LIBRARY_FPS",
    "MIN_TEMPO_CONFIDENCE",
    "ImportReport",
    "import_motion_files",
    "motion_energy",
    "phrases_from_take",
    "prepare_import",
    "pose_descriptor",
]

#: Frame rate of imported phrases.
LIBRARY_FPS = 30.0
#: Below this tempo confidence (``estimate_motion_tempo``) the motion has no steady pulse to
#: cut phrases by: real dance to music scores 0.29-0.65, a walk 0.15, free modern dance 0.11.
MIN_TEMPO_CONFIDENCE = 0.2
#: Shortest phrase kept from the end of a take, in counts.
MIN_COUNTS = 4
#: Near-duplicate threshold: RMS distance of count-aligned poses, metres.
NEAR_DUPLICATE_M = 0.05
_DESCRIPTOR_JOINTS = [
    CANONICAL_JOINTS.index(n)
    for n in ("Head", "LeftHand", "RightHand", "LeftLowerArm", "RightLowerArm", "LeftFoot",
              "RightFoot", "LeftLowerLeg", "RightLowerLeg")
]  # fmt: skip


@dataclass
class ImportReport:
    """What importing one file did (JSON-ready through ``to_json``)."""

    source: str
    convention: str
    tempo_bpm: float
    tempo_source: str
    tempo_confidence: float
    phrase_ids: list[str] = field(default_factory=list)
    near_duplicates: list[tuple[str, str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cleanup: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "convention": self.convention,
            "tempo_bpm": round(self.tempo_bpm, 2),
            "tempo_source": self.tempo_source,
            "tempo_confidence": round(self.tempo_confidence, 3),
            "phrases": self.phrase_ids,
            "near_duplicates": [
                {"phrase": a, "like": b, "distance_m": round(d, 4)}
                for a, b, d in self.near_duplicates
            ],
            "notes": self.notes,
            "cleanup": self.cleanup,
        }


def motion_energy(positions_m: np.ndarray, fps: float) -> float:
    """Energy in [0, 1] from the mean hand speed: 0.4 m/s is calm (0), 1.7 m/s full out (1)."""
    speed = float(joint_speeds_mps(positions_m[:, list(HANDS)], fps).mean())
    return float(np.clip((speed - 0.4) / 1.3, 0.0, 1.0))


def pose_descriptor(phrase: Phrase, samples_per_count: int = 4) -> np.ndarray:
    """Count-aligned poses ``[counts * samples, joints * 3]`` for comparing phrases.

    Hands, forearms, feet, shins and head relative to the hips on the floor plane, sampled at
    fixed fractions of each count, so the same dance at another tempo gives the same
    descriptor.
    """
    positions = phrase.motion.global_positions()
    counts = np.asarray(phrase.info.count_frames, dtype=float)
    ends = np.append(counts[1:], phrase.motion.num_frames - 1)
    fractions = np.arange(samples_per_count) / samples_per_count
    frames = (counts[:, None] + (ends - counts)[:, None] * fractions[None, :]).ravel()
    frames = np.clip(np.round(frames).astype(int), 0, phrase.motion.num_frames - 1)
    root = positions[frames, 0:1] * np.array([1.0, 0.0, 1.0])
    return (positions[frames][:, _DESCRIPTOR_JOINTS] - root).reshape(len(frames), -1)


def _descriptor_distance_m(a: np.ndarray, b: np.ndarray) -> float:
    """RMS joint distance between two descriptors (``inf`` when their lengths differ)."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.sqrt(np.mean(np.sum((a - b).reshape(len(a), -1, 3) ** 2, axis=-1))))


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip("-.") or "take"
    return slug[:100] if slug[0].isalnum() else f"take-{slug}"[:100]


def _count_one(salience_at_beats: np.ndarray, meter: int, *, margin: float = 1.2) -> int:
    """The beat index (0..meter-1) to start phrases at.

    Dancers accent the first count of each bar; when the take holds at least three eights and
    one position in the bar stops the body clearly harder (``margin`` times the mean of the
    others), phrases start there; otherwise at the first beat.
    """
    if len(salience_at_beats) < 6 * meter:
        return 0
    usable = len(salience_at_beats) // meter * meter
    folded = salience_at_beats[:usable].reshape(-1, meter).mean(axis=0)
    best = int(np.argmax(folded))
    others = np.delete(folded, best).mean()
    return best if folded[best] > margin * others else 0


def _extend_grid(beats: np.ndarray, period: float, num_frames: int) -> np.ndarray:
    """Beat frames continued by whole periods to both ends of the take (within 10 %), so the
    first and last counts, which the tracker cannot see, still bound phrases."""
    beats = list(beats)
    while beats[0] - period >= -0.1 * period:
        beats.insert(0, max(0, int(round(beats[0] - period))))
    while beats[-1] + period <= num_frames + 0.1 * period:
        beats.append(min(num_frames, int(round(beats[-1] + period))))
    return np.array(sorted(set(beats)), dtype=np.int64)


def _music_grid(
    beats_s: np.ndarray, downbeats_s: np.ndarray | None, fps: float, num_frames: int
) -> tuple[np.ndarray, int, float]:
    """Beat frames inside the take, the index of the first downbeat, and the tempo (BPM)."""
    beats_s = np.asarray(beats_s, dtype=float)
    if len(beats_s) < 2:
        raise MusicDanceError("the music has fewer than two beats")
    tempo = 60.0 / float(np.median(np.diff(beats_s)))
    frames = np.round(beats_s * fps).astype(np.int64)
    inside = (frames >= 0) & (frames <= num_frames)
    beats = frames[inside]
    first = 0
    if downbeats_s is not None and len(downbeats_s) and len(beats):
        down = np.round(np.asarray(downbeats_s, dtype=float) * fps).astype(np.int64)
        on_downbeat = np.flatnonzero(np.isin(beats, down))
        first = int(on_downbeat[0]) if len(on_downbeat) else 0
    return beats, first, tempo


def phrases_from_take(
    motion: Motion,
    *,
    style: str,
    id_prefix: str,
    bpm: float | str | None = None,
    music_beats_s: np.ndarray | None = None,
    music_downbeats_s: np.ndarray | None = None,
    meter: int = 4,
    source: str = "",
    licence: str = "",
    tags: tuple[str, ...] = (),
    status: str = "draft",
) -> tuple[list[Phrase], dict]:
    """Cut a canonical-skeleton take into annotated phrases.

    bpm: the music's tempo; ``None`` detects it from the motion (``"auto"``: the kinematic
    estimator or the learned one of the MuDaR companion, whichever is more confident;
    ``MusicDanceError`` when the
    motion has no pulse). music_beats_s / music_downbeats_s: beat and downbeat times of the music
    the take was danced to (time 0 = the take's first frame); they replace tempo detection and
    phrases start on downbeats. Returns the phrases and a dict with ``tempo_bpm``, ``tempo_source``,
    ``tempo_confidence`` and ``notes``.
    """
    if motion.skeleton.names != CANONICAL_JOINTS:
        raise MusicDanceError("phrases can only be cut from canonical-skeleton motion")
    if meter not in (2, 3, 4):
        raise MusicDanceError(f"meter must be 2, 3 or 4 beats per bar, got {meter}")
    motion = resample(motion, LIBRARY_FPS)
    positions = motion.global_positions()
    fps = motion.fps
    salience = kinematic_beat_salience(positions, fps)
    notes = []
    if music_beats_s is not None:
        beats, first, tempo = _music_grid(music_beats_s, music_downbeats_s, fps, motion.num_frames)
        confidence, tempo_source = 1.0, "music"
    else:
        if bpm is None or bpm == "auto":
            estimate = estimate_motion_tempo(positions, fps)
            tempo, confidence = estimate.tempo_bpm, estimate.confidence
            if bpm == "auto":  # the learned estimator (MuDaR companion) when it is surer
                from musicdance.rhythm.model import learned_motion_tempo

                learned = learned_motion_tempo(positions, fps, motion.skeleton.names)
                if learned is not None and learned.confidence > confidence:
                    notes.append(
                        f"tempo from the learned rhythm estimator ({learned.tempo_bpm:.1f} BPM, "
                        f"confidence {learned.confidence:.2f} > {confidence:.2f} for "
                        f"{tempo:.1f} BPM from the kinematic beats)"
                    )
                    tempo, confidence = learned.tempo_bpm, learned.confidence
                    estimate.reason = "learned"
            if not np.isfinite(tempo) or confidence < MIN_TEMPO_CONFIDENCE:
                guess = f", best guess {tempo:.0f} BPM" if np.isfinite(tempo) else ""
                raise MusicDanceError(
                    f"no steady rhythm in the motion (tempo confidence {confidence:.2f}{guess}, "
                    f"needs {MIN_TEMPO_CONFIDENCE}); give the music's tempo with --bpm or the "
                    "music with --music"
                )
            if estimate.reason not in ("strongest pulse", "learned"):
                notes.append(f"tempo {tempo:.1f} BPM chosen because {estimate.reason}")
            tempo_source = "motion (learned)" if estimate.reason == "learned" else "motion"
        else:
            if not 30.0 <= bpm <= 300.0:
                raise MusicDanceError(f"--bpm must be between 30 and 300, got {bpm:g}")
            tempo, confidence, tempo_source = float(bpm), 1.0, "given"
        tracked = track_kinematic_beats(salience, fps, tempo)
        if len(tracked) < 2:
            raise MusicDanceError(f"the take is too short to hold a phrase at {tempo:.0f} BPM")
        beats = _extend_grid(tracked, 60.0 * fps / tempo, motion.num_frames)
        first = None
    counts = 2 * meter if meter != 2 else 8
    if len(beats) < MIN_COUNTS + 1:
        raise MusicDanceError(
            f"the take holds only {len(beats) - 1} counts at {tempo:.0f} BPM; a phrase "
            f"needs at least {MIN_COUNTS}"
        )
    if first is None:
        first = _count_one(salience[np.minimum(beats, motion.num_frames - 1)], meter)
        if first:
            notes.append(f"phrases start at beat {first + 1} (the strongest count in the bar)")
    contacts = detect_contacts(motion, positions)
    phrases = []
    start = first
    while start + MIN_COUNTS < len(beats) or (start + MIN_COUNTS == len(beats) - 1):
        n = min(counts, len(beats) - 1 - start)
        if n < MIN_COUNTS:
            break
        lo, hi = int(beats[start]), int(beats[start + n])
        segment = slice_frames(motion, lo, hi)
        count_frames = beats[start : start + n] - lo
        segment_positions = positions[lo:hi]
        phrase_tempo = 60.0 * fps * n / (hi - lo)
        phrase = make_phrase(
            normalize_start(segment),
            phrase_id=f"{id_prefix}-{len(phrases) + 1:03d}",
            name=f"{id_prefix} eight {len(phrases) + 1}",
            style=style,
            count_frames=count_frames,
            tempo_bpm=phrase_tempo,
            energy=motion_energy(segment_positions, fps),
            meter=meter,
            tags=(*tags, "mocap") if n == counts else (*tags, "mocap", "short"),
            source=source,
            licence=licence,
            status=status,
            contacts=contacts[lo:hi],
        )
        phrases.append(phrase)
        start += n
    if not phrases:
        raise MusicDanceError(f"no phrase of {MIN_COUNTS} or more counts in the take")
    return phrases, {
        "tempo_bpm": tempo,
        "tempo_source": tempo_source,
        "tempo_confidence": confidence,
        "notes": notes,
    }


def near_duplicates(
    new: list[Phrase], existing: list[Phrase], threshold_m: float = NEAR_DUPLICATE_M
) -> list[tuple[str, str, float]]:
    """Pairs (new id, similar id, distance m) of near-identical phrases, each new phrase
    compared with the existing ones and with the new ones before it."""
    descriptors = {p.id: pose_descriptor(p) for p in [*existing, *new]}
    found = []
    earlier = [p.id for p in existing]
    for phrase in new:
        distances = [
            (_descriptor_distance_m(descriptors[phrase.id], descriptors[other]), other)
            for other in earlier
        ]
        close = [d for d in distances if d[0] < threshold_m]
        if close:
            distance, other = min(close)
            found.append((phrase.id, other, distance))
        earlier.append(phrase.id)
    return found


class DescriptorIndex:
    """Time-averaged pose descriptors of a library's phrases, to skip the near-duplicate test
    for phrases that cannot be near-duplicates, without decoding them.

    The RMS distance of two descriptors is at least the distance of their means over samples
    (the mean of squares is at least the square of the mean), so a phrase whose mean is
    ``NEAR_DUPLICATE_M`` or more from a new phrase's is no near-duplicate of it: the test gives
    the same pairs as comparing with every phrase. Means are kept in ``index/descriptors.npz``
    keyed by the motion file's sha256 (copies that share a motion share the entry); phrases
    missing from it are decoded once and added. A read-only library recomputes them.
    """

    FILE = "descriptors.npz"

    def __init__(self, library: PhraseLibrary) -> None:
        self.library = library
        self.path = Path(library.path) / "index" / self.FILE
        self.means: dict[str, np.ndarray] = {}
        try:
            with np.load(self.path, allow_pickle=False) as arrays:
                self.means = dict(zip(arrays["sha256"].tolist(), arrays["mean"], strict=True))
        except (OSError, ValueError, KeyError):
            self.means = {}
        self._changed = False
        self._fresh: dict[str, np.ndarray] = {}

    def mean_of(self, phrase: Phrase) -> np.ndarray:
        """``pose_descriptor(phrase)`` averaged over its samples, ``[joints * 3]``."""
        key = phrase.id
        if key not in self._fresh:
            self._fresh[key] = pose_descriptor(phrase).mean(axis=0)
        return self._fresh[key]

    def candidates(self, new: list[Phrase], existing_ids: set[str]) -> list[str]:
        """Ids (sorted) of existing phrases that may be near-duplicates of a new one."""
        if not new or not existing_ids:
            return []
        with self.library._read() as connection:
            rows = connection.execute(
                "SELECT id, motion_sha256, num_counts FROM phrases ORDER BY id"
            ).fetchall()
        rows = [r for r in rows if r[0] in existing_ids]
        for phrase_id, sha256, _ in rows:
            if sha256 not in self.means:
                self.means[sha256] = pose_descriptor(self.library.get(phrase_id)).mean(axis=0)
                self._changed = True
        self._save()
        ids = np.array([r[0] for r in rows], dtype=object)
        counts = np.array([r[2] for r in rows])
        shas, which = np.unique(np.array([r[1] for r in rows]), return_inverse=True)
        means = np.stack([self.means[sha] for sha in shas.tolist()])  # [motions, joints * 3]
        mine = np.stack([self.mean_of(p) for p in new])  # [new, joints * 3]
        joints = means.shape[1] // 3
        # squared RMS joint distance of the means, for every (new, stored motion) pair
        squared = (
            np.einsum("ij,ij->i", mine, mine)[:, None]
            + np.einsum("ij,ij->i", means, means)[None, :]
            - 2.0 * mine @ means.T
        ) / joints
        # a small margin keeps rounding in the expansion from dropping a borderline pair
        close = squared < (NEAR_DUPLICATE_M * 1.01) ** 2  # [new, motions]
        new_counts = np.array([len(p.info.count_frames) for p in new])
        keep = np.zeros(len(rows), dtype=bool)
        for n in np.flatnonzero(close.any(axis=1)):
            keep |= close[n][which] & (counts == new_counts[n])
        return sorted(ids[keep].tolist())

    def remember(self, phrases: list[Phrase]) -> None:
        """Add the means of phrases just written (their files' sha256 read from the library)."""
        if not phrases:
            return
        ids = [p.id for p in phrases]
        with self.library._read() as connection:
            marks = ",".join("?" * len(ids))
            shas = dict(connection.execute(
                f"SELECT id, motion_sha256 FROM phrases WHERE id IN ({marks})", ids
            ).fetchall())  # fmt: skip
        for phrase in phrases:
            if phrase.id in shas and shas[phrase.id] not in self.means:
                self.means[shas[phrase.id]] = self.mean_of(phrase)
                self._changed = True
        self._save()

    def _save(self) -> None:
        if not self._changed:
            return
        from musicdance.atomic import atomic_write

        keys = sorted(self.means)
        try:
            with atomic_write(self.path, "wb") as handle:
                means = np.stack([self.means[k] for k in keys])
                np.savez(handle, sha256=np.array(keys), mean=means)
            self._changed = False
        except OSError:
            pass  # read-only library: recomputed next time


def prepare_import(
    path: str | os.PathLike[str],
    *,
    style: str,
    bpm: float | str | None = None,
    music_beats_s: np.ndarray | None = None,
    music_downbeats_s: np.ndarray | None = None,
    meter: int = 4,
    id_prefix: str | None = None,
    licence: str = "",
    tags: tuple[str, ...] = (),
    user_map: dict[str, str] | None = None,
    take: str | None = None,
    scale: float | None = None,
    keep_placement: bool = False,
    music_offset_s: float = 0.0,
) -> tuple[list[Phrase], ImportReport]:
    """Load, retarget, clean (``musicdance.motion.placement.clean_take``), cut and annotate one
    mocap file (nothing is written).

    music_offset_s: when the music starts, in seconds after the capture's first frame
    (negative: the capture starts that far into the music); music beat and downbeat times are
    moved onto the take's clock, and by the reference-pose frames ``clean_take`` drops.
    take: which take of an ``.fbx`` (``import_motion_files`` imports every take).
    """
    from musicdance.io.files import load_motion
    from musicdance.motion.placement import clean_take
    from musicdance.motion.retarget import retarget

    path = Path(path)
    if not style or not re.fullmatch(r"[A-Za-z0-9_\-]+", style):
        raise MusicDanceError(
            f"style must be a plain word (letters, digits, - or _), got {style!r}"
        )
    motion = load_motion(path, scale=scale, take=take)
    take_stem = f"{path.stem}-{take.split('|')[-1]}" if take else path.stem
    problem = _take_problem(motion)
    if problem:
        raise MusicDanceError(f"cannot import this take: {problem}", path)
    try:
        canonical, mapping = retarget(motion, user_map)
        canonical, cleanup = clean_take(canonical, keep_placement=keep_placement)
        shift_s = music_offset_s - cleanup.reference_frames / motion.fps
        if music_beats_s is not None:
            music_beats_s = np.asarray(music_beats_s, dtype=float) + shift_s
            if music_downbeats_s is not None:
                music_downbeats_s = np.asarray(music_downbeats_s, dtype=float) + shift_s
        elif music_offset_s:
            raise MusicDanceError("--music-offset needs --music")
        phrases, tempo = phrases_from_take(
            canonical,
            style=style,
            id_prefix=_slug(id_prefix or take_stem),
            bpm=bpm,
            music_beats_s=music_beats_s,
            music_downbeats_s=music_downbeats_s,
            meter=meter,
            source=f"mocap:{path.name}" + (f"#{take}" if take else ""),
            licence=licence,
            tags=tags,
        )
    except MusicDanceError as error:
        raise MusicDanceError(error.message, path) from None
    except (np.linalg.LinAlgError, ValueError, ArithmeticError, IndexError, MemoryError) as error:
        # numbers the checks above let through but the maths cannot use (a degenerate pose,
        # a frame count too large to index): still the take's fault, named as such
        detail = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise MusicDanceError(f"cannot import this take ({detail})", path) from None
    report = ImportReport(
        source=str(path),
        convention=mapping.convention,
        tempo_bpm=tempo["tempo_bpm"],
        tempo_source=tempo["tempo_source"],
        tempo_confidence=tempo["tempo_confidence"],
        phrase_ids=[p.id for p in phrases],
        notes=[*cleanup.notes, *tempo["notes"]],
        cleanup=cleanup.to_json(),
    )
    return phrases, report


def _fbx_takes(path: str | os.PathLike[str]) -> list[str]:
    """The takes of an ``.fbx`` file (none for other files)."""
    if Path(path).suffix.lower() != ".fbx":
        return []
    from musicdance.io.fbx import fbx_takes

    return fbx_takes(path)


#: Bounds of a take that can be imported (longer or faster ones are refused up front).
MAX_TAKE_S = 60 * 60.0
MAX_TAKE_FPS = 1000.0
MAX_ROOT_TRAVEL_M = 10_000.0


def _take_problem(motion) -> str | None:
    """What makes a loaded take unusable (None: nothing): frame rate, length, non-finite or
    absurd numbers, fewer than two frames."""
    fps = float(motion.fps)
    if not (np.isfinite(fps) and 1.0 <= fps <= MAX_TAKE_FPS):
        return f"frame rate {fps:g} fps is outside 1-{MAX_TAKE_FPS:g}"
    if motion.num_frames < 2:
        return "it has fewer than two frames"
    if motion.num_frames / fps > MAX_TAKE_S:
        minutes = motion.num_frames / fps / 60
        return f"it lasts {minutes:.0f} minutes; the limit is {MAX_TAKE_S / 60:g}"
    problems = motion.problems()
    if problems:
        return problems[0]
    offsets = np.asarray(motion.skeleton.offsets_m, dtype=float)
    if not np.all(np.isfinite(offsets)) or np.abs(offsets).max(initial=0.0) > MAX_ROOT_TRAVEL_M:
        return "its skeleton offsets are not finite or implausibly large"
    if np.abs(motion.root_positions_m).max(initial=0.0) > MAX_ROOT_TRAVEL_M:
        return f"its root moves more than {MAX_ROOT_TRAVEL_M:g} m from the origin"
    return None


def import_motion_files(
    library: PhraseLibrary,
    paths: list[str | os.PathLike[str]],
    *,
    replace_existing: bool = False,
    **options,
) -> list[ImportReport]:
    """Import several files in one transaction: if any file fails, nothing is added.

    ``options`` are those of ``prepare_import``; with several files an ``id_prefix`` gets the
    file's position appended. Near-duplicates are looked for among the library's phrases and
    all the new ones.
    """
    prepared = []
    prefix = options.pop("id_prefix", None)
    for k, path in enumerate(paths):
        file_prefix = f"{prefix}-{k + 1}" if prefix and len(paths) > 1 else prefix
        takes = _fbx_takes(path)
        if len(takes) < 2:
            prepared.append(prepare_import(path, id_prefix=file_prefix, **options))
            continue
        for take in takes:  # an FBX with several animation stacks: one take each
            name = take.split("|")[-1]
            take_prefix = f"{file_prefix}-{name}" if file_prefix else None
            prepared.append(prepare_import(path, id_prefix=take_prefix, take=take, **options))
    new = [p for phrases, _ in prepared for p in phrases]
    existing_ids = set(library.ids())
    replaced = {p.id for p in new} & existing_ids if replace_existing else set()
    descriptors = DescriptorIndex(library)
    candidates = descriptors.candidates(new, existing_ids - replaced)
    existing = [library.get(i) for i in candidates]
    duplicates = near_duplicates(new, existing)
    library.add(new, replace_existing=replace_existing)
    descriptors.remember(new)
    reports = []
    for phrases, report in prepared:
        ids = {p.id for p in phrases}
        report.near_duplicates = [d for d in duplicates if d[0] in ids]
        reports.append(report)
    return reports
