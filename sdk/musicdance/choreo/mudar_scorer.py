"""MuDaR hybrid retrieval (eq. 21) as an emission model behind ``EmissionModel``.

For slot n and phrase k, ``S_hyb = lambda_3 S_e + (1 - lambda_3) S_r``: ``S_e`` the cosine of
the audio embedding of the 8-s window from the slot's start and the motion embedding of the
phrase played at the slot's tempo (straight, half or double time, whichever is nearest the
phrase's own tempo; looped to 8 s), ``S_r`` the cosine of the rhythm signatures (song onset
envelope against the phrase's visual rhythm curve). The score is ``exp((S_hyb - 1) / tau)``
in (0, 1]. ``EMISSIONS`` are the choices of ``mdtool choreograph --emission``.

The phrase side (a motion embedding and a rhythm signature per phrase and playing tempo) is the
expensive part: it is kept on disk in ``mudar_cache_dir()`` (one file per companion and playing
tempo, each entry checked against the phrase's motion checksum), so a library is embedded once
per tempo, not once per song.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from musicdance.atomic import atomic_write
from musicdance.choreo.scoring import EmissionModel, FeatureScorer
from musicdance.choreo.slots import Slot
from musicdance.errors import MusicDanceError
from musicdance.rhythm.features import (
    MEL_ROWS,
    RHYTHM_FPS,
    WINDOW_FRAMES,
    audio_channels,
    hoof,
    pose_stream,
    resample_positions,
)
from musicdance.rhythm.model import MudarModel, rhythm_signature

__all__ = ["EMISSIONS", "MIX_WEIGHT", "MudarScorer", "emission_scorer", "mudar_cache_dir"]

#: ``--emission`` choices.
EMISSIONS = ("mudar", "features", "bundle", "mix")
#: Weight of MuDaR in ``mix`` (geometric: base^(1 - w) * mudar^w).
MIX_WEIGHT = 0.5
_ONSET_ROW = MEL_ROWS + 1
#: bumped whenever the phrase side's computation changes, so old cache files are ignored.
_CACHE_VERSION = 1


def mudar_cache_dir() -> Path:
    """Where phrase embeddings are cached: ``$MDTOOL_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/mdtool``, else ``~/.cache/mdtool``."""
    if os.environ.get("MDTOOL_CACHE_DIR"):
        return Path(os.environ["MDTOOL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mdtool"


def _companion_key(model: MudarModel) -> str:
    """Hash of the companion's file records (its graphs' checksums) and the cache version."""
    records = json.dumps([model.companion.manifest.get("files"), _CACHE_VERSION], sort_keys=True)
    return hashlib.sha256(records.encode()).hexdigest()[:16]


class _PhraseCache:
    """Phrase-side rows (embedding, signature) per playing tempo, on disk, keyed by motion
    checksum. Reading or writing failures only cost speed, never the result."""

    def __init__(self, model: MudarModel, checksums: dict[str, str]) -> None:
        self.folder = mudar_cache_dir() / "mudar-phrases" / _companion_key(model)
        self.checksums = checksums

    def _path(self, bpm: float) -> Path:
        return self.folder / f"{bpm:.1f}.npz"

    def load(self, bpm: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        try:
            with np.load(self._path(bpm)) as data:
                ids, sums = data["ids"].tolist(), data["checksums"].tolist()
                emb, sig = data["embeddings"], data["signatures"]
        except (OSError, KeyError, ValueError):
            return {}
        return {p: (emb[i], sig[i]) for i, (p, c) in enumerate(zip(ids, sums, strict=True))
                if self.checksums.get(p) == c}  # fmt: skip

    def save(self, bpm: float, rows: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        ids = sorted(p for p in rows if p in self.checksums)
        if not ids:
            return
        try:
            with atomic_write(self._path(bpm)) as handle:
                np.savez(handle, ids=np.array(ids),
                         checksums=np.array([self.checksums[p] for p in ids]),
                         embeddings=np.stack([rows[p][0] for p in ids]),
                         signatures=np.stack([rows[p][1] for p in ids]))  # fmt: skip
        except OSError:
            pass  # a read-only home: the next run computes again


class MudarScorer:
    """Emission scores from the MuDaR companion for the slots of one analysed song."""

    def __init__(self, model: MudarModel, analysis, library, *, tau: float = 0.1,
                 floor: float = 1e-6, cache: bool = True) -> None:  # fmt: skip
        self.model, self.library = model, library
        checksums = getattr(library, "motion_checksums", None)
        self._cache = _PhraseCache(model, checksums()) if cache and checksums else None
        self.audio, _ = audio_channels(analysis)
        self.tau, self.floor = float(tau), float(floor)
        self.lam = model.hybrid_lambda
        self._phrases: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = {}
        self._motions: dict[str, tuple[np.ndarray, float, float, list[str]]] = {}

    def _motion(self, phrase_id: str) -> tuple[np.ndarray, float, float, list[str]]:
        """(global joint positions [F, J, 3], fps, phrase tempo in BPM, joint names), read and
        computed once per phrase however many slot tempos ask for it."""
        if phrase_id not in self._motions:
            phrase = self.library.get(phrase_id)
            motion = phrase.motion
            self._motions[phrase_id] = (motion.global_positions(), motion.fps,
                                        phrase.info.tempo_bpm, motion.skeleton.names)  # fmt: skip
        return self._motions[phrase_id]

    def _slot_side(self, slots: list[Slot]) -> tuple[np.ndarray, np.ndarray]:
        n = self.audio.shape[1]
        starts = np.clip(np.round([s.start_s * RHYTHM_FPS for s in slots]).astype(np.int64), 0,
                         max(0, n - WINDOW_FRAMES))  # fmt: skip
        emb = self.model.audio_window_embeddings(self.audio, starts)
        onset = np.pad(self.audio[_ONSET_ROW], (0, max(0, WINDOW_FRAMES - n)))
        sig = np.stack([rhythm_signature(onset[s : s + WINDOW_FRAMES]) for s in starts])
        return emb, sig

    def _phrase_side(self, ids: list[str], music_bpm: float) -> tuple[np.ndarray, np.ndarray]:
        todo = [p for p in dict.fromkeys(ids) if (p, music_bpm) not in self._phrases]
        stored = self._cache.load(music_bpm) if todo and self._cache else {}
        for phrase_id in [p for p in todo if p in stored]:
            self._phrases[(phrase_id, music_bpm)] = stored[phrase_id]
        todo = [p for p in todo if p not in stored]
        poses, hoofs = [], []
        for phrase_id in todo:
            global_positions, motion_fps, phrase_bpm, names = self._motion(phrase_id)
            # the tempo the phrase will be danced at: the music's, its half or its double
            choices = np.array([0.5, 1.0, 2.0]) * music_bpm
            bpm = float(choices[np.argmin(np.abs(np.log(choices / phrase_bpm)))])
            fps = motion_fps * bpm / phrase_bpm  # played faster or slower
            positions = resample_positions(global_positions, fps)
            reps = int(np.ceil(WINDOW_FRAMES / max(len(positions), 1)))
            looped = np.concatenate([positions] * reps)[:WINDOW_FRAMES]
            hoofs.append(hoof(looped, names))
            poses.append(pose_stream(looped, names))
        if todo:
            pose = np.stack(poses)
            emb = self.model.motion_window_embeddings_batch(pose)
            curves = self.model.rhythm_windows(np.stack(hoofs), pose)
            for k, phrase_id in enumerate(todo):
                self._phrases[(phrase_id, music_bpm)] = (emb[k], rhythm_signature(curves[k]))
            if self._cache:
                self._cache.save(music_bpm, {**stored, **{p: self._phrases[(p, music_bpm)]
                                                          for p in todo}})  # fmt: skip
        rows = [self._phrases[(p, music_bpm)] for p in ids]
        return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])

    def similarity(self, slots: list[Slot], ids: list[str]) -> np.ndarray:
        """``[N, K]`` S_hyb of eq. (21)."""
        out = np.zeros((len(slots), len(ids)))
        if not slots or not ids:
            return out
        emb_a, sig_a = self._slot_side(slots)
        tempos = np.round([s.tempo_bpm for s in slots], 1)
        for bpm in np.unique(tempos):
            rows = np.flatnonzero(tempos == bpm)
            emb_v, sig_v = self._phrase_side(ids, float(bpm))
            out[rows] = self.lam * emb_a[rows] @ emb_v.T + (1 - self.lam) * sig_a[rows] @ sig_v.T
        return out

    def score_ids(self, slots: list[Slot], ids: list[str]) -> np.ndarray:
        return np.maximum(np.exp((self.similarity(slots, ids) - 1.0) / self.tau), self.floor)

    def score(self, slots: list[Slot], infos) -> np.ndarray:
        return self.score_ids(slots, [i.id for i in infos])

    def score_table(self, slots: list[Slot], table) -> np.ndarray:
        return self.score_ids(slots, table.ids.tolist())


class _GeometricMix:
    """``base^(1 - w) * other^w`` of two emission models."""

    def __init__(self, base: EmissionModel, other: MudarScorer, weight: float) -> None:
        self.base, self.other, self.weight = base, other, weight

    def score(self, slots, infos):
        w = self.weight
        return self.base.score(slots, infos) ** (1 - w) * self.other.score(slots, infos) ** w

    def score_table(self, slots, table):
        from musicdance.choreo.scoring import score_table

        base = score_table(self.base, slots, table, self.other.library)
        return base ** (1 - self.weight) * self.other.score_table(slots, table) ** self.weight


def emission_scorer(kind: str, analysis, library, *, bundle=None, feature_weight: float = 0.0,
                    mudar: MudarModel | None = None) -> EmissionModel:  # fmt: skip
    """The emission model ``--emission kind`` asks for: ``features``, ``bundle`` (the bundle's
    mix with the features, as without ``--emission``), ``mudar`` (eq. 21 alone) or ``mix``
    (the bundle's scores, or the features' without a bundle, times MuDaR's, geometrically)."""
    from musicdance.choreo.onnx_scorer import OnnxScorer

    if kind not in EMISSIONS:
        raise MusicDanceError(f"--emission takes {', '.join(EMISSIONS)}, got {kind!r}")
    if kind == "features":
        return FeatureScorer()
    if kind == "bundle":
        if bundle is None:
            raise MusicDanceError("--emission bundle needs a bundle made for this library")
        return OnnxScorer(bundle, analysis, feature_weight=feature_weight)
    if mudar is None:
        from musicdance.rhythm.model import load_mudar

        mudar = load_mudar()
    scorer = MudarScorer(mudar, analysis, library)
    if kind == "mudar":
        return scorer
    base = (OnnxScorer(bundle, analysis, feature_weight=feature_weight) if bundle is not None
            else FeatureScorer())  # fmt: skip
    return _GeometricMix(base, scorer, MIX_WEIGHT)
