"""Library validation: find phrases that would break a dance before a player sees them.

Errors (``validate`` exits non-zero): the database fails SQLite's integrity check, a motion
file is missing or damaged, values are not finite, bones change length, annotations do not fit
the motion, a knee or elbow bends far the wrong way, the feet slide badly. Warnings: moderate
foot skating, the root drifting far or the feet standing off the floor, mild joint-limit
violations, hands inside the torso, unreferenced motion files.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.library.phrase import (
    CANONICAL_SKELETON,
    FOOT_POINTS,
    Phrase,
    PhraseInfo,
)
from musicdance.library.quality import (
    elbow_wrong_way_deg,
    hands_in_torso_fraction,
    knee_wrong_way_deg,
)
from musicdance.library.store import MOTION_DIR, PhraseLibrary
from musicdance.motion.analysis import foot_skating_mps
from musicdance.motion.canonical import canonical_skeleton

__all__ = ["LIMITS", "Finding", "database_integrity", "validate_library", "validate_phrase"]

#: Thresholds: (warning, error) where both apply; units in the names.
LIMITS = {
    "skating_mps": (0.03, 0.3),
    "bone_drift_m": (None, 0.001),
    "root_drift_m": (2.0, None),
    "floor_offset_m": (0.03, None),
    "wrong_bend_deg": (15.0, 45.0),
    "hands_in_torso_fraction": (0.0, None),
}
_TOE_HEIGHT_M = float(canonical_skeleton().rest_positions_m()[FOOT_POINTS[0][1], 1])


@dataclass(frozen=True)
class Finding:
    """One problem: ``level`` is ``"error"`` or ``"warning"``; ``check`` names the test."""

    phrase_id: str
    level: str
    check: str
    message: str

    def to_json(self) -> dict:
        return {"phrase": self.phrase_id, "level": self.level, "check": self.check,
                "message": self.message}  # fmt: skip


def _graded(phrase_id: str, check: str, value: float, limits, message: str) -> list[Finding]:
    warn, error = limits
    if error is not None and value > error:
        return [Finding(phrase_id, "error", check, f"{message} (limit {error:g})")]
    if warn is not None and value > warn:
        return [Finding(phrase_id, "warning", check, f"{message} (limit {warn:g})")]
    return []


def _annotation_problems(info: PhraseInfo) -> list[str]:
    counts = np.asarray(info.count_frames)
    problems = []
    if info.skeleton != CANONICAL_SKELETON:
        problems.append(f"unknown skeleton {info.skeleton!r}")
    if len(counts) == 0 or np.any(np.diff(counts) <= 0) or counts[0] < 0:
        problems.append("count frames do not increase")
    elif counts[-1] >= info.num_frames:
        problems.append(f"count frame {counts[-1]} is past the last frame {info.num_frames - 1}")
    if not np.all(np.isfinite(info.start_features)) or not np.all(np.isfinite(info.end_features)):
        problems.append("transition features are not finite")
    return problems


def validate_phrase(phrase: Phrase) -> list[Finding]:
    """Every check on one phrase (see the module docstring)."""
    info, motion = phrase.info, phrase.motion
    found = [Finding(info.id, "error", "annotations", p) for p in _annotation_problems(info)]
    problems = motion.problems()
    if problems:
        return found + [Finding(info.id, "error", "nan", p) for p in problems]
    positions = motion.global_positions()
    parents = motion.skeleton.parents
    lengths = np.linalg.norm(positions[:, 1:] - positions[:, parents[1:]], axis=-1)
    rest = np.linalg.norm(motion.skeleton.offsets_m[1:], axis=-1)
    drift = float(np.max(np.abs(lengths - rest)))
    found += _graded(info.id, "bone-length", drift, LIMITS["bone_drift_m"],
                     f"bones change length by up to {drift * 1000:.2f} mm")  # fmt: skip
    skating = foot_skating_mps(positions, motion.fps, phrase.contacts, FOOT_POINTS)
    found += _graded(info.id, "foot-skating", skating, LIMITS["skating_mps"],
                     f"feet slide at {skating * 100:.1f} cm/s while in contact")  # fmt: skip
    root = motion.root_positions_m
    travel = float(np.max(np.linalg.norm(root[:, [0, 2]] - root[0, [0, 2]], axis=-1)))
    found += _graded(info.id, "root-drift", travel, LIMITS["root_drift_m"],
                     f"the hips wander {travel:.2f} m from where they start")  # fmt: skip
    # Where the toes rest most of the time, less their rest height: the take's floor level.
    toes = positions[:, [FOOT_POINTS[0][1], FOOT_POINTS[1][1]], 1]
    ground = float(np.percentile(toes, 2)) - _TOE_HEIGHT_M
    found += _graded(info.id, "floor", abs(ground), LIMITS["floor_offset_m"],
                     f"the feet stand {ground * 100:+.1f} cm off the floor")  # fmt: skip
    for check, angles in (("knee-limit", knee_wrong_way_deg(motion)),
                          ("elbow-limit", elbow_wrong_way_deg(motion))):  # fmt: skip
        worst = float(_sustained(angles, motion.fps).max())
        message = f"{check.split('-')[0]} bends {worst:.0f} degrees the wrong way"
        found += _graded(info.id, check, worst, LIMITS["wrong_bend_deg"], message)
    inside = hands_in_torso_fraction(motion)
    found += _graded(info.id, "hands-in-torso", inside, LIMITS["hands_in_torso_fraction"],
                     f"a hand is inside the torso in {inside * 100:.0f} % of frames")  # fmt: skip
    return found


def _sustained(angles: np.ndarray, fps: float, duration_s: float = 0.1) -> np.ndarray:
    """Per column of ``angles [T, K]``, the largest angle held for at least ``duration_s``."""
    from scipy.ndimage import minimum_filter1d

    width = max(1, int(round(duration_s * fps)))
    return minimum_filter1d(angles, width, axis=0, mode="nearest").max(axis=0)


def database_integrity(db_path, *, max_lines: int = 10) -> list[str]:
    """SQLite's ``PRAGMA integrity_check`` on a library database, opened read-only: the
    problems it lists (at most ``max_lines``), empty when the database is sound;
    ``MusicDanceError`` when the file is not a database at all."""
    from pathlib import Path

    uri = f"file:{Path(db_path).resolve().as_posix()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=30.0)
        try:
            lines = [
                str(r[0])
                for r in connection.execute(f"PRAGMA integrity_check({int(max_lines)})")
            ]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:  # not even the check can run
        raise MusicDanceError(
            f"library database is damaged ({' '.join(str(error).split())[:200]}); nothing was "
            "changed. Restore it from a "
            "backup, or salvage what is readable with 'mdtool library repair NEW_FOLDER'",
            db_path,
        ) from None
    return [] if lines == ["ok"] else [" ".join(line.split())[:300] for line in lines]


def validate_library(library: PhraseLibrary, ids: list[str] | None = None) -> list[Finding]:
    """Check the database and every phrase (or those in ``ids``)."""
    try:
        problems = database_integrity(library.db_path)
    except MusicDanceError as error:
        problems = [error.message]
    found = [
        Finding("-", "error", "database", f"integrity check failed: {line}") for line in problems
    ]
    files = library.motion_files()
    for phrase_id in ids if ids is not None else sorted(files, key=str):  # a damaged id may be NULL
        try:
            phrase = library.get(phrase_id)
        except MusicDanceError as error:
            found.append(Finding(phrase_id, "error", "motion-file", error.message))
            continue
        found += validate_phrase(phrase)
    if ids is None:
        referenced = set(files.values())
        folder = library.path / MOTION_DIR
        stray = sorted(
            f"{MOTION_DIR}/{p.name}" for p in folder.glob("*.npz") if p.is_file()
        ) if folder.is_dir() else []  # fmt: skip
        for name in stray:
            if name not in referenced:
                found.append(Finding("-", "warning", "stray-file", f"{name} belongs to no phrase"))
    return found
