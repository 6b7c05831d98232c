"""Replaces that teach: every shell's replace goes through :func:`replace_phrases`, which
swaps the phrases (``choreographer.replace_phrase``) and records each change as an
:class:`~musicdance.library.edits.Edit` in the library; :func:`agreement` says how often a
bundle's first choice is the phrase the curator chose.

The curator's name (:func:`current_user`): the shell's ``--user`` option, else the
``MDTOOL_USER`` environment variable, else the login name.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os

import numpy as np

from musicdance.audio.analysis import Analysis
from musicdance.audio.model_input import span_inputs
from musicdance.choreo.choreographer import replace_phrase
from musicdance.choreo.context import slot_context
from musicdance.choreo.scoring import FeatureScorer
from musicdance.choreo.slots import Slot
from musicdance.choreo.timeline import Timeline
from musicdance.defaults import DEFAULT_FEATURE_WEIGHT
from musicdance.errors import MusicDanceError
from musicdance.library.edits import Edit, record_edits

__all__ = ["USER_ENV", "agreement", "current_user", "edit_contexts", "replace_phrases",
           "slot_edit", "song_id"]  # fmt: skip

#: Environment variable naming the curator when no ``--user`` is given.
USER_ENV = "MDTOOL_USER"


def current_user(name: str | None = None) -> str:
    """The curator's name: ``name``, else ``$MDTOOL_USER``, else the login name."""
    for candidate in (name, os.environ.get(USER_ENV)):
        if candidate and candidate.strip():
            return candidate.strip()[:100]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def song_id(timeline: Timeline, analysis: Analysis | None = None) -> str:
    """The song's identity without its audio: the sha256 of its log-mel as analysed (the same
    audio gives the same id in every shell), else of the timeline's song description."""
    if analysis is not None and analysis.log_mel_db is not None:
        mel = np.ascontiguousarray(analysis.log_mel_db, dtype=np.float32)
        return "mel:" + hashlib.sha256(mel.tobytes()).hexdigest()
    text = json.dumps(timeline.song, sort_keys=True)
    return "song:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _bundle_identity(bundle) -> tuple[str, str]:
    """``(path, sha256 of its probabilities graph)`` of an opened bundle, or of the features."""
    if bundle is None:
        return "features", ""
    files = bundle.manifest.get("files", {})
    graph = files.get(bundle.manifest["graphs"]["probabilities"], {})
    return str(bundle.path), str(graph.get("sha256", ""))


def slot_edit(
    timeline: Timeline,
    slot: int,
    phrase_id: str,
    *,
    analysis: Analysis | None = None,
    user: str | None = None,
    bundle=None,
) -> Edit:
    """The record of putting ``phrase_id`` in ``slot`` of ``timeline`` (not yet stored).

    analysis: the song's analysis with its log-mel; gives the slot's model input and its place
    in the song's structure (None: the edit is kept without them, and training cannot use
    it). bundle: the opened bundle that scored the dance (None: the feature scorer).
    """
    timeline.check_slot(slot)
    found = timeline.slots[slot]
    model_input, context = None, None
    if analysis is not None and analysis.log_mel_db is not None:
        model_input = span_inputs(analysis, [(found.start_s, found.end_s)])[0][0]
        context = slot_context(analysis, [found])[0].tolist()
    name, digest = _bundle_identity(bundle)
    return Edit(
        user=current_user(user), song_id=song_id(timeline, analysis),
        song_name=os.path.basename(str(timeline.song.get("path") or "")), slot=int(slot),
        style=timeline.style, chosen_id=phrase_id,
        replaced_id=timeline.choices[slot].phrase_id, slot_features=found.to_json(),
        bundle=name, bundle_sha256=digest, model_input=model_input, slot_context=context,
    )  # fmt: skip


def replace_phrases(
    timeline: Timeline,
    library,
    replacements: list[tuple[int, str]],
    *,
    analysis: Analysis | None = None,
    user: str | None = None,
    bundle=None,
    record: bool = True,
) -> tuple[Timeline, list[Edit]]:
    """Put each ``(slot, phrase_id)`` in place, in order (``mdtool edit --replace``, the
    service's ``/v1/replace``, the studio), and record every change in ``library``.

    A replace by the phrase already there changes nothing and is not recorded. ``library``
    is a ``PhraseLibrary`` or anything with one as ``.library`` (the runtime's cache).
    Returns the edited timeline and the edits recorded (ids set); with ``record=False`` the
    edits are returned unstored.
    """
    edits = []
    for slot, phrase_id in replacements:
        edited = replace_phrase(timeline, library, int(slot), str(phrase_id))
        if timeline.choices[int(slot)].phrase_id != phrase_id:
            edits.append(slot_edit(timeline, int(slot), phrase_id, analysis=analysis,
                                   user=user, bundle=bundle))  # fmt: skip
        timeline = edited
    if record and edits:
        record_edits(getattr(library, "library", library), edits)
    return timeline, edits


