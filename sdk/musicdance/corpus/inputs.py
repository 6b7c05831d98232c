"""Feature parameters and per-slot model inputs, shared by corpora, training and the runtime.

A training sample is one *slot* of the choreographer (:func:`musicdance.choreo.slots.plan_slots`:
one eight of the music, two bars; six counts in 3/4), the stretch of music that one dance
phrase fills. Its model input is :func:`musicdance.audio.model_input.phrase_model_input` over
the slot's frames: a 128 x 128 log-mel in [0, 1] (dB scaled against the song's loudest bin),
a 128-step melody curve and a 128-step binary rhythm curve.

:func:`feature_parameters` names everything that changes those numbers. A corpus index and a
bundle manifest record it; a cache is re-used, and a bundle is accepted, only when it matches.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from musicdance.errors import MusicDanceError

__all__ = [
    "FEATURE_FORMAT",
    "check_feature_parameters",
    "feature_parameters",
    "slot_spans",
    "span_inputs",
]

#: Bumped whenever the phrase input changes in a way the numbers below do not capture.
FEATURE_FORMAT = "mdtool-phrase-input/1"


def feature_parameters() -> dict[str, Any]:
    """The parameters of the per-slot model input, as JSON-ready values."""
    from musicdance.audio.features import HOP_LENGTH, N_FFT, N_MELS
    from musicdance.audio.load import ANALYSIS_SR
    from musicdance.audio.model_input import DB_RANGE, MODEL_SIZE

    return {
        "format": FEATURE_FORMAT,
        "unit": "slot",
        "sr_hz": int(ANALYSIS_SR),
        "hop_length": int(HOP_LENGTH),
        "n_fft": int(N_FFT),
        "n_mels": int(N_MELS),
        "size": int(MODEL_SIZE),
        "db_range": float(DB_RANGE),
        "reference": "song-max-db",
    }


def read_format_json(path: Path, *, expected_format: str, kind: str, document: str) -> dict:
    """Read the JSON header of a corpus (index) or bundle (manifest) and check its format tag.

    kind: ``"corpus"`` or ``"bundle"``; document: ``"index"`` or ``"manifest"`` (for messages).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise MusicDanceError(f"{kind} {document} is unreadable: {error}", path) from error
    if not isinstance(data, dict) or data.get("format") != expected_format:
        found = data.get("format") if isinstance(data, dict) else None
        raise MusicDanceError(f"{kind} format {found!r} is not {expected_format}", path)
    return data


def check_feature_parameters(
    found: object, *, what: str, path: str | os.PathLike[str] | None = None
) -> None:
    """Raise a :class:`MusicDanceError` naming every difference from :func:`feature_parameters`.

    Args:
        found: the parameters a corpus index or a bundle manifest recorded.
        what: how to name the thing in the message (``"bundle"``, ``"corpus"``).
    """
    expected = feature_parameters()
    if not isinstance(found, dict):
        raise MusicDanceError(f"{what} has no feature parameters", path)
    differences = [
        f"{key} {found.get(key)!r} (this mdtool: {value!r})"
        for key, value in expected.items()
        if found.get(key) != value
    ]
    differences += [f"unknown {key} {found[key]!r}" for key in sorted(set(found) - set(expected))]
    if differences:
        raise MusicDanceError(
            f"{what} was made with other feature parameters: {'; '.join(differences)}", path
        )


def slot_spans(analysis) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of every choreography slot of an analysed song."""
    from musicdance.choreo.slots import plan_slots

    return [(slot.start_s, slot.end_s) for slot in plan_slots(analysis)]


def span_inputs(
    analysis, spans: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs of time spans of an analysed song.

    Args:
        analysis: an :class:`~musicdance.audio.analysis.Analysis` with its log-mel (from
            ``analyze``, not from JSON).
        spans: ``(start_s, end_s)`` pairs, each inside the song.

    Returns:
        ``mel [N, 128, 128]``, ``melody [N, 128]``, ``rhythm [N, 128]``, all float32.
    """
    from musicdance.audio.model_input import MODEL_SIZE, phrase_model_input

    if analysis.log_mel_db is None:
        raise MusicDanceError(
            "this analysis has no log-mel (it was read from JSON); analyse the audio again",
            analysis.path,
        )
    size = MODEL_SIZE
    if not len(spans):
        return (
            np.zeros((0, size, size), np.float32),
            np.zeros((0, size), np.float32),
            np.zeros((0, size), np.float32),
        )
    fps = analysis.fps
    ref_db = float(analysis.log_mel_db.max())
    mels, melodies, rhythms = [], [], []
    for start_s, end_s in spans:
        if not (0.0 <= start_s < end_s) or start_s >= analysis.duration_s:
            raise MusicDanceError(
                f"span {start_s:.3f}-{end_s:.3f} s is empty or outside the song "
                f"({analysis.duration_s:.2f} s)",
                analysis.path,
            )
        start = int(round(start_s * fps))
        end = max(int(round(end_s * fps)), start + 1)
        item = phrase_model_input(
            analysis.log_mel_db,
            analysis.melody_hz,
            analysis.rhythm,
            start_frame=start,
            end_frame=end,
            ref_db=ref_db,
            size=size,
        )
        mels.append(item.mel)
        melodies.append(item.melody)
        rhythms.append(item.rhythm)
    return np.stack(mels), np.stack(melodies), np.stack(rhythms)
