"""Curators' edits stored in ``library.sqlite``: every replace is a label.

The paper trained its predictor on phrases chosen by expert choreographers; here the experts
choose in ``mdtool edit --replace``, the service's ``/v1/replace`` and the studio, and each
choice is one row of the ``edits`` table (schema version 3): who and when (UTC), the song's
identity (a hash, never the audio), the slot's index and compact features (tempo, energy,
onset density, meter, section...), the phrase chosen, the phrase it replaced, and the bundle
that scored the slot. The slot's phrase model input (the 128 x 128 log-mel window the
predictor reads, float16) is stored once per content hash in ``edit_inputs``, and since schema
version 4 the slot's place in the song's structure (``slot_context``: section label repeats,
loudness against the song's mean, position; :mod:`musicdance.choreo.context`) beside it in the
edit's row (NULL in older rows), so that ``mdtool train finetune --labels edits`` can learn
from both without the audio.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from musicdance.errors import MusicDanceError
from musicdance.library.schema import now_iso
from musicdance.library.store import PhraseLibrary

__all__ = ["Edit", "edit_inputs", "list_edits", "record_edits", "summarise_edits"]

_COLUMNS = ("id", "created_at", "user", "song_id", "song_name", "slot", "style", "chosen_id",
            "replaced_id", "bundle", "bundle_sha256", "slot_features", "input_sha256",
            "slot_context")  # fmt: skip


@dataclass
class Edit:
    """One curator's replace.

    slot_features: the slot as ``Slot.to_json`` writes it (times in s, tempo in BPM, energy
    0..1, onsets per s, meter, section label, positions). model_input: the slot's phrase model
    input ``[128, 128]`` in [0, 1] (None when the song's analysis was not at hand); stored as
    float16. slot_context: the slot's place in the song's structure
    (``musicdance.choreo.context.CONTEXT_NAMES``; None for older rows or without the song's
    analysis). id/created_at are filled when the edit is recorded.
    """

    user: str
    song_id: str
    slot: int
    style: str
    chosen_id: str
    replaced_id: str
    slot_features: dict
    song_name: str = ""
    bundle: str = ""
    bundle_sha256: str = ""
    model_input: np.ndarray | None = field(default=None, repr=False)
    input_sha256: str | None = None
    slot_context: list[float] | None = None
    id: int | None = None
    created_at: str | None = None

    def to_json(self) -> dict:
        """The row as JSON (the model input is named by its hash, not included)."""
        data = asdict(self)
        data.pop("model_input")
        return data


def _input_blob(model_input: np.ndarray) -> tuple[str, str, bytes]:
    """``(sha256, shape, zlib bytes)`` of a float16 model input."""
    half = np.ascontiguousarray(np.asarray(model_input, dtype=np.float16))
    if half.ndim != 2 or not np.isfinite(half).all():
        raise MusicDanceError(f"an edit's model input must be a finite 2-D array, got {half.shape}")
    raw = half.tobytes()
    return hashlib.sha256(raw).hexdigest(), json.dumps(list(half.shape)), zlib.compress(raw, 6)


def record_edits(library: PhraseLibrary, edits: list[Edit]) -> list[int]:
    """Append ``edits`` to the library in one transaction; returns their row ids (and sets
    ``id``, ``created_at`` and ``input_sha256`` on each)."""
    stamp = now_iso()
    ids = []
    with library._write() as connection:
        for edit in edits:
            if edit.model_input is not None:
                digest, shape, blob = _input_blob(edit.model_input)
                connection.execute(
                    "INSERT OR IGNORE INTO edit_inputs VALUES (?, ?, ?)", (digest, shape, blob)
                )
                edit.input_sha256 = digest
            edit.created_at = edit.created_at or stamp
            cursor = connection.execute(
                f"INSERT INTO edits ({', '.join(_COLUMNS[1:])}) VALUES "
                f"({', '.join('?' * (len(_COLUMNS) - 1))})",
                (edit.created_at, edit.user, edit.song_id, edit.song_name, int(edit.slot),
                 edit.style, edit.chosen_id, edit.replaced_id, edit.bundle, edit.bundle_sha256,
                 json.dumps(edit.slot_features, sort_keys=True), edit.input_sha256,
                 None if edit.slot_context is None else json.dumps(
                     [round(float(x), 6) for x in edit.slot_context])),
            )  # fmt: skip
            edit.id = int(cursor.lastrowid)
            ids.append(edit.id)
    return ids


def list_edits(
    library: PhraseLibrary, *, users: list[str] | None = None, with_inputs: bool = False
) -> list[Edit]:
    """The recorded edits, oldest first (``users``: only theirs). ``with_inputs`` also loads
    each edit's model input (float32 ``[128, 128]``, None where none was stored)."""
    where, params = "", []
    if users:
        where = f" WHERE user IN ({','.join('?' * len(users))})"
        params = list(users)
    with library._read() as connection:
        rows = connection.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM edits{where} ORDER BY id", params
        ).fetchall()
    edits = []
    for row in rows:
        values = dict(zip(_COLUMNS, row, strict=True))
        try:
            values["slot_features"] = json.loads(values["slot_features"])
            if values["slot_context"] is not None:
                values["slot_context"] = [float(x) for x in json.loads(values["slot_context"])]
        except (ValueError, TypeError):
            raise MusicDanceError(
                f"library database is damaged: edit {values['id']} has unreadable slot features "
                "or context",
                library.db_path,
            ) from None
        edits.append(Edit(**values))
    if with_inputs:
        inputs = edit_inputs(library, [e.input_sha256 for e in edits if e.input_sha256])
        for edit in edits:
            edit.model_input = inputs.get(edit.input_sha256) if edit.input_sha256 else None
    return edits


def edit_inputs(library: PhraseLibrary, digests: list[str]) -> dict[str, np.ndarray]:
    """Model inputs by content hash (float32), each checked against its hash."""
    wanted = sorted(set(digests))
    found: dict[str, np.ndarray] = {}
    with library._read() as connection:
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows = connection.execute(
                f"SELECT sha256, shape, data FROM edit_inputs WHERE sha256 IN "
                f"({','.join('?' * len(part))})",
                part,
            ).fetchall()
            for digest, shape, blob in rows:
                try:
                    raw = zlib.decompress(blob)
                    array = np.frombuffer(raw, np.float16).reshape(json.loads(shape))
                except (zlib.error, ValueError, TypeError):
                    array, raw = None, b""
                if array is None or hashlib.sha256(raw).hexdigest() != digest:
                    raise MusicDanceError(
                        f"library database is damaged: edit input {digest[:12]} does not match "
                        "its hash",
                        library.db_path,
                    )
                found[digest] = array.astype(np.float32)
    return found


def summarise_edits(edits: list[Edit]) -> dict:
    """Counts per user, style and song, how many have a stored model input and a slot context,
    first/last time."""

    def count(values) -> dict[str, int]:
        out: dict[str, int] = {}
        for value in values:
            out[value] = out.get(value, 0) + 1
        return dict(sorted(out.items(), key=lambda item: (-item[1], item[0])))

    return {
        "edits": len(edits),
        "with_model_input": sum(e.input_sha256 is not None for e in edits),
        "with_slot_context": sum(e.slot_context is not None for e in edits),
        "users": count(e.user for e in edits),
        "styles": count(e.style for e in edits),
        "songs": len({e.song_id for e in edits}),
        "chosen": dict(list(count(e.chosen_id for e in edits).items())[:10]),
        "first": edits[0].created_at if edits else None,
        "last": edits[-1].created_at if edits else None,
    }