def _candidates(infos, style: str, meter: int) -> np.ndarray:
    """Indices of the phrases of ``style`` whose meter suits a slot in ``meter``."""
    return np.array(
        [k for k, i in enumerate(infos) if i.style == style and (i.meter == 3) == (meter == 3)],
        dtype=np.int64,
    )


def edit_contexts(bundle, edits: list[Edit]) -> np.ndarray | None:
    """The edits' slot contexts ``[N, C]`` for ``bundle``'s context head; None when the bundle
    has none. An edit recorded without one (before schema version 4) reads as zeros."""
    width = getattr(bundle, "context_width", 0)
    if not width:
        return None
    return np.array([e.slot_context if e.slot_context is not None and len(e.slot_context) == width
                     else [0.0] * width for e in edits], np.float32)  # fmt: skip


def agreement(
    bundle,
    edits: list[Edit],
    library,
    *,
    feature_weight: float = DEFAULT_FEATURE_WEIGHT,
    top_k: int = 5,
) -> dict:
    """How often ``bundle``'s first choice for an edited slot is the curator's phrase.

    For every edit with a model input, the candidates are the library's phrases of the edit's
    style that suit the slot's meter (what the studio lists); the bundle's first choice is the
    best of them by its probabilities mixed with the feature scorer at ``feature_weight`` (as
    the choreographer scores; each slot alone) and, as ``model_top1``, by its probabilities
    alone; a bundle with a context head also reads each edit's ``slot_context``. Returns
    counts, ``top1``, ``top{top_k}``, ``model_top1`` and ``replaced_top1`` (how
    often the first choice was the replaced phrase) as fractions (NaN without usable edits).
    """
    if not 0.0 <= float(feature_weight) <= 1.0:
        raise MusicDanceError(f"feature weight must be in [0, 1], got {feature_weight}")
    usable = [e for e in edits if e.model_input is not None]
    report = {"edits": len(edits), "scored": 0, "skipped": len(edits) - len(usable),
              "feature_weight": float(feature_weight)}  # fmt: skip
    infos = library.infos()
    columns = np.array([bundle.column(i.id) for i in infos]) if usable else np.zeros(0, int)
    probabilities = bundle.probabilities(
        np.stack([e.model_input for e in usable]), context=edit_contexts(bundle, usable)
    ) if usable else np.zeros((0, len(infos)))  # fmt: skip
    hits = {"top1": 0, f"top{top_k}": 0, "model_top1": 0, "replaced_top1": 0}
    position = {info.id: k for k, info in enumerate(infos)}
    for edit, row in zip(usable, probabilities, strict=True):
        slot = Slot.from_json(edit.slot_features)
        rows = _candidates(infos, edit.style, slot.meter)
        if edit.chosen_id not in position or position[edit.chosen_id] not in set(rows.tolist()):
            report["skipped"] += 1
            continue
        model = np.maximum(row[columns[rows]].astype(np.float64), 1e-12)
        model /= model.sum()
        mixed = model
        if feature_weight > 0.0:
            features = FeatureScorer().score([slot], [infos[k] for k in rows])[0]
            mixed = model ** (1.0 - feature_weight) * np.maximum(features, 1e-6) ** feature_weight
        ids = [infos[k].id for k in rows]
        order = np.argsort(-mixed, kind="stable")
        hits["top1"] += ids[order[0]] == edit.chosen_id
        hits[f"top{top_k}"] += edit.chosen_id in {ids[k] for k in order[:top_k]}
        hits["model_top1"] += ids[int(np.argmax(model))] == edit.chosen_id
        hits["replaced_top1"] += ids[order[0]] == edit.replaced_id
        report["scored"] += 1
    scored = report["scored"]
    for key, value in hits.items():
        report[key] = round(value / scored, 4) if scored else float("nan")
    return report
